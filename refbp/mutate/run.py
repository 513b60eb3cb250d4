"""Mutation testing: every mutant of refbp.nn's backward, loss gradient and update code
(refbp.mutate.mutants) run against the shipped suite, in a temporary copy of the project.

The working tree is never touched: the project's packages are copied once into a temporary
folder, each mutant is written into the copy, the suite runs there (refbp.mutate.server),
and the original file is put back before the next. A mutant is killed when a case fails
(or the suite crashes, or runs past the timeout); it survives when every case passes.
Survivors are either listed as equivalent (refbp.mutate.equivalent, each with the reason)
or are gaps in the suite. The score is killed / (mutants - equivalent survivors).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .equivalent import EQUIVALENT
from .mutants import TARGETS, Mutant, mutants_of

# Folder of the repository -> where the copy puts it (cases/ and oracle/ are installed as
# refbp.cases and refbp.oracle: the copy's refbp/ must hold them, or the installed ones are read).
PACKAGES = {"refbp": "refbp", "cases": "refbp/cases", "oracle": "refbp/oracle"}
DEFAULT_TIMEOUT = 300.0


@dataclass
class MutantResult:
    mutant: Mutant
    killed: bool
    case: str = ""  # the first case that failed
    reason: str = ""  # its first failing check (or the crash, or "timeout")
    seconds: float = 0.0

    @property
    def equivalent(self) -> str:
        """Why this mutant computes what the original computes ("" when it is not listed)."""
        return EQUIVALENT.get(self.mutant.key, "")


@dataclass
class MutationRun:
    results: list[MutantResult] = field(default_factory=list)
    seconds: float = 0.0
    baseline_seconds: float = 0.0

    @property
    def killed(self) -> list[MutantResult]:
        return [r for r in self.results if r.killed]

    @property
    def survivors(self) -> list[MutantResult]:
        return [r for r in self.results if not r.killed]

    @property
    def unexplained(self) -> list[MutantResult]:
        """Survivors not listed as equivalent: what the suite misses."""
        return [r for r in self.survivors if not r.equivalent]

    @property
    def listed_but_killed(self) -> list[MutantResult]:
        """Mutants listed as equivalent that the suite kills: the list is wrong about them."""
        return [r for r in self.killed if r.equivalent]

    @property
    def score(self) -> float:
        """killed / non-equivalent mutants (1.0: every non-equivalent mutant killed)."""
        relevant = len(self.results) - (len(self.survivors) - len(self.unexplained))
        return len(self.killed) / relevant if relevant else 1.0

    def exit_code(self) -> int:
        return 0 if not self.unexplained and not self.listed_but_killed else 1


class SuiteFailsUnmutated(RuntimeError):
    """The suite does not pass on the unmutated copy: no mutant can be judged."""


def project_root() -> Path:
    return Path(__file__).resolve().parents[2]


def _in_copy(copy: Path, path) -> Path:
    """`path`, relative to the project, in the copy, where cases/ and oracle/ sit inside refbp/ (PACKAGES)."""
    if Path(path).is_absolute():
        return Path(path)
    first, _, rest = Path(path).as_posix().partition("/")
    return copy / PACKAGES.get(first, first) / rest


def run_mutation(
    mutants: list[Mutant] | None = None,
    paths=None,
    root: Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    on_result=None,
) -> MutationRun:
    """Run the suite (or the cases under `paths`, relative to the project) against each mutant."""
    root = root or project_root()
    mutants = mutants_of(root, TARGETS) if mutants is None else mutants
    run = MutationRun()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="refbp-mutate-") as folder:
        copy = Path(folder)
        for package, inside in PACKAGES.items():
            shutil.copytree(root / package, copy / inside, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        request = {"paths": [str(_in_copy(copy, p)) for p in paths] if paths else None, "timeout": timeout}
        with _server(copy) as server:
            baseline = server.ask(request)
            run.baseline_seconds = baseline["seconds"]
            if baseline["killed"]:
                raise SuiteFailsUnmutated(
                    f"the suite fails without any mutant: {baseline['case']}: {baseline['reason']}"
                )
            for mutant in mutants:
                target = copy / mutant.path
                original = target.read_text()
                target.write_text(mutant.apply(original))
                try:
                    answer = server.ask(request)
                finally:
                    target.write_text(original)
                result = MutantResult(mutant, answer["killed"], answer["case"], answer["reason"], answer["seconds"])
                run.results.append(result)
                if on_result is not None:
                    on_result(result)
    run.seconds = time.perf_counter() - start
    return run


class _server:
    """refbp.mutate.server in the copy, as a context manager; `ask(request)` -> its answer."""

    def __init__(self, copy: Path):
        environment = dict(os.environ, PYTHONPATH=str(copy), PYTHONDONTWRITEBYTECODE="1")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "refbp.mutate.server"],
            cwd=copy,
            env=environment,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def __enter__(self):
        return self

    def ask(self, request: dict) -> dict:
        assert self.process.stdin is not None and self.process.stdout is not None  # both PIPE
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the mutation server stopped")
        return json.loads(line)

    def __exit__(self, *exc):
        self.process.stdin.close()
        self.process.wait(timeout=60)
