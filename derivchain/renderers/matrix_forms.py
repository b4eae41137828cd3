"""What every format prints of ``grad WQ`` on a matrix graph (a MatrixGradient): the chain of matrix
equations, each with its shape and how it was checked, and with values each matrix's entries.

The forms are text in the network file's matrix language (``P.T @ dL/dA``); :func:`form_latex` writes one
as LaTeX by walking its syntax tree (``P^{\\mathrm{T}}\\, \\frac{\\partial L}{\\partial A}``, ``\\odot`` for
an elementwise product), using only the TeX the HTML page's converter reads.
"""

from __future__ import annotations

import ast
import re

from ..model.notation import matrix_latex

_ADJOINT = re.compile(r"\bdL/d([A-Za-z][A-Za-z0-9_]*)")
_PRECEDENCE = {ast.Add: 1, ast.Sub: 1, ast.Mult: 2, ast.Div: 2, ast.MatMult: 2, ast.Pow: 4}


def shape_text(shape) -> str:
    """``3x4``."""
    return f"{shape[0]}x{shape[1]}"


def summary(g) -> str:
    """The verdict in one line: the equations' checks and the leaf's entries' (direct = backpropagation)."""
    n = len(g.chain)
    entries = f"entries of dL/d{g.parameter}: {g.entries.summary}"
    if g.verified:
        return (f"Verified: each of the {n} equations equals the scalar derivation (backpropagation) entry by entry "
                f"(weakest check: {weakest(g)}); {entries}")
    bad = [e.name for e in g.chain if not e.verified]
    what = [f"the equations for {', '.join(bad)} are not shown equal to the scalar derivation"] if bad else []
    if not g.entries.verified:
        what.append(entries)
    return "NOT verified: " + "; ".join(what)


def weakest(g) -> str:
    """The weakest method any equation's check needed."""
    order = ("identical", "expansion", "random points mod p", "numeric")
    return max((e.method for e in g.chain), key=lambda m: order.index(m) if m in order else len(order))


def rows_text(rows) -> str:
    """Entries as ``[[a, b], [c, d]]``."""
    return "[" + ", ".join("[" + ", ".join(str(n) for n in row) + "]" for row in rows) + "]"


def rows_numbers(rows) -> list:
    """Entries as nested lists of floats (JSON)."""
    return [[float(n) for n in row] for row in rows]


def form_latex(form: str, name=matrix_latex) -> str:
    """LaTeX for a printed form (``dL/dS`` adjoints, ``@``, ``.T``, ``*`` elementwise)."""
    tree = ast.parse(_ADJOINT.sub(r"dL_d\1", form), mode="eval").body
    return _tex(tree, name)


def _tex(node, name, parent: int = 0) -> str:
    if isinstance(node, ast.Name):
        if node.id.startswith("dL_d"):
            return r"\frac{\partial L}{\partial %s}" % name(node.id[4:])
        return name(node.id)
    if isinstance(node, ast.Constant):
        return str(node.value)
    if isinstance(node, ast.UnaryOp):
        inner = _tex(node.operand, name, 3)
        return inner if isinstance(node.op, ast.UAdd) else f"-{inner}"
    if isinstance(node, ast.Attribute):
        return r"%s^{\mathrm{T}}" % _tex(node.value, name, 5)
    if isinstance(node, ast.BinOp):
        level = _PRECEDENCE.get(type(node.op), 2)
        if isinstance(node.op, ast.Div):
            out = r"\frac{%s}{%s}" % (_tex(node.left, name), _tex(node.right, name))
            return out
        if isinstance(node.op, ast.Pow):
            out = "%s^{%s}" % (_tex(node.left, name, 5), _tex(node.right, name))
        else:
            left, right = _tex(node.left, name, level), _tex(node.right, name, level + 1)
            if isinstance(node.op, ast.Mult):
                scalar = not _reads(node.left) or not _reads(node.right)
                op = r"\, " if scalar else r" \odot "
            else:
                op = {ast.Add: " + ", ast.Sub: " - ", ast.MatMult: r"\, "}[type(node.op)]
            out = left + op + right
        return r"\left(%s\right)" % out if level < parent else out
    if isinstance(node, ast.Call):
        fn = node.func.id
        axis = next((k.value.value for k in node.keywords if k.arg == "axis"), None)
        if fn in ("sum", "mean") and axis is not None:
            fn = {("sum", 0): "colsum", ("sum", 1): "rowsum", ("mean", 0): "colmean", ("mean", 1): "rowmean"}[(fn, axis)]
        elif fn == "softmax":
            fn = r"softmax}_{\mathrm{%s}" % ("rows" if axis == 1 else "cols")  # \mathrm{softmax}_{\mathrm{rows}}
        args = ", ".join(_tex(a, name) for a in node.args)
        return r"\mathrm{%s}\left(%s\right)" % (fn, args)
    return ast.unparse(node)


def _reads(node) -> bool:
    """Whether a subtree reads a name (else it is a number: its product is written without \\odot)."""
    return any(isinstance(n, ast.Name) for n in ast.walk(node))
