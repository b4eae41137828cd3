"""Diagrams: the geometry of the SVG, read back from its text (no edge through a node that is not its
end, no label on a node, another label or another edge, arrowheads in proportion, biases drawn, skip
connections curved); the TikZ drawn from the same coordinates; the highlighted edges are the paths'."""

import math
import os
import random
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from derivchain.cli import app
from derivchain.renderers.diagram import Edge, Graph, Node, graph_of, layout, path_edges, svg, tikz
from derivchain.renderers.export import compile_text, latex_engine
from derivchain.model.network_file import build_network, load_network
from derivchain.model.network import dense, real
from derivchain.engines.paths import iter_paths

runner = CliRunner()
ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
NS = "{http://www.w3.org/2000/svg}"


# --- reading an SVG back -----------------------------------------------------------------------------

def _numbers(text):
    return [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", text)]


def _path_pieces(d):
    """An SVG path of absolute M, L, C, Q commands -> start point and pieces (command, control points)."""
    pieces, start = [], None
    for cmd, args in re.findall(r"([MLCQ])([^MLCQ]*)", d):
        v = _numbers(args)
        pts = [(v[k], v[k + 1]) for k in range(0, len(v), 2)]
        if cmd == "M":
            start = pts[0]
        else:
            pieces.append((cmd, pts))
    return start, pieces


def _sample(start, pieces, per_curve=200):
    """Points along a path: every curve sampled finely, every line as its two ends."""
    out, p = [start], start
    for cmd, pts in pieces:
        if cmd == "L":
            out.append(pts[0])
        else:
            ctrl = [p, *pts]
            for k in range(1, per_curve + 1):
                t = k / per_curve
                n = len(ctrl) - 1
                out.append(tuple(sum(math.comb(n, i) * (1 - t) ** (n - i) * t ** i * c[j] for i, c in enumerate(ctrl))
                                 for j in (0, 1)))
        p = pts[-1]
    return out


def _seg_dist(p, a, b):
    vx, vy = b[0] - a[0], b[1] - a[1]
    L2 = vx * vx + vy * vy
    t = 0 if L2 == 0 else max(0, min(1, ((p[0] - a[0]) * vx + (p[1] - a[1]) * vy) / L2))
    return math.hypot(p[0] - a[0] - t * vx, p[1] - a[1] - t * vy)


def _seg_meets_box(a, b, box):
    x0, y0, x1, y1 = box
    t0, t1 = 0.0, 1.0
    dx, dy = b[0] - a[0], b[1] - a[1]
    for p, q in ((-dx, a[0] - x0), (dx, x1 - a[0]), (-dy, a[1] - y0), (dy, y1 - a[1])):
        if p == 0:
            if q < 0:
                return False
        elif p < 0:
            t0 = max(t0, q / p)
        else:
            t1 = min(t1, q / p)
        if t0 > t1:
            return False
    return True


def read_svg(text):
    root = ET.fromstring(text)
    nodes, edges, labels = {}, [], []
    for g in root.iter(f"{NS}g"):
        cls = g.get("class", "").split()
        if cls and cls[0] in ("node", "bias"):
            c = g.find(f"{NS}circle")
            nodes[g.get("data-id")] = dict(kind=cls[0], x=float(c.get("cx")), y=float(c.get("cy")), r=float(c.get("r")),
                                           text=g.find(f"{NS}text").text)
        elif cls and cls[0] == "edge":
            start, pieces = _path_pieces(g.find(f"{NS}path").get("d"))
            v = _numbers(g.find(f"{NS}polygon").get("points"))
            edges.append(dict(source=g.get("data-from"), target=g.get("data-to"), hot="hot" in cls, start=start,
                              pieces=pieces, arrow=[(v[0], v[1]), (v[2], v[3]), (v[4], v[5])]))
        elif cls and cls[0] == "label":
            rect, t = g.find(f"{NS}rect"), g.find(f"{NS}text")
            x, y, w, h = (float(rect.get(k)) for k in ("x", "y", "width", "height"))
            labels.append(dict(source=g.get("data-from"), target=g.get("data-to"), box=(x, y, x + w, y + h), text=t.text,
                               tx=float(t.get("x")), font=float(t.get("font-size"))))
    caption = " ".join(t.text for t in root.iter(f"{NS}text") if t.get("class") == "caption")
    return dict(nodes=nodes, edges=edges, labels=labels, caption=caption, width=float(root.get("width")),
                height=float(root.get("height")))


def geometry_problems(pic):
    """Everything wrong with the picture's geometry, as sentences (none: the picture is sound)."""
    bad = []
    nodes = pic["nodes"]
    for e in pic["edges"]:
        name = f"{e['source']}->{e['target']}"
        a, b = nodes[e["source"]], nodes[e["target"]]
        pts = _sample(e["start"], e["pieces"]) + [e["arrow"][0]]
        if abs(math.dist(pts[0], (a["x"], a["y"])) - a["r"]) > 0.6:
            bad.append(f"{name} does not start on its source's circle")
        if abs(math.dist(e["arrow"][0], (b["x"], b["y"])) - b["r"]) > 0.6:
            bad.append(f"{name}: the arrowhead's tip is not on its target's circle")
        for nid, n in nodes.items():
            c = (n["x"], n["y"])
            if nid in (e["source"], e["target"]):
                inner = pts[1:-1]  # the ends touch the circle; nothing else may go inside it
                if any(math.dist(p, c) < n["r"] - 0.5 for p in inner):
                    bad.append(f"{name} goes back into its own end {nid}")
                continue
            near = min(_seg_dist(c, p, q) for p, q in zip(pts, pts[1:]))
            near = min([near] + [_seg_dist(c, p, q) for p, q in zip(e["arrow"], e["arrow"][1:] + e["arrow"][:1])])
            if near <= n["r"] + 1:
                bad.append(f"{name} passes through node {nid} ({near - n['r']:.1f} px from its circle)")
        tip, left, right = e["arrow"]
        base = ((left[0] + right[0]) / 2, (left[1] + right[1]) / 2)
        length, width = math.dist(tip, base), math.dist(left, right)
        target_r = b["r"] if a["kind"] != "bias" else a["r"]
        if not (0.15 * target_r <= length <= 0.5 * target_r and width <= 1.25 * length):
            bad.append(f"{name}: arrowhead {length:.1f} by {width:.1f} px out of proportion to radius {target_r:.1f}")
    boxes = [l["box"] for l in pic["labels"]]
    for i, l in enumerate(pic["labels"]):
        x0, y0, x1, y1 = l["box"]
        name = f"label {l['text']}"
        if abs(l["tx"] - (x0 + x1) / 2) > 0.5 or len(l["text"]) * 0.55 * l["font"] > x1 - x0:
            bad.append(f"{name}: its text is not centred in its box or does not fit")
        for m in boxes[i + 1:]:
            if x0 < m[2] and m[0] < x1 and y0 < m[3] and m[1] < y1:
                bad.append(f"{name} overlaps another label")
        for nid, n in nodes.items():
            nx, ny = min(max(n["x"], x0), x1), min(max(n["y"], y0), y1)
            if math.hypot(nx - n["x"], ny - n["y"]) < n["r"]:
                bad.append(f"{name} sits on node {nid}")
        own = [e for e in pic["edges"] if (e["source"], e["target"]) == (l["source"], l["target"])]
        shrunk = (x0 + 1.5, y0 + 1.5, x1 - 1.5, y1 - 1.5)
        if not own or not _on_edge(own[0], l["box"]):
            bad.append(f"{name} is not on its edge")
        for e in pic["edges"]:
            if (e["source"], e["target"]) == (l["source"], l["target"]):
                continue
            pts = _sample(e["start"], e["pieces"]) + [e["arrow"][0]]
            if any(_seg_meets_box(p, q, shrunk) for p, q in zip(pts, pts[1:])):
                bad.append(f"{name} lies on the edge {e['source']}->{e['target']}")
    return bad


def _on_edge(edge, box):
    pts = _sample(edge["start"], edge["pieces"]) + [edge["arrow"][0]]
    return any(_seg_meets_box(p, q, box) for p, q in zip(pts, pts[1:]))


def network_problems(net, pic, parameter=None):
    """What the picture gets wrong about the network: a missing or extra edge or node, a bias not
    drawn, a label naming the wrong weight, a wrong highlight, an unlabelled weight the caption hides."""
    bad = []
    loss = net.loss_symbol.name
    drawn_names = {s.name for s in net.inputs} | {n.name for n in net.neurons}
    expected = {(src.name, n.name): w.name for n in net.neurons for src, w in n.sources}
    expected |= {(r.name, n.name): None for n in net.neurons if not n.sources for r in n.reads if r.name in drawn_names}
    expected |= {(x.name, loss): None for x in net.uses_of_loss if x.name in drawn_names}
    # Small nodes: a bias, an expression's parameter, a leaf the loss reads itself (a target): one per use.
    small = [(n.bias.name, n.name) for n in net.neurons if n.bias is not None]
    small += [(r.name, n.name) for n in net.neurons if not n.sources and n.bias is None for r in n.reads if r.name not in drawn_names]
    small += [(x.name, loss) for x in net.uses_of_loss if x.name not in drawn_names]
    uses = {}
    for leaf, _ in small:
        uses[leaf] = uses.get(leaf, 0) + 1
    small_id = {(leaf, t): leaf if uses[leaf] == 1 else f"{leaf}@{t}" for leaf, t in small}
    expected |= {(small_id[k], k[1]): None for k in small}
    drawn = [(e["source"], e["target"]) for e in pic["edges"]]
    if sorted(drawn) != sorted(expected):
        bad.append(f"edges drawn {sorted(set(drawn) ^ set(expected))} differ from the network's")
    names = drawn_names | {loss}
    if {k for k, n in pic["nodes"].items() if n["kind"] == "node"} != names:
        bad.append("the nodes drawn are not the network's")
    for (leaf, target), id in small_id.items():
        b = pic["nodes"].get(id)
        if b is None or b["kind"] != "bias" or b["text"] != leaf:
            bad.append(f"bias {leaf} of {target} is not drawn")
    labelled = set()
    for l in pic["labels"]:
        if expected.get((l["source"], l["target"])) != l["text"]:
            bad.append(f"label {l['text']} is on the edge {l['source']}->{l['target']}")
        labelled.add((l["source"], l["target"]))
    unlabelled = [k for k, w in expected.items() if w is not None and k not in labelled]
    if unlabelled:
        said = ("Only the red edges are labelled" in pic["caption"] or "labels are left out" in pic["caption"]
                or all(expected[k] in pic["caption"] for k in unlabelled))
        if not said:
            bad.append(f"{len(unlabelled)} weights are unlabelled and the caption does not say so: {pic['caption']!r}")
        if "Only the red edges are labelled" in pic["caption"]:
            hot = [(e["source"], e["target"]) for e in pic["edges"] if e["hot"]]
            missing = [expected[k] for k in hot if expected.get(k) and k not in labelled]
            if any(w not in pic["caption"] for w in missing):
                bad.append("a red edge's label is neither drawn nor listed in the caption")
    if parameter is not None:
        p = net.parameter(parameter)
        want = {(s.name, t.name) for s, t in path_edges(net, p)}
        want |= {(small_id[k], k[1]) for k in small if k[0] == p.name}
        if {(e["source"], e["target"]) for e in pic["edges"] if e["hot"]} != want:
            bad.append("the red edges are not the parameter's paths")
    for e in pic["edges"]:
        a, b = net.neuron_by_symbol.get(real(e["source"])), net.neuron_by_symbol.get(real(e["target"]))
        la = a.layer if a is not None else 0
        lb = b.layer if b is not None else max(n.layer for n in net.neurons) + 1
        if e["source"] in names and lb - la > 1 and not any(cmd in "CQ" for cmd, _ in e["pieces"]):
            bad.append(f"the skip edge {e['source']}->{e['target']} is straight")
    return bad


# --- the networks checked ------------------------------------------------------------------------------

def random_network(seed):
    """A random layered network with random skip connections (seeded: the same every run)."""
    rng = random.Random(seed)
    inputs = [f"X{i}" for i in range(1, rng.randint(1, 4) + 1)]
    layers = [inputs]
    neurons, count = [], {"n": 0, "w": 0, "b": 0}
    depth = rng.randint(1, 4)
    for level in range(1, depth + 2):
        last = level == depth + 1
        width = rng.randint(1, 2) if last else rng.randint(1, 5)
        layer = []
        for _ in range(width):
            count["n"] += 1
            name = f"Out{count['n']}" if last else f"N{count['n']}"
            earlier = [s for ly in layers[:-1] for s in ly]
            sources = rng.sample(layers[-1], rng.randint(1, len(layers[-1])))
            sources += [s for s in earlier if rng.random() < 0.25]
            spec = {"name": name, "inputs": {}, "output": last}
            for s in sources:
                count["w"] += 1
                spec["inputs"][s] = f"W{count['w']}"
            if rng.random() < 0.4:
                count["b"] += 1
                spec["bias"] = f"B{count['b']}"
            neurons.append(spec)
            layer.append(name)
        layers.append(layer)
    # Every node feeds something: a node with no successor gets an edge to a random later neuron.
    fed = {s for spec in neurons for s in spec["inputs"]}
    for level, ly in enumerate(layers[:-1]):
        for s in ly:
            if s not in fed:
                target = rng.choice([spec for spec in neurons if spec["name"] in {n for later in layers[level + 1:] for n in later}])
                count["w"] += 1
                target["inputs"][s] = f"W{count['w']}"
    return build_network({"name": f"random {seed}", "inputs": inputs, "neurons": neurons, "loss": "half-squared"}, f"random{seed}")


def cases():
    for path in sorted(EXAMPLES.glob("*.toml")) + sorted(EXAMPLES.glob("*.json")):
        if not path.name.endswith("_values.json"):  # values files, not networks
            yield path.name, load_network(path)
    yield "default", dense()
    yield "default with biases", dense(bias=True)
    yield "3-4-4-1", dense("3,4,4,1")
    yield "8-8-8-1", dense("8,8,8,1")
    yield "8-8-8-1 with biases", dense("8,8,8,1", bias=True)
    yield "layered notation", dense("2,3,2", notation="layered", bias=True)
    for seed in range(12):
        yield f"random DAG {seed}", random_network(seed)


CASES = list(cases())


@pytest.mark.parametrize("name, net", CASES, ids=[c[0] for c in CASES])
def test_svg_geometry(name, net):
    choices = [None, net.parameters[0], net.parameters[-1], net.parameters[len(net.parameters) // 2]]
    for parameter in dict.fromkeys(p.name if p is not None else None for p in choices):
        pic = read_svg(svg(net, parameter))
        assert geometry_problems(pic) == [], (name, parameter)
        if net.matrix is None:  # a matrix graph is drawn as its matrices (tests/test_matrix_file.py checks it)
            assert network_problems(net, pic, parameter) == [], (name, parameter)


def test_the_checks_can_fail():
    # A skip edge drawn straight through the node it skips, a label moved onto another, an oversized
    # arrowhead: each is caught.
    net = load_network(EXAMPLES / "skip.toml")
    pic = read_svg(svg(net, "W1"))
    skip = next(e for e in pic["edges"] if (e["source"], e["target"]) == ("H1", "Out"))
    skip["pieces"] = [("L", [skip["arrow"][0]])]
    assert any("passes through node H2" in p for p in geometry_problems(pic))
    assert any("skip edge H1->Out is straight" in p for p in network_problems(net, pic))
    pic = read_svg(svg(dense(), "W7"))
    pic["labels"][1]["box"] = pic["labels"][0]["box"]
    assert any("overlaps another label" in p for p in geometry_problems(pic))
    tip, left, right = pic["edges"][0]["arrow"]
    pic["edges"][0]["arrow"] = [tip, (3 * left[0] - 2 * tip[0], 3 * left[1] - 2 * tip[1]), (3 * right[0] - 2 * tip[0], 3 * right[1] - 2 * tip[1])]
    assert any("out of proportion" in p for p in geometry_problems(pic))
    pic = read_svg(svg(dense("3,4,4,1"), "W1"))
    pic["caption"] = ""
    assert any("caption does not say so" in p for p in network_problems(dense("3,4,4,1"), pic))


def test_worked_example_labels_every_weight_and_w2_is_not_over_w5():
    pic = read_svg(svg(dense(), "W7"))
    boxes = {l["text"]: l["box"] for l in pic["labels"]}
    assert sorted(boxes) == sorted(f"W{i}" for i in range(1, 15))
    a, b = boxes["W2"], boxes["W5"]
    assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]
    assert "Thick red: every edge on a path from W7 to the loss." in pic["caption"]


def test_red_arrowheads_are_the_size_of_grey_ones():
    # At each node every arrowhead has one size, red or grey (the red ones were once twice as large).
    for net, parameter in ((dense(), "W7"), (dense("3,4,4,1", bias=True), "W1")):
        sizes = {}
        pic = read_svg(svg(net, parameter))
        for e in pic["edges"]:
            tip, left, right = e["arrow"]
            sizes.setdefault((e["target"], pic["nodes"][e["source"]]["kind"] == "bias"), set()).add(
                (round(math.dist(tip, ((left[0] + right[0]) / 2, (left[1] + right[1]) / 2)), 1), round(math.dist(left, right), 1)))
        assert all(len(s) == 1 for s in sizes.values()), sizes


def test_wide_networks_label_the_red_edges_and_say_so():
    pic = read_svg(svg(dense("8,8,8,1"), "W1"))
    assert "Only the red edges are labelled" in pic["caption"]
    assert {l["text"] for l in pic["labels"]} <= {"W1", *(f"W{k}" for k in range(65, 137))}
    assert len(pic["labels"]) >= 10
    pic = read_svg(svg(dense("8,8,8,1")))
    assert pic["labels"] == [] and "Edge labels are left out" in pic["caption"]


# --- TikZ from the same layout ---------------------------------------------------------------------------

_PT = r"\(([-\d.]+),([-\d.]+)\)"


def read_tikz(text):
    circles = [tuple(map(float, m)) for m in re.findall(r"\\filldraw\[[^\]]*\] " + _PT + r" circle\[radius=([\d.]+)pt\]", text)]
    names = re.findall(r"\\node\[(?:name|biasname)[^\]]*\] at " + _PT + r" \{\$(.*?)\$\};", text)
    labels = re.findall(r"\\node\[lbl[^\]]*\] at " + _PT + r" \{\$(.*?)\$\};", text)
    edges = []
    for style, path, src, dst in re.findall(r"\\draw\[(edge|hot)\] (.*?); % (\S+) -> (\S+)", text):
        edges.append((style == "hot", src, dst, [tuple(map(float, p)) for p in re.findall(_PT, path)], ".. controls" in path))
    heads = [[tuple(map(float, p)) for p in re.findall(_PT, h)] for h in re.findall(r"\\fill\[\w+head\] (.*?) -- cycle;", text)]
    return circles, names, labels, edges, heads


@pytest.mark.parametrize("name, net", [c for c in CASES if c[0] in ("skip.toml", "default with biases", "8-8-8-1", "random DAG 3")],
                         ids=lambda v: v if isinstance(v, str) else "")
def test_tikz_draws_the_layout_coordinates(name, net):
    parameter = net.parameters[0].name
    lay = layout(net, parameter)
    circles, names, labels, edges, heads = read_tikz(tikz(net, parameter))
    assert circles == [(p.x, p.y, round(p.r * 0.75, 2)) for p in lay.nodes]
    assert [(float(x), float(y), tex) for x, y, tex in names] == [(p.x, p.y, p.node.latex) for p in lay.nodes]
    assert [(float(x), float(y), tex) for x, y, tex in labels] == [(l.x, l.y, l.latex) for l in lay.labels]
    drawn = sorted(lay.routes, key=lambda rt: rt.hot)
    assert [(h, s, t) for h, s, t, _, _ in edges] == [(rt.hot, rt.edge.source, rt.edge.target) for rt in drawn]
    for (_, _, _, pts, curved), rt in zip(edges, drawn):
        assert pts == [rt.start] + [c for _, ctrl in rt.pieces for c in ctrl] and curved == rt.curved
    assert heads == [list(rt.arrow) for rt in drawn]
    # ... and the SVG from the same coordinates.
    pic = read_svg(svg(net, parameter))
    assert {k: (n["x"], n["y"]) for k, n in pic["nodes"].items()} == {p.node.id: (p.x, p.y) for p in lay.nodes}
    assert [e["start"] for e in pic["edges"]] == [rt.start for rt in drawn]


def test_tikz_fits_the_page():
    text = tikz(dense("8,8,8,1", bias=True), "W1")
    assert "x=0.75pt,y=-0.75pt" in text
    assert r"\ifdim\wd0>\linewidth\sbox0{\resizebox{\linewidth}{!}{\usebox0}}\fi" in text
    assert r"\ifdim\ht0>0.6\textheight\sbox0{\resizebox{!}{0.6\textheight}{\usebox0}}\fi" in text


@pytest.mark.skipif(latex_engine() is None and not os.environ.get("CI"), reason="no LaTeX engine installed (CI installs one)")
def test_a_wide_network_compiles_to_one_page():
    body = tikz(dense("8,8,8,1", bias=True), "W1") + "\n" + tikz(load_network(EXAMPLES / "skip.toml"), "B1")
    doc = ("\\documentclass[11pt]{article}\n\\usepackage[a4paper,margin=2cm]{geometry}\n\\usepackage{graphicx,tikz}\n"
           "\\begin{document}\n" + body + "\n\\end{document}\n")
    _, log = compile_text(doc)
    assert "(1 page" in log and "Overfull" not in log


# --- the graph ------------------------------------------------------------------------------------------

def test_highlighted_edges_are_the_paths_edges():
    for net in (dense(), dense("2,3,3,2", bias=True)):
        for p in net.parameters:
            expected = set()
            for path in iter_paths(net, p):
                nodes = path.nodes[1:]  # the weight itself is not a node of the picture
                source, _ = net.edges[p]
                if source is not None:
                    expected.add((source, nodes[0]))
                expected.update(zip(nodes, nodes[1:]))
            assert path_edges(net, p) == expected, p


def test_graph_of_and_shared_parameters():
    net = load_network(EXAMPLES / "skip.toml")
    g = graph_of(net)
    # The target Y is a small node on the loss (the loss reads it): draw Y highlights Y -> Loss.
    assert [n.id for n in g.nodes] == ["X1", "X2", "H1", "H2", "Out", "B1", "Y", "Loss"]
    assert [n.column for n in g.nodes] == [0, 0, 1, 2, 3, 1, 4, 4] and g.nodes[5].kind == g.nodes[6].kind == "bias"
    assert ("B1", "H1", "B1") in {(e.source, e.target, e.parameter) for e in g.edges}
    # Two edges carry one parameter: the highlight is every edge on a path from either use.
    shared = Graph((Node("a", "a", "a", 0), Node("b", "b", "b", 0), Node("c", "c", "c", 1), Node("d", "d", "d", 1),
                    Node("L", "L", "L", 2)),
                   (Edge("a", "c", "w", "w", "w"), Edge("b", "d", "w", "w", "w"), Edge("a", "d", "v", "v", "v"),
                    Edge("c", "L"), Edge("d", "L")))
    assert shared.on_paths("w") == {0, 1, 3, 4} and shared.on_paths("v") == {2, 4}
    pic = read_svg(svg(shared, "w"))
    assert geometry_problems(pic) == []
    assert sorted(l["text"] for l in pic["labels"]) == ["v", "w", "w"]
    with pytest.raises(ValueError, match="later column"):
        Graph((Node("a", "a", "a", 1), Node("b", "b", "b", 1)), (Edge("a", "b"),))


def test_tikz_labels_in_the_notation():
    text = tikz(dense("2,2,1", notation="layered"), "w1_1_1")
    assert "$w^{1}_{11}$" in text and "$O_{21}$" in text and "[hot]" in text


def test_output_is_the_same_whatever_the_hash_seed():
    code = ("from derivchain.renderers.diagram import svg, tikz; from derivchain.model.network import dense; "
            "from derivchain.model.network_file import load_network; import sys; sys.path.insert(0, 'tests'); "
            "from test_diagram import random_network; "
            "print(svg(load_network('examples/skip.toml'), 'W1') + tikz(dense('3,4,4,1', bias=True), 'B2') "
            "+ svg(random_network(5)) + tikz(random_network(7)))")
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True,
                           env={**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}).stdout for seed in ("1", "2")}
    assert len(outs) == 1


def test_draw_cli(tmp_path):
    out = tmp_path / "net.svg"
    assert runner.invoke(app, ["draw", "W1", "--out", str(out)]).exit_code == 0
    ET.fromstring(out.read_text())
    r = runner.invoke(app, ["draw", "W1", "--out", str(out)])
    assert r.exit_code == 2 and "already exists" in r.output
    r = runner.invoke(app, ["draw", "W1", "--out", str(tmp_path / "net.png")])
    assert r.exit_code == 2 and "ending in .tex (TikZ) or .svg" in r.output


def test_graphs_draw_each_use_and_each_expression():
    # A shared bias is drawn at each of its uses; an expression node shows its expression.
    rnn = load_network(EXAMPLES / "rnn.toml")
    g = graph_of(rnn)
    assert [n.id for n in g.nodes if n.text == "b"] == ["b@h1", "b@h2", "b@h3"]
    pic = read_svg(svg(rnn, "U"))
    hot = {(e["source"], e["target"]) for e in pic["edges"] if e["hot"]}
    assert hot == {("h1", "h2"), ("h2", "h3"), ("h3", "Out"), ("Out", "Loss")}
    hot_labels = [l["text"] for l in pic["labels"] if (l["source"], l["target"]) in hot or l["text"] == "U"]
    assert sorted(hot_labels) == ["U", "U", "V"]
    course = load_network(EXAMPLES / "course_graph.toml")
    pic = read_svg(svg(course, "b"))
    assert {n["text"] for n in pic["nodes"].values()} >= {"c = a + b", "d = b + 1", "e = c*d"}
    assert {(e["source"], e["target"]) for e in pic["edges"] if e["hot"]} == {("b@c", "c"), ("b@d", "d"), ("c", "e"), ("d", "e"), ("e", "Loss")}
    assert geometry_problems(pic) == [] and network_problems(course, pic, "b") == []
    # An input's gradient highlights the edges leaving it.
    pic = read_svg(svg(dense(), "X1"))
    assert {(e["source"], e["target"]) for e in pic["edges"] if e["hot"]} >= {("X1", "H1"), ("X1", "H2"), ("X1", "H3")}


def test_the_tikz_caption_typesets_the_nodes_equations(tmp_path):
    # "Nodes: e = c*d" is code in a caption; the notes typeset it (the SVG keeps the plain text).
    from derivchain.renderers.latex import printer_for

    net = load_network(Path(__file__).resolve().parent.parent / "examples" / "course_graph.toml")
    caption = [l for l in tikz(net, None, printer_for(net)).splitlines() if "Nodes:" in l][0]
    assert "Nodes: $c = a + b$; $d = b + 1$; $e = c d$." in caption and "*" not in caption
    assert "Nodes: c = a + b; d = b + 1; e = c*d." in " ".join(layout(net).caption_lines)
    # The printer is passed in (this module imports no LaTeX renderer: that one draws exercise sheets with tikz);
    # `draw --out x.tex` passes it, the notes and the exercise sheets pass theirs.
    out = tmp_path / "g.tex"
    path = Path(__file__).resolve().parent.parent / "examples" / "course_graph.toml"
    assert runner.invoke(app, ["draw", "--network", str(path), "--out", str(out)]).exit_code == 0
    assert "Nodes: $c = a + b$; $d = b + 1$; $e = c d$." in out.read_text()
