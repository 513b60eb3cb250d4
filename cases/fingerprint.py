"""A case's fingerprint: the SHA-256 of its explicit form, so that stored verdicts of a case
whose numbers changed are never compared with new ones as if nothing had changed."""

from __future__ import annotations

import hashlib
import json

from .export import explicit_document
from .model import Case


def case_hash(case: Case) -> str:
    """sha256 hex of the explicit document (every generated part expanded) in canonical JSON."""
    canonical = json.dumps(explicit_document(case), sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
