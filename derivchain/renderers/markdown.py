"""Markdown with ``$$`` math blocks (GitHub, GitLab and Jupyter render them), from the same checked chains.

:class:`MarkdownRenderer` has a method for each kind of result returning Markdown text.
"""

from __future__ import annotations

from . import latex as _latex
from .base import StringRenderer
from .latex import printer_for as _latex_printer
from .text import arithmetic, batch_words, expr, learning_rate, more_paths
from .shown import notes as derivation_notes, summary_parts
from ..verification.derivation import Table


def printer_for(network):
    """The LaTeX printer for Markdown's math blocks: aligned, so no \\intertext."""
    return _latex_printer(network, intertext=False)


def escape(text: str) -> str:
    """Free text for Markdown, on one line: characters that would start markup or HTML are escaped, line
    breaks and control characters become spaces (a line break could start a heading, a list or a quote)."""
    from ..user_text import clean

    out = []
    for c in clean(text):
        if c in "\\`*_[]<>|$&#":
            out.append("\\" + c if c not in "<>&" else {"<": "&lt;", ">": "&gt;", "&": "&amp;"}[c])
        else:
            out.append(c)
    return "".join(out)


def link(target: str) -> str:
    """A file name as the target of a Markdown link or picture: percent-encoded, so that spaces, brackets,
    ``<`` and quotes neither end the link early nor start HTML (``my notes-network.svg`` -> ``my%20notes-network.svg``)."""
    from urllib.parse import quote

    return quote(target, safe="")


def prose(parts, printer) -> str:
    """A step's reason (its parts, see :class:`derivchain.engines.steps.Step`) as Markdown: words escaped,
    names and equations as ``$...$`` mathematics, an activation as its derivative rule."""
    out = []
    for part in parts:
        if isinstance(part, str):
            out.append(escape(part))
        elif isinstance(part, tuple):
            out.append(", ".join("$%s$" % printer._print(p) for p in part))
        elif isinstance(getattr(part, "rule", None), str):  # an activation
            out.append(part.rule_tex or escape(part.rule))
        elif hasattr(part, "lhs") and hasattr(part, "rhs"):  # an Equation
            out.append("$%s = %s$" % (printer._print(part.lhs), printer._print(part.rhs)))
        else:
            out.append("$%s$" % printer._print(part))
    text = "".join(out)
    return text[:1].upper() + text[1:]


def _math(lines: list[str]) -> list[str]:
    return ["$$", r"\begin{aligned}", " \\\\\n".join(lines), r"\end{aligned}", "$$"]


def values(at) -> str:
    """The numbers of a derivation as a Markdown block."""
    printer = printer_for(at.derivation.network)
    return "\n".join(["### At the given values", ""] + _math(_latex.values_lines(at, printer)) + [""])


def summary(network) -> str:
    """The network in one line, escaped, its loss's formula as inline mathematics."""
    inline = _latex_printer(network, fold_short_frac=True)._print  # a formula in a line of prose: (h - t)^2/2
    return "".join(escape(x) if isinstance(x, str) else "$%s$" % inline(x) for x in summary_parts(network))


__all__ = ["MarkdownRenderer", "printer_for", "escape", "link", "prose", "values", "expr", "summary"]


def _matrix_page(title: str, m, lines_of) -> str:
    from .text import matrix_check

    printer = printer_for(m.network)
    lines = ["## " + title, "", f"Network: {summary(m.network)}.", ""]
    lines += _math(lines_of(m, printer)) + ["", escape(matrix_check(m.check)) + ".", ""]
    return "\n".join(lines)


class MarkdownRenderer(StringRenderer):
    """Markdown: each kind as a heading, prose and ``$$`` math blocks; a table as a Markdown table, a row a line."""

    def derivation(self, d) -> str:
        """The derivation: a heading, the network, the paths, the aligned derivation, the verdict, notes."""
        printer = printer_for(d.network)
        lines = [
            f"## d{d.network.loss_symbol}/d{d.parameter}",
            "",
            f"Network: {summary(d.network)}.",
            "",
            f"{d.path_count} path{'s' if d.path_count != 1 else ''} from {d.parameter} to the loss:",
            "",
        ]
        lines += [f"{i}. `{p.arrow()}`" for i, p in enumerate(d.paths, start=1)]
        lines += [""] + _math(_latex.derivation_lines(d, printer)) + [""]
        lines.append(f"Verdict: **{d.verdict.word}** ({escape(d.verdict.method)}): {escape(d.verdict.detail)}.")
        for note in derivation_notes(d):
            lines += ["", f"> {escape(note)}"]
        return "\n".join(lines) + "\n"

    def derivation_at_values(self, at) -> str:
        """``grad --values``: the derivation, then its numbers."""
        return self.derivation(at.derivation) + "\n" + values(at)

    def batch_at_values(self, b) -> str:
        """``grad --values`` with a batch: the derivation, then each sample's numbers and the batch's."""
        printer = printer_for(b.derivation.network)
        note = ["> " + escape(b.note), ""] if b.note else []
        return self.derivation(b.derivation) + "\n" + "\n".join(["### At the given values: a batch", ""] + _math(_latex.batch_lines(b, printer)) + [""] + note)

    def paths(self, listing) -> str:
        """The paths as a numbered list, then their chains as math."""
        noun = "path" if listing.count == 1 else "paths"
        lines = [f"## {listing.count} {noun} from {listing.parameter} to the loss", ""]
        lines += [f"{i}. `{p.arrow()}`" for i, p in enumerate(listing.paths, start=1)]
        if len(listing.paths) < listing.count:
            lines.append(f"\n... {more_paths(listing.count - len(listing.paths))} not shown.")
        body = _latex.LatexRenderer().paths(listing).replace("\\begin{align*}", "\\begin{aligned}").replace("\\end{align*}", "\\end{aligned}")
        return "\n".join(lines + ["", "$$", body, "$$", ""])

    def network(self, net) -> str:
        """The network's equations."""
        printer = printer_for(net)
        return "\n".join(["## Network", "", f"{summary(net)}.", ""] + _math(_latex.network_lines(net, printer)) + [""])

    def formula(self, f) -> str:
        """The general equations and their instance."""
        printer = printer_for(f.network)
        title = f"## Backpropagation at an arbitrary layer ({f.where})"
        return "\n".join([title, ""] + _math(_latex.formula_lines(f, printer)) + [""])

    def steps(self, s) -> str:
        """The step-by-step derivation."""
        printer = printer_for(s.network)
        return "\n".join([f"## d{s.network.loss_symbol}/d{s.parameter}, step by step", ""] + _math(_latex.steps_lines(s, printer)) + [""])

    def descent(self, r) -> str:
        """Gradient descent as a Markdown table and the losses."""
        first, last = r.steps[0], r.steps[-1]
        n = len(r.steps)
        how = arithmetic(r.exact)
        lines = [f"## Gradient descent, lr = {learning_rate(r.lr)}, {n} step{'s' if n > 1 else ''} ({how})", "",
                 f"Network: {summary(r.network)}.", "",
                 *([f"{escape(batch_words(r))}; each loss is the whole batch's.", ""] if r.samples else []),
                 "| parameter | old value | gradient" + (" (first step)" if n > 1 else "") + " | new value |",
                 "|---|---|---|---|"]
        for name in r.trained:
            lines.append(f"| `{name}` | {r.initial[name]} | {first.gradients[name]} | {last.updated[name]} |")
        lines.append("")
        if r.frozen:
            lines += [f"Kept fixed: {', '.join(f'`{f}`' for f in r.frozen)}.", ""]
        lines.append(f"- loss before: {first.loss}")
        for i, st in enumerate(r.steps[1:], start=1):
            lines.append(f"- loss after step {i}: {st.loss}")
        lines.append(f"- loss after: {last.loss_after}")
        return "\n".join(lines) + "\n"

    def table_header(self, table) -> str:
        """The table's heading, the delta equations (unless ``table.expand``) and the column titles."""
        head = [f"Network: {summary(table.network)}.", ""]
        if not table.expand:
            printer = printer_for(table.network)
            head += [escape(_latex.delta_rows_note(table.deltas, "here")), ""]
            head += [f"- ${printer._print(c.lhs)} = {_latex.form(printer, c.forms[0])}$" + ("" if c.verified else " (**NOT verified**)")
                     for c in table.deltas]
            head.append("")
        return "\n".join(head + ["| parameter | paths | gradient | verdict |", "|---|---:|---|---|"])

    def table_row(self, d, expand: bool = False) -> str:
        """One row: the parameter, its path count, its delta form (``expand``: the backprop form) as math, the verdict."""
        # The printing limit, as the LaTeX and text rows (an unrolled RNN's first weights: 44 s and 1 GB).
        tex = _latex.form(printer_for(d.network), d.backprop.local if expand else d.delta_form).replace("|", r"\vert ")
        equal, word = Table.row_equal(d, expand), Table.row_word(d, expand)
        return f"| `{d.parameter}` | {d.path_count} | ${tex}$ | {word} ({escape(d.verdict.method)}) |"

    def table_footer(self, table) -> str:
        """Nothing after the rows."""
        return ""

    def matrix(self, m) -> str:
        """The matrix form: a heading, the network, the aligned forward and backward passes, the entry check."""
        return _matrix_page("Matrix form" + (" at the given values" if m.at_values else ""), m, _latex.matrix_lines)

    def batch_matrix(self, b) -> str:
        """The matrix form over a batch, as :func:`matrix`: a column per sample."""
        return _matrix_page(f"Matrix form over a batch of {b.size} samples ({b.reduction})", b, _latex.batch_matrix_lines)

    def matrix_gradient(self, g) -> str:
        """``grad WQ`` on a matrix graph: the chain of matrix equations as aligned math, each with its shape and check."""
        from ..model.notation import matrix_latex
        from .matrix_forms import form_latex, rows_text, shape_text, summary

        lines = [r"\frac{\partial L}{\partial %s} &= %s && %s,\ \text{%s}" % (
            matrix_latex(e.name), form_latex(e.form), shape_text(e.shape),
            ("verified" if e.verified else "NOT verified") + (f"; rewrite: {e.rewrite}" if e.rewrite else ""))
            for e in g.chain]
        out = [f"## dLoss/d{escape(g.parameter)} in matrix form", "", f"Network: {escape(g.network.summary())}.", "",
               *_math(lines), "", f"**{escape(summary(g))}**", ""]
        if g.at_values is not None:
            out += [f"At the given values: dL/d{escape(g.parameter)} = `{rows_text(g.at_values)}`", ""]
        return "\n".join(out)

    def verdict(self, v) -> str:
        """A verdict alone: its word in bold, the method and the detail."""
        return f"**{escape(v.word)}** ({escape(v.method)}): {escape(v.detail)}\n"

    def chain(self, c) -> str:
        """A chain alone in a ``$$`` block."""
        return "\n".join(_math(_latex.chain_lines(_latex.DerivPrinter({"intertext": False}), c))) + "\n"

    def autograd(self, c) -> str:
        """``autograd``: a heading, the entries as a table, the verdict, the first disagreement's path sum."""
        from .autograd import markdown

        return markdown(c, escape, expr)

    def check(self, c) -> str:
        """``check``: a heading, the answer (or each step) and the derivative as math, the verdict, the diagnosis as a
        list, the counterexample."""
        printer = printer_for(c.network)
        lines = [f"## Checking {c.lhs}", "", f"Network: {summary(c.network)}.", ""]
        lines += _math(_latex.check_lines(c, printer, prose=False)) + [""]
        for r in c.readings:
            lines += [f"Read as: ${_latex.reading_text(printer, r)}$. {escape(r.why)} ${_latex.reading_text(printer, r, other=True)}$.", ""]
        lines.append(f"Verdict: **{escape(c.sentence)}**.")
        if c.diagnosis:
            lines += ["", "Diagnosis" + (f" of line {c.first_wrong_line}" if c.first_wrong_line is not None else "") + ":", ""]
            for f in c.diagnosis:
                found = "" if f.found is None or f.expected is None else \
                    f" (found ${printer._print(f.found)}$, expected ${printer._print(f.expected)}$)"
                lines.append(f"- **{escape(f.kind)}**: {escape(f.detail)}{found}")
        cx = c.counterexample
        if cx is not None:
            import sympy as sp

            lhs = printer._print(sp.Derivative(c.network.loss_symbol, c.parameter))
            lines += ["", "Counterexample: at " + ", ".join(f"${c.network.latex_name(k)} = {_latex._num(v)}$" for k, v in cx.values.items())
                      + f": your {'line' if c.first_wrong_line is not None else 'answer'} ${_latex._num(cx.answer)}$, "
                      f"${lhs} = {_latex._num(cx.expected)}$."]
        return "\n".join(lines) + "\n"

    def hessian(self, h) -> str:
        """``hessian P Q``: the pairs listed, the forms as math, the verdict and the notes."""
        return hessian_text(h)

    def hessian_matrix(self, m) -> str:
        """``hessian --values``: the sections as Markdown, matrices as tables."""
        return hessian_matrix_text(m)

    def hessian_at_values(self, at) -> str:
        """``hessian P Q --values``: the entry, then its three numbers."""
        return hessian_text(at.entry) + "\n" + hessian_values(at)

    def exercise(self, ex) -> str:
        """An exercise sheet as one Markdown page: the network's equations, the questions, and room to answer or (with
        solutions) each verified derivation and the numbers."""
        from .text import exercise_step_question

        net = ex.network
        printer = printer_for(net)
        lines = [f"# {escape(ex.title)}", "", f"Network: {summary(net)}.", ""] + _math(_latex.network_lines(net, printer))
        lines += ["", "Write each answer in the network's names (inputs, weights, biases, neurons, targets; sign, sigmoid, tanh, "
                  "relu, exp, log). Check an answer with", "", "```sh",
                  f'derivchain check {ex.derivations[0].parameter} "YOUR ANSWER" {ex.options}'.rstrip(), "```", ""]
        for i, d in enumerate(ex.derivations, start=1):
            lines += [f"## {i}. Find $" + printer._print(d.lhs) + "$", ""]
            if ex.solutions:
                lines += _math(_latex.derivation_lines(d, printer)) + ["", f"Verdict: **{d.verdict.word}** ({escape(d.verdict.method)})."]
            else:
                lines += ANSWER_ROOM
            lines.append("")
        lines += [f"## {len(ex.derivations) + 1}. One gradient-descent step", "", escape(exercise_step_question(ex)), ""]
        if ex.solutions:
            w = printer._print(ex.stepped)
            lines += _math(_latex.values_lines(ex.at, printer) + [r"\text{new } %s &= %s" % (w, _latex._num(ex.updated))])
        else:
            lines += ANSWER_ROOM
        return "\n".join(lines) + "\n"


#: Room to answer on a Markdown sheet: a label and ruled lines (each ``***`` a rule).
ANSWER_ROOM = ["Your answer:", "", "&nbsp;", "", "***", "", "&nbsp;", "", "***"]


# --- hessian P Q (issue 24) ---------------------------------------------------------------------------

def hessian_text(h) -> str:
    """A heading, the network, the pairs listed, the aligned forms, the verdict and the notes."""
    from .hessian import noun, title

    printer = printer_for(h.network)
    lines = [f"## {title(h)}", "", f"Network: {escape(h.network.summary())}.", "",
             f"{noun(h.pair_count, 'pair')} of paths from {h.first} and {h.second}:", ""]
    lines += [f"{i}. `{p.arrow(0)}` and `{p.arrow(1)}`, meeting at {p.meet.name}" for i, p in enumerate(h.pairs, start=1)]
    if not h.path_pairs.listed_all:
        lines.append(f"\n... {h.pair_count - len(h.pairs)} more not shown.")
    lines += ["", "$$", "\\begin{aligned}", " \\\\\n".join(_latex.hessian_lines(h, printer)), "\\end{aligned}", "$$", ""]
    lines.append(f"Verdict: **{h.verdict.word}** ({escape(h.verdict.method)}): {escape(h.verdict.detail)}.")
    for note in h.notes:
        lines += ["", f"> {escape(note)}"]
    return "\n".join(lines) + "\n"


def hessian_values(at) -> str:
    """The three numbers as a list."""
    from .hessian import numbers

    return "\n".join(["### At the given values", ""] + [f"- {name}: {n}" for name, n in numbers(at)]) + "\n"


def hessian_matrix_text(m) -> str:
    """A full Hessian's sections (see :func:`derivchain.renderers.hessian.matrix_sections`) as Markdown."""
    from .hessian import matrix_sections

    names = [p.name for p in m.parameters]
    lines = ["## Hessian", "", f"Network: {escape(m.network.summary())}.", ""]
    for heading, content in matrix_sections(m):
        if content is None or isinstance(content, str):
            lines += [escape(heading) + ("" if content is None else f": {escape(content)}"), ""]
        elif content and isinstance(content[0], tuple) and isinstance(content[0][0], str):
            lines += [f"**{escape(heading)}**", ""] + [f"- {name} = {escape(str(value))}" for name, value in content] + [""]
        else:
            lines += [f"**{escape(heading)}**", "", "| | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
            lines += [f"| {name} | " + " | ".join(escape(str(v)) for v in row) + " |" for name, row in zip(names, content)] + [""]
    return "\n".join(lines)
