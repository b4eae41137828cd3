"""The whitelist parser's matrix mode: a matrix expression of a network file, evaluated to a grid of entries.

Text is parsed by :func:`ast.parse` (through :mod:`.parse`'s syntax and length checks) and walked node
by node, as the scalar parser does, never ``eval``: numbers (each read by the scalar parser), names of
matrices and scalars, an entry ``X[0,1]``, ``+ - * / **`` elementwise with NumPy broadcasting, ``@``,
``.T``, the scalar parser's functions and the activations applied entry by entry, and
``sum(M)``, ``sum(M, axis=0|1)``, ``mean(...)`` likewise, ``softmax(M, axis=0|1)``. Nothing else: any
other attribute, keyword, subscript or construct is refused in one line. Each operation builds its
entries through :mod:`.grids`, so a matrix expression becomes scalar expressions over entry symbols.

This is a module of its own beside :mod:`.parse` (whose scalar walk it shares the limits and the number
reader of) so that the scalar parser's contract stays as it is.
"""

from __future__ import annotations

import ast
from typing import Callable

import sympy as sp

from ..errors import ExpressionError
from . import grids
from .grids import Grid, ShapeError
from .parse import MAX_DEPTH, MAX_EXPONENT, MAX_LENGTH, _syntax_tree, check_arity, parse_expression
from .rules import CONSTANTS, DOCUMENTED, PARSER_FUNCTIONS

#: The reductions and normalisations a matrix expression may call, beside the elementwise functions.
REDUCTIONS = ("sum", "mean", "softmax")
_BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**", ast.MatMult: "@"}


def parse_matrix_expression(text: str, env: dict[str, object], what: str,
                            elementwise: dict[str, Callable[[sp.Expr], sp.Expr]] | None = None,
                            max_length: int | None = MAX_LENGTH, max_entries: int = 20_000):
    """Evaluate ``text`` over ``env`` (name -> a :class:`Grid` or a scalar expression) to a Grid or a scalar.

    ``elementwise``: one-argument functions by name beside the parser's (the activations), applied entry
    by entry. ``what`` names the expression in errors; no intermediate matrix may hold more than
    ``max_entries`` entries (checked before it is built).
    """
    extra = dict(elementwise or {})
    tree = _syntax_tree(text, what, max_length)
    source = text.strip()
    names = ", ".join(env)
    functions = ", ".join(list(dict.fromkeys([*DOCUMENTED, *extra])) + list(REDUCTIONS))

    def fail(problem: str):
        raise ExpressionError(f"{what}: {problem} in {text!r}; allowed are numbers, the names {names}, entries "
                              f"NAME[i,j], + - * / ** @ .T, and the functions {functions}")

    def guard(node, shape) -> None:
        if shape is not None and shape[0] * shape[1] > max_entries:
            raise ShapeError(f"{what}: {ast.get_source_segment(source, node) or ast.unparse(node)!r} would be "
                             f"{grids.shape_text(shape)}, more than {max_entries} entries (the neurons limit; "
                             "raise it with --limit neurons=N)")

    def shaped(node, run):
        try:
            return run()
        except ShapeError as exc:
            raise ShapeError(f"{what}: {exc} in {ast.get_source_segment(source, node) or ast.unparse(node)!r}") from None

    def axis_of(node: ast.Call, required: bool) -> int | None:
        axis = None
        for keyword in node.keywords:
            if keyword.arg != "axis":
                fail(f"the keyword {keyword.arg or '**'}= ({node.func.id} takes axis=0 or axis=1 only)")
            value = keyword.value
            if not (isinstance(value, ast.Constant) and type(value.value) is int and value.value in (0, 1)):
                fail(f"axis={ast.unparse(value)} (axis is 0, down the columns, or 1, along the rows)")
            axis = value.value
        if axis is None and required:
            fail(f"{node.func.id}() without axis= (write {node.func.id}(M, axis=1) for rows, axis=0 for columns)")
        return axis

    def build(node, depth: int):
        if depth > MAX_DEPTH:
            raise ExpressionError(f"{what}: {text!r} is nested more than {MAX_DEPTH} levels deep")
        if isinstance(node, ast.Constant):
            # The scalar parser reads (and bounds) every number, exactly as it would in a scalar node.
            return parse_expression(ast.get_source_segment(source, node) or repr(node.value), {}, what, None)
        if isinstance(node, ast.Name):
            if node.id in env:
                return env[node.id]
            if node.id in CONSTANTS:
                return CONSTANTS[node.id]
            if node.id in PARSER_FUNCTIONS or node.id in extra or node.id in REDUCTIONS:
                fail(f"the function {node.id!r} is used without arguments")
            fail(f"unknown name {node.id!r}")
        if isinstance(node, ast.Subscript):
            return entry(node)
        if isinstance(node, ast.Attribute):
            if node.attr != "T":
                fail(f"the attribute .{node.attr} (only .T, the transpose, is allowed)")
            value = build(node.value, depth + 1)
            return shaped(node, lambda: grids.transpose(value))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            inner = build(node.operand, depth + 1)
            if isinstance(node.op, ast.UAdd):
                return inner
            return grids.elementwise(lambda u: -u, [inner], "-")
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            left, right = build(node.left, depth + 1), build(node.right, depth + 1)
            symbol = _BINARY[type(node.op)]
            if symbol == "@":
                if isinstance(left, Grid) and isinstance(right, Grid):
                    guard(node, (left.rows, right.cols))
                return shaped(node, lambda: grids.matmul(left, right))
            shaped(node, lambda: guard(node, grids.broadcast_shape([grids.shape_of(left), grids.shape_of(right)], symbol)))
            if symbol == "/" and not isinstance(right, Grid) and right == 0:
                fail("division by zero")
            if symbol == "**":
                power(right)
            operate = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
                       "/": lambda a, b: a / b, "**": lambda a, b: a**b}[symbol]
            return shaped(node, lambda: grids.elementwise(operate, [left, right], symbol))
        if isinstance(node, ast.Call):
            return call(node, depth)
        fail(f"the construct {type(node).__name__!r} ({ast.unparse(node)!r}) is not allowed")

    def power(exponent) -> None:
        # Elementwise powers by a scalar only: a number small enough, or a scalar expression.
        if isinstance(exponent, Grid):
            fail("a matrix as an exponent (write M**2 with a number or a scalar)")
        if exponent.is_Number and abs(exponent) > MAX_EXPONENT:
            raise ExpressionError(f"{what}: exponent {exponent} in {text!r} is larger than {MAX_EXPONENT}")
        if not exponent.is_Number and not exponent.free_symbols:
            fail("a numeric exponent that is not a plain number")

    def entry(node: ast.Subscript) -> sp.Expr:
        index = node.slice
        parts = index.elts if isinstance(index, ast.Tuple) else []
        if (not isinstance(node.value, ast.Name) or len(parts) != 2
                or not all(isinstance(p, ast.Constant) and type(p.value) is int for p in parts)):
            fail(f"the subscript {ast.unparse(node)!r} (an entry is NAME[i,j] with whole numbers from 0)")
        value = build(node.value, 1)
        i, j = (p.value for p in parts)
        if not isinstance(value, Grid):
            fail(f"the entry {ast.unparse(node)!r} of a scalar")
        if not (i < value.rows and j < value.cols):
            raise ShapeError(f"{what}: {ast.unparse(node)} is outside {node.value.id}, which is "
                             f"{grids.shape_text(value.shape)} (indices start at 0) in {text!r}")
        return value.entries[i][j]

    def call(node: ast.Call, depth: int):
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name not in PARSER_FUNCTIONS and name not in extra and name not in REDUCTIONS:
            fail(f"the call {name or ast.unparse(node.func)}(...) is not allowed")
        if name in REDUCTIONS:
            if len(node.args) != 1:
                usage = "softmax(M, axis=1)" if name == "softmax" else f"{name}(M) or {name}(M, axis=0|1)"
                raise ExpressionError(f"{what}: {name}() takes 1 argument and axis=, got {len(node.args)} in {text!r}; "
                                      f"write {usage}")
            axis = axis_of(node, required=name == "softmax")
            value = build(node.args[0], depth + 1)
            if name == "softmax":
                return shaped(node, lambda: grids.softmax(value, axis))
            if name == "mean":
                return shaped(node, lambda: grids.mean(value, axis))
            return shaped(node, lambda: grids.total(value, axis))
        if node.keywords:
            fail(f"keyword arguments to {name}()")
        check_arity(name, len(node.args), what, text, "M")
        function = PARSER_FUNCTIONS.get(name) or extra[name]
        args = [build(a, depth + 1) for a in node.args]
        shaped(node, lambda: guard(node, grids.broadcast_shape([grids.shape_of(a) for a in args], f"{name}()")))
        return shaped(node, lambda: grids.elementwise(lambda *u: function(*u), args, f"{name}()"))

    return build(tree.body, 0)


def matrix_names(text: str, what: str, max_length: int | None = MAX_LENGTH) -> list[str]:
    """The names a matrix expression reads (entries ``X[0,1]`` read ``X``), in order of first appearance,
    neither the functions it calls nor ``.T``; syntax and length checked as by the parser."""
    tree = _syntax_tree(text, what, max_length)
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    found = [n for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in called]
    found.sort(key=lambda n: (n.lineno, n.col_offset))
    return list(dict.fromkeys(n.id for n in found))
