"""Diagrams: the highlighted edges are exactly the paths' edges; SVG is well-formed; TikZ compiles
(the export compile tests include it)."""

import xml.etree.ElementTree as ET

from typer.testing import CliRunner

from derivchain.cli import app
from derivchain.diagram import path_edges, svg, tikz
from derivchain.network import dense, real
from derivchain.paths import iter_paths

runner = CliRunner()


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


def test_svg_is_well_formed_and_marks_the_paths():
    net = dense()
    root = ET.fromstring(svg(net, "W1"))
    lines = root.findall("{http://www.w3.org/2000/svg}line")
    assert len(lines) == 14 + 1  # every weight's edge, and Out -> Loss
    assert len([l for l in lines if l.get("class") == "path"]) == len(path_edges(net, real("W1"))) == 6
    texts = {t.text for t in root.findall("{http://www.w3.org/2000/svg}text")}
    assert {"X1", "H4", "Out", "Loss", "W13"} <= texts


def test_tikz_labels_in_the_notation():
    text = tikz(dense("2,2,1", notation="layered"), "w1_1_1")
    assert "$w^{1}_{11}$" in text and "$O_{21}$" in text and "[hot]" in text


def test_draw_cli(tmp_path):
    out = tmp_path / "net.svg"
    assert runner.invoke(app, ["draw", "W1", "--out", str(out)]).exit_code == 0
    ET.fromstring(out.read_text())
    r = runner.invoke(app, ["draw", "W1", "--out", str(out)])
    assert r.exit_code == 2 and "already exists" in r.output
    r = runner.invoke(app, ["draw", "W1", "--out", str(tmp_path / "net.png")])
    assert r.exit_code == 2 and "ending in .tex (TikZ) or .svg" in r.output
