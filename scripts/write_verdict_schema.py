#!/usr/bin/env python3
"""Rewrite the row of cases/schemas/refbp-verdict-1.schema.json from the fields of
refbp.check.verdict.Check (after a field is added there; tests/test_verdict_record.py says when).

    python scripts/write_verdict_schema.py
"""

from refbp.cases.schema import schema_file
from refbp.check.record import write_row_schema
from refbp.check.verdict import Check

if __name__ == "__main__":
    write_row_schema(Check, schema_file("verdict"))
    print(schema_file("verdict"))
