"""What every `refbp` command shares: the one-line usage error (exit 2)."""

from __future__ import annotations

import sys


def fail_usage(message: str, prog: str = "refbp") -> int:
    """A one-line usage error on stderr, exit code 2."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    return 2
