"""Network files: the examples derive every weight, and every validation error names file, key and fix."""

import json
from pathlib import Path

import pytest
import sympy as sp
from typer.testing import CliRunner

from derivchain.cli import app
from derivchain.verification.derivation import derive
from derivchain.errors import NetworkFileError
from derivchain.model.network_file import build_network, load_network
from derivchain.model.network import default_network
from derivchain.symbolic.functions import sigmoid

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
runner = CliRunner()


@pytest.mark.parametrize("name", ["default.toml", "skip.toml", "two_outputs.toml", "classifier.json"])
def test_examples_derive_every_parameter_equal(name):
    net = load_network(EXAMPLES / name)
    for p in net.parameters:
        d = derive(net, p)
        assert d.verdict.equal, (name, p, d.verdict)


def test_default_file_is_the_default_network():
    a, b = load_network(EXAMPLES / "default.toml"), default_network()
    assert [n.equation for n in a.neurons] == [n.equation for n in b.neurons]
    assert derive(a, "W1").backprop.local == derive(b, "W1").backprop.local


def test_skip_connection_paths():
    net = load_network(EXAMPLES / "skip.toml")
    d = derive(net, "W1")
    assert [p.arrow() for p in d.paths] == ["W1 -> H1 -> H2 -> Out -> Loss", "W1 -> H1 -> Out -> Loss"]
    assert [p.arrow() for p in derive(net, "W7").paths] == ["W7 -> Out -> Loss"]


def test_two_outputs_paths_end_through_each_output():
    net = load_network(EXAMPLES / "two_outputs.toml")
    arrows = [p.arrow() for p in derive(net, "W1").paths]
    assert arrows == ["W1 -> H1 -> Out1 -> Loss", "W1 -> H1 -> Out2 -> Loss"]


def test_table_over_a_file():
    r = runner.invoke(app, ["table", "--network", str(EXAMPLES / "classifier.json"), "--format", "json"])
    assert r.exit_code == 0, r.output
    table = json.loads(r.output)
    assert [row["parameter"] for row in table["rows"]] == ["W1", "W2", "W3", "W4", "W5", "W6", "W7", "B1", "B2", "B3"]
    assert all(row["equal"] for row in table["rows"]) and all(d["verified"] for d in table["deltas"])
    r = runner.invoke(app, ["table", "--network", str(EXAMPLES / "classifier.json"), "--format", "json", "--expand"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)
    assert [row["weight"] for row in rows] == ["W1", "W2", "W3", "W4", "W5", "W6", "W7", "B1", "B2", "B3"]
    assert all(row["equal"] for row in rows)
    assert set(rows[0]) >= {"weight", "direct", "path_sum", "path_sum_local", "backprop", "paths", "equal", "method", "latex"}


def base():
    return {
        "inputs": ["X1", "X2"],
        "neurons": [
            {"name": "H1", "inputs": {"X1": "W1", "X2": "W2"}},
            {"name": "Out", "inputs": {"H1": "W3"}, "output": True},
        ],
    }


def mutate(f):
    data = base()
    f(data)
    return data


ERRORS = [
    (lambda d: d["neurons"].append({"name": "H1", "inputs": {"X1": "W9"}}), "neurons[2].name: 'H1' is already used by neurons[0].name"),
    (lambda d: d["neurons"][1]["inputs"].update({"X2": "X1"}), "neurons[1].inputs: 'X1' is already used by inputs[0]; a leaf is either an input or a parameter, not both"),
    (lambda d: d["neurons"][1]["inputs"].update({"H9": "W9"}), "neurons[1].inputs: 'H9' is not an input or a neuron (known: H1, Out, X1, X2)"),
    (lambda d: d["neurons"][0]["inputs"].update({"Out": "W9"}), "neurons: cycle"),
    (lambda d: d["neurons"][0]["inputs"].update({"H1": "W9"}), "neurons[0].inputs: neuron 'H1' feeds itself"),
    (lambda d: d["neurons"].insert(1, {"name": "H2", "inputs": {"X1": "W8"}}), "neurons[1] (H2): no path to any output; connect it to a later neuron or remove it"),
    (lambda d: d["neurons"][1].pop("output"), "no neuron has output = true; mark the output neuron(s)"),
    (lambda d: d.update({"inputs": ["X1", "X2", "X3"]}), "inputs: 'X3' feeds no neuron; connect it or remove it"),
    (lambda d: d.update({"neuron": []}), "top level: unknown key 'neuron'; valid keys: name, inputs, neurons, nodes, activation, loss, targets"),
    (lambda d: d["neurons"][0].update({"activaton": "tanh"}), "neurons[0]: unknown key 'activaton'; valid keys: name, inputs, bias, activation, output"),
    (lambda d: d.pop("inputs"), "inputs: missing"),
    (lambda d: d["neurons"][0].update({"activation": "swishy"}), "neurons[0].activation: unknown activation 'swishy'; choose one of"),
    (lambda d: d.update({"loss": "hinge"}), "loss: unknown loss 'hinge'; choose one of"),
    (lambda d: d.update({"loss": "cross-entropy"}), "loss: loss 'cross-entropy' needs output activation sigmoid"),
    (lambda d: d.update({"targets": ["Y1", "Y2"]}), "targets: needs one name per output (1: Out)"),
    (lambda d: d["neurons"][0].update({"name": "2H"}), "neurons[0].name: neuron name '2H' must start with a letter"),
    (lambda d: d["neurons"][0].update({"bias": "X1"}), "neurons[0].bias: 'X1' is already used by inputs[0]"),
    (lambda d: d["neurons"][0].update({"name": "Loss"}), "neurons[0].name: neuron name 'Loss' is reserved"),
    (lambda d: d["neurons"][0].update({"activation": "__import__('os').system('echo hi')"}), "neurons[0].activation: activation: the call __import__('os').system(...) is not allowed"),
]


@pytest.mark.parametrize("change, message", ERRORS)
def test_validation_errors(change, message, tmp_path):
    with pytest.raises(NetworkFileError) as info:
        build_network(mutate(change), "net.json")
    assert str(info.value).startswith("net.json: ") and message in str(info.value), str(info.value)
    # Same error through the CLI from a real file: one line, exit code 2.
    path = tmp_path / "net.json"
    path.write_text(json.dumps(mutate(change)))
    r = runner.invoke(app, ["grad", "W1", "--network", str(path)])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1 and message in r.output


def test_file_level_errors(tmp_path):
    bad = tmp_path / "net.toml"
    bad.write_text("inputs = [\"X1\"]\nloss = \n")
    with pytest.raises(NetworkFileError, match=r"net.toml: invalid TOML: .*line 2"):
        load_network(bad)
    bad_json = tmp_path / "net.json"
    bad_json.write_text("{\"inputs\": [}")
    with pytest.raises(NetworkFileError, match=r"net.json: invalid JSON at line 1, column 13"):
        load_network(bad_json)
    with pytest.raises(NetworkFileError, match=r"missing.toml: cannot read the file"):
        load_network(tmp_path / "missing.toml")
    with pytest.raises(NetworkFileError, match=r"net.yaml: network files end in .toml or .json"):
        load_network(tmp_path / "net.yaml")


def test_network_and_layers_conflict():
    r = runner.invoke(app, ["grad", "W1", "--network", str(EXAMPLES / "default.toml"), "--layers", "2,2"])
    assert r.exit_code == 2 and "--network describes the whole network; drop --layers" in r.output


# --- a new user's stumbles (issue 21) -------------------------------------------------------------
def _file(tmp_path, text: str, name: str = "net.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_file_loss_in_out_and_y_has_the_default_target(tmp_path):
    # On the command line --loss "(Out - Y)**4/4" has the target Y; in a file without targets too.
    net = load_network(_file(tmp_path, 'inputs = ["X1"]\nloss = "(Out - Y)**4/4"\n'
                                       '[[neurons]]\nname = "Out"\ninputs = { X1 = "W1" }\noutput = true\n'))
    assert [t.name for t in net.targets] == ["Y"]
    assert str(derive(net, "W1").backprop.local) == "X1*(Out - Y)**3"
    # A graph loss reading two nodes gets Y1, Y2, as a registry loss over two outputs does.
    two = load_network(_file(tmp_path, 'loss = "(a - Y1)**2 + (b - Y2)**2"\n[[nodes]]\nname = "a"\nexpr = "u*v"\n'
                                       '[[nodes]]\nname = "b"\nexpr = "u + v"\n', "two.toml"))
    assert [t.name for t in two.targets] == ["Y1", "Y2"] and derive(two, "u").verdict.equal


def test_a_nodes_only_file_with_a_named_loss(tmp_path):
    # The loss applies to the nodes nothing else reads, as a reader takes the ends of a graph.
    net = load_network(_file(tmp_path, 'inputs = ["x"]\nloss = "half-squared"\n[[nodes]]\nname = "o"\nexpr = "w*h"\n'
                                       '[[nodes]]\nname = "h"\nexpr = "tanh(v*x)"\n'))
    assert [n.name for n in net.outputs] == ["o"] and [t.name for t in net.targets] == ["Y"]
    assert derive(net, "w").verdict.equal
    # Neurons still say which is the output.
    r = runner.invoke(app, ["grad", "W1", "--network", str(_file(tmp_path, 'inputs = ["X1"]\nloss = "abs"\n[[neurons]]\n'
                                                                 'name = "Out"\ninputs = { X1 = "W1" }\n', "n.toml"))])
    assert r.exit_code == 2 and "no neuron has output = true" in r.output


def test_the_loss_node_may_be_named_L(tmp_path):
    net = load_network(_file(tmp_path, 'inputs = ["x"]\nloss = "L"\n[[nodes]]\nname = "L"\nexpr = "(w*x - 1)**2"\n'))
    d = derive(net, "w")
    assert d.verdict.equal and [p.arrow() for p in d.paths] == ["w -> L -> Loss"]
    # Only the loss itself: a node L the loss does not equal is still refused, and Loss always is.
    for loss, name in (('"L + 1"', "L"), ('"Loss"', "Loss")):
        r = runner.invoke(app, ["grad", "w", "--network", str(_file(tmp_path, f'inputs = ["x"]\nloss = {loss}\n[[nodes]]\n'
                                                                     f'name = "{name}"\nexpr = "w*x"\n', "r.toml"))])
        assert r.exit_code == 2 and "is reserved" in r.output and "may be named L" in r.output


def test_node_expressions_call_every_activation_by_name(tmp_path):
    net = load_network(_file(tmp_path, 'inputs = ["x"]\nloss = "o"\n[[nodes]]\nname = "o"\n'
                                       'expr = "swish(w*x) + softplus(w)"\n'))
    (node,) = net.neurons
    x, w = net.inputs[0], net.parameters[0]
    assert node.equation == w * x * sigmoid(w * x) + sp.log(1 + sp.exp(w))
    assert derive(net, "w").verdict.equal
