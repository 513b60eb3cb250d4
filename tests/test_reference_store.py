"""The references `refbp check --impl` keeps on disk (refbp.check.reference_store): a second run
hits the disk cache and gets what the first computed; a changed case, another method, another
refbp version or other reference code misses; concurrent writers never leave a damaged or
partial file; a damaged file is a miss, computed again; the folder is beside the verdict store."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from refbp.cases import SUITE_DIR, load_case, parse_case
from refbp.cases.fingerprint import case_hash
from refbp.check import reference_files, reference_store
from refbp.check.reference_store import ReferenceStore, cache_folder
from refbp.perturbed import loss_forms

ROOT = Path(__file__).resolve().parents[1]
RELU = SUITE_DIR / "mlp" / "mlp-zero-nets-leaky-relu-relu-b4.json"  # kinks: the result has some
SEED = SUITE_DIR / "seed" / "seed-2-2-2.json"


def reference(store: ReferenceStore, case, method: str = "central"):
    return store.finite_difference(case, case_hash(case), method, loss_forms(case))


def same(a, b) -> None:
    assert a.method == b.method and a.kinks == b.kinks and a.notes == b.notes
    for field in ("grads", "steps", "errors"):
        assert list(getattr(a, field)) == list(getattr(b, field))
        for name in getattr(a, field):
            np.testing.assert_array_equal(getattr(a, field)[name], getattr(b, field)[name])


def test_a_second_run_hits_the_disk_cache_and_gets_what_the_first_computed(tmp_path):
    case = load_case(RELU)
    first = ReferenceStore(tmp_path)
    computed = reference(first, case)
    assert (first.disk_misses, first.disk_writes, first.disk_hits) == (1, 1, 0)
    assert computed.kinks  # a result with kinks, so that they are kept too
    second = ReferenceStore(tmp_path)  # another run: an empty memory
    kept = reference(second, case)
    assert (second.disk_hits, second.disk_misses) == (1, 0)
    same(kept, computed)
    kept.grads[next(iter(kept.grads))][...] = 0.0  # the caller may write into what it gets
    same(reference(ReferenceStore(tmp_path), case), computed)


@pytest.mark.parametrize("method", ["central", "richardson", "complex", "directional", "sampled"])
def test_every_method_comes_back_from_disk_whole(tmp_path, method):
    case = load_case(SEED)
    computed = reference(ReferenceStore(tmp_path), case, method)
    store = ReferenceStore(tmp_path)
    kept = reference(store, case, method)
    assert store.disk_hits == 1
    same(kept, computed)
    assert kept.judged_by == computed.judged_by and kept.directional_kinks == computed.directional_kinks
    assert len(kept.directions) == len(computed.directions)
    for a, b in zip(kept.directions, computed.directions):
        assert list(a) == list(b) and all(np.array_equal(a[n], b[n]) for n in a)
    for field in ("directional", "directional_errors"):
        assert (getattr(kept, field) is None) == (getattr(computed, field) is None)
        if getattr(kept, field) is not None:
            np.testing.assert_array_equal(getattr(kept, field), getattr(computed, field))


def test_the_torch_reference_is_kept_on_disk_too(tmp_path):
    case = load_case(SEED)
    first = ReferenceStore(tmp_path).torch_trace(case, case_hash(case))
    second_store = ReferenceStore(tmp_path)
    second = second_store.torch_trace(case, case_hash(case))
    assert second_store.disk_hits == 1
    assert second.loss == first.loss and second.loss_after == first.loss_after
    for field in ("grads", "intermediates", "input_grads", "params_after"):
        for name, value in getattr(first, field).items():
            np.testing.assert_array_equal(getattr(second, field)[name], value)


def changed(case):
    document = copy.deepcopy(case.document)
    document["params"] = {n: v.tolist() for n, v in case.params.items()}
    first = next(iter(document["params"]))
    document["params"][first][0][0] += 1e-9
    return parse_case(document, case.path)


def test_a_changed_case_another_method_version_or_code_misses(tmp_path, monkeypatch):
    case = load_case(SEED)
    reference(ReferenceStore(tmp_path), case)
    for misses in (lambda s: reference(s, changed(case)), lambda s: reference(s, case, "richardson")):
        store = ReferenceStore(tmp_path)
        misses(store)
        assert (store.disk_hits, store.disk_misses) == (0, 1)
    monkeypatch.setattr("refbp.__version__", "0.0.0-other")
    store = ReferenceStore(tmp_path)
    reference(store, case)
    assert (store.disk_hits, store.disk_misses) == (0, 1)
    monkeypatch.undo()
    monkeypatch.setattr(reference_store, "code_digest", lambda: "edited-checkout")
    store = ReferenceStore(tmp_path)
    reference(store, case)
    assert (store.disk_hits, store.disk_misses) == (0, 1)
    monkeypatch.undo()
    store = ReferenceStore(tmp_path)
    reference(store, case)
    assert store.disk_hits == 1  # the original is still there


def test_a_damaged_or_foreign_file_is_a_miss_and_is_replaced(tmp_path):
    case = load_case(SEED)
    computed = reference(ReferenceStore(tmp_path), case)
    [path] = tmp_path.glob("fd-*.npz")
    path.write_bytes(path.read_bytes()[:100])  # a disk that filled up half-way
    store = ReferenceStore(tmp_path)
    same(reference(store, case), computed)
    assert (store.disk_hits, store.disk_misses, store.disk_writes) == (0, 1, 1)
    store = ReferenceStore(tmp_path)
    reference(store, case)
    assert store.disk_hits == 1


WRITER = """
import sys, numpy as np
from pathlib import Path
from refbp.check import reference_files
path, writer = Path(sys.argv[1]), int(sys.argv[2])
for round in range(40):
    values = np.full(20000, float(writer))
    reference_files.write(path, {"k": 1}, {"values": values}, {"writer": writer, "round": round})
"""


def test_concurrent_writers_never_leave_a_damaged_file(tmp_path):
    path = tmp_path / "fd-shared.npz"
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(w)], cwd=ROOT) for w in range(4)]
    seen = set()
    while any(w.poll() is None for w in writers):
        found = reference_files.read(path, {"k": 1})
        if found is not None:
            arrays, meta = found
            # whole: every value is its writer's, none from another write or cut short
            assert arrays["values"].shape == (20000,) and np.all(arrays["values"] == meta["writer"])
            seen.add(meta["writer"])
        time.sleep(0.001)
    assert all(w.wait() == 0 for w in writers)
    arrays, meta = reference_files.read(path, {"k": 1})
    assert np.all(arrays["values"] == meta["writer"]) and meta["round"] == 39
    assert [p.name for p in tmp_path.iterdir()] == ["fd-shared.npz"]  # no temporary file left behind
    assert seen


def test_the_folder_is_beside_the_verdict_store(tmp_path, monkeypatch):
    monkeypatch.delenv(reference_store.FOLDER_VARIABLE, raising=False)
    monkeypatch.setenv("REFBP_DATABASE_URL", f"sqlite:///{tmp_path / 'store' / 'verdicts.sqlite'}")
    assert cache_folder() == tmp_path / "store" / "reference-cache"
    from refbp.store.database import store_url

    assert Path(store_url()[len("sqlite:///") :]).parent / "reference-cache" == cache_folder()
    monkeypatch.setenv("REFBP_DATABASE_URL", "none")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert cache_folder() == tmp_path / "data" / "refbp" / "reference-cache"
    monkeypatch.setenv(reference_store.FOLDER_VARIABLE, "none")
    assert cache_folder() is None
    monkeypatch.setenv(reference_store.FOLDER_VARIABLE, str(tmp_path / "mine"))
    assert cache_folder() == tmp_path / "mine"


def test_a_folder_that_cannot_be_written_costs_the_cache_not_the_check(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    case = load_case(SEED)
    store = ReferenceStore(blocked / "cache")
    assert reference(store, case).grads and store.disk_writes == 0


@pytest.mark.parametrize("key", ["format", "refbp", "code", "case", "case_dtype", "method", "fd_dtype", "forms"])
def test_every_part_of_the_key_names_another_file(key):
    base = reference_store.fd_key("abc", "central", "float64")
    assert key in base
    other = dict(base, **{key: "something else"})
    assert reference_store.key_name("fd", other) != reference_store.key_name("fd", base)
    assert json.dumps(base, sort_keys=True)  # a plain JSON record
