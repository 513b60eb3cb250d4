"""`python -m refbp`: the same command line as the `refbp` script."""

import sys

from refbp.cli import main

sys.exit(main())
