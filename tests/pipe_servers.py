"""Misbehaving pipe servers for tests/test_pipe_robust.py: `python tests/pipe_servers.py BEHAVIOUR
[CASE_ID] [PID_FILE]` answers refbp-pipe/1 correctly (examples/numpy_mlp.py behind
examples/pipe/python/serve_adapter.py) until a request for CASE_ID (`@N`: its Nth request, and
those after), where it misbehaves as told (`train_error`: offers training, and answers an error
to every request of that case that wants it).
It writes its pid into PID_FILE, so that a test can see that refbp stopped it."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples" / "pipe" / "python"))

import serve_adapter  # noqa: E402 (found through the path set just above)

HELLO = {
    "type": "hello",
    "protocol": "refbp-pipe/1",
    "name": "misbehaving",
    "version": "0",
    "kinds": ["mlp"],
    "dtypes": ["float64", "float32"],
    "quantities": ["outputs", "loss", "grads", "losses"],
}


PID_FILE = ""


def write(line: str) -> None:
    sys.stdout.write(line)
    sys.stdout.flush()


def misbehave(behaviour: str, request: dict, reply: dict) -> None:
    """Do what `behaviour` says instead of (or to) the correct `reply`."""
    if behaviour == "exit":
        sys.exit(3)
    if behaviour == "crash":
        os.kill(os.getpid(), signal.SIGSEGV)
    if behaviour == "hang":
        if PID_FILE:  # says that it hangs now (the Ctrl-C test waits for it)
            Path(PID_FILE + ".hanging").touch()
        time.sleep(3600)
    if behaviour == "partial":
        write(json.dumps(reply)[:20])
        sys.exit(0)
    if behaviour == "wrong_id":
        reply["id"] = request["id"] + 5
    if behaviour == "print":
        write("debug: computing the gradients\n")
    if behaviour == "flood":
        chunk = "x" * (1 << 20)
        while True:
            write(chunk)
    if behaviour == "nan" and "grads" in reply:
        name = "layers.0.weight"
        first = reply["grads"][name]
        while isinstance(first[0], list):
            first = first[0]
        first[0] = float("nan")
    if behaviour == "train_error" and "train" not in request["want"]:
        pass  # only its training fails
    elif behaviour in ("error", "train_error"):
        reply.clear()
        reply.update({"id": request["id"], "type": "error", "message": "out of memory in layer 1"})
    if behaviour == "stderr":
        print(f"note from the command: case {request['case']['id']}", file=sys.stderr, flush=True)
    if behaviour == "missing" and "grads" in reply:
        reply.pop("grads")
    write(json.dumps(reply) + "\n")


def main(argv) -> int:
    behaviour = argv[1]
    target = argv[2] if len(argv) > 2 else ""
    global PID_FILE
    if len(argv) > 3:
        PID_FILE = argv[3]
        Path(PID_FILE).write_text(str(os.getpid()))
    if behaviour == "ignore_term":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    factory = serve_adapter.load(str(ROOT / "examples" / "numpy_mlp.py") + ":factory")
    for line in sys.stdin:
        request = json.loads(line)
        if request["type"] == "hello":
            hello = dict(HELLO, id=0)
            if behaviour == "train_error":
                hello["quantities"] = [*HELLO["quantities"], "train"]
            if behaviour == "bad_hello":
                hello["protocol"] = "refbp-pipe/0"
            write(json.dumps(hello) + "\n")
            continue
        reply = dict(serve_adapter.answer(factory, request), id=request["id"])
        if request["case"]["id"] == target or (target.startswith("@") and request["id"] >= int(target[1:])):
            misbehave(behaviour, request, reply)
        else:
            write(json.dumps(reply) + "\n")
    if behaviour in ("ignore_eof", "ignore_term"):  # stays after its stdin closed: refbp must end it
        time.sleep(3600)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
