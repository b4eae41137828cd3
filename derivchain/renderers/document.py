"""Lecture notes: a whole LaTeX or Markdown document for a network and some of its parameters.

Both formats have the same sections: the network; a table of every derivative (parameter, number of
paths, gradient, verdict); the conventions, once (the kink of |u|, ReLU at 0, how a product is
written, what a verdict means); backpropagation's deltas, once; then for each parameter its paths
and their chains, the sum, the step-by-step derivation, the backprop form and the verdict, each
fact once. ``brief``: the network, the table, the conventions and backpropagation only.

Every formula is printed from the verified objects (chains, :class:`~derivchain.verification.derivation.Derivation`
fields, the step-by-step lines), never recomputed beside them; "the same" is said only where the
two expressions are the same and the links between them were verified.
"""

from __future__ import annotations

import re

import sympy as sp

from .. import limits
from ..record import record
from .shown import noted, summary_parts
from ..model.network import count
from . import markdown as md
from ..engines.forms import Ordered
from .latex import _factor as factor_of
from .latex import PAGE_WIDTH, align, chain_lines, delta_lines, expression_lines, form, network_lines, packed, printer_for, visible_width

#: The fonts a document beyond Latin uses, each checked before use (Debian: fonts-lmodern, from
#: texlive-latex-base; fonts-dejavu-core; fonts-wqy-microhei).
LUATEX_FONTS_USED = ("DejaVu Serif", "DejaVu Sans", "DejaVu Sans Mono", "WenQuanYi Micro Hei", "WenQuanYi Micro Hei Mono")

#: Packages an exported document (or a pasted snippet) needs; Debian: texlive-latex-base,
#: texlive-latex-recommended (mathtools, booktabs) and texlive-pictures (TikZ).
PACKAGES = r"""\usepackage{mathtools,amssymb}
\usepackage{graphicx,tikz}
\usepackage{array,longtable,booktabs}
"""

#: Start a new page unless ``#1`` is left on this one, so no heading or label ends a page (the
#: needspace package's method, written out: that package is not in Debian's base TeX Live).
NEEDSPACE = (r"\providecommand{\needspace}[1]{\par\begingroup\dimen0=#1\relax\vskip 0pt plus \dimen0"
             r"\penalty-100\vskip 0pt plus -\dimen0\vskip\dimen0\penalty9999\vskip-\dimen0\vskip 0pt\endgroup}")

PREAMBLE = (r"""\documentclass[10pt]{article}
\usepackage[a4paper,margin=2cm]{geometry}
""" + PACKAGES + r"""\usepackage[bookmarks=true,bookmarksdepth=2,bookmarksnumbered=true,bookmarksopen=true,bookmarksopenlevel=1,hidelinks,pdfcreator={derivchain}]{hyperref}
\allowdisplaybreaks
\setcounter{tocdepth}{1}
\setlength{\parindent}{0pt}
\setlength{\parskip}{3pt plus 2pt}
\makeatletter
% Notes, not a paper: less space around displays and headings, a contents list without gaps.
\g@addto@macro\normalsize{\setlength\abovedisplayskip{5pt plus 2pt minus 2pt}\setlength\belowdisplayskip{5pt plus 2pt minus 2pt}}
\renewcommand\subsection{\@startsection{subsection}{2}{\z@}{-2.5ex\@plus -1ex \@minus -.2ex}{1ex \@plus .2ex}{\normalfont\large\bfseries}}
\renewcommand*\l@section{\@dottedtocline{1}{0em}{1.5em}}
\makeatother
""" + NEEDSPACE + "\n")

#: The head of a document whose text holds letters beyond Latin (Greek, Cyrillic, CJK; see
#: renderers/glyphs.py): the first line tells editors (and ``export --pdf``) to run lualatex, pdflatex
#: stops at once with one line saying so; fontspec sets Latin Modern with DejaVu and WenQuanYi Micro Hei
#: behind it (luaotfload's fallback: a glyph Latin Modern lacks comes from the first font that has it),
#: each font checked first so that a missing one is named. Debian: texlive-luatex, fonts-dejavu-core,
#: fonts-wqy-microhei.
LUATEX_HEAD = r"""% !TEX program = lualatex
% derivchain notes: the text holds letters beyond Latin; compile with lualatex (fontspec, DejaVu and WenQuanYi Micro Hei fonts).
\RequirePackage{iftex}
\ifluatex\else\errmessage{Compile this document with lualatex (text beyond Latin)}\csname @@end\endcsname\fi
"""
#: Loaded after the class: the fonts (a family and the fallback chain behind it, per style of text).
LUATEX_FONTS = r"""\usepackage{fontspec}
\directlua{
  luaotfload.add_fallback("derivchainserif", {"DejaVu Serif:mode=node;", "WenQuanYi Micro Hei:mode=node;"})
  luaotfload.add_fallback("derivchainsans", {"DejaVu Sans:mode=node;", "WenQuanYi Micro Hei:mode=node;"})
  luaotfload.add_fallback("derivchainmono", {"DejaVu Sans Mono:mode=node;", "WenQuanYi Micro Hei Mono:mode=node;"})
}
""" + "".join(r"\IfFontExistsTF{%s}{}{\errmessage{Font %s not found}}" % (f, f) + "\n" for f in LUATEX_FONTS_USED) + r"""\setmainfont{Latin Modern Roman}[RawFeature={fallback=derivchainserif}]
\setsansfont{Latin Modern Sans}[RawFeature={fallback=derivchainsans}]
\setmonofont{Latin Modern Mono}[RawFeature={fallback=derivchainmono}]
"""

#: What a pasted snippet needs that a document may lack (each defined only when missing).
SNIPPET_HEAD = ("% derivchain notes: needs " + " ".join(PACKAGES.split()) + "\n"
                + NEEDSPACE + "\n" + r"\providecommand{\texorpdfstring}[2]{#1}" + "\n"
                + r"\providecommand{\shortintertext}{\intertext}" + "\n")

#: Visible characters of a gradient in a table column 8.4 cm wide (others in proportion).
TABLE_CHARS = 50
#: Paths listed beside the picture; more are listed below it.
PATHS_BESIDE = 8
#: A parameter's picture, as a fraction of the line width: beside its paths' chains, or above them.
PICTURE = 0.3
SMALL_PICTURE = 0.25
STACKED_PICTURE = 0.5
#: Visible characters of a path's chain beside the picture.
SIDE_WIDTH = 68
#: Visible characters of a display line in the document's size (10 pt on A4 with 2 cm margins).
DOCUMENT_WIDTH = PAGE_WIDTH
#: The same for a path's chain of partials and its product, on one line.
PATH_WIDTH = 90
#: The column of a step's reason, as a fraction of the line width; the characters of a line in it
#: (\small, estimated low so that a reason never runs into the next one); and the width left for
#: the step's expression.
REASON = 0.25
REASON_CHARS = 27
STEP_WIDTH = 50
#: The line width in points (A4, 2 cm margins) and the most a visible character of math takes (10 pt).
LINE_POINTS = 483
POINTS_PER_CHARACTER = 5.4
#: The width of a table's columns other than the gradient's and the verdict's (parameter, paths,
#: page, the space between columns), in cm.
TABLE_FIXED = 5.1


@record
class Page:
    """The line a LaTeX document is laid out for: its width in points; every width in characters above is
    for :data:`LINE_POINTS` and scales with it."""

    points: float

    def chars(self, a4: int) -> int:
        """``a4`` characters of the exported documents' line, on this one."""
        return a4 if self.points == LINE_POINTS else int(a4 * self.points / LINE_POINTS)

    @property
    def cm(self) -> float:
        """The width in cm (a TeX point is 1/72.27 inch)."""
        return round(self.points / 72.27 * 2.54, 1)


#: The exported documents (A4, 2 cm margins), and where a snippet is pasted: LaTeX's plain
#: ``article`` at 10 pt, whose text is 345 pt wide (so it fits any wider document too).
A4, ARTICLE = Page(LINE_POINTS), Page(345)


def label(parameter) -> str:
    """The LaTeX label (and Markdown anchor) of a parameter's section."""
    return "derivchain-" + re.sub(r"[^A-Za-z0-9]", "-", parameter.name)


def _partial(printer, network, parameter) -> str:
    # dLoss/dW in a line of text (a fraction would be too tall there).
    return r"\partial %s/\partial %s" % (printer._print(network.loss_symbol), printer._print(parameter))


def _verdict_sentence(d, text, strong: str) -> str:
    """``equal, by expansion (proved: the difference expands to 0).`` What was compared and how the
    method works are said once, before the table and in the conventions (see :func:`_how`)."""
    v = d.verdict
    if v.equal:
        return "%s, by %s (%s)." % (text(v.word), text(v.method), text(_how(v)[1]))
    return "%s (%s): %s." % (strong % text(v.word), text(v.method), text(v.detail))


def _how(v) -> tuple[str, str]:
    """An equal verdict's detail as (how the method works, what it found): the same for every
    parameter but the last part (random points: ``equal at 4 random exact points ...: polynomial
    identity, false-agreement chance below 1e-67``); ("", detail) when it has no such parts."""
    detail = v.detail.split(": ", 1)[1] if v.detail.startswith(", ".join(v.forms) + ": ") else v.detail
    if v.method == "random points mod p" and ": " in detail:
        how, result = detail.rsplit(": ", 1)
        return how, result
    return "", detail


def _methods(derivations, text, emphasis: str) -> str:
    """What a verdict's method means (random points: how they were drawn, from the first such verdict)."""
    how = next((h for h in (_how(d.verdict)[0] for d in derivations if d.verdict.equal) if h), "")
    random = "an exact test at random points modulo a large prime" + (f" ({text(how)})" if how else "")
    return ("A verdict names how equality was shown: %s and %s are proofs; %s is %s, with the chance of a false "
            "agreement it states; %s is evidence at high precision, not a proof. Direct differentiation is SymPy's "
            "derivative of the loss with every neuron substituted."
            % (emphasis % "identical", emphasis % "expansion", emphasis % "random points mod p", random, emphasis % "numeric"))


def _case_example(derivations, printer):
    """The derivation whose case split shows the convention: the first that is short, else the shortest."""
    with_cases = [d for d in derivations if d.cases()]
    if not with_cases:
        return None
    width = lambda d: visible_width(printer._print(d.cases()[0].value))  # noqa: E731
    return next((d for d in with_cases if width(d) <= 40), min(with_cases, key=width))


def _same_as_steps(d, s) -> bool:
    """True when backprop's form is, verified, the step-by-step derivation's last line."""
    entry = d.entry_chain
    return entry.verified and s.verified and len(entry.forms) > 1 and entry.forms[-1] == s.steps[-1].expr


def _path_rows(printer, d) -> list[tuple[str, str, str]]:
    """Each listed path's ``(1) dLoss/dOut * ...``, its relation and its product (factors in path order)."""
    rows = []
    for number, (path, c) in enumerate(zip(d.paths, d.path_chains), start=1):
        relation = "=" if not c.links or c.links[0].equal or len(c.forms) < 2 else r"\overset{?}{=}"
        rows.append((r"(%d)\quad %s" % (number, printer.chain(path.factors)), relation, form(printer, c.forms[0])))
    return rows


def _broken_product(printer, relation: str, f, width: int) -> list[str]:
    r"""``&\qquad = f`` for a path's product ``f``, broken before a factor where it would run past ``width``
    (continued with ``\cdot``): a product of long brackets is wider than a narrow page."""
    shown = form(printer, f)
    if visible_width(shown) <= width or not isinstance(f, Ordered) or f.compact:
        return [r"&\qquad %s %s" % (relation, shown)]
    lines = packed([factor_of(printer, x) for x in f.factors], width, 2) or [[]]
    return [r"&\qquad %s %s" % (relation, r" \cdot ".join(lines[0]))] + [r"&\qquad\quad {}\cdot %s" % r" \cdot ".join(l) for l in lines[1:]]


def _path_lines(rows, width: int, keep: str = r" \\*") -> list[str] | None:
    """The paths' chains as aligned lines of at most ``width`` characters: ``(1) ... &= product``, or
    when one is too long each product on a line of its own (``keep``: what ends the first line,
    no page break there); None when even that is too wide."""
    if all(visible_width(a) + visible_width(c) <= width for a, _, c in rows):
        return [r"%s &%s %s" % row for row in rows]
    if all(max(visible_width(a), visible_width(c) + 4) <= width for a, _, c in rows):
        return [r"&%s%s" % (a, keep) + "\n" + r"&\qquad %s %s" % (b, c) for a, b, c in rows]
    return None


# --- LaTeX -------------------------------------------------------------------------------------

def latex_document(notes, title: str, snippet: bool = False, brief: bool = False) -> str:
    """The document of ``notes`` (:class:`~derivchain.verification.notes.Notes`), or with ``snippet`` its body to
    paste into a document with :data:`PACKAGES`."""
    network, derivations = notes.network, notes.derivations
    page = ARTICLE if snippet else A4
    # A whole document keeps letters beyond Latin (and then says it needs lualatex); a snippet, pasted
    # into notes compiled with any engine, writes them as every engine typesets them.
    printer = printer_for(network, intertext="shortintertext", width=page.chars(DOCUMENT_WIDTH), beyond_latin=not snippet)
    body = _latex_network(network, printer, page)
    if notes.matrix_gradients:  # a matrix graph's backward pass, as the textbook writes it, right after the network
        body += _latex_matrix(notes, printer, snippet)
    body += _latex_table(network, derivations, printer, page, linked=not brief, detailed=notes.detailed)
    body += _latex_conventions(network, derivations, printer, page, brief)
    body += _latex_backprop(notes, printer, brief, snippet)
    if not brief:
        body += [r"\needspace{8\baselineskip}", r"\section{Each parameter}"]
        if notes.left_out:
            body.append(left_out_sentence(notes, printer.text, lambda c: r"\texttt{%s}" % printer.text(c)))
        for i, d in enumerate(_detailed(notes)):
            body += _latex_parameter(d, notes.steps(d), printer, page, snippet, first=i == 0)
    if notes.pairs:
        body += _latex_second(notes, printer, page, snippet)
    text = "\n".join(body) + "\n"
    if snippet:
        return SNIPPET_HEAD + text
    shown_title = printer.text(title)
    if text.isascii() and shown_title.isascii():  # pdflatex typesets it all (accented Latin as accent commands)
        pdf_title = re.sub(r"[^A-Za-z0-9 .,:;()+=-]", " ", title)
        preamble = PREAMBLE
    else:
        pdf_title = "".join(c if c.isalnum() or c in " .,:;()+=-" else " " for c in title)
        preamble = LUATEX_HEAD + PREAMBLE.replace("\n", "\n" + LUATEX_FONTS, 1)
    head = (preamble + r"\hypersetup{pdftitle={%s}}" % pdf_title + "\n\\begin{document}\n"
            + r"\begin{center}{\LARGE %s}\end{center}" % shown_title + "\n\\tableofcontents\n")
    return head + text + "\\end{document}\n"


def _latex_matrix(notes, printer, snippet: bool) -> list[str]:
    from .matrix_forms import MATRIX_INTRO, equation_latex, equation_note, summary

    out = [r"\needspace{8\baselineskip}", r"\section{Matrix equations}\label{derivchain-matrix}",
           r"$\odot$".join(printer.text(part) for part in MATRIX_INTRO.split("⊙"))]
    for g in notes.matrix_gradients:
        lines = []
        for e in g.chain:
            lhs, rhs = equation_latex(e)
            lines.append(r"%s &= %s && \text{%s}" % (lhs, rhs, printer.text(equation_note(e))))
        out += [r"\needspace{6\baselineskip}",
                r"\subsection*{\texorpdfstring{$\partial L/\partial %s$}{dL/d%s} (%dx%d)}" % (
                    _matrix_name(g.parameter), printer.text(g.parameter), g.shape[0], g.shape[1]),
                align(lines, breakable=snippet), r"\emph{%s}\par" % printer.text(summary(g))]
    return out


def _latex_network(network, printer, page: Page) -> list[str]:
    from .diagram import tikz

    equations = []
    # An equation too wide for the page (a matrix graph's loss sums every entry; a traced model's sums of long
    # names) is broken over lines: on one, it ran off the page.
    width = page.chars(DOCUMENT_WIDTH)
    for line, (symbol, expr) in zip(network_lines(network, printer),
                                    [(n.symbol, n.equation) for n in network.neurons] + [(network.loss_symbol, network.loss_local)]):
        equations += expression_lines(printer, printer._print(symbol), expr, width) if visible_width(line) > width else [line]
    picture = tikz(network, None, printer)
    inline = printer_for(network, fold_short_frac=True)._print  # a formula in a line of prose: (h - t)^2/2
    summary = "".join(printer.text(x) if isinstance(x, str) else "$%s$" % inline(x) for x in summary_parts(network, False))
    out = [r"\section{The network}", "The network: %s." % summary]
    if max(visible_width(l) for l in equations) <= page.chars(34):  # the equations fit beside the picture
        out.append(r"\begin{center}\begin{minipage}[c]{0.5\linewidth}%s\end{minipage}\hfill"
                   r"\begin{minipage}[c]{0.46\linewidth}\[\begin{aligned}%s\end{aligned}\]\end{minipage}\end{center}"
                   % (picture, r" \\ ".join(equations)))
    else:
        out.append(r"\begin{center}\begin{minipage}{0.62\linewidth}%s\end{minipage}\end{center}" % picture)
        out.append(align(equations))
    return out


def _cell(printer, e, width: int, slack: int = 6) -> str | None:
    """An expression broken into lines for a table cell (aligned, each continuation led by its sign);
    None when a piece of it that cannot be broken is wider than ``width`` (one line: and ``slack``)."""
    lines = expression_lines(printer, "", e, width)
    if len(lines) == 1:
        if visible_width(lines[0].split("&", 1)[-1]) > width + slack:
            return None
    # Broken: each line within the column, its indent counted (a line may be one whole factor now, as
    # dense as the estimate allows; a bracket over the column's edge ran into the verdict).
    elif max(visible_width(l.split("&", 1)[-1]) + 2 * l.count(r"\quad") + 4 * l.count(r"\qquad") for l in lines) > width:
        return None
    if len(lines) == 1:
        return "$%s$" % lines[0].split("&=", 1)[1].strip()
    lines[0] = "&" + lines[0].split("&=", 1)[1]
    return r"$\begin{aligned}[t]%s\end{aligned}$" % r" \\ ".join(lines)


def _table_intro(derivations, text, emphasis: str) -> str:
    """The sentence before the table; a method shared by every verdict is named there, once."""
    methods = {d.verdict.method for d in derivations}
    shared = ("; every verdict below is by " + emphasis % text(methods.pop())) if len(methods) == 1 else ""
    return ("Each gradient as backpropagation writes it: the output of the node the parameter leaves times the delta of "
            "the neuron it enters (each delta defined once, under Backpropagation; the delta form verified equal to the "
            "gradient); the verdict says whether the sum over paths, backpropagation and direct differentiation were "
            "shown equal, and how" + shared + ".")


def _table_verdict(d, shared: bool, text, strong: str, emphasis: str) -> str:
    if d.verdict.equal and not d.entry_chain.verified:  # the delta form printed was not shown equal to the gradient
        return strong % text("NOT shown")
    word = text(d.verdict.word) if d.verdict.equal else strong % text(d.verdict.word)
    return word if shared else "%s (%s)" % (word, emphasis % text(d.verdict.method))


def _latex_table(network, derivations, printer, page: Page, linked: bool, detailed=None) -> list[str]:
    loss = printer._print(network.loss_symbol)
    shared = len({d.verdict.method for d in derivations}) == 1
    verdict_width = 1.2 if shared else round(3.9 * page.chars(100) / 100, 1)
    grad = round(page.cm - TABLE_FIXED - verdict_width - (0.9 if linked else 0), 1)
    columns = r"@{}l r >{\raggedright\arraybackslash}p{%.1fcm} >{\raggedright\arraybackslash}p{%.1fcm}%s@{}" % (
        grad, verdict_width, " r" if linked else "")
    head = r"parameter & paths & $\partial %s / \partial w$ & verdict%s \\" % (loss, " & page" if linked else "")
    out = [r"\needspace{8\baselineskip}", r"\section{Every derivative}", _table_intro(derivations, printer.text, r"\emph{%s}"),
           r"\begin{longtable}{%s}" % columns, r"\toprule", head, r"\midrule", r"\endhead", r"\bottomrule", r"\endfoot"]
    chars = int(grad / 8.4 * TABLE_CHARS)
    for d in derivations:
        verdict = _table_verdict(d, shared, printer.text, r"\textbf{%s}", r"{\footnotesize %s}")
        ref = (r" & \pageref{%s}" % label(d.parameter) if detailed is None or d.parameter in detailed else " & ") if linked else ""
        if _long(network, d):
            cell = r"\emph{%s}" % printer.text(_long_cell())
        else:
            cell = _cell(printer, d.delta_form, chars, page.chars(6))
        # A row with a fraction: set full size, as in a display, with room above and below it (a tiny
        # inline fraction, or a tall one in a row of its own, touched the rows beside it).
        tall = r"\frac" in (cell or "") or cell is None and r"\frac" in printer._print(d.delta_form)
        if tall and out[-1] != _ROOM:
            out.append(_ROOM)
        if cell is not None and cell.startswith("$") and not cell.startswith(r"$\begin") and tall:
            cell = r"$\displaystyle " + cell[1:]
        out.append(r"$%s$ & %d & %s & %s%s \\" % (printer._print(d.parameter), d.path_count, cell or "(below)", verdict, ref))
        if cell is None:  # too wide for its column: on a line of its own, below its row
            lines = expression_lines(printer, "", d.delta_form, page.chars(DOCUMENT_WIDTH) - 4)
            lines[0] = "&" + lines[0].split("&=", 1)[1]
            out[-1] = out[-1][:-2] + r"\\*"
            out.append(r"\multicolumn{%d}{@{}l@{}}{\quad $\begin{aligned}[t]%s\end{aligned}$} \\" % (5 if linked else 4, r" \\ ".join(lines)))
        if tall:
            out.append(_ROOM)
    if out[-1] == _ROOM:
        out.pop()
    out.append(r"\end{longtable}")
    return out


#: The room above and below a table row that holds a fraction (booktabs).
_ROOM = r"\addlinespace[4pt]"


def _latex_conventions(network, derivations, printer, page: Page, brief: bool) -> list[str]:
    items = []
    if not brief:
        items.append("A path is written from the parameter to the loss, and the chain rule along it from the loss "
                     "back to the parameter, so that each denominator is the next numerator.")
    rules = list({n.activation.name: n.activation for n in network.neurons if n.activation.rule_tex}.values())
    if rules:
        items.append("An activation's derivative is written in the neuron's own output and kept beside the factor it "
                     "belongs to: " + "; ".join(a.rule_tex for a in rules) + ".")
    for x in noted(network):
        if x is not None:
            items.append(x.note_tex or printer.text(x.note[0].upper() + x.note[1:]))
    case = _case_example(derivations, printer)
    if case is not None:
        c = case.cases()[0]
        u = printer._print(c.argument)
        items.append(r"Where $%s > 0$ the factor $\operatorname{sign}(%s)$ in a gradient is $1$, where $%s < 0$ it is "
                     r"$-1$; for example, for $%s > 0$:" % (u, u, u, u)
                     # broken like every long expression (the shortest example can still be long)
                     + r"\[ \begin{aligned}%s\end{aligned} \]" % r" \\ ".join(
                         expression_lines(printer, printer._print(case.lhs), c.value, page.chars(DOCUMENT_WIDTH) - 8)))
    items.append(_methods(derivations, printer.text, "\\emph{%s}"))
    return ([r"\needspace{6\baselineskip}", r"\section{Conventions}\label{derivchain-conventions}",
             r"\begin{itemize}\setlength{\itemsep}{1pt}"] + [r"\item " + i for i in items] + [r"\end{itemize}"])


def _latex_backprop(notes, printer, brief: bool, snippet: bool) -> list[str]:
    network, derivations = notes.network, notes.derivations
    loss = printer._print(network.loss_symbol)
    out = [r"\needspace{8\baselineskip}", r"\section{Backpropagation}\label{derivchain-backprop}",
           r"The derivative by a weight is the output of the node the weight leaves times the delta of the neuron it "
           r"enters, $\delta = \partial %s/\partial z$ for the neuron's weighted input $z$ (by a bias: the delta "
           r"alone). The deltas, from the output back:" % loss]
    out.append(align(delta_lines(printer, notes.delta_chains, notes.conditional), breakable=snippet))
    if brief:
        out.append("So, for each parameter:")
        entries = [r"%s &= %s" % (printer._print(d.lhs), printer._print(d.backprop.entry)) for d in derivations]
        rows = [" & ".join(entries[i:i + 3]) for i in range(0, len(entries), 3)]
        out.append(align(rows, breakable=snippet))
    return out


def _latex_parameter(d, s, printer, page: Page, snippet: bool, first: bool = False) -> list[str]:
    from .diagram import tikz

    net, p = d.network, printer._print
    lhs = p(d.lhs)
    # The first follows its section's heading with no break between them (\needspace there would allow
    # one, leaving "Each parameter" alone at the foot of a page); the headings then go with the picture.
    out = ([] if first else [r"\needspace{6\baselineskip}"]) + [
           r"\subsection{\texorpdfstring{$%s$}{d%s/d%s}}\label{%s}" % (_partial(printer, net, d.parameter), printer.text(net.loss_symbol.name),
                                                                    printer.text(d.parameter.name), label(d.parameter))]
    picture = tikz(net, d.parameter, printer, caption=False)
    intro = r"%s from $%s$ to the loss, in red; the chain rule along %s:" % (
        count(d.path_count, "path").capitalize(), p(d.parameter), "each" if len(d.paths) > 1 else "it")
    if not d.paths:
        intro = r"%s from $%s$ to the loss, in red." % (count(d.path_count, "path").capitalize(), p(d.parameter))
    more = (r" \dots\ and %d more (raise \texttt{-{}-max-paths} to list them)." % (d.path_count - len(d.paths))
            if d.paths and not d.path_sum.listed_all else "")
    rows = _path_rows(printer, d)
    beside = _path_lines(rows, page.chars(SIDE_WIDTH), r" \\") if len(rows) <= PATHS_BESIDE else None
    if beside is not None:  # the chains beside the picture
        # {} first: with mathtools, an aligned block that opens with & cannot hold \operatorname.
        chains = r"\[\begin{aligned}{}%s\end{aligned}\]" % " \\\\\n".join(beside) if rows else ""
        size = PICTURE if len(rows) > 2 else SMALL_PICTURE  # a picture about as tall as its chains
        out.append(r"\begin{minipage}[c]{%.2f\linewidth}%s\end{minipage}\hfill\begin{minipage}[c]{%.2f\linewidth}%s%s%s\end{minipage}"
                   % (size, picture, 0.98 - size, intro, chains, more))
    else:
        out.append(r"\begin{center}\begin{minipage}{%s\linewidth}%s\end{minipage}\end{center}" % (STACKED_PICTURE, picture))
        out.append(intro)
        stacked = [r"&%s \\*" % a + "\n" + " \\\\*\n".join(_broken_product(printer, b, c.forms[0], page.chars(PATH_WIDTH) - 4))
                   for (a, b, _), c in zip(rows, d.path_chains)]
        out.append(align(_path_lines(rows, page.chars(PATH_WIDTH)) or stacked, breakable=snippet) + more)
    if d.path_count > 1 or not d.paths:
        what = "Their sum" if d.path_sum.listed_all else f"The sum over all {d.path_count} paths"
        if not d.path_sum.enumerated:
            what += ", accumulated by suffix (each shared tail added once)"
        out.append(printer.text(what) + ":")
        out.append(align(expression_lines(printer, lhs, d.sum_chain.forms[-1]) if d.sum_chain.verified
                         else chain_lines(printer, d.sum_chain, lhs), breakable=snippet))
    out.append(r"Step by step, each line with its reason:")
    out.append(_steps_block(s, printer, page, snippet))
    if _same_as_steps(d, s):
        out.append(r"Backpropagation gives the same expression as $%s = %s$%s." % (
            _partial(printer, net, d.parameter), p(d.backprop.entry), _once(d, p, r" (Section~\ref{derivchain-backprop})")))
    else:
        out.append(r"Backpropagation (Section~\ref{derivchain-backprop}):")
        out.append(align(chain_lines(printer, d.entry_chain, lhs), breakable=snippet))
    out.append(r"\emph{Verdict:} " + _verdict_sentence(d, printer.text, r"\textbf{%s}"))
    return out


def _pitch(row: str) -> float:
    # The height of an aligned line in points (10 pt): with a fraction about 26, else 15.
    return 26 if r"\frac" in row else 15


def _steps_block(s, printer, page: Page, snippet: bool) -> str:
    """The step-by-step derivation flush left, each line's reason beside it on the right.

    The reasons form a column at the right margin, as wide as the steps leave free; a reason hangs
    down from its line over the lines its step breaks into (blank lines are added when it is longer;
    no page break under it). When a step is too wide to leave room for the column (one term that
    cannot be broken), every reason is written above its step instead.
    """
    steps, p = s.steps, printer._print
    width = page.chars(STEP_WIDTH)
    first = expression_lines(printer, p(steps[0].expr), steps[1].expr, width)
    lhs = visible_width(p(steps[0].expr)) + 2  # the column before the equals signs
    plans = []
    for k, st in enumerate(steps[2:], start=2):
        body = expression_lines(printer, "", st.expr, width)
        used = (lhs + max(visible_width(b.split("&", 1)[-1]) for b in body)) * POINTS_PER_CHARACTER + 12
        plans.append((k, st, body, 1 - used / page.points))

    def lines(st, share):  # a reason's lines at that width, estimated
        return -(-len(st.reason) * REASON // (page.chars(REASON_CHARS) * share))

    def blanks(body, n):  # blank lines for a reason of n lines to hang over
        pitch, extra = sum(_pitch(b) for b in body), 0
        while 1 + (pitch - 9) / 11 < n:
            pitch, extra = pitch + 15, extra + 1
        return extra

    # One layout for the whole derivation: the reasons beside it when every step leaves room for them,
    # in a column as wide as the narrowest room; else every reason above its step.
    share = min([0.5] + [round(f - 0.005, 2) for *_, f in plans])
    beside = share >= REASON
    rows = [first]
    for k, st, body, free in plans:
        wide = not beside
        if wide:
            body = expression_lines(printer, "", st.expr)
        if not s.links[k - 1].equal:
            body[0] = body[0].replace("&=", r"&\overset{?}{=}", 1)
        if wide:
            rows.append(printer.reason(st.reason, body[0], st.parts) + body[1:])
            continue
        words = printer.prose(st.parts) if st.parts else printer.text(st.reason[0].upper() + st.reason[1:])
        n = lines(st, share)
        body += ["&"] * blanks(body, n)
        # A box of no width at the right margin, the reason hanging from it to the left.
        body[0] += r" && \llap{\smash[b]{\parbox[t]{%.2f\linewidth}{\raggedright\small %s}}}" % (share, words)
        covered = 1 - 9 / 11
        for i in range(len(body) - 1):  # no page break under the lines the reason hangs over
            if covered >= n:
                break
            covered += _pitch(body[i]) / 11
            body[i] += r" \\*"
        rows.append(body)
    text = " \\\\\n".join(_rows(step) for step in rows)
    block = "\\begin{flalign*}\n" + text + "\n\\end{flalign*}"
    return "{\\allowdisplaybreaks\n" + block + "\n}" if snippet else block


def _rows(lines: list[str]) -> str:
    # Aligned lines joined by \\, except where a line already ends with \\* (no page break after it).
    return "".join(l + ("\n" if l.endswith(r"\\*") else " \\\\\n") for l in lines[:-1]) + lines[-1]


def _once(d, p, where: str) -> str:
    r"""``, once $\delta_{H_1}$ (where) is written out``: the deltas of the parameter's uses, each once."""
    from ..engines.backprop import delta_symbol

    deltas = list(dict.fromkeys(delta_symbol(n) for _, n in d.backprop.uses if n is not None))
    if not deltas:
        return ""
    listed = ", ".join(f"${p(x)}$" for x in deltas)
    return f", once {listed}{where} {'is' if len(deltas) == 1 else 'are'} written out"


# --- Markdown ----------------------------------------------------------------------------------

def _math(lines: list[str]) -> str:
    return "$$\n\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}\n$$"


def markdown_document(notes, title: str, snippet: bool = False, brief: bool = False, pictures: dict | None = None,
                      left_out: int = 0) -> str:
    """The same document as Markdown with ``$$`` math; ``pictures`` maps None (the network) and each
    parameter to the file name of its SVG diagram, written beside the document; ``left_out``: the number of
    parameters whose pictures were not written (past the pictures limit), said at their section."""
    network, derivations = notes.network, notes.derivations
    printer = md.printer_for(network)
    pictures = pictures or {}
    sections = [("The network", "derivchain-network"), ("Every derivative", "derivchain-table"),
                ("Conventions", "derivchain-conventions"), ("Backpropagation", "derivchain-backprop")]
    if notes.matrix_gradients:  # a matrix graph's backward pass, as the textbook writes it, right after the network
        sections.insert(1, ("Matrix equations", "derivchain-matrix"))
    if not brief:
        sections.append(("Each parameter", "derivchain-parameters"))
    if notes.pairs:
        sections.append(("Second derivatives", "derivchain-second"))
    out = [] if snippet else [f"# {md.escape(title)}", "",
                              "Contents: " + " · ".join(f"[{i}. {t}](#{a})" for i, (t, a) in enumerate(sections, start=1)), ""]
    heading = iter(f'<a id="{a}"></a>\n\n## {i}. {t}' for i, (t, a) in enumerate(sections, start=1))

    inline = printer_for(network, fold_short_frac=True)._print  # a formula in a line of prose: (h - t)^2/2
    summary = "".join(md.escape(x) if isinstance(x, str) else "$%s$" % inline(x) for x in summary_parts(network, False))
    out += [next(heading), "", f"The network: {summary}.", ""]
    if None in pictures:
        out += [f"![the network]({md.link(pictures[None])})", ""]
    out += [_math(network_lines(network, printer)), ""]
    if notes.matrix_gradients:
        out += [next(heading), ""] + _markdown_matrix(notes)

    loss = printer._print(network.loss_symbol)
    shared = len({d.verdict.method for d in derivations}) == 1
    out += [next(heading), "", _table_intro(derivations, md.escape, "*%s*"), "",
            rf"| parameter | paths | $\partial {loss}/\partial w$ | verdict |", "|---|---:|---|---|"]
    for d in derivations:
        name = f"${printer._print(d.parameter)}$"
        if not brief and d.parameter in notes.detailed:
            name = f"[{name}](#{label(d.parameter)})"
        if _long(network, d):
            tex = f"*[{_long_cell()}](#derivchain-matrix)*"
        else:
            tex = "$%s$" % form(printer, d.delta_form).replace("|", r"\vert ")
        out.append(f"| {name} | {d.path_count} | {tex} | {_table_verdict(d, shared, md.escape, '**%s**', '*%s*')} |")
    out.append("")

    out += [next(heading), ""]
    if not brief:
        out.append("- A path is written from the parameter to the loss, and the chain rule along it from the loss back to "
                   "the parameter, so that each denominator is the next numerator.")
    rules = list({n.activation.name: n.activation for n in network.neurons if n.activation.rule_tex}.values())
    if rules:
        out.append("- An activation's derivative is written in the neuron's own output and kept beside the factor it belongs "
                   "to: " + "; ".join(a.rule_tex for a in rules) + ".")
    for x in noted(network):
        if x is not None:
            out.append("- " + (x.note_tex or md.escape(x.note[0].upper() + x.note[1:])))
    case = _case_example(derivations, printer)
    if case is not None:
        c = case.cases()[0]
        u = printer._print(c.argument)
        lines = expression_lines(printer, printer._print(case.lhs), c.value, DOCUMENT_WIDTH - 8)
        lead = (rf"- Where ${u} > 0$ the factor $\operatorname{{sign}}({u})$ in a gradient is $1$, where ${u} < 0$ it is $-1$; "
                rf"for example, for ${u} > 0$:")
        # Short: inline; long: a display block of broken lines (inline math never breaks).
        out += [lead + " $%s$." % lines[0].replace("&=", "=", 1)] if len(lines) == 1 else [lead, "", _math(lines), ""]
    out += ["- " + _methods(derivations, md.escape, "*%s*"), ""]

    out += [next(heading), "",
            rf"The derivative by a weight is the output of the node the weight leaves times the delta of the neuron it "
            rf"enters, $\delta = \partial {loss}/\partial z$ for the neuron's weighted input $z$ (by a bias: the delta "
            "alone). The deltas, from the output back:", "",
            _math(delta_lines(printer, notes.delta_chains, notes.conditional)), ""]
    if brief:
        out += ["So, for each parameter:", "",
                _math([r"%s &= %s" % (printer._print(d.lhs), printer._print(d.backprop.entry)) for d in derivations]), ""]
        if notes.pairs:
            out += [next(heading), ""] + _markdown_second(notes, printer, pictures)
        return "\n".join(out)

    out += [next(heading), ""]
    if notes.left_out:
        out += [left_out_sentence(notes, md.escape, lambda c: f"`{c}`"), ""]
    if left_out:
        limit = limits.current().pictures
        out += [f"The pictures of each parameter's paths are not written: {left_out + 1} pictures would be more than "
                f"the limit of {limit}. Name fewer parameters (`derivchain export W1 W7 --out ...`) or raise the limit "
                f"(`--limit pictures={left_out + 1}`) to have them.", ""]
    for d in _detailed(notes):
        out += _markdown_parameter(d, notes.steps(d), printer, pictures.get(d.parameter))
    if notes.pairs:
        out += [next(heading), ""] + _markdown_second(notes, printer, pictures)
    return "\n".join(out)


def _long(network, d) -> bool:
    """Whether the table leaves ``d``'s gradient to the matrix equations (a matrix graph's; see matrix_forms)."""
    if network.matrix is None:
        return False
    from .matrix_forms import long_for_table  # here: notes of other networks load nothing of the matrix forms

    return long_for_table(network, d)


def _long_cell() -> str:
    from .matrix_forms import LONG_CELL

    return LONG_CELL


def _detailed(notes) -> list:
    """The derivations of the parameters with a section of their own."""
    return [d for d in notes.derivations if d.parameter in notes.detailed]


def left_out_sentence(notes, text, code) -> str:
    """Which entries have a row in the table but no section, and how to have one (``code``: a command as code)."""
    shown = ", ".join(p.name for p in notes.detailed)
    example = next(p.name for p in notes.parameters if p not in notes.detailed)
    return text(f"Each entry of a matrix has a row in the table above and is in its matrix's equations; a section of its "
                f"own is written here for {shown} only (the other {notes.left_out} would be as long each). Name entries to "
                f"have theirs: ") + code(f'derivchain export "{example}" --out FILE') + "."


def _markdown_matrix(notes) -> list[str]:
    from .matrix_forms import MATRIX_INTRO, equation_latex, equation_note, summary

    out = [md.escape(MATRIX_INTRO), ""]
    for g in notes.matrix_gradients:
        lines = []
        for e in g.chain:
            lhs, rhs = equation_latex(e)
            lines.append(r"%s &= %s && \text{%s}" % (lhs, rhs, equation_note(e)))
        out += [f"### $\\partial L/\\partial {_matrix_name(g.parameter)}$ ({g.shape[0]}x{g.shape[1]})", "",
                _math(lines), "", f"*{md.escape(summary(g))}*", ""]
    return out


def _matrix_name(name: str) -> str:
    from ..model.notation import matrix_latex

    return matrix_latex(name)


def _markdown_parameter(d, s, printer, picture: str | None) -> list[str]:
    net, p = d.network, printer._print
    lhs = p(d.lhs)
    out = [f'<a id="{label(d.parameter)}"></a>', "", f"### ${_partial(printer, net, d.parameter)}$", ""]
    if picture:
        out += [f"![the paths of {md.escape(d.parameter.name)}]({md.link(picture)})", ""]
    paths = count(d.path_count, "path").capitalize()
    if d.paths:
        out += [f"{paths} from ${p(d.parameter)}$ to the loss{', in red' if picture else ''}; the chain rule along "
                f"{'each' if len(d.paths) > 1 else 'it'}:", ""]
        rows = _path_rows(printer, d)
        lines = _path_lines(rows, PATH_WIDTH, r" \\") or [r"&%s \\" % a + "\n" + r"&\qquad %s %s" % (b, c) for a, b, c in rows]
        out += [_math(lines), ""]
    else:
        out += [f"{paths} from ${p(d.parameter)}$ to the loss{', in red' if picture else ''}.", ""]
    if not d.path_sum.listed_all:
        out += [f"... and {d.path_count - len(d.paths)} more (raise `--max-paths` to list them).", ""]
    if d.path_count > 1 or not d.paths:
        what = "Their sum" if d.path_sum.listed_all else f"The sum over all {d.path_count} paths"
        if not d.path_sum.enumerated:
            what += ", accumulated by suffix (each shared tail added once)"
        sums = (expression_lines(printer, lhs, d.sum_chain.forms[-1]) if d.sum_chain.verified
                else chain_lines(printer, d.sum_chain, lhs))
        out += [f"{what}:", "", _math(sums), ""]
    out += ["Step by step:", ""]
    steps = s.steps
    first = expression_lines(printer, p(steps[0].expr), steps[1].expr)
    out += [_math(first), ""]
    for k, st in enumerate(steps[2:], start=2):
        body = expression_lines(printer, "", st.expr)
        if not s.links[k - 1].equal:
            body[0] = body[0].replace("&=", r"&\overset{?}{=}", 1)
        out += [f"*{md.prose(st.parts, printer)}:*", "", _math(body), ""]
    if _same_as_steps(d, s):
        out.append(f"Backpropagation gives the same expression as ${_partial(printer, net, d.parameter)} = {p(d.backprop.entry)}$"
                   f"{_once(d, p, ' ([Backpropagation](#derivchain-backprop))')}.")
    else:
        out += ["Backpropagation:", "", _math(chain_lines(printer, d.entry_chain, lhs))]
    out += ["", "*Verdict:* " + _verdict_sentence(d, md.escape, "**%s**"), ""]
    return out


# --- second derivatives (export --hessian P,Q) ------------------------------------------------------

#: What the section of second derivatives says first, once.
SECOND_INTRO = ("The second derivative of the loss by two parameters, three ways: the sum over pairs of paths (one path from "
                "each parameter, meeting at a node), second-order backpropagation (Pearlmutter's R-operator: each node's rate "
                "R(n) = dn/dQ forward, then each delta's rate R(delta) backward), and direct differentiation of the gradient "
                "dLoss/dP by Q; the verdict says whether they were shown equal.")


def second_partial(printer, h) -> str:
    r"""``\partial^{2} L/\partial P\,\partial Q`` on one line (a heading's, a table's)."""
    loss, p, q = (printer._print(x) for x in (h.network.loss_symbol, h.first, h.second))
    below = r"\partial %s^{2}" % p if h.first == h.second else r"\partial %s\,\partial %s" % (p, q)
    return r"\partial^{2} %s/%s" % (loss, below)


def _pieces(pieces, text, printer) -> str:
    """Prose pieces (text, or ("m", symbol)) with inline math."""
    return "".join(text(x) if isinstance(x, str) else "$%s$" % printer._print(x[1]) for x in pieces)


def _meets(h) -> list:
    """The nodes where the listed pairs meet, each once."""
    return list(dict.fromkeys(pair.meet for pair in h.pairs))


#: Largest expression (in printed nodes) a document writes in a second derivative's section; past it a line says how
#: large it is and where it is printed in full (a 2-token attention's pair sum filled 12 pages).
SECOND_NODES = 300
#: R-operator equations a document writes for one second derivative, at most.
SECOND_EQUATIONS = 12


def _bounded(printer, prefix: str, e, width: int, command: str) -> list[str]:
    """``prefix &= e`` broken into lines, or, past :data:`SECOND_NODES`, one line saying it is left out and where it is."""
    from ..symbolic.sizes import tree_size

    if isinstance(e, sp.Basic) and tree_size(e, SECOND_NODES) > SECOND_NODES:
        return [r"%s &= %s" % (prefix, printer.mtext(f"(more than {SECOND_NODES} terms and factors: {command} prints it)"))]
    return expression_lines(printer, prefix, e, width)


def _second_math(h, printer, width: int) -> tuple[list[str], list[str], list[str], list[str] | None]:
    """Aligned lines: the listed pairs (each path, then its term), the sum, the R-operator form and its equations,
    the direct form (None when too large to print); each expression bounded (:func:`_bounded`)."""
    from .latex import _hessian_lhs

    p = printer._print
    lhs = _hessian_lhs(h, printer)
    command = "derivchain hessian " + " ".join(f'"{x.name}"' if "[" in x.name else x.name for x in (h.first, h.second))
    pairs = []
    for i, pair in enumerate(h.pairs, start=1):
        first, second = (r" \to ".join(p(x) for x in path) for path in (pair.first, pair.second))
        head = r"&\text{pair %d: } %s \;\mid\; %s" % (i, first, second)
        if visible_width(head) > width:
            head = r"&\text{pair %d: } %s \\ &\qquad \mid\; %s" % (i, first, second)
        pairs += [head] + _bounded(printer, "", pair.term, width - 6, command)
    total = _bounded(printer, lhs, h.path_pairs.local, width, command)
    backprop = expression_lines(printer, lhs, h.backprop.entry, width) + _bounded(printer, "", h.backprop.local, width, command)
    equations = (*h.backprop.forward, *h.backprop.deltas)
    for eq in equations[:SECOND_EQUATIONS]:
        backprop += _bounded(printer, p(eq.lhs), eq.rhs, width, command)
    if len(equations) > SECOND_EQUATIONS:
        backprop.append(r"&%s" % printer.mtext(f"... and {len(equations) - SECOND_EQUATIONS} more equations ({command} prints them)"))
    shown = h.direct_shown[0]
    direct = None if shown is None else _bounded(printer, lhs, shown, width, command)
    return pairs, total, backprop, direct


def _block_latex(m, printer) -> list[str]:
    from .hessian import notes_sections, split_tex
    from .latex import matrix_tex

    out = []
    for heading, content in notes_sections(m):
        if heading.startswith("Split: ") and split_tex(m):
            out += [r"Split:", r"\[ %s \]" % split_tex(m)]
        elif content is None or isinstance(content, str):
            out.append(r"%s\par" % printer.text(heading + ("" if content is None else f": {content}")))
        else:
            out.append(r"%s:" % printer.text(heading))
            out.append(r"\[ %s \]" % matrix_tex(content))
    return out


def _latex_second(notes, printer, page: Page, snippet: bool) -> list[str]:
    from .diagram import pair_tikz
    from .hessian import at_values_heading, pair_intro, pairs_left
    from .latex import hessian_values

    width = page.chars(DOCUMENT_WIDTH)
    out = [r"\needspace{8\baselineskip}", r"\section{Second derivatives}\label{derivchain-second}", printer.text(SECOND_INTRO)]
    for sd in notes.second_derivatives:
        h = sd.entry
        from .hessian import title

        out += [r"\needspace{10\baselineskip}",
                r"\subsection{\texorpdfstring{$%s$}{%s}}" % (second_partial(printer, h), printer.text(title(h))),
                r"\begin{center}\begin{minipage}{0.62\linewidth}%s\end{minipage}\end{center}"
                % pair_tikz(h.network, h.first, h.second, _meets(h), printer), _pieces(pair_intro(h), printer.text, printer)]
        pairs, total, backprop, direct = _second_math(h, printer, width)
        if pairs:
            out.append(align(pairs, breakable=snippet))
        if pairs_left(h):
            out.append(printer.text(pairs_left(h)))
        out += ["The sum over all pairs:", align(total, breakable=snippet),
                r"Second-order backpropagation ($R = \partial/\partial %s$):" % printer._print(h.second),
                align(backprop, breakable=snippet)]
        if direct is None:
            out.append(printer.text("Direct: too large to print; the verdict compares it in full."))
        else:
            out += [r"Direct, $\partial %s/\partial %s$ differentiated by $%s$:" % (
                printer._print(h.network.loss_symbol), printer._print(h.first), printer._print(h.second)), align(direct, breakable=snippet)]
        v = h.verdict
        word = printer.text(v.word) if v.equal else r"\textbf{%s}" % printer.text(v.word)
        out.append(r"\emph{Verdict:} %s (%s): %s.\par" % (word, printer.text(v.method), printer.text(v.detail)))
        out += [r"\emph{Note.} %s\par" % printer.text(note) for note in h.notes]
        if sd.at is not None:
            out += [printer.text(at_values_heading(sd.at)), hessian_values(sd.at)]
        if sd.block is not None:
            out += _block_latex(sd.block, printer)
    return out


def _markdown_second(notes, printer, pictures: dict) -> list[str]:
    from .hessian import at_values_heading, notes_sections, numbers, pair_intro, pairs_left, split_tex

    out = [md.escape(SECOND_INTRO), ""]
    for i, sd in enumerate(notes.second_derivatives):
        h = sd.entry
        out += [f'<a id="derivchain-second-{i + 1}"></a>', "", f"### ${second_partial(printer, h)}$", ""]
        picture = pictures.get(("pair", i))
        if picture:
            out += [f"![the pairs of paths of {md.escape(h.first.name)} and {md.escape(h.second.name)}]({md.link(picture)})", ""]
        out += [_pieces(pair_intro(h), md.escape, printer), ""]
        pairs, total, backprop, direct = _second_math(h, printer, DOCUMENT_WIDTH)
        if pairs:
            out += [_math(pairs), ""]
        if pairs_left(h):
            out += [md.escape(pairs_left(h)), ""]
        out += ["The sum over all pairs:", "", _math(total), "",
                f"Second-order backpropagation ($R = \\partial/\\partial {printer._print(h.second)}$):", "", _math(backprop), ""]
        if direct is None:
            out += ["Direct: too large to print; the verdict compares it in full.", ""]
        else:
            out += [f"Direct, $\\partial {printer._print(h.network.loss_symbol)}/\\partial {printer._print(h.first)}$ "
                    f"differentiated by ${printer._print(h.second)}$:", "", _math(direct), ""]
        v = h.verdict
        word = md.escape(v.word) if v.equal else f"**{md.escape(v.word)}**"
        out += [f"*Verdict:* {word} ({md.escape(v.method)}): {md.escape(v.detail)}.", ""]
        out += [f"> {md.escape(note)}\n" for note in h.notes]
        if sd.at is not None:
            out += [md.escape(at_values_heading(sd.at)), ""] + [f"- {name}: {n}" for name, n in numbers(sd.at)] + [""]
        if sd.block is not None:
            names = [p.name for p in sd.block.parameters]
            for heading, content in notes_sections(sd.block):
                if heading.startswith("Split: ") and split_tex(sd.block):
                    out += ["Split:", "", "$$", split_tex(sd.block), "$$", ""]
                elif content is None or isinstance(content, str):
                    out += [md.escape(heading) + ("" if content is None else f": {md.escape(content)}"), ""]
                else:
                    out += [f"**{md.escape(heading)}**", "", "| | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
                    out += [f"| {name} | " + " | ".join(md.escape(str(v)) for v in row) + " |" for name, row in zip(names, content)] + [""]
    return out
