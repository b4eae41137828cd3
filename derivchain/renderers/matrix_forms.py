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
        each = "the equation" if n == 1 else f"each of the {n} equations"  # a traced layer's one equation
        return (f"Verified: {each} equals the scalar derivation (backpropagation) entry by entry "
                f"(weakest check: {weakest(g)}{', evidence and not a proof' if weakest(g) == 'numeric' else ''}); {entries}")
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
        return _number(node.value)
    if isinstance(node, ast.UnaryOp):
        inner = _tex(node.operand, name, 3)
        return inner if isinstance(node.op, ast.UAdd) else f"-{inner}"
    if isinstance(node, ast.Attribute):
        return r"%s^{\mathrm{T}}" % _tex(node.value, name, 5)
    if isinstance(node, ast.BinOp):
        level = _PRECEDENCE.get(type(node.op), 2)
        if isinstance(node.op, ast.Div):
            out, single = _quotient(node, name, level)
            if single and not out.startswith("-"):
                return out  # a fraction is its own bracket
        elif isinstance(node.op, ast.Pow):
            base = _tex(node.left, name, 5)
            if isinstance(node.left, ast.Call):  # a root or a function squared: (\sqrt{v})^{2}, not a script on v
                base = r"\left(%s\right)" % base
            out = "%s^{%s}" % (base, _tex(node.right, name))
        else:
            left, right = _operand(node, node.left, name, level), _operand(node, node.right, name, level + 1)
            if isinstance(node.op, ast.Mult):
                op = r"\, " if _scalar_product(node) else r" \odot "
            else:
                op = {ast.Add: " + ", ast.Sub: " - ", ast.MatMult: r"\, "}[type(node.op)]
            out = left + op + right
        return r"\left(%s\right)" % out if level < parent else out
    if isinstance(node, ast.Call):
        fn = node.func.id
        if fn == "sqrt" and len(node.args) == 1:  # a root, entry by entry, as the textbook writes it
            return r"\sqrt{%s}" % _tex(node.args[0], name)
        axis = next((k.value.value for k in node.keywords if k.arg == "axis"), None)
        if fn in ("sum", "mean") and axis is not None:
            fn = {("sum", 0): "colsum", ("sum", 1): "rowsum", ("mean", 0): "colmean", ("mean", 1): "rowmean"}[(fn, axis)]
        elif fn == "softmax":
            fn = r"softmax}_{\mathrm{%s}" % ("rows" if axis == 1 else "cols")  # \mathrm{softmax}_{\mathrm{rows}}
        args = ", ".join(_tex(a, name) for a in node.args)
        return r"\mathrm{%s}\left(%s\right)" % (fn, args)
    return ast.unparse(node)


def _quotient(node, name, level: int) -> tuple[str, bool]:
    """``a/b``: a fraction, but an adjoint (itself a fraction) divided is written times 1/b (a fraction in a
    fraction's numerator was hard to read: dL/dS/2), and a minus stands before the fraction; and whether it is
    one fraction (it needs no bracket)."""
    top, bottom = node.left, node.right
    negative = isinstance(top, ast.UnaryOp) and isinstance(top.op, ast.USub)
    if negative:
        top = top.operand
    if _has_adjoint(top):
        op = r" \odot " if _reads(bottom) else r"\, "
        out, single = r"\frac{1}{%s}%s%s" % (_tex(bottom, name), op, _tex(top, name, level + 1)), False
    else:
        out, single = r"\frac{%s}{%s}" % (_tex(top, name), _tex(bottom, name)), True
    return ("-" + out if negative else out), single


def _operand(parent, child, name, level: int) -> str:
    """An operand of a product: bracketed where the matrix product meets the product entry by entry (they do not
    associate: (G ⊙ H) X^T is not G ⊙ (H X^T))."""
    text = _tex(child, name, level)
    if isinstance(child, ast.BinOp) and not text.startswith(r"\left("):
        mixed = {type(parent.op), type(child.op)} == {ast.Mult, ast.MatMult}
        if mixed and not (isinstance(child.op, ast.Mult) and _scalar_product(child)) \
                and not (isinstance(parent.op, ast.Mult) and _scalar_product(parent)):
            return r"\left(%s\right)" % text
    return text


def _scalar_product(node) -> bool:
    """Whether a product has a number for a factor (written without ⊙)."""
    return not _reads(node.left) or not _reads(node.right)


def _has_adjoint(node) -> bool:
    return any(isinstance(n, ast.Name) and n.id.startswith("dL_d") for n in ast.walk(node))


def _number(value) -> str:
    """A constant: 1e-05 as 10^{-5}, 2.5e-07 as 2.5 \\cdot 10^{-7}, others as written."""
    text = str(value)
    found = re.fullmatch(r"(-?)([0-9.]+)e([+-]?)0*(\d+)", text)
    if not found:
        return text
    sign, mantissa, minus, power = found.groups()
    ten = "10^{%s%s}" % ("-" if minus == "-" else "", power)
    return sign + (ten if mantissa == "1" else r"%s \cdot %s" % (mantissa, ten))


def _reads(node) -> bool:
    """Whether a subtree reads a name (else it is a number: its product is written without \\odot)."""
    return any(isinstance(n, ast.Name) for n in ast.walk(node))


# --- the notes' section of matrix equations (``export`` of a matrix graph) -------------------------------------

#: What the notes say before the matrix equations (the symbols as the formats print them).
MATRIX_INTRO = ("The backward pass written in matrices, from the loss L back to each parameter matrix (juxtaposition is "
                "the matrix product, ⊙ the product entry by entry, a superscript T the transpose; rowsum and colsum sum each row or "
                "column). Each equation was evaluated with the scalar derivation's deltas for the matrices it reads and "
                "checked entry by entry against the scalar derivation; each entry of the last one against that entry's "
                "direct derivative as well.")


def equation_latex(e, name=matrix_latex) -> tuple[str, str]:
    """An equation of the chain as LaTeX: (left side, right side)."""
    return r"\frac{\partial L}{\partial %s}" % name(e.name), form_latex(e.form, name)


def equation_note(e) -> str:
    """What is said beside an equation: its shape, its check, its textbook rewrite's name where it has one."""
    return f"{shape_text(e.shape)}; {mark(e)}" + (f"; {e.rewrite}" if e.rewrite else "")


def mark(e) -> str:
    """An equation's check in words: numeric agreement is evidence, and says so (as the scalar verdicts do)."""
    if not e.verified:
        return "NOT verified"
    return f"verified ({e.method}{NOT_PROVED if e.method == 'numeric' else ''})"


#: Said after a numeric check: the forms agree at every point tried, which is evidence, not a proof.
NOT_PROVED = ": evidence, not a proof"


def heading_text(g) -> str:
    """``dL/dWQ (4x4)``: a matrix gradient's heading, as text."""
    return f"dL/d{g.parameter} ({shape_text(g.shape)})"


#: On a matrix graph, an entry's gradient longer than this (characters of its text) is not written in the notes'
#: table of every derivative: the 3-token attention's WQ[0,0] (5,000 characters) took a page of its own in a table
#: cell, 32 of them, and a row LaTeX cannot break ran off each page. Its matrix's equations give it. Measured on the
#: form the table prints, the delta form (X[0,0]*delta_Q[0,0] + ...: short wherever each delta is defined once).
TABLE_TEXT = 1500

#: What such a row's gradient cell says instead.
LONG_CELL = "too long for a table: see the matrix equations"


def long_for_table(network, d) -> bool:
    """Whether the notes' table leaves derivation ``d``'s gradient (its delta form, as the table prints it) to the
    matrix equations (matrix graphs only)."""
    return network.matrix is not None and len(str(d.delta_form)) > TABLE_TEXT
