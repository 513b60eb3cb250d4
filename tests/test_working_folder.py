"""refbp run from a user's folder that holds folders named like its own packages (a clone of
refbp beside the user's code, a folder of cases): the installed refbp is the one imported,
in refbp's process and in its worker processes."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from refbp.cases import SUITE_DIR

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_check_impl_by_module_name_from_a_folder_holding_a_refbp_folder(tmp_path):
    """The fork server is a `python -c` interpreter (the current folder first on its sys.path):
    a refbp/ folder there made `import refbp` a namespace package and every worker died."""
    for name in ("refbp", "cases", "oracle"):
        (tmp_path / name).mkdir()
    shutil.copy(EXAMPLES / "numpy_mlp.py", tmp_path / "mynet.py")
    refbp = Path(sys.executable).with_name("refbp")  # the console script, as a user runs it
    done = subprocess.run(
        [str(refbp), "check", "--impl", "mynet:factory", "--no-report", "--no-progress", str(SUITE_DIR / "seed")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "1/1 cases passed" in done.stdout
