"""Pictures of a graph: one layout drives both the TikZ (LaTeX documents) and the SVG (Markdown, notebooks).

The input is an abstract :class:`Graph` (nodes in columns, edges that may carry a parameter), so any
computational graph can be drawn; :func:`graph_of` is the one adapter from a :class:`Network`. The
:func:`layout` computes every coordinate once, in px (1 px = 0.75 pt in TikZ), and both writers only
print it:

* columns left to right, each column's nodes centred; a bias is a small node just above the neuron
  it feeds;
* an edge between neighbouring columns is straight, and the columns are set far enough apart that no
  straight edge passes within a margin of a node other than its ends; an edge that skips columns is
  a chain of cubic Bezier curves that climbs (or drops) in the gap after its source, runs above (or
  below) the skipped columns in a lane of its own and comes down into its target; every route is
  checked against every node by sampling;
* arrowheads are filled triangles in proportion to the node radius, the same for highlighted edges;
* each edge label is placed at the point along its edge (one of several fractions) where its box
  meets no node, no arrowhead and no other label, crossing as few other edges as possible; when some
  label finds no such place, only the highlighted edges are labelled (or the rest go to a legend, or
  labels are left out), and the caption says so.

The highlighted edges of a parameter are every edge on a path from any use of it to the loss.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import replace
from xml.sax.saxutils import escape

from ..record import record

# --- the graph ------------------------------------------------------------------------------------


@record
class Node:
    """A node: its id, its name as plain text and as LaTeX, its column, and its kind: ``node``, or
    ``bias`` (a small node drawn just above the one node it feeds, not in the column's rows)."""

    id: str
    text: str
    latex: str
    column: int
    kind: str = "node"


@record
class Edge:
    """An edge from ``source`` to ``target`` (node ids), its label (plain text and LaTeX; empty for
    none) and the parameter it carries (a name, or None). Several edges may carry one parameter."""

    source: str
    target: str
    text: str = ""
    latex: str = ""
    parameter: str | None = None


@record
class Graph:
    """Nodes and edges; every non-bias edge goes from a lower column to a higher one."""

    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    expressions: tuple[str, ...] = ()  # expression nodes' equations, said in the caption
    small: tuple[str, ...] = ()  # what the small nodes are, for the caption: "biases", "targets", ...
    expressions_latex: tuple[str, ...] = ()  # the same typeset (TikZ), one for each, or none

    def __post_init__(self):
        ids = [n.id for n in self.nodes]
        if len(set(ids)) != len(ids):
            raise ValueError("graph: node ids must be unique")
        by_id = {n.id: n for n in self.nodes}
        for e in self.edges:
            if e.source not in by_id or e.target not in by_id:
                raise ValueError(f"graph: edge {e.source} -> {e.target} names an unknown node")
            if by_id[e.target].kind == "bias":
                raise ValueError(f"graph: bias node {e.target} has an incoming edge")
            if by_id[e.source].kind != "bias" and by_id[e.source].column >= by_id[e.target].column:
                raise ValueError(f"graph: edge {e.source} -> {e.target} does not go to a later column")
        fed: dict[str, int] = {}
        for e in self.edges:
            fed[e.source] = fed.get(e.source, 0) + 1
        for n in self.nodes:
            if n.kind == "bias" and fed.get(n.id) != 1:
                raise ValueError(f"graph: bias node {n.id} must feed exactly one node")

    @property
    def parameters(self) -> tuple[str, ...]:
        """The parameters the edges carry, in edge order, each once."""
        return tuple(dict.fromkeys(e.parameter for e in self.edges if e.parameter is not None))

    def on_paths(self, parameter: str | None) -> frozenset[int]:
        """The indices of the edges on a path from any use of ``parameter`` to a sink (the loss)."""
        if parameter is None:
            return frozenset()
        out: dict[str, list[int]] = {n.id: [] for n in self.nodes}
        into: dict[str, list[int]] = {n.id: [] for n in self.nodes}
        for i, e in enumerate(self.edges):
            out[e.source].append(i)
            into[e.target].append(i)
        reaches_sink = {n for n, edges in out.items() if not edges}
        stack = list(reaches_sink)
        while stack:
            for i in into[stack.pop()]:
                s = self.edges[i].source
                if s not in reaches_sink:
                    reaches_sink.add(s)
                    stack.append(s)
        hot = set()
        stack = [i for i, e in enumerate(self.edges) if e.parameter == parameter or e.source == parameter]
        while stack:
            i = stack.pop()
            if i in hot or self.edges[i].target not in reaches_sink:
                continue
            hot.add(i)
            stack.extend(out[self.edges[i].target])
        return frozenset(hot)


def graph_of(network) -> Graph:
    """The network as a graph: inputs in column 0, each node in its layer's column, the loss last;
    weights on their edges; a bias, an expression's parameter or a leaf the loss reads (a target) is a
    small node feeding the one node that uses it, one per use, so each use of a shared one shows."""
    if getattr(network, "matrix", None) is not None:
        return _matrix_graph(network)
    name = network.latex_name
    nodes = [Node(s.name, s.name, name(s.name), 0) for s in network.inputs]
    edges = []
    small: list[tuple[str, str, int]] = []  # (leaf, node it feeds, that node's column)
    loss = network.loss_symbol.name
    last = max(n.layer for n in network.neurons) + 1
    for n in network.neurons:
        nodes.append(Node(n.name, _node_text(n), name(n.name), n.layer))
    drawn = {s.name for s in network.inputs} | {n.name for n in network.neurons}
    for src, dst, w in network.drawn_edges():
        edges.append(Edge(src.name, dst.name, w.name if w is not None else "", name(w.name) if w is not None else "",
                          w.name if w is not None else None))
    for n in network.neurons:
        leaves = [n.bias] if n.bias is not None else [x for x in n.reads if x.name not in drawn] if not n.sources else []
        small += [(x.name, n.name, n.layer) for x in leaves]
    small += [(x.name, loss, last) for x in network.uses_of_loss if x.name not in drawn]
    uses: dict[str, int] = {}
    for leaf, _, _ in small:
        uses[leaf] = uses.get(leaf, 0) + 1
    for leaf, target, column in small:
        id = leaf if uses[leaf] == 1 else f"{leaf}@{target}"  # a shared leaf: one small node per use
        nodes.append(Node(id, leaf, name(leaf), column, "bias"))
        edges.append(Edge(id, target, "", "", leaf))
    nodes.append(Node(loss, loss, name(loss), last))
    biases = {n.bias.name for n in network.neurons if n.bias is not None}
    targets = {t.name for t in network.targets}
    roles = {"biases" if leaf in biases else "targets read by the loss" if leaf in targets and target == loss
             else "parameters" for leaf, target, _ in small}
    order = ("biases", "parameters", "targets read by the loss")
    return Graph(tuple(nodes), tuple(edges), _expressions(network), tuple(r for r in order if r in roles))


def _matrix_graph(network) -> Graph:
    """A matrix graph drawn as its matrices (its entries would be dozens of circles): input matrices in
    column 0, each matrix node in a column after what it reads, the loss last; a parameter matrix (or
    a target the loss reads) is a small node feeding each node that reads it, its edge carrying it."""
    from ..model.notation import matrix_latex

    graph = network.matrix
    kinds = dict(graph.leaves)
    column = {n: 0 for n, k in kinds.items() if k == "input"}
    nodes = [Node(n, n, matrix_latex(n), 0) for n in column]
    for m in graph.nodes:
        column[m.name] = 1 + max((column[r] for r in m.reads if r in column), default=0)
        text = f"{m.name} = {m.text}"
        nodes.append(Node(m.name, text if len(text) <= 11 else m.name, matrix_latex(m.name), column[m.name]))
    loss = network.loss_symbol.name
    last = max(column.values()) + 1
    edges, small = [], []
    readers = [(m.name, m.reads) for m in graph.nodes] + [(loss, graph.loss_reads)]
    for target, reads in readers:
        for r in reads:
            if r in column and kinds.get(r) != "parameter":
                edges.append(Edge(r, target))
            elif kinds.get(r) == "parameter" or (kinds.get(r) == "target" and target == loss):
                small.append((r, target))
    uses: dict[str, int] = {}
    for leaf, _ in small:
        uses[leaf] = uses.get(leaf, 0) + 1
    for leaf, target in small:
        id = leaf if uses[leaf] == 1 else f"{leaf}@{target}"
        nodes.append(Node(id, leaf, matrix_latex(leaf), column.get(target, last), "bias"))
        edges.append(Edge(id, target, "", "", leaf))
    nodes.append(Node(loss, loss, network.latex_name(loss), last))
    roles = {"parameters" if kinds[leaf] == "parameter" else "targets read by the loss" for leaf, _ in small}
    expressions = tuple(f"{m.name} = {m.text} ({m.grid.rows}x{m.grid.cols})" for m in graph.nodes)
    return Graph(tuple(nodes), tuple(edges), expressions,
                 tuple(r for r in ("parameters", "targets read by the loss") if r in roles))


def _node_text(n) -> str:
    """A neuron's name; an expression node's ``name = expression`` while short enough to fit its circle."""
    text = n.definition  # None for a neuron
    return text if text is not None and len(text) <= 11 else n.name


def _expressions(network) -> tuple[str, ...]:
    """Each expression node's equation, for the caption (its circle may show only the name)."""
    return tuple(n.definition for n in network.neurons if n.definition is not None)


def _expressions_latex(network, printer) -> tuple[str, ...]:
    """Each expression node's equation as LaTeX (``e = c d``, not ``e = c*d``), for the TikZ caption; ``printer``:
    a LaTeX printer of the network's names, passed in (the LaTeX renderer draws its exercise sheets with
    :func:`tikz`, so this module imports none of it)."""
    return tuple("%s = %s" % (network.latex_name(n.name), printer._print(n.equation))
                 for n in network.neurons if n.definition is not None)


def path_edges(network, parameter) -> set:
    """The network's edges (source symbol, target symbol) on the paths from ``parameter`` to the loss
    (a bias's own edge, from no source, left out)."""
    if parameter is None:
        return set()
    graph = graph_of(network)
    symbols = {s.name: s for s in network.inputs} | {n.name: n.symbol for n in network.neurons}
    symbols[network.loss_symbol.name] = network.loss_symbol
    name = parameter if isinstance(parameter, str) else parameter.name
    hot = graph.on_paths(name)
    return {(symbols[e.source], symbols[e.target]) for i, e in enumerate(graph.edges) if i in hot and e.source in symbols}


# --- sizes (px; TikZ draws 1 px as 0.75 pt) --------------------------------------------------------

PT = 0.75
FONT, LABEL_FONT, BIAS_FONT, CAPTION_FONT = 40 / 3, 12.0, 28 / 3, 12.0  # 10 pt, 9 pt, 7 pt, 9 pt
RADIUS, MAX_RADIUS, BIAS_RADIUS = 20.0, 36.0, 8.0
BIAS_GAP = 12.0           # from a bias node to its neuron
EDGE_CLEAR = 5.0          # an edge keeps this far from every node that is not one of its ends
LANE0, LANE_GAP = 18.0, 14.0   # a skip edge's lane: beyond the skipped columns' nodes, then lane by lane
MARGIN = 12.0
MAX_LABELS = 400          # labels tried at all (more edges: left out, and the caption says so)
LEGEND_MAX = 16           # unplaced labels listed in the caption's legend, at most
GREY, RED = "#8c8c8c", "#d62728"
TIKZ_RED = "{rgb,255:red,214;green,39;blue,40}"

# Advance widths (em) of DejaVu Sans or Liberation Sans, whichever is wider: text never overflows its box.
_EM = {**dict.fromkeys("0123456789", 0.636), "_": 0.556, " ": 0.318, ".": 0.318, ",": 0.318, ":": 0.337, ";": 0.337,
       "(": 0.39, ")": 0.39, "→": 0.838, "\u00a0": 0.318, "-": 0.361, "'": 0.275, "/": 0.337, "=": 0.838, "+": 0.838,
       **dict(zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ", (0.684, 0.686, 0.722, 0.77, 0.667, 0.611, 0.778, 0.752, 0.295, 0.5, 0.667,
                                                  0.557, 0.863, 0.748, 0.787, 0.667, 0.787, 0.722, 0.667, 0.611, 0.732,
                                                  0.684, 0.989, 0.685, 0.667, 0.685))),
       **dict(zip("abcdefghijklmnopqrstuvwxyz", (0.613, 0.635, 0.55, 0.635, 0.615, 0.352, 0.635, 0.634, 0.278, 0.278,
                                                  0.579, 0.278, 0.974, 0.634, 0.612, 0.635, 0.635, 0.411, 0.521, 0.392,
                                                  0.634, 0.592, 0.818, 0.592, 0.592, 0.525)))}


def text_width(text: str, size: float) -> float:
    """The width of ``text`` at font size ``size`` (px), never less than it renders in the usual sans fonts."""
    return sum(_EM.get(c, 1.0) for c in text) * size


# --- the layout ------------------------------------------------------------------------------------

Point = tuple[float, float]


@record
class PlacedNode:
    """A node's circle: centre, radius, the font size of its name, and whether it is highlighted."""

    node: Node
    x: float
    y: float
    r: float
    font: float
    hot: bool = False


@record
class Route:
    """One edge as drawn: from ``start``, pieces ``("L", (p,))`` (a line) or ``("C", (c1, c2, p))`` (a
    cubic Bezier) to the arrowhead's base; the arrowhead ``(tip, left, right)``."""

    index: int
    edge: Edge
    start: Point
    pieces: tuple[tuple[str, tuple[Point, ...]], ...]
    arrow: tuple[Point, Point, Point]
    hot: bool

    @property
    def curved(self) -> bool:
        return any(kind == "C" for kind, _ in self.pieces)

    def polyline(self, per_curve: int = 24) -> list[Point]:
        """Points along the route (each curve sampled), from the start to the arrowhead's tip."""
        pts, p = [self.start], self.start
        for kind, ctrl in self.pieces:
            if kind == "L":
                pts.append(ctrl[0])
            else:
                pts += [_bezier(p, *ctrl, k / per_curve) for k in range(1, per_curve + 1)]
            p = ctrl[-1]
        pts.append(self.arrow[0])
        return pts


@record
class Label:
    """An edge label's box: centre, width, height (px), for edge ``index``."""

    index: int
    text: str
    latex: str
    x: float
    y: float
    w: float
    h: float
    hot: bool


@record
class Layout:
    """Everything both pictures draw, in px, y downwards; the caption as paragraphs of (text, LaTeX or None) parts."""

    graph: Graph
    parameter: str | None
    width: float
    height: float
    nodes: tuple[PlacedNode, ...]
    routes: tuple[Route, ...]
    labels: tuple[Label, ...]
    caption: tuple[tuple[tuple[str, str | None], ...], ...]
    caption_lines: tuple[str, ...]  # the caption wrapped to the SVG's width
    caption_top: float

    def node(self, id: str) -> PlacedNode:
        return next(p for p in self.nodes if p.node.id == id)


def layout(source, parameter=None) -> Layout:
    """The layout of a :class:`Graph` (or of a network, through :func:`graph_of`) with ``parameter``'s
    paths highlighted (a name or a symbol)."""
    graph = source if isinstance(source, Graph) else graph_of(source)
    name = None if parameter is None else (parameter if isinstance(parameter, str) else parameter.name)
    if name is not None and name not in graph.parameters and "[" in name:
        name = name.split("[", 1)[0]  # a matrix entry, WQ[0,1]: the paths of its matrix, as a matrix graph is drawn
    if name is not None and name not in graph.parameters and not any(e.source == name for e in graph.edges):
        raise ValueError(f"no edge of the graph carries or leaves {name!r}")
    hot = graph.on_paths(name)
    main = [n for n in graph.nodes if n.kind != "bias"]
    biases = [n for n in graph.nodes if n.kind == "bias"]
    rank = {c: i for i, c in enumerate(sorted({n.column for n in main}))}
    feeds = {e.source: e.target for e in graph.edges if e.source in {b.id for b in biases}}

    r = min(MAX_RADIUS, max([RADIUS] + [text_width(n.text, FONT) / 2 + 5 for n in main]))
    rb = max([BIAS_RADIUS] + [min(r, text_width(n.text, BIAS_FONT) / 2 + 2.5) for n in biases])
    dy = 2 * r + 24 + ((2 * rb + BIAS_GAP) if biases else 0)
    widest_label = max([text_width(e.text, LABEL_FONT) for e in graph.edges] + [0])

    columns: dict[int, list[Node]] = {}
    for n in main:
        columns.setdefault(rank[n.column], []).append(n)
    centre: dict[str, tuple[int, float]] = {}  # id -> (column, y)
    for c, nodes in columns.items():
        for i, n in enumerate(nodes):
            centre[n.id] = (c, (i - (len(nodes) - 1) / 2) * dy)
    xoff: dict[str, float] = {}
    siblings: dict[str, list[str]] = {}
    for b in biases:
        siblings.setdefault(feeds[b.id], []).append(b.id)
    for target, ids in siblings.items():
        c, y = centre[target]
        reach = r + BIAS_GAP + rb
        for k, id in enumerate(ids):  # several small nodes on one node: fanned out above it, 35 degrees apart
            angle = math.radians(35 * (k - (len(ids) - 1) / 2))
            centre[id] = (c, y - reach * math.cos(angle))
            xoff[id] = round(reach * math.sin(angle), 2)
    radius = {n.id: (rb if n.kind == "bias" else r) for n in graph.nodes}

    need = _spacing_for_straight_edges(graph, centre, radius)
    gaps = [max(8 * r, 2 * r + 3 * widest_label + 24, need.get(c, 0.0)) for c in range(len(columns) - 1)]
    xs = [sum(gaps[:c]) for c in range(len(columns))]
    placed = []
    hot_bias = {e.source for i, e in enumerate(graph.edges) if i in hot and e.source in feeds}
    for n in graph.nodes:
        c, y = centre[n.id]
        font = BIAS_FONT if n.kind == "bias" else FONT
        fit = (2 * radius[n.id] - 6) / max(text_width(n.text, font), 1)
        placed.append(PlacedNode(n, xs[c] + xoff.get(n.id, 0.0), y, radius[n.id], round(font * min(1.0, fit), 2), n.id in hot_bias))
    at = {p.node.id: p for p in placed}
    col_of = {n.id: centre[n.id][0] for n in graph.nodes}

    routes, lanes = [], []
    heads = _heads(graph, at, col_of)
    ports: dict[tuple[str, str], list[float]] = {}  # (node, "in" or "out") -> directions (degrees) used there
    order = sorted(range(len(graph.edges)), key=lambda i: col_of[graph.edges[i].target] - col_of[graph.edges[i].source])
    for i in order:
        e = graph.edges[i]
        a, b = at[e.source], at[e.target]
        if e.source in feeds or col_of[e.target] - col_of[e.source] == 1:
            route = _straight(i, e, a, b, i in hot, heads[e.target] if e.source not in feeds else _bias_head(a))
            u = _unit((a.x, a.y), (b.x, b.y))
            ports.setdefault((e.source, "out"), []).append(math.degrees(math.atan2(u[1], u[0])))
            ports.setdefault((e.target, "in"), []).append(math.degrees(math.atan2(u[1], u[0])))
        else:
            route = _skip(i, e, a, b, i in hot, placed, col_of, gaps, lanes, ports, heads[e.target])
        routes.append(route)
    routes.sort(key=lambda rt: rt.index)

    labels, caption = _labels(graph, routes, placed, name)
    return _framed(graph, name, placed, routes, labels, caption)


def _spacing_for_straight_edges(graph: Graph, centre, radius) -> dict[int, float]:
    """Column c -> the spacing after it at which no edge from column c to c + 1 passes within EDGE_CLEAR
    of a node of those columns other than its ends (the line from a node at height y, rising V over dx,
    passes a node D above it at D * dx / sqrt(dx^2 + V^2))."""
    by_column: dict[int, list[tuple[float, float, str]]] = {}
    for nid, (c, y) in centre.items():
        by_column.setdefault(c, []).append((y, radius[nid], nid))
    for c in by_column:
        by_column[c].sort()
    ys = {c: [y for y, _, _ in v] for c, v in by_column.items()}
    need: dict[int, float] = {}
    for e in graph.edges:
        (ca, ya), (cb, yb) = centre[e.source], centre[e.target]
        if cb - ca != 1:
            continue
        rise = yb - ya
        if rise == 0:
            continue
        for c, y, step in ((ca, ya, 1 if rise > 0 else -1), (cb, yb, -1 if rise > 0 else 1)):
            column, k = by_column[c], bisect_left(ys[c], y)
            neighbours = column[k + 1:k + 4] if step > 0 else column[max(0, k - 3):k][::-1]
            for yo, ro, nid in neighbours:
                if nid in (e.source, e.target):
                    continue
                d, clear = abs(yo - y), ro + EDGE_CLEAR
                if d <= clear:
                    continue
                need[ca] = max(need.get(ca, 0.0), 1.02 * clear * abs(rise) / math.sqrt(d * d - clear * clear))
    return need


def _unit(p: Point, q: Point) -> Point:
    d = math.hypot(q[0] - p[0], q[1] - p[1]) or 1.0
    return (q[0] - p[0]) / d, (q[1] - p[1]) / d


def _heads(graph: Graph, at, col_of) -> dict[str, tuple[float, float]]:
    """Each node's arrowheads (length, half-width): in proportion to its radius (0.45 r by 0.34 r), and
    smaller where the straight edges coming in are so close together that full-size heads would overlap."""
    angles: dict[str, list[float]] = {}
    for e in graph.edges:
        a, b = at[e.source], at[e.target]
        if e.source == e.target or col_of[e.target] - col_of[e.source] > 1:
            continue
        angles.setdefault(e.target, []).append(math.atan2(b.y - a.y, b.x - a.x))
    heads = {}
    for nid, p in at.items():
        spread = sorted(angles.get(nid, ()))
        gap = min([q - o for o, q in zip(spread, spread[1:])] + [math.pi])
        half = max(0.09 * p.r, min(0.17 * p.r, 0.4 * gap * p.r))
        heads[nid] = (half * 0.45 / 0.17, half)
    return heads


def _bias_head(bias: PlacedNode) -> tuple[float, float]:
    """The arrowhead of a bias's short edge: in proportion to the bias node."""
    return 0.48 * bias.r, 0.27 * bias.r


def _arrow(tip: Point, u: Point, length: float, half: float) -> tuple[Point, tuple[Point, Point, Point]]:
    base = (tip[0] - u[0] * length, tip[1] - u[1] * length)
    left = (base[0] - u[1] * half, base[1] + u[0] * half)
    right = (base[0] + u[1] * half, base[1] - u[0] * half)
    return base, (tip, left, right)


def _straight(i: int, e: Edge, a: PlacedNode, b: PlacedNode, hot: bool, head) -> Route:
    u = _unit((a.x, a.y), (b.x, b.y))
    start = (a.x + u[0] * a.r, a.y + u[1] * a.r)
    tip = (b.x - u[0] * b.r, b.y - u[1] * b.r)
    base, arrow = _arrow(tip, u, *head)
    return Route(i, e, start, (("L", (base,)),), arrow, hot)


def _bezier(p0: Point, p1: Point, p2: Point, p3: Point, t: float) -> Point:
    s = 1 - t
    return (s ** 3 * p0[0] + 3 * s * s * t * p1[0] + 3 * s * t * t * p2[0] + t ** 3 * p3[0],
            s ** 3 * p0[1] + 3 * s * s * t * p1[1] + 3 * s * t * t * p2[1] + t ** 3 * p3[1])


def _split(p0, p1, p2, p3, t):
    """The part of a cubic from 0 to ``t`` (de Casteljau): its four control points."""
    lerp = lambda p, q: (p[0] + (q[0] - p[0]) * t, p[1] + (q[1] - p[1]) * t)  # noqa: E731
    a, b, c = lerp(p0, p1), lerp(p1, p2), lerp(p2, p3)
    d, e = lerp(a, b), lerp(b, c)
    return p0, a, d, lerp(d, e)


def _skip(i, e, a: PlacedNode, b: PlacedNode, hot, placed, col_of, gaps, lanes, ports, head) -> Route:
    """A route for an edge that skips columns: up (or down) in the gap after its source, along a free
    lane beyond the skipped columns' nodes, and down (or up) into its target; it leaves and enters its
    ends at least PORT_GAP degrees from every other edge there. The first candidate that keeps clear
    of every other node."""
    ca, cb = col_of[e.source], col_of[e.target]
    between = [p for p in placed if ca < col_of[p.node.id] < cb]
    top = min(p.y - p.r for p in between)
    bottom = max(p.y + p.r for p in between)
    near = [p for p in placed if ca <= col_of[p.node.id] <= cb and p.node.id not in (e.source, e.target)]
    sides = (-1, 1) if (a.y + b.y) <= 0 else (1, -1)
    x1, x2 = a.x + 0.7 * gaps[ca], b.x - 0.7 * gaps[cb - 1]
    best = None
    for k in range(64):
        for side in sides:
            lane = (top - LANE0 - k * LANE_GAP) if side < 0 else (bottom + LANE0 + k * LANE_GAP)
            if any(s == side and abs(y - lane) < LANE_GAP * 0.8 and x1 < hi and lo < x2 for s, lo, hi, y in lanes):
                continue
            leave = _free_angles(a, lane, gaps[ca], ports.get((e.source, "out"), ()), 1)
            enter = _free_angles(b, lane, gaps[cb - 1], ports.get((e.target, "in"), ()), -1)
            for out_angle in leave[:3]:
                for in_angle in enter[:3]:
                    route = _skip_route(i, e, a, b, hot, lane, x1, x2, out_angle, in_angle, head)
                    miss = _clearance(route, near, a, b)
                    if miss >= EDGE_CLEAR:
                        lanes.append((side, x1, x2, lane))
                        ports.setdefault((e.source, "out"), []).append(out_angle)
                        ports.setdefault((e.target, "in"), []).append(in_angle)
                        return route
                    if best is None or miss > best[0]:
                        best = (miss, route)
    return best[1]  # no candidate keeps clear: the least bad one (the tests would say so)


PORT_GAP = 15.0  # degrees between two edges at one node


def _free_angles(p: PlacedNode, lane: float, gap: float, used, sense: int) -> list[float]:
    """Directions of motion (degrees, y down; rightwards) for a curve leaving (``sense`` 1) or entering
    (-1) node ``p`` on its way to or from height ``lane``: the natural one first, each at least
    PORT_GAP from those ``used``."""
    rise = (lane - p.y) * sense
    natural = max(-60.0, min(60.0, math.degrees(math.atan2(rise, 0.5 * gap))))
    options = [max(-72.0, min(72.0, natural + d)) for d in (0, 16, -16, 28, -28, 40, -40, 55, -55)]
    free = []
    for angle in options:
        if all(abs(angle - u) >= PORT_GAP for u in list(used) + free):
            free.append(angle)
    return free or options[:1]  # every direction is near another edge: the natural one


def _skip_route(i, e, a: PlacedNode, b: PlacedNode, hot, lane, x1, x2, out_angle, in_angle, head) -> Route:
    d0 = (math.cos(math.radians(out_angle)), math.sin(math.radians(out_angle)))
    d3 = (math.cos(math.radians(in_angle)), math.sin(math.radians(in_angle)))
    p0 = (a.x + d0[0] * a.r, a.y + d0[1] * a.r)
    p3 = (b.x - d3[0] * b.r, b.y - d3[1] * b.r)
    q1, q2 = (x1, lane), (x2, lane)
    h0 = 0.45 * math.hypot(q1[0] - p0[0], q1[1] - p0[1])
    h3 = 0.45 * math.hypot(p3[0] - q2[0], p3[1] - q2[1])
    climb = ((p0[0] + d0[0] * h0, p0[1] + d0[1] * h0), (q1[0] - 0.45 * (q1[0] - p0[0]), lane), q1)
    fall = [(q2[0] + 0.45 * (p3[0] - q2[0]), lane), (p3[0] - d3[0] * h3, p3[1] - d3[1] * h3), p3]
    length, half = head
    # Trim the last curve where it is an arrowhead's length from its end; the arrowhead fills the rest.
    lo, hi = 0.0, 1.0
    for _ in range(40):
        mid = (lo + hi) / 2
        q = _bezier(q2, *fall, mid)
        lo, hi = (mid, hi) if math.hypot(p3[0] - q[0], p3[1] - q[1]) > length else (lo, mid)
    _, c1, c2, base = _split(q2, *fall, lo)
    _, arrow = _arrow(p3, _unit(base, p3), length, half)
    pieces = [("C", climb)]
    if x2 - x1 > 1e-6:
        pieces.append(("L", (q2,)))
    pieces.append(("C", (c1, c2, base)))
    return Route(i, e, p0, tuple(pieces), arrow, hot)


def _segment_distance(p: Point, a: Point, b: Point) -> float:
    vx, vy = b[0] - a[0], b[1] - a[1]
    L2 = vx * vx + vy * vy
    t = 0.0 if L2 == 0 else max(0.0, min(1.0, ((p[0] - a[0]) * vx + (p[1] - a[1]) * vy) / L2))
    return math.hypot(p[0] - a[0] - t * vx, p[1] - a[1] - t * vy)


def _clearance(route: Route, others, a: PlacedNode, b: PlacedNode) -> float:
    """How far the route keeps from the nodes ``others`` (beyond their radius; negative: it enters one),
    or -1 when it goes back into one of its own ends."""
    pts = route.polyline(32)
    for end in (a, b):
        if any(math.hypot(x - end.x, y - end.y) < end.r - 0.5 for x, y in pts[1:-1]):
            return -1.0
    worst = math.inf
    for p in others:
        for s, t in zip(pts, pts[1:]):
            worst = min(worst, _segment_distance((p.x, p.y), s, t) - p.r)
    worst = min([worst] + [_segment_distance((p.x, p.y), route.arrow[1], route.arrow[2]) - p.r for p in others])
    return worst


# --- labels -----------------------------------------------------------------------------------------


def _labels(graph: Graph, routes, placed, parameter):
    """Place the labels; the labels and the caption's paragraphs."""
    wanted = [rt for rt in routes if rt.edge.text]
    lines = [rt.polyline(16) for rt in routes]
    caption = []
    if parameter is not None:
        names = _names(graph, parameter)
        caption.append((("Thick red: every edge on a path from ", None), *names, (" to the loss.", None)))
    if graph.expressions:
        typeset = graph.expressions_latex or (None,) * len(graph.expressions)
        parts = [("Nodes: ", None)]
        for i, (text, tex) in enumerate(zip(graph.expressions, typeset)):
            parts += ([("; ", None)] if i else []) + [(text, tex)]
        caption.append((*parts, (".", None)))
    small = [n for n in graph.nodes if n.kind == "bias"]
    if small:
        roles = list(graph.small) or ["biases"]
        said = roles[0] if len(roles) == 1 else ", ".join(roles[:-1]) + " and " + roles[-1]
        shared = " (one per use: a shared one is drawn at each)" if any("@" in n.id for n in small) else ""
        caption.append(((f"Small circles: {said}, each feeding the node it points to{shared}.", None),))
    if any(rt.curved for rt in routes):
        caption.append((("Curved edges skip columns.", None),))
    if not wanted:
        return (), tuple(caption)
    labels, missing = _place(wanted, lines, placed) if len(wanted) <= MAX_LABELS else ((), wanted)
    if not missing:
        return labels, tuple(caption)
    hot_wanted = [rt for rt in wanted if rt.hot]
    if hot_wanted and len(hot_wanted) <= MAX_LABELS:
        labels, missing = _place(hot_wanted, lines, placed)
        note = [(f"Only the red edges are labelled: the {len(wanted)} weight labels do not all fit.", None)]
        lost = ("red labels that do not fit either", "Red edges with no room for their label: ")
    elif labels and len(missing) <= LEGEND_MAX:
        note = [(f"{len(missing)} of the {len(wanted)} weight labels do not fit.", None)]
        lost = ("", "Their edges: ")
    else:
        labels, missing = (), []
        note = [(f"Edge labels are left out: the {len(wanted)} weight labels do not fit; the network's equations "
                 "name every weight.", None)]
    if len(missing) > LEGEND_MAX:
        note.append((f" {len(missing)} {lost[0]} are left out.", None))
    elif missing:
        note.append((" " + lost[1], None))
        for k, rt in enumerate(missing):
            src, dst = _node(graph, rt.edge.source), _node(graph, rt.edge.target)
            note += [(src.text, src.latex), ("\u00a0→\u00a0", r"\to"), (dst.text, dst.latex), (":\u00a0", None),
                     (rt.edge.text, rt.edge.latex), (", " if k < len(missing) - 1 else ".", None)]
    caption.append(tuple(note))
    return labels, tuple(caption)


def _node(graph: Graph, id: str) -> Node:
    return next(n for n in graph.nodes if n.id == id)


def _names(graph: Graph, parameter: str):
    e = next((e for e in graph.edges if e.parameter == parameter), None)
    if e is None:  # a node itself (an input): its own name
        n = _node(graph, parameter)
        return ((n.text, n.latex),)
    if e.text:
        return ((e.text, e.latex),)
    n = _node(graph, e.source)
    return ((n.text, n.latex),)


FRACTIONS = (0.5, 0.42, 0.58, 0.34, 0.66, 0.26, 0.74, 0.2, 0.8, 0.46, 0.54, 0.38, 0.62, 0.3, 0.7, 0.15, 0.85)


def _place(routes, lines, placed):
    """Greedy: red edges first, then the others; each at a fraction of its length where its box meets
    no node, arrowhead, placed label or other edge, as far from other edges as can be. The labels and
    the routes left without one."""
    boxes: list[tuple[float, float, float, float]] = []
    out, missing = [], []
    node_boxes = [(p.x, p.y, p.r + (0.45 * p.r + 2 if p.node.kind != "bias" else 2.5)) for p in placed]
    bounds = [(min(x for x, _ in pl), min(y for _, y in pl), max(x for x, _ in pl), max(y for _, y in pl)) for pl in lines]
    for rt in sorted(routes, key=lambda rt: (not rt.hot, rt.index)):
        w = text_width(rt.edge.text, LABEL_FONT) + 5
        h = LABEL_FONT * 1.3
        line = lines[rt.index]
        best = None
        for f in FRACTIONS:
            cx, cy = _along(line, f)
            box = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
            if any(_box_circle(box, x, y, rr) for x, y, rr in node_boxes):
                continue
            if any(box[0] < b[2] + 2 and b[0] < box[2] + 2 and box[1] < b[3] + 2 and b[1] < box[3] + 2 for b in boxes):
                continue
            if any(k != rt.index and _box_hits(box, pl, bounds[k]) for k, pl in enumerate(lines)):
                continue  # on another edge, a label could be read as that edge's
            grown = (box[0] - 4, box[1] - 4, box[2] + 4, box[3] + 4)
            near = sum(1 for k, pl in enumerate(lines) if k != rt.index and _box_hits(grown, pl, bounds[k]))
            score = (near, FRACTIONS.index(f))
            if best is None or score < best[0]:
                best = (score, box, cx, cy)
            if near == 0:
                break
        if best is None:
            missing.append(rt)
            continue
        boxes.append(best[1])
        out.append(Label(rt.index, rt.edge.text, rt.edge.latex, best[2], best[3], w, h, rt.hot))
    out.sort(key=lambda l: l.index)
    return tuple(out), missing


def _along(line: list[Point], f: float) -> Point:
    lengths = [math.hypot(q[0] - p[0], q[1] - p[1]) for p, q in zip(line, line[1:])]
    goal = f * sum(lengths)
    for (p, q), d in zip(zip(line, line[1:]), lengths):
        if goal <= d and d > 0:
            t = goal / d
            return p[0] + (q[0] - p[0]) * t, p[1] + (q[1] - p[1]) * t
        goal -= d
    return line[-1]


def _box_circle(box, x, y, r) -> bool:
    nx, ny = min(max(x, box[0]), box[2]), min(max(y, box[1]), box[3])
    return math.hypot(nx - x, ny - y) < r


def _box_hits(box, line, bound) -> bool:
    """Whether the polyline passes through the box (shrunk by 1 px)."""
    x0, y0, x1, y1 = box[0] + 1, box[1] + 1, box[2] - 1, box[3] - 1
    if bound[2] < x0 or bound[0] > x1 or bound[3] < y0 or bound[1] > y1:
        return False
    for p, q in zip(line, line[1:]):
        if _clip(p, q, x0, y0, x1, y1):
            return True
    return False


def _clip(p, q, x0, y0, x1, y1) -> bool:
    """Liang-Barsky: whether segment pq meets the rectangle."""
    t0, t1 = 0.0, 1.0
    dx, dy = q[0] - p[0], q[1] - p[1]
    for pp, qq in ((-dx, p[0] - x0), (dx, x1 - p[0]), (-dy, p[1] - y0), (dy, y1 - p[1])):
        if pp == 0:
            if qq < 0:
                return False
            continue
        t = qq / pp
        if pp < 0:
            t0 = max(t0, t)
        else:
            t1 = min(t1, t)
        if t0 > t1:
            return False
    return True


# --- framing: shift to the origin, size, caption -----------------------------------------------------


def _framed(graph, parameter, placed, routes, labels, caption) -> Layout:
    xs, ys = [], []
    for p in placed:
        xs += [p.x - p.r, p.x + p.r]
        ys += [p.y - p.r, p.y + p.r]
    for rt in routes:
        for x, y in rt.polyline(16) + list(rt.arrow):
            xs.append(x)
            ys.append(y)
    for l in labels:
        xs += [l.x - l.w / 2, l.x + l.w / 2]
        ys += [l.y - l.h / 2, l.y + l.h / 2]
    ox, oy = MARGIN - min(xs), MARGIN - min(ys)
    width = max(xs) - min(xs) + 2 * MARGIN
    lines = _wrap(caption, max(width, 360.0) - 2 * MARGIN)
    width = max(width, 360.0) if lines else width
    ox += (width - (max(xs) - min(xs) + 2 * MARGIN)) / 2
    shift = lambda pt: (round(pt[0] + ox, 2), round(pt[1] + oy, 2))  # noqa: E731
    placed = tuple(PlacedNode(p.node, *shift((p.x, p.y)), p.r, p.font, p.hot) for p in placed)
    routes = tuple(Route(rt.index, rt.edge, shift(rt.start), tuple((k, tuple(shift(c) for c in ctrl)) for k, ctrl in rt.pieces),
                         tuple(shift(c) for c in rt.arrow), rt.hot) for rt in routes)
    labels = tuple(Label(l.index, l.text, l.latex, *shift((l.x, l.y)), l.w, l.h, l.hot) for l in labels)
    top = max(ys) + oy + 10
    height = top + len(lines) * CAPTION_FONT * 1.35 + (MARGIN if lines else 0)
    return Layout(graph, parameter, round(width, 2), round(height if lines else top - 10 + MARGIN, 2), placed, routes,
                  labels, caption, tuple(lines), round(top, 2))


def _wrap(caption, width: float) -> list[str]:
    lines = []
    for paragraph in caption:
        line = ""
        for word in "".join(text for text, _ in paragraph).split(" "):
            trial = f"{line} {word}" if line else word
            if line and text_width(trial, CAPTION_FONT) > width:
                lines.append(line)
                line = word
            else:
                line = trial
        lines.append(line)
    return lines


# --- the two pictures ---------------------------------------------------------------------------------


def _f(v: float) -> str:
    return f"{v:.2f}"


def _resolve(source, parameter):
    if isinstance(source, Graph):
        return layout(source, parameter)
    if parameter is not None:
        parameter = source.parameter(parameter if isinstance(parameter, str) else parameter.name).name
    return layout(source, parameter)


def svg(source, parameter=None) -> str:
    """The picture as standalone SVG text (plain names, e.g. W13, H4), of a network or a graph."""
    lay = source if isinstance(source, Layout) else _resolve(source, parameter)
    w, h = _f(lay.width), _f(lay.height)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
           'font-family="DejaVu Sans, Verdana, Arial, sans-serif">',
           f"<title>{escape(' '.join(lay.caption_lines))}</title>",
           f'<rect class="background" width="{w}" height="{h}" fill="white"/>']
    for rt in sorted(lay.routes, key=lambda rt: rt.hot):  # red on top
        colour, stroke = (RED, 2.4) if rt.hot else (GREY, 1.1)
        d = f"M{_f(rt.start[0])},{_f(rt.start[1])}" + "".join(
            kind + " ".join(f"{_f(x)},{_f(y)}" for x, y in ctrl) for kind, ctrl in rt.pieces)
        points = " ".join(f"{_f(x)},{_f(y)}" for x, y in rt.arrow)
        out.append(f'<g class="edge{" hot" if rt.hot else ""}" data-from="{escape(rt.edge.source)}" data-to="{escape(rt.edge.target)}">'
                   f'<path d="{d}" fill="none" stroke="{colour}" stroke-width="{stroke}"/>'
                   f'<polygon points="{points}" fill="{colour}"/></g>')
    for p in lay.nodes:
        colour = RED if p.hot else "black"
        out.append(f'<g class="{"bias" if p.node.kind == "bias" else "node"}" data-id="{escape(p.node.id)}">'
                   f'<circle cx="{_f(p.x)}" cy="{_f(p.y)}" r="{_f(p.r)}" fill="white" stroke="{colour}" stroke-width="1.2"/>'
                   f'<text x="{_f(p.x)}" y="{_f(p.y + 0.35 * p.font)}" text-anchor="middle" font-size="{_f(p.font)}" '
                   f'fill="{colour}">{escape(p.node.text)}</text></g>')
    for l in lay.labels:
        e = lay.graph.edges[l.index]
        out.append(f'<g class="label" data-from="{escape(e.source)}" data-to="{escape(e.target)}">'
                   f'<rect x="{_f(l.x - l.w / 2)}" y="{_f(l.y - l.h / 2)}" width="{_f(l.w)}" height="{_f(l.h)}" fill="white"/>'
                   f'<text x="{_f(l.x)}" y="{_f(l.y + 0.35 * LABEL_FONT)}" text-anchor="middle" font-size="{_f(LABEL_FONT)}" '
                   f'fill="{RED if l.hot else "#404040"}">{escape(l.text)}</text></g>')
    for k, line in enumerate(lay.caption_lines):
        y = lay.caption_top + (k + 0.8) * CAPTION_FONT * 1.35
        out.append(f'<text class="caption" x="{_f(MARGIN)}" y="{_f(y)}" font-size="{_f(CAPTION_FONT)}">{escape(line)}</text>')
    out.append("</svg>")
    return "\n".join(out)


_TEX = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "_": r"\_", "%": r"\%", "&": r"\&", "#": r"\#", "$": r"\$",
        "^": r"\^{}", "~": r"\~{}", "\u00a0": "~"}


def tikz(source, parameter=None, printer=None, caption: bool = True) -> str:
    """The picture as a tikzpicture (the same coordinates as the SVG, 1 px = 0.75 pt), shrunk to the
    line width and to 60 % of the text height when larger, with its caption below (unless ``caption``
    is False: a document's per-parameter pictures, whose text says what the red edges are).

    The graph carries every name's LaTeX; ``printer`` (a LaTeX printer of a network's names) typesets
    its expression nodes' equations in the caption (``e = c d``), which without one are said as text."""
    if printer is not None and not isinstance(source, (Layout, Graph)):
        network = source
        if parameter is not None:
            parameter = network.parameter(parameter if isinstance(parameter, str) else parameter.name).name
        source = replace(graph_of(network), expressions_latex=_expressions_latex(network, printer))
    lay = source if isinstance(source, Layout) else _resolve(source, parameter)
    out = [r"\begin{center}%",
           r"\sbox0{\begin{tikzpicture}[x=%gpt,y=-%gpt,line cap=round," % (PT, PT),
           r"edge/.style={draw=black!45,line width=%spt}," % _f(1.1 * PT),
           r"hot/.style={draw=%s,line width=%spt}," % (TIKZ_RED, _f(2.4 * PT)),
           r"edgehead/.style={fill=black!45},hothead/.style={fill=%s}," % TIKZ_RED,
           r"name/.style={inner sep=0pt,font=\fontsize{10}{12}\selectfont},"
           r"biasname/.style={inner sep=0pt,font=\fontsize{7}{8}\selectfont},"
           r"lbl/.style={fill=white,inner sep=0pt,font=\fontsize{9}{10}\selectfont}]"]
    for rt in sorted(lay.routes, key=lambda rt: rt.hot):
        style = "hot" if rt.hot else "edge"
        path = "(%s,%s)" % (_f(rt.start[0]), _f(rt.start[1]))
        for kind, ctrl in rt.pieces:
            c = ["(%s,%s)" % (_f(x), _f(y)) for x, y in ctrl]
            path += f" -- {c[0]}" if kind == "L" else f" .. controls {c[0]} and {c[1]} .. {c[2]}"
        out.append(r"\draw[%s] %s; %% %s -> %s" % (style, path, rt.edge.source, rt.edge.target))
        out.append(r"\fill[%shead] %s -- cycle;" % (style, " -- ".join("(%s,%s)" % (_f(x), _f(y)) for x, y in rt.arrow)))
    for p in lay.nodes:
        colour = TIKZ_RED if p.hot else "black"
        kind = "biasname" if p.node.kind == "bias" else "name"
        base = BIAS_FONT if p.node.kind == "bias" else FONT
        scale = "" if p.font >= base else ",scale=%s" % _f(p.font / base)
        out.append(r"\filldraw[fill=white,draw=%s,line width=%spt] (%s,%s) circle[radius=%spt];"
                   % (colour, _f(1.2 * PT), _f(p.x), _f(p.y), _f(p.r * PT)))
        out.append(r"\node[%s%s,text=%s] at (%s,%s) {$%s$};" % (kind, scale, colour, _f(p.x), _f(p.y), p.node.latex))
    for l in lay.labels:
        out.append(r"\node[lbl,minimum width=%spt,minimum height=%spt,text=%s] at (%s,%s) {$%s$};"
                   % (_f(l.w * PT), _f(l.h * PT), TIKZ_RED if l.hot else "black!75", _f(l.x), _f(l.y), l.latex))
    out.append(r"\end{tikzpicture}}%")
    out.append(r"\ifdim\wd0>\linewidth\sbox0{\resizebox{\linewidth}{!}{\usebox0}}\fi")
    out.append(r"\ifdim\ht0>0.6\textheight\sbox0{\resizebox{!}{0.6\textheight}{\usebox0}}\fi")
    out.append(r"\usebox0%")
    if lay.caption and caption:
        text = r"\\ ".join(_tex_paragraph(par) for par in lay.caption)
        out.append(r"\par\smallskip{\small %s\par}" % text)
    out.append(r"\end{center}")
    return "\n".join(out)


def _tex_paragraph(parts) -> str:
    """Caption parts as LaTeX: prose escaped, each run of names (and arrows) in one math group."""
    out, math_run = [], []
    for text, tex in list(parts) + [("", None)]:
        if tex is not None:
            math_run.append(tex)
            continue
        if math_run:
            out.append("$%s$" % " ".join(math_run))
            math_run = []
        out.append(_tex(text))
    return "".join(out)


def _tex(text: str) -> str:
    return "".join(_TEX.get(c, c) for c in text)
