"""`--executor dask://HOST:PORT`: the same units of work on a Dask cluster give the report of one
process; a worker that dies mid-case is survived (the case rescheduled once, then named).

Two clusters, both on 127.0.0.1 and bounded in time: a `distributed.LocalCluster` in this
process, and real `dask scheduler` and `dask worker` processes, as a user starts them, with
Dask's default settings: refbp itself retries a case whose worker died once (Dask's default
allowed-failures would reschedule it three times).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from refbp.cases import SUITE_DIR
from refbp.fuzz import FuzzOptions, run_fuzz
from refbp.service.app import create_app
from refbp.service.settings import Settings
from test_parallel import DYING, FEW, assert_same_report, fuzz_outcomes, report, run_in
from test_verify import result_document

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")

DIES_ON = "fiqlab-2-2-1-sigmoid"
STARTUP_SECONDS = 60


@pytest.fixture(scope="module")
def local_cluster(tmp_path_factory):
    """Two single-threaded worker processes; their case `DIES_ON` kills its worker once (the
    nanny starts a new one), as the dying adapter does when $REFBP_TEST_DIE_ONCE is set."""
    marker = tmp_path_factory.mktemp("died") / "marker"
    saved = {k: os.environ.get(k) for k in ("REFBP_TEST_DIE_ON", "REFBP_TEST_DIE_ONCE")}
    os.environ.update(REFBP_TEST_DIE_ON=DIES_ON, REFBP_TEST_DIE_ONCE=str(marker))  # the workers inherit it
    try:
        with distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None, silence_logs=50
        ) as cluster:
            yield cluster, marker
    finally:
        for key, value in saved.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)


def dask_address(cluster) -> str:
    return cluster.scheduler_address.replace("tcp://", "dask://")


def test_run_on_a_local_cluster_gives_the_report_of_one_process(tmp_path, local_cluster):
    cluster, _ = local_cluster
    assert run_in(tmp_path / "one", "run", *FEW) == 0
    assert run_in(tmp_path / "dask", "run", *FEW, "--executor", dask_address(cluster)) == 0
    assert_same_report(report(tmp_path / "one"), report(tmp_path / "dask"))


def test_fuzz_on_a_local_cluster_checks_the_examples_of_one_process(local_cluster):
    cluster, _ = local_cluster
    one = run_fuzz(FuzzOptions(examples=8, seed=5, shrink=False, progress=False))
    dask_run = run_fuzz(FuzzOptions(examples=8, seed=5, shrink=False, progress=False, executor=dask_address(cluster)))
    assert fuzz_outcomes(dask_run) == fuzz_outcomes(one)


def test_a_worker_that_dies_once_on_a_local_cluster_is_survived(tmp_path, local_cluster):
    cluster, marker = local_cluster
    assert run_in(tmp_path, "check", "--impl", DYING, *FEW[:3], "--executor", dask_address(cluster)) == 0
    assert marker.exists()  # the case did kill its worker once, and was rescheduled


@pytest.fixture
def dask_processes(tmp_path):
    """`dask scheduler` and `dask worker --nworkers 2` on 127.0.0.1; the case `DIES_ON` kills
    its worker every time it runs."""
    scheduler_file = tmp_path / "scheduler.json"
    started = tmp_path / "started"
    started.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
        "REFBP_TEST_DIE_ON": DIES_ON,
        "REFBP_TEST_STARTED": str(started),
    }
    env.pop("REFBP_TEST_DIE_ONCE", None)
    env = {key: value for key, value in env.items() if not key.startswith("DASK_")}  # Dask's defaults
    dask_cli = [str(Path(sys.executable).parent / "dask")]  # the venv's `dask` command
    processes = [
        subprocess.Popen(
            [
                *dask_cli,
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(scheduler_file),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    ]
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        processes.append(
            subprocess.Popen(
                [
                    *dask_cli,
                    "worker",
                    "--scheduler-file",
                    str(scheduler_file),
                    "--nworkers",
                    "2",
                    "--nthreads",
                    "1",
                    "--no-dashboard",
                    "--host",
                    "127.0.0.1",
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        )
        address = json.loads(scheduler_file.read_text())["address"]
        with distributed.Client(address, timeout=STARTUP_SECONDS) as client:
            client.wait_for_workers(2, timeout=STARTUP_SECONDS)
        yield address.replace("tcp://", "dask://"), started
    finally:  # each in its own process group: the worker's nannies and processes go with it
        for process in reversed(processes):
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=20)


def test_real_scheduler_and_workers_give_the_report_of_one_process_and_survive_a_dying_worker(
    tmp_path, dask_processes, capsys
):
    dask_processes, started = dask_processes
    assert run_in(tmp_path / "one", "run", *FEW) == 0
    assert run_in(tmp_path / "dask", "run", *FEW, "--executor", dask_processes) == 0
    assert_same_report(report(tmp_path / "one"), report(tmp_path / "dask"))
    capsys.readouterr()
    assert run_in(tmp_path / "dying", "check", "--impl", DYING, *FEW[:3], "--executor", dask_processes) == 1
    err = capsys.readouterr().err
    assert (
        f"{DIES_ON}.json: could not be checked: its worker process died 2 times while running it (retried once)" in err
    )
    assert (started / DIES_ON).read_text().splitlines() == ["started"] * 2  # retried once, not Dask's 3 times
    summary = pd.read_csv(report(tmp_path / "dying") / "summary.csv")
    assert summary["case"].tolist() == ["seed-2-2-2", DIES_ON, "mlp-leaky-relu-sse-b4"]
    assert summary["passed"].tolist() == [True, False, True]  # the run finished and lost no other result


def test_serve_hands_its_checks_to_the_cluster(dask_processes, monkeypatch):
    from fastapi.testclient import TestClient  # the service's test client: only this test needs it

    address, _ = dask_processes
    monkeypatch.setenv("REFBP_DATABASE_URL", "none")
    correct = result_document()
    wrong = {**correct, "grads": {name: (np.asarray(grad) * 1.01).tolist() for name, grad in correct["grads"].items()}}
    answers = {}
    for executor in (None, address):
        with (
            TestClient(create_app(Settings(executor=executor))) as client,
            distributed.Client(address.replace("dask://", "tcp://")) as watcher,
            distributed.get_task_stream(client=watcher) as tasks,
        ):
            answers[executor] = [client.post("/v1/verify", json=body) for body in (correct, wrong)]
        ran_on_cluster = [task for task in tasks.data if str(task["key"]).startswith("refbp-")]
        assert bool(ran_on_cluster) == (executor is not None)
    for local, clustered in zip(answers[None], answers[address]):
        assert local.status_code == clustered.status_code == 200
        verdicts = [answer.json() for answer in (local, clustered)]
        for verdict in verdicts:
            verdict.pop("seconds")
        assert verdicts[0] == verdicts[1]
    assert [answer.json()["passed"] for answer in answers[address]] == [True, False]


def test_serve_with_no_scheduler_at_the_address_is_a_usage_error(capsys, monkeypatch):
    """Before any server process starts: one line naming the address, exit 2."""
    import socket

    from refbp.cli import main
    from refbp.parallel import dask_cluster

    monkeypatch.setattr(dask_cluster, "CONNECT_TIMEOUT", 2)  # refused at once; Dask retries until then

    with socket.socket() as probe:  # a port nothing listens on: bound, never listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        assert main(["serve", "--executor", f"dask://127.0.0.1:{port}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"127.0.0.1:{port}" in err[0] and "no Dask scheduler answers" in err[0], err


HOSTILE = Path(__file__).resolve().parent / "hostile_adapters.py"
TARGET = SUITE_DIR / "published" / "fiqlab-2-2-1-sigmoid.json"  # the case the hostile adapters misbehave on


@pytest.mark.parametrize(
    "adapter, words", [("hang", "gradients() did not finish within 3 s"), ("exit_0", "sys.exit(0) in gradients()")]
)
def test_a_hostile_implementation_on_a_cluster_fails_its_case_and_the_run_goes_on(
    tmp_path, local_cluster, capsys, adapter, words
):
    """On a cluster the implementation runs in a watched thread of the cluster's worker: a hang
    fails its case after --timeout (left running there), an exit fails its case; never a pass."""
    cluster, _ = local_cluster
    code = run_in(
        tmp_path,
        "check",
        "--impl",
        f"{HOSTILE}:{adapter}",
        "--timeout",
        "3",
        str(TARGET),
        str(SUITE_DIR / "seed"),
        "--executor",
        dask_address(cluster),
    )
    assert code == 1
    assert words in capsys.readouterr().err
