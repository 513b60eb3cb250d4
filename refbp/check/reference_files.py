"""The files of the reference cache (refbp.check.reference_store): one reference per `.npz`, its
arrays and a JSON record (its key and every other field), written whole or not at all, read
without pickle, the least recently used removed past a size."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from refbp.oracle.fd import FiniteDifference

from ..trace import Trace

Arrays = dict[str, np.ndarray]  # the arrays of a file, by name
Meta = dict[str, Any]  # the rest of it, as JSON
_FD_DICTS = ("grads", "steps", "errors")
_TRACE_DICTS = ("intermediates", "grads", "input_grads", "error_signals", "params_after")


def write(path: Path, key: Meta, arrays: Arrays, meta: Meta) -> bool:
    """`arrays` and `meta` (with `key`) at `path`: written under a temporary name in the same
    folder and renamed over it, so that a reader sees the old file, the new one or none. The
    arrays go as one buffer (one member of the .npz: reading many small members costs more
    than the reference they hold), their names, dtypes and shapes in the record."""
    layout: list[list[Any]] = []
    parts: list[np.ndarray] = []
    offset = 0
    for name, value in arrays.items():
        value = np.ascontiguousarray(value)
        layout.append([name, value.dtype.str, list(value.shape), offset])
        parts.append(value.reshape(-1).view(np.uint8))
        offset += value.nbytes
    record = json.dumps(dict(meta, key=key, layout=layout)).encode()
    members = {
        "meta": np.frombuffer(record, dtype=np.uint8),
        "data": np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint8),
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".writing-", suffix=".npz")
        try:
            with os.fdopen(handle, "wb") as stream:
                np.savez(stream, meta=members["meta"], data=members["data"])
            os.replace(temporary, path)
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
    except OSError:
        return False
    return True


def read(path: Path, key: Meta) -> tuple[Arrays, Meta] | None:
    """(arrays, meta) kept at `path` for `key`, or None (absent, unreadable, damaged, or another key's)."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            meta = json.loads(bytes(stored["meta"]).decode())
            if meta.get("key") != key:
                return None
            data = stored["data"]
        arrays: Arrays = {}
        for name, dtype, shape, offset in meta.pop("layout"):
            count = int(np.prod(shape, dtype=np.int64))
            arrays[name] = np.frombuffer(data, dtype=np.dtype(dtype), count=count, offset=offset).reshape(shape).copy()
        os.utime(path)  # recently used: pruned last
    except Exception:  # absent, or damaged (a disk that filled up): a miss, computed again and replaced
        return None
    return arrays, meta


def prune(folder: Path, max_bytes: int) -> None:
    """Remove the least recently used files while `folder` holds more than `max_bytes`."""
    try:
        files = sorted((f.stat().st_mtime, f.stat().st_size, f) for f in folder.glob("*.npz"))
    except OSError:
        return
    total = sum(size for _, size, _ in files)
    for _, size, file in files:
        if total <= max_bytes:
            break
        try:
            file.unlink()
        except OSError:
            pass
        total -= size


def fd_files(result: FiniteDifference) -> tuple[Arrays, Meta]:
    """(arrays, meta) of a FiniteDifference."""
    names = list(result.grads)
    arrays = {f"{field}.{i}": getattr(result, field)[name] for field in _FD_DICTS for i, name in enumerate(names)}
    moved = list(result.directions[0]) if result.directions else []  # a directional result has no grads
    for k, direction in enumerate(result.directions):
        arrays.update({f"direction.{k}.{i}": direction[name] for i, name in enumerate(moved)})
    for field in ("directional", "directional_errors"):
        if getattr(result, field) is not None:
            arrays[field] = getattr(result, field)
    meta = {
        "method": result.method,
        "names": names,
        "moved": moved,
        "evaluations": result.evaluations,
        "notes": result.notes,
        "directions": len(result.directions),
        "directional_step": result.directional_step,
        "largest_noise": result.largest_noise,
        "kinks": {n: [[list(index), unit] for index, unit in k.items()] for n, k in result.kinks.items()},
        "judged_by": {n: [[int(i), m] for i, m in j.items()] for n, j in result.judged_by.items()},
        "directional_kinks": [[int(i), unit] for i, unit in result.directional_kinks.items()],
    }
    return arrays, meta


def fd_of(arrays: Arrays, meta: Meta) -> FiniteDifference:
    names = meta["names"]
    result = FiniteDifference(
        method=meta["method"],
        evaluations=meta["evaluations"],
        notes=list(meta["notes"]),
        directional_step=meta["directional_step"],
        largest_noise=meta["largest_noise"],
    )
    for field in _FD_DICTS:
        setattr(result, field, {name: arrays[f"{field}.{i}"] for i, name in enumerate(names)})
    result.directions = [
        {name: arrays[f"direction.{k}.{i}"] for i, name in enumerate(meta["moved"])} for k in range(meta["directions"])
    ]
    result.directional = arrays.get("directional")
    result.directional_errors = arrays.get("directional_errors")
    result.kinks = {n: {tuple(index): unit for index, unit in k} for n, k in meta["kinks"].items()}
    result.judged_by = {n: {int(i): m for i, m in j} for n, j in meta["judged_by"].items()}
    result.directional_kinks = {int(i): unit for i, unit in meta["directional_kinks"]}
    return result


def trace_files(trace: Trace) -> tuple[Arrays, Meta]:
    """(arrays, meta) of a Trace."""
    arrays: Arrays = {}
    names: dict[str, list[str]] = {}
    for field in _TRACE_DICTS:
        value = getattr(trace, field)
        if value is not None:
            names[field] = list(value)
            arrays.update({f"{field}.{i}": np.asarray(v) for i, v in enumerate(value.values())})
    if trace.outputs is not None:
        arrays["outputs"] = np.asarray(trace.outputs)
    meta = {
        "names": names,
        "loss": _number(trace.loss),
        "loss_after": _number(trace.loss_after),
        "timings": trace.timings,
    }
    return arrays, meta


def trace_of(arrays: Arrays, meta: Meta) -> Trace:
    trace = Trace(
        outputs=arrays.get("outputs"), loss=meta["loss"], loss_after=meta["loss_after"], timings=dict(meta["timings"])
    )
    for field in _TRACE_DICTS:
        names = meta["names"].get(field)
        setattr(trace, field, None if names is None else {n: arrays[f"{field}.{i}"] for i, n in enumerate(names)})
    return trace


def _number(value: float | None) -> float | None:
    return None if value is None else float(value)
