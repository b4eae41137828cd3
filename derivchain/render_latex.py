"""LaTeX snippets for pasting into notes (amsmath ``align*``)."""

from __future__ import annotations

import sympy as sp

from .derivation import Derivation
from .network import Network
from .printing import LINE_WIDTH, DerivPrinter, visible_width


def expression_lines(printer, prefix: str, e: sp.Expr) -> list[str]:
    """``prefix &= e`` as aligned lines: long sums broken, and long products inside their sum."""
    p = printer._print
    if e.is_Mul and visible_width(p(e)) > LINE_WIDTH:
        # A long product with a sum inside: write the other factors, then the sum broken
        # across lines inside \left( ... \right. / \left. ... \right).
        sums = [f for f in e.args if f.is_Add]
        if sums:
            inner = max(sums, key=lambda f: visible_width(p(f)))
            others = sp.Mul(*[f for f in e.args if f is not inner])
            head = "" if others == 1 else ("-" if others == -1 else printer.factor(others)) + " "
            chunks = printer.broken_sum(prefix, [p(t) for t in sp.Add.make_args(inner)], LINE_WIDTH - visible_width(head))
            if len(chunks) > 1:
                first, rest = chunks[0], chunks[1:]
                lhs_part, rhs_part = first.split("&=", 1)
                out = [r"%s&= %s\left(%s\right." % (lhs_part, head, rhs_part.strip())]
                for i, line in enumerate(rest):
                    body = line.replace(r"&\quad ", "", 1)
                    close = r"\right)" if i == len(rest) - 1 else r"\right."
                    out.append(r"&\quad \left. %s %s" % (body, close))
                return out
    terms = [p(t) for t in sp.Add.make_args(e)] if e.is_Add else [p(e)]
    return printer.broken_sum(prefix, terms)


def steps_latex(steps, printer) -> list[str]:
    """The step-by-step derivation as align* lines; each reason is an \\intertext (it wraps) placed
    between the two lines it connects. The first reason (the loss's formula) is the first line's."""
    lhs = printer._print(steps[0].expr)
    lines = expression_lines(printer, lhs, steps[1].expr)
    for st in steps[2:]:
        body = expression_lines(printer, "", st.expr)
        body[0] = r"\intertext{\small %s:} %s" % (printer.text(st.reason[0].upper() + st.reason[1:]), body[0])
        lines += body
    return lines


def latex_lines(d: Derivation, printer) -> list[str]:
    """The derivation as aligned LaTeX lines: paths, sum, backprop, direct, verdict.

    Long sums are broken across lines (each continuation starts ``&\\quad +``), so the lines fit
    an A4 page; a direct result too wide even then is written with whole neurons as symbols.
    """
    p = printer._print
    lhs = printer.partial(d.network.loss_symbol, d.parameter)

    def expr_lines(prefix: str, e: sp.Expr) -> list[str]:
        return expression_lines(printer, prefix, e)

    lines = []
    for i, path in enumerate(d.paths, start=1):
        nodes = r" \to ".join(p(s) for s in path.nodes)
        lines.append(r"&\text{path %d: } %s" % (i, nodes))
        chain, product = printer.chain(path.factors), printer.product([f.value for f in path.factors])
        if visible_width(chain) + visible_width(product) > LINE_WIDTH:
            lines.append(r"&\quad %s" % chain)
            lines.append(r"&\qquad = %s" % product)
        else:
            lines.append(r"&\quad %s = %s" % (chain, product))
    if d.path_sum.enumerated:
        lines += printer.broken_sum(lhs, [printer.product([f.value for f in path.factors]) for path in d.paths])
        lines += [line.replace(lhs + " &=", "&=", 1) for line in expr_lines(lhs, d.path_sum.local)]
    else:
        lines.append(r"&\text{\dots\ %d more paths; the sum over all %d, by suffix:}" % (d.path_count - len(d.paths), d.path_count))
        lines += expr_lines(lhs, d.path_sum.local)
    source = p(d.backprop.source) if d.backprop.source is not None else "1"
    lines.append(r"&\text{backprop:}")
    lines.append(r"%s &= %s \cdot %s" % (lhs, source, p(sp.Symbol(f"delta_{d.backprop.neuron.name}"))))
    for eq in d.backprop.deltas:
        lines.append(r"%s &= %s" % (p(eq.delta), delta_rhs_latex(eq, printer)))
        if eq.rhs != eq.value:
            lines += [line.replace(p(eq.delta) + " &=", "&=", 1) for line in expr_lines(p(eq.delta), eq.value)]
    lines += expr_lines(lhs, d.backprop.local)
    for case in d.cases():
        cond = r"%s %s 0" % (p(case.argument), ">" if case.sign > 0 else "<")
        lines.append(r"&\text{for } %s:" % cond)
        lines += expr_lines(lhs, case.value)
    shown = d.direct_shown
    if shown is not None and visible_width(p(shown)) > 2 * LINE_WIDTH:
        shown = d.direct_compact
        label = r"\text{direct (neurons as symbols): }"
    else:
        label = r"\text{direct: }"
    lines.append(r"&%s" % label.strip())
    if shown is not None and visible_width(p(shown)) <= 6 * LINE_WIDTH:
        lines += expr_lines(lhs, shown)
    else:
        lines.append(r"&\quad \text{not printed (too large; compared in full by the verdict)}")
    lines.append(r"&\text{verdict: } %s" % p(d.verdict))
    return lines


def delta_rhs_latex(eq, printer) -> str:
    """delta_j's right-hand side with its terms in successor order, as the recursion reads."""
    inner = [printer._print(eq.loss_derivative)] if eq.loss_derivative is not None else []
    inner += [r"%s %s" % (printer.factor(w), printer._print(d)) for w, d in eq.terms]
    body = " + ".join(inner)
    if eq.derivative == 1:
        return body
    return r"%s \left(%s\right)" % (printer.factor(eq.derivative), body) if len(inner) > 1 else r"%s \cdot %s" % (printer.factor(eq.derivative), body)


def _align(lines: list[str]) -> str:
    return "\\begin{align*}\n" + " \\\\\n".join(lines) + "\n\\end{align*}"


def derivation_snippet(d: Derivation) -> str:
    """The derivation as an ``align*`` block, with a comment naming the network."""
    return f"% d{d.network.loss_symbol.name}/d{d.parameter.name}; {d.network.summary()}\n" + _align(latex_lines(d, DerivPrinter()))


def paths_snippet(parameter, count: int, paths) -> str:
    """The paths and their chains as an ``align*`` block."""
    printer = DerivPrinter()
    lines = []
    for i, path in enumerate(paths, start=1):
        nodes = r" \to ".join(printer._print(s) for s in path.nodes)
        lines.append(r"&\text{path %d: } %s: && %s = %s" % (i, nodes, printer.chain(path.factors), printer.product([f.value for f in path.factors])))
    if len(paths) < count:
        lines.append(r"&\text{\dots\ %d more paths}" % (count - len(paths)))
    return _align(lines)


def network_snippet(net: Network) -> str:
    """The network's equations and loss as an ``align*`` block."""
    printer = DerivPrinter()
    lines = [r"%s &= %s" % (printer._print(n.symbol), printer._print(n.equation)) for n in net.neurons]
    lines.append(r"%s &= %s" % (printer._print(net.loss_symbol), printer._print(net.loss_local)))
    return f"% {net.summary()}\n" + _align(lines)
