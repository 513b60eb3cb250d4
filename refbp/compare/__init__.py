"""`refbp compare`: implementations side by side, per case and per tensor.

A column is one run of one implementation: a report folder of `run`/`verify`/`check`, a
verdict file (`--json` output, a `refbp-verdict/1` list), or a run kept in the verdict store
(`store:<run id or a unique prefix>`). Columns are lined up by case id; a case whose hash
differs between two columns is another case and is marked so, never compared silently.
"""

from .columns import Column, load_column
from .table import case_table, heatmap_values, tensor_table

__all__ = ["Column", "case_table", "heatmap_values", "load_column", "tensor_table"]
