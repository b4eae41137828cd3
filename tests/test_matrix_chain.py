"""``grad WQ`` on a matrix graph (issue 23, part 4): the chain of matrix equations from the loss back to a
matrix leaf, in the textbook's shape, every equation checked entry by entry against the scalar derivation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from derivchain import api
from derivchain.cli import app
from derivchain.engines import matrix_chain as engine
from derivchain.engines.matrix_chain import matrix_chain, printed
from derivchain.model.network_file import build_network
from derivchain.verification.matrix_chain import matrix_gradient

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
runner = CliRunner()


def forms(example: str, leaf: str) -> list[str]:
    return [f"dL/d{e.name} = {printed(e.form)}" for e in matrix_chain(api.network(str(EXAMPLES / f"{example}.toml")), leaf)]


def test_attention_chain_is_the_textbook_one():
    assert forms("attention", "WQ") == [
        "dL/dA = A - T", "dL/dP = dL/dA @ V.T", "dL/dS = P*(dL/dP - sum(dL/dP*P, axis=1))",
        "dL/dQ = (dL/dS/2) @ K", "dL/dWQ = X.T @ dL/dQ"]
    assert forms("attention", "WV") == ["dL/dA = A - T", "dL/dV = P.T @ dL/dA", "dL/dWV = X.T @ dL/dV"]
    # an input read three times: its adjoint sums what each reader passes it
    assert forms("attention", "X")[-1] == "dL/dX = (dL/dQ @ WQ.T) + (dL/dK @ WK.T) + (dL/dV @ WV.T)"


def test_other_examples_chains():
    assert forms("two_layer_batch", "W1") == ["dL/dOut = (1/3)*(Out - Y)", "dL/dH = W2.T @ dL/dOut",
                                               "dL/dW1 = (dL/dH*(H*(1 - H))) @ X.T"]
    assert forms("two_layer_batch", "b1")[-1] == "dL/db1 = sum(dL/dH*(H*(1 - H)), axis=1)"  # a column broadcast back
    assert forms("softmax_classifier", "b")[-1] == "dL/db = sum(dL/dZ, axis=0)"  # a row broadcast back
    assert forms("batchnorm", "gamma") == ["dL/dY = Y - T", "dL/dgamma = sum(dL/dY*Xhat, axis=0)"]
    assert forms("layernorm", "X")[-1] == "dL/dX = (dL/dmu/4) + dL/dC"


@pytest.mark.parametrize("example", ["attention", "layernorm", "batchnorm", "softmax_classifier", "two_layer_batch"])
def test_every_matrix_leaf_of_every_example_is_verified(example):
    net = api.network(str(EXAMPLES / f"{example}.toml"))
    for leaf, kind in net.matrix.leaves:
        if kind == "target":
            continue
        g = matrix_gradient(net, leaf)
        assert g.verified and api.verified(g), (example, leaf, g.chain)
        assert g.chain[-1].name == leaf and g.chain[-1].shape == net.matrix.shape(leaf)


def test_a_wrong_equation_is_not_verified(monkeypatch, tmp_path):
    real = engine.matrix_chain

    def wrong(network, name):  # the transpose forgotten in dL/dP = dL/dA @ V.T: it must be caught entry by entry
        chain = real(network, name)
        return tuple(e if e.name != "P" else type(e)(e.name, "dL_dA @ V.T * 2", e.shape, e.reads) for e in chain)

    monkeypatch.setattr("derivchain.verification.matrix_chain.matrix_chain", wrong)
    g = matrix_gradient(api.network(str(EXAMPLES / "attention.toml")), "WQ")
    assert not g.verified and [e.verified for e in g.chain] == [True, False, True, True, True]
    r = runner.invoke(app, ["grad", "WQ", "--network", str(EXAMPLES / "attention.toml")])
    assert r.exit_code == 1 and "NOT verified" in r.output


def test_grad_of_a_matrix_leaf_in_json_with_values():
    r = runner.invoke(app, ["grad", "W1", "--network", str(EXAMPLES / "two_layer_batch.toml"),
                            "--values", str(EXAMPLES / "two_layer_batch_values.json"), "--format", "json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["parameter"] == "W1" and data["shape"] == [3, 2] and data["verified"] is True
    assert data["form"] == "(dL/dH*(H*(1 - H))) @ X.T"
    assert [c["node"] for c in data["chain"]] == ["Out", "H", "W1"]
    assert set(data["chain"][0]) == {"node", "form", "shape", "verified", "method", "rewrite"}
    assert len(data["at_values"]) == 3 and len(data["at_values"][0]) == 2
    entry = api.grad(api.network(str(EXAMPLES / "two_layer_batch.toml")), "W1[2,1]",
                     values=api.given_values(str(EXAMPLES / "two_layer_batch_values.json")))
    assert data["at_values"][2][1] == pytest.approx(float(entry.backprop), rel=1e-12)


@pytest.mark.parametrize("fmt", ["text", "markdown", "latex", "html"])
def test_grad_of_a_matrix_leaf_in_every_format(fmt):
    r = runner.invoke(app, ["grad", "WV", "--network", str(EXAMPLES / "attention.toml"), "--format", fmt])
    assert r.exit_code == 0, r.output
    assert {"text": "dL/dWV = X.T @ dL/dV", "markdown": r"X^{\mathrm{T}}\, \frac{\partial L}{\partial V}",
            "latex": r"\frac{\partial L}{\partial W_{V}} &= X^{\mathrm{T}}\, \frac{\partial L}{\partial V}",
            "html": "<math"}[fmt] in r.output
    assert "NOT verified" not in r.output


def test_no_matrix_form_is_one_line():
    data = {"inputs": ["X"], "loss": "J", "shapes": {"X": [2, 2], "W": [2, 2]},
            "nodes": [{"name": "Z", "expr": "X @ W"}, {"name": "J", "expr": "Z[0,0] * Z[1,1]"}]}
    net = build_network(data, "entries.toml")
    with pytest.raises(engine.NoMatrixForm, match="'Z\\[0, 0\\]' has no matrix rule here; derive its entries one by one"):
        api.grad(net, "W")
    assert api.grad(net, "W[0,1]").verdict.equal  # its entries still derive
