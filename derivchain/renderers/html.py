"""HTML notes: one self-contained page, math as presentation MathML, diagrams as inline SVG.

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

from ..engines.forms import Ordered, OrderedSum

from .fitting import fits, too_large_note
from ..model.notation import FLAT
from ..symbolic.rules import rule_for
from .latex import LINE_WIDTH, visible_width
from .latex import printer_for as latex_printer
from .text import activation_first, remembered
from .shown import notes as derivation_notes, shown as shown_of

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
                word = "".join(tokens[pos + 1:tokens.index("}", pos)])
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
    printer = printer_for(network) if network is not None else MathMLPrinter()
    return printer.doprint(obj)


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
        if sums:
            inner = max(sums, key=printer.width)
            others = sp.Mul(*[a for a in e.args if a is not inner])
            out = _sum_pieces(printer, printer._as_ordered_terms(inner), split)
            head = None if others == 1 else printer.row(printer.factor(others), printer.times(others, inner))
            out[0] = printer.row(head, printer.mo("(", stretchy="false"), out[0])
            out[-1] = printer.row(out[-1], printer.mo(")", stretchy="false"))
            return out
    return [printer._print(e)]


# Rows of an aligned block: ("eq", lhs, relation, pieces), ("cont", pieces), ("text", segments),
# ("why", text). A segment is free text (escaped) or a node (printed as inline math).
def _relation(printer, equal: bool, lead: bool = False) -> Node:
    mark = printer.lead("=") if lead else printer.mo("=")
    return mark if equal else printer.el("mover", mark, printer.mo("?"))


def chain_rows(printer: MathMLPrinter, c: Chain, lhs: Node | None = None) -> list[tuple]:
    """A checked chain: ``lhs = f1`` then ``= f2`` ..., a named rewrite's reason before its line."""
    lhs = lhs if lhs is not None else printer._print(c.lhs)
    rows: list[tuple] = []
    for i, f in enumerate(c.forms):
        if i and c.reasons[i]:
            rows.append(("why", c.reasons[i][0].upper() + c.reasons[i][1:] + ":"))
        rows.append(("eq", lhs if i == 0 else None, _relation(printer, i == 0 or c.links[i - 1].equal), pieces(printer, f)))
    return rows


def path_rows(printer: MathMLPrinter, path, c: Chain, number: int) -> list[tuple]:
    """``path 1: W1 -> H1 -> ...`` and its chain of partials = the factors in path order = its term."""
    arrow = []
    for s in path.nodes:
        if arrow:
            arrow.append(printer.mo(ARROW))
        arrow.append(printer._print(s))
    out = printer.chain(path.factors)
    for i, f in enumerate(c.forms):
        first, *rest = pieces(printer, f)
        out.append(printer.row(_relation(printer, i == 0 or c.links[i - 1].equal, lead=True), first))
        out += rest
    return [("text", [f"path {number}: ", printer.row(*arrow)]), ("cont", out)]


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
            out.append(f'<div class="why">{html.escape(row[1])}</div>')
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


def table(network, derivations, printer: MathMLPrinter) -> str:
    """Every derivative: its parameter, path count, backprop form in neuron symbols, and verdict."""
    out = ['<div class="wide">', '<table class="grads">', "<thead><tr><th>derivative</th><th>paths</th><th>verdict</th><th>gradient, by backpropagation</th></tr></thead>",
           "<tbody>"]
    for d in derivations:
        lhs = math(printer, printer._print(d.lhs))
        value = _pieces_html(printer, pieces(printer, d.backprop.local, TABLE_SPLIT))
        word = html.escape(d.verdict.word)
        word = word if d.verdict.equal else f'<span class="bad">{word}</span>'
        out.append(f'<tr><td><a href="#{html.escape(_anchor(d.parameter))}">{lhs}</a></td><td class="n">{d.path_count}</td>'
                   f'<td class="v">{word}<br><small>{html.escape(d.verdict.method)}</small></td><td class="g">{value}</td></tr>')
    out += ["</tbody>", "</table>", "</div>"]
    return "\n".join(out)


def derivation_section(d, printer: MathMLPrinter) -> str:
    """One parameter: the diagram with its paths in red, the derivation, the verdict and notes, then
    the step-by-step derivation."""
    from .diagram import svg
    from ..verification.steps import step_by_step

    net = d.network
    p = printer._print
    title = printer.row(printer.mo(PARTIAL), p(net.loss_symbol), printer.mo("/"), printer.mo(PARTIAL), p(d.parameter))
    noun = "path" if d.path_count == 1 else "paths"
    # Inline SVG takes its namespace from the HTML parser: the page names no URL at all.
    picture = svg(net, d.parameter).replace(' xmlns="http://www.w3.org/2000/svg"', "", 1)
    out = [f'<section id="{html.escape(_anchor(d.parameter))}">',
           f"<h2>{math(printer, title)}</h2>",
           f'<div class="diagram" role="img" aria-label="{html.escape(f"the network, the {noun} of {d.parameter.name} in red")}">\n{picture}\n</div>',
           f"<p>{d.path_count} {noun} from {math(printer, p(d.parameter))} to the loss.</p>",
           block(printer, derivation_rows(d, printer)),
           _verdict(d.verdict)]
    out += [f'<p class="note"><em>Note.</em> {html.escape(note)}</p>' for note in derivation_notes(d)]
    chain = step_by_step(net, d.parameter)
    start = printer.row(p(net.loss_symbol), printer.mo("="), p(net.loss_local))
    out += [f"<h3>Step by step, from {math(printer, start)}</h3>", block(printer, steps_rows(chain, printer)), "</section>"]
    return "\n".join(out)


def document(network, derivations, title: str, snippet: bool = False) -> str:
    """The whole page (or, with ``snippet``, its body in a ``<div>`` with its style, to paste into a page)."""
    printer = printer_for(network)
    body = []
    if not snippet:
        body.append(f"<h1>{html.escape(title)}</h1>")
    body += ['<section id="network">', "<h2>The network</h2>", f"<p>{html.escape(network.summary())}.</p>",
             block(printer, network_rows(network, printer)), "</section>",
             '<section id="derivatives">', "<h2>Every derivative</h2>", table(network, derivations, printer), "</section>"]
    body += [derivation_section(d, printer) for d in derivations]
    content = "\n".join(body)
    if snippet:
        return f'<div class="derivchain">\n<style>\n{STYLE}\n</style>\n{content}\n</div>\n'
    return ("<!DOCTYPE html>\n"
            '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{html.escape(title)}</title>\n<style>\n{STYLE}\n</style>\n</head>\n"
            f'<body>\n<main class="derivchain">\n{content}\n</main>\n</body>\n</html>\n')


__all__ = ["MathMLPrinter", "printer_for", "mathml", "document", "form", "pieces", "block", "derivation_rows",
           "steps_rows", "network_rows", "chain_rows", "path_rows", "table", "STYLE", "POLICY"]
