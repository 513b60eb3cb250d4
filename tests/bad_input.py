"""What the bad-input catalogue's tests share: the documents they spoil, the builders of
spoiled files, and the one assertion every bad-input kind must meet (tests/test_bad_input_*.py)."""

from __future__ import annotations

import copy
import json
import re

from refbp.cases import SUITE_DIR
from refbp.cli import main

SEED = SUITE_DIR / "seed" / "seed-2-2-2.json"
SEED_DOC = json.loads(SEED.read_text())
CE_DOC = {
    "format": "refbp-case/1",
    "id": "ce",
    "network": {"kind": "mlp", "sizes": [2, 3], "activations": ["identity"]},
    "loss": "cross_entropy",
    "params": {"init": {"scheme": "normal", "seed": 1}},
    "inputs": [[0.1, 0.2], [0.3, 0.4]],
    "targets": [0, 2],
}
RNN_DOC = {
    "format": "refbp-case/1",
    "id": "rnn",
    "network": {"kind": "rnn", "input_size": 1, "hidden_size": 1, "output_size": 1},
    "loss": "half_sse",
    "params": {"init": {"scheme": "normal", "seed": 2}},
    "inputs": [[[1.0], [-0.5], [2.0]]],
    "targets": [[[1.0], [0.0], [2.0]]],
}
ALL_PARAMS = ["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"]
DEEP = "[" * 1200 + "]" * 1200
MiB = 2**20


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def keys_of(name: str) -> list:
    """A keyword as a path: levels split at "__", "_DOT_" for a dot inside a key, digits for a list index."""
    return [int(k) if k.isdigit() else k.replace("_DOT_", ".") for k in name.split("__")]


def case(base=SEED_DOC, **changes):
    """A builder of the base case's text with `changes` (keyword paths, see keys_of; DROP removes)."""

    def build(name):
        document = copy.deepcopy(base)
        if "id" in base:  # a case: its id is its file name
            document["id"] = name
        for path, value in changes.items():
            *parents, last = keys_of(path)
            target = document
            for key in parents:
                target = target[key]
            if value is DROP:
                del target[last]
            else:
                target[last] = value
        return json.dumps(document)

    return build


def raw(replace_from, replace_to, base=SEED_DOC):
    """The base case's JSON text with one piece replaced (for what json.dumps cannot write)."""

    def build(name):
        text = json.dumps(dict(base, id=name))
        assert replace_from in text
        return text.replace(replace_from, replace_to)

    return build


DROP = object()


def assert_one_bad_line(outcome, kind: str, field: str, words: str):
    """Exit 2, no traceback, exactly one stderr line naming the file (and field), and the seed still passed."""
    code, out, err = outcome
    assert code == 2, out + err
    assert "Traceback" not in out + err
    [line] = err.splitlines()
    assert f"{kind}.json: " in line and words in line, line
    if field:
        assert f".json: {field}: " in line, line
    assert len(line) < 400
    assert re.search(
        r"(PASS|PART)  seed-2-2-2", out
    )  # the good case beside it was still checked (PART: no gradients given)
