"""The options of each `refbp bench` benchmark: its help text and its argparse arguments.

One `<NAME>_HELP` and one `add_<name>_arguments(parser)` per benchmark (fd, check, batch, rnn,
service, jobs), and the argparse types they share; refbp.cli.bench puts them together.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable

from refbp.bench.backends import BATCH_BACKENDS, RNN_BACKENDS

THREADS = """
Threads: numpy (OpenBLAS) and torch (OpenMP) use every core by default; on a machine shared
with other work their thread barriers stall and the times scatter by several x. Compare them
single-threaded there: OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 refbp bench {name} (environment.json
records these variables and torch's thread count).
"""

BATCH_HELP = """\
Time one forward+backward of an MLP per batch size and backend (and a serial loop of batch-1 calls).

Models: MLP 784-256-256-10 (float64 and float32) and 64-64-64-10 (float64); batch sizes 1, 8,
64, 256, 1024, 4096; backends refbp-numpy, refbp-torch-cpu, torch-autograd-cpu, and with CUDA
refbp-torch-cuda, torch-autograd-cuda (synchronised). Each time is the median of several runs;
per batch size the backends are sampled in turns, so load from other processes hits them alike.
The float64/float32 GEMM rate (n x n matrix product) of numpy and torch is timed in the same
rounds as each batch size's steps: `gflops` of a row is its model's matrix-product flops over
its time, beside the `gemm_peak_gflops` of its backend's library and device in those rounds.

Writes reports/bench-batch-<id>/ (results.csv, summary.md, report.html, environment.json and
PNG plots: time per example, speed-up over serial, GFLOP/s against the GEMM rate).
""" + THREADS.format(name="batch")

RNN_HELP = """\
Time one forward+backward through time of an RNN per sequence length T, batch and backend.

Model: input 64, hidden 128, output 10 (tanh, readout at every step, cross-entropy on class
indices per step), float64; T in 1, 10, 50, 200; batch 32 (also 1 and 256, to show that time
grows linearly in T whatever the batch). Backends refbp-numpy, torch-nn-rnn-cpu
(torch.nn.RNN + Linear + autograd) and, with CUDA, refbp-torch-cuda, torch-nn-rnn-cuda
(synchronised). Each time is the median of several runs.

Writes reports/bench-rnn-<id>/ (results.csv, summary.md, report.html, environment.json and
PNG plots of time and time per step against T).
""" + THREADS.format(name="rnn")

FD_HELP = """\
Time refbp's finite-difference checks against torch.autograd.gradcheck (same function, data, tolerances).

Sigmoid MLPs 2-2-2, 10-32-32-4, 32-64-64-10 and 64-128-128-10, half_sse, batch 8, float64.
RNN rows (kind rnn): 8-32-4, T = 20, batch 4, tanh and relu, central against gradcheck.
Rows: central, richardson and complex (refbp's full check of every parameter) against
torch.autograd.gradcheck, and directional against torch.autograd.gradcheck(fast_mode=True);
central on 32-64-64-10 per hidden activation (tanh, relu, leaky_relu, elu, softplus, mixed:
relu-tanh with cross_entropy) and on 784-256-256-10 relu, where gradcheck is timed on the
columns of two bias tensors and scaled to every parameter (baseline_note).
Columns: network, kind, activation, batch, params, method, baseline, refbp_s, baseline_s, speedup
(baseline_s / refbp_s; medians of up to 7 rounds in which refbp and gradcheck take turns), agree (same
verdict on the correct gradient, and both reject one entry off by 1e-3 relative), and the four verdicts behind it,
err_vs_torch (refbp's finite differences against torch autograd's gradient), baseline_note.
Writes reports/bench-fd-<id>/ (results.csv, summary.md, report.html, environment.json).
"""


def positive_ints(text: str) -> tuple[int, ...]:
    """An argparse type: a comma-separated list of positive integers."""
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of integers: {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"values must be positive integers: {text!r}")
    return values


def names(text: str) -> tuple[str, ...]:
    """An argparse type: a comma-separated list of names."""
    chosen = tuple(b.strip() for b in text.split(",") if b.strip())
    if not chosen:
        raise argparse.ArgumentTypeError("no backend named")
    return chosen


def add_output_arguments(parser, name: str, quick: str) -> None:
    parser.add_argument("--quick", action="store_true", help=quick)
    parser.add_argument("--json", action="store_true", help="print the rows as a JSON list on stdout (table on stderr)")
    parser.add_argument(
        "--report-dir",
        default="reports",
        metavar="DIR",
        help=f"where the report folder bench-{name}-<id>/ is written (default: ./reports)",
    )
    parser.add_argument("--no-report", action="store_true", help="write no report folder")


def add_backend_arguments(parser, name: str, registry: Iterable[str]) -> None:
    parser.add_argument(
        "--device",
        choices=("cpu", "cuda", "all"),
        default="all",
        help="which backends to time: cpu ones, cuda ones, or all (default; cuda rows only when CUDA is available)",
    )
    parser.add_argument(
        "--backends", metavar="LIST", type=names, default=(), help=f"comma-separated subset of: {', '.join(registry)}"
    )
    add_output_arguments(parser, name, "a few small sizes and short medians (for tests)")


def add_batch_arguments(parser) -> None:
    add_backend_arguments(parser, "batch", BATCH_BACKENDS)
    parser.add_argument(
        "--batches",
        metavar="LIST",
        type=positive_ints,
        default=(),
        help="comma-separated batch sizes (default: 1,8,64,256,1024,4096; --quick: 1,8,64)",
    )
    parser.add_argument("--no-serial", action="store_true", help="skip the serial (batch-1 loop) rows")


def add_rnn_arguments(parser) -> None:
    add_backend_arguments(parser, "rnn", RNN_BACKENDS)
    parser.add_argument(
        "--batches",
        metavar="LIST",
        type=positive_ints,
        default=(),
        help="comma-separated batch sizes (default: 1,32,256; --quick: 32)",
    )
    parser.add_argument(
        "--steps",
        metavar="LIST",
        type=positive_ints,
        default=(),
        help="comma-separated sequence lengths T (default: 1,10,50,200; --quick: 1,10)",
    )


def add_fd_arguments(parser) -> None:
    add_output_arguments(parser, "fd", "the two small networks and short medians (a smoke test)")
    parser.add_argument(
        "--repeats",
        type=int,
        metavar="N",
        help="rounds per median (default 7; --quick: 3); fewer, never under 3, where a round "
        "takes long (64-128-128-10)",
    )


CHECK_HELP = """\
Time `refbp check --impl` on a user's code against torch.autograd.gradcheck, and on the suite against `refbp run`.

MLPs 32-64-64-10 and 784-256-256-10, sigmoid and relu hidden layers, sigmoid output, half_sse,
batch 8, float64, checked through examples/numpy_mlp.py (or --impl) as `refbp check --impl`
does once started (a fresh guarded worker per run, the references' disk cache warm;
check_in_run_s: one more case in a run's worker; check_cold_s: the first run, cache empty);
gradcheck on the same case and loss as `refbp bench fd` runs it, torch on one thread (on
784-256-256-10 timed on two bias tensors' columns and scaled, baseline_note). The suite row:
check --impl over the whole shipped suite against `refbp run` over it. Medians and ranges of
interleaved rounds (--repeats, default 5), the 1-minute load average per row.
Writes reports/bench-check-<id>/ (results.csv, summary.md, report.html, environment.json).
"""


def add_check_arguments(parser) -> None:
    add_output_arguments(parser, "check", "a tiny network, one round, two suite cases (a smoke run)")
    parser.add_argument("--repeats", type=int, metavar="N", help="rounds per median (default 5; --quick: 1)")
    parser.add_argument(
        "--impl",
        default="",
        metavar="MODULE:FACTORY",
        help="the implementation checked (default: examples/numpy_mlp.py:factory)",
    )
    parser.add_argument("--no-suite", action="store_true", help="skip the whole-suite row")


SERVICE_HELP = """\
Load the verification service on loopback: a `refbp serve` process (--workers processes of
--threads checks each, a private SQLite store) and --clients concurrent clients POSTing a
correct result of --case to /v1/verify, until --requests are answered (after a warm-up of
1000) or --seconds pass. Rows: requests/s, p50/p99/max latency, answers other than 200, the
server's resident memory before and after the requests, CPU time per request, the load average.
Writes reports/bench-service-<id>/ (results.csv, summary.md, report.html, environment.json).
"""


def add_service_arguments(parser) -> None:
    add_output_arguments(parser, "service", "4 clients, 100 requests, one server process (a smoke run)")
    parser.add_argument("--clients", type=int, default=16, metavar="N", help="concurrent clients (default: 16)")
    parser.add_argument(
        "--requests", type=int, default=10_000, metavar="N", help="requests after the warm-up (default: 10000)"
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=180.0,
        metavar="S",
        help="the most the measured requests may take (default: 180)",
    )
    parser.add_argument("--workers", type=int, default=2, metavar="N", help="server processes (default: 2)")
    parser.add_argument(
        "--threads", type=int, default=2, metavar="N", help="checks at once per server process (default: 2)"
    )
    parser.add_argument("--case", default="seed-2-2-2", help="the case whose result is posted (default: the seed)")


JOBS_HELP = """\
Time whole commands (`python -m refbp run` on the shipped suite with its report, `refbp fuzz
--examples N --seed 0 --no-shrink`, and on request `run-no-report`: the checks alone) with
--jobs 1 and --jobs N, and with --dask on a local Dask cluster (`dask scheduler` + `dask worker
--nworkers 1` or N, warmed up first), in interleaved rounds; rows: the median seconds per
setting and the speed-up over 1 worker, with the load average. The commands run with the
verdict store off; run's reports go to a temporary folder. Run it on a quiet machine.
Writes reports/bench-jobs-<id>/ (results.csv, summary.md, report.html, environment.json).
"""


def add_jobs_arguments(parser) -> None:
    add_output_arguments(parser, "jobs", "2 rounds, 20 fuzz examples (a smoke run)")
    parser.add_argument("--jobs", type=int, default=2, metavar="N", help="workers compared with 1 (default: 2)")
    parser.add_argument("--rounds", type=int, default=5, metavar="R", help="rounds per median (default: 5)")
    parser.add_argument(
        "--workloads",
        type=names,
        default=("run", "fuzz"),
        metavar="LIST",
        help="comma-separated from run, run-no-report, fuzz (default: run,fuzz)",
    )
    parser.add_argument("--examples", type=int, default=200, metavar="N", help="fuzz examples (default: 200)")
    parser.add_argument("--dask", action="store_true", help="also on a local Dask cluster of 1 and N workers")
