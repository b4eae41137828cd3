"""HTML: one self-contained page, math as presentation MathML, diagrams as inline SVG; the exported
notes (:func:`document`) and, by :class:`HtmlRenderer`, a page for each kind of result (``--format html``).

The page has no script and loads nothing (a Content-Security-Policy forbids both): its style is
inline and its fonts are the reader's own. Every formula is printed by :class:`MathMLPrinter` from
the same verified objects the LaTeX and Markdown notes print (paths, chains, deltas, step-by-step
lines), never from text assembled beside them. Free text is escaped. The same input gives the same
bytes (ASCII; other characters as numeric references).

Long right-hand sides are split into one ``<math>`` per term (or per factor of a path's chain), so a
browser wraps them between terms, the way the LaTeX notes break a long sum across lines.
"""

from __future__ import annotations

import html
import re

import sympy as sp
from sympy.printing.mathml import MathMLPresentationPrinter
from sympy.printing.precedence import PRECEDENCE, precedence_traditional
from sympy.printing.pretty.pretty_symbology import greek_unicode

from .. import memo
from ..verification.chains import Chain
from ..verification.derivation import Table

from ..engines.forms import Ordered, OrderedSum

from .base import StringRenderer
from .fitting import fits, too_large_note
from ..model.notation import FLAT
from ..symbolic.rules import rule_for
from ..user_text import clean
from .latex import LINE_WIDTH, visible_width
from .latex import printer_for as latex_printer
from .text import activation_first, ordered_terms, remembered, sort_key
from .shown import notes as derivation_notes, preactivation_letter, shown as shown_of, summary_parts

MINUS, TIMES, DOT, PARTIAL, ARROW, APPLY = "\u2212", "\u2062", "\u00b7", "\u2202", "\u2192", "\u2061"
#: Elements taller than a line: brackets around them stretch (around anything else they stay the
#: font's own, which browsers set tighter).
_TALL = {"mfrac", "msqrt", "mroot", "munder", "mover", "munderover", "mtable"}
_TOKEN = re.compile(r"\\[A-Za-z]+|\\.|%s|\d+|[A-Za-z]|\s+|.")
#: Products wider than this (in characters, see :func:`width`) are broken inside their sums: a line
#: of an A4 page printed from a browser holds about this many.
SPLIT = 48
_NAMED_ENTITY = re.compile(r"&([A-Za-z][A-Za-z0-9]*);")
_XML_ENTITIES = {"lt", "gt", "amp", "quot", "apos"}


class Text:
    """Text inside an element, written as it is (escaped by whoever made it)."""

    nodeName = "#text"
    childNodes = ()

    def __init__(self, data: str):
        self.data = data

    def toxml(self) -> str:
        return self.data


class Element:
    """A MathML element: the part of the DOM that SymPy's printer uses (createElement, appendChild,
    setAttribute), without xml.dom's cost. Elements are never changed once printed, so a printed
    subexpression is shared wherever it appears, and its XML is written once."""

    def __init__(self, tag: str):
        self.nodeName = tag
        self.attributes: dict[str, str] = {}
        self.childNodes: list = []
        self._xml: str | None = None
        self._width: int | None = None
        self._tall: bool | None = None

    def appendChild(self, child):
        self.childNodes.append(child)
        return child

    def setAttribute(self, key: str, value: str) -> None:
        self.attributes[key] = value

    @property
    def firstChild(self):
        return self.childNodes[0] if self.childNodes else None

    def toxml(self) -> str:
        if self._xml is None:
            attrs = "".join(f' {k}="{html.escape(v)}"' for k, v in self.attributes.items())
            self._xml = f"<{self.nodeName}{attrs}>{''.join(c.toxml() for c in self.childNodes)}</{self.nodeName}>"
        return self._xml


class _Document:
    def createElement(self, tag: str) -> Element:
        return Element(tag)

    def createTextNode(self, data: str) -> Text:
        return Text(data)


Node = Element | Text


class MathMLPrinter(MathMLPresentationPrinter):
    """SymPy's presentation MathML printer with a network's names (W_13, Out, delta_H4, w^2_12).

    Settings, as for the LaTeX printer: ``notation`` (a :class:`~derivchain.model.notation.Notation`) and
    ``names`` (name -> LaTeX, as the notation made them for one network). A name's MathML is read
    from that LaTeX, and a function's from its LaTeX in :data:`derivchain.symbolic.rules.RULES`, so every
    format writes the same names and functions.
    """

    _default_settings = {**MathMLPresentationPrinter._default_settings, "notation": None, "names": None}

    def __init__(self, settings=None):
        super().__init__(settings)
        self.dom = _Document()
        self._names = self._settings["names"] or {}
        self._notation = self._settings["notation"] or FLAT
        self._name_memo = memo.Memo(memo.PRINTED_NAMES)
        self._memo = memo.Memo(memo.PRINTED)
        self._widths = memo.Memo(memo.PRINTED_WIDTHS)

    # Building blocks.
    def el(self, tag: str, *children, **attrs) -> Node:
        """An element with ``children`` (nodes; strings become escaped text) and attributes."""
        node = self.dom.createElement(tag)
        for key, value in attrs.items():
            node.setAttribute(key, value)
        for child in children:
            if child is None:
                continue
            node.appendChild(self.dom.createTextNode(html.escape(child, quote=False)) if isinstance(child, str) else child)
        return node

    def mo(self, text: str, **attrs) -> Node:
        return self.el("mo", text, **attrs)

    def row(self, *children) -> Node:
        """An ``mrow`` of ``children`` (one child is returned as it is)."""
        kept = [c for c in children if c is not None]
        return kept[0] if len(kept) == 1 else self.el("mrow", *kept)

    def mtext(self, text: str) -> Node:
        return self.el("mtext", text)

    def parens(self, node: Node) -> Node:
        """``( node )``: stretching only around something taller than a line."""
        fixed = {} if _tall(node) else {"stretchy": "false"}
        return self.el("mrow", self.mo("(", **fixed), node, self.mo(")", **fixed))

    def parenthesize(self, item, level, strict=False):
        prec = precedence_traditional(item)
        return self.parens(self._print(item)) if prec < level or (not strict and prec <= level) else self._print(item)

    def times(self, left=None, right=None) -> Node:
        """Invisible times between two factors; a thin space beside a named function (W sign(u))."""
        named = any(isinstance(a, sp.Function) and not isinstance(a, sp.exp) for a in (left, right))
        return self.mo(TIMES, lspace="0.1667em") if named else self.mo(TIMES)

    def xml(self, node: Node) -> str:
        """``node`` as XML text: ASCII, any named entity SymPy wrote as its numeric reference."""
        text = _NAMED_ENTITY.sub(lambda m: m.group(0) if m.group(1) in _XML_ENTITIES else html.unescape(m.group(0)), node.toxml())
        return text.encode("ascii", "xmlcharrefreplace").decode("ascii")

    def doprint(self, expr) -> str:
        return self.xml(self._print(expr))

    # Names and functions, read from their LaTeX.
    def name(self, name: str) -> Node:
        """MathML for one symbol name, as the notation writes it (``W13`` -> W with subscript 13)."""
        hit = self._name_memo.get(name)
        if hit is None:
            tex = self._names.get(name)
            hit = self._name_memo.room()[name] = self.from_latex(tex if tex is not None else self._notation.latex(name))
        return hit

    def from_latex(self, tex: str, slots=()) -> Node:
        """MathML for the small LaTeX that names and function rules are written in: letters, digits,
        ``\\mathrm``/``\\operatorname``, Greek letters, ``^{}``/``_{}``, ``\\left``/``\\right``, and
        ``%s`` slots filled with ``slots`` in order."""
        tokens = [t for t in _TOKEN.findall(tex) if not t.isspace()]
        filled = iter(slots)
        pos = 0

        def group() -> list[Node]:
            nonlocal pos
            items: list[Node] = []
            while pos < len(tokens) and tokens[pos] != "}":
                base = atom()
                sub = sup = None
                while pos < len(tokens) and tokens[pos] in "^_":
                    mark = tokens[pos]
                    pos += 1
                    script = self.row(*(atom_group()))
                    if mark == "_":
                        sub = script
                    else:
                        sup = script
                if sub is not None and sup is not None:
                    base = self.el("msubsup", base, sub, sup)
                elif sub is not None:
                    base = self.el("msub", base, sub)
                elif sup is not None:
                    base = self.el("msup", base, sup)
                items.append(base)
            return items

        def atom_group() -> list[Node]:
            nonlocal pos
            if tokens[pos] == "{":
                pos += 1
                items = group()
                pos += 1  # the closing brace
                return items
            return [atom()]

        def atom() -> Node:
            nonlocal pos
            t = tokens[pos]
            pos += 1
            if t == "{":
                items = group()
                pos += 1
                return self.el("mrow", *items)
            if t in (r"\mathrm", r"\operatorname", r"\text"):
                # an escaped character (\_ in dec\_bias) is that character in MathML text
                word = "".join(t[1] if len(t) == 2 and t.startswith("\\") else t for t in tokens[pos + 1:tokens.index("}", pos)])
                pos = tokens.index("}", pos) + 1
                return self.el("mi", word, mathvariant="normal") if len(word) == 1 else self.el("mi", word)
            if t in (r"\left", r"\right"):
                delimiter = tokens[pos]
                pos += 1
                return self.mo(delimiter.lstrip("\\"))
            if t.startswith("\\") and len(t) > 2:
                word = t[1:]
                return self.el("mi", greek_unicode.get(word, word))
            if t == "%s":
                return next(filled)
            if t.isdigit():
                return self.el("mn", t)
            if t.isalpha():
                return self.el("mi", t)
            if t == ",":
                return self.mo(",", separator="true")
            return self.mo(t.lstrip("\\"))

        items = group()
        return self.row(*items) if items else self.el("mrow")

    def call(self, rule, args: list, power=None) -> Node:
        """A function of the rules table at ``args`` (SymPy expressions), as its LaTeX writes it."""
        shown = list(args if rule.max_arity is None else args[: rule.arity])
        printed = [self._print(a) for a in shown]
        if rule.latex_form == "around":
            node = self.from_latex(rule.latex, printed[: rule.latex.count("%s")])
        else:
            slots = rule.latex.count("%s") if rule.latex_form == "call" else 0
            head = self.from_latex(rule.latex, printed[len(printed) - slots:] if slots else ())
            if power is not None:
                head = self.el("msup", head, self._print(power))
                power = None
            inner = []
            for i, p in enumerate(printed[: len(printed) - slots]):
                if i:
                    inner.append(self.mo(",", separator="true"))
                inner.append(p)
            node = self.el("mrow", head, self.mo(APPLY), self.parens(self.row(*inner) if inner else self.el("mrow")))
        return node if power is None else self.el("msup", self.parens(node), self._print(power))

    # SymPy's objects.
    def _print(self, expr, **kwargs):
        # Derivations repeat many subexpressions (a neuron's factor, sign(Out - Y)): each is printed
        # once and shared (nothing printed is changed afterwards).
        if kwargs or not isinstance(expr, sp.Basic):
            return super()._print(expr, **kwargs)
        rule = rule_for(expr) if expr.args else None
        return remembered(self._memo, expr, lambda: self.call(rule, list(expr.args)) if rule is not None
                          else super(MathMLPrinter, self)._print(expr))

    def width(self, expr) -> int:
        """About how many characters wide ``expr`` prints (see :func:`width`)."""
        hit = self._widths.get(expr)
        if hit is None:
            hit = self._widths.room()[expr] = width(self._print(expr))
        return hit

    def _print_Symbol(self, expr, style="plain"):
        return self.name(expr.name)

    def _print_Exp1(self, expr):
        return self.el("mi", "e")

    def _print_Integer(self, expr):
        if expr < 0:
            return self.el("mrow", self.mo(MINUS), self.el("mn", str(-expr)))
        return self.el("mn", str(expr))

    def _print_Rational(self, expr):
        if expr.q == 1:
            return self._print_Integer(expr)
        frac = self.el("mfrac", self.el("mn", str(abs(expr.p))), self.el("mn", str(expr.q)))
        return self.el("mrow", self.mo(MINUS), frac) if expr < 0 else frac

    def _as_ordered_terms(self, expr, order=None):
        # The text and LaTeX printers' order (positive terms first): the same sum reads the same in every format.
        return ordered_terms(self, expr, order)

    def _print_Add(self, expr, order=None):
        terms = self._as_ordered_terms(expr, order=order)
        out = [self._print(terms[0])]
        for t in terms[1:]:
            negative = t.could_extract_minus_sign()
            out += [self.mo(MINUS if negative else "+"), self._print(-t if negative else t)]
        return self.el("mrow", *out)

    def _print_Pow(self, expr):
        rule = rule_for(expr.base) if expr.base.args else None
        if rule is not None and rule.latex_form == "operator" and expr.exp.is_Integer and expr.exp > 0:
            return self.call(rule, list(expr.base.args), expr.exp)  # tanh^2(u), as in LaTeX
        if expr.base.is_Symbol and expr.exp.is_Integer and expr.exp > 0:
            base = self._print(expr.base)
            if base.nodeName == "msub":  # O_11 squared: the 2 above the 11, not after it
                return self.el("msubsup", *base.childNodes, self._print(expr.exp))
            if base.nodeName in ("msup", "msubsup"):  # (w^2_12)^2
                return self.el("msup", self.parens(base), self._print(expr.exp))
        return super()._print_Pow(expr)

    def _needs_brackets(self, expr, first: bool = False) -> bool:
        if expr.is_Mul:
            return not first and expr.could_extract_minus_sign()
        if isinstance(expr, sp.Derivative):
            return False
        return precedence_traditional(expr) < PRECEDENCE["Mul"] or expr.is_Relational or expr.is_Piecewise

    def _factors(self, args) -> Node:
        out = []
        for i, a in enumerate(args):
            node = self._print(a)
            if self._needs_brackets(a, first=i == 0):
                node = self.parens(node)
            if i:
                out.append(self.mo(DOT) if a.is_Number and args[i - 1].is_Number else self.times(args[i - 1], a))
            out.append(node)
        return self.row(*out)

    def _print_Mul(self, expr):
        if expr.could_extract_minus_sign():
            inner = -expr
            body = self._print(inner)
            return self.el("mrow", self.mo(MINUS), self.parens(body) if inner.is_Add else body)
        split = activation_first(expr)  # H5 (1 - H5) W13, as the sources write it
        if split is not None:
            pairs, rest = split
            factors = pairs + ([rest] if rest != 1 else [])
            out = []
            for i, f in enumerate(factors):
                if i:
                    out.append(self.times(factors[i - 1], f))
                out.append(self._print(f) if i == len(pairs) and f.is_Mul else self.factor(f))
            return self.row(*out)
        numer, denom = sp.fraction(expr, exact=True)
        if denom is sp.S.One:
            return self._factors(expr.as_ordered_factors())
        return self.el("mfrac", self._convert(numer), self._convert(denom))

    def _convert(self, expr) -> Node:
        return self._factors(expr.as_ordered_factors()) if expr.is_Mul else self._print(expr)

    def _print_Derivative(self, expr):
        inner, (w, _) = expr.args[0], expr.args[1]
        if inner.is_Symbol:
            return self.partial(inner, w)
        d = self.el("mfrac", self.mo(PARTIAL), self.row(self.mo(PARTIAL), self._print(w)))
        return self.el("mrow", d, self.parens(self._print(inner)))

    # derivchain's pieces, as the LaTeX printer has them.
    def partial(self, numerator, denominator) -> Node:
        """The fraction d numerator / d denominator with partial signs."""
        return self.el("mfrac", self.row(self.mo(PARTIAL), self._print(numerator)),
                       self.row(self.mo(PARTIAL), self._print(denominator)))

    def factor(self, expr) -> Node:
        """One factor, parenthesised when it is a sum or a negative product."""
        node = self._print(expr)
        if isinstance(expr, sp.Expr) and (expr.is_Add or (expr.is_Mul and expr.could_extract_minus_sign())):
            return self.parens(node)
        return node

    def chain(self, factors) -> list[Node]:
        """A path's chain of partial-derivative fractions, one node per factor (the first bare, the
        others after a centred dot)."""
        return [self.partial(f.numerator, f.denominator) if i == 0 else
                self.row(self.lead(DOT), self.partial(f.numerator, f.denominator)) for i, f in enumerate(factors)]

    def lead(self, op: str) -> Node:
        """An operator that starts a piece of a wrapped line (+ t, = f): its space on the right only
        (the space between the pieces is on its left)."""
        return self.mo(op, lspace="0", rspace="0.2778em" if op in "=<>" else "0.2222em")


def _tall(node: Node) -> bool:
    if isinstance(node, Text):
        return False
    if node._tall is None:
        node._tall = node.nodeName in _TALL or any(_tall(c) for c in node.childNodes)
    return node._tall


def printer_settings(network) -> dict:
    """The settings that give ``network``'s names: its notation and the LaTeX it made."""
    return {"notation": network.notation, "names": network.latex_names}


def printer_for(network) -> MathMLPrinter:
    """A MathML printer in ``network``'s notation, one per network."""
    return memo.of(network)[memo.PRINTERS].lookup("mathml", lambda: MathMLPrinter(printer_settings(network)))


def mathml(obj, network=None) -> str:
    """Presentation MathML (the inside of a ``<math>`` element) for a SymPy expression."""
    if network is None:
        return MathMLPrinter().doprint(obj)
    with memo.working_for(network):
        return printer_for(network).doprint(obj)


# Forms: SymPy expressions, or products and sums in their own order (chains.Ordered, OrderedSum).
def _split_sign(printer: MathMLPrinter, node: Node) -> tuple[bool, Node]:
    """(True, the rest) when ``node`` starts with a minus sign; else (False, node)."""
    first = node.firstChild if isinstance(node, Element) else None
    if node.nodeName == "mrow" and first is not None and first.nodeName == "mo" and first.firstChild is not None \
            and first.firstChild.data in (MINUS, "-"):
        return True, printer.row(*node.childNodes[1:])
    return False, node


def _signed(printer: MathMLPrinter, node: Node, first: bool, lead: bool = True) -> Node:
    """A term after the first: its sign, then the term; ``lead``: the sign starts a piece of a line."""
    if first:
        return node
    negative, rest = _split_sign(printer, node)
    sign = MINUS if negative else "+"
    return printer.el("mrow", printer.lead(sign) if lead else printer.mo(sign), rest)


def form(printer: MathMLPrinter, f) -> Node:
    """One form as one node (past the printing limit, a note saying so)."""
    if not fits(f):
        return printer.mtext(f"[{too_large_note()}]")
    if isinstance(f, Ordered):
        sep = TIMES if f.compact else DOT
        out = []
        for x in f.factors:
            if out:
                out.append(printer.mo(sep))
            out.append(_factor(printer, x))
        return printer.row(*out)
    if isinstance(f, OrderedSum):
        return printer.el("mrow", *[_signed(printer, form(printer, t), i == 0, lead=False) for i, t in enumerate(f.terms)])
    return printer._print(f)


def _factor(printer, f) -> Node:
    if isinstance(f, OrderedSum):
        return printer.parens(form(printer, f)) if len(f.terms) > 1 else form(printer, f)
    if isinstance(f, Ordered):
        return form(printer, f)
    return printer.factor(f)


def width(node: Node) -> int:
    """About how many characters wide ``node`` shows (a fraction as wide as its wider part)."""
    if isinstance(node, Text):
        return len(html.unescape(node.data).replace(TIMES, "").replace(APPLY, ""))
    if node._width is None:
        parts = [width(c) for c in node.childNodes]
        if node.nodeName in ("mfrac", "munder", "mover", "munderover"):
            node._width = max(parts, default=0)
        elif node.nodeName in ("msub", "msup", "msubsup"):
            node._width = parts[0] + max(parts[1:], default=0)
        else:
            node._width = sum(parts)
    return node._width


def pieces(printer: MathMLPrinter, f, split: int = SPLIT) -> list[Node]:
    """A form as the pieces a line may wrap between: the terms of a sum (each after its sign), the
    factors of a path's chain, and inside a product wider than ``split`` characters with a sum in
    it, the other factors and then the sum's terms inside its brackets (as the LaTeX notes break a
    long product), again inside each such term. A short form is one piece."""
    if not fits(f):
        return [form(printer, f)]
    if isinstance(f, OrderedSum):
        out = []
        for i, t in enumerate(f.terms):
            sub = pieces(printer, t, split) if isinstance(t, Ordered) else [form(printer, t)]
            sub[0] = _signed(printer, sub[0], i == 0)
            out += sub
        return out
    if isinstance(f, Ordered):
        if f.compact:
            return [form(printer, f)]
        return [_factor(printer, x) if i == 0 else printer.row(printer.lead(DOT), _factor(printer, x))
                for i, x in enumerate(f.factors)]
    if isinstance(f, sp.Add):
        return _sum_pieces(printer, printer._as_ordered_terms(f), split)
    if isinstance(f, sp.Mul) and f.could_extract_minus_sign():
        sub = _product_pieces(printer, -f, split)
        if len(sub) > 1:
            sub[0] = printer.row(printer.mo(MINUS), sub[0])
            return sub
        return [printer._print(f)]
    return _product_pieces(printer, f, split)


def _sum_pieces(printer: MathMLPrinter, terms, split: int) -> list[Node]:
    out = []
    for i, t in enumerate(terms):
        negative = t.could_extract_minus_sign()
        sub = _product_pieces(printer, -t if negative else t, split)
        if i:
            sub[0] = printer.row(printer.lead(MINUS if negative else "+"), sub[0])
        elif negative:
            sub[0] = printer.row(printer.mo(MINUS), sub[0])
        out += sub
    return out


def _product_pieces(printer: MathMLPrinter, e, split: int) -> list[Node]:
    if e.is_Mul and not e.could_extract_minus_sign() and printer.width(e) > split:
        sums = [a for a in e.args if a.is_Add]
        # Only a sum wider than a piece is opened: a bracket that fits stays whole (a line that starts
        # inside (1 - tanh^2(c)) with "- tanh^2(c))" reads as a minus of the whole line).
        wide = [a for a in sums if printer.width(a) > split]
        if wide:
            inner = max(wide, key=printer.width)
            others = sp.Mul(*[a for a in e.args if a is not inner])
            out = _sum_pieces(printer, printer._as_ordered_terms(inner), split)
            head = None if others == 1 else printer.row(printer.factor(others), printer.times(others, inner))
            out[0] = printer.row(head, printer.mo("(", stretchy="false"), out[0])
            out[-1] = printer.row(out[-1], printer.mo(")", stretchy="false"))
            return out
    if (e.is_Mul and not e.could_extract_minus_sign() or isinstance(e, sp.Function)) and printer.width(e) > split:
        # A function of a sum wider than a piece (sign(Out - Y) with Out written out): its terms inside its brackets.
        call = _opened_call(printer, e, split)
        if call is not None:
            inner, opening = call
            others = sp.Mul(*[a for a in e.args if a is not inner]) if e.is_Mul else sp.Integer(1)
            out = _sum_pieces(printer, _flat_terms(printer, inner.args[0]), split)
            head = None if others == 1 else printer.row(printer.factor(others), printer.times(others, inner))
            out[0] = printer.row(head, *opening, out[0])
            out[-1] = printer.row(out[-1], printer.mo(")", stretchy="false"))
            return out
    if e.is_Mul and not e.could_extract_minus_sign() and printer.width(e) > split:
        sums = [a for a in e.args if a.is_Add]
        # between its factors (no sum wider than a piece): an activation's derivative beside its output, the others, each bracket
        if sums and not [a for a in sums if printer.width(a) > split]:
            pairs, rest = activation_first(e) or ([], e)
            rest = sp.Mul.make_args(rest)
            others = sp.Mul(*[a for a in rest if not a.is_Add])
            factors = [printer.row(printer.factor(pairs[i]), printer.times(pairs[i], pairs[i + 1]), printer.factor(pairs[i + 1]))
                       for i in range(0, len(pairs), 2)]
            factors += [] if others == 1 else [printer.factor(others)]
            factors += [printer.factor(a) for a in sorted((a for a in rest if a.is_Add), key=sort_key)]
            return [f if i == 0 else printer.row(printer.lead(DOT), f) for i, f in enumerate(factors)]
    return [printer._print(e)]


def _flat_terms(printer: MathMLPrinter, e) -> list:
    """A sum's terms in printing order, a sum inside it (kept unevaluated: (Out) - Y) opened into its own."""
    return [x for t in printer._as_ordered_terms(e) for x in (_flat_terms(printer, t) if t.is_Add else [t])]


def _opened_call(printer: MathMLPrinter, e, split: int):
    """(the call, the nodes before its argument: name, apply, bracket) for the widest factor of ``e`` (or ``e``) that
    is a function whose first argument is a sum wider than ``split``, printed name(x); else None."""
    calls = []
    for f in (e.args if e.is_Mul else (e,)):
        if isinstance(f, sp.Function) and f.args and f.args[0].is_Add and printer.width(f.args[0]) > split:
            node = printer._print(f.func(sp.Dummy("x"), *f.args[1:]))
            kids = node.childNodes if node.nodeName == "mrow" else []
            brackets = kids[-1].childNodes if len(kids) == 3 and kids[-1].nodeName == "mrow" else []
            if len(brackets) == 3 and all(b.nodeName == "mo" for b in (brackets[0], brackets[2])) \
                    and (brackets[0].firstChild.data, brackets[2].firstChild.data) == ("(", ")"):
                calls.append((f, (kids[0], kids[1], printer.mo("(", stretchy="false"))))
    return max(calls, key=lambda c: printer.width(c[0].args[0]), default=None)


# Rows of an aligned block: ("eq", lhs, relation, pieces), ("cont", pieces), ("text", segments),
# ("why", text or segments). A segment is free text (escaped) or a node (printed as inline math).
def _relation(printer, equal: bool, lead: bool = False) -> Node:
    mark = printer.lead("=") if lead else printer.mo("=")
    return mark if equal else printer.el("mover", mark, printer.mo("?"))


def chain_rows(printer: MathMLPrinter, c: Chain, lhs: Node | None = None) -> list[tuple]:
    """A checked chain: ``lhs = f1`` then ``= f2`` ..., a named rewrite's reason before its line."""
    lhs = lhs if lhs is not None else printer._print(c.lhs)
    rows: list[tuple] = []
    for i, f in enumerate(c.forms):
        if i and c.reasons[i]:
            rows.append(("why", _reason(printer, c.reasons[i])))
        rows.append(("eq", lhs if i == 0 else None, _relation(printer, i == 0 or c.links[i - 1].equal), pieces(printer, f)))
    return rows


def _reason(printer: MathMLPrinter, reason: str) -> str | list:
    """A chain's reason, capitalised and ending in a colon: words, or words and typeset mathematics where
    it holds some (a loss's rewrite: the sigmoid's Out (1 - Out))."""
    parts = getattr(reason, "parts", ())
    if not parts:
        return reason[0].upper() + reason[1:] + ":"
    segments = [p if isinstance(p, str) else printer._print(p) for p in parts] + [":"]
    if isinstance(segments[0], str):
        segments[0] = segments[0][:1].upper() + segments[0][1:]
    return segments


def path_rows(printer: MathMLPrinter, path, c: Chain, number: int) -> list[tuple]:
    """``path 1: W1 -> H1 -> ...`` and its chain of partials = the factors in path order = its term."""
    out = printer.chain(path.factors)
    for i, f in enumerate(c.forms):
        first, *rest = pieces(printer, f)
        out.append(printer.row(_relation(printer, i == 0 or c.links[i - 1].equal, lead=True), first))
        out += rest
    return [("text", [f"path {number}: ", arrow(printer, path)]), ("cont", out)]


def arrow(printer: MathMLPrinter, path) -> Node:
    """A path's nodes joined by arrows: ``W1 -> H1 -> Out -> Loss``."""
    nodes = []
    for s in path.nodes:
        if nodes:
            nodes.append(printer.mo(ARROW))
        nodes.append(printer._print(s))
    return printer.row(*nodes)


def derivation_rows(d, printer: MathMLPrinter) -> list[tuple]:
    """The derivation: paths, their sum, backprop with its deltas, the cases, the direct result."""
    p = printer._print
    rows: list[tuple] = []
    for i, (path, c) in enumerate(zip(d.paths, d.path_chains), start=1):
        rows += path_rows(printer, path, c, i)
    if not d.path_sum.listed_all:
        more = d.path_count - len(d.paths)
        rows.append(("text", [f"\u2026 {more} more path{'' if more == 1 else 's'} (raise --max-paths to list them)"]))
    rows.append(("text", ["Sum over paths" + ("" if d.path_sum.enumerated else f" ({d.path_sum.how})") + ":"]))
    rows += chain_rows(printer, d.sum_chain, p(d.lhs))
    rows.append(("text", ["Backpropagation:"]))
    rows += chain_rows(printer, d.entry_chain, p(d.lhs))
    for c in d.delta_chains:
        rows += chain_rows(printer, c)
        cond = d.conditional(c.lhs)
        if cond is not None:
            where = printer.row(p(cond.equation[0]), printer.mo("="), p(cond.equation[1]))
            verified = "" if cond.verdict.equal else ", NOT shown equal"
            rows.append(("text", ["where ", where, f" ({cond.condition}{verified}):"]))
            rows.append(("eq", p(c.lhs), printer.mo("="), pieces(printer, cond.value)))
    for case in d.cases():
        condition = printer.row(p(case.argument), printer.mo(">" if case.sign > 0 else "<"), printer.el("mn", "0"))
        rows.append(("text", ["For ", condition, ":"]))
        rows.append(("eq", p(d.lhs), printer.mo("="), pieces(printer, case.value)))
    # The LaTeX notes' choice of what to show, measured as they measure it: every format shows the same.
    tex = latex_printer(d.network)._print
    shown, label = shown_of(d).direct_shown, "Direct:"
    if shown is not None and visible_width(tex(shown)) > 2 * LINE_WIDTH:
        shown, label = shown_of(d).direct_compact, "Direct (whole neurons written as their symbols):"
    rows.append(("text", [label]))
    if shown is not None and visible_width(tex(shown)) <= 6 * LINE_WIDTH:
        rows.append(("eq", p(d.lhs), printer.mo("="), pieces(printer, shown)))
    else:
        rows.append(("text", ["not printed (too large; compared in full by the verdict)"]))
    return rows


def steps_rows(s, printer: MathMLPrinter) -> list[tuple]:
    """The step-by-step derivation: one rewriting a line, each reason before the line it gives."""
    steps = s.steps
    rows: list[tuple] = [("eq", printer._print(steps[0].expr), printer.mo("="), pieces(printer, steps[1].expr))]
    for k, st in enumerate(steps[2:], start=2):
        rows.append(("why", st.reason[0].upper() + st.reason[1:] + ":"))
        rows.append(("eq", None, _relation(printer, s.links[k - 1].equal), pieces(printer, st.expr)))
    return rows


def network_rows(net, printer: MathMLPrinter) -> list[tuple]:
    """The network's equations and its loss."""
    rows = [("eq", printer._print(n.symbol), printer.mo("="), pieces(printer, n.equation)) for n in net.neurons]
    rows.append(("eq", printer._print(net.loss_symbol), printer.mo("="), pieces(printer, net.loss_local)))
    return rows


def math(printer: MathMLPrinter, node: Node, display: bool = False) -> str:
    """A ``<math>`` element: a block, or inline (with full-size fractions)."""
    head = '<math display="block">' if display else '<math displaystyle="true">'
    return head + printer.xml(node) + "</math>"


def _segments(printer, segments) -> str:
    return "".join(html.escape(s) if isinstance(s, str) else math(printer, s) for s in segments)


def _pieces_html(printer, nodes) -> str:
    return " ".join(math(printer, n) for n in nodes)


def block(printer: MathMLPrinter, rows: list[tuple]) -> str:
    """Rows as an aligned block: left sides right-aligned, relations in a column, right sides wrapping
    between their pieces."""
    out = ['<div class="eqs">']
    for row in rows:
        if row[0] == "eq":
            _, lhs, rel, nodes = row
            out.append(f'<div class="l">{math(printer, lhs) if lhs is not None else ""}</div>'
                       f'<div class="r">{math(printer, rel)}</div><div class="e">{_pieces_html(printer, nodes)}</div>')
        elif row[0] == "cont":
            out.append(f'<div class="c">{_pieces_html(printer, row[1])}</div>')
        elif row[0] == "why":
            why = html.escape(row[1]) if isinstance(row[1], str) else _segments(printer, row[1])
            out.append(f'<div class="why">{why}</div>')
        else:
            out.append(f'<div class="t">{_segments(printer, row[1])}</div>')
    out.append("</div>")
    return "\n".join(out)


STYLE = """
.derivchain { font-family: "Latin Modern Roman", "STIX Two Text", "DejaVu Serif", Georgia, serif; line-height: 1.45;
  color: #111; max-width: 62rem; margin: 0 auto; padding: 1rem 1.5rem 3rem; }
.derivchain math { font-family: "Latin Modern Math", "STIX Two Math", "DejaVu Math TeX Gyre", math; font-size: 1.08em; }
.derivchain h1 { font-size: 1.7em; margin: .4em 0 .6em; }
.derivchain h2 { font-size: 1.3em; margin: 2em 0 .5em; border-bottom: 1px solid #ccc; padding-bottom: .2em; }
.derivchain h3 { font-size: 1.05em; margin: 1.3em 0 .3em; }
.derivchain .eqs { display: grid; grid-template-columns: max-content max-content minmax(0, 1fr); column-gap: .45em;
  row-gap: .4em; align-items: baseline; margin: .6em 0 .6em 1em; overflow-x: auto; overflow-y: hidden; padding: .15em 0; }
.derivchain .eqs .l { grid-column: 1; text-align: right; white-space: nowrap; }
.derivchain .eqs .r { grid-column: 2; }
.derivchain .eqs .e { grid-column: 3; padding-left: 1.6em; text-indent: -1.6em; }
.derivchain .eqs .c { grid-column: 1 / -1; padding-left: 3.2em; text-indent: -1.6em; }
.derivchain .wide { overflow-x: auto; }
@media print { .derivchain .eqs, .derivchain .wide { overflow: visible; } }
.derivchain .eqs .t { grid-column: 1 / -1; margin-top: .35em; }
.derivchain .eqs .why { grid-column: 2 / -1; font-size: .9em; font-style: italic; color: #444; }
.derivchain .diagram { margin: .8em 0; overflow-x: auto; }
.derivchain .diagram svg { max-width: 100%; height: auto; }
.derivchain table { border-collapse: collapse; margin: .6em 0; width: 100%; }
.derivchain th, .derivchain td { border-bottom: 1px solid #ddd; padding: .3em .7em; text-align: left; vertical-align: baseline; }
.derivchain td.n { text-align: right; }
.derivchain table.grads { table-layout: fixed; min-width: 36em; }
.derivchain .grads th:nth-child(1) { width: 7em; }
.derivchain .grads th:nth-child(2) { width: 3.5em; }
.derivchain .grads th:nth-child(3) { width: 10em; }
.derivchain .grads td.v { white-space: nowrap; }
.derivchain td.g { padding-left: 2.3em; text-indent: -1.6em; }
.derivchain a { color: #1a4d8f; text-decoration: none; }
.derivchain .verdict { margin: .8em 0; }
.derivchain .note { color: #333; }
.derivchain .bad { color: #b00; font-weight: bold; }
""".strip()

#: No script, no network: the page loads nothing but its inline style and inline SVG.
POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def _anchor(parameter) -> str:
    return "d-" + parameter.name


def _verdict(v) -> str:
    word = html.escape(v.word)
    word = f"<strong>{word}</strong>" if v.equal else f'<strong class="bad">{word}</strong>'
    return f'<p class="verdict">Verdict: {word} ({html.escape(v.method)}): {html.escape(v.detail)}.</p>'


#: The table's gradient column is narrower than a line: its products break from this many characters.
TABLE_SPLIT = 40


#: The head of the table of every derivative (and its end, :data:`GRADS_END`).
GRADS_HEAD = ('<div class="wide">\n<table class="grads">\n<thead><tr><th>derivative</th><th>paths</th><th>verdict</th>'
              "<th>gradient, by backpropagation</th></tr></thead>\n<tbody>")
GRADS_END = "</tbody>\n</table>\n</div>"
#: The head of a table in delta form (each gradient a source times a delta defined above it).
DELTA_GRADS_HEAD = GRADS_HEAD.replace("gradient, by backpropagation", "gradient, by backpropagation (delta form)")


#: What the notes' table says before its deltas.
NOTES_TABLE_NOTE = ("Each gradient below is the output of the node the parameter leaves times the delta of the neuron it "
                    "enters; each delta, the derivative of the loss by its neuron's weighted input, is defined once here, "
                    "from the outputs back, each equation verified.")


def delta_section(deltas, printer: MathMLPrinter) -> list[str]:
    """A table's delta equations, defined once: each delta in the next layer's deltas (its verified chain's first form)."""
    from .latex import delta_rows_note

    rows = [("eq", printer._print(c.lhs), _relation(printer, True), pieces(printer, c.forms[0])) for c in deltas]
    failed = [c for c in deltas if not c.verified]
    note = f"<p>{html.escape(delta_rows_note(deltas, 'here'))}</p>"
    warn = [f'<p class="bad">NOT verified: {html.escape(", ".join(str(c.lhs) for c in failed))}.</p>'] if failed else []
    return ["<h2>Deltas</h2>", note, *warn, block(printer, rows)]


def grads_row(d, printer: MathMLPrinter, link: bool = True, expand: bool = True, notes: bool = False) -> str:
    """One derivative's row: its parameter (``link``: to its section), path count, verdict and backprop form
    (``expand``; else its delta form, ``X1 delta_H1``; in ``notes``, one too long for a table left to the matrix
    equations)."""
    lhs = math(printer, printer._print(d.lhs))
    if link:
        lhs = f'<a href="#{html.escape(_anchor(d.parameter))}">{lhs}</a>'
    if notes and d.network.matrix is not None and _long_for_table(d):
        from .matrix_forms import LONG_CELL

        value = f'<em><a href="#matrix">{html.escape(LONG_CELL)}</a></em>'
    else:
        value = _pieces_html(printer, pieces(printer, d.backprop.local if expand else d.delta_form, TABLE_SPLIT))
    equal = Table.row_equal(d, expand)
    word = html.escape(Table.row_word(d, expand))
    word = word if equal else f'<span class="bad">{word}</span>'
    return (f'<tr><td>{lhs}</td><td class="n">{d.path_count}</td>'
            f'<td class="v">{word}<br><small>{html.escape(d.verdict.method)}</small></td><td class="g">{value}</td></tr>')


def _long_for_table(d) -> bool:
    from .matrix_forms import long_for_table  # here: rendering a derivation loads nothing of the matrix forms

    return long_for_table(d.network, d)


def table(network, derivations, printer: MathMLPrinter, detailed=None, expand: bool = True) -> str:
    """Every derivative: its parameter (linked to its section where it has one: ``detailed``, None for all), path
    count, backprop form in neuron symbols (``expand``; else in delta form), and verdict."""
    head = GRADS_HEAD if expand else DELTA_GRADS_HEAD
    rows = (grads_row(d, printer, detailed is None or d.parameter in detailed, expand=expand, notes=True) for d in derivations)
    return "\n".join([head, *rows, GRADS_END])


def partial_title(printer: MathMLPrinter, network, parameter) -> Node:
    """dLoss/dparameter with partial signs, on one line (a heading's)."""
    p = printer._print
    return printer.row(printer.mo(PARTIAL), p(network.loss_symbol), printer.mo("/"), printer.mo(PARTIAL), p(parameter))


def second_title(printer: MathMLPrinter, h) -> Node:
    """d2Loss/(dP dQ) with partial signs on one line (a heading's): the squared partial for a diagonal entry."""
    p = printer._print
    two = printer.el("msup", printer.mo(PARTIAL), printer.el("mn", "2"))
    below = [printer.mo(PARTIAL), printer.el("msup", p(h.first), printer.el("mn", "2"))] if h.first == h.second else \
        [printer.mo(PARTIAL), p(h.first), printer.mo(PARTIAL), p(h.second)]
    return printer.row(two, p(h.network.loss_symbol), printer.mo("/"), *below)


def pair_arrows(printer: MathMLPrinter, pair) -> str:
    """A pair of paths as inline math, ``W1 -> H1 -> Out | W13 -> Out``, and where they meet."""
    def joined(nodes):
        out = []
        for s in nodes:
            if out:
                out.append(printer.mo(ARROW))
            out.append(printer._print(s))
        return printer.row(*out)

    both = printer.row(joined(pair.first), printer.mo("|", lspace="0.5em", rspace="0.5em"), joined(pair.second))
    return f"{math(printer, both)} (meet at {math(printer, printer._print(pair.meet))})"


def diagram(network, parameter=None, label: str = "") -> str:
    """The network's picture as inline SVG (``parameter``: its paths in red), described by ``label``."""
    from .diagram import svg

    # Inline SVG takes its namespace from the HTML parser: the page names no URL at all.
    picture = svg(network, parameter).replace(' xmlns="http://www.w3.org/2000/svg"', "", 1)
    return f'<div class="diagram" role="img" aria-label="{html.escape(label)}">\n{picture}\n</div>'


def derivation_body(d, printer: MathMLPrinter) -> list[str]:
    """A derivation: the diagram with its paths in red, how many paths, the derivation, the verdict, the notes."""
    noun = "path" if d.path_count == 1 else "paths"
    out = [diagram(d.network, d.parameter, f"the network, the {noun} of {d.parameter.name} in red"),
           f"<p>{d.path_count} {noun} from {math(printer, printer._print(d.parameter))} to the loss.</p>",
           block(printer, derivation_rows(d, printer)),
           _verdict(d.verdict)]
    return out + [f'<p class="note"><em>Note.</em> {html.escape(note)}</p>' for note in derivation_notes(d)]


def derivation_section(d, steps, printer: MathMLPrinter) -> str:
    """One parameter: the diagram with its paths in red, the derivation, the verdict and notes, then
    the step-by-step derivation ``steps``."""
    net = d.network
    p = printer._print
    out = [f'<section id="{html.escape(_anchor(d.parameter))}">', f"<h2>{math(printer, partial_title(printer, net, d.parameter))}</h2>",
           *derivation_body(d, printer)]
    chain = steps
    start = printer.row(p(net.loss_symbol), printer.mo("="), p(net.loss_local))
    out += [f"<h3>Step by step, from {math(printer, start)}</h3>", block(printer, steps_rows(chain, printer)), "</section>"]
    return "\n".join(out)


def document(notes, title: str, snippet: bool = False) -> str:
    """The whole page of ``notes`` (or, with ``snippet``, its body in a ``<div>`` with its style, to paste into a page)."""
    network, derivations = notes.network, notes.derivations
    printer = printer_for(network)
    body = []
    if not snippet:
        body.append(f"<h1>{html.escape(clean(title))}</h1>")
    body += ['<section id="network">', "<h2>The network</h2>", f"<p>{_summary(network, printer)}.</p>",
             block(printer, network_rows(network, printer)), "</section>"]
    if notes.matrix_gradients:  # a matrix graph's backward pass, as the textbook writes it, right after the network
        body += _matrix_section(notes)
    body += ['<section id="derivatives">', "<h2>Every derivative</h2>", f"<p>{html.escape(NOTES_TABLE_NOTE)}</p>",
             block(printer, [row for c in notes.delta_chains for row in chain_rows(printer, c)]),
             table(network, derivations, printer, notes.detailed, expand=False), "</section>"]
    if notes.left_out:
        from .document import left_out_sentence

        body.append("<p>" + left_out_sentence(notes, html.escape, lambda c: f"<code>{html.escape(c)}</code>") + "</p>")
    body += [derivation_section(d, notes.steps(d), printer) for d in derivations if d.parameter in notes.detailed]
    if notes.pairs:
        body += second_section(notes)
    content = "\n".join(body)
    if snippet:
        return f'<div class="derivchain">\n<style>\n{STYLE}\n</style>\n{content}\n</div>\n'
    return page(title, content)


def _matrix_section(notes) -> list[str]:
    """The notes' matrix equations: for each matrix leaf, its chain from the loss back, each with its shape and check."""
    from ..model.notation import matrix_latex
    from .matrix_forms import MATRIX_INTRO, equation_latex, equation_note, summary

    printer = MathMLPrinter()
    out = ['<section id="matrix">', "<h2>Matrix equations</h2>", f"<p>{html.escape(MATRIX_INTRO)}</p>"]
    for g in notes.matrix_gradients:
        rows = []
        for e in g.chain:  # a table: each equation on a row of its own (a list ran tall fractions into each other)
            lhs, rhs = equation_latex(e)
            rows.append(f"<tr><td>{math(printer, tex(printer, lhs + ' = ' + rhs))}</td>"
                        f"<td>{html.escape(equation_note(e))}</td></tr>")
        title = math(printer, tex(printer, r"\partial L/\partial " + matrix_latex(g.parameter)))
        out += [f"<h3>{title} ({g.shape[0]}x{g.shape[1]})</h3>",
                '<div class="wide"><table><thead><tr><th>equation, from the loss back</th><th>shape; check</th></tr></thead>'
                f"<tbody>{''.join(rows)}</tbody></table></div>", f"<p><em>{html.escape(summary(g))}</em></p>"]
    return out + ["</section>"]


def page_head(title: str, style: str = STYLE) -> str:
    """A self-contained page up to its content: the policy (no script, nothing loaded), ``title``, the style."""
    return ("<!DOCTYPE html>\n"
            '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{html.escape(clean(title))}</title>\n<style>\n{style}\n</style>\n</head>\n"
            '<body>\n<main class="derivchain">\n')


#: What ends a page after its content.
PAGE_END = "</main>\n</body>\n</html>"


def page(title: str, content: str, style: str = STYLE) -> str:
    """One self-contained page holding ``content`` (HTML), titled ``title``."""
    return f"{page_head(title, style)}{content}\n{PAGE_END}\n"


# --- a page for each kind of result (``--format html``) ----------------------------------------------
_TEX_TOKEN = re.compile(r"\\[A-Za-z]+|\\.|\d+(?:\.\d+)?|[A-Za-z]|\s+|.", re.S)
#: TeX commands written as MathML operators.
_TEX_OPERATORS = {r"\partial": PARTIAL, r"\to": ARROW, r"\ni": "\u220b", r"\dots": "\u2026", r"\cdot": DOT, r"\odot": "\u2299",
                  r"\times": "\u00d7", r"\approx": "\u2248", r"\nabla": "\u2207", "-": MINUS, "'": "\u2032"}
_TEX_SPACES = {r"\,": "0.1667em", r"\;": "0.2778em", r"\ ": "0.25em", r"\quad": "1em", r"\qquad": "2em"}
_TEX_DELIMITERS = {r"\left", r"\right", r"\bigl", r"\bigr", r"\Bigl", r"\Bigr"}
_TEX_LARGE = {r"\sum": "\u2211"}


def tex(printer: MathMLPrinter, source: str) -> Node:
    """MathML for the LaTeX that the general equations and the matrix form's equations are written in:
    letters, numbers, Greek letters, ``^``/``_`` (under and over a sum), ``\\frac``, ``\\sqrt``, ``\\text``, ``\\mathrm``,
    ``\\mathbf``, spaces, delimiters and the operators in ``_TEX_OPERATORS``. Anything else is a ValueError
    (a new equation's LaTeX fails in the tests, not on a page)."""
    tokens = _TEX_TOKEN.findall(source)
    pos = 0

    def skip() -> None:
        nonlocal pos
        while pos < len(tokens) and tokens[pos].isspace():
            pos += 1

    def group() -> list[Node]:
        # Items up to the closing brace (or the end).
        items = []
        skip()
        while pos < len(tokens) and tokens[pos] != "}":
            items.append(scripted())
            skip()
        return items

    def argument() -> Node:
        nonlocal pos
        skip()
        if tokens[pos] != "{":
            return atom()
        pos += 1
        items = group()
        pos += 1  # the closing brace
        return printer.row(*items) if items else printer.el("mrow")

    def words() -> str:
        # The text of a {...} argument, spaces kept.
        nonlocal pos
        skip()
        end = tokens.index("}", pos)
        text = "".join(tokens[pos + 1:end])
        pos = end + 1
        return text

    def scripted() -> Node:
        nonlocal pos
        skip()
        large = tokens[pos] in _TEX_LARGE
        base, scripts = atom(), {}
        skip()
        while pos < len(tokens) and tokens[pos] in "^_":
            mark = tokens[pos]
            pos += 1
            scripts[mark] = argument()
            skip()
        if not scripts:
            return base
        under, over = ("munder", "mover") if large else ("msub", "msup")
        if len(scripts) == 2:
            return printer.el("munderover" if large else "msubsup", base, scripts["_"], scripts["^"])
        return printer.el(under, base, scripts["_"]) if "_" in scripts else printer.el(over, base, scripts["^"])

    def atom() -> Node:
        nonlocal pos
        skip()
        t = tokens[pos]
        if t == "{":
            return argument()
        pos += 1
        if t in (r"\frac", r"\tfrac"):
            return printer.el("mfrac", argument(), argument())
        if t == r"\sqrt":
            return printer.el("msqrt", argument())
        if t == r"\text":
            return printer.mtext(words())
        if t in (r"\mathrm", r"\operatorname"):
            word = words()
            return printer.el("mi", word, mathvariant="normal") if len(word) == 1 else printer.el("mi", word)
        if t == r"\mathbf":  # MathML Core draws no mathvariant but normal: the bold characters themselves
            word = words()
            return printer.el("mn" if word.isdigit() else "mi", "".join(_bold(c) for c in word))
        if t in _TEX_DELIMITERS:  # \Bigl( stretches over what it encloses; \left( stays the font's (as SymPy's brackets)
            skip()
            pos += 1
            fixed = {"stretchy": "false"} if t in (r"\left", r"\right") else {}
            return printer.mo(tokens[pos - 1].lstrip("\\"), **fixed)
        if t in _TEX_SPACES:
            return printer.el("mspace", width=_TEX_SPACES[t])
        if t in _TEX_LARGE:
            return printer.mo(_TEX_LARGE[t])
        if t in _TEX_OPERATORS:
            return printer.mo(_TEX_OPERATORS[t])
        if t.startswith("\\") and t[1:] in greek_unicode:  # capitals upright, as TeX sets them
            return printer.el("mi", greek_unicode[t[1:]], **({"mathvariant": "normal"} if t[1].isupper() else {}))
        if t.replace(".", "", 1).isdigit():  # 12, 0.5
            return printer.el("mn", t)
        if t.isalpha() and len(t) == 1:
            return printer.el("mi", t)
        if t in "()[]":  # a bracket written bare keeps its size (\left( stretches)
            return printer.mo(t, stretchy="false")
        if t in "=+,;:<>|/":
            return printer.mo(t)
        raise ValueError(f"no MathML for {t!r} in {source!r}")

    items = group()
    if pos < len(tokens):
        raise ValueError(f"unbalanced braces in {source!r}")
    return printer.row(*items) if items else printer.el("mrow")


def _bold(c: str) -> str:
    """The mathematical bold form of a digit or a Latin letter (others as they are)."""
    if c.isdigit():
        return chr(0x1D7CE + int(c))
    if c.isascii() and c.isalpha():
        return chr((0x1D400 if c.isupper() else 0x1D41A) + ord(c.lower()) - ord("a"))
    return c


_SCIENTIFIC = re.compile(r"(-?)([0-9.]+)e([+-]?)0*(\d+)")


def number_node(printer: MathMLPrinter, n) -> Node:
    """A value as the text output prints it: an exact fraction beside its decimal, a decimal (1.5e-5 as
    1.5 times 10 to the -5), a minus sign as a minus."""
    text = str(n)
    if " (~" in text:  # 1/3 (~0.333333333333333)
        exact, approx = text.split(" (~", 1)
        top, bottom = exact.split("/")
        frac = printer.el("mfrac", printer.el("mn", top.lstrip("-")), printer.el("mn", bottom))
        return printer.row(printer.mo(MINUS) if top.startswith("-") else None, frac, printer.mo("\u2248"),
                           number_node(printer, approx[:-1]))
    sign = printer.mo(MINUS) if text.startswith("-") else None
    scientific = _SCIENTIFIC.fullmatch(text)
    if scientific:
        _, mantissa, minus, power = scientific.groups()
        exponent = printer.row(printer.mo(MINUS) if minus == "-" else None, printer.el("mn", power))
        return printer.row(sign, printer.el("mn", mantissa), printer.mo("\u00d7"), printer.el("msup", printer.el("mn", "10"), exponent))
    return printer.row(sign, printer.el("mn", text.lstrip("-")))


def _three(printer: MathMLPrinter, lhs: Node, at) -> tuple:
    """``lhs = value`` of the three forms: once when they print the same, else each with its name."""
    shown = [str(at.path_sum), str(at.backprop), str(at.direct)]
    if shown[1:] == shown[:1] * 2:
        return ("eq", lhs, printer.mo("="), [number_node(printer, at.path_sum), printer.mtext("(all three forms)")])
    named = [(at.path_sum, "sum over paths"), (at.backprop, "backprop"), (at.direct, "direct")]
    return ("eq", lhs, printer.mo("="), [printer.row(number_node(printer, v), printer.el("mspace", width="0.3em"), printer.mtext(f"({name})"),
                                                     printer.mo(",") if i < 2 else None) for i, (v, name) in enumerate(named)])


def values_rows(at, printer: MathMLPrinter) -> list[tuple]:
    """A derivation's numbers: each neuron's z and output, the loss, each path's factors and term, the three results."""
    d = at.derivation
    p = printer._print
    rows: list[tuple] = []
    letter = preactivation_letter(d.network)
    for name, z, o in at.neurons:
        symbol = printer.name(name)
        if z is None:
            rows.append(("eq", symbol, printer.mo("="), [number_node(printer, o)]))
        else:
            rows.append(("eq", printer.el("msub", printer.el("mi", letter), symbol), printer.mo("="),
                         [printer.row(number_node(printer, z), printer.mo(",")), printer.row(symbol, printer.mo("="), number_node(printer, o))]))
    rows.append(("eq", p(d.network.loss_symbol), printer.mo("="), [number_node(printer, at.loss)]))
    for i, (path, (factors, term)) in enumerate(zip(d.paths, at.paths), start=1):
        product = [number_node(printer, f) if j == 0 else printer.row(printer.lead(DOT), number_node(printer, f)) for j, f in enumerate(factors)]
        rows += [("text", [f"path {i}: ", arrow(printer, path)]), ("cont", product + [printer.row(printer.lead("="), number_node(printer, term))])]
    rows.append(_three(printer, p(d.lhs), at))
    return rows


def batch_rows(b, printer: MathMLPrinter) -> list[tuple]:
    """A batch's numbers: the batch form (the reduction of the one symbolic form), each sample's results, the batch's."""
    d = b.derivation
    p = printer._print
    lhs, loss, s, m = p(d.lhs), p(d.network.loss_symbol), printer.el("mi", "s"), printer.el("mi", "m")
    total = printer.el("munderover", printer.mo("\u2211"), printer.row(s, printer.mo("="), printer.el("mn", "1")), m)
    lead = [printer.el("mfrac", printer.el("mn", "1"), m), total] if b.reduction == "mean" else [total]
    term = printer.el("msub", printer.row(printer.mo("["), form(printer, d.backprop.local), printer.mo("]")), s)
    if b.per_sample:  # a leaf each sample has its own of: the form for each sample, no reduction of it
        lead, term = [], printer.row(term, printer.el("mspace", width="0.3em"), printer.mtext("for each sample"),
                                     printer.el("mspace", width="0.3em"), s)
    rows: list[tuple] = [("eq", lhs, printer.mo("="), [printer.row(*lead, term, printer.mo(",")),
                                                        printer.row(m, printer.mo("="), printer.el("mn", str(len(b.samples))))])]
    for i, at in enumerate(b.samples, start=1):
        rows += [("text", [f"sample {i}:"]), ("eq", loss, printer.mo("="), [number_node(printer, at.loss)]), _three(printer, lhs, at)]
    rows += [("text", [f"batch ({b.reduction}):"]), ("eq", loss, printer.mo("="), [number_node(printer, b.loss)])]
    if not b.per_sample:
        rows.append(_three(printer, lhs, b))
    return rows


def _network_line(network) -> str:
    return f"<p>Network: {_summary(network, printer_for(network))}.</p>"


def _summary(network, printer) -> str:
    """The network in one line, its loss's formula typeset."""
    return _segments(printer, [x if isinstance(x, str) else printer._print(x) for x in summary_parts(network)])


def _warning(agree: bool) -> list[str]:
    from .text import DISAGREE

    return [] if agree else [f'<p class="bad">Warning: {html.escape(DISAGREE)}</p>']


def _names(printer: MathMLPrinter, symbols) -> str:
    return ", ".join(math(printer, printer._print(s)) for s in symbols) or "none"


def _matrix(printer: MathMLPrinter, cells: list[list[Node]]) -> Node:
    """A matrix of printed entries in square brackets."""
    rows = [printer.el("mtr", *[printer.el("mtd", c) for c in row]) for row in cells]
    return printer.row(printer.mo("["), printer.el("mtable", *rows), printer.mo("]"))


def _cell(printer: MathMLPrinter, v) -> Node:
    """A matrix entry: an expression (a sum in its own order with its signs between the terms), or a number."""
    if isinstance(v, OrderedSum) and fits(v):
        nodes = []
        for i, t in enumerate(v.terms):
            negative, rest = _split_sign(printer, form(printer, t)) if i else (False, form(printer, t))
            nodes += [printer.mo(MINUS if negative else "+"), rest] if i else [rest]
        return printer.row(*nodes)  # one row: each sign between two terms, spaced as a binary operator
    return form(printer, v) if isinstance(v, (sp.Basic, Ordered, OrderedSum)) else number_node(printer, v)


#: A column whose widest entry is wider than this (characters, see :func:`width`) is written entry by entry.
MATRIX_WIDTH = 44


def matrix_rows(printer: MathMLPrinter, lhs: str, name: str, m, shape: str) -> list[tuple]:
    """``lhs = [m]  (shape)`` (``lhs``, ``name`` and ``shape`` in LaTeX); a column of long expressions as the
    names of its entries, then each entry on its own line (wrapping between its terms)."""
    from ..engines.matrix import rows as rows_of

    entries = rows_of(m)
    cells = [[_cell(printer, v) for v in row] for row in entries]
    shown = printer.row(printer.el("mspace", width="1em"), tex(printer, shape))
    if len(cells[0]) > 1 or max(width(c) for (c,) in cells) <= MATRIX_WIDTH:
        return [("eq", tex(printer, lhs), printer.mo("="), [_matrix(printer, cells), shown])]
    names = [tex(printer, r"(%s)_{%d}" % (name, j)) for j in range(1, len(cells) + 1)]
    out = [("eq", tex(printer, lhs), printer.mo("="), [_matrix(printer, [[n] for n in names]), shown])]
    for n, (entry,) in zip(names, entries):
        out.append(("eq", n, printer.mo("="), pieces(printer, entry) if isinstance(entry, (sp.Basic, Ordered, OrderedSum))
                    else [number_node(printer, entry)]))
    return out


def _layer_label(printer: MathMLPrinter, layer) -> tuple:
    """``layer 1 (H1, H2):``; a long layer's neurons as the first two and the last."""
    names = [printer.name(x) for x in layer.names]
    if len(names) > 6:
        names = [*names[:2], printer.mo("\u2026"), names[-1]]
    segments: list = [f"layer {layer.index} ("]
    for i, n in enumerate(names):
        segments += [", "] * bool(i) + [n]
    return ("text", segments + ["):"])


def _shape(n: int, k: int) -> str:
    return r"(%d \times %d)" % (n, k)


def _product_shape(a: tuple, b: tuple) -> str:
    """``(n x k)(k x m) -> (n x m)``."""
    return r"%s%s \to %s" % (_shape(*a), _shape(*b), _shape(a[0], b[1]))


def _l2_rows(printer: MathMLPrinter, m) -> list[tuple]:
    """The L2 strength, as a line of text (none without --l2)."""
    if m.l2 is None:
        return []
    lam = sp.latex(sp.Rational(m.l2.numerator, m.l2.denominator))
    return [("text", ["L2: ", tex(printer, r"\lambda = %s" % lam), " (the loss adds ", tex(printer, r"\frac{\lambda}{2} \sum w^{2}"), ")"])]


def _l2_term(m, l: object) -> str:
    """`` + \\lambda W^{[l]}`` with --l2 (a batch summed: ``m \\lambda W^{[l]}``), else ""."""
    if m.l2 is None:
        return ""
    return r" + %s\lambda W^{[%s]}" % ("m " if getattr(m, "reduction", "mean") == "sum" else "", l)


def matrix_form_rows(m, printer: MathMLPrinter, batch: bool) -> tuple[list[tuple], list[tuple], list[tuple]]:
    """The matrix form (one sample, or a ``batch`` with a column per sample) as three blocks of rows: its
    equations, the forward pass and the backward pass, every shape beside its matrix."""
    L = len(m.layers)
    loss = latex_printer(m.network)._print(m.loss_symbol)
    z, a, delta = ("Z", "A", r"\Delta") if batch else ("z", "a", r"\delta")
    cols = m.size if batch else 1
    scale = r"\frac{1}{m} " if batch and m.reduction == "mean" else ""
    ones = r" \mathbf{1}" if batch else ""
    W = lambda l: r"W^{[%s]}" % l  # noqa: E731
    v = lambda name, l: r"%s^{[%s]}" % (name, l)  # noqa: E731
    dW = lambda l: r"\frac{\partial %s}{\partial %s}" % (loss, W(l))  # noqa: E731
    db = lambda l: r"\frac{\partial %s}{\partial %s}" % (loss, v("b", l))  # noqa: E731
    bias = m.layers[0].b is not None
    plus = lambda l: r" + %s%s" % (v("b", l), r" \mathbf{1}^{T}" if batch else "") if bias else ""  # noqa: E731
    recursion = lambda l: r"%s = \left((%s)^{T} %s\right) \odot f'(%s)" % (v(delta, l), W(l + 1), v(delta, l + 1), v(z, l))  # noqa: E731
    general = [r"%s = %s %s%s, \quad %s = f(%s)" % (v(z, "l"), W("l"), v(a, "l-1"), plus("l"), v(a, "l"), v(z, "l")),
               r"%s = \nabla_{%s} %s \odot f'(%s), \quad %s = \left((%s)^{T} %s\right) \odot f'(%s)" % (
                   v(delta, L), a, loss, v(z, L), v(delta, "l"), W("l+1"), v(delta, "l+1"), v(z, "l")),
               r"%s = %s%s (%s)^{T}%s" % (dW("l"), scale, v(delta, "l"), v(a, "l-1"), _l2_term(m, "l"))
               + (r", \quad %s = %s%s%s" % (db("l"), scale, v(delta, "l"), ones) if bias else "")]
    equations = []
    for line in general:
        left, right = line.split("=", 1)
        equations.append(("eq", tex(printer, left), printer.mo("="), [tex(printer, right)]))
    equations += _l2_rows(printer, m)
    first = m.layers[0]
    forward = matrix_rows(printer, v(a, 0), v(a, 0), m.inputs,
                          _shape(*first.A_prev_shape) if batch else _shape(len(first.sources), 1))
    for layer in m.layers:
        l, (n, k) = layer.index, layer.shapes["W"]
        forward.append(_layer_label(printer, layer))
        forward += matrix_rows(printer, W(l), W(l), layer.W, _shape(n, k))
        if layer.b is not None:
            forward += matrix_rows(printer, v("b", l), v("b", l), layer.b, _shape(n, 1))
        values = (layer.Z, layer.A) if batch else (layer.z_shown or layer.z, layer.a)
        forward += matrix_rows(printer, r"%s = %s %s%s" % (v(z, l), W(l), v(a, l - 1), plus(l) if layer.b is not None else ""),
                               v(z, l), values[0], _product_shape((n, k), (k, cols)))
        forward += matrix_rows(printer, r"%s = f(%s)" % (v(a, l), v(z, l)), v(a, l), values[1], _shape(n, cols))
    loss_value = m.loss_value
    if loss_value is not None:
        words = [printer.mtext(f"(the {m.reduction} over the samples)")] if batch else []
        forward.append(("eq", tex(printer, loss), printer.mo("="), [number_node(printer, loss_value), *words]))
    backward: list[tuple] = []
    for layer in reversed(m.layers):
        l, (n, k) = layer.index, layer.shapes["W"]
        backward.append(_layer_label(printer, layer))
        backward += matrix_rows(printer, r"f'(%s)" % v(z, l), r"f'(%s)" % v(z, l), layer.fprime, _shape(n, cols))
        if not batch and not m.at_values:  # the names the gradients use for the entries of delta^l
            names = sp.Matrix([sp.Symbol(f"delta_{x}") for x in layer.names])
            backward += matrix_rows(printer, v(delta, l), v(delta, l), names, _shape(n, 1))
        deltas = layer.Delta if batch else layer.delta_shown or layer.delta
        if l == L:
            grad = r"\nabla_{%s} %s" % ("A" if batch else "a", loss)
            backward += matrix_rows(printer, grad, grad, m.grad_A if batch else m.grad_a, _shape(n, cols))
            backward += matrix_rows(printer, r"%s = %s \odot f'(%s)" % (v(delta, l), grad, v(z, l)), v(delta, l), deltas, _shape(n, cols))
            if getattr(layer, "rewrite", ""):  # a batch's layers have none
                backward.append(("text", [f"({layer.rewrite})"]))
            if getattr(m, "conditionals", ()):
                c = m.conditionals[0]
                where = printer.row(printer._print(c.equation[0]), printer.mo("="), printer._print(c.equation[1]))
                backward.append(("text", ["where ", where, f" ({c.condition}):"]))
                backward += matrix_rows(printer, v(delta, l), v(delta, l), tuple((x.value,) for x in m.conditionals), _shape(n, cols))
        else:
            after = m.layers[l].shapes["W"][0]
            backward += matrix_rows(printer, recursion(l), v(delta, l), deltas, _product_shape((n, after), (after, cols)))
        backward += matrix_rows(printer, r"%s = %s%s (%s)^{T}%s" % (dW(l), scale, v(delta, l), v(a, l - 1), _l2_term(m, l)), dW(l),
                                layer.grad_W, _product_shape((n, cols), (cols, k)))
        if layer.grad_b is not None:
            backward += matrix_rows(printer, r"%s = %s%s%s" % (db(l), scale, v(delta, l), ones), db(l), layer.grad_b,
                                    _product_shape((n, cols), (cols, 1)) if batch else _shape(n, 1))
    return equations, forward, backward


def _ascii(text: str) -> str:
    """``text`` with every character outside ASCII as its numeric reference: the same bytes in any encoding."""
    return text.encode("ascii", "xmlcharrefreplace").decode("ascii")


#: The style of a result's page: the notes' and a column title over numbers set as they are.
PAGE_STYLE = STYLE + "\n.derivchain th.n { text-align: right; }"


class HtmlRenderer(StringRenderer):
    """HTML: each kind as one self-contained page, as ``export`` writes (MathML, inline SVG, no script,
    nothing loaded, the same style); a table as the page's table, written a row at a time."""

    def _page(self, title: str, parts: list[str]) -> str:
        return _ascii(page(title, "\n".join(parts), PAGE_STYLE))

    def _derivation(self, d, printer: MathMLPrinter) -> list[str]:
        return [f"<h1>{math(printer, partial_title(printer, d.network, d.parameter))}</h1>", _network_line(d.network),
                *derivation_body(d, printer)]

    @staticmethod
    def _title(d) -> str:
        return f"d{d.network.loss_symbol}/d{d.parameter}"

    def derivation(self, d) -> str:
        """``grad``: the network, the diagram with the paths in red, the derivation, the verdict, the notes."""
        return self._page(self._title(d), self._derivation(d, printer_for(d.network)))

    def derivation_at_values(self, at) -> str:
        """``grad --values``: the derivation, then its numbers."""
        from .text import arithmetic

        d = at.derivation
        printer = printer_for(d.network)
        parts = self._derivation(d, printer) + [f"<h2>At the given values ({arithmetic(at.exact, 'exact', at.digits)})</h2>",
                                                block(printer, values_rows(at, printer)), *_warning(at.agree)]
        return self._page(self._title(d), parts)

    def batch_at_values(self, b) -> str:
        """``grad --values`` with a batch: the derivation, then each sample's numbers and the batch's."""
        from .text import arithmetic

        d, m = b.derivation, len(b.samples)
        printer = printer_for(d.network)
        heading = f"At the given values: a batch of {m} sample{'s' if m != 1 else ''}, reduction {b.reduction} ({arithmetic(b.exact, 'exact', b.digits)})"
        parts = self._derivation(d, printer) + [f"<h2>{html.escape(heading)}</h2>", block(printer, batch_rows(b, printer)), *_warning(b.agree)]
        if b.note:
            parts.append(f"<p>Note: {html.escape(b.note)}</p>")
        return self._page(self._title(d), parts)

    def paths(self, listing) -> str:
        """``paths``: how many, the diagram with them in red, each listed path with its chain of partials."""
        from .text import more_paths, verified_chains

        net, printer = listing.network, printer_for(listing.network)
        noun = "path" if listing.count == 1 else "paths"
        rows: list[tuple] = []
        for i, (p, c) in enumerate(zip(listing.paths, verified_chains(listing)), start=1):
            rows += path_rows(printer, p, c, i)
        if len(listing.paths) < listing.count:
            rows.append(("text", [f"\u2026 {more_paths(listing.count - len(listing.paths))} not shown (raise --max-paths to see them)"]))
        name = math(printer, printer._print(listing.parameter))
        return self._page(f"{listing.count} {noun} from {listing.parameter} to the loss",
                          [f"<h1>{listing.count} {noun} from {name} to the loss</h1>", _network_line(net),
                           diagram(net, listing.parameter, f"the network, the {noun} of {listing.parameter.name} in red"), block(printer, rows)])

    def network(self, net) -> str:
        """``show``: the network, its diagram, its equations and loss, its outputs nested and expanded."""
        printer = printer_for(net)
        outputs: list[tuple] = []
        for n in net.outputs:
            symbol = printer._print(n.symbol)
            expanded = net.expanded_output(n)
            outputs += [("text", [symbol, " nested (each neuron written as its equation):"]),
                        ("eq", symbol, printer.mo("="), pieces(printer, net.substitution[n.symbol])),
                        ("text", [symbol, " expanded:"])]
            outputs.append(("eq", symbol, printer.mo("="), pieces(printer, expanded)) if expanded is not None
                           else ("text", ["not written out (more than 2000 terms)"]))
        return self._page("The network", [
            "<h1>The network</h1>", _network_line(net),
            f"<p>Inputs: {_names(printer, net.inputs)}; targets: {_names(printer, net.targets)}.</p>",
            f"<p>Parameters: {html.escape(net.describe_parameters(leaves=False))}.</p>",
            diagram(net, None, "the network"),
            "<h2>Equations</h2>", block(printer, network_rows(net, printer)),
            "<h2>Outputs</h2>", block(printer, outputs)])

    def formula(self, f) -> str:
        """``formula``: the general backpropagation equations, then their checked instance for one parameter."""
        net, printer = f.network, printer_for(f.network)
        rows: list[tuple] = []
        for line in f.latex:
            left, equals, right = line.partition("=")
            rows.append(("eq", tex(printer, left), printer.mo("="), [tex(printer, right)]) if equals else ("cont", [tex(printer, line)]))
        title = f"Backpropagation at an arbitrary layer ({f.where})"
        parts = [f"<h1>{html.escape(title)}</h1>", _network_line(net), block(printer, rows)]
        bp = f.instance
        if bp is not None:
            from .text import verified_chains

            entry, *deltas = verified_chains(f)
            instance = chain_rows(printer, entry)
            for c in deltas:
                instance += chain_rows(printer, c)
            parts += [f"<h2>For {math(printer, printer._print(bp.parameter))}</h2>", block(printer, instance)]
        return self._page(title, parts)

    def steps(self, s) -> str:
        """``steps``: the step-by-step derivation, each reason before the line it gives."""
        net, printer = s.network, printer_for(s.network)
        p = printer._print
        start = printer.row(p(net.loss_symbol), printer.mo("="), p(net.loss_local))
        return self._page(f"d{net.loss_symbol}/d{s.parameter}, step by step", [
            f"<h1>{math(printer, partial_title(printer, net, s.parameter))}, step by step</h1>", _network_line(net),
            f"<p>From {math(printer, start)}:</p>", block(printer, steps_rows(s, printer))])

    def descent(self, r) -> str:
        """``step``: each parameter's old value, gradient and new value, then the losses."""
        from .text import arithmetic, batch_words, learning_rate

        printer = printer_for(r.network)
        first, last = r.steps[0], r.steps[-1]
        n = len(r.steps)
        title = f"Gradient descent, lr = {learning_rate(r.lr)}, {n} step{'s' if n > 1 else ''} ({arithmetic(r.exact)})"
        value = lambda x: math(printer, number_node(printer, x))  # noqa: E731
        head = f'<th class="n">gradient{" (first step)" if n > 1 else ""}</th>'
        table = ['<div class="wide">', "<table>", f'<thead><tr><th>parameter</th><th class="n">old value</th>{head}<th class="n">new value</th></tr></thead>',
                 "<tbody>"]
        table += [f'<tr><td>{math(printer, printer.name(name))}</td><td class="n">{value(r.initial[name])}</td>'
                  f'<td class="n">{value(first.gradients[name])}</td><td class="n">{value(last.updated[name])}</td></tr>'
                  for name in r.trained]
        table += ["</tbody>", "</table>", "</div>"]
        parts = [f"<h1>{html.escape(title)}</h1>", _network_line(r.network)]
        if r.samples:
            words = batch_words(r)
            parts.append(f"<p>{html.escape(words[:1].upper() + words[1:])}; each loss is the whole batch's.</p>")
        parts += table
        if r.frozen:
            parts.append(f"<p>Kept fixed: {', '.join(math(printer, printer.name(name)) for name in r.frozen)}.</p>")
        loss = printer._print(r.network.loss_symbol)
        losses = [("before", first.loss)] + [(f"after step {i}", st.loss) for i, st in enumerate(r.steps[1:], start=1)]
        losses.append(("after", last.loss_after))
        rows = [("eq", printer.el("msub", loss, printer.mtext(when)), printer.mo("="), [number_node(printer, v)]) for when, v in losses]
        return self._page(title, parts + ["<h2>The loss</h2>", block(printer, rows)])

    def table_header(self, table) -> str:
        """The page up to the first row: the network, the delta equations (unless ``table.expand``) and the table's head."""
        deltas = [] if table.expand else delta_section(table.deltas, printer_for(table.network))
        return _ascii(page_head("Every derivative", PAGE_STYLE) + "\n".join(["<h1>Every derivative</h1>", _network_line(table.network),
                                                                            *deltas, GRADS_HEAD if table.expand else DELTA_GRADS_HEAD]))

    def table_row(self, d, expand: bool = False) -> str:
        """One derivative's row: parameter, path count, verdict, delta form (``expand``: backprop form)."""
        return _ascii(grads_row(d, printer_for(d.network), link=False, expand=expand))

    def table_footer(self, table) -> str:
        """The end of the table and of the page."""
        return GRADS_END + "\n" + PAGE_END

    def _matrix_page(self, title: str, m, batch: bool) -> str:
        from .text import matrix_check

        printer = printer_for(m.network)
        equations, forward, backward = matrix_form_rows(m, printer, batch)
        columns = "Z, A and Delta have a column per sample; " if batch else ""
        check = html.escape(matrix_check(m.check))
        check = check if m.check.equal else f'<span class="bad">{check}</span>'
        return self._page(title, [
            f"<h1>{html.escape(title)}</h1>", _network_line(m.network),
            f"<p>{columns}W<sup>[l]</sup> has a row per neuron of layer l and a column per neuron of layer l&#8722;1 (layer 0 is the input).</p>",
            block(printer, equations), "<h2>Forward pass</h2>", block(printer, forward), "<h2>Backward pass</h2>", block(printer, backward),
            f'<p class="verdict">{check}.</p>'])

    def matrix(self, m) -> str:
        """``matrix``: the forward pass, then the backward pass, layer by layer, every shape beside its matrix; the entry check."""
        from .text import arithmetic

        where = f" at the given values ({arithmetic(m.exact, 'exact')})" if m.at_values else ", symbolic"
        return self._matrix_page("Matrix form" + where, m, batch=False)

    def batch_matrix(self, b) -> str:
        """``matrix`` with a batch: as :meth:`matrix`, Z, A and Delta with a column per sample."""
        from .text import arithmetic

        return self._matrix_page(f"Matrix form over a batch of m = {b.size} sample{'s' if b.size != 1 else ''} ({b.reduction}, "
                                 f"{arithmetic(b.exact, 'exact')})", b, batch=True)

    def matrix_gradient(self, g) -> str:
        """``grad WQ`` on a matrix graph: a page with the chain of matrix equations, each with its shape and check."""
        from ..model.notation import matrix_latex
        from .matrix_forms import form_latex, rows_text, shape_text, summary

        printer = MathMLPrinter()
        rows = []
        for e in g.chain:
            equation = math(printer, tex(printer, r"\frac{\partial L}{\partial %s} = %s" % (matrix_latex(e.name), form_latex(e.form))))
            check = f"verified, {html.escape(e.method)}" if e.verified else "<strong>NOT verified</strong>"
            named = f"; rewrite: {html.escape(e.rewrite)}" if e.rewrite else ""
            rows.append(f"<li>{equation} ({shape_text(e.shape)}; {check}{named})</li>")
        rows = "".join(rows)
        parts = [f"<h1>dLoss/d{html.escape(g.parameter)} in matrix form</h1>",
                 f"<p>Network: {html.escape(g.network.summary())}</p>", f"<ol>{rows}</ol>", f"<p><strong>{html.escape(summary(g))}</strong></p>"]
        if g.at_values is not None:
            parts.append(f"<p>At the given values: <code>{html.escape(rows_text(g.at_values))}</code></p>")
        return self._page(f"dLoss/d{g.parameter}", parts)

    def verdict(self, v) -> str:
        """A verdict alone: a page with the verdict sentence."""
        return self._page(f"Verdict: {v.word}", [f"<h1>{html.escape(v.word.capitalize())}</h1>", _verdict(v)])

    def chain(self, c) -> str:
        """A chain alone: a page with its aligned rows."""
        printer = MathMLPrinter()
        return self._page(f"{c.lhs}", [f"<h1>{math(printer, printer._print(c.lhs))}</h1>", block(printer, chain_rows(printer, c))])

    def autograd(self, c) -> str:
        """``autograd``: a page with the entries as a table, the verdict, the first disagreement's path sum."""
        from .autograd import html_parts
        from .text import expr as text_expr

        return self._page("derivchain beside autograd", html_parts(c, text_expr))

    def check(self, c) -> str:
        """``check``: the answer (or each step) and the derivative, the verdict, the diagnosis, the counterexample."""
        printer = printer_for(c.network)
        title = partial_title(printer, c.network, c.parameter)
        return self._page(f"Checking {c.lhs}", [f"<h1>Checking {math(printer, title)}</h1>", _network_line(c.network),
                                                *check_body(c, printer)])

    def hessian(self, h) -> str:
        """``hessian P Q``: a page with the pairs, the forms as MathML, the verdict and the notes."""
        from .hessian import title

        return self._page(title(h), hessian_parts(h))

    def hessian_matrix(self, m) -> str:
        """``hessian --values``: a page with the sections, matrices as tables."""
        return self._page("Hessian", hessian_matrix_parts(m))

    def hessian_at_values(self, at) -> str:
        """``hessian P Q --values``: the entry's page, then its three numbers."""
        from .hessian import title

        return self._page(title(at.entry), hessian_parts(at.entry) + hessian_values(at))

    def exercise(self, ex) -> str:
        """An exercise sheet as one page: the network (picture and equations), the questions, and room to answer
        or (with solutions) each verified derivation and the numbers."""
        from .text import exercise_step_question

        net, printer = ex.network, printer_for(ex.network)
        command = f'derivchain check {ex.derivations[0].parameter} "YOUR ANSWER" {ex.options}'.rstrip()
        parts = [f"<h1>{html.escape(ex.title)}</h1>", _network_line(net), diagram(net, None, "the network"),
                 block(printer, network_rows(net, printer)),
                 "<p>Write each answer in the network's names (inputs, weights, biases, neurons, targets; sign, sigmoid, tanh, "
                 "relu, exp, log). Check an answer with</p>", f"<pre><code>{html.escape(command)}</code></pre>"]
        for i, d in enumerate(ex.derivations, start=1):
            parts.append(f"<h2>{i}. Find {math(printer, partial_title(printer, net, d.parameter))}</h2>")
            parts += derivation_body(d, printer) if ex.solutions else [ROOM]
        parts += [f"<h2>{len(ex.derivations) + 1}. One gradient-descent step</h2>", f"<p>{html.escape(exercise_step_question(ex))}</p>"]
        if ex.solutions:
            w = printer._print(ex.stepped)
            rows = values_rows(ex.at, printer) + [("eq", printer.row(printer.mtext("new "), w), printer.mo("="),
                                                   [number_node(printer, ex.updated)])]
            parts.append(block(printer, rows))
        else:
            parts.append(ROOM)
        return _ascii(page(ex.title, "\n".join(parts), PAGE_STYLE + "\n" + ROOM_STYLE))


#: Room to answer on a sheet, and its style.
ROOM = '<div class="room" role="region" aria-label="room for your answer"></div>'
ROOM_STYLE = ".derivchain .room { border: 1px solid #999; border-radius: 4px; min-height: 11em; margin: .6em 0 1.2em; }\n" \
             "@media print { .derivchain .room { break-inside: avoid; } }"


def check_body(c, printer: MathMLPrinter) -> list[str]:
    """A check's page after its network line: the answer or the steps, the derivative, the verdict, the
    diagnosis and the counterexample."""
    p = printer._print
    lhs = partial_title(printer, c.network, c.parameter)
    rows: list[tuple] = []
    if c.steps is None:
        rows += [("text", ["Your answer:"]), ("eq", lhs, printer.mo("="), pieces(printer, c.answer))]
    else:
        rows.append(("text", ["Your steps, each checked against the line before and against ", lhs, ":"]))
        for i, st in enumerate(c.steps):
            said = ([] if st.to_previous is None else [f"line before: {st.to_previous.word}"]) + [f"derivative: {st.to_derivative.word}"]
            rows += [("why", f"line {st.line} ({'; '.join(said)}):"), ("eq", lhs if i == 0 else None, printer.mo("="), pieces(printer, st.expr))]
    for r in c.readings:
        local = printer.row(printer.mo(PARTIAL), p(r.of), printer.mo("/"), printer.mo(PARTIAL), p(r.by))
        rows += [("text", ["Read as:"]), ("eq", local, printer.mo("="), pieces(printer, r.used)),
                 ("why", r.why), ("eq", local, printer.mo("="), pieces(printer, r.other))]
    rows += [("text", ["The derivative:"]), ("eq", lhs, printer.mo("="), pieces(printer, c.expected))]
    sentence = html.escape(c.sentence)
    strong = "<strong>" if c.correct else '<strong class="bad">'
    out = [block(printer, rows), f'<p class="verdict">Verdict: {strong}{sentence}</strong>.</p>']
    if c.diagnosis:
        head = "Diagnosis" + (f" of line {c.first_wrong_line}" if c.first_wrong_line is not None else "")
        items = []
        for f in c.diagnosis:
            found = "" if f.found is None or f.expected is None else \
                f" (found {math(printer, p(f.found))}, expected {math(printer, p(f.expected))})"
            items.append(f"<li><strong>{html.escape(f.kind)}</strong>: {html.escape(f.detail)}{found}</li>")
        out += [f"<h2>{head}</h2>", "<ul>", *items, "</ul>"]
    cx = c.counterexample
    if cx is not None:
        values = ", ".join(math(printer, printer.row(printer.name(k), printer.mo("="), number_node(printer, v))) for k, v in cx.values.items())
        out += ["<h2>Counterexample</h2>", f"<p>At {values}:</p>"]
        if cx.nodes:
            nodes = ", ".join(math(printer, printer.row(printer.name(k), printer.mo("="), number_node(printer, v))) for k, v in cx.nodes.items())
            out.append(f"<p>There {nodes}.</p>")
        what = "line" if c.first_wrong_line is not None else "answer"
        out.append(f"<p>Your {what} is {math(printer, number_node(printer, cx.answer))}; "
                   f"{math(printer, printer.row(lhs, printer.mo('='), number_node(printer, cx.expected)))}.</p>")
    return out


__all__ = ["MathMLPrinter", "HtmlRenderer", "printer_for", "mathml", "document", "page", "form", "pieces", "block", "tex",
           "derivation_rows", "steps_rows", "network_rows", "chain_rows", "path_rows", "table", "STYLE", "POLICY"]


# --- hessian P Q (issue 24) ---------------------------------------------------------------------------

def hessian_parts(h) -> list[str]:
    """The entry's page content: heading, network, pairs, forms as MathML, verdict, notes."""
    from .hessian import noun

    printer = printer_for(h.network)

    def m(e) -> str:  # past the printing limit, the note (as text's): a deep network's pair terms are huge trees
        return math(printer, form(printer, e))

    from .hessian import title

    lhs = math(printer, second_title(printer, h))  # typeset, as grad's page heading is
    parts = [f"<h1>{lhs}</h1>", _network_line(h.network),
             f"<p>{noun(h.pair_count, 'pair')} of paths from {html.escape(h.first.name)} and {html.escape(h.second.name)}:</p>", "<ol>"]
    parts += [f"<li>{pair_arrows(printer, p)}: {m(p.term)}</li>" for p in h.pairs]
    parts.append("</ol>")
    if not h.path_pairs.listed_all:
        parts.append(f"<p>\u2026 {h.pair_count - len(h.pairs)} more not shown (raise --max-paths to see them)</p>")
    parts.append(f"<p>Sum over pairs: {lhs} = {m(h.path_pairs.local)}</p>")
    parts.append(f"<p>Second-order backprop: {lhs} = {m(h.backprop.entry)} = {m(h.backprop.local)}</p><ul>")
    parts += [f"<li>{m(eq.lhs)} = {m(eq.rhs)}</li>" for eq in (*h.backprop.forward, *h.backprop.deltas)]
    parts.append("</ul>")
    shown, full = h.direct_shown[:2]
    parts.append("<p>Direct: not printed (too large; compared in full by the verdict)</p>" if shown is None else
                 f"<p>Direct{'' if full else ' (whole neurons written as their symbols)'}: {lhs} = {m(shown)}</p>")
    parts.append(_verdict(h.verdict))
    parts += [f"<p>Note: {html.escape(note)}</p>" for note in h.notes]
    return parts


def hessian_values(at) -> list[str]:
    """The three numbers as a list."""
    from .hessian import numbers

    rows = "".join(f"<li>{name}: {html.escape(str(n))}</li>" for name, n in numbers(at))
    return ["<h2>At the given values</h2>", f"<ul>{rows}</ul>"]


def hessian_matrix_parts(m) -> list[str]:
    """A full Hessian's sections (see :func:`derivchain.renderers.hessian.matrix_sections`) as HTML."""
    from .hessian import matrix_sections

    names = [p.name for p in m.parameters]
    printer = printer_for(m.network)
    parts = [f"<h1>Hessian of {math(printer, printer._print(m.network.loss_symbol))}</h1>", _network_line(m.network)]
    for heading, content in matrix_sections(m):
        if content is None or isinstance(content, str):
            parts.append(f"<p>{html.escape(heading)}{'' if content is None else ': ' + html.escape(content)}</p>")
        elif content and isinstance(content[0], tuple) and isinstance(content[0][0], str):
            items = "".join(f"<li>{html.escape(name)} = {html.escape(str(v))}</li>" for name, v in content)
            parts.append(f"<h2>{html.escape(heading)}</h2><ul>{items}</ul>")
        else:
            parts.append(f"<h2>{html.escape(heading)}</h2>{_named_matrix(names, content)}")
    return parts


def _named_matrix(names, rows) -> str:
    """A matrix as a table whose rows and columns are headed by the parameters' names."""
    head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
    body = "".join(f"<tr><th>{html.escape(n)}</th>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
                   for n, row in zip(names, rows))
    return f"<table><tr><th></th>{head}</tr>{body}</table>"


def second_section(notes) -> list[str]:
    """The notes' second derivatives (export --hessian P,Q): for each, the pairs of paths in two colours, the three
    forms, the verdict and notes; with values, the numbers and the block over P and Q with its parts."""
    import sympy as sp

    from ..symbolic.sizes import tree_size
    from .diagram import pair_layout, svg
    from .document import SECOND_EQUATIONS, SECOND_INTRO, SECOND_NODES, _meets
    from .hessian import at_values_heading, notes_sections, numbers, pair_intro, pairs_left

    out = ['<section id="second">', "<h2>Second derivatives</h2>", f"<p>{html.escape(SECOND_INTRO)}</p>"]
    for i, sd in enumerate(notes.second_derivatives, start=1):
        h = sd.entry
        printer = printer_for(h.network)

        command = "derivchain hessian " + " ".join(f'"{x.name}"' if "[" in x.name else x.name for x in (h.first, h.second))

        def m(e) -> str:  # bounded as the LaTeX notes are; long lines wrap between terms and factors
            if isinstance(e, sp.Basic) and tree_size(e, SECOND_NODES) > SECOND_NODES:
                return f"<em>(more than {SECOND_NODES} terms and factors: {html.escape(command)} prints it)</em>"
            return _pieces_html(printer, pieces(printer, e, TABLE_SPLIT))

        lhs = math(printer, second_title(printer, h))  # typeset, as the gradient sections' headings are
        picture = svg(pair_layout(h.network, h.first, h.second, _meets(h))).replace(' xmlns="http://www.w3.org/2000/svg"', "", 1)
        intro = "".join(html.escape(x) if isinstance(x, str) else math(printer, printer._print(x[1])) for x in pair_intro(h))
        out += [f'<section id="second-{i}">', f"<h3>{lhs}</h3>",
                f'<div class="diagram" role="img" aria-label="the network, the paths of {html.escape(h.first.name)} in red and '
                f'of {html.escape(h.second.name)} in blue">\n{picture}\n</div>', f"<p>{intro}</p>"]
        if h.pairs:
            out.append('<ol class="pairs">' + "".join(
                f"<li>{pair_arrows(printer, p)}:<br>= {m(p.term)}</li>" for p in h.pairs) + "</ol>")
        if pairs_left(h):
            out.append(f"<p>{html.escape(pairs_left(h))}</p>")
        out.append(f"<p>The sum over all pairs: {lhs} = {m(h.path_pairs.local)}</p>")
        rate = printer.row(printer._print(sp.Symbol("R")), printer.mo("="), printer.mo(PARTIAL), printer.mo("/"),
                           printer.mo(PARTIAL), printer._print(h.second))
        out.append(f"<p>Second-order backpropagation ({math(printer, rate)}): {lhs} = {m(h.backprop.entry)} = "
                   f"{m(h.backprop.local)}</p><ul>")
        equations = (*h.backprop.forward, *h.backprop.deltas)
        out += [f"<li>{m(eq.lhs)} = {m(eq.rhs)}</li>" for eq in equations[:SECOND_EQUATIONS]]
        if len(equations) > SECOND_EQUATIONS:
            out.append(f"<li>\u2026 and {len(equations) - SECOND_EQUATIONS} more equations ({html.escape(command)} prints them)</li>")
        out.append("</ul>")
        shown = h.direct_shown[0]
        out.append("<p>Direct: too large to print; the verdict compares it in full.</p>" if shown is None else
                   f"<p>Direct, {math(printer, partial_title(printer, h.network, h.first))} differentiated by "
                   f"{math(printer, printer._print(h.second))}: {lhs} = {m(shown)}</p>")
        out.append(_verdict(h.verdict))
        out += [f'<p class="note"><em>Note.</em> {html.escape(note)}</p>' for note in h.notes]
        if sd.at is not None:
            out.append(f"<p>{html.escape(at_values_heading(sd.at))}</p><ul>" + "".join(f"<li>{name}: {html.escape(str(n))}</li>"
                                                                  for name, n in numbers(sd.at)) + "</ul>")
        if sd.block is not None:
            names = [p.name for p in sd.block.parameters]
            for heading, content in notes_sections(sd.block):
                if content is None or isinstance(content, str):
                    out.append(f"<p>{html.escape(heading)}{'' if content is None else ': ' + html.escape(content)}</p>")
                else:
                    out.append(f"<p>{html.escape(heading)}:</p>{_named_matrix(names, content)}")
        out.append("</section>")
    return out + ["</section>"]
