"""Any computational graph: expression nodes, shared weights, gradients for any leaf, built graphs."""

import json
import math
from pathlib import Path

import pytest
import sympy as sp
from typer.testing import CliRunner

from derivchain import api
from derivchain.model.builders import build, conv1d, rnn
from derivchain.cli import app
from derivchain.verification.derivation import derive
from derivchain.errors import NetworkFileError
from derivchain.verification.at_values import at_values
from derivchain.limits import raised
from derivchain.model.values import check_values
from derivchain.model.network_file import build_network, load_network
from derivchain.engines.paths import count_paths, iter_paths
from derivchain.verification.steps import step_by_step

EXAMPLES = Path(__file__).parent.parent / "examples"
runner = CliRunner()


def graph(loss, **nodes):
    return build_network({"loss": loss, "nodes": [{"name": k, "expr": v} for k, v in nodes.items()]}, "g.json")


def value(net, name, values):
    """dLoss/dname at ``values`` (names -> numbers), from the derivation's three forms, which must agree."""
    d = derive(net, name)
    assert d.verdict.equal, d.verdict
    env = {s: sp.nsimplify(values[s.name]) for s in net.leaves if s.name in values}
    got = {form: sp.N(f.substituted.xreplace(env), 30) for form, f in (("direct", d.direct), ("paths", d.path_sum), ("backprop", d.backprop))}
    assert len({round(float(v), 12) for v in got.values()}) == 1, got
    return float(got["direct"])


def test_course_notes_graph_reproduces_its_published_gradients():
    # e = (a + b)(b + 1) at a = 2, b = 1: e = 6, de/da = 2, de/db = 5 (b is used twice: two paths).
    net = load_network(EXAMPLES / "course_graph.toml")
    assert [p.name for p in net.parameters] == ["a", "b"] and net.inputs == ()
    assert value(net, "a", {"a": 2, "b": 1}) == 2
    assert value(net, "b", {"a": 2, "b": 1}) == 5
    assert [p.arrow() for p in iter_paths(net, "b")] == ["b@c -> c -> e -> Loss", "b@d -> d -> e -> Loss"]
    assert derive(net, "b").backprop.how == "the sum over its 2 uses: 1 * delta_c + 1 * delta_d"


def test_cs231n_circuit_and_sigmoid_neuron():
    # f = (x + y) z at x = -2, y = 5, z = -4: df/dx = df/dy = -4, df/dz = 3.
    net = graph("f", q="x + y", f="q*z")
    vals = {"x": -2, "y": 5, "z": -4}
    assert [value(net, n, vals) for n in "xyz"] == [-4, -4, 3]
    # One sigmoid neuron f = sigmoid(w0*x0 + w1*x1 + w2) at w = [2, -3, -3], x = [-1, -2]:
    # dx = [0.393, -0.590], dw = [-0.197, -0.393, 0.197] (each a multiple of (1 - f) f = 0.19661...).
    neuron = build_network({"inputs": ["x0", "x1"], "loss": "f",
                            "nodes": [{"name": "f", "expr": "sigmoid(w0*x0 + w1*x1 + w2)"}]}, "neuron.json")
    vals = {"w0": 2, "w1": -3, "w2": -3, "x0": -1, "x1": -2}
    got = [round(value(neuron, n, vals), 3) for n in ("x0", "x1", "w0", "w1", "w2")]
    assert got == [0.393, -0.59, -0.197, -0.393, 0.197]
    # The local partial is written in the node's own symbol: f*(1 - f), as by hand.
    assert derive(neuron, "w2").path_sum.local == sp.Symbol("f", real=True) * (1 - sp.Symbol("f", real=True))


def test_gradient_for_any_leaf_of_a_dense_network():
    net = api.network()
    for leaf in ("X1", "X2", "Y", "W7", "W1"):
        d = derive(net, leaf)
        assert d.verdict.equal and d.path_count == count_paths(net, leaf)
    assert count_paths(net, "X1") == 6 and count_paths(net, "Y") == 1
    assert [p.arrow() for p in iter_paths(net, "Y")] == ["Y -> Loss"]


def test_rnn_backprop_through_time_sums_over_the_steps():
    net = load_network(EXAMPLES / "rnn.toml")
    d = derive(net, "U")
    assert d.verdict.equal and d.path_count == 2
    assert [p.arrow() for p in d.paths] == ["U@h2 -> h2 -> h3 -> Out -> Loss", "U@h3 -> h3 -> Out -> Loss"]
    assert d.backprop.gradient_text == "h1 * delta_h2 + h2 * delta_h3"
    # The file and the builder describe the same network.
    built = rnn(steps=3)
    assert [(n.name, n.equation) for n in net.neurons] == [(n.name, n.equation) for n in built.neurons]


def test_conv_kernel_weight_sums_over_positions():
    net = load_network(EXAMPLES / "conv1d.toml")
    d = derive(net, "k1")
    assert d.verdict.equal and d.path_count == 3
    assert d.backprop.gradient_text == "x1 * delta_o1 + x2 * delta_o2 + x3 * delta_o3"
    assert [(n.name, n.equation) for n in net.neurons] == [(n.name, n.equation) for n in conv1d(5, 3).neurons]


def test_tied_autoencoder_weight_used_by_encoder_and_decoder():
    net = load_network(EXAMPLES / "tied_autoencoder.toml")
    d = derive(net, "W1_1")
    assert d.verdict.equal and d.path_count == 4 and len(net.uses[d.parameter]) == 2
    # An input reaches the loss through the network and directly.
    assert "x1 -> Loss" in [p.arrow().split("@")[0] + " -> Loss" for p in iter_paths(net, "x1") if len(p.nodes) == 2] or \
        any(p.nodes[1].name == "Loss" for p in iter_paths(net, "x1"))
    assert derive(net, "x1").verdict.equal


def test_path_counts_of_shared_weights_without_enumeration():
    # Hidden size 1: the paths from U's use at step t run h_t -> ... -> h_T -> Out: one each, T - 1 uses.
    with raised(layers=60):  # 50 steps and the output: 52 layers, past the default depth limit
        net = rnn(steps=50)
        wide = rnn(steps=40, hidden=2)
    assert count_paths(net, "U") == 49 and count_paths(net, "W") == 50
    # Hidden size 2, T steps: from h_t every step doubles the ways: U's uses at t = 2..T give
    # sum over t of 2 * 2**(T - t) paths per use (2 units), counted without listing one.
    expected = sum(2 ** (40 - t) for t in range(2, 41))
    assert count_paths(wide, "U_1_1") == expected


def test_rnn_at_values_matches_a_hand_unrolled_forward_and_backward():
    net = load_network(EXAMPLES / "rnn.toml")
    vals = {"W": 0.5, "U": -0.3, "b": 0.1, "V": 2.0, "c": -0.2, "x1": 1.0, "x2": -1.0, "x3": 0.5, "Y": 0.25}
    # BPTT by hand, independently of derivchain.
    h = [0.0]
    for x in (vals["x1"], vals["x2"], vals["x3"]):
        h.append(math.tanh(vals["W"] * x + vals["U"] * h[-1] + vals["b"]))
    out = vals["V"] * h[3] + vals["c"]
    g_out = out - vals["Y"]
    dh = vals["V"] * g_out
    dU = 0.0
    for t in (3, 2, 1):
        dz = dh * (1 - h[t] ** 2)
        dU += dz * h[t - 1]
        dh = dz * vals["U"]
    assert value(net, "U", vals) == pytest.approx(dU, rel=1e-12)


def test_steps_and_at_values_work_on_graphs(tmp_path):
    net = load_network(EXAMPLES / "course_graph.toml")
    s = step_by_step(net, "b")
    assert s.verified and str(s.steps[-1].expr) == "c + d"
    v = tmp_path / "v.json"
    v.write_text(json.dumps({"a": 2, "b": 1}))
    r = runner.invoke(app, ["grad", "b", "--network", str(EXAMPLES / "course_graph.toml"), "--values", str(v), "--format", "json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["at_values"]["direct"] == out["at_values"]["path_sum"] == out["at_values"]["backprop"] == 5
    from fractions import Fraction

    assert at_values(derive(net, "b"), check_values(net, {"a": Fraction(2), "b": Fraction(1)})).agree
    # An expression node has no pre-activation: its value alone (c = a + b = 3), JSON z null.
    assert out["at_values"]["neurons"]["c"] == {"z": None, "output": 3.0}
    r = runner.invoke(app, ["grad", "b", "--network", str(EXAMPLES / "course_graph.toml"), "--values", str(v)])
    assert "\n  c = 3\n" in r.output and "c: z =" not in r.output


def test_json_contract_keeps_its_keys_on_graphs():
    dense = json.loads(runner.invoke(app, ["grad", "W7", "--format", "json"]).output)
    r = runner.invoke(app, ["grad", "U", "--network", str(EXAMPLES / "rnn.toml"), "--format", "json"])
    g = json.loads(r.output)
    assert set(dense) <= set(g), set(dense) - set(g)
    assert g["paths"][0]["arrow"] == "U@h2 -> h2 -> h3 -> Out -> Loss" if "arrow" in g["paths"][0] else True
    assert g["equal"] is True


@pytest.mark.parametrize("spec, message", [
    ({"loss": "e", "nodes": [{"name": "e", "expr": "c*2"}, {"name": "c", "expr": "e + 1"}]}, "nodes: cycle"),
    ({"loss": "e", "nodes": [{"name": "e", "expr": "e + 1"}]}, "nodes[0].expr: node 'e' reads itself"),
    ({"loss": "e", "nodes": [{"name": "e", "expr": "a +* b"}]}, "nodes[0].expr: 'a +* b' is not a valid expression"),
    ({"loss": "q", "nodes": [{"name": "e", "expr": "a*b"}]}, "loss: 'q' names no node (nodes: e)"),
    ({"loss": "e + zz", "nodes": [{"name": "e", "expr": "a*b"}]}, "loss: unknown name 'zz'"),
    ({"loss": "e", "nodes": [{"name": "e", "expr": "a*b", "extra": 1}]}, "nodes[0]: unknown key 'extra'"),
    ({"loss": "e", "nodes": [{"name": "e"}]}, "nodes[0]: missing 'expr'"),
    ({"loss": "e", "nodes": [{"name": "e", "expr": "__import__('os')"}]}, "is not allowed"),
    ({"inputs": ["a"], "loss": "e", "neurons": [{"name": "e", "inputs": {"a": "a"}}]}, "a leaf is either an input or a parameter"),
    ({"loss": "e", "targets": ["t"], "nodes": [{"name": "e", "expr": "a*b"}]}, "targets[0]: target 't' is read by nothing"),
    ({"loss": "e", "nodes": [{"name": "e", "expr": "a*b"}, {"name": "f", "expr": "a + 1"}]}, "nodes[1] (f): no path to any output"),
    ({"loss": "e", "nodes": [{"name": "e", "expr": "a*b"}, {"name": "f", "expr": "e", "output": True}]}, "'f' is marked output = true but the loss"),
])
def test_bad_graph_files_are_one_line_errors(spec, message, tmp_path):
    with pytest.raises(NetworkFileError) as info:
        build_network(spec, "g.json")
    assert str(info.value).startswith("g.json: ") and message in str(info.value), str(info.value)
    path = tmp_path / "g.json"
    path.write_text(json.dumps(spec))
    r = runner.invoke(app, ["table", "--network", str(path)])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1 and message in r.output


def test_builder_specs_and_their_errors():
    assert len(build("rnn:steps=4,hidden=2").neurons) == 9
    assert len(build("conv1d:length=6,kernel=2").outputs) == 5
    for bad, message in (("rnn:steps=0", "steps=0: give at least 1"), ("rnn:depth=3", "'depth' is not a key of rnn; use steps, hidden"),
                         ("conv1d:length=2,kernel=3", "length=2: give at least 3"), ("rnn:steps=x", "is not a whole number")):
        with pytest.raises(NetworkFileError, match=message):
            build(bad)
    r = runner.invoke(app, ["grad", "U", "--network", "rnn:steps=4"])
    assert r.exit_code == 0 and "U@h2 -> h2 -> h3 -> h4 -> Out -> Loss" in r.output and "Verdict: equal" in r.output


def test_unknown_leaf_and_node_are_named():
    net = load_network(EXAMPLES / "course_graph.toml")
    r = runner.invoke(app, ["grad", "c", "--network", str(EXAMPLES / "course_graph.toml")])
    assert r.exit_code == 2 and "a node: gradients are taken for leaves" in r.output
    assert net.describe_parameters() == "weights a, b"


@pytest.mark.parametrize("example", ["course_graph", "rnn", "conv1d", "tied_autoencoder"])
def test_graph_examples_export_to_every_format(example, tmp_path):
    import shutil

    network = str(EXAMPLES / f"{example}.toml")
    for suffix in (".md", ".html"):
        r = runner.invoke(app, ["export", "--network", network, "--out", str(tmp_path / f"notes{suffix}")])
        assert r.exit_code == 0, r.output
    assert "b@" not in (tmp_path / "notes.md").read_text() or example != "conv1d"
    if not shutil.which("pdflatex"):
        pytest.skip("no LaTeX engine")
    r = runner.invoke(app, ["export", "--network", network, "--out", str(tmp_path / "notes.tex"), "--pdf"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "notes.pdf").read_bytes().startswith(b"%PDF")
    tex = (tmp_path / "notes.tex").read_text()
    assert "Every derivative" in tex and "Backpropagation" in tex


def test_a_graph_loss_that_names_no_node(tmp_path):
    spec = {"inputs": ["x1"], "loss": "x1*2", "nodes": [{"name": "e", "expr": "x1*w"}]}
    with pytest.raises(NetworkFileError, match=r"g.json: loss: 'x1\*2' names no node \(nodes: e\)"):
        build_network(spec, "g.json")


def test_table_and_export_of_a_graph_without_parameters_say_so(tmp_path):
    net = tmp_path / "inputs_only.toml"
    net.write_text('inputs = ["x", "y"]\nloss = "q"\n[[nodes]]\nname = "q"\nexpr = "x*y"\n')
    for args in (["table"], ["export", "--out", str(tmp_path / "notes.md")]):
        r = runner.invoke(app, [*args, "--network", str(net)])
        assert r.exit_code == 2 and "has no parameters (every leaf is an input or a target: x, y)" in r.output, r.output
    assert not (tmp_path / "notes.md").exists()
    r = runner.invoke(app, ["export", "x", "--network", str(net), "--out", str(tmp_path / "notes.md")])
    assert r.exit_code == 0 and r"(#derivchain-x) | 1 | $y \delta_{q}$ | equal |" in (tmp_path / "notes.md").read_text()


@pytest.mark.parametrize("expression, note, at_kink", [
    ("max(w*x, 0)", "max(a, b) is not differentiable where a = b; its derivative Heaviside(a - b) is 1/2 there", -0.5),
    ("relu(w*x)", "relu(u) is not differentiable at u = 0; derivchain uses relu'(0) = 0", 0.0),
    ("abs(w*x)", "abs(u) is not differentiable at u = 0; derivchain uses d|u|/du = sign(u), 0 at u = 0.", 0.0),
])
def test_a_function_with_a_kink_in_a_graph_is_noted_once(expression, note, at_kink, tmp_path):
    net = tmp_path / "kink.toml"
    net.write_text(f'inputs = ["x"]\ntargets = ["t"]\nloss = "(q - t)**2/2"\n[[nodes]]\nname = "q"\nexpr = "{expression}"\n')
    r = runner.invoke(app, ["grad", "w", "--network", str(net), "--set", "x=1", "--set", "w=0", "--set", "t=1", "--format", "json"])
    out = json.loads(r.output)
    assert [n for n in out["notes"] if "not differentiable" in n] == [next(n for n in out["notes"] if note in n)]
    # The note states the value the derivation takes at the kink (w*x = 0): checked by the numbers.
    assert out["at_values"]["backprop"] == out["at_values"]["direct"] == at_kink
