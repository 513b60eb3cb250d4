"""The mutants of refbp.nn's backward passes, loss gradients and updates (`TARGETS`).

A mutant is one edit (refbp.mutate.operators) of one function's source text: the span of
the node replaced gets the replacement's text (parenthesised where precedence could
change), or `pass` for a dropped statement; everything else in the file is left as it was.
Its `key` (module.function: `before` -> `after`, #n for the n-th same edit in that function)
names it in reports and in the list of equivalent mutants, independently of line numbers.
"""

from __future__ import annotations

import ast
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .operators import replacements

# file (relative to the project root) -> the functions mutated in it (Class.method or function):
# the code every gradient and update goes through. Identity's and ReLU's `derivative` are
# left out: their `backward` does not call it (only `refbp explain` prints it).
TARGETS: dict[str, tuple[str, ...]] = {
    "refbp/nn/activations.py": (
        "Activation.backward",
        "Identity.backward",
        "Sigmoid.derivative",
        "Tanh.derivative",
        "ReLU.backward",
        "LeakyReLU.derivative",
        "ELU.derivative",
        "Softplus.derivative",
        "Softmax.backward",
    ),
    "refbp/nn/dense.py": ("backward",),
    "refbp/nn/mlp.py": ("MLP.backward",),
    "refbp/nn/rnn.py": (
        "RNN.backward",
        "RNN.through_time",
        "RNN.recurrent_backward",
        "RNN.detached_before",
        "RNN.previous_states",
    ),
    "refbp/nn/losses.py": (
        "HalfSSE.gradient",
        "SSE.gradient",
        "MSE.gradient",
        "CrossEntropy.probabilities",
        "CrossEntropy.gradient",
        "BCE.gradient",
    ),
    "refbp/nn/optim.py": ("SGD.step", "Adam.step", "make"),
    "refbp/nn/runner.py": ("train",),
}
ATOMIC = (ast.Name, ast.Constant, ast.Attribute, ast.Call, ast.Subscript)


@dataclass(frozen=True)
class Mutant:
    path: str  # the file, relative to the project root
    function: str  # module.Class.method
    line: int
    label: str  # the operator (refbp.mutate.operators)
    before: str  # the source text replaced
    after: str  # its replacement
    start: int  # character offsets of the span replaced
    end: int
    occurrence: int = 0

    @property
    def key(self) -> str:
        return f"{self.function}: `{self.before}` -> `{self.after}`" + (
            f" #{self.occurrence}" if self.occurrence else ""
        )

    def apply(self, source: str) -> str:
        return source[: self.start] + self.after + source[self.end :]


def mutants_of(root: Path, targets: dict[str, tuple[str, ...]] = TARGETS) -> list[Mutant]:
    """Every mutant of the target functions, file by file, in source order."""
    found: list[Mutant] = []
    for relative, functions in targets.items():
        source = (root / relative).read_text()
        found += mutants_in_source(source, relative, functions)
    return found


def mutants_in_source(source: str, relative: str, functions) -> list[Mutant]:
    if not source.isascii():
        raise ValueError(f"{relative}: not ASCII (the mutator counts offsets in characters)")
    module = Path(relative).stem
    line_starts = _line_starts(source)
    found: list[Mutant] = []
    seen: Counter[tuple[str, str, str]] = Counter()
    for qualname, function in _functions(ast.parse(source)):
        if qualname not in functions:
            continue
        for node in _body_nodes(function):
            for label, replaced, new in replacements(node):
                assert isinstance(replaced, (ast.expr, ast.stmt))  # they have positions
                assert replaced.end_lineno is not None and replaced.end_col_offset is not None
                start = line_starts[replaced.lineno - 1] + replaced.col_offset
                end = line_starts[replaced.end_lineno - 1] + replaced.end_col_offset
                before = source[start:end]
                after = "pass" if new is None else _text(new)
                if after == before:
                    continue
                name = f"{module}.{qualname}"
                occurrence = seen[(name, before, after)]
                seen[(name, before, after)] += 1
                found.append(Mutant(relative, name, replaced.lineno, label, before, after, start, end, occurrence))
    missing = set(functions) - {q for q, _ in _functions(ast.parse(source))}
    if missing:
        raise ValueError(f"{relative}: no function {', '.join(sorted(missing))} to mutate")
    return found


def _functions(tree: ast.Module):
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            yield node.name, node
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    yield f"{node.name}.{item.name}", item


def _body_nodes(function: ast.FunctionDef):
    """Every node of the function's body (not its signature's defaults or annotations), docstring aside."""
    body = function.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    for statement in body:
        yield from ast.walk(statement)


def _text(node: ast.AST) -> str:
    text = ast.unparse(node)
    if isinstance(node, ast.expr) and not isinstance(node, ATOMIC):
        return f"({text})"
    return text


def _line_starts(source: str) -> list[int]:
    starts, offset = [], 0
    for line in source.splitlines(keepends=True):
        starts.append(offset)
        offset += len(line)
    return starts
