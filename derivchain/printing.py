"""LaTeX in derivchain's notation: subscripted names, partial-derivative fractions, factors in path order."""

from __future__ import annotations

import re

import sympy as sp
from sympy.printing.latex import LatexPrinter

_INDEXED = re.compile(r"^([A-Za-z]+)(\d+)$")
_LAYERED_WEIGHT = re.compile(r"^([a-z])(\d+)_(\d+)_(\d+)$")  # w2_1_2 -> w^{2}_{12}
_LAYERED_NODE = re.compile(r"^([A-Za-z])(\d+)_(\d+)$")  # O2_1 -> O_{21}, b2_1 -> b^{2}_{1}
_WORDS = {"Out", "Loss"}
_TEXT_ESCAPES = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "_": r"\_", "%": r"\%", "&": r"\&", "#": r"\#", "$": r"\$", "^": r"\^{}", "~": r"\~{}",
                 # In text mode with the default font encoding |, < and > print as other glyphs.
                 "|": r"\textbar{}", "<": r"\textless{}", ">": r"\textgreater{}"}


#: Visible characters of math that fit on a line of the exported documents (A4, 2 cm margins).
LINE_WIDTH = 62
_INVISIBLE = re.compile(r"\\(left|right|operatorname|mathrm|text|quad|qquad)\b|[{}]")
_COMMAND = re.compile(r"\\[a-zA-Z]+")


def visible_width(tex: str) -> int:
    """A rough count of the characters a LaTeX math string shows (commands count as one)."""
    return len(_COMMAND.sub("x", _INVISIBLE.sub("", tex)).replace("_", "").replace("^", ""))


def _join_terms(terms: list[str]) -> str:
    out = terms[0]
    for t in terms[1:]:
        out += (" - " + t[1:].lstrip()) if t.startswith("-") else " + " + t
    return out


class DerivPrinter(LatexPrinter):
    """SymPy's LaTeX printer with derivchain's names (W_{13}, \\mathrm{Out}, \\delta_{H_{4}})."""

    printmethod = "_latex"

    def __init__(self, settings=None):
        super().__init__(settings)
        self._memo: dict = {}

    def _print(self, expr, **kwargs):
        # A subexpression prints the same wherever it appears (the parent adds any parentheses),
        # and derivations repeat many (sign(Out - Y), each neuron's factor): print each once.
        if kwargs or not isinstance(expr, sp.Basic):
            return super()._print(expr, **kwargs)
        hit = self._memo.get(expr)
        if hit is None:
            if len(self._memo) > 100_000:
                self._memo.clear()
            hit = self._memo[expr] = super()._print(expr)
        return hit

    def name(self, name: str) -> str:
        """LaTeX for one symbol name: ``W13`` -> ``W_{13}``, ``w2_1_12`` -> ``w^{2}_{1,12}``."""
        if name.startswith("delta_"):
            inner = name[len("delta_"):]
            node = _LAYERED_NODE.match(inner)
            if node and node.group(1).isupper():
                return r"\delta^{%s}_{%s}" % (node.group(2), node.group(3))
            return r"\delta_{%s}" % self.name(inner)
        weight = _LAYERED_WEIGHT.match(name)
        if weight:
            base, layer, i, j = weight.groups()
            return r"%s^{%s}_{%s}" % (base, layer, _indices(i, j))
        node = _LAYERED_NODE.match(name)
        if node:
            base, layer, j = node.groups()
            if base.isupper():  # an output O_{lj}
                return r"%s_{%s}" % (base, _indices(layer, j))
            return r"%s^{%s}_{%s}" % (base, layer, j)  # a bias b^{l}_{j}
        match = _INDEXED.match(name)
        base, index = (match.group(1), match.group(2)) if match else (name, None)
        if base in _WORDS or len(base) > 1:
            base = r"\mathrm{%s}" % base
        return base if index is None else "%s_{%s}" % (base, index)

    def _print_Symbol(self, expr, style="plain"):
        return self.name(expr.name)

    def _print_Derivative(self, expr):
        # Always partial (SymPy writes d for one variable): dLoss/dW1 is a partial derivative here.
        inner, (w, _) = expr.args[0], expr.args[1]
        if inner.is_Symbol:
            return self.partial(inner, w)
        return r"\frac{\partial}{\partial %s} \left(%s\right)" % (self._print(w), self._print(inner))

    def _print_Heaviside(self, expr, exp=None):
        # The value at 0 is stated in the notes, not in every formula.
        tex = r"\theta\left(%s\right)" % self._print(expr.args[0])
        return tex if exp is None else r"%s^{%s}" % (tex, exp)

    def partial(self, numerator: sp.Symbol, denominator: sp.Symbol) -> str:
        """The fraction d numerator / d denominator with partial signs."""
        return r"\frac{\partial %s}{\partial %s}" % (self._print(numerator), self._print(denominator))

    def product(self, factors) -> str:
        """Factors joined by \\cdot in the given order (SymPy's Mul would sort them)."""
        return r" \cdot ".join(self.factor(f) for f in factors)

    def factor(self, expr) -> str:
        """One factor, parenthesised when it is a sum or a negative product."""
        tex = self._print(expr)
        if isinstance(expr, sp.Expr) and (expr.is_Add or (expr.is_Mul and expr.could_extract_minus_sign())):
            return r"\left(%s\right)" % tex
        return tex

    def chain(self, factors) -> str:
        """The chain of partial-derivative fractions, in path order."""
        return r" \cdot ".join(self._print(f) for f in factors)

    def broken_sum(self, lhs: str, terms: list[str], width: int = LINE_WIDTH) -> list[str]:
        r"""``lhs &= t1 + t2 ...`` as aligned lines, starting a new line before a term that would
        run past ``width`` (estimated visible characters), continuing with ``&\quad + ...``."""
        lines, current, used = [], [], 0
        for t in terms:
            w = visible_width(t) + 3
            if current and used + w > width:
                lines.append(current)
                current, used = [], 0
            current.append(t)
            used += w
        if current:
            lines.append(current)
        out = []
        for i, chunk in enumerate(lines):
            body = _join_terms(chunk)
            if i == 0:
                out.append(r"%s &= %s" % (lhs, body))
            else:
                out.append(r"&\quad %s" % (body if body.startswith("-") else "+ " + body))
        return out

    def text(self, s: str) -> str:
        """Escape plain text for use inside \\text{...}."""
        return "".join(_TEXT_ESCAPES.get(c, c) for c in s)


def _indices(a: str, b: str) -> str:
    # w^{2}_{12} reads fine; with an index of 10 or more a comma keeps it unambiguous: w^{2}_{1,12}.
    return f"{a}{b}" if len(a) == 1 and len(b) == 1 else f"{a},{b}"


_DEFAULT: DerivPrinter | None = None


def latex(obj, **settings) -> str:
    """LaTeX for any derivchain result or SymPy expression, in derivchain's notation."""
    global _DEFAULT
    if settings:
        return DerivPrinter(settings).doprint(obj)
    if _DEFAULT is None:
        _DEFAULT = DerivPrinter()
    return _DEFAULT.doprint(obj)


def text(expr) -> str:
    """Plain text with pending derivatives written dH4/dW1 and d/dW1(...)."""
    from sympy.printing.str import StrPrinter

    class _Text(StrPrinter):
        def _print_Derivative(self, e):
            inner, (w, _) = e.args[0], e.args[1]
            if inner.is_Symbol:
                return f"d{inner}/d{w}"
            return f"d/d{w}({self._print(inner)})"

    return _Text().doprint(expr)
