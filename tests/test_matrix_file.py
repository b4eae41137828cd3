"""Matrix graphs (issue 23): a network file with [shapes] whose nodes are matrix expressions, read into
scalar entry nodes ``NAME[i,j]``; shapes checked as the file is read; entries derived like any parameter."""

from __future__ import annotations

import json
import math
import random
from fractions import Fraction

import pytest
import sympy as sp
from typer.testing import CliRunner

from derivchain import api
from derivchain.cli import app
from derivchain.errors import DerivchainError, NetworkFileError
from derivchain.model.network_file import build_network
from derivchain.model.notation import generic_latex
from derivchain.symbolic.grids import Grid
from derivchain.symbolic.matrix_parse import parse_matrix_expression
from derivchain.symbolic.parse import parse_expression
from derivchain.verification.derivation import derive

runner = CliRunner()


def attention(tokens: int = 3, dim: int = 4) -> dict:
    """Scaled single-head self-attention, as the issue writes it."""
    return {
        "name": "attention", "inputs": ["X"], "targets": ["T"], "loss": "sum((A - T)**2)/2",
        "shapes": {"X": [tokens, dim], "WQ": [dim, dim], "WK": [dim, dim], "WV": [dim, dim], "T": [tokens, dim]},
        "nodes": [{"name": "Q", "expr": "X @ WQ"}, {"name": "K", "expr": "X @ WK"}, {"name": "V", "expr": "X @ WV"},
                  {"name": "S", "expr": f"Q @ K.T / sqrt({dim})"}, {"name": "P", "expr": "softmax(S, axis=1)"},
                  {"name": "A", "expr": "P @ V"}],
    }


def small(nodes: list[tuple[str, str]], shapes: dict, loss: str, inputs=("X",), targets=()) -> dict:
    return {"inputs": list(inputs), "targets": list(targets), "loss": loss, "shapes": shapes,
            "nodes": [{"name": n, "expr": e} for n, e in nodes]}


def numbers(names, seed: int = 1) -> dict[sp.Symbol, float]:
    rng = random.Random(seed)
    return {s: rng.uniform(-1, 1) for s in names}


def value(expr: sp.Expr, point: dict) -> float:
    return float(expr.xreplace({s: sp.Float(v, 30) for s, v in point.items()}).evalf(30))


# --- reading a matrix graph ----------------------------------------------------------------------


def test_attention_file_becomes_entry_nodes():
    net = build_network(attention(), "attention.toml")
    assert len(net.neurons) == 3 * 12 + 9 + 9 + 12  # Q, K, V; S, P; A
    assert [p.name for p in net.parameters][:5] == ["WQ[0,0]", "WQ[0,1]", "WQ[0,2]", "WQ[0,3]", "WQ[1,0]"]
    assert len(net.parameters) == 48 and net.parameters[-1].name == "WV[3,3]"
    assert [x.name for x in net.inputs][:2] == ["X[0,0]", "X[0,1]"] and len(net.targets) == 12
    assert dict(net.matrix.shapes)["S"] == (3, 3) and dict(net.matrix.shapes)["A"] == (3, 4)
    assert {n.name for n in net.outputs} == {f"A[{i},{j}]" for i in range(3) for j in range(4)}
    by = net.neuron_by_symbol
    s01 = by[next(s for s in net.node_symbols if s.name == "S[0,1]")].equation
    q = [sp.Symbol(f"Q[0,{k}]", real=True) for k in range(4)]
    k = [sp.Symbol(f"K[1,{k}]", real=True) for k in range(4)]
    assert sp.expand(s01 - sum(a * b for a, b in zip(q, k)) / 2) == 0  # (Q K^T / sqrt 4)[0,1]


def test_grid_operations_match_the_arithmetic_entry_by_entry():
    x = Grid(tuple(tuple(sp.Symbol(f"x{i}{j}") for j in range(3)) for i in range(2)))
    r = Grid(((sp.Symbol("r0"), sp.Symbol("r1"), sp.Symbol("r2")),))
    c = Grid(((sp.Symbol("c0"),), (sp.Symbol("c1"),)))
    env = {"M": x, "R": r, "C": c, "s": sp.Symbol("s")}
    point = {sym: random.Random(3).uniform(-1, 1) + i for i, sym in enumerate(sorted(
        set().union(*(e.free_symbols for g in (x, r, c) for e in g.flat()), {sp.Symbol("s")}), key=str))}
    m = [[point[x.entries[i][j]] for j in range(3)] for i in range(2)]
    rv, cv, sv = [point[e] for e in r.flat()], [point[e] for e in c.flat()], point[sp.Symbol("s")]

    def grid(text):
        g = parse_matrix_expression(text, env, "test")
        return [[value(e, point) for e in row] for row in g.entries] if isinstance(g, Grid) else value(g, point)

    close = lambda a, b: all(math.isclose(p, q, rel_tol=1e-12, abs_tol=1e-12)  # noqa: E731
                             for ra, rb in zip(a, b) for p, q in zip(ra, rb))
    assert close(grid("M + R"), [[m[i][j] + rv[j] for j in range(3)] for i in range(2)])  # a row broadcast
    assert close(grid("M * C"), [[m[i][j] * cv[i] for j in range(3)] for i in range(2)])  # a column broadcast
    assert close(grid("M / s - 1"), [[m[i][j] / sv - 1 for j in range(3)] for i in range(2)])
    assert close(grid("M @ M.T"), [[sum(m[i][k] * m[j][k] for k in range(3)) for j in range(2)] for i in range(2)])
    assert close(grid("sum(M, axis=0)"), [[m[0][j] + m[1][j] for j in range(3)]])
    assert close(grid("mean(M, axis=1)"), [[sum(m[i]) / 3] for i in range(2)])
    assert math.isclose(grid("mean(M)"), sum(map(sum, m)) / 6)
    assert math.isclose(grid("M[1,2] * 2"), 2 * m[1][2])
    rows = grid("softmax(M, axis=1)")
    assert close(rows, [[math.exp(m[i][j]) / sum(math.exp(v) for v in m[i]) for j in range(3)] for i in range(2)])
    cols = grid("softmax(M, axis=0)")
    assert close(cols, [[math.exp(m[i][j]) / (math.exp(m[0][j]) + math.exp(m[1][j])) for j in range(3)] for i in range(2)])
    assert close(grid("sigmoid(M) ** 2"), [[(1 / (1 + math.exp(-v))) ** 2 for v in row] for row in m])
    soft = parse_matrix_expression("softplus(M)", env, "t", {"softplus": lambda z: sp.log(1 + sp.exp(z))})
    assert math.isclose(value(soft.entries[0][0], point), math.log(1 + math.exp(m[0][0])))


@pytest.mark.parametrize("text, message", [
    ("M @ M", "shapes 2x3 and 2x3 do not fit @ (the left's 3 columns must equal the right's 2 rows) in 'M @ M'"),
    ("M + M.T", "shapes 2x3 and 3x2 do not fit +"),
    ("M @ 2", "shapes 2x3 and scalar do not fit @"),
    ("M[2,0]", "M[2, 0] is outside M, which is 2x3"),
    ("softmax(M)", "softmax() without axis="),
    ("softmax(M, axis=2)", "axis=2 (axis is 0"),
    ("sum(M, dim=1)", "the keyword dim="),
    ("M.shape", "the attribute .shape (only .T"),
    ("M.T.T.__class__", "the attribute .__class__"),
    ("__import__('os')", "the call __import__(...) is not allowed"),
    ("M[0]", "the subscript 'M[0]'"),
    ("frobnicate(M)", "the call frobnicate(...) is not allowed"),
    ("M ** M", "a matrix as an exponent"),
    ("[M, M]", "the construct 'List'"),
    ("lambda: M", "the construct 'Lambda'"),
])
def test_matrix_parser_refuses_in_one_line(text, message):
    env = {"M": Grid(tuple(tuple(sp.Symbol(f"m{i}{j}") for j in range(3)) for i in range(2)))}
    with pytest.raises(DerivchainError) as err:
        parse_matrix_expression(text, env, "nodes[0] (Z)")
    assert message in str(err.value) and "\n" not in str(err.value)
    assert str(err.value).startswith("nodes[0] (Z): ")


@pytest.mark.parametrize("change, message", [
    (lambda d: d["nodes"][3].update(expr="Q @ K / 2"),
     "attention.toml: nodes[3] (S): shapes 3x4 and 3x4 do not fit @ (the left's 4 columns must equal the right's 3 rows) "
     "in 'Q @ K'"),
    (lambda d: d["nodes"][5].update(expr="P @ V + WQ"), "nodes[5] (A): shapes 3x4 and 4x4 do not fit +"),
    (lambda d: d["nodes"][4].update(expr="softmax(S, axis=1) + gelu(S)"), "the call gelu(...) is not allowed"),
    (lambda d: d.update(loss="(A - T)**2/2"), "loss: '(A - T)**2/2' is 3x4; a loss is a scalar"),
    (lambda d: d["shapes"].update(X=[3]), "shapes.X: must be [rows, cols]"),
    (lambda d: d["shapes"].update(Z=[2, 2]), "shapes.Z: 'Z' is read by no node and not the loss"),
    (lambda d: d["shapes"].update(A=[4, 3]), "nodes[5] (A): 'P @ V' is 3x4, but shapes declares A 4x3"),
    (lambda d: (d["nodes"][0].update(expr="K @ WQ"), d["nodes"][1].update(expr="Q @ WK")),
     "nodes: cycle Q -> K -> Q; a feed-forward graph has no cycles"),
    (lambda d: d["nodes"].append({"name": "sum", "expr": "A"}), "is a Python keyword or a function's name"),
    (lambda d: d["nodes"][0].update(output=True), "nodes[0]: unknown key 'output'"),
    (lambda d: d.update(neurons=[]), "top level: unknown key 'neurons'"),
    (lambda d: d.update(loss="sum(T)"), "loss: 'sum(T)' reads no node"),
    (lambda d: d["shapes"].update(X=[100000, 1000]), "more than 20000 entries"),
])
def test_matrix_file_errors_are_one_line(change, message):
    data = attention()
    change(data)
    with pytest.raises(NetworkFileError) as err:
        build_network(data, "attention.toml")
    assert message in str(err.value), str(err.value)
    assert "\n" not in str(err.value)


def test_a_huge_product_is_refused_before_it_is_built():
    data = small([("Z", "X @ X.T")], {"X": [3000, 1]}, "sum(Z)")
    with pytest.raises(NetworkFileError, match=r"'X @ X.T' would be 3000x3000, more than 5000 entries"):
        build_network(data, "big.toml")


def test_loss_as_a_1x1_node_and_scalar_parameters():
    data = small([("Z", "W @ X + b"), ("J", "sum(Z**2)/2")], {"X": [2, 1], "W": [1, 2]}, "J")
    net = build_network(data, "one.toml")
    assert [p.name for p in net.parameters] == ["W[0,0]", "W[0,1]", "b"]
    assert [n.name for n in net.outputs] == ["J[0,0]"]
    d = derive(net, "W[0,1]")
    assert d.verdict.equal
    x0, x1, w0, w1, b = (sp.Symbol(n, real=True) for n in ("X[0,0]", "X[1,0]", "W[0,0]", "W[0,1]", "b"))
    assert sp.expand(d.direct.substituted - (w0 * x0 + w1 * x1 + b) * x1) == 0


def test_entries_not_reaching_the_loss_are_left_out():
    data = small([("Z", "X * W"), ("J", "Z[0,0] + Z[1,1]")], {"X": [2, 2], "W": [2, 2]}, "J")
    net = build_network(data, "diag.toml")
    assert [n.name for n in net.neurons] == ["Z[0,0]", "Z[1,1]", "J[0,0]"]
    assert [p.name for p in net.parameters] == ["W[0,0]", "W[1,1]"]


# --- entries as names in every format --------------------------------------------------------------


def test_entry_names_print_and_parse_back():
    assert generic_latex("WQ[0,1]") == "W_{Q}[0,1]"
    assert generic_latex("delta_P[2,0]") == r"\delta_{P[2,0]}"
    assert generic_latex("gamma[0,3]") == r"\gamma[0,3]" and generic_latex("X[1,1]") == "X[1,1]"
    net = build_network(attention(2, 2), "attention.toml")
    d = derive(net, "WQ[0,0]")
    names = {s.name: s for s in [*net.leaves, *net.node_symbols]}
    names.update({f"delta_{n.name}": sp.Symbol(f"delta_{n.name}", real=True) for n in net.neurons})
    for form in (d.backprop.local, d.path_sum.local):
        text = str(form)
        assert "[" in text
        assert sp.simplify(parse_expression(text, names, "printed", None) - form) == 0
    with pytest.raises(DerivchainError, match="the subscript 'WQ\\[0\\]'"):
        parse_expression("WQ[0]", names, "x")


@pytest.mark.parametrize("fmt", ["text", "json", "markdown", "latex", "html"])
def test_grad_of_an_entry_in_every_format(fmt, tmp_path):
    path = tmp_path / "attention.json"
    path.write_text(json.dumps(attention(2, 2)))
    r = runner.invoke(app, ["grad", "WQ[0,1]", "--network", str(path), "--max-paths", "1", "--format", fmt])
    assert r.exit_code == 0, r.output
    assert ("W_{Q}[0,1]" if fmt == "latex" else "WQ[0,1]") in r.output
    if fmt == "json":
        data = json.loads(r.output)
        assert data["weight"] == "WQ[0,1]" and data["equal"] is True
    if fmt == "html":
        assert "<svg" in r.output  # the matrix graph's picture, drawn as its matrices


def test_show_json_has_shapes(tmp_path):
    path = tmp_path / "attention.json"
    path.write_text(json.dumps(attention(2, 2)))
    r = runner.invoke(app, ["show", "--network", str(path), "--format", "json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["shapes"]["X"] == [2, 2] and data["shapes"]["S"] == [2, 2] and list(data["shapes"])[:2] == ["X", "WQ"]


def test_bad_matrix_file_exits_2_in_one_line(tmp_path):
    data = attention()
    data["nodes"][3]["expr"] = "Q @ K"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    r = runner.invoke(app, ["grad", "WQ[0,0]", "--network", str(path)])
    assert r.exit_code == 2
    assert r.output.strip().count("\n") == 0 and "shapes 3x4 and 3x4 do not fit @" in r.output


# --- entries as parameters: values, step, table, export ------------------------------------------------

VALUES = {
    "X": [[0.1, -0.2], [0.4, 0.1]], "WQ": [[0.2, -0.1], [0.1, 0.15]], "WK": [[-0.1, 0.2], [0.25, -0.15]],
    "WV": [[0.3, 0.1], [-0.1, 0.2]], "T": [[0.1, 0.0], [0.0, 0.1]],
}


def _files(tmp_path, values=VALUES):
    net, vals = tmp_path / "attention.json", tmp_path / "values.json"
    net.write_text(json.dumps(attention(2, 2)))
    vals.write_text(json.dumps(values))
    return str(net), str(vals)


def _reference_gradient(values, name: str, i: int, j: int) -> float:
    """dLoss/dname[i,j] by central differences on a forward pass written here in plain Python."""
    def loss(v):
        mm = lambda a, b: [[sum(a[r][k] * b[k][c] for k in range(len(b))) for c in range(len(b[0]))] for r in range(len(a))]  # noqa: E731
        q, k, vv = mm(v["X"], v["WQ"]), mm(v["X"], v["WK"]), mm(v["X"], v["WV"])
        s = [[sum(q[r][t] * k[c][t] for t in range(2)) / math.sqrt(2) for c in range(2)] for r in range(2)]
        p = [[math.exp(x) / sum(math.exp(y) for y in row) for x in row] for row in s]
        a = mm(p, vv)
        return sum((a[r][c] - v["T"][r][c]) ** 2 for r in range(2) for c in range(2)) / 2

    h, out = 1e-6, []
    for sign in (1, -1):
        moved = json.loads(json.dumps(values))
        moved[name][i][j] += sign * h
        out.append(loss(moved))
    return (out[0] - out[1]) / (2 * h)


def test_values_as_nested_lists_give_each_entry(tmp_path):
    net, vals = _files(tmp_path)
    r = runner.invoke(app, ["grad", "WK[1,0]", "--network", net, "--values", vals, "--max-paths", "0", "--format", "json"])
    assert r.exit_code == 0, r.output
    at = json.loads(r.output)["at_values"]
    reference = _reference_gradient(VALUES, "WK", 1, 0)
    assert all(math.isclose(at[k], reference, rel_tol=1e-6) for k in ("backprop", "path_sum", "direct"))
    assert math.isclose(at["neurons"]["Q[1,0]"]["output"], 0.4 * 0.2 + 0.1 * 0.1)


def test_values_toml_nested_arrays_and_set_one_entry(tmp_path):
    net, _ = _files(tmp_path)
    toml = tmp_path / "values.toml"
    toml.write_text("\n".join(f"{k} = {json.dumps(v)}" for k, v in VALUES.items()) + "\n")
    given = api.given_values(str(toml), ["WQ[0,1]=0.5"])
    moved = json.loads(json.dumps(VALUES))
    moved["WQ"][0][1] = 0.5
    at = api.grad(api.network(net), "WQ[0,1]", values=given)
    assert math.isclose(float(at.backprop), _reference_gradient(moved, "WQ", 0, 1), rel_tol=1e-6)


@pytest.mark.parametrize("values, message", [
    ({**VALUES, "WQ": [[1, 2, 3], [4, 5, 6]]}, "values: WQ is 2x3; the network's WQ is 2x2"),
    ({**VALUES, "WQ": [[1, 2], [3]]}, "WQ's rows have 2, 1 entries"),
    ({**VALUES, "WQ": 1}, "values: WQ is a 2x2 matrix; give it as a list of rows"),
    ({**VALUES, "Z": [[1]]}, "values: Z is given as a matrix, but this network has no matrix Z"),
])
def test_values_of_the_wrong_shape_are_one_line(tmp_path, values, message):
    net, vals = _files(tmp_path, values)
    r = runner.invoke(app, ["grad", "WQ[0,0]", "--network", net, "--values", vals])
    assert r.exit_code == 2 and message in r.output and r.output.strip().count("\n") == 0, r.output


def test_step_and_freeze_an_entry(tmp_path):
    net, vals = _files(tmp_path)
    r = runner.invoke(app, ["step", "--network", net, "--values", vals, "--lr", "0.5", "--freeze", "WQ[0,0]",
                            "--freeze", "WK*", "--format", "json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["frozen"] == ["WQ[0,0]", "WK[0,0]", "WK[0,1]", "WK[1,0]", "WK[1,1]"]
    assert "WQ[0,0]" not in data["updated"] and "WQ[0,1]" in data["updated"]
    new = data["updated"]["WV[0,1]"]
    assert math.isclose(new, 0.1 - 0.5 * _reference_gradient(VALUES, "WV", 0, 1), rel_tol=1e-6)


def test_table_of_every_entry(tmp_path):
    net, _ = _files(tmp_path)
    r = runner.invoke(app, ["table", "--network", net, "--format", "json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)["rows"]  # the table in delta form (issue 26); --expand: the grad objects
    assert [row["parameter"] for row in rows][:3] == ["WQ[0,0]", "WQ[0,1]", "WQ[1,0]"] and len(rows) == 12
    assert all(row["equal"] for row in rows)
    expanded = runner.invoke(app, ["table", "--network", net, "--format", "json", "--expand"])
    assert [row["weight"] for row in json.loads(expanded.output)] == [row["parameter"] for row in rows]


def test_export_markdown_names_entry_pictures_without_brackets(tmp_path):
    net, _ = _files(tmp_path)
    out = tmp_path / "notes.md"
    r = runner.invoke(app, ["export", "WQ[0,1]", "--network", net, "--out", str(out), "--max-paths", "1"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "notes-paths-WQ-0-1.svg").exists()
    assert "(notes-paths-WQ-0-1.svg)" in out.read_text()


# --- builders, examples and the picture ----------------------------------------------------------------


def test_builders_match_the_issue():
    net = api.network("attention:tokens=3,dim=4")
    assert [m.name for m in net.matrix.nodes] == ["Q", "K", "V", "S", "P", "A"]
    assert [m.text for m in net.matrix.nodes][3:] == ["Q @ K.T / sqrt(4)", "softmax(S, axis=1)", "P @ V"]
    assert dict(net.matrix.leaves) == {"X": "input", "T": "target", "WQ": "parameter", "WK": "parameter", "WV": "parameter"}
    assert len(net.parameters) == 48 and net.loss.text == "sum((A - T)**2)/2"
    ln = api.network("layernorm:n=3")
    assert dict(ln.matrix.shapes)["mu"] == (1, 1) and [p.name for p in ln.parameters][:3] == ["gamma[0,0]", "gamma[0,1]", "gamma[0,2]"]
    bn = api.network("batchnorm:batch=3")
    assert dict(bn.matrix.shapes)["mu"] == (1, 2) and dict(bn.matrix.shapes)["X"] == (3, 2)
    with pytest.raises(NetworkFileError, match="attention: 'heads' is not a key of attention; use tokens, dim"):
        api.network("attention:heads=2")
    with pytest.raises(NetworkFileError, match="tokens=0: give at least 1"):
        api.network("attention:tokens=0")


@pytest.mark.parametrize("example", ["attention", "layernorm", "batchnorm", "softmax_classifier", "two_layer_batch"])
def test_example_pictures_are_the_matrices(example):
    from derivchain.renderers.diagram import svg
    from tests.test_diagram import geometry_problems, read_svg

    net = api.network(f"examples/{example}.toml")
    entry = net.parameters[0].name
    pic = read_svg(svg(net, entry))
    assert geometry_problems(pic) == []
    kinds = dict(net.matrix.leaves)
    drawn = {k for k, n in pic["nodes"].items() if n["kind"] == "node"}
    assert drawn == {n for n, k in kinds.items() if k == "input"} | {m.name for m in net.matrix.nodes} | {"Loss"}
    matrix = entry.split("[")[0]
    hot = {(e["source"], e["target"]) for e in pic["edges"] if e["hot"]}
    assert any(src.split("@")[0] == matrix for src, _ in hot)  # the entry's matrix starts the red paths
    assert any(dst == "Loss" for _, dst in hot)
    assert f"({net.matrix.nodes[0].grid.rows}x{net.matrix.nodes[0].grid.cols})" in pic["caption"]
