"""Mutation operators: small, realistic edits of a backward pass, a loss gradient or an update.

Each operator looks at one AST node and proposes replacements for it (a new node, or None
to drop a statement), each with a short label:
- operators: + <-> -, * <-> /, @ -> *, ** -> *; comparisons (> <-> >=, < <-> <=, == <-> !=,
  in <-> not in, is <-> is not); and <-> or; += <-> -=, *= <-> /=;
- dropped terms: a + b -> a, a + b -> b (also -, *, /: a factor dropped), an augmented
  assignment or a plain statement dropped, `not` dropped, reversed(...) -> its argument;
- operands swapped: a - b -> b - a, a / b -> b / a, a @ b -> b @ a;
- constants and indices: a number c -> c + 1 and c -> 0, True <-> False;
- transpositions: x.T -> x;
- signs: -x -> x, a returned value negated, an `if` condition negated.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Iterator

SWAPPED_OPERATORS = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.MatMult: ast.Mult,
    ast.Pow: ast.Mult,
}
SWAPPED_COMPARISONS = {
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
SWAPPABLE_OPERANDS = (ast.Sub, ast.Div, ast.MatMult)
DROPPABLE_TERMS = (ast.Add, ast.Sub, ast.Mult, ast.Div)


def replacements(node: ast.AST) -> Iterator[tuple[str, ast.AST, ast.AST | None]]:
    """(label, the node replaced, its replacement) for every mutation at `node` (None: the
    statement is dropped). The node replaced is `node`, or a part of it (an if's condition,
    a returned value)."""
    if isinstance(node, ast.BinOp):
        yield from _binary(node)
    elif isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in SWAPPED_COMPARISONS:
        yield "comparison", node, _copy(node, ops=[SWAPPED_COMPARISONS[type(node.ops[0])]()])
    elif isinstance(node, ast.BoolOp):
        yield "boolean operator", node, _copy(node, op=ast.Or() if isinstance(node.op, ast.And) else ast.And())
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        yield "sign dropped", node, node.operand
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield "not dropped", node, node.operand
    elif isinstance(node, ast.Attribute) and node.attr == "T" and isinstance(node.ctx, ast.Load):
        yield "transpose dropped", node, node.value
    elif isinstance(node, ast.Constant):
        yield from _constant(node)
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "reversed":
        yield "reversed dropped", node, node.args[0]
    elif isinstance(node, ast.AugAssign):
        if type(node.op) in SWAPPED_OPERATORS and not isinstance(node.op, (ast.MatMult, ast.Pow)):
            yield "augmented operator", node, _copy(node, op=SWAPPED_OPERATORS[type(node.op)]())
        yield "statement dropped", node, None
    elif (isinstance(node, ast.Expr) and not isinstance(node.value, ast.Constant)) or (
        isinstance(node, ast.Assign) and _is_subscript_store(node)
    ):
        yield "statement dropped", node, None
    elif isinstance(node, ast.Return) and node.value is not None and not _is_structure(node.value):
        yield "returned value negated", node.value, ast.UnaryOp(op=ast.USub(), operand=node.value)
    elif isinstance(node, ast.If):
        yield "condition negated", node.test, ast.UnaryOp(op=ast.Not(), operand=node.test)


def _binary(node: ast.BinOp) -> Iterator[tuple[str, ast.AST, ast.AST]]:
    kind = type(node.op)
    if kind in SWAPPED_OPERATORS:
        yield "operator", node, _copy(node, op=SWAPPED_OPERATORS[kind]())
    if kind in SWAPPABLE_OPERANDS:
        yield "operands swapped", node, _copy(node, left=node.right, right=node.left)
    if kind in DROPPABLE_TERMS:
        yield "right term dropped", node, node.left
        if kind in (ast.Add, ast.Mult):
            yield "left term dropped", node, node.right


def _constant(node: ast.Constant) -> Iterator[tuple[str, ast.AST, ast.AST]]:
    value = node.value
    if isinstance(value, bool):
        yield "constant", node, ast.Constant(not value)
    elif isinstance(value, (int, float)):
        yield "constant", node, ast.Constant(value + 1)
        if value != 0:  # for 0, the other edit is 0 + 1 again
            yield "constant", node, ast.Constant(type(value)(0))


def _is_subscript_store(node: ast.Assign) -> bool:
    """`x[...] = ...` or `d[name] = ...`: a write into an array or a dict (dropping it loses a term)."""
    return any(isinstance(t, ast.Subscript) for t in node.targets)


def _is_structure(value: ast.AST) -> bool:
    """A returned tuple, dict, truth value, constant or constructed object (`DenseGrads(...)`):
    negating it is no sign mutation."""
    constructed = isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id[:1].isupper()
    return constructed or isinstance(value, (ast.Tuple, ast.Dict, ast.Compare, ast.BoolOp, ast.Constant))


def _copy(node: ast.AST, **fields) -> ast.AST:
    new = copy.copy(node)
    for name, value in fields.items():
        setattr(new, name, value)
    return new
