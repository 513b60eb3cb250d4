"""Layer checks (`refbp check --layer`): one forward/backward pair against torch autograd in float64
and finite differences of its own forward, on a library of shapes and values, from a small
declaration (refbp.layer.declaration; docs/layers.md). Never imports refbp.nn."""

from .check import check_layers
from .declaration import PRESETS, DeclarationError, bind
from .functions import FUNCTIONS
from .load import load_declaration

__all__ = ["FUNCTIONS", "PRESETS", "DeclarationError", "bind", "check_layers", "load_declaration"]
