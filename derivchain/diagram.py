"""Pictures of the network: TikZ for LaTeX documents and SVG for Markdown and notebooks.

Layers run left to right (inputs, each layer, the loss); nodes carry their names in the network's
notation, edges their weights while the picture stays readable, and the edges on the paths of a
chosen weight are drawn thick and red. The SVG is written by hand: no new dependency.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

import sympy as sp

from .network import Network

#: Edge labels are drawn only up to this many edges; past it they would overlap.
MAX_LABELLED_EDGES = 40


def layout(network: Network) -> dict[sp.Symbol, tuple[float, float]]:
    """Each node (inputs, neurons, the loss) -> (column, row), columns by layer, rows centred."""
    columns: dict[int, list[sp.Symbol]] = {0: list(network.inputs)}
    for n in network.neurons:
        columns.setdefault(n.layer, []).append(n.symbol)
    last = max(columns) + 1
    columns[last] = [network.loss_symbol]
    tallest = max(len(c) for c in columns.values())
    pos = {}
    for col, nodes in columns.items():
        offset = (tallest - len(nodes)) / 2
        for row, s in enumerate(nodes):
            pos[s] = (float(col), -(row + offset))
    return pos


def path_edges(network: Network, parameter: sp.Symbol | None) -> set[tuple[sp.Symbol, sp.Symbol]]:
    """The edges (source, target) on the paths from ``parameter`` to the loss."""
    if parameter is None:
        return set()
    source, target = network.edges[parameter]
    reach = network.descendants(target)
    edges = set()
    if source is not None:
        edges.add((source, target.symbol))
    for n in network.neurons:
        if n.symbol in reach:
            for k, _ in network.successors.get(n.symbol, ()):
                edges.add((n.symbol, k.symbol))
            if n.is_output:
                edges.add((n.symbol, network.loss_symbol))
    return edges


def _edges(network: Network):
    for n in network.neurons:
        for src, w in n.sources:
            yield src, n.symbol, w
    for o in network.outputs:
        yield o.symbol, network.loss_symbol, None


def tikz(network: Network, parameter: str | sp.Symbol | None = None, printer=None) -> str:
    """A tikzpicture of the network, scaled to the line width, with ``parameter``'s paths in red."""
    from .render.latex import DerivPrinter, printer_settings

    printer = printer or DerivPrinter(printer_settings(network))
    w = network.parameter(parameter if isinstance(parameter, str) else parameter.name) if parameter is not None else None
    pos = layout(network)
    hot = path_edges(network, w)
    edges = list(_edges(network))
    labelled = len(edges) <= MAX_LABELLED_EDGES
    out = [r"\begin{center}\resizebox{\linewidth}{!}{%", r"\begin{tikzpicture}[x=3.2cm,y=1.4cm,"
           r"node/.style={circle,draw,minimum size=9mm,inner sep=1pt},"
           r"edge/.style={->,gray},hot/.style={->,very thick,red},lbl/.style={font=\scriptsize,fill=white,inner sep=1pt}]"]
    ids = {s: f"n{i}" for i, s in enumerate(pos)}
    for s, (x, y) in pos.items():
        out.append(r"\node[node] (%s) at (%.2f,%.2f) {$%s$};" % (ids[s], x, y, printer._print(s)))
    for src, dst, weight in edges:
        style = "hot" if (src, dst) in hot else "edge"
        label = ""
        if labelled and weight is not None:
            label = r" node[lbl,pos=0.35] {$%s$}" % printer._print(weight)
        out.append(r"\draw[%s] (%s) --%s (%s);" % (style, ids[src], label, ids[dst]))
    out += [r"\end{tikzpicture}}\end{center}"]
    return "\n".join(out)


def svg(network: Network, parameter: str | sp.Symbol | None = None, marker: str = "a") -> str:
    """The same picture as standalone SVG text (plain names, e.g. W13, H4); ``marker`` is the id of
    its arrowhead (each picture inlined in one HTML page needs its own)."""
    w = network.parameter(parameter if isinstance(parameter, str) else parameter.name) if parameter is not None else None
    pos = layout(network)
    hot = path_edges(network, w)
    edges = list(_edges(network))
    labelled = len(edges) <= MAX_LABELLED_EDGES
    dx, dy, r, margin = 150, 70, 22, 40
    xs = [x for x, _ in pos.values()]
    ys = [y for _, y in pos.values()]
    width = int((max(xs) - min(xs)) * dx + 2 * margin)
    height = int((max(ys) - min(ys)) * dy + 2 * margin)
    px = {s: (margin + (x - min(xs)) * dx, margin + (max(ys) - y) * dy) for s, (x, y) in pos.items()}
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
           f'<defs><marker id="{marker}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="context-stroke"/></marker></defs>']
    for src, dst, weight in edges:
        (x1, y1), (x2, y2) = px[src], px[dst]
        length = ((x2 - x1) ** 2 + (y2 - y1) ** 2) ** 0.5 or 1
        ux, uy = (x2 - x1) / length, (y2 - y1) / length
        hot_edge = (src, dst) in hot
        colour, stroke = ("#d62728", 3) if hot_edge else ("#999999", 1)
        cls = ' class="path"' if hot_edge else ""
        out.append(f'<line{cls} x1="{x1 + ux * r:.1f}" y1="{y1 + uy * r:.1f}" x2="{x2 - ux * r:.1f}" y2="{y2 - uy * r:.1f}" '
                   f'stroke="{colour}" stroke-width="{stroke}" marker-end="url(#{marker})"/>')
        if labelled and weight is not None:
            lx, ly = x1 + (x2 - x1) * 0.35, y1 + (y2 - y1) * 0.35
            out.append(f'<text x="{lx:.1f}" y="{ly - 3:.1f}" text-anchor="middle" fill="{colour}">{escape(weight.name)}</text>')
    for s, (x, y) in px.items():
        out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r}" fill="white" stroke="black"/>')
        out.append(f'<text x="{x:.1f}" y="{y + 4:.1f}" text-anchor="middle">{escape(s.name)}</text>')
    out.append("</svg>")
    return "\n".join(out)
