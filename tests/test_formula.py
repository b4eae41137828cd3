"""The general formula, and flat vs layered notation being the same mathematics."""

import json

import pytest
import sympy as sp
from typer.testing import CliRunner

from derivchain.cli import app
from derivchain.verification.derivation import derive
from derivchain.model.network import dense
from derivchain.model.notation import LAYERED
from derivchain.renderers.latex import latex
from derivchain.verification.compare import verify

runner = CliRunner()


def test_layered_names():
    n = dense("2,2,2,1", notation="layered", bias=True)
    assert [s.name for s in n.inputs] == ["x1", "x2"]
    assert [x.name for x in n.neurons] == ["O1_1", "O1_2", "O2_1", "O2_2", "O3_1"]
    assert [s.name for s in n.weights][:4] == ["w1_1_1", "w1_2_1", "w1_1_2", "w1_2_2"]
    assert [s.name for s in n.targets] == ["y"] and n.loss_symbol.name == "L"
    # The notation is a setting of the printer: given by the network (or by name, without one).
    assert latex(n.weights[2], n) == "w^{1}_{12}" and latex(n.neurons[-1].symbol, n) == "O_{31}"
    assert latex(n.weights[2], notation=LAYERED) == "w^{1}_{12}" and latex(n.weights[2]) == "w_{1,1,2}"
    wide = dense("12,2", notation="layered")
    assert latex(wide.weights[11], wide) == "w^{1}_{12,1}"  # unambiguous past 9


@pytest.mark.parametrize("act, loss, bias", [("identity", "abs", False), ("sigmoid", "half-squared", True), ("tanh", "squared", True)])
def test_flat_and_layered_are_the_same_mathematics(act, loss, bias):
    flat = dense("2,3,2,1", activation=act, loss=loss, bias=bias)
    layered = dense("2,3,2,1", activation=act, loss=loss, bias=bias, notation="layered")
    rename = {}
    for a, b in [(flat.inputs, layered.inputs), (flat.targets, layered.targets), (flat.parameters, layered.parameters)]:
        rename.update(zip(a, b))
    rename.update({a.symbol: b.symbol for a, b in zip(flat.neurons, layered.neurons)})
    for p in flat.parameters:
        f, l = derive(flat, p), derive(layered, rename[p])
        assert f.path_count == l.path_count
        assert [[rename.get(s, s) for s in path.nodes[:-1]] for path in f.paths] == [list(path.nodes[:-1]) for path in l.paths]
        renamed = f.direct.value.xreplace(rename)
        assert verify({"flat": renamed, "layered": l.direct.value}).equal
        assert verify({"flat": f.backprop.substituted.xreplace(rename), "layered": l.backprop.substituted}).equal


def test_second_source_two_path_claim():
    # The second source writes dL/dw^2_12 as two chain terms, through O21 and through O22.
    # With w^{l}_{ij} from neuron i of layer l-1 to neuron j of layer l, w2_1_2 feeds only O22:
    # there is one path, and the term through O21 is zero (dO21/dw2_1_2 = 0).
    n = dense("2,2,2,1", notation="layered", activation="sigmoid")
    d = derive(n, "w2_1_2")
    assert [p.arrow() for p in d.paths] == ["w2_1_2 -> O2_2 -> O3_1 -> L"]
    o21 = n.substitution[sp.Symbol("O2_1", real=True)]
    assert sp.diff(o21, sp.Symbol("w2_1_2", real=True)) == 0


def test_formula_command():
    r = runner.invoke(app, ["formula", "w2_1_2", "--layers", "2,2,2,1", "--notation", "layered", "--format", "json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert "delta[l]_j = f'(z[l]_j) * sum_k w[l+1]_jk * delta[l+1]_k" in data["general"][3]
    assert data["instance"]["gradient"] == "O1_1 * delta_O2_2"
    assert [d["delta"] for d in data["instance"]["deltas"]] == ["delta_O3_1", "delta_O2_2"]
    text = runner.invoke(app, ["formula", "W1"]).output
    assert "dLoss/dW1 = X1*delta_H1 = X1*(W10*W14 + W13*W7)*sign(Out - Y)" in text and "delta_H1 = W7*delta_H4 + W10*delta_H5" in text
    tex = runner.invoke(app, ["formula", "--notation", "layered", "--format", "latex"]).output
    assert r"\delta^{l}_{j} &= f'(z^{l}_{j}) \sum_{k} w^{l+1}_{jk} \, \delta^{l+1}_{k}" in tex


def test_unknown_notation():
    r = runner.invoke(app, ["show", "--notation", "tensor"])
    assert r.exit_code == 2 and "unknown notation 'tensor'; choose one of: flat, layered" in r.output
