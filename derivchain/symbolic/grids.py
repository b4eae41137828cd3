"""Matrices as grids of scalar SymPy expressions: what a matrix expression of a network file evaluates to.

A :class:`Grid` is a rows x cols tuple of tuples of scalar expressions over entry symbols ``NAME[i,j]``
(0-based, as in NumPy and PyTorch). Every operation of a matrix expression (``@``, ``.T``, elementwise
arithmetic with NumPy broadcasting of a row, a column or a 1x1, elementwise functions, sums and means
over an axis, softmax over an axis) is one function here, building each entry directly: the matrix
graph becomes scalar expression nodes that every engine, verifier and printer already knows.

Shape errors are :class:`ShapeError`, carrying both shapes and the operation; the caller (the network
file) names the node.
"""

from __future__ import annotations

from typing import Callable

import sympy as sp

from ..errors import ExpressionError
from ..record import record


class ShapeError(ExpressionError):
    """Two shapes an operation cannot combine, or an axis that is not 0 or 1."""


@record(repr=False)
class Grid:
    """A rows x cols matrix of scalar SymPy expressions, row by row."""

    entries: tuple[tuple[sp.Expr, ...], ...]

    def __repr__(self) -> str:
        return f"Grid({self.rows}x{self.cols})"

    @property
    def rows(self) -> int:
        """Number of rows."""
        return len(self.entries)

    @property
    def cols(self) -> int:
        """Number of columns."""
        return len(self.entries[0])

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols)."""
        return self.rows, self.cols

    def flat(self) -> list[sp.Expr]:
        """The entries row by row (row-major, as NumPy lays them out)."""
        return [e for row in self.entries for e in row]


def shape_text(shape: tuple[int, int] | None) -> str:
    """``3x4``; a scalar (None) is ``scalar``."""
    return "scalar" if shape is None else f"{shape[0]}x{shape[1]}"


def entry_name(name: str, i: int, j: int) -> str:
    """The name of entry (i, j) of matrix ``name``: ``WQ[0,1]``."""
    return f"{name}[{i},{j}]"


def symbols_grid(name: str, shape: tuple[int, int], make: Callable[[str], sp.Symbol]) -> Grid:
    """The grid of a matrix's own entry symbols ``name[i,j]``, each made by ``make``."""
    rows, cols = shape
    return Grid(tuple(tuple(make(entry_name(name, i, j)) for j in range(cols)) for i in range(rows)))


def build(rows: int, cols: int, entry: Callable[[int, int], sp.Expr]) -> Grid:
    """A grid whose entry (i, j) is ``entry(i, j)``."""
    return Grid(tuple(tuple(entry(i, j) for j in range(cols)) for i in range(rows)))


def shape_of(value) -> tuple[int, int] | None:
    """A grid's shape; None for a scalar."""
    return value.shape if isinstance(value, Grid) else None


def broadcast_shape(shapes: list[tuple[int, int] | None], operation: str) -> tuple[int, int] | None:
    """The shape elementwise ``operation`` gives, NumPy's rule: along each axis the sizes agree or one is 1
    (a scalar combines with anything); None when every operand is a scalar."""
    grids = [s for s in shapes if s is not None]
    if not grids:
        return None
    out = []
    for axis in (0, 1):
        sizes = {s[axis] for s in grids} - {1}
        if len(sizes) > 1:
            raise ShapeError(_mismatch(grids, operation, "NumPy's broadcasting needs each axis to agree or be 1"))
        out.append(sizes.pop() if sizes else 1)
    return out[0], out[1]


def _mismatch(shapes, operation: str, why: str) -> str:
    shown = " and ".join(shape_text(s) for s in shapes)
    return f"shapes {shown} do not fit {operation} ({why})"


def _at(value, i: int, j: int) -> sp.Expr:
    # Entry (i, j) of a broadcast operand: a scalar everywhere, a size-1 axis repeated.
    if not isinstance(value, Grid):
        return value
    return value.entries[i if value.rows > 1 else 0][j if value.cols > 1 else 0]


def elementwise(function: Callable[..., sp.Expr], operands: list, operation: str):
    """``function`` applied entry by entry to broadcast ``operands`` (grids or scalars); a scalar when all are."""
    shape = broadcast_shape([shape_of(v) for v in operands], operation)
    if shape is None:
        return function(*operands)
    return build(*shape, lambda i, j: function(*(_at(v, i, j) for v in operands)))


def matmul(left, right) -> Grid:
    """``left @ right``: columns of the left must equal rows of the right (a scalar is refused, as NumPy does)."""
    if not isinstance(left, Grid) or not isinstance(right, Grid):
        raise ShapeError(_mismatch([shape_of(left), shape_of(right)], "@", "@ multiplies two matrices; "
                                   "use * for a scalar"))
    if left.cols != right.rows:
        raise ShapeError(_mismatch([left.shape, right.shape], "@", f"the left's {left.cols} columns must equal "
                                   f"the right's {right.rows} rows"))
    return build(left.rows, right.cols,
                 lambda i, j: sp.Add(*(left.entries[i][k] * right.entries[k][j] for k in range(left.cols))))


def transpose(value) -> Grid:
    """``value.T``; a scalar is refused (``.T`` is for matrices)."""
    if not isinstance(value, Grid):
        raise ShapeError("shape scalar does not fit .T (.T transposes a matrix)")
    return build(value.cols, value.rows, lambda i, j: value.entries[j][i])


def total(value, axis: int | None, operation: str = "sum"):
    """``sum(M)`` (a scalar), ``sum(M, axis=0)`` (a 1 x cols row) or ``sum(M, axis=1)`` (a rows x 1 column)."""
    if not isinstance(value, Grid):
        if axis is not None:
            raise ShapeError(f"shape scalar does not fit {operation}(..., axis={axis}) (an axis needs a matrix)")
        return value
    if axis is None:
        return sp.Add(*value.flat())
    if axis == 0:
        return build(1, value.cols, lambda i, j: sp.Add(*(value.entries[k][j] for k in range(value.rows))))
    return build(value.rows, 1, lambda i, j: sp.Add(*value.entries[i]))


def mean(value, axis: int | None):
    """``mean(M)``, ``mean(M, axis=0)``, ``mean(M, axis=1)``: the sum divided by the number of entries summed."""
    summed = total(value, axis, "mean")
    if not isinstance(value, Grid):
        return summed
    count = value.rows * value.cols if axis is None else value.shape[axis]
    scale = sp.Rational(1, count)
    if isinstance(summed, Grid):
        return build(*summed.shape, lambda i, j: scale * summed.entries[i][j])
    return scale * summed


def softmax(value, axis: int) -> Grid:
    """``softmax(M, axis=1)``: each row's exp(m_ij) / sum_k exp(m_ik) (``axis=0``: each column's)."""
    if not isinstance(value, Grid):
        raise ShapeError("shape scalar does not fit softmax (softmax normalises a matrix along an axis)")
    exps = build(*value.shape, lambda i, j: sp.exp(value.entries[i][j]))
    if axis == 1:
        sums = [sp.Add(*row) for row in exps.entries]
        return build(*value.shape, lambda i, j: exps.entries[i][j] / sums[i])
    sums = [sp.Add(*(exps.entries[k][j] for k in range(value.rows))) for j in range(value.cols)]
    return build(*value.shape, lambda i, j: exps.entries[i][j] / sums[j])
