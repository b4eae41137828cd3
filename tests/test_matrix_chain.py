"""``grad WQ`` on a matrix graph (issue 23, part 4): the chain of matrix equations from the loss back to a
matrix leaf, in the textbook's shape, every equation checked entry by entry against the scalar derivation."""

from __future__ import annotations

import json
import tomllib
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


# --- issue 23: textbook rewrites, recognised by structure, printed only when checked --------------------------
BCE_GRAPH = {"inputs": ["X"], "targets": ["Y"], "loss": "-sum(Y*log(A) + (1 - Y)*log(1 - A))/3",
             "shapes": {"X": [2, 3], "W": [1, 2], "Y": [1, 3]},
             "nodes": [{"name": "Z", "expr": "W @ X"}, {"name": "A", "expr": "sigmoid(Z)"}]}


def chain_of(net, leaf, values=None):
    g = matrix_gradient(net, leaf, values)
    assert g.verified, g.chain
    return [(e.name, e.form, e.rewrite) for e in g.chain]


def test_softmax_cross_entropy_is_named_and_its_rowsum_form_holds_for_any_targets():
    net = api.network(str(EXAMPLES / "softmax_classifier.toml"))
    assert chain_of(net, "W") == [("Z", "(1/4)*(P*sum(Y, axis=1) - Y)", "softmax + cross-entropy"),
                                  ("W", "X.T @ dL/dZ", "")]  # dL/dP is no longer read: dropped


def test_softmax_cross_entropy_is_p_minus_y_only_where_the_given_targets_rows_sum_to_1(tmp_path):
    net = api.network(str(EXAMPLES / "softmax_classifier.toml"))
    values = json.loads((EXAMPLES / "softmax_classifier_values.json").read_text())
    assert chain_of(net, "W", values)[0] == ("Z", "(1/4)*(P - Y)", "softmax + cross-entropy (the given targets' rows sum to 1)")
    values["Y"][1] = [0, 1, 1]  # a near miss: a row summing to 2, P - Y does not hold there
    first = chain_of(net, "W", values)[0]
    assert first[1] == "(1/4)*(P*sum(Y, axis=1) - Y)" and first[2] == "softmax + cross-entropy"


def test_softmax_under_another_loss_is_not_named():
    data = {"inputs": ["X"], "targets": ["Y"], "loss": "sum((P - Y)**2)", "shapes": {"X": [2, 3], "W": [3, 3], "Y": [2, 3]},
            "nodes": [{"name": "Z", "expr": "X @ W"}, {"name": "P", "expr": "softmax(Z, axis=1)"}]}
    chain = chain_of(build_network(data, "near.toml"), "W")
    assert [c[2] for c in chain] == ["", "", ""] and chain[1][1] == "P*(dL/dP - sum(dL/dP*P, axis=1))"


def test_sigmoid_cross_entropy_is_a_minus_y_scaled():
    chain = chain_of(build_network(BCE_GRAPH, "bce.toml"), "W")
    assert chain == [("Z", "(1/3)*(A - Y)", "sigmoid + cross-entropy"), ("W", "dL/dZ @ X.T", "")]


def test_no_rewrite_when_the_pattern_is_not_the_whole_story():
    # Z is also read by the loss itself: dL/dZ is not A - Y alone, so nothing is offered, nothing named
    data = dict(BCE_GRAPH, loss="-sum(Y*log(A) + (1 - Y)*log(1 - A))/3 + sum(Z**2)")
    assert all(c[2] == "" for c in chain_of(build_network(data, "extra.toml"), "W"))


def test_a_rewrite_that_does_not_check_is_not_printed(monkeypatch):
    real = engine.rewrites

    def off(network, equations, with_targets=False):  # a closed form off by a factor 2, then the right one
        return tuple(type(r)(r.node, "wrong", f"2*({r.form})") for r in real(network, equations, with_targets)) + \
            real(network, equations, with_targets)

    monkeypatch.setattr("derivchain.verification.matrix_chain.rewrites", off)
    assert chain_of(build_network(BCE_GRAPH, "bce.toml"), "W")[0] == ("Z", "(1/3)*(A - Y)", "sigmoid + cross-entropy")
    monkeypatch.setattr("derivchain.verification.matrix_chain.rewrites",
                        lambda *a, **k: tuple(r for r in off(*a, **k) if r.name == "wrong"))
    chain = chain_of(build_network(BCE_GRAPH, "bce.toml"), "W")  # only the wrong one: the chain as before
    assert [c[0] for c in chain] == ["A", "Z", "W"] and all(c[2] == "" for c in chain)


@pytest.mark.parametrize("example, axis, name", [("layernorm", 1, "layer normalisation"), ("batchnorm", 0, "batch normalisation")])
def test_normalisation_closed_form(example, axis, name):
    chain = chain_of(api.network(str(EXAMPLES / f"{example}.toml")), "X")
    assert chain[-1] == ("X", f"(dL/dXhat - mean(dL/dXhat, axis={axis}) - Xhat*mean(dL/dXhat*Xhat, axis={axis}))"
                              "/sqrt(var + 0.00001)", name)
    assert [c[0] for c in chain] == ["Y", "Xhat", "X"]  # var, C and mu are no longer read


def test_normalisation_not_named_when_the_input_is_read_elsewhere():
    text = (EXAMPLES / "layernorm.toml").read_text().replace('expr = "gamma * Xhat + beta"', 'expr = "gamma * Xhat + beta + X"')
    net = build_network(tomllib.loads(text), "ln.toml")
    assert all(c[2] == "" for c in chain_of(net, "X"))  # X is read by Y too: the closed form is not all of dL/dX


@pytest.mark.parametrize("fmt, needle", [("text", "rewrite: softmax + cross-entropy"), ("markdown", "rewrite: softmax + cross-entropy"),
                                         ("latex", "rewrite: softmax + cross-entropy"), ("html", "rewrite: softmax + cross-entropy")])
def test_rewrite_named_in_every_format(fmt, needle):
    r = runner.invoke(app, ["grad", "W", "--network", str(EXAMPLES / "softmax_classifier.toml"), "--format", fmt])
    assert r.exit_code == 0 and needle in r.output


def test_rewrite_in_json():
    r = runner.invoke(app, ["grad", "X", "--network", str(EXAMPLES / "batchnorm.toml"), "--format", "json"])
    data = json.loads(r.output)
    assert [c["rewrite"] for c in data["chain"]] == ["", "", "batch normalisation"] and data["verified"] is True


def test_named_rewrites_compile_as_latex():
    from derivchain.renderers.export import compile_text, latex_engine

    if latex_engine() is None:
        pytest.skip("no LaTeX engine")
    pieces = [runner.invoke(app, ["grad", leaf, "--network", str(EXAMPLES / f"{example}.toml"), "--format", "latex"]).output
              for example, leaf in (("softmax_classifier", "W"), ("layernorm", "X"))]
    assert all("rewrite: " in p for p in pieces)
    doc = "\\documentclass{article}\\usepackage[a4paper,margin=2cm]{geometry}\\usepackage{amsmath,amssymb}\n\\begin{document}\n"
    compile_text(doc + "\n\n".join(pieces) + "\n\\end{document}\n", "rewrites.tex")


def test_rewrites_over_columns_with_a_mean_and_other_names():
    # softmax over columns (samples as columns), the loss a mean of column sums: recognised by structure, any names
    data = {"inputs": ["X"], "targets": ["Y"], "loss": "-mean(sum(Y*log(P), axis=0))", "shapes": {"X": [2, 3], "W": [3, 2], "Y": [3, 3]},
            "nodes": [{"name": "Z", "expr": "W @ X"}, {"name": "P", "expr": "softmax(Z, axis=0)"}]}
    net = build_network(data, "columns.toml")
    assert chain_of(net, "W")[0] == ("Z", "(1/3)*(P*sum(Y, axis=0) - Y)", "softmax + cross-entropy")
    values = {"X": [[1, 2, 0], [0, 1, 1]], "W": [[0.1, 0.2], [0.3, -0.1], [0, 0.5]], "Y": [[1, 0, 0], [0, 1, 1], [0, 0, 0]]}
    assert chain_of(net, "W", values)[0] == ("Z", "(1/3)*(P - Y)", "softmax + cross-entropy (the given targets' columns sum to 1)")
    data = {"inputs": ["X"], "targets": ["T"], "loss": "mean(-(T*log(Yhat) + (1 - T)*log(1 - Yhat)))",
            "shapes": {"X": [2, 3], "W": [1, 2], "T": [1, 3]}, "nodes": [{"name": "Z", "expr": "W @ X"}, {"name": "Yhat", "expr": "sigmoid(Z)"}]}
    assert chain_of(build_network(data, "b.toml"), "W")[0] == ("Z", "(1/3)*(Yhat - T)", "sigmoid + cross-entropy")
