"""LaTeX snippets for notes (amsmath ``align*``), built from the same checked chains as every format.

Each public function takes one kind of result and returns LaTeX text; ``*_lines`` functions return
the aligned lines that documents and Markdown reuse.
"""

from __future__ import annotations

import re

import sympy as sp
from sympy.printing.latex import LatexPrinter

from ..chains import Chain, Ordered, OrderedSum, fits, path_chain, too_large_note
from ..notation import FLAT
from ..rules import latex_call, rule_for
from .text import DISAGREE, arithmetic, remembered, batch_words, learning_rate, with_activation_first

_TEXT_ESCAPES = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "_": r"\_", "%": r"\%", "&": r"\&", "#": r"\#", "$": r"\$", "^": r"\^{}", "~": r"\~{}",
                 # In text mode with the default font encoding |, < and > print as other glyphs.
                 "|": r"\textbar{}", "<": r"\textless{}", ">": r"\textgreater{}"}


#: Visible characters of math that fit on a line of the exported documents (A4, 2 cm margins).
LINE_WIDTH = 62
_INVISIBLE = re.compile(r"\\(left|right|operatorname|mathrm|text|quad|qquad)\b|[{}]")
_COMMAND = re.compile(r"\\[a-zA-Z]+")


_WIDTHS: dict[str, int] = {}


def visible_width(tex: str) -> int:
    """A rough count of the characters a LaTeX math string shows (commands count as one, a fraction
    as its wider part)."""
    # Remembered (bounded): a table's rows measure the same shared sums and terms again and again.
    hit = _WIDTHS.get(tex)
    if hit is None:
        if len(_WIDTHS) > 20_000:
            _WIDTHS.clear()
        hit = _WIDTHS[tex] = _visible_width(tex)
    return hit


def _visible_width(tex: str) -> int:
    return len(_COMMAND.sub("x", _INVISIBLE.sub("", _fractions(tex))).replace("_", "").replace("^", ""))


def _group(tex: str, start: int) -> int:
    """The index just past the brace group that opens at ``tex[start]``."""
    depth = 0
    for i in range(start, len(tex)):
        depth += {"{": 1, "}": -1}.get(tex[i], 0)
        if depth == 0:
            return i + 1
    return len(tex)


def _fractions(tex: str) -> str:
    # \frac{a}{b} -> the wider of a and b (each written once, stacked).
    start = tex.find("\\frac{")
    if start < 0:
        return tex
    a_end = _group(tex, start + 5)
    if a_end >= len(tex) or tex[a_end] != "{":
        return tex[:a_end] + _fractions(tex[a_end:])
    b_end = _group(tex, a_end)
    a, b = _fractions(tex[start + 6:a_end - 1]), _fractions(tex[a_end + 1:b_end - 1])
    wider = a if visible_width(a) >= visible_width(b) else b
    return tex[:start] + "{" + wider + "}" + _fractions(tex[b_end:])


def _join_terms(terms: list[str]) -> str:
    out = terms[0]
    for t in terms[1:]:
        out += (" - " + t[1:].lstrip()) if t.startswith("-") else " + " + t
    return out


class DerivPrinter(LatexPrinter):
    """SymPy's LaTeX printer with a network's names (W_{13}, \\mathrm{Out}, \\delta_{H_{4}}).

    Settings: ``notation`` (a :class:`~derivchain.notation.Notation`) and ``names`` (name -> LaTeX,
    as the notation made them for one network); other names get the notation's own rule.
    """

    printmethod = "_latex"
    # intertext: reasons between aligned lines as \intertext (align* in documents); off inside an
    # aligned block (Markdown, notebooks, KaTeX), where a reason is a line of its own.
    # width: visible characters of a display line (None: LINE_WIDTH), for documents of another size.
    _default_settings = {**LatexPrinter._default_settings, "notation": None, "names": None, "intertext": True, "width": None}

    def __init__(self, settings=None):
        super().__init__(settings)
        self._memo: dict = {}
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

    def _as_ordered_terms(self, expr, order=None):
        # Sorting a sum's terms compares them: a table's rows break the same shared sums again and again.
        return list(remembered(self._memo, ("terms", expr, order), lambda: super(DerivPrinter, self)._as_ordered_terms(expr, order)))

    def name(self, name: str) -> str:
        """LaTeX for one symbol name, as the notation makes it: ``W13`` -> ``W_{13}``, ``w2_1_12`` -> ``w^{2}_{1,12}``."""
        tex = self._names.get(name)
        return tex if tex is not None else self._notation.latex(name)

    def _print_Mul(self, expr):
        return with_activation_first(self, expr, " ") or super()._print_Mul(expr)

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
                # {} makes the sign binary wherever the line starts (after \left. too): {}+ H_{6} W_{17}.
                out.append(r"&\quad {}%s" % ("- " + body[1:].lstrip() if body.startswith("-") else "+ " + body))
        return out

    def text(self, s: str) -> str:
        """Escape plain text for use inside \\text{...} (a power such as t^2 becomes a superscript)."""
        escaped = "".join(_TEXT_ESCAPES.get(c, c) for c in s)
        return re.sub(r"\\\^\{\}(\d+)", r"\\textsuperscript{\1}", escaped)

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
        if command:
            words = self.prose(parts) if parts else self.text(text[0].upper() + text[1:])
            return [r"\%s{\small %s:} %s" % ("intertext" if command is True else command, words, first_line)]
        return [r"&\text{\small %s:}" % self.text(text[0].upper() + text[1:]), first_line]

    def prose(self, parts, capital: bool = True) -> str:
        """A reason's parts (see :class:`derivchain.steps.Step`) as LaTeX prose: words as text, names
        and equations as mathematics, an activation as its derivative rule."""
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

    def _print_Factor(self, f) -> str:
        return self.partial(f.numerator, f.denominator)

    def _print_Path(self, p) -> str:
        return self.chain(p.factors)

    def _print_Verdict(self, v) -> str:
        word = r"\text{%s}" % v.word if v.decided else r"\textbf{undecided}"
        return r"%s\ (\text{%s})" % (word, self.text(v.method))


def printer_settings(network) -> dict:
    """The printer settings that give ``network``'s names: its notation and the LaTeX it made."""
    return {"notation": network.notation, "names": network.latex_names}


def printer_for(network, **settings) -> DerivPrinter:
    """A LaTeX printer in ``network``'s notation (with any other settings), one per network and
    settings: its memo of printed subexpressions serves every row of a table."""
    key = ("latex printer", tuple(sorted(settings.items())))
    printer = network.cache.get(key)
    if printer is None:
        printer = network.cache[key] = DerivPrinter({**printer_settings(network), **settings})
    return printer


def latex(obj, network=None, **settings) -> str:
    """LaTeX for any derivchain result or SymPy expression, in its network's notation."""
    if network is None:
        network = getattr(obj, "network", None) or getattr(getattr(obj, "derivation", None), "network", None)
    if network is not None:
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
        return r"\text{[%s]}" % printer.text(too_large_note())
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
        return [r"%s &= %s" % (prefix, form(printer, e))]
    if e.is_Mul and visible_width(p(e)) > width:
        # A long product with a sum inside: write the other factors, then the sum broken
        # across lines inside \left( ... \right. / \left. ... \right).
        sums = [f for f in e.args if f.is_Add]
        if sums:
            inner = max(sums, key=lambda f: visible_width(p(f)))
            others = sp.Mul(*[f for f in e.args if f is not inner])
            head = "" if others == 1 else ("-" if others == -1 else printer.factor(others)) + " "
            chunks = printer.broken_sum(prefix, [p(t) for t in printer._as_ordered_terms(inner)], width - visible_width(head))
            if len(chunks) > 1:
                first, rest = chunks[0], chunks[1:]
                lhs_part, rhs_part = first.split("&=", 1)
                out = [r"%s&= %s\left(%s\right." % (lhs_part, head, rhs_part.strip())]
                for i, line in enumerate(rest):
                    body = line.replace(r"&\quad ", "", 1)
                    close = r"\right)" if i == len(rest) - 1 else r"\right."
                    out.append(r"&\quad \left. %s %s" % (body, close))
                return out
    # Terms in the order the printer writes a sum, so a broken sum reads as the unbroken one.
    terms = [p(t) for t in printer._as_ordered_terms(e)] if e.is_Add else [p(e)]
    return printer.broken_sum(prefix, terms, width)


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
        lines.append(r"&\text{\dots\ %d more paths}" % (d.path_count - len(d.paths)))
    if not d.path_sum.enumerated:
        lines.append(r"&\text{%s:}" % printer.text(f"the sum over all {d.path_count} paths, accumulated by suffix"))
    lines += chain_lines(printer, d.sum_chain, lhs)
    lines.append(r"&\text{backprop:}")
    lines += chain_lines(printer, d.entry_chain, lhs)
    lines += delta_lines(printer, d.network, d.delta_chains)
    for case in d.cases():
        cond = r"%s %s 0" % (p(case.argument), ">" if case.sign > 0 else "<")
        lines.append(r"&\text{for } %s:" % cond)
        lines += expression_lines(printer, lhs, case.value)
    shown = d.direct_shown
    if shown is not None and visible_width(p(shown)) > 2 * LINE_WIDTH:
        shown = d.direct_compact
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


def delta_lines(printer, network, chains) -> list[str]:
    """Each delta's chain (delta = its recursion = its value), with its textbook form under a condition
    on the targets where the loss has one."""
    from ..derivation import conditional_deltas

    p = printer._print
    lines = []
    for c in chains:
        lines += chain_lines(printer, c)
        cond = conditional_deltas(network).get(c.lhs)
        if cond is not None:
            lines.append(r"&\text{where } %s = %s \text{ (%s):}" % (p(cond.equation[0]), p(cond.equation[1]), printer.text(cond.condition)))
            lines += expression_lines(printer, p(c.lhs), cond.value)
    return lines


def _comment(text: str) -> str:
    # A LaTeX comment ends at the line's end: keep free text on one line.
    return "% " + " ".join(text.split())


def notes(d, printer) -> str:
    """The verdict in full and the notes, as paragraphs after a derivation."""
    paragraphs = [r"\noindent Verdict: \emph{%s} (%s): %s.\par" % (printer.text(d.verdict.word), printer.text(d.verdict.method),
                                                                 printer.text(d.verdict.detail))]
    paragraphs += [r"\noindent\emph{Note.} %s\par" % printer.text(note) for note in d.notes()]
    return "\n".join(paragraphs)


def derivation(d) -> str:
    """The derivation as an ``align*`` block, with a comment naming the network, then the verdict and notes."""
    printer = printer_for(d.network)
    head = _comment(f"d{d.network.loss_symbol}/d{d.parameter}; {d.network.summary()}")
    return head + "\n" + align(derivation_lines(d, printer)) + "\n" + notes(d, printer)


def values_lines(at, printer) -> list[str]:
    """The numbers of a derivation as aligned lines."""
    d = at.derivation
    how = arithmetic(at.exact, "exact")
    lines = [r"&\text{%s}" % printer.text(f"At the given values ({how}):")]
    for name, z, o in at.neurons:
        sym = d.network.latex_name(name)
        lines.append(r"z_{%s} &= %s, \quad %s = %s" % (sym, _num(z), sym, _num(o)))
    lines.append(r"%s &= %s" % (printer._print(d.network.loss_symbol), _num(at.loss)))
    for path, (factors, term) in zip(d.paths, at.paths):
        lines.append(r"&%s: \quad %s = %s" % (r" \to ".join(printer._print(s) for s in path.nodes),
                                              r" \cdot ".join(_num(f) for f in factors), _num(term)))
    lhs = printer._print(d.lhs)
    lines.append(r"%s &= %s \quad \text{(sum over paths, backprop: %s; direct: %s)}" % (
        lhs, _num(at.path_sum), printer.text(str(at.backprop)), printer.text(str(at.direct))))
    if not at.agree:
        lines.append(r"&\text{\textbf{Warning:} %s}" % printer.text(DISAGREE))
    return lines


def _num(n) -> str:
    text = str(n)
    if " (~" in text:  # an exact fraction with its decimal: 1/3 (~0.333)
        exact, approx = text.split(" (~", 1)
        num, den = exact.split("/")
        return r"\frac{%s}{%s} \approx %s" % (num, den, approx.rstrip(")"))
    return text


def values(at) -> str:
    """``grad --values``: the numbers as an ``align*`` block."""
    return align(values_lines(at, printer_for(at.derivation.network)))


def derivation_at_values(at) -> str:
    """``grad --values``: the derivation, then its numbers."""
    return derivation(at.derivation) + "\n" + values(at)


def batch_lines(b, printer) -> list[str]:
    """A batch's numbers as aligned lines: the batch form (the reduction of the single-sample form), each
    sample's results, the batch's."""
    d = b.derivation
    m = len(b.samples)
    lhs = printer._print(d.lhs)
    how = arithmetic(b.exact, "exact")
    lead = r"\frac{1}{m}\sum_{s=1}^{m}" if b.reduction == "mean" else r"\sum_{s=1}^{m}"
    lines = [r"&\text{%s}" % printer.text(f"Batch of {m} sample{'s' if m != 1 else ''}, reduction {b.reduction} ({how}):"),
             r"%s &= %s \left[ %s \right]_{s}, \quad m = %d" % (lhs, lead, printer._print(d.backprop.local), m)]
    loss = printer._print(d.network.loss_symbol)
    for i, at in enumerate(b.samples, start=1):
        lines.append(r"&\text{sample %d:} \quad %s = %s, \quad %s = %s \quad \text{(sum over paths, backprop: %s; direct: %s)}" % (
            i, loss, _num(at.loss), lhs, _num(at.path_sum), printer.text(str(at.backprop)), printer.text(str(at.direct))))
    lines.append(r"&\text{batch (%s):} \quad %s = %s, \quad %s = %s \quad \text{(sum over paths, backprop: %s; direct: %s)}" % (
        b.reduction, loss, _num(b.loss), lhs, _num(b.path_sum), printer.text(str(b.backprop)), printer.text(str(b.direct))))
    if not b.agree:
        lines.append(r"&\text{\textbf{Warning:} %s}" % printer.text(DISAGREE))
    return lines


def batch_at_values(b) -> str:
    """``grad --values`` with a batch: the derivation, then the batch's numbers."""
    return derivation(b.derivation) + "\n" + align(batch_lines(b, printer_for(b.derivation.network)))


def paths_lines(listing, printer) -> list[str]:
    """The paths and their chains as aligned lines."""
    lines = []
    for i, p in enumerate(listing.paths, start=1):
        lines += path_lines(printer, p, path_chain(p), i)
    if len(listing.paths) < listing.count:
        more = listing.count - len(listing.paths)
        lines.append(r"&\text{\dots\ %d more path%s}" % (more, "" if more == 1 else "s"))
    return lines


def paths(listing) -> str:
    """The paths and their chains as an ``align*`` block."""
    return align(paths_lines(listing, printer_for(listing.network)))


def network_lines(net, printer) -> list[str]:
    """The network's equations and loss as aligned lines."""
    lines = [r"%s &= %s" % (printer._print(n.symbol), printer._print(n.equation)) for n in net.neurons]
    lines.append(r"%s &= %s" % (printer._print(net.loss_symbol), printer._print(net.loss_local)))
    return lines


def network(net) -> str:
    """The network's equations and loss as an ``align*`` block."""
    return _comment(net.summary()) + "\n" + align(network_lines(net, printer_for(net)))


def formula_lines(f, printer) -> list[str]:
    """The general equations, then their checked instance for one parameter."""
    lines = [line.replace("=", "&=", 1) for line in f.latex]
    bp = f.instance
    if bp is not None:
        from ..derivation import delta_chain, entry_chain

        lines.append(r"&\text{for } %s:" % printer._print(bp.parameter))
        lines += chain_lines(printer, entry_chain(f.network, bp))
        for eq in bp.deltas:
            lines += chain_lines(printer, delta_chain(f.network, eq))
    return lines


def formula(f) -> str:
    """``derivchain formula`` as an ``align*`` block."""
    return align(formula_lines(f, printer_for(f.network)))


def steps(s) -> str:
    """The step-by-step derivation as an ``align*`` block."""
    return align(steps_lines(s, printer_for(s.network)))


def descent_rows(r, printer) -> list[str]:
    """Rows ``name & old & gradient & new`` of the descent table."""
    first, last = r.steps[0], r.steps[-1]
    return [r"$%s$ & %s & %s & %s \\" % (r.network.latex_name(name), _num(r.initial[name]), _num(first.gradients[name]),
                                          _num(last.updated[name])) for name in r.trained]


def descent(r) -> str:
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


def table_header(table) -> str:
    """The opening of the table's ``align*`` block."""
    return _comment(table.network.summary()) + "\n{\\allowdisplaybreaks\n\\begin{align*}"


def table_row(d) -> str:
    """dLoss/dW = the backprop form (broken across lines when long), then its path count and verdict."""
    printer = printer_for(d.network)
    noun = "path" if d.path_count == 1 else "paths"
    lines = expression_lines(printer, printer._print(d.lhs), d.backprop.local)
    lines.append(r"&\qquad \text{(%d %s; %s)}" % (d.path_count, noun, printer.text(f"{d.verdict.word}, {d.verdict.method}")))
    return " \\\\\n".join(lines)


def table_footer(table) -> str:
    """The end of the table's block."""
    return "\\end{align*}\n}"


def bmatrix(printer, m) -> str:
    """A matrix as ``\\begin{bmatrix} ... \\end{bmatrix}`` (numbers at values, the network's symbols otherwise)."""
    from ..matrix import rows

    cell = lambda v: printer._print(v) if isinstance(v, sp.Basic) else _num(v)  # noqa: E731
    body = r" \\ ".join(" & ".join(cell(v) for v in row) for row in rows(m))
    return r"\begin{bmatrix} %s \end{bmatrix}" % body


def _shape(n: int, k: int) -> str:
    return r"%d \times %d" % (n, k)


def matrix_lines(m, printer) -> list[str]:
    """The matrix form as aligned lines: the forward pass, then the backward pass, each shape beside its matrix."""
    L = len(m.layers)
    loss = printer._print(m.loss_symbol)
    W = lambda l: r"W^{[%d]}" % l  # noqa: E731
    v = lambda name, l: r"%s^{[%d]}" % (name, l)  # noqa: E731
    dW = lambda l: r"\frac{\partial %s}{\partial %s}" % (loss, W(l))  # noqa: E731
    db = lambda l: r"\frac{\partial %s}{\partial %s}" % (loss, v("b", l))  # noqa: E731
    lines = [r"&\text{%s}" % printer.text("Forward pass:"),
             r"%s &= %s && (%s)" % (v("a", 0), bmatrix(printer, m.inputs), _shape(len(m.layers[0].sources), 1))]
    for layer in m.layers:
        l, (n, k) = layer.index, layer.shapes["W"]
        lines.append(r"%s &= %s && (%s)" % (W(l), bmatrix(printer, layer.W), _shape(n, k)))
        plus = ""
        if layer.b is not None:
            lines.append(r"%s &= %s && (%s)" % (v("b", l), bmatrix(printer, layer.b), _shape(n, 1)))
            plus = " + " + v("b", l)
        lines.append(r"%s = %s %s%s &= %s && (%s)(%s) \to (%s)" % (v("z", l), W(l), v("a", l - 1), plus, bmatrix(printer, layer.z),
                                                                   _shape(n, k), _shape(k, 1), _shape(n, 1)))
        lines.append(r"%s = f(%s) &= %s && (%s)" % (v("a", l), v("z", l), bmatrix(printer, layer.a), _shape(n, 1)))
    if m.loss_value is not None:
        lines.append(r"%s &= %s" % (loss, _num(m.loss_value)))
    lines.append(r"&\text{%s}" % printer.text("Backward pass:"))
    for layer in reversed(m.layers):
        l, (n, k) = layer.index, layer.shapes["W"]
        lines.append(r"f'(%s) &= %s && (%s)" % (v("z", l), bmatrix(printer, layer.fprime), _shape(n, 1)))
        if not m.at_values:  # the names the gradients use for the entries of delta^l
            names = sp.Matrix([sp.Symbol(f"delta_{x}") for x in layer.names])
            lines.append(r"%s &= %s && (%s)" % (v(r"\delta", l), bmatrix(printer, names), _shape(n, 1)))
        if l == L:
            lines.append(r"\nabla_{a} %s &= %s && (%s)" % (loss, bmatrix(printer, m.grad_a), _shape(n, 1)))
            lines.append(r"%s = \nabla_{a} %s \odot f'(%s) &= %s && (%s)" % (v(r"\delta", l), loss, v("z", l),
                                                                         bmatrix(printer, layer.delta), _shape(n, 1)))
        else:
            nxt = m.layers[l].shapes["W"][0]
            lines.append(r"%s = \left((%s)^{T} %s\right) \odot f'(%s) &= %s && (%s)(%s) \to (%s)" % (
                v(r"\delta", l), W(l + 1), v(r"\delta", l + 1), v("z", l), bmatrix(printer, layer.delta),
                _shape(n, nxt), _shape(nxt, 1), _shape(n, 1)))
        lines.append(r"%s = %s (%s)^{T} &= %s && (%s)(%s) \to (%s)" % (dW(l), v(r"\delta", l), v("a", l - 1),
                                                                    bmatrix(printer, layer.grad_W), _shape(n, 1), _shape(1, k), _shape(n, k)))
        if layer.grad_b is not None:
            lines.append(r"%s = %s &= %s && (%s)" % (db(l), v(r"\delta", l), bmatrix(printer, layer.grad_b), _shape(n, 1)))
    return lines


def matrix_verdict(m, printer) -> str:
    """The entry check as a paragraph."""
    from .text import matrix_check

    return r"\noindent %s.\par" % printer.text(matrix_check(m.check))


def matrix(m) -> str:
    """``derivchain matrix`` as an ``align*`` block (``bmatrix``, shapes on the right), then the entry check."""
    printer = printer_for(m.network)
    return _comment(f"matrix form; {m.network.summary()}") + "\n" + align(matrix_lines(m, printer)) + "\n" + matrix_verdict(m, printer)
