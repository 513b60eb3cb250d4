"""Testing helpers, for refbp's own tests and for anyone checking an implementation of theirs.

- `assert_matches_torch(case, trace=None)`: one call runs a case in refbp (or takes your
  trace) and in the torch reference, and asserts forward, backward and training agree.
- `refbp.testing.strategies`: hypothesis strategies for networks, whole cases, training
  settings, value ranges and dtypes (single numbers and arrays: `refbp.testing.values`).
  Imported on its own: only fuzzing imports hypothesis.

Importing this package loads neither torch nor hypothesis.
"""

from .assertions import assert_matches_torch

__all__ = ["assert_matches_torch"]
