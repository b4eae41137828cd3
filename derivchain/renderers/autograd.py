"""What every format prints of an AutogradComparison (``derivchain autograd``): the entries side by side,
the verdict, and the first disagreement's sum over paths. Each renderer's ``autograd`` method calls one
function here; nothing is derived or verified (the comparison carries its numbers and the derivation)."""

from __future__ import annotations

import html as _html


def number(x: float) -> str:
    """A float as Python's shortest repr that reads back (17 significant digits at most)."""
    return repr(float(x))


def verdict_sentence(c) -> str:
    """``All 26 entries agree ...`` or ``3 of 26 entries differ; the first: fc.weight[0,0]``."""
    n = len(c.entries)
    how = ("each derived three ways and verified" if c.three_ways
           else "each by backpropagation; three ways and verified where autograd differs")
    if c.all_agree:
        return (f"All {n} parameter entries agree ({how}): derivchain's gradient and autograd's differ by at most "
                f"{c.tolerance:g} relatively (or {c.tolerance:g} of the largest entry).")
    bad = sum(not e.agree for e in c.entries)
    return f"{bad} of {n} parameter entries differ; the first: {c.first_disagreement}."


def first_lines(c, expr) -> list[str]:
    """The first disagreement: both numbers, and derivchain's sum over its paths (derived and verified), printed
    by ``expr`` (the text renderer's)."""
    if c.first is None:
        return []
    d = c.first
    entry = next(e for e in c.entries if e.parameter == c.first_disagreement)
    paths = f"{d.path_count} path{'s' if d.path_count != 1 else ''}"
    exactly = f" (exactly {entry.exact})" if len(entry.exact) <= 60 else ""
    return [f"First disagreement: {entry.parameter}: derivchain {number(entry.derivchain)}{exactly}, "
            f"autograd {number(entry.autograd)}, relative difference {entry.relative_difference:.3g}.",
            f"Its sum over paths ({paths}, {d.verdict.word} to backprop and direct, {d.verdict.method}):",
            f"  d{d.network.loss_symbol}/d{d.parameter} = {expr(d.path_sum.local)}"]


def _table(c) -> tuple[list[str], list[list[str]]]:
    head = ["parameter", "derivchain", "autograd", "relative difference", "verdict"]
    rows = [[e.parameter, number(e.derivchain), number(e.autograd), f"{e.relative_difference:.3g}",
             "agree" if e.agree else "DIFFER"] for e in c.entries]
    return head, rows


def text_lines(c, expr) -> list[str]:
    """Plain text: the network, the losses, an aligned table, the verdict and the first disagreement."""
    head, rows = _table(c)
    widths = [max(len(r[k]) for r in [head] + rows) for k in range(len(head))]
    fmt = lambda r: "  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip()  # noqa: E731
    return [f"Network: {c.network.summary()}",
            f"Loss at the model's values: derivchain {number(c.loss_derivchain)}, autograd {number(c.loss_autograd)}",
            "", fmt(head), *(fmt(r) for r in rows), "", verdict_sentence(c), *first_lines(c, expr)]


def json_object(c, expr) -> dict:
    """The JSON contract: ``entries`` (parameter, derivchain, autograd, relative_difference, agree),
    ``all_agree``, ``first_disagreement``; and the losses, the tolerance, the first disagreement's path sum."""
    first = None
    if c.first is not None:
        first = {"parameter": c.first_disagreement, "path_count": c.first.path_count,
                 "path_sum": expr(c.first.path_sum.local), "verified": c.first.verdict.equal}
    return {"network": c.network.summary(), "tolerance": c.tolerance, "three_ways": c.three_ways,
            "loss": {"derivchain": c.loss_derivchain, "autograd": c.loss_autograd},
            "entries": [{"parameter": e.parameter, "derivchain": e.derivchain, "autograd": e.autograd,
                         "relative_difference": e.relative_difference, "agree": e.agree, "exact": e.exact}
                        for e in c.entries],
            "all_agree": c.all_agree, "first_disagreement": c.first_disagreement, "first": first}


def markdown(c, escape, expr) -> str:
    """A Markdown page: a heading, the losses, the table, the verdict and the first disagreement."""
    head, rows = _table(c)
    cell = lambda v: escape(v).replace("|", r"\|")  # noqa: E731
    lines = ["## derivchain beside autograd", "", f"Network: {escape(c.network.summary())}.", "",
             f"Loss at the model's values: derivchain {number(c.loss_derivchain)}, autograd {number(c.loss_autograd)}.", "",
             "| " + " | ".join(head) + " |", "| " + " | ".join("---" for _ in head) + " |",
             *("| " + " | ".join(f"`{v}`" if k == 0 else cell(v) for k, v in enumerate(r)) + " |" for r in rows), "", f"**{escape(verdict_sentence(c))}**"]
    first = first_lines(c, expr)
    if first:
        lines += ["", escape(first[0]), "", escape(first[1]), "", "```text", first[2].strip(), "```"]
    return "\n".join(lines) + "\n"


def latex(c, text, comment, expr) -> str:
    """A LaTeX fragment: a longtable of the entries, the verdict and the first disagreement (as text: a path
    sum of a traced model can be long)."""
    head, rows = _table(c)
    body = [comment(f"derivchain beside autograd; {c.network.summary()}"),
            r"\noindent " + text(f"Loss at the model's values: derivchain {number(c.loss_derivchain)}, "
                                 f"autograd {number(c.loss_autograd)}.") + r"\par",
            r"\begin{longtable}{lrrrl}", " & ".join(text(h) for h in head) + r" \\ \hline"]
    body += [" & ".join(r"\texttt{%s}" % text(v) if k == 0 else text(v) for k, v in enumerate(r)) + r" \\" for r in rows]
    body += [r"\end{longtable}", r"\noindent " + text(verdict_sentence(c)) + r"\par"]
    first = first_lines(c, expr)
    if first:
        body += [r"\noindent " + text(first[0]) + r"\par", r"\noindent " + text(first[1]) + r"\par",
                 r"\begin{verbatim}", first[2].strip(), r"\end{verbatim}"]
    return "\n".join(body) + "\n"


def html_parts(c, expr) -> list[str]:
    """The parts of an HTML page: a heading, the losses, the table, the verdict and the first disagreement."""
    head, rows = _table(c)
    esc = _html.escape
    table = ["<table>", "<tr>" + "".join(f"<th>{esc(h)}</th>" for h in head) + "</tr>"]
    table += ["<tr>" + "".join(f"<td>{esc(v)}</td>" for v in r) + "</tr>" for r in rows]
    table.append("</table>")
    parts = ["<h1>derivchain beside autograd</h1>", f"<p>Network: {esc(c.network.summary())}.</p>",
             f"<p>Loss at the model's values: derivchain {number(c.loss_derivchain)}, autograd {number(c.loss_autograd)}.</p>",
             "\n".join(table), f"<p><strong>{esc(verdict_sentence(c))}</strong></p>"]
    first = first_lines(c, expr)
    if first:
        parts += [f"<p>{esc(first[0])}</p>", f"<p>{esc(first[1])}</p>", f"<pre>{esc(first[2].strip())}</pre>"]
    return parts
