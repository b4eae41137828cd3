"""LaTeX in derivchain's notation: subscripted names, partial-derivative fractions, factors in path order."""

from __future__ import annotations

import re

import sympy as sp
from sympy.printing.latex import LatexPrinter

_INDEXED = re.compile(r"^([A-Za-z]+)(\d+)$")
_WORDS = {"Out", "Loss"}
_TEXT_ESCAPES = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "_": r"\_", "%": r"\%", "&": r"\&", "#": r"\#", "$": r"\$", "^": r"\^{}", "~": r"\~{}"}


class DerivPrinter(LatexPrinter):
    """SymPy's LaTeX printer with derivchain's names (W_{13}, \\mathrm{Out}, \\delta_{H_{4}})."""

    printmethod = "_latex"

    def name(self, name: str) -> str:
        """LaTeX for one symbol name: ``W13`` -> ``W_{13}``, ``Out2`` -> ``\\mathrm{Out}_{2}``."""
        if name.startswith("delta_"):
            return r"\delta_{%s}" % self.name(name[len("delta_"):])
        match = _INDEXED.match(name)
        base, index = (match.group(1), match.group(2)) if match else (name, None)
        if base in _WORDS or len(base) > 1:
            base = r"\mathrm{%s}" % base
        return base if index is None else "%s_{%s}" % (base, index)

    def _print_Symbol(self, expr, style="plain"):
        return self.name(expr.name)

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

    def text(self, s: str) -> str:
        """Escape plain text for use inside \\text{...}."""
        return "".join(_TEXT_ESCAPES.get(c, c) for c in s)


def latex(obj, **settings) -> str:
    """LaTeX for any derivchain result or SymPy expression, in derivchain's notation."""
    return DerivPrinter(settings).doprint(obj)
