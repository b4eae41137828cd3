"""Markdown with ``$$`` math blocks, which GitHub, GitLab and Jupyter render."""

from __future__ import annotations

from .derivation import Derivation
from .render_latex import latex_lines
from .network import Network
from .printing import DerivPrinter


def derivation_markdown(d: Derivation) -> str:
    """The derivation as Markdown: a heading, the network, the paths, the aligned derivation."""
    printer = DerivPrinter()
    lines = [
        f"## d{d.network.loss_symbol.name}/d{d.parameter.name}",
        "",
        f"Network: {d.network.summary()}.",
        "",
        f"{d.path_count} path{'s' if d.path_count != 1 else ''} from {d.parameter.name} to the loss:",
        "",
    ]
    lines += [f"{i}. `{p.arrow()}`" for i, p in enumerate(d.paths, start=1)]
    lines += ["", "$$", r"\begin{aligned}", " \\\\\n".join(latex_lines(d, printer)), r"\end{aligned}", "$$", ""]
    lines.append(f"Verdict: **{d.verdict.word}** ({d.verdict.method}): {d.verdict.detail}.")
    for note in d.notes():
        lines += ["", f"> {note}"]
    return "\n".join(lines) + "\n"


def network_markdown(net: Network) -> str:
    """The network's equations as Markdown."""
    printer = DerivPrinter()
    eqs = [r"%s &= %s" % (printer._print(n.symbol), printer._print(n.equation)) for n in net.neurons]
    eqs.append(r"%s &= %s" % (printer._print(net.loss_symbol), printer._print(net.loss_local)))
    return "\n".join(
        ["## Network", "", f"{net.summary()}.", "", "$$", r"\begin{aligned}", " \\\\\n".join(eqs), r"\end{aligned}", "$$", ""]
    )
