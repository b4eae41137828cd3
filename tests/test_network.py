import pytest
import sympy as sp

from derivchain.errors import LayersError, UnknownActivationError, UnknownLossError, UnknownParameterError
from derivchain.model.network import dense, parse_layers, real


def test_worked_example_equations(net):
    X1, X2 = real("X1"), real("X2")
    W = {i: real(f"W{i}") for i in range(1, 15)}
    H = {i: real(f"H{i}") for i in range(1, 6)}
    eq = {n.name: n.equation for n in net.neurons}
    assert eq["H1"] == X1 * W[1] + X2 * W[2]
    assert eq["H3"] == X1 * W[5] + X2 * W[6]
    assert eq["H4"] == H[1] * W[7] + H[2] * W[8] + H[3] * W[9]
    assert eq["H5"] == H[1] * W[10] + H[2] * W[11] + H[3] * W[12]
    assert eq["Out"] == H[4] * W[13] + H[5] * W[14]
    assert net.loss_local == sp.Abs(real("Out") - real("Y"))


def test_all_symbols_real(net):
    expr = net.loss_full
    assert expr.free_symbols and all(s.is_real for s in expr.free_symbols)


def test_names_and_roles(net):
    assert [s.name for s in net.weights] == [f"W{i}" for i in range(1, 15)]
    assert [n.name for n in net.hidden] == ["H1", "H2", "H3", "H4", "H5"]
    assert [n.name for n in net.outputs] == ["Out"]
    assert [s.name for s in net.targets] == ["Y"]
    assert net.biases == ()


def test_several_outputs_and_biases():
    n = dense("2,2,3", bias=True, loss="half-squared")
    assert [o.name for o in n.outputs] == ["Out1", "Out2", "Out3"]
    assert [t.name for t in n.targets] == ["Y1", "Y2", "Y3"]
    assert [b.name for b in n.biases] == ["B1", "B2", "B3", "B4", "B5"]
    # Loss summed over outputs.
    assert n.loss_local == sum((real(f"Out{k}") - real(f"Y{k}")) ** 2 / 2 for k in (1, 2, 3))
    assert n.neurons[0].equation == real("X1") * real("W1") + real("X2") * real("W2") + real("B1")


def test_out_expanded_has_one_term_per_input_path(net):
    expanded = net.expanded_output(net.outputs[0])
    assert len(expanded.args) == 12  # 2 inputs * 3 * 2 paths, distinct weights
    assert sp.expand(net.substitution[real("Out")] - expanded) == 0


def test_out_expansion_refused_when_too_large():
    n = dense("4,8,8,8,1")
    assert n.expanded_output(n.outputs[0], max_terms=2000) is None


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("2,,1", "entry 2 is empty"),
        ("0,1", "entry 1 is 0"),
        ("a,b", "entry 1 ('a') is not a whole number"),
        ("3", "need an input layer and an output layer"),
        ("2,5000,1", "width is 5000, more than the limit of 1000"),
    ],
)
def test_parse_layers_errors(text, fragment):
    with pytest.raises(LayersError) as info:
        parse_layers(text)
    message = str(info.value)
    assert fragment in message and "e.g. 2,3,2,1" in message and "\n" not in message


def test_unknown_names():
    with pytest.raises(UnknownActivationError, match="choose one of: identity, sigmoid, tanh, relu, leaky_relu, softplus"):
        dense(activation="swishy")
    with pytest.raises(UnknownLossError, match="choose one of: abs, squared, half-squared, cross-entropy, softmax"):
        dense(loss="hinge")
    with pytest.raises(UnknownParameterError, match=r"weights W1\.\.W14"):
        dense().parameter("W99")
    with pytest.raises(UnknownParameterError, match=r"biases B1\.\.B6"):
        dense(bias=True).parameter("B7")


@pytest.mark.parametrize("option", ["--layers", "--activation", "--output-activation", "--loss", "--notation", "--network",
                                    "--values"])
def test_an_empty_option_is_refused_not_taken_as_the_default(option):
    from typer.testing import CliRunner

    from derivchain.cli import app

    r = CliRunner().invoke(app, ["grad", "W1", option, ""])
    assert r.exit_code == 2 and r.output.startswith("Error: ") and len(r.output.strip().splitlines()) == 1, r.output


def test_a_matrix_name_or_an_entry_outside_it_names_the_entries():
    # a traced model's "grad 0.weight" listed every weight of the network in one 371-character line
    from derivchain import api
    from derivchain.errors import DerivchainError

    net = api.network("attention:tokens=2,dim=2")
    with pytest.raises(DerivchainError, match=r"'WQ\[9,9\]' is not an entry of WQ; name one, WQ\[0,0\] to WQ\[1,1\]"):
        net.parameter("WQ[9,9]")
    with pytest.raises(DerivchainError, match=r"'WQ' names 4 entries, not one; name one, WQ\[0,0\] to WQ\[1,1\]"):
        net.parameter("WQ")
    assert net.parameter("WQ[0, 1]") is net.parameter("WQ[0,1]")  # a space after the comma is the same entry
