"""LaTeX snippets for notes (amsmath ``align*``), built from the same checked chains as every format.

:class:`LatexRenderer` has a method for each kind of result returning LaTeX text; the ``*_lines``
functions return the aligned lines that documents and Markdown reuse.
"""

from __future__ import annotations

import re

import sympy as sp
from sympy.printing.latex import LatexPrinter

from .. import memo
from ..record import record
from .base import StringRenderer
from ..verification.chains import Chain
from ..verification.derivation import Table
from ..engines.forms import Ordered, OrderedSum
from .fitting import fits, too_large_note
from ..symbolic.build import mul
from ..model.notation import FLAT
from ..symbolic.rules import latex_call, rule_for
from ..symbolic.walk import contains
from .shown import notes as derivation_notes, preactivation_letter, shown as shown_of, summary_parts
from .text import (DISAGREE, activation_first, arithmetic, batch_words, learning_rate, negative, ordered_terms,
                   remembered, sort_key, verified_chains, with_activation_first)

_TEXT_ESCAPES = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "_": r"\_", "%": r"\%", "&": r"\&", "#": r"\#", "$": r"\$", "^": r"\^{}", "~": r"\~{}",
                 # In text mode with the default font encoding |, < and > print as other glyphs.
                 "|": r"\textbar{}", "<": r"\textless{}", ">": r"\textgreater{}"}
# Line breaks and control characters become spaces (a blank line would end a paragraph, others stop TeX).
_TEXT_ESCAPES.update({chr(c): " " for c in [*range(0x20), *range(0x7f, 0xa0), 0x2028, 0x2029, *range(0x202a, 0x202f),
                                             *range(0x2066, 0x206a)]})
_TEXT_TABLE = str.maketrans(_TEXT_ESCAPES)  # one C pass over the text (a table escapes every row's verdict)
_SUPERSCRIPT = re.compile(r"\\\^\{\}(\d+)")


# Text beyond ASCII, for every engine without a language package (pdflatex's default OT1 fonts have
# none of Greek, Cyrillic or CJK; texlive-lang-greek alone is 94 MB, CJK more): accented Latin letters
# as accent commands, Greek letters as math letters, a few signs by name; anything else as its code
# point, [U+4E2D], so a title or name in any script compiles (and says what it held).
_ACCENTS = {"\u0300": "`", "\u0301": "'", "\u0302": "^", "\u0303": "~", "\u0308": '"', "\u030a": "r", "\u0327": "c",
            "\u030c": "v", "\u0304": "=", "\u0306": "u", "\u0307": ".", "\u030b": "H"}
_LETTERS = {"ß": r"\ss{}", "æ": r"\ae{}", "Æ": r"\AE{}", "ø": r"\o{}", "Ø": r"\O{}", "å": r"\aa{}", "Å": r"\AA{}",
            "œ": r"\oe{}", "Œ": r"\OE{}", "ł": r"\l{}", "Ł": r"\L{}", "ı": r"\i{}", "–": "--", "—": "---", "‘": "`",
            "’": "'", "“": "``", "”": "''", "…": r"\dots{}", "\u00a0": "~", "×": r"\ensuremath{\times}",
            "°": r"\ensuremath{^\circ}", "·": r"\ensuremath{\cdot}", "¡": "!`", "¿": "?`"}
_GREEK = dict(zip("αβγδεζηθικλμνξοπρςστυφχψω", r"\alpha \beta \gamma \delta \epsilon \zeta \eta \theta \iota \kappa "
                  r"\lambda \mu \nu \xi o \pi \rho \varsigma \sigma \tau \upsilon \phi \chi \psi \omega".split()))
_GREEK.update(zip("ΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩ", r"A B \Gamma \Delta E Z H \Theta I K \Lambda M N \Xi O \Pi P \Sigma T "
                  r"Y \Phi X \Psi \Omega".split()))


def typeset_unicode(text: str, beyond_latin: bool = False) -> str:
    """``text`` (already escaped for LaTeX) with each character beyond ASCII written so that every engine
    typesets it: ``é`` as ``\\'{e}``, ``α`` as ``\\ensuremath{\\alpha}``, ``中`` as ``[U+4E2D]``. With
    ``beyond_latin`` (a document compiled with lualatex and its fonts, see renderers/glyphs.py) a letter
    or sign accent commands cannot write is kept as it is when those fonts have it (``α``, ``中``)."""
    import unicodedata

    if beyond_latin:
        from .glyphs import has_glyph

        text = unicodedata.normalize("NFC", text)  # a letter and its combining accent as one character
    out = []
    for c in text:
        if c.isascii():
            out.append(c)
        elif c in _LETTERS:
            out.append(_LETTERS[c])
        else:
            base, *marks = unicodedata.normalize("NFD", c)
            if base.isascii() and base.isalpha() and marks and all(m in _ACCENTS for m in marks):
                letter = r"\i" if base == "i" else r"\j" if base == "j" else base
                for m in reversed(marks):
                    letter = "\\%s{%s}" % (_ACCENTS[m], letter)
                out.append(letter)
            elif beyond_latin and has_glyph(c):
                out.append(c)
            elif base in _GREEK:  # accents (tonos) dropped: math letters take none
                greek = _GREEK[base]
                out.append(r"\ensuremath{%s}" % greek if greek.startswith("\\") else greek)
            else:
                out.append("[U+%04X]" % ord(c))
    return "".join(out)


# Text inside mathematics (DerivPrinter.mtext): the characters text mode needs a command for, as mathematics.
_MATH_TEXT = {"\\": r"\backslash ", "{": r"\{", "}": r"\}", "_": r"\_", "%": r"\%", "&": r"\&", "#": r"\#",
              "$": r"\$", "~": r"\sim ", "^": r"\hat{}", "|": "|", "<": "<", ">": ">"}
_MATH_TEXT_SPLIT = re.compile(r"(\^\d+|[\\{}_%&#$~^|<>])")


def _text_items(s: str) -> list[tuple[bool, str]]:
    """Plain text as (is text, LaTeX) items: runs of text, and the characters text mode needs a command
    for as mathematics (``t^2``: a superscript)."""
    items = []
    for piece in _MATH_TEXT_SPLIT.split(s):
        if piece in _MATH_TEXT:
            items.append((False, _MATH_TEXT[piece]))
        elif piece.startswith("^"):
            items.append((False, "^{%s}" % piece[1:]))
        elif piece:
            items.append((True, piece))
    return items


def _joined_text(items: list[tuple[bool, str]]) -> str:
    """The items as mathematics, each run of text one ``\text{...}``."""
    out, run = [], []
    for is_text, tex in items + [(False, "")]:
        if is_text:
            run.append(tex)
            continue
        if run:
            out.append(r"\text{%s}" % "".join(run))
            run = []
        out.append(tex)
    return "".join(out)


#: Visible characters of math that fit on a line of the exported documents (A4, 2 cm margins).
LINE_WIDTH = 62
#: Visible characters of a display line in the notes' own size (10 pt on A4 with 2 cm margins):
#: document.DOCUMENT_WIDTH, defined here so this module's line breaking can read it.
PAGE_WIDTH = 78
_INVISIBLE = re.compile(r"\\(left|right|operatorname|mathrm|text|quad|qquad)\b|[{}]")
_COMMAND = re.compile(r"\\[a-zA-Z]+")


def packed(pieces: list[str], width: int, gap: int) -> list[list[str]]:
    """``pieces`` in lines, in order: a new line before a piece that would run past ``width`` (visible characters,
    ``gap`` more for each piece's operator and spaces)."""
    lines, current, used = [], [], 0
    for piece in pieces:
        w = visible_width(piece) + gap
        if current and used + w > width:
            lines.append(current)
            current, used = [], 0
        current.append(piece)
        used += w
    if current:
        lines.append(current)
    return lines


def visible_width(tex: str) -> int:
    """A rough count of the characters a LaTeX math string shows (commands count as one, a fraction
    as its wider part)."""
    # Asked again of the same strings (a row's direct result is measured twice; the printer's memo
    # hands back the same string): kept by the current owner.
    widths = memo.current(memo.LATEX_WIDTHS)
    hit = widths.get(tex)
    if hit is None:
        hit = widths.room()[tex] = len(_COMMAND.sub("x", _INVISIBLE.sub("", _fractions(tex))).replace("_", "").replace("^", ""))
    return hit


_BRACE = re.compile(r"[{}]")


def wider_than(printer, e, limit: int) -> bool:
    """``visible_width(printer._print(e)) > limit``, without measuring the whole LaTeX of a product when
    one of its sums (printed and measured once, shared by many rows) is wider than ``limit`` already.

    A product's LaTeX holds each factor's LaTeX whole: when the sum's LaTeX occurs in it with balanced
    braces, and no letter, backslash or brace beside it (so no command runs into it or out of it, and no
    group ends inside it), every visible character of it is visible in the product too (a fraction shows
    the wider of its parts), so the product is at least as wide. Otherwise it is measured.
    """
    tex = printer._print(e)
    known = memo.current(memo.LATEX_WIDTHS).get(tex)
    if known is not None:
        return known > limit
    if e.is_Mul and len(tex) > 4 * limit:
        for f in e.args:
            if not f.is_Add:
                continue
            part = printer._print(f)
            # visible_width(part) <= len(part): the short ones cannot tell.
            if len(part) > limit and visible_width(part) > limit and _balanced(part) and _stands_alone(tex, part):
                return True
    return visible_width(tex) > limit


def _stands_alone(tex: str, part: str) -> bool:
    """True when ``part`` occurs in ``tex`` with neither a letter, a backslash nor a brace just before
    it, and neither a letter nor a brace just after it."""
    i = tex.find(part)
    if i < 0:
        return False
    end = i + len(part)
    before = tex[i - 1] if i else " "
    after = tex[end] if end < len(tex) else " "
    return not (before.isalpha() or before in "\\{}" or after.isalpha() or after in "{}")


def _balanced(tex: str) -> bool:
    """True when the braces of ``tex`` nest (never more closed than opened, all closed at the end)."""
    return memo.current(memo.LATEX_BALANCED).lookup(tex, lambda: _nests(tex))


def _nests(tex: str) -> bool:
    depth = 0
    for m in _BRACE.finditer(tex):
        depth += 1 if m.group() == "{" else -1
        if depth < 0:
            break
    return depth == 0


def _group(tex: str, start: int) -> int:
    """The index just past the brace group that opens at ``tex[start]``."""
    if start >= len(tex):
        return len(tex)
    if tex[start] not in "{}":
        return start + 1
    # From brace to brace, not character by character: a direct result's LaTeX runs to kilobytes of
    # nested fractions, each measured on every row of a table.
    depth = 0
    for m in _BRACE.finditer(tex, start):
        depth += 1 if m.group() == "{" else -1
        if depth == 0:
            return m.end()
    return len(tex)


def _fractions(tex: str) -> str:
    # \frac{a}{b} -> the wider of a and b (each written once, stacked). Left to right without
    # slicing off the rest at each fraction (quadratic in a long sum of fractions).
    out, pos = [], 0
    while True:
        start = tex.find("\\frac{", pos)
        if start < 0:
            out.append(tex[pos:])
            return "".join(out)
        a_end = _group(tex, start + 5)
        if a_end >= len(tex) or tex[a_end] != "{":
            out.append(tex[pos:a_end])
            pos = a_end
            continue
        b_end = _group(tex, a_end)
        a, b = _fractions(tex[start + 6:a_end - 1]), _fractions(tex[a_end + 1:b_end - 1])
        wider = a if visible_width(a) >= visible_width(b) else b
        out.append(tex[pos:start] + "{" + wider + "}")
        pos = b_end


def _join_terms(terms: list[str]) -> str:
    out = terms[0]
    for t in terms[1:]:
        out += (" - " + t[1:].lstrip()) if t.startswith("-") else " + " + t
    return out


#: SymPy's test for two numbers side by side in a product (sympy.printing.latex): a number's end, a number's start.
_NUMBER_END, _NUMBER_START = re.compile(r"[0-9][} ]*$"), re.compile(r"(\d|\\frac{\d+}{\d+})")


class DerivPrinter(LatexPrinter):
    """SymPy's LaTeX printer with a network's names (W_{13}, \\mathrm{Out}, \\delta_{H_{4}}).

    Settings: ``notation`` (a :class:`~derivchain.model.notation.Notation`) and ``names`` (name -> LaTeX,
    as the notation made them for one network); other names get the notation's own rule.
    """

    printmethod = "_latex"
    # intertext: reasons between aligned lines as \intertext (align* in documents); off inside an
    # aligned block (Markdown, notebooks, KaTeX), where a reason is a line of its own.
    # width: visible characters of a display line (None: LINE_WIDTH), for documents of another size.
    _default_settings = {**LatexPrinter._default_settings, "notation": None, "names": None, "intertext": True, "width": None,
                         # Text beyond Latin kept as characters (a document that says it needs lualatex).
                         "beyond_latin": False}

    def __init__(self, settings=None):
        super().__init__(settings)
        self._memo = memo.Memo(memo.PRINTED)
        self._factors = memo.Memo(memo.PRINTED_FACTORS)  # (factor, first, last) -> its part of a product
        self._mods = memo.Memo(memo.HOLDS_MOD)  # id -> (node, whether it holds a Mod): see _print_Add
        self._lines = memo.Memo(memo.PRINTED_LINES)  # a network's delta chains as aligned lines (see delta_lines)
        self._names = self._settings["names"] or {}
        self._notation = self._settings["notation"] or FLAT

    def _print(self, expr, **kwargs):
        # A subexpression prints the same wherever it appears (the parent adds any parentheses),
        # and derivations repeat many (sign(Out - Y), each neuron's factor): print each once.
        rule = rule_for(expr) if isinstance(expr, sp.Basic) and expr.args else None
        if rule is not None:  # every function's LaTeX comes from the rules table
            return latex_call(rule, [self._print(a) for a in expr.args], kwargs.get("exp"))
        if kwargs or not isinstance(expr, sp.Basic):
            return super()._print(expr, **kwargs)
        return remembered(self._memo, expr, lambda: super(DerivPrinter, self)._print(expr))

    def name(self, name: str) -> str:
        """LaTeX for one symbol name, as the notation makes it: ``W13`` -> ``W_{13}``, ``w2_1_12`` -> ``w^{2}_{1,12}``."""
        tex = self._names.get(name)
        return tex if tex is not None else self._notation.latex(name)

    def _as_ordered_terms(self, expr, order=None):
        return ordered_terms(self, expr, order)

    def _print_Mul(self, expr):
        return with_activation_first(self, expr, " ") or self._plain_product(expr) or super()._print_Mul(expr)

    def _print_Add(self, expr, order=None):
        # SymPy's, with a product's minus sign read off its number (not by building its negation to
        # compare) and whether a term holds a Mod found once per shared subtree (SymPy walks it
        # written out, for every sum it appears in).
        self._mods.room()
        tex = ""
        for i, term in enumerate(self._as_ordered_terms(expr, order=order)):
            if i and negative(term):
                tex += " - "
                term = -term
            elif i:
                tex += " + "
            term_tex = self._print(term)
            if term.is_Relational or term.is_Add or contains(term, sp.Mod, self._mods):
                term_tex = r"\left(%s\right)" % term_tex
            tex += term_tex
        return tex

    def _plain_product(self, expr) -> str | None:
        r"""What SymPy prints for a product of commutative factors none of which is a number, a power or
        an exponential (so no fraction: ``H_{12} W_{515} \left(\mathrm{Out} - Y\right)``), each factor's
        part kept across products (a table prints the same factors in every row); None for any other
        product (SymPy's general way then). The same steps as SymPy's: factors in its order, each
        bracketed where a product needs it, joined by the multiplication symbol."""
        args = expr.args
        if any(a.is_Number or a.is_Pow or isinstance(a, sp.exp) or not a.is_commutative
               or hasattr(a, "_scale_factor") or hasattr(a, "is_physical_constant") for a in args):
            return None
        ordered = sorted(args, key=sort_key)
        out = last = ""
        for i, a in enumerate(ordered):
            tex = self._factor_tex(a, i == 0, i == len(ordered) - 1)
            if _NUMBER_END.search(last) and _NUMBER_START.match(tex):
                out += self._settings["mul_symbol_latex_numbers"]
            elif out:
                out += self._settings["mul_symbol_latex"]
            out += tex
            last = tex
        return out

    def _factor_tex(self, a, first: bool, last: bool) -> str:
        key = (a, first, last)
        hit = self._factors.get(key)
        if hit is None:
            tex = self._print(a)
            hit = self._factors.room()[key] = r"\left(%s\right)" % tex if self._needs_mul_brackets(a, first=first, last=last) else tex
        return hit

    def _print_Symbol(self, expr, style="plain"):
        return self.name(expr.name)

    def _print_Derivative(self, expr):
        # Always partial (SymPy writes d for one variable): dLoss/dW1 is a partial derivative here.
        inner, (w, _) = expr.args[0], expr.args[1]
        if inner.is_Symbol:
            return self.partial(inner, w)
        return r"\frac{\partial}{\partial %s} \left(%s\right)" % (self._print(w), self._print(inner))

    def partial(self, numerator: sp.Symbol, denominator: sp.Symbol) -> str:
        """The fraction d numerator / d denominator with partial signs."""
        return r"\frac{\partial %s}{\partial %s}" % (self._print(numerator), self._print(denominator))

    def product(self, factors) -> str:
        """Factors joined by \\cdot in the given order (SymPy's Mul would sort them)."""
        return r" \cdot ".join(self.factor(f) for f in factors)

    def factor(self, expr) -> str:
        """One factor, parenthesised when it is a sum or a negative product."""
        tex = self._print(expr)
        if isinstance(expr, sp.Expr) and (expr.is_Add or (expr.is_Mul and negative(expr))):
            return r"\left(%s\right)" % tex
        return tex

    def chain(self, factors) -> str:
        """The chain of partial-derivative fractions, in path order."""
        return r" \cdot ".join(self._print(f) for f in factors)

    def broken_sum(self, lhs: str, terms: list[str], width: int = LINE_WIDTH) -> list[str]:
        r"""``lhs &= t1 + t2 ...`` as aligned lines, starting a new line before a term that would
        run past ``width`` (estimated visible characters), continuing with ``&\quad + ...``."""
        lines = packed(terms, width, 3)
        out = []
        for i, chunk in enumerate(lines):
            body = _join_terms(chunk)
            if i == 0:
                out.append(r"%s &= %s" % (lhs, body))
            else:
                # {} makes the sign binary wherever the line starts (after \left. too): {}+ H_{6} W_{17}.
                out.append(r"&\quad {}%s" % ("- " + body[1:].lstrip() if body.startswith("-") else "+ " + body))
        return out

    def text(self, s: str) -> str:
        """Escape plain text for use inside \\text{...} (a power such as t^2 becomes a superscript); a
        character beyond ASCII as any LaTeX engine typesets it, or with the ``beyond_latin`` setting as
        lualatex with the fonts of renderers/glyphs.py does (see :func:`typeset_unicode`)."""
        escaped = s.translate(_TEXT_TABLE)
        if not escaped.isascii():
            escaped = typeset_unicode(escaped, self._settings["beyond_latin"])
        return _SUPERSCRIPT.sub(r"\\textsuperscript{\1}", escaped) if "^" in s else escaped

    # derivchain's result objects, printed by class name (they know nothing of printing).
    def aligned(self, lines_of, result) -> str:
        """``lines_of(result, self)`` as one aligned block (no \\intertext: it is not allowed there)."""
        outer = self._settings["intertext"]
        self._settings["intertext"] = False
        try:
            return r"\begin{aligned}%s\end{aligned}" % r" \\ ".join(lines_of(result, self))
        finally:
            self._settings["intertext"] = outer

    def reason(self, text: str, first_line: str, parts=()) -> list[str]:
        """A reason before ``first_line``: an \\intertext (its mathematics typeset as such when its
        ``parts`` are given, see :meth:`prose`), or a line of its own inside an aligned block."""
        command = self._settings["intertext"]
        parts = parts or getattr(text, "parts", ())  # words holding mathematics (a loss's rewrite), typeset
        if command:
            words = self.prose(parts) if parts else self.text(text[0].upper() + text[1:])
            return [r"\%s{\small %s:} %s" % ("intertext" if command is True else command, words, first_line)]
        words = self.prose(tuple(parts) + (":",), math=True) if parts else self.mtext(text[0].upper() + text[1:] + ":")
        return [r"&%s" % words, first_line]

    def mtext(self, s: str) -> str:
        r"""Plain text inside mathematics in the subset MathJax and KaTeX read: ``\text{...}`` holding no
        command (MathJax prints ``\text{\small a}`` and ``\text{a\_b}`` as written), each character that
        text mode would need a command for set as mathematics between the runs, ``t^2`` as a superscript;
        a character beyond ASCII as :meth:`text` writes it."""
        return _joined_text(self._beyond_ascii(_text_items(s)))

    def _beyond_ascii(self, items: list[tuple[bool, str]]) -> list[tuple[bool, str]]:
        # A run of text beyond ASCII as text() writes it (see typeset_unicode): raw, a Greek or CJK letter
        # stops pdflatex, and a document beyond Latin keeps what its fonts have.
        return [(t, typeset_unicode(x, self._settings["beyond_latin"]) if t and not x.isascii() else x) for t, x in items]

    def prose(self, parts, capital: bool = True, math: bool = False) -> str:
        """A reason's parts (see :class:`derivchain.engines.steps.Step`) as LaTeX prose: words as text, names
        and equations as mathematics, an activation as its derivative rule; ``math``: the same inside
        mathematics (words as :meth:`mtext`, MathJax's subset)."""
        if math:  # (is text, LaTeX) items, runs of text joined into one \text{...}
            items: list[tuple[bool, str]] = []
            for part in parts:
                if isinstance(part, str):
                    items += _text_items(part)
                elif isinstance(part, tuple):
                    for i, p in enumerate(part):
                        items += ([(True, ", ")] if i else []) + [(False, self._print(p))]
                elif isinstance(getattr(part, "rule", None), str):  # an activation: its rule's prose
                    pieces = re.split(r"\$([^$]*)\$", part.rule_tex) if part.rule_tex else [part.rule]
                    for i, p in enumerate(pieces):
                        items += _text_items(p) if i % 2 == 0 else [(False, p)]
                elif hasattr(part, "lhs") and hasattr(part, "rhs"):  # an Equation
                    items.append((False, "%s = %s" % (self._print(part.lhs), self._print(part.rhs))))
                else:
                    items.append((False, self._print(part)))
            if capital and items and items[0][0]:
                items[0] = (True, items[0][1][:1].upper() + items[0][1][1:])
            return _joined_text(self._beyond_ascii(items))
        out = []
        for part in parts:
            if isinstance(part, str):
                out.append(self.text(part))
            elif isinstance(part, tuple):
                out.append(", ".join("$%s$" % self._print(p) for p in part))
            elif isinstance(getattr(part, "rule", None), str):  # an activation
                out.append(part.rule_tex or self.text(part.rule))
            elif hasattr(part, "lhs") and hasattr(part, "rhs"):  # an Equation
                out.append("$%s = %s$" % (self._print(part.lhs), self._print(part.rhs)))
            else:
                out.append("$%s$" % self._print(part))
        text = "".join(out)
        return text[:1].upper() + text[1:] if capital and text[:1].isalpha() else text

    def _print_Ordered(self, f) -> str:
        return form(self, f)

    _print_OrderedSum = _print_Ordered

    def _print_Derivation(self, d) -> str:
        return self.aligned(derivation_lines, d)

    def _print_DerivationAtValues(self, at) -> str:
        return self.aligned(lambda a, p: derivation_lines(a.derivation, p) + values_lines(a, p), at)

    def _print_BatchAtValues(self, b) -> str:
        return self.aligned(lambda a, p: derivation_lines(a.derivation, p) + batch_lines(a, p), b)

    def _print_StepByStep(self, s) -> str:
        return self.aligned(steps_lines, s)

    def _print_GeneralFormula(self, f) -> str:
        return self.aligned(formula_lines, f)

    def _print_PathListing(self, listing) -> str:
        return self.aligned(paths_lines, listing)

    def _print_Network(self, net) -> str:
        return self.aligned(network_lines, net)

    def _print_Chain(self, c) -> str:
        return self.aligned(lambda chain, printer: chain_lines(printer, chain), c)

    def _print_Table(self, table) -> str:
        return self.aligned(table_lines, table)

    def _print_MatrixForm(self, m) -> str:
        return self.aligned(matrix_lines, m)

    def _print_BatchMatrixForm(self, b) -> str:
        return self.aligned(batch_matrix_lines, b)

    def _print_Descent(self, r) -> str:
        return self.aligned(descent_lines, r)

    def _print_Factor(self, f) -> str:
        return self.partial(f.numerator, f.denominator)

    def _print_Path(self, p) -> str:
        return self.chain(p.factors)

    def _print_Verdict(self, v) -> str:
        word = r"\text{%s}" % v.word if v.decided else r"\textbf{undecided}"
        return r"%s\ %s" % (word, self.mtext(f"({v.method})"))

    def _print_Check(self, c) -> str:
        return self.aligned(check_lines, c)

    def _print_Exercise(self, ex) -> str:
        return self.aligned(exercise_lines, ex)


def printer_settings(network) -> dict:
    """The printer settings that give ``network``'s names: its notation and the LaTeX it made."""
    return {"notation": network.notation, "names": network.latex_names}


def printer_for(network, **settings) -> DerivPrinter:
    """A LaTeX printer in ``network``'s notation (with any other settings), one per network and
    settings: its memo of printed subexpressions serves every row of a table."""
    key = ("latex", tuple(sorted(settings.items())))
    return memo.of(network)[memo.PRINTERS].lookup(key, lambda: DerivPrinter({**printer_settings(network), **settings}))


def latex(obj, network=None, **settings) -> str:
    """LaTeX for any derivchain result or SymPy expression, in its network's notation."""
    if network is None:
        network = getattr(obj, "network", None) or getattr(getattr(obj, "derivation", None), "network", None)
    if network is not None:
        with memo.working_for(network):  # what the printer's helpers remember is the network's
            return printer_for(network, **settings).doprint(obj)  # one printer (and memo) per network
    return DerivPrinter(settings).doprint(obj)




def align(lines: list[str], breakable: bool = True) -> str:
    """Lines in an ``align*`` environment; ``breakable``: in a group that lets it break across pages
    (a snippet pasted into any document; amsmath would otherwise keep it whole, off the page)."""
    block = "\\begin{align*}\n" + " \\\\\n".join(lines) + "\n\\end{align*}"
    return "{\\allowdisplaybreaks\n" + block + "\n}" if breakable else block


def form(printer, f) -> str:
    """One form: an expression, or an ordered product or sum in its own order (past the printing
    limit, a note saying so)."""
    if not fits(f):
        return printer.mtext(f"[{too_large_note()}]")
    if isinstance(f, Ordered):
        return (" " if f.compact else r" \cdot ").join(_factor(printer, x) for x in f.factors)
    if isinstance(f, OrderedSum):
        out = form(printer, f.terms[0])
        for t in f.terms[1:]:
            piece = form(printer, t)
            out += f" - {piece[1:].lstrip()}" if piece.startswith("-") else f" + {piece}"
        return out
    return printer._print(f)


def _factor(printer, f) -> str:
    if isinstance(f, OrderedSum):
        return r"\left(%s\right)" % form(printer, f) if len(f.terms) > 1 else form(printer, f)
    if isinstance(f, Ordered):
        return form(printer, f)
    return printer.factor(f)


def expression_lines(printer, prefix: str, e, width: int | None = None) -> list[str]:
    """``prefix &= e`` as aligned lines of about ``width`` characters (the printer's width setting, or
    :data:`LINE_WIDTH`): long sums broken, and long products inside their sum."""
    p = printer._print
    width = width or printer._settings.get("width") or LINE_WIDTH
    if not fits(e):
        return [r"%s &= %s" % (prefix, form(printer, e))]
    if isinstance(e, OrderedSum):
        return printer.broken_sum(prefix, [form(printer, t) for t in e.terms], width)
    if isinstance(e, Ordered):
        shown = form(printer, e)
        if visible_width(shown) <= width or not isinstance(e.factors[-1], OrderedSum) or len(e.factors[-1].terms) < 2:
            return [r"%s &= %s" % (prefix, shown)]
        return _laid_out(prefix, _ordered_tokens(printer, e), width)
    if not wider_than(printer, e, width):
        return [r"%s &= %s" % (prefix, p(e))]
    # Too long for one line: a sum broken between its terms, a product around its widest sum, as
    # deep as it takes (an unrolled tanh network nests sums four levels down).
    return _laid_out(prefix, _tokens(printer, e, width), width)


def _tokens(printer, e, width: int, sign: str = "", split: bool = False) -> list[tuple[str, bool]]:
    r"""``e`` as (LaTeX, a line may start here) pieces, ``sign`` before the first: the terms of a sum too
    long for a line, each broken the same way; a product with such a sum as its other factors, then
    ``\left(``, the sum's pieces, ``\right)``. A piece that fits on a line is kept whole, except a sum
    whose product does not fit (``split``): its terms are where that product's line can break."""
    # Remembered with the printer's printed pieces: a table's rows break the same deltas again and again.
    return remembered(printer._memo, ("tokens", e, width, sign, split), lambda: _make_tokens(printer, e, width, sign, split))


def _make_tokens(printer, e, width: int, sign: str, split: bool) -> list[tuple[str, bool]]:
    p = printer._print
    if split or wider_than(printer, e, width - 4):
        if e.is_Add:
            out = []
            for i, t in enumerate(printer._as_ordered_terms(e)):
                minus = negative(t)
                lead = ("- " if minus else "+ ") if i else sign + ("-" if minus else "")
                out += _tokens(printer, -t if minus else t, width, lead)
            return out
        sums = [f for f in e.args if f.is_Add] if e.is_Mul else []
        # Only a sum too long for a line is opened: a bracket that fits is kept whole, or a line broken
        # inside (1 - tanh^2(c)) starts with "- tanh^2(c))", which reads as a minus of the whole line.
        wide = [f for f in sums if wider_than(printer, f, width // 2)]
        if wide:
            inner = max(wide, key=lambda f: visible_width(p(f)))
            others = mul(*[f for f in e.args if f is not inner])
            body = _tokens(printer, inner, width, split=True)
            if len(body) > 1:
                # The other factors first, a line may start between them when they are long too.
                head = [] if others == 1 else _factor_pieces(printer, others, width) if wider_than(printer, others, width // 2) \
                    else [printer.factor(others)]
                (first, _), (last, last_starts) = body[0], body[-1]
                pieces = [*head, r"\left(" + first]
                return [(sign + pieces[0], True), *((_TIMES + x, True) for x in pieces[1:]), *body[1:-1],
                        (last + r"\right)", last_starts)]
        elif _opened_call(printer, e, width) is not None:
            # A function of a sum too long for a line (sign(Out - Y) with Out written out): broken inside its
            # brackets, as a long sum in a product is.
            inner, opening, closing = _opened_call(printer, e, width)
            others = mul(*[f for f in e.args if f is not inner]) if e.is_Mul else sp.Integer(1)
            body = _tokens(printer, inner.args[0], width, split=True)
            if len(body) > 1:
                head = [] if others == 1 else _factor_pieces(printer, others, width) if wider_than(printer, others, width // 2) \
                    else [printer.factor(others)]
                (first, _), (last, last_starts) = body[0], body[-1]
                pieces = [*head, opening + first]
                return [(sign + pieces[0], True), *((_TIMES + x, True) for x in pieces[1:]), *body[1:-1],
                        (last + closing, last_starts)]
        if sums and not wide and not split:
            # Its short brackets would be split: the product breaks between its factors instead, each
            # bracket whole (a product with no bracket stays whole, as before).
            pieces = _factor_pieces(printer, e, width)
            return [(sign + pieces[0], True), *((_TIMES + x, True) for x in pieces[1:])]
    return [(sign + p(e), True)]


def _opened_call(printer, e, width: int):
    r"""(the call, its LaTeX up to and after its argument) for the widest factor of ``e`` (or ``e`` itself) that is a
    function (or d/dw) whose first argument is a sum wider than half a line, printed ``\name\left(x\right)`` or
    ``\name{\left(x \right)}`` (the brace dropped, so a line may end inside the brackets); else None."""
    calls = []
    for f in (e.args if e.is_Mul else (e,)):
        if isinstance(f, sp.Derivative) and f.args[0].is_Add and wider_than(printer, f, max(width, PAGE_WIDTH)):
            # d/dw of a sum wider than a whole page line (a step's "substitute the equations of ..." on a traced
            # model), printed as _print_Derivative prints it; a narrower one stays whole, as its layout had it
            calls.append((f, r"\frac{\partial}{\partial %s} \left(" % printer._print(f.args[1][0]), r"\right)"))
        elif isinstance(f, sp.Function) and f.args and f.args[0].is_Add and wider_than(printer, f.args[0], width // 2):
            x = sp.Dummy("x")
            tex = printer._print(f.func(x, *f.args[1:]))
            mark = printer._print(x)
            if tex.count(mark) != 1:
                continue
            before, after = tex.split(mark)
            if before.endswith(r"{\left(") and after == r" \right)}":
                calls.append((f, before[:-7] + r"\left(", r"\right)"))
            elif before.endswith(r"\left(") and after.strip() == r"\right)" and "{" not in before.replace(r"\left(", ""):
                calls.append((f, before, r"\right)"))
    return max(calls, key=lambda c: visible_width(printer._print(c[0].args[0])), default=None)


#: Marks a factor that may start a line: there it is led by its operator, ``\cdot``, as a sum's term by its
#: sign (``W_{30}`` alone at a line's start would read as a new term); inside a line, nothing.
_TIMES = "\x01"


def _joined(pieces: list[str]) -> str:
    r"""A line's pieces: a factor's mark is ``\cdot`` when the factor starts the line, else nothing."""
    return " ".join(p.replace(_TIMES, r"\cdot " if i == 0 else "", 1) for i, p in enumerate(pieces))


def _factor_pieces(printer, e, width: int) -> list[str]:
    """A product as the pieces a line may break between: an activation's derivative beside its output
    (``H_5 (1 - H_5)``), the factors that are not sums (together while they fit half a line, else each
    on its own), then each sum whole in its brackets."""
    pairs, rest = activation_first(e) or ([], e)
    rest = sp.Mul.make_args(rest)
    others = mul(*[f for f in rest if not f.is_Add])
    pieces = [printer.factor(pairs[i]) + " " + printer.factor(pairs[i + 1]) for i in range(0, len(pairs), 2)]
    if others != 1 and others.is_Mul and wider_than(printer, others, width // 2):
        coefficient, others = others.as_coeff_Mul()
        lead = "" if coefficient == 1 else "-" if coefficient == -1 else printer._print(coefficient) + " "
        single = [printer.factor(f) for f in sorted(sp.Mul.make_args(others), key=sort_key)]
        pieces += [lead + single[0], *single[1:]]
    elif others != 1:
        pieces.append(printer.factor(others))
    pieces += [printer.factor(f) for f in sorted((f for f in rest if f.is_Add), key=sort_key)]
    return pieces or [printer.factor(e)]


def _ordered_tokens(printer, e: Ordered) -> list[tuple[str, bool]]:
    r"""A product ending in a long sum, in its own order (``f'(z) \left(W_{9} \delta_{H_{9}} + ...\right)``), as
    :func:`_tokens` pieces: a line may start before each of the sum's terms."""
    head = " ".join(_factor(printer, x) for x in e.factors[:-1])
    terms = [form(printer, t) for t in e.factors[-1].terms]
    pieces = [terms[0]] + [("- " + t[1:].lstrip()) if t.startswith("-") else "+ " + t for t in terms[1:]]
    return [(head + r" \left(" + pieces[0], True), *((x, True) for x in pieces[1:-1]), (pieces[-1] + r"\right)", True)]


def _piece(text: str) -> tuple[int, int]:
    r"""A line piece's width with its space, and the brackets it leaves open (``\left(`` less ``\right)``),
    kept per piece: a table lays out the same deltas' pieces on every row."""
    pieces = memo.current(memo.LATEX_PIECES)
    hit = pieces.get(text)
    if hit is None:
        hit = pieces.room()[text] = (visible_width(text) + 1, text.count(r"\left(") - text.count(r"\right)"))
    return hit


def _laid_out(prefix: str, tokens: list[tuple[str, bool]], width: int) -> list[str]:
    r"""The pieces filled into lines of about ``width``: a new line where one may start and the piece would
    run past; each line closes the brackets still open with ``\right.`` and the next reopens them."""
    current, used, depth = [], 0, 0
    for i, (text, may_start) in enumerate(tokens):
        w, opened = _piece(text)
        if current and may_start and used + w > width:
            return [r"%s &= %s%s" % (prefix, _joined(current), r" \right." * depth), *_later_lines(tuple(tokens[i:]), depth, width)]
        current.append(text)
        used += w
        depth += opened
    return [r"%s &= %s%s" % (prefix, _joined(current), r" \right." * depth)]


def _later_lines(tokens: tuple, open_before: int, width: int) -> list[str]:
    """The lines of :func:`_laid_out` from a line start on, ``open_before`` brackets open there."""
    # They depend only on the pieces left and the brackets open: the rows of a table into one neuron end
    # in the same long sum, laid out once (the last few kept: rows come neuron by neuron).
    later = memo.current(memo.LATEX_LATER)
    key = (tokens, open_before, width)
    hit = later.get(key)
    if hit is not None:
        return hit
    lines, current, used, depth = [], [], 0, open_before
    for text, may_start in tokens:
        w, opened = _piece(text)
        if current and may_start and used + w > width:
            lines.append((_joined(current), depth))
            current, used = [], 0
        current.append(text)
        used += w
        depth += opened
    lines.append((_joined(current), depth))
    out = []
    for body, open_after in lines:
        # {} makes a leading sign binary wherever the line starts (after \left. too): {}+ H_{6} W_{17};
        # a line inside brackets is set in a little further for each, so the nesting shows.
        out.append(r"&\quad " + r"\qquad " * open_before + r"\left. " * open_before + "{}" + body + r" \right." * open_after)
        open_before = open_after
    later.room()[key] = out
    return out


def chain_lines(printer, c: Chain, lhs: str | None = None) -> list[str]:
    """A checked chain as aligned lines: ``lhs &= f1`` then ``&= f2`` (a named rewrite as an \\intertext)."""
    lhs = lhs if lhs is not None else printer._print(c.lhs)
    lines: list[str] = []
    for i, f in enumerate(c.forms):
        relation = "=" if i == 0 or c.links[i - 1].equal else r"\overset{?}{=}"
        body = expression_lines(printer, lhs if i == 0 else "", f)
        if relation != "=":
            body[0] = body[0].replace("&=", "&" + relation, 1)
        if i and c.reasons[i]:
            body[:1] = printer.reason(c.reasons[i], body[0])
        lines += body
    return lines


def steps_lines(s, printer) -> list[str]:
    """The step-by-step derivation as align* lines; each reason is an \\intertext (it wraps) placed
    between the two lines it connects. The first reason (the loss's formula) is the first line's."""
    steps = s.steps
    lhs = printer._print(steps[0].expr)
    lines = expression_lines(printer, lhs, steps[1].expr)
    for k, st in enumerate(steps[2:], start=2):
        body = expression_lines(printer, "", st.expr)
        if not s.links[k - 1].equal:
            body[0] = body[0].replace("&=", r"&\overset{?}{=}", 1)
        body[:1] = printer.reason(st.reason, body[0], st.parts)
        lines += body
    return lines


def path_lines(printer, p, c: Chain, number: int) -> list[str]:
    """``path 1: W1 -> H1 -> ...`` and its chain of partials = factors in path order = term."""
    nodes = r" \to ".join(printer._print(s) for s in p.nodes)
    lines = [r"&\text{path %d: } %s" % (number, nodes)]
    partials = printer.chain(p.factors)
    product = form(printer, c.forms[0])
    if visible_width(partials) + visible_width(product) > LINE_WIDTH:
        lines.append(r"&\quad %s" % partials)
        lines.append(r"&\qquad = %s" % product)
    else:
        lines.append(r"&\quad %s = %s" % (partials, product))
    return lines


def derivation_lines(d, printer) -> list[str]:
    """The derivation as aligned LaTeX lines: paths, sum, backprop, cases, direct, verdict."""
    p = printer._print
    lhs = p(d.lhs)
    lines = []
    for i, (path, c) in enumerate(zip(d.paths, d.path_chains), start=1):
        lines += path_lines(printer, path, c, i)
    if not d.path_sum.listed_all:
        lines.append(r"&\dots\ \text{%d more paths}" % (d.path_count - len(d.paths)))
    if not d.path_sum.enumerated:
        lines.append(r"&%s" % printer.mtext(f"the sum over all {d.path_count} paths, accumulated by suffix" + ":"))
    lines += chain_lines(printer, d.sum_chain, lhs)
    lines.append(r"&\text{backprop:}")
    lines += chain_lines(printer, d.entry_chain, lhs)
    lines += delta_lines(printer, d.delta_chains, d.conditional)
    for case in d.cases():
        cond = r"%s %s 0" % (p(case.argument), ">" if case.sign > 0 else "<")
        lines.append(r"&\text{for } %s:" % cond)
        lines += expression_lines(printer, lhs, case.value)
    shown = shown_of(d).direct_shown
    if shown is not None and visible_width(p(shown)) > 2 * LINE_WIDTH:
        shown = shown_of(d).direct_compact
        label = r"\text{direct (neurons as symbols):}"
    else:
        label = r"\text{direct:}"
    lines.append(r"&%s" % label)
    if shown is not None and visible_width(p(shown)) <= 6 * LINE_WIDTH:
        lines += expression_lines(printer, lhs, shown)
    else:
        lines.append(r"&\quad \text{not printed (too large; compared in full by the verdict)}")
    lines.append(r"&\text{verdict: } %s" % p(d.verdict))
    return lines


def delta_lines(printer, chains, conditional) -> list[str]:
    """Each delta's chain (delta = its recursion = its value), with its textbook form under a condition
    on the targets where the loss has one (``conditional(delta)``: that form, or None)."""
    p = printer._print

    def one(c) -> list[str]:
        lines = chain_lines(printer, c)
        cond = conditional(c.lhs)
        if cond is not None:
            lines.append(r"&\text{where } %s = %s %s" % (p(cond.equation[0]), p(cond.equation[1]), printer.mtext(f" ({cond.condition}):")))
            lines += expression_lines(printer, p(c.lhs), cond.value)
        return lines

    # A network's delta chains are its own (cached there) and every derivation through a neuron prints
    # its delta again: each chain's lines are made once per printer and setting (inside an aligned
    # block or not), the chain kept beside them so its id stays its own.
    intertext = printer._settings["intertext"]
    out = []
    for c in chains:
        out += remembered(printer._lines, (id(c), intertext), lambda c=c: (c, one(c)))[1]
    return out


def _comment(text: str) -> str:
    # A LaTeX comment ends at the line's end: keep free text on one line.
    return "% " + " ".join(text.split())


def notes(d, printer) -> str:
    """The verdict in full and the notes, as paragraphs after a derivation."""
    paragraphs = [r"\noindent Verdict: \emph{%s} (%s): %s.\par" % (printer.text(d.verdict.word), printer.text(d.verdict.method),
                                                                 printer.text(d.verdict.detail))]
    paragraphs += [r"\noindent\emph{Note.} %s\par" % printer.text(note) for note in derivation_notes(d)]
    return "\n".join(paragraphs)


def values_lines(at, printer) -> list[str]:
    """The numbers of a derivation as aligned lines."""
    d = at.derivation
    how = arithmetic(at.exact, "exact", at.digits)
    lines = [r"&%s" % printer.mtext(f"At the given values ({how}):")]
    letter = preactivation_letter(d.network)
    letter = letter if len(letter) == 1 else r"\mathrm{%s}" % printer.text(letter)
    for name, z, o in at.neurons:
        sym = d.network.latex_name(name)
        lines.append(r"%s_{%s} &= %s, \quad %s = %s" % (letter, sym, _num(z), sym, _num(o)) if z is not None else r"%s &= %s" % (sym, _num(o)))
    lines.append(r"%s &= %s" % (printer._print(d.network.loss_symbol), _num(at.loss)))
    for path, (factors, term) in zip(d.paths, at.paths):
        lines.append(r"&%s: \quad %s = %s" % (r" \to ".join(printer._print(s) for s in path.nodes),
                                              r" \cdot ".join(_num(f) for f in factors), _num(term)))
    lines.append(_three(printer._print(d.lhs), at))
    if not at.agree:
        lines.append(r"&\textbf{Warning:}\ %s" % printer.mtext(DISAGREE))
    return lines


def _num(n) -> str:
    text = str(n)
    if " (~" in text:  # an exact fraction with its decimal: 1/3 (~0.333)
        exact, approx = text.split(" (~", 1)
        num, den = exact.split("/")
        sign = "-" if num.startswith("-") else ""
        return r"%s\frac{%s}{%s} \approx %s" % (sign, num.lstrip("-"), den, approx.rstrip(")"))
    return text


def _three(lhs: str, at) -> str:
    """``lhs = value`` of the sum over paths, and the other two forms' values: in words when they print the
    same, else each (numbers in mathematics, so a minus is a minus)."""
    shown = [str(at.path_sum), str(at.backprop), str(at.direct)]
    if shown[1:] == shown[:1] * 2:
        return r"%s &= %s \quad \text{(all three forms)}" % (lhs, _num(at.path_sum))
    return r"%s &= %s \ \text{(sum over paths)}, \quad %s \ \text{(backprop)}, \quad %s \ \text{(direct)}" % (
        lhs, _num(at.path_sum), _num(at.backprop), _num(at.direct))


def values(at) -> str:
    """``grad --values``: the numbers as an ``align*`` block."""
    return align(values_lines(at, printer_for(at.derivation.network)))


def batch_lines(b, printer) -> list[str]:
    """A batch's numbers as aligned lines: the batch form (the reduction of the single-sample form), each
    sample's results, the batch's."""
    d = b.derivation
    m = len(b.samples)
    lhs = printer._print(d.lhs)
    how = arithmetic(b.exact, "exact", b.digits)
    lead = r"\frac{1}{m}\sum_{s=1}^{m}" if b.reduction == "mean" else r"\sum_{s=1}^{m}"
    form = (r"%s &= \left[ %s \right]_{s} \ \text{for each sample } s, \quad m = %d" if b.per_sample
            else r"%s &= " + lead + r" \left[ %s \right]_{s}, \quad m = %d")
    lines = [r"&%s" % printer.mtext(f"Batch of {m} sample{'s' if m != 1 else ''}, reduction {b.reduction} ({how}):"),
             form % (lhs, printer._print(d.backprop.local), m)]
    loss = printer._print(d.network.loss_symbol)
    for i, at in enumerate(b.samples, start=1):
        lines += [r"&\text{sample %d:} \quad %s = %s" % (i, loss, _num(at.loss)), _three(lhs, at)]
    lines.append(r"&\text{batch (%s):} \quad %s = %s" % (b.reduction, loss, _num(b.loss)))
    if not b.per_sample:
        lines.append(_three(lhs, b))
    if not b.agree:
        lines.append(r"&\textbf{Warning:}\ %s" % printer.mtext(DISAGREE))
    return lines  # b.note: a paragraph after the block (batch_note), as a derivation's notes


def paths_lines(listing, printer) -> list[str]:
    """The paths and their chains as aligned lines."""
    lines = []
    for i, (p, c) in enumerate(zip(listing.paths, verified_chains(listing)), start=1):
        lines += path_lines(printer, p, c, i)
    if len(listing.paths) < listing.count:
        more = listing.count - len(listing.paths)
        lines.append(r"&\dots\ \text{%d more path%s}" % (more, "" if more == 1 else "s"))
    return lines


def network_lines(net, printer) -> list[str]:
    """The network's equations and loss as aligned lines."""
    lines = [r"%s &= %s" % (printer._print(n.symbol), printer._print(n.equation)) for n in net.neurons]
    lines.append(r"%s &= %s" % (printer._print(net.loss_symbol), printer._print(net.loss_local)))
    return lines


def formula_lines(f, printer) -> list[str]:
    """The general equations, then their checked instance for one parameter."""
    lines = [line.replace("=", "&=", 1) for line in f.latex]
    bp = f.instance
    if bp is not None:
        entry, *deltas = verified_chains(f)
        lines.append(r"&\text{for } %s:" % printer._print(bp.parameter))
        lines += chain_lines(printer, entry)
        for c in deltas:
            lines += chain_lines(printer, c)
    return lines


def table_lines(table, printer) -> list[str]:
    """Every row of a table as aligned lines: dLoss/dW = its delta form after the delta equations (``table.expand``:
    its backprop form), then its path count and verdict."""
    # No \intertext here: this block is also an aligned one in a notebook (MathJax has none); the deltas come first.
    lines: list[str] = [] if table.expand else delta_table_lines(table.deltas, printer)
    for d in table.rows:
        noun = "path" if d.path_count == 1 else "paths"
        # As table_row: a delta form not shown equal to the gradient is NOT shown, never "equal".
        word = Table.row_word(d, table.expand)
        lines += expression_lines(printer, printer._print(d.lhs), d.backprop.local if table.expand else d.delta_form)
        lines.append(r"&\qquad %s" % printer.mtext(f"({d.path_count} {noun}; {word}, {d.verdict.method})"))
    return lines


def delta_table_lines(deltas, printer) -> list[str]:
    """A table's delta equations as aligned lines, each delta in the next layer's deltas (its verified chain's
    first form)."""
    lines: list[str] = []
    for c in deltas:
        lines += expression_lines(printer, printer._print(c.lhs), c.forms[0])
        if not c.verified:
            lines[-1] += r" \quad \text{(NOT verified)}"
    return lines


#: What a table in delta form says between its delta equations and its rows.
DELTA_ROWS_NOTE = ("Each delta is the derivative of the loss by its neuron's pre-activation, defined once above from "
                   "the next layer's deltas (each equation verified); each gradient below is its source times a delta, "
                   "derived three ways and verified.")


def delta_rows_note(deltas, where: str = "above") -> str:
    """:data:`DELTA_ROWS_NOTE` for these deltas (``where`` they are defined): it says each equation was verified
    only when each was."""
    note = DELTA_ROWS_NOTE.replace("defined once above", f"defined once {where}")
    return note if all(c.verified for c in deltas) else note.replace("(each equation verified)", "(NOT every equation verified)")


def descent_lines(r, printer) -> list[str]:
    """Gradient descent as aligned lines: each parameter's old value, gradient and new value, then the losses."""
    first, last = r.steps[0], r.steps[-1]
    lines = [r"%s &: %s \;\to\; %s \qquad \text{(gradient %s)}" % (r.network.latex_name(name), _num(r.initial[name]),
                                                                 _num(last.updated[name]), _num(first.gradients[name]))
             for name in r.trained]
    loss = printer._print(r.network.loss_symbol)
    lines.append(r"%s_{\text{before}} &= %s" % (loss, _num(first.loss)))
    lines.append(r"%s_{\text{after}} &= %s" % (loss, _num(last.loss_after)))
    return lines


def descent_rows(r, printer) -> list[str]:
    """Rows ``name & old & gradient & new`` of the descent table."""
    first, last = r.steps[0], r.steps[-1]
    return [r"$%s$ & %s & %s & %s \\" % (r.network.latex_name(name), _num(r.initial[name]), _num(first.gradients[name]),
                                          _num(last.updated[name])) for name in r.trained]


#: The widest a column of long expressions may print (visible characters): wider, one entry a line.
MATRIX_WIDTH = 44
#: The line a matrix form's ``align*`` block fills: 10pt article, A4 with 2 cm margins (the exported
#: document's page), in points; a matrix wider than what its block's names and shapes leave is written in
#: blocks of columns, one block a line.
LINE_POINTS = 481
#: The space ``align*`` keeps between its column pairs (amsmath's \minalignsep), and a margin for the estimate.
ALIGN_GAP = 10 + 24

#: Estimated widths (points, 10pt Computer Modern) of what a matrix line shows: relations and binary
#: operators with their spacing, Greek letters, brackets; letters and digits by class below.
_POINTS = {"=": 13.4, "+": 12.2, "(": 3.9, ")": 3.9, "[": 2.8, "]": 2.8, ".": 2.8, ",": 2.8, "'": 2.8, "/": 5,
           r"\approx": 13.4, r"\to": 15.5, r"\times": 12.2, r"\odot": 12.2, r"\cdot": 7.2, r"\Delta": 8.3,
           r"\delta": 4.5, r"\lambda": 5.8, r"\nabla": 8.3, r"\partial": 5.7, r"\sum": 10.6, r"\phantom": 0}
_TOKEN = re.compile(r"\\[a-zA-Z]+|\\.|.", re.S)
_SILENT = {r"\left", r"\right", r"\mathrm", r"\mathbf", r"\text", r"\textstyle", r"\operatorname", r"\mathit"}


def points(tex: str, size: float = 1.0, fraction: float = 1.0) -> float:
    """An estimate of the width a LaTeX math string prints, in points at 10pt (``size``: its scale, 0.8 in a
    script; ``fraction``: the scale of a fraction's parts, 0.8 in text style, as in a matrix's cells)."""
    width, i, operand = 0.0, 0, False
    while i < len(tex):
        token = _TOKEN.match(tex, i).group()
        i += len(token)
        if token in "^_":  # a script: its group (or one token) at 80 % (cmr7 beside cmr10)
            end = _group(tex, i) if tex[i:i + 1] == "{" else i + len(_TOKEN.match(tex, i).group())
            width += points(tex[i:end].strip("{}") if tex[i:i + 1] == "{" else tex[i:end], size * 0.8, fraction)
            i = end
        elif token == r"\frac":
            top_end = _group(tex, i)
            bottom_end = _group(tex, top_end)
            parts = (tex[i + 1:top_end - 1], tex[top_end + 1:bottom_end - 1])
            width += max(points(p, size * fraction, fraction) for p in parts) + 2 * size
            i, operand = bottom_end, True
        elif token in _SILENT or token in "{} \t\n&":
            continue
        elif token == "-":  # a minus after an operand is binary (spaced), else a sign
            width += (12.2 if operand else 7.8) * size
            operand = False
        else:
            known = _POINTS.get(token)
            width += size * (known if known is not None else 5 if token.isdigit() else 8.8 if token.isupper() or token[0] == "\\" else 5.8)
            operand = token not in ("=", "+", r"\approx", r"\to", r"\times", r"\odot", r"\cdot", "(", "[")
    return width


def _cells(printer, m) -> list[list[str]]:
    from ..engines.matrix import rows

    # 1.5e-5 as 1.5 \cdot 10^{-5}: in math mode e-5 would read as e minus 5.
    cell = lambda v: form(printer, v) if isinstance(v, (sp.Basic, Ordered, OrderedSum)) else _SCIENTIFIC.sub(r" \\cdot 10^{\1\2}", _num(v))  # noqa: E731
    return [[cell(v) for v in row] for row in rows(m)]


_SCIENTIFIC = re.compile(r"e\+?(-?)0*(\d+)$")


def bmatrix(printer, m, columns: range | None = None) -> str:
    """A matrix (or the given ``columns`` of it) as ``\\begin{bmatrix} ... \\end{bmatrix}`` (numbers at values,
    the network's symbols otherwise)."""
    cells = _cells(printer, m)
    columns = columns or range(len(cells[0]))
    body = r" \\ ".join(" & ".join(row[i] for i in columns) for row in cells)
    return r"\begin{bmatrix} %s \end{bmatrix}" % body


def _shape(n: int, k: int) -> str:
    return r"%d \times %d" % (n, k)


@record
class _Row:
    """A matrix line not yet laid out: the width it may take depends on its block's widest name and shape."""

    lhs: str
    name: str
    m: object
    shape: str


def matrix_line(printer, lhs: str, name: str, m, shape: str) -> list[_Row]:
    """``lhs &= [m] && (shape)``, laid out by :func:`laid_out` once the whole block is known."""
    return [_Row(lhs, name, m, shape)]


def laid_out(printer, lines: list) -> list[str]:
    """The block's lines, each matrix in the width its ``align*`` columns leave: the line less the widest
    name, the widest shape and the gaps."""
    matrices = [x for x in lines if isinstance(x, _Row)]
    lhs = max((points(x.lhs) for x in matrices), default=0)
    shape = max((points("(%s)" % x.shape) for x in matrices), default=0)
    room = LINE_POINTS - lhs - shape - ALIGN_GAP - _POINTS["="]
    out = []
    for x in lines:
        out += _matrix_lines(printer, x.lhs, x.name, x.m, x.shape, room) if isinstance(x, _Row) else [x]
    return out


def _column_points(cells) -> list[float]:
    # Each column as wide as its widest entry (text style: a fraction's parts in script size).
    return [max(points(row[i], fraction=0.8) for row in cells) for i in range(len(cells[0]))]


def _matrix_points(widths) -> float:
    # The entries, 10pt between columns (2 \arraycolsep), the brackets.
    return sum(widths) + 10 * (len(widths) - 1) + 8


def _blocks(widths, room: float, count: int) -> list[range]:
    """Columns packed left to right into blocks no wider than ``room`` (each block one column at least)."""
    blocks, start = [], 0
    for end in range(1, count + 1):
        label = 3.5 * len("columns %d--%d of %d" % (start + 1, end, count))  # the label beneath, in script size
        if end - start > 1 and max(_matrix_points(widths[start:end]), label) > room:
            blocks.append(range(start, end - 1))
            start = end - 1
    return blocks + [range(start, count)]


def _matrix_lines(printer, lhs: str, name: str, m, shape: str, room: float) -> list[str]:
    """``lhs &= [m] && (shape)`` as aligned lines: a matrix wider than ``room`` points in blocks of
    columns (each block's columns named beneath it), a column of long expressions one entry a line."""
    from ..engines.matrix import rows

    cells = _cells(printer, m)
    widest, count = max(visible_width(c) for row in cells for c in row), len(cells[0])
    if count == 1 and widest > MATRIX_WIDTH:  # symbolic z or delta of a wide layer: entry by entry, each broken if long
        lines = [r"%s &= \begin{bmatrix} %s \end{bmatrix} && (%s)" % (
            lhs, r" \\ ".join(r"(%s)_{%d}" % (name, j) for j in range(1, len(cells) + 1)), shape)]
        for j, (entry,) in enumerate(rows(m), start=1):
            lines += expression_lines(printer, r"(%s)_{%d}" % (name, j), entry, MATRIX_WIDTH)
        return lines
    widths = _column_points(cells)
    if count == 1 or _matrix_points(widths) <= room:
        return [r"%s &= %s && (%s)" % (lhs, bmatrix(printer, m), shape)]
    blocks = _blocks(widths, room, count)
    # Each block's columns written beneath it; the shape stays on the first line.
    where = lambda b: r"columns } %d\text{--}%d" % (b[0] + 1, b[-1] + 1) if len(b) > 1 else r"column } %d" % (b[0] + 1)  # noqa: E731
    block = lambda b: r"\underset{\text{%s \text{ of } %d}{%s}" % (where(b), count, bmatrix(printer, m, b))  # noqa: E731
    return [r"%s &= %s && (%s)" % (lhs, block(blocks[0]), shape)] + [r"&\phantom{=}\ %s" % block(b) for b in blocks[1:]]


def l2_term(m, l: int) -> str:
    r"""`` + \lambda W^{[l]}`` with --l2 (a batch summed: ``m \lambda W^{[l]}``), else ""."""
    if m.l2 is None:
        return ""
    return r" + %s\lambda W^{[%d]}" % ("m " if getattr(m, "reduction", "mean") == "sum" else "", l)


def l2_line(m, printer) -> list[str]:
    """The L2 strength, as a line of text (none without --l2)."""
    if m.l2 is None:
        return []
    lam = sp.Rational(m.l2.numerator, m.l2.denominator)
    # In the second column, as the pass headings: the shapes' column is too narrow for the words.
    return [r"&\text{L2: } \lambda = %s \text{ (the loss adds } \tfrac{\lambda}{2} \textstyle\sum w^{2}\text{)}" % sp.latex(lam)]


def layer_label(printer, layer) -> str:
    """``layer 1 (H1, H2)`` as a line of text, as the text output labels each layer's rows; a long layer's
    neurons as the first two and the last (the label stays within the line)."""
    names = layer.names if len(layer.names) <= 6 else (*layer.names[:2], "...", layer.names[-1])
    return r"&\quad%s" % printer.mtext(f"layer {layer.index} ({', '.join(names)}):")


def matrix_lines(m, printer) -> list[str]:
    """The matrix form as aligned lines: the forward pass, then the backward pass, each shape beside its matrix."""
    L = len(m.layers)
    loss = printer._print(m.loss_symbol)
    W = lambda l: r"W^{[%d]}" % l  # noqa: E731
    v = lambda name, l: r"%s^{[%d]}" % (name, l)  # noqa: E731
    dW = lambda l: r"\frac{\partial %s}{\partial %s}" % (loss, W(l))  # noqa: E731
    db = lambda l: r"\frac{\partial %s}{\partial %s}" % (loss, v("b", l))  # noqa: E731
    lines = l2_line(m, printer) + [r"&%s" % printer.mtext("Forward pass:")]
    lines += matrix_line(printer, v("a", 0), v("a", 0), m.inputs, _shape(len(m.layers[0].sources), 1))
    for layer in m.layers:
        l, (n, k) = layer.index, layer.shapes["W"]
        lines.append(layer_label(printer, layer))
        lines += matrix_line(printer, W(l), W(l), layer.W, _shape(n, k))
        plus = ""
        if layer.b is not None:
            lines += matrix_line(printer, v("b", l), v("b", l), layer.b, _shape(n, 1))
            plus = " + " + v("b", l)
        lines += matrix_line(printer, r"%s = %s %s%s" % (v("z", l), W(l), v("a", l - 1), plus), v("z", l), layer.z_shown or layer.z,
                             r"%s)(%s) \to (%s" % (_shape(n, k), _shape(k, 1), _shape(n, 1)))
        lines += matrix_line(printer, r"%s = f(%s)" % (v("a", l), v("z", l)), v("a", l), layer.a, _shape(n, 1))
    if m.loss_value is not None:
        lines.append(r"%s &= %s" % (loss, _num(m.loss_value)))
    lines.append(r"&%s" % printer.mtext("Backward pass:"))
    for layer in reversed(m.layers):
        l, (n, k) = layer.index, layer.shapes["W"]
        lines.append(layer_label(printer, layer))
        lines += matrix_line(printer, r"f'(%s)" % v("z", l), r"f'(%s)" % v("z", l), layer.fprime, _shape(n, 1))
        if not m.at_values:  # the names the gradients use for the entries of delta^l
            names = sp.Matrix([sp.Symbol(f"delta_{x}") for x in layer.names])
            lines += matrix_line(printer, v(r"\delta", l), v(r"\delta", l), names, _shape(n, 1))
        if l == L:
            lines += matrix_line(printer, r"\nabla_{a} %s" % loss, r"\nabla_{a} %s" % loss, m.grad_a, _shape(n, 1))
            lhs = r"%s = \nabla_{a} %s \odot f'(%s)" % (v(r"\delta", l), loss, v("z", l))
            lines += matrix_line(printer, lhs, v(r"\delta", l), layer.delta_shown or layer.delta, _shape(n, 1))
            if layer.rewrite:
                lines.append(r"&\quad\text{(%s)}" % printer.text(layer.rewrite))
            if m.conditionals:
                c = m.conditionals[0]
                lines.append(r"&\quad\text{where } %s = %s \text{ (%s):}" % (
                    printer._print(c.equation[0]), printer._print(c.equation[1]), printer.text(c.condition)))
                lines += matrix_line(printer, v(r"\delta", l), v(r"\delta", l), tuple((x.value,) for x in m.conditionals), _shape(n, 1))
        else:
            nxt = m.layers[l].shapes["W"][0]
            lhs = r"%s = \left((%s)^{T} %s\right) \odot f'(%s)" % (v(r"\delta", l), W(l + 1), v(r"\delta", l + 1), v("z", l))
            lines += matrix_line(printer, lhs, v(r"\delta", l), layer.delta_shown or layer.delta, r"%s)(%s) \to (%s" % (_shape(n, nxt), _shape(nxt, 1), _shape(n, 1)))
        lines += matrix_line(printer, r"%s = %s (%s)^{T}%s" % (dW(l), v(r"\delta", l), v("a", l - 1), l2_term(m, l)), dW(l), layer.grad_W,
                             r"%s)(%s) \to (%s" % (_shape(n, 1), _shape(1, k), _shape(n, k)))
        if layer.grad_b is not None:
            lines += matrix_line(printer, r"%s = %s" % (db(l), v(r"\delta", l)), db(l), layer.grad_b, _shape(n, 1))
    return laid_out(printer, lines)


def batch_matrix_lines(b, printer) -> list[str]:
    """The matrix form over a batch as aligned lines: Z, A and Delta with a column per sample, every shape."""
    L, m = len(b.layers), b.size
    loss = printer._print(b.loss_symbol)
    scale = r"\frac{1}{m} " if b.reduction == "mean" else ""
    W = lambda l: r"W^{[%d]}" % l  # noqa: E731
    v = lambda name, l: r"%s^{[%d]}" % (name, l)  # noqa: E731
    dW = lambda l: r"\frac{\partial %s}{\partial %s}" % (loss, W(l))  # noqa: E731
    db = lambda l: r"\frac{\partial %s}{\partial %s}" % (loss, v("b", l))  # noqa: E731
    lines = l2_line(b, printer) + [r"&%s" % printer.mtext(f"Forward pass, a column per sample (m = {m}):")]
    lines += matrix_line(printer, v("A", 0), v("A", 0), b.inputs, _shape(*b.layers[0].A_prev_shape))
    for layer in b.layers:
        l, (n, k), nm = layer.index, layer.shapes["W"], _shape(*layer.delta_shape)
        lines.append(layer_label(printer, layer))
        lines += matrix_line(printer, W(l), W(l), layer.W, _shape(n, k))
        plus = ""
        if layer.b is not None:
            lines += matrix_line(printer, v("b", l), v("b", l), layer.b, _shape(n, 1))
            plus = r" + %s \mathbf{1}^{T}" % v("b", l)
        lines += matrix_line(printer, r"%s = %s %s%s" % (v("Z", l), W(l), v("A", l - 1), plus), v("Z", l), layer.Z,
                             r"%s)(%s) \to (%s" % (_shape(n, k), _shape(k, m), nm))
        lines += matrix_line(printer, r"%s = f(%s)" % (v("A", l), v("Z", l)), v("A", l), layer.A, nm)
    lines.append(r"%s &= %s && %s" % (loss, _num(b.loss_value), printer.mtext(f"the {b.reduction} over the samples")))
    lines.append(r"&%s" % printer.mtext("Backward pass:"))
    for layer in reversed(b.layers):
        l, (n, k), nm = layer.index, layer.shapes["W"], _shape(*layer.delta_shape)
        lines.append(layer_label(printer, layer))
        lines += matrix_line(printer, r"f'(%s)" % v("Z", l), r"f'(%s)" % v("Z", l), layer.fprime, nm)
        if l == L:
            lines += matrix_line(printer, r"\nabla_{A} %s" % loss, r"\nabla_{A} %s" % loss, b.grad_A, nm)
            lhs = r"%s = \nabla_{A} %s \odot f'(%s)" % (v(r"\Delta", l), loss, v("Z", l))
            lines += matrix_line(printer, lhs, v(r"\Delta", l), layer.Delta, nm)
        else:
            nxt = b.layers[l].shapes["W"][0]
            lhs = r"%s = \left((%s)^{T} %s\right) \odot f'(%s)" % (v(r"\Delta", l), W(l + 1), v(r"\Delta", l + 1), v("Z", l))
            lines += matrix_line(printer, lhs, v(r"\Delta", l), layer.Delta, r"%s)(%s) \to (%s" % (_shape(n, nxt), _shape(nxt, m), nm))
        lines += matrix_line(printer, r"%s = %s%s (%s)^{T}%s" % (dW(l), scale, v(r"\Delta", l), v("A", l - 1), l2_term(b, l)), dW(l), layer.grad_W,
                             r"%s)(%s) \to (%s" % (nm, _shape(m, k), _shape(n, k)))
        if layer.grad_b is not None:
            lines += matrix_line(printer, r"%s = %s%s \mathbf{1}" % (db(l), scale, v(r"\Delta", l)), db(l), layer.grad_b,
                                 r"%s)(%s) \to (%s" % (nm, _shape(m, 1), _shape(n, 1)))
    return laid_out(printer, lines)


def matrix_verdict(m, printer) -> str:
    """The entry check as a paragraph."""
    from .text import matrix_check

    return r"\noindent %s.\par" % printer.text(matrix_check(m.check))


class LatexRenderer(StringRenderer):
    """LaTeX: each kind as amsmath ``align*`` blocks (a comment naming the network, the verdict and notes as
    paragraphs); a table as one block, a row a line."""

    ROW_SEPARATOR = " \\\\\n"

    def derivation(self, d) -> str:
        """The derivation as an ``align*`` block, with a comment naming the network, then the verdict and notes."""
        printer = printer_for(d.network)
        head = _comment(f"d{d.network.loss_symbol}/d{d.parameter}; {d.network.summary()}")
        return head + "\n" + align(derivation_lines(d, printer)) + "\n" + notes(d, printer)

    def derivation_at_values(self, at) -> str:
        """``grad --values``: the derivation, then its numbers."""
        return self.derivation(at.derivation) + "\n" + values(at)

    def batch_at_values(self, b) -> str:
        """``grad --values`` with a batch: the derivation, then the batch's numbers."""
        out = self.derivation(b.derivation) + "\n" + align(batch_lines(b, printer_for(b.derivation.network)))
        return out + ("\n" + r"\noindent\emph{Note.} %s\par" % printer_for(b.derivation.network).text(b.note) if b.note else "")

    def paths(self, listing) -> str:
        """The paths and their chains as an ``align*`` block."""
        return align(paths_lines(listing, printer_for(listing.network)))

    def network(self, net) -> str:
        """The network's equations and loss as an ``align*`` block."""
        return _comment(net.summary()) + "\n" + align(network_lines(net, printer_for(net)))

    def formula(self, f) -> str:
        """``derivchain formula`` as an ``align*`` block."""
        return align(formula_lines(f, printer_for(f.network)))

    def steps(self, s) -> str:
        """The step-by-step derivation as an ``align*`` block."""
        return align(steps_lines(s, printer_for(s.network)))

    def descent(self, r) -> str:
        """Gradient descent as a ``tabular`` (parameter, old value, gradient, new value) and the losses."""
        printer = printer_for(r.network)
        first, last = r.steps[0], r.steps[-1]
        n = len(r.steps)
        how = arithmetic(r.exact)
        lr = printer.text(learning_rate(r.lr))
        rows = "\n".join(descent_rows(r, printer))
        grad_head = "gradient" + (" (first step)" if n > 1 else "")
        lines = [
            _comment(r.network.summary()),
            r"\noindent Gradient descent, learning rate %s, %d step%s (%s%s).\par" % (lr, n, "s" if n > 1 else "", printer.text(how),
                                                                                 printer.text("; " + batch_words(r)) if r.samples else ""),
            r"\begin{tabular}{llll}",
            r"parameter & old value & %s & new value \\ \hline" % grad_head,
            rows,
            r"\end{tabular}",
        ]
        if r.frozen:
            lines.append(r"\par\noindent Kept fixed: %s.\par" % ", ".join("$%s$" % r.network.latex_name(f) for f in r.frozen))
        losses = [("before", first.loss)] + [(f"after step {i}", st.loss) for i, st in enumerate(r.steps[1:], start=1)]
        losses.append(("after", last.loss_after))
        loss = printer._print(r.network.loss_symbol)
        lines.append(align([r"%s_{\text{%s}} &= %s" % (loss, when, _num(v)) for when, v in losses]))
        return "\n".join(lines)

    def table_header(self, table) -> str:
        """The opening of the table's ``align*`` block; in delta form, the delta equations first."""
        head = _comment(table.network.summary()) + "\n{\\allowdisplaybreaks\n\\begin{align*}"
        if table.expand:
            return head
        printer = printer_for(table.network)
        return (head + "\n" + " \\\\\n".join(delta_table_lines(table.deltas, printer))
                + " \\\\\n\\intertext{%s}" % printer.text(delta_rows_note(table.deltas)))

    def table_row(self, d, expand: bool = False) -> str:
        """dLoss/dW = its delta form (``expand``: the backprop form, broken across lines when long), then its
        path count and verdict."""
        printer = printer_for(d.network)
        noun = "path" if d.path_count == 1 else "paths"
        equal, word = Table.row_equal(d, expand), Table.row_word(d, expand)
        lines = expression_lines(printer, printer._print(d.lhs), d.backprop.local if expand else d.delta_form)
        lines.append(r"&\qquad %s" % printer.mtext(f"({d.path_count} {noun}; {word}, {d.verdict.method})"))
        return " \\\\\n".join(lines)

    def table_footer(self, table) -> str:
        """The end of the table's block."""
        return "\\end{align*}\n}"

    def matrix(self, m) -> str:
        """``derivchain matrix`` as an ``align*`` block (``bmatrix``, shapes on the right), then the entry check."""
        printer = printer_for(m.network)
        return _comment(f"matrix form; {m.network.summary()}") + "\n" + align(matrix_lines(m, printer)) + "\n" + matrix_verdict(m, printer)

    def batch_matrix(self, b) -> str:
        """``derivchain matrix`` with a batch, as :func:`matrix`: a column per sample."""
        printer = printer_for(b.network)
        head = _comment(f"matrix form over a batch of {b.size} samples ({b.reduction}); {b.network.summary()}")
        return head + "\n" + align(batch_matrix_lines(b, printer)) + "\n" + matrix_verdict(b, printer)

    def matrix_gradient(self, g) -> str:
        """``grad WQ`` on a matrix graph: the chain of matrix equations as an ``align*`` block, shapes and checks on the right."""
        from ..model.notation import matrix_latex
        from .matrix_forms import form_latex, shape_text, summary

        lines = [r"\frac{\partial L}{\partial %s} &= %s && \text{%s, %s}" % (
            matrix_latex(e.name), form_latex(e.form), shape_text(e.shape),
            ("verified" if e.verified else "NOT verified") + (f"; rewrite: {DerivPrinter().text(e.rewrite)}" if e.rewrite else ""))
            for e in g.chain]
        return _comment(f"matrix form of dLoss/d{g.parameter}; {g.network.summary()}") + "\n" + align(lines) + \
            "\n" + r"\noindent %s\par" % DerivPrinter().text(summary(g))

    def verdict(self, v) -> str:
        """A verdict alone, as display math."""
        return r"\[ %s \]" % DerivPrinter()._print(v) + "\n" + r"\noindent %s\par" % DerivPrinter().text(v.detail)

    def chain(self, c) -> str:
        """A chain alone as an ``align*`` block."""
        return align(chain_lines(DerivPrinter(), c))

    def autograd(self, c) -> str:
        """``autograd``: the entries as a longtable, the verdict, the first disagreement's path sum."""
        from .autograd import latex
        from .text import expr as text_expr

        return latex(c, DerivPrinter().text, _comment, text_expr)

    def check(self, c) -> str:
        """``check``: the answer (or each step) and the derivative as an ``align*`` block, then the verdict, the
        diagnosis and the counterexample as paragraphs."""
        printer = printer_for(c.network)
        head = _comment(f"{c.lhs} checked; {c.network.summary()}")
        return head + "\n" + align(check_lines(c, printer, prose=False)) + "\n" + check_paragraphs(c, printer)

    def hessian(self, h) -> str:
        """``hessian P Q`` as an ``align*`` block, then the verdict and the notes."""
        return hessian_text(h)

    def hessian_matrix(self, m) -> str:
        """``hessian --values``: the sections, matrices as ``pmatrix``."""
        return hessian_matrix_text(m)

    def hessian_at_values(self, at) -> str:
        """``hessian P Q --values``: the entry, then its three numbers."""
        return hessian_text(at.entry) + "\n" + hessian_values(at)

    def exercise(self, ex) -> str:
        """An exercise sheet as a whole LaTeX document (it compiles as it is): the network, the questions, and room
        to answer or (with solutions) each verified derivation and the numbers."""
        return exercise_document(ex)




def _finding_text(printer, f) -> str:
    found = "" if f.found is None or f.expected is None else \
        r" (found $%s$, expected $%s$)" % (printer._print(f.found), printer._print(f.expected))
    return r"\emph{%s}: %s%s" % (printer.text(f.kind.replace("_", " ")), printer.text(f.detail), found)


def _values_text(printer, network, values) -> str:
    return ", ".join("$%s = %s$" % (network.latex_name(k), _num(v)) for k, v in values.items())


def check_lines(c, printer, prose: bool = True) -> list[str]:
    """A check as aligned lines: the answer (or each step, with what it was checked against) and the derivative;
    ``prose``: the verdict, the diagnosis and the counterexample too, as lines of text (a notebook's block)."""
    p = printer._print
    lhs = p(sp.Derivative(c.network.loss_symbol, c.parameter))
    lines = []
    if c.steps is None:
        lines.append(r"\text{your answer: } %s &= %s" % (lhs, p(c.answer)))
    else:
        for i, st in enumerate(c.steps):
            said = ([] if st.to_previous is None else [f"line before: {st.to_previous.word}"]) + [f"derivative: {st.to_derivative.word}"]
            # The checks on a line of their own: beside a long expression they run off the page.
            lines += [r"\text{line %d: } %s &= %s" % (st.line, lhs if i == 0 else "", p(st.expr)),
                      r"&\qquad %s" % printer.mtext("(%s)" % "; ".join(said))]
    lines += expression_lines(printer, r"\text{the derivative: } " + lhs, c.expected)
    if not prose:
        return lines
    # Lines of a notebook's block: text in MathJax's subset (DerivPrinter.mtext), as every block's.
    for r in c.readings:
        lines.append(r"&\text{read as: } %s" % reading_text(printer, r))
        lines.append(r"&\quad %s \ %s" % (printer.mtext(r.why), reading_text(printer, r, other=True)))
    lines.append(r"&%s" % printer.mtext(f"verdict: {c.sentence}"))
    for f in c.diagnosis:
        lines.append(r"&%s" % printer.mtext(f"{f.kind}: {f.detail}"))
        if f.found is not None and f.expected is not None:
            lines.append(r"&\quad \text{found } %s, \ \text{expected } %s" % (p(f.found), p(f.expected)))
    cx = c.counterexample
    if cx is not None:
        lines.append(r"&\text{counterexample: } " + r",\ ".join("%s = %s" % (c.network.latex_name(k), _num(v)) for k, v in cx.values.items()))
        lines.append(r"&\quad \text{your answer} = %s, \ %s = %s" % (_num(cx.answer), lhs, _num(cx.expected)))
    return lines


def reading_text(printer, r, other: bool = False) -> str:
    """A partial as it was read (``other``: as the other reading would make it): ``\frac{d Out}{d H1} = W_5``."""
    return "%s = %s" % (printer._print(sp.Derivative(r.of, r.by)), printer._print(r.other if other else r.used))


def check_paragraphs(c, printer) -> str:
    """A check's how partials were read, verdict, diagnosis and counterexample as paragraphs."""
    out = [r"\noindent Read as: $%s$. %s $%s$.\par" % (reading_text(printer, r), printer.text(r.why), reading_text(printer, r, other=True))
           for r in c.readings]
    out.append(r"\noindent Verdict: \emph{%s}.\par" % printer.text(c.sentence))
    for f in c.diagnosis:
        out.append(r"\noindent %s.\par" % _finding_text(printer, f))
    cx = c.counterexample
    if cx is not None:
        lhs = printer._print(sp.Derivative(c.network.loss_symbol, c.parameter))
        nodes = (" There " + _values_text(printer, c.network, cx.nodes) + ".") if cx.nodes else ""
        out.append(r"\noindent Counterexample: at %s.%s Your %s $= %s$, and $%s = %s$.\par" % (
            _values_text(printer, c.network, cx.values), nodes, "line" if c.first_wrong_line is not None else "answer",
            _num(cx.answer), lhs, _num(cx.expected)))
    return "\n".join(out)


#: The exercise sheet's preamble: the notes' packages (TikZ for the picture) and a box to answer in.
SHEET_PREAMBLE = r"""\documentclass[11pt]{article}
\usepackage[a4paper,margin=2cm]{geometry}
\usepackage{mathtools,amssymb}
\usepackage{graphicx,tikz}
\allowdisplaybreaks
\setlength{\parindent}{0pt}
\setlength{\parskip}{4pt plus 2pt}
\newcommand{\answerroom}[1]{\par\noindent\fbox{\begin{minipage}[t][#1]{\dimexpr\linewidth-2\fboxsep-2\fboxrule\relax}\mbox{}\end{minipage}}\par}
"""


def exercise_lines(ex, printer) -> list[str]:
    """An exercise sheet as aligned lines (a notebook's block): the equations, each question, and with
    solutions each answer and the step's numbers."""
    p = printer._print
    lines = network_lines(ex.network, printer)
    for i, d in enumerate(ex.derivations, start=1):
        lines.append(r"&\text{%d. find } %s" % (i, p(d.lhs)))
        if ex.solutions:
            lines += expression_lines(printer, p(d.lhs), d.backprop.local)
    w = ex.stepped
    lines.append(r"&\text{%d. one step on } %s \text{ at the given values, learning rate } %s" % (
        len(ex.derivations) + 1, p(w), _num(_number(ex.lr))))
    if ex.solutions:
        lines += values_lines(ex.at, printer)
        lines.append(r"\text{new } %s &= %s" % (p(w), _num(ex.updated)))
    return lines


def _number(value):
    from ..model.values import Number

    return Number(value, True)


def exercise_document(ex) -> str:
    """The whole sheet as a LaTeX document."""
    from .diagram import tikz

    net = ex.network
    printer = printer_for(net, width=80)
    p = printer._print
    inline = printer_for(net, fold_short_frac=True)._print  # the loss's formula typeset in the line, as in the notes
    summary = "".join(printer.text(x) if isinstance(x, str) else "$%s$" % inline(x) for x in summary_parts(net))
    body = [r"\section*{%s}" % printer.text(ex.title), r"Network: %s." % summary,
            tikz(net, None, printer), align(network_lines(net, printer), breakable=False),
            r"Write each answer in the network's names (inputs, weights, biases, neurons, targets; %s). "
            r"Check an answer with" % printer.text("sign, sigmoid, tanh, relu, exp, log"),
            r"\begin{center}\texttt{%s}\end{center}" % printer.text(f'derivchain check {ex.derivations[0].parameter} "YOUR ANSWER" {ex.options}'.rstrip())]
    for i, d in enumerate(ex.derivations, start=1):
        body.append(r"\subsection*{%d. Find $%s$}" % (i, p(d.lhs)))
        if ex.solutions:
            body += [align(derivation_lines(d, printer)), notes(d, printer)]
        else:
            body.append(r"\answerroom{5cm}")
    body.append(r"\subsection*{%d. One gradient-descent step}" % (len(ex.derivations) + 1))
    body.append(_step_question(ex, printer))
    if ex.solutions:
        body.append(align(values_lines(ex.at, printer) + [r"\text{new } %s &= %s - %s \cdot %s = %s" % (
            p(ex.stepped), _num(_number(ex.values[ex.stepped])), _num(_number(ex.lr)), _bracketed(ex.at.backprop), _num(ex.updated))]))
    else:
        body.append(r"\answerroom{6cm}")
    return SHEET_PREAMBLE + "\\begin{document}\n" + "\n".join(body) + "\n\\end{document}\n"


def _bracketed(n) -> str:
    text = _num(n)
    return r"\left(%s\right)" % text if text.startswith("-") or "approx" in text else text


def _step_question(ex, printer) -> str:
    p = printer._print
    net, w, loss = ex.network, ex.stepped, ex.network.loss_symbol
    given = _values_text(printer, net, {s.name: _number(v) for s, v in ex.values.items()})
    return (r"At %s, take one gradient-descent step on $%s$ with learning rate $%s$: find the loss $%s$, "
            r"$%s$ there, and the new $%s = %s - \text{lr} \cdot %s$." % (
                given, p(w), _num(_number(ex.lr)), p(loss), p(sp.Derivative(loss, w)), p(w), p(w), p(sp.Derivative(loss, w))))


# --- hessian P Q (issue 24) ---------------------------------------------------------------------------

def _hessian_lhs(h, printer) -> str:
    # d2Loss/(dP dQ) as a fraction (the printer's Derivative is a first derivative's).
    loss, p, q = (printer._print(x) for x in (h.network.loss_symbol, h.first, h.second))
    below = r"\partial %s^{2}" % p if h.first == h.second else r"\partial %s \, \partial %s" % (p, q)
    return r"\frac{\partial^{2} %s}{%s}" % (loss, below)


def hessian_lines(h, printer) -> list[str]:
    """Aligned lines: each listed pair's term, the sum, the R-operator form and equations, the direct form."""
    lhs = _hessian_lhs(h, printer)
    lines = []
    for i, pair in enumerate(h.pairs, start=1):
        first, second = (r" \to ".join(printer._print(x) for x in path) for path in (pair.first, pair.second))
        lines.append(r"&\text{pair %d: } %s \;\mid\; %s \\ &\quad %s" % (i, first, second, form(printer, pair.term)))
    if not h.path_pairs.listed_all:
        more = h.pair_count - len(h.pairs)
        lines.append(r"&\text{\dots\ %d more pair%s}" % (more, "" if more == 1 else "s"))
    lines.append(r"%s &= %s" % (lhs, form(printer, h.path_pairs.local)))
    lines.append(r"%s &= %s = %s" % (lhs, form(printer, h.backprop.entry), form(printer, h.backprop.local)))
    for eq in (*h.backprop.forward, *h.backprop.deltas):
        lines.append(r"%s &= %s" % (printer._print(eq.lhs), form(printer, eq.rhs)))
    if h.direct_shown[0] is not None:
        lines.append(r"%s &= %s" % (lhs, form(printer, h.direct_shown[0])))
    return lines


def hessian_text(h) -> str:
    """The entry as an ``align*`` block with a comment naming it, then the verdict and the notes."""
    from .hessian import noun, title

    printer = printer_for(h.network)
    head = _comment(f"{title(h)}; {h.network.summary()}; {noun(h.pair_count, 'pair')} of paths")
    paragraphs = [r"\noindent Verdict: \emph{%s} (%s): %s.\par" % (printer.text(h.verdict.word), printer.text(h.verdict.method),
                                                                 printer.text(h.verdict.detail))]
    paragraphs += [r"\noindent\emph{Note.} %s\par" % printer.text(note) for note in h.notes]
    return head + "\n" + align(hessian_lines(h, printer)) + "\n" + "\n".join(paragraphs)


def hessian_values(at) -> str:
    """The three numbers as an aligned block."""
    from .hessian import numbers

    printer = printer_for(at.entry.network)
    lhs = _hessian_lhs(at.entry, printer)
    lines = [r"%s &= %s && \text{(%s)}" % (lhs, number_tex(n), name)
             for name, n in numbers(at)]
    return align(lines)


def hessian_matrix_text(m) -> str:
    """A full Hessian's sections (see :func:`derivchain.renderers.hessian.matrix_sections`) as LaTeX paragraphs and matrices."""
    from .hessian import matrix_sections

    printer = printer_for(m.network)
    out = [_comment(f"Hessian; {m.network.summary()}")]
    for heading, content in matrix_sections(m):
        if content is None or isinstance(content, str):
            out.append(r"\noindent %s\par" % printer.text(heading + ("" if content is None else f": {content}")))
        elif content and isinstance(content[0], tuple) and isinstance(content[0][0], str):
            out.append(r"\noindent %s:\par" % printer.text(heading))
            out.append(align([r"%s &= %s" % (printer._print(m.network.parameter(name)), number_tex(v)) for name, v in content]))
        else:
            out.append(r"\noindent %s:\par" % printer.text(heading))
            out.append(r"\[ %s \]" % matrix_tex(content))
    return "\n".join(out)


def matrix_tex(rows) -> str:
    """Numbers as a matrix in parentheses: an ``array`` (amsmath's ``pmatrix`` stops at 10 columns)."""
    body = r" \\ ".join(" & ".join(number_tex(v) for v in row) for row in rows)
    return r"\left(\begin{array}{%s} %s \end{array}\right)" % ("c" * max((len(r) for r in rows), default=1), body)


def number_tex(n) -> str:
    r"""A Hessian's number in mathematics: ``-3.25e-8`` as ``-3.25 \times 10^{-8}`` (text's e-notation read as e - 8)."""
    text = str(n)
    mantissa, e, exponent = text.partition("e")
    if not e:
        return text
    return r"%s \times 10^{%d}" % (mantissa, int(exponent))
