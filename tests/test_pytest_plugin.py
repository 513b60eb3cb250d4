"""refbp's pytest plugin in a real pytest run of a user's project (pytester): one test per
case, failing with the per-tensor verdict; declined cases skipped."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

from refbp.cases import SUITE_DIR

pytest_plugins = ["pytester"]
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def plugin_arguments() -> list[str]:
    installed = any(e.name == "refbp" for e in entry_points(group="pytest11"))
    return [] if installed else ["-p", "refbp.pytest_plugin"]


def test_one_test_per_case_with_the_verdict_as_message(pytester):
    pytester.makepyfile(test_own="def test_own():\n    assert True\n")
    result = pytester.runpytest_subprocess(
        *plugin_arguments(),
        "--refbp-impl",
        f"{EXAMPLES / 'numpy_mlp_sigmoid_bug.py'}:factory",
        "--refbp-cases",
        str(SUITE_DIR / "seed"),
        "--refbp-cases",
        str(SUITE_DIR / "rnn" / "rnn-scalar-by-hand.json"),
        "--refbp-cases",
        str(SUITE_DIR / "mlp" / "mlp-leaky-relu-sse-b4.json"),
    )
    result.assert_outcomes(passed=2, failed=1, skipped=1)
    result.stdout.fnmatch_lines(
        ["*seed-2-2-2: FAILED*", "*grads layers.0.weight*vs torch-autograd*", "*FAILED*refbp?seed-2-2-2?*"]
    )


def test_without_the_option_the_plugin_adds_nothing(pytester):
    pytester.makepyfile(test_own="def test_own():\n    assert True\n")
    pytester.runpytest_subprocess(*plugin_arguments()).assert_outcomes(passed=1)


HOSTILE = Path(__file__).resolve().parent / "hostile_adapters.py"
TARGET = SUITE_DIR / "published" / "fiqlab-2-2-1-sigmoid.json"  # the case the hostile adapters misbehave on


def test_an_implementation_that_exits_fails_its_test_and_pytest_goes_on(pytester):
    """os._exit(0) inside gradients() would end pytest with exit 0 (a silent pass) in process:
    the plugin runs the implementation in a worker, and the case fails naming the call."""
    pytester.makepyfile(test_own="def test_own():\n    assert True\n")
    result = pytester.runpytest_subprocess(
        *plugin_arguments(),
        "--refbp-impl",
        f"{HOSTILE}:os_exit_0",
        "--refbp-cases",
        str(TARGET),
        "--refbp-cases",
        str(SUITE_DIR / "seed"),
    )
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*os._exit*gradients()*"])
    assert result.ret == 1


def test_an_implementation_that_hangs_fails_its_test_after_the_timeout(pytester):
    result = pytester.runpytest_subprocess(
        *plugin_arguments(),
        "--refbp-impl",
        f"{HOSTILE}:hang",
        "--refbp-timeout",
        "2",
        "--refbp-cases",
        str(TARGET),
        timeout=120,
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*gradients() did not finish within 2 s*"])
