"""The node protocol (model/nodes.py): neurons and expression nodes are two kinds of one Node, and the
engines, the verifier, the numbers at values, the printers, the diagrams and the network files know a
node only through it: a third kind defined here derives, verifies, prints and draws with no change
elsewhere, and no module outside the model tells the kinds apart by their class."""

from __future__ import annotations

import ast
import json
from fractions import Fraction
from pathlib import Path

import pytest
import sympy as sp

from derivchain.engines.matrix import NotDenseError, matrix_form
from derivchain.engines.paths import iter_paths
from derivchain.errors import NetworkFileError
from derivchain.model.activations import get_activation
from derivchain.model.losses import get_loss
from derivchain.model.network import Network, dense, real, with_l2
from derivchain.model.network_file import build_network, load_network, network_data
from derivchain.model.nodes import NO_ACTIVATION, ExprNode, Neuron, Node
from derivchain.record import record
from derivchain.renderers import render
from derivchain.renderers.diagram import graph_of, svg, tikz
from derivchain.verification.at_values import at_values
from derivchain.verification.derivation import derive
from derivchain.verification.steps import step_by_step

PACKAGE = Path(__file__).resolve().parents[1] / "derivchain"
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@record(repr=False)
class Scale(Node):
    """s = k * source: a third kind of node, with partials of its own (no expression to differentiate)."""

    symbol: sp.Symbol
    layer: int
    source: sp.Symbol
    scale: sp.Symbol
    is_output: bool

    noun = "scaling node"

    @property
    def equation(self) -> sp.Expr:
        """k * source."""
        return self.scale * self.source

    def inner_partial(self, x: sp.Symbol) -> sp.Expr:
        """d(k * source)/dx: k for the source, the source for k, else 0."""
        return {self.source: self.scale, self.scale: self.source}.get(x, sp.S.Zero)


X, W, B, K, V, Y = (real(n) for n in ("X", "W", "B", "k", "V", "Y"))
H, S, OUT = real("H"), real("S"), real("Out")


def scaled() -> Network:
    """X -> H = tanh(X*W + B) -> S = k*H (the third kind) -> Out = S*V -> Loss = (Out - Y)**2/2."""
    nodes = (Neuron(H, 1, ((X, W),), B, get_activation("tanh"), False), Scale(S, 2, H, K, False),
             Neuron(OUT, 3, ((S, V),), None, get_activation("identity"), True))
    return Network((), (X,), nodes, (Y,), get_loss("half-squared"), origin="scaled")


def by_hand(parameter: sp.Symbol) -> sp.Expr:
    loss = (sp.tanh(X * W + B) * K * V - Y) ** 2 / 2
    return sp.diff(loss, parameter)


@pytest.mark.parametrize("name", ["W", "B", "k", "V", "X", "Y"])
def test_a_third_kind_derives_three_ways_verified(name):
    net = scaled()
    d = derive(net, name)
    assert d.verdict.equal, d.verdict
    expected = by_hand(real(name))
    for form in (d.direct, d.path_sum, d.backprop):
        assert sp.simplify(form.substituted - expected) == 0, (form.engine, form.substituted)


def test_a_third_kind_through_its_own_partials():
    net = scaled()
    assert net.is_graph  # no pre-activation: the dense equations do not describe it
    assert net.weights == (W, K, V) and net.biases == (B,)
    # the path from W passes through S, whose factor is the kind's own partial dS/dH = k
    [path] = list(iter_paths(net, "W"))
    assert [str(f) for f in path.factors] == ["dLoss/dOut", "dOut/dS", "dS/dH", "dH/dW"]
    assert path.factors[2].value == K
    assert net.summary() == "scaled: 1 input, 2 neurons, 1 scaling node, 4 parameters; loss half-squared ((Out - Y)**2/2)"


def test_a_third_kind_at_values_and_step_by_step():
    net = scaled()
    values = {X: Fraction(1, 2), W: Fraction(2), B: Fraction(0), K: Fraction(3), V: Fraction(-1), Y: Fraction(1)}
    at = at_values(derive(net, "k"), values)
    assert at.agree
    z = {name: z for name, z, _ in at.neurons}
    assert z["S"] is None and z["H"] is not None  # the third kind has no pre-activation
    expected = by_hand(K).subs({s: sp.Rational(v.numerator, v.denominator) for s, v in values.items()})
    assert abs(float(at.backprop.value) - float(expected)) < 1e-12
    steps = step_by_step(net, "W")
    assert steps.verified


@pytest.mark.parametrize("fmt, shows", [
    ("text", ["scaling node", "dLoss/dOut * dOut/dS * dS/dk = (Out - Y) * V * H", "delta_S = V*delta_Out", "Verdict: equal"]),
    ("markdown", ["`k -> S -> Out -> Loss`", "Verdict: **equal**"]),
    ("latex", [r"\frac{\partial S}{\partial k}", r"Verdict: \emph{equal}"]),
])
def test_a_third_kind_prints(fmt, shows):
    out = render(derive(scaled(), "k"), fmt)
    for piece in shows:
        assert piece in out, (piece, out)


def test_a_third_kind_prints_as_json():
    out = json.loads(render(derive(scaled(), "k"), "json"))
    assert out["equal"] is True and out["path_sum_local"] == "H*V*(Out - Y)"
    assert [f["partial"] for f in out["paths"][0]["factors"]] == ["dLoss/dOut", "dOut/dS", "dS/dk"]


def test_a_third_kind_shows_and_draws():
    net = scaled()
    assert "S = H*k" in render(net, "text")
    graph = graph_of(net)
    assert {(e.source, e.target) for e in graph.edges} >= {("X", "H"), ("H", "S"), ("S", "Out"), ("k", "S"), ("B", "H")}
    assert graph.expressions == ("S = H*k",)  # the caption gives the kind's definition
    picture = svg(net, "k")
    assert picture.startswith("<svg") and 'data-id="k"' in picture and "S = H*k" in picture
    assert r"\begin{tikzpicture}" in tikz(net, "k")


def test_a_third_kind_is_refused_by_the_matrix_form_by_its_noun():
    with pytest.raises(NotDenseError, match="it has scaling nodes"):
        matrix_form(scaled())


def test_a_third_kind_is_written_to_a_network_file_as_an_expression():
    net = scaled()
    data = network_data(net)
    assert data["nodes"] == [{"name": "S", "expr": "H*k"}]
    again = build_network(json.loads(json.dumps(data)))
    assert [str(n.equation) for n in again.neurons] == [str(n.equation) for n in net.neurons]
    assert str(derive(again, "k").backprop.substituted) == str(derive(net, "k").backprop.substituted)


def test_a_kind_without_its_partials_fails_when_defined():
    with pytest.raises(TypeError, match="Half does not define inner_partial"):
        class Half(Node):
            @property
            def equation(self):
                return self.symbol / 2


def test_neuron_and_expression_node_answer_the_protocol():
    net = build_network({"inputs": ["X1"], "loss": "(o - Y)**2/2", "targets": ["Y"],
                         "neurons": [{"name": "H", "inputs": {"X1": "W1"}, "bias": "B1", "activation": "sigmoid"}],
                         "nodes": [{"name": "o", "expr": "a*H"}]})
    h, o = net.neurons
    assert (h.noun, o.noun) == ("neuron", "expression node")
    assert h.preactivation == h.inner == real("X1") * real("W1") + real("B1") and o.preactivation is None
    assert o.inner == o.equation == real("a") * real("H")
    assert h.partial(real("W1")) == h.derivative() * h.inner_partial(real("W1")) and o.derivative() == 1
    assert o.partial(real("a")) == o.inner_partial(real("a")) == real("H")
    assert (h.sources, o.sources, o.bias, o.activation) == (((real("X1"), real("W1")),), (), None, NO_ACTIVATION)
    assert (h.definition, o.definition) == (None, "o = H*a")
    assert h.reads == (real("X1"), real("W1"), real("B1")) and o.reads == (real("H"), real("a"))  # as printed: H*a
    assert h.file_entry() == ("neurons", {"name": "H", "inputs": {"X1": "W1"}, "bias": "B1", "activation": "sigmoid"})
    assert o.file_entry() == ("nodes", {"name": "o", "expr": "H*a", "output": True})
    assert net.summary() == "network: 1 input, 1 neuron, 1 expression node, 3 parameters; loss (o - Y)**2/2"


NETWORKS = [*sorted(EXAMPLES.glob("*.toml")), EXAMPLES / "classifier.json"]


@pytest.mark.parametrize("path", NETWORKS, ids=lambda p: p.name)
def test_network_data_reads_back(path):
    net = load_network(path)
    again = build_network(json.loads(json.dumps(network_data(net))), path.name)
    def described(n: Network):
        nodes = [(x.name, str(x.equation), x.is_output, x.noun) for x in n.neurons]
        return nodes, n.parameters, n.inputs, n.targets, n.loss_local

    assert described(again) == described(net)


@pytest.mark.parametrize("kwargs", [
    dict(layers="2,2,2", activation="leaky_relu:0.2", loss="softmax", bias=True, notation="layered"),
    dict(layers="2,2,1", activation="x/(1+abs(x))", loss="(Out-Y)**4/4"),
    dict(),
])
def test_network_data_of_dense_networks_reads_back(kwargs):
    net = dense(**kwargs)
    again = build_network(network_data(net))
    assert [str(n.equation) for n in again.neurons] == [str(n.equation) for n in net.neurons]
    assert again.loss_local == net.loss_local and again.parameters == net.parameters


def test_network_data_refuses_an_l2_term():
    with pytest.raises(NetworkFileError, match="L2"):
        network_data(with_l2(dense(), Fraction(1, 100)))


# --- no type checks on nodes outside the model -------------------------------------------------------

KINDS = {"Neuron", "ExprNode"}


def _names(node: ast.AST) -> set[str]:
    inside = list(ast.walk(node))
    return {n.id for n in inside if isinstance(n, ast.Name)} | {n.attr for n in inside if isinstance(n, ast.Attribute)}


def _is_type_of(node: ast.AST) -> bool:
    """``type(x)`` or ``type(x).__name__`` (``__qualname__``)."""
    if isinstance(node, ast.Attribute) and node.attr in ("__name__", "__qualname__"):
        node = node.value
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "type"


def type_checks(source: str) -> list[str]:
    """Every check of a node's class in ``source``: isinstance/issubclass against a node kind, ``type(x)``
    compared with a kind, ``type(x).__name__`` compared with a kind's name, and the imports of a kind."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("isinstance", "issubclass"):
            if len(node.args) == 2 and _names(node.args[1]) & KINDS:
                found.append(f"line {node.lineno}: {node.func.id}(..., {ast.unparse(node.args[1])})")
        elif isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(_is_type_of(s) for s in sides):
                named = {s.value for s in sides if isinstance(s, ast.Constant)} | set().union(*(_names(s) for s in sides))
                if named & KINDS:
                    found.append(f"line {node.lineno}: {ast.unparse(node)}")
        elif isinstance(node, ast.ImportFrom) and {a.name for a in node.names} & KINDS:
            found.append(f"line {node.lineno}: imports {', '.join(a.name for a in node.names if a.name in KINDS)}")
    return sorted(found, key=lambda f: int(f.split(":")[0].removeprefix("line ")))


def test_the_scan_finds_type_checks():
    source = ("from ..model.nodes import ExprNode\n"
              "a = isinstance(n, ExprNode)\nb = isinstance(n, (nodes.Neuron, int))\n"
              "c = type(n).__name__ == 'ExprNode'\nd = type(n) is Neuron\ne = 'Neuron' != type(n).__qualname__\n"
              "f = isinstance(n, dict) or type(n).__name__ == 'Table' or n.noun == 'neuron'\n")
    assert [f.split(":")[0] for f in type_checks(source)] == [f"line {i}" for i in range(1, 7)]


def test_no_module_outside_the_model_tells_node_kinds_apart():
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.parent.name == "model":
            continue
        found = type_checks(path.read_text())
        if found:
            offenders[str(path.relative_to(PACKAGE))] = found
    assert not offenders, f"use the node protocol (derivchain/model/nodes.py) instead: {offenders}"
