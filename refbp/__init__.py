"""refbp: hand-written backpropagation, checked case by case against independent references.

Importing the package is cheap: the implementation under test lives in `refbp.nn` (numpy
or any Array-API namespace, never torch at import time), the checking layer in
`refbp.check`, the reports in `refbp.report`, and the command line in `refbp.cli`.
"""

__version__ = "0.1.0"
