import sys

from refbp.cli import main

sys.exit(main())
