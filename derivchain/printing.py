"""The printers: one SymPy printer subclass per format (LaTeX, text), the notation a setting of each."""

from __future__ import annotations

import re

import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.str import StrPrinter

from .notation import FLAT

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


def activation_first(expr: sp.Expr) -> tuple[list[sp.Expr], sp.Expr] | None:
    """A product's activation derivatives o*(1 - o) pulled to the front, each kept beside its factor.

    SymPy's order writes ``H5*W13*(1 - H5)``; the sources write ``H5*(1 - H5)*W13``. Returns the
    paired factors in order and the rest of the product, or None when nothing is paired.
    """
    if not expr.is_Mul or expr.could_extract_minus_sign():
        return None
    args = expr.args
    present = set(args)
    pairs: list[sp.Expr] = []
    for a in args:
        if a.is_Add and len(a.args) == 2 and sp.S.One in a.args:
            o = -(a.args[0] if a.args[1] is sp.S.One else a.args[1])
            if o.is_Symbol and o in present and o not in pairs:
                pairs += [o, a]
    if not pairs:
        return None
    rest = list(args)
    for f in pairs:
        rest.remove(f)
    return pairs, sp.Mul(*rest)


class DerivPrinter(LatexPrinter):
    """SymPy's LaTeX printer with a network's names (W_{13}, \\mathrm{Out}, \\delta_{H_{4}}).

    Settings: ``notation`` (a :class:`~derivchain.notation.Notation`) and ``names`` (name -> LaTeX,
    as the notation made them for one network); other names get the notation's own rule.
    """

    printmethod = "_latex"
    _default_settings = {**LatexPrinter._default_settings, "notation": None, "names": None}

    def __init__(self, settings=None):
        super().__init__(settings)
        self._memo: dict = {}
        self._names = self._settings["names"] or {}
        self._notation = self._settings["notation"] or FLAT

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
        """LaTeX for one symbol name, as the notation makes it: ``W13`` -> ``W_{13}``, ``w2_1_12`` -> ``w^{2}_{1,12}``."""
        tex = self._names.get(name)
        return tex if tex is not None else self._notation.latex(name)

    def _print_Mul(self, expr):
        split = activation_first(expr)
        if split is None:
            return super()._print_Mul(expr)
        pairs, rest = split
        parts = [self.factor(f) for f in pairs]
        if rest != 1:
            parts.append(self._print(rest) if rest.is_Mul else self.factor(rest))
        return " ".join(parts)

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


def printer_settings(network) -> dict:
    """The printer settings that give ``network``'s names: its notation and the LaTeX it made."""
    return {"notation": network.notation, "names": network.latex_names}


def latex(obj, network=None, **settings) -> str:
    """LaTeX for any derivchain result or SymPy expression, in its network's notation."""
    network = network if network is not None else getattr(obj, "network", None)
    if network is not None:
        settings = {**printer_settings(network), **settings}
    return DerivPrinter(settings).doprint(obj)


class TextPrinter(StrPrinter):
    """Plain text that parses back: SymPy's str, pending derivatives as dH4/dW1, activation derivatives
    beside their factor (``H5*(1 - H5)*W13``)."""

    def _print_Derivative(self, e):
        inner, (w, _) = e.args[0], e.args[1]
        if inner.is_Symbol:
            return f"d{inner}/d{w}"
        return f"d/d{w}({self._print(inner)})"

    def _print_Mul(self, expr):
        split = activation_first(expr)
        if split is None:
            return super()._print_Mul(expr)
        pairs, rest = split
        parts = [self.factor(f) for f in pairs]
        if rest != 1:
            parts.append(self._print(rest) if rest.is_Mul else self.factor(rest))
        return "*".join(parts)

    def factor(self, expr) -> str:
        """One factor of a product, parenthesised when it is a sum, negative, or a quotient."""
        out = self._print(expr)
        if isinstance(expr, sp.Expr) and (expr.is_Add or expr.could_extract_minus_sign() or "/" in out and not expr.is_Function):
            return f"({out})"
        return out

    def product(self, factors) -> str:
        """Factors joined by `` * `` in the given order (SymPy's Mul would sort them)."""
        return " * ".join(self.factor(f) for f in factors)


_TEXT = TextPrinter()


def text(expr) -> str:
    """Plain text for an expression; it parses back with :func:`derivchain.expressions.parse_expression`."""
    return _TEXT.doprint(expr)
