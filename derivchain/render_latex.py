"""LaTeX snippets for pasting into notes (amsmath ``align*``)."""

from __future__ import annotations

from .derivation import Derivation, latex_lines
from .network import Network
from .printing import DerivPrinter


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
