"""The matrix form (``derivchain matrix``): shapes, entries in the network's own symbols, numbers at values,
every gradient entry checked against the scalar derivation, refusals, every format, and torch's autograd."""

from __future__ import annotations

import json
import os
import random
import re
from fractions import Fraction
from pathlib import Path

import pytest
from typer.testing import CliRunner

import derivchain as dc
from derivchain.engines import matrix as mx
from derivchain.cli import app
from derivchain.renderers import render

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
VALUES = ROOT / "examples" / "published_step_values.json"
PUBLISHED = ["--layers", "2,2,2", "--activation", "sigmoid", "--output-activation", "sigmoid", "--loss", "half-squared", "--bias"]


def run(*args):
    return runner.invoke(app, list(args))


def names(m) -> list[list[str]]:
    return [[str(v) for v in row] for row in mx.rows(m)]


# --- symbolic ----------------------------------------------------------------------------------------
def test_worked_example_matrices_have_a_row_per_neuron_and_a_column_per_source():
    m = dc.api.matrix(dc.dense("2,3,2,1"))
    first, second, out = m.layers
    assert names(first.W) == [["W1", "W2"], ["W3", "W4"], ["W5", "W6"]]
    assert names(second.W) == [["W7", "W8", "W9"], ["W10", "W11", "W12"]]
    assert first.shapes["W"] == (3, 2) and second.shapes["W"] == (2, 3) and out.shapes["W"] == (1, 2)
    assert names(second.z) == [["H1*W7 + H2*W8 + H3*W9"], ["H1*W10 + H2*W11 + H3*W12"]]
    # delta^2 = (W^3)^T delta^3: the transpose sends delta_Out back along W13 and W14.
    assert names(second.delta) == [["W13*delta_Out"], ["W14*delta_Out"]]
    assert names(first.delta) == [["W10*delta_H5 + W7*delta_H4"], ["W11*delta_H5 + W8*delta_H4"], ["W12*delta_H5 + W9*delta_H4"]]
    # dLoss/dW^l = delta^l (a^(l-1))^T: entry (j, i) is a^(l-1)_i * delta^l_j, the shape of W^l.
    assert names(first.grad_W) == [["X1*delta_H1", "X2*delta_H1"], ["X1*delta_H2", "X2*delta_H2"], ["X1*delta_H3", "X2*delta_H3"]]
    assert names(out.grad_W) == [["H4*delta_Out", "H5*delta_Out"]]
    assert m.check.equal and (m.check.verified, m.check.total) == (14, 14)


def test_layered_notation_uses_the_networks_own_symbols():
    m = dc.api.matrix(dc.dense("2,3,2", activation="sigmoid", bias=True, notation="layered"))
    first, second = m.layers
    # Row j, column i holds w{l}_{i}_{j}: the weight from neuron i of layer l-1 to neuron j of layer l.
    assert names(second.W) == [["w2_1_1", "w2_2_1", "w2_3_1"], ["w2_1_2", "w2_2_2", "w2_3_2"]]
    assert names(first.b) == [["b1_1"], ["b1_2"], ["b1_3"]]
    assert names(second.grad_W)[1] == ["O1_1*delta_O2_2", "O1_2*delta_O2_2", "O1_3*delta_O2_2"]
    assert names(first.fprime)[0] == ["O1_1*(1 - O1_1)"]
    assert m.check.equal and m.check.total == 6 + 3 + 6 + 2


def test_every_entry_is_checked_against_the_scalar_derivation_and_a_wrong_recursion_is_caught(monkeypatch):
    net = dc.dense("2,2,1", activation="sigmoid", loss="half-squared", bias=True)
    assert dc.api.matrix(net).check.equal
    # Leave out f'(z) in the hidden layer's delta (a classic mistake): the check must say so.
    monkeypatch.setattr(mx, "_hadamard_keep", lambda left, right: left)
    wrong = dc.api.matrix(dc.dense("2,2,1", activation="sigmoid", loss="half-squared", bias=True))
    assert not wrong.check.equal and wrong.check.verified == 3 and wrong.check.total == 9
    out = render(wrong, "text")
    assert "NOT verified: 3 of 9" in out and "Verified: " not in out
    assert "W1: NOT equal" in out


def test_a_matrix_of_the_wrong_shape_is_refused():
    layer = dc.api.matrix(dc.dense("2,3,1")).layers[0]
    import dataclasses

    with pytest.raises(AssertionError, match="grad_W is \\(2, 3\\), expected \\(3, 2\\)"):
        dataclasses.replace(layer, grad_W=layer.grad_W.T)  # delta^T a instead of delta a^T


def test_the_symbolic_form_of_8_8_8_1_is_compact():
    m = dc.api.matrix(dc.dense("8,8,8,1", activation="tanh", loss="half-squared", bias=True))
    assert m.check.equal and m.check.total == 64 + 64 + 8 + 17
    assert str(m.layers[0].grad_W[7, 7]) == "X8*delta_H8"
    assert str(m.layers[0].delta[0]).startswith("(1 - H1**2)*(")


# --- at values ---------------------------------------------------------------------------------------
def test_published_example_at_values():
    m = dc.api.matrix(dc.dense("2,2,2", activation="sigmoid", output_activation="sigmoid", loss="half-squared", bias=True),
                      dc.read_values(VALUES))
    hidden, out = m.layers
    assert str(out.grad_W[0][0]) == "0.0821670405642308"  # dE/dW5 of the published post
    assert str(hidden.grad_W[0][0]) == "0.000438567734474347"  # dE/dW1
    assert str(m.loss_value) == "0.298371108760003"
    assert str(hidden.a[0][0]) == "0.593269992107187"
    assert m.check.equal and m.check.total == 12 and not m.exact


def test_exact_values_give_exact_matrices_equal_to_each_derivation():
    net = dc.dense("2,3,2,1", loss="half-squared", bias=True)
    rng = random.Random(5)
    values = {s.name: Fraction(rng.randint(-9, 9), rng.choice([1, 2, 4, 5])) for s in net.inputs + net.targets + net.parameters}
    m = dc.api.matrix(net, values)
    assert m.exact and m.check.equal
    for layer in m.layers:
        for row_values, row_names in zip(layer.grad_W, layer.weights):
            for number, name in zip(row_values, row_names):
                at = dc.api.grad(net, name, values=values)
                assert number.exact and number.value == at.direct.value == at.backprop.value
        for (number,), name in zip(layer.grad_b, layer.biases):
            assert number.value == dc.api.grad(net, name, values=values).direct.value


# --- the command -------------------------------------------------------------------------------------
def test_text_prints_every_shape():
    r = run("matrix", "--layers", "3,2,1", "--bias")
    assert r.exit_code == 0, r.output
    for needle in ("W^1: 2x3 = [W1, W2, W3; W4, W5, W6]", "z^1 = W^1 a^0 + b^1: (2x3)(3x1) -> 2x1",
                   "delta^1 = [delta_H1; delta_H2] = ((W^2)^T delta^2) ⊙ f'(z^1): (2x1)(1x1) -> 2x1",
                   "dLoss/dW^1 = delta^1 (a^0)^T: (2x1)(1x3) -> 2x3, the shape of W^1",
                   "Verified: 11 of 11 gradient entries equal the scalar derivation of their weight"):
        assert needle in r.output, needle


def test_json_layers_hold_numbers_at_values_and_text_otherwise():
    data = json.loads(run("matrix", *PUBLISHED, "--values", str(VALUES), "-f", "json").output)
    assert [sorted({"W", "b", "z", "a", "delta", "grad_W", "grad_b"} - set(layer)) for layer in data["layers"]] == [[], []]
    assert abs(data["layers"][1]["grad_W"][0][0] - 0.0821670405642308) < 1e-15
    assert data["layers"][1]["shapes"]["W"] == [2, 2] and data["equal"] and data["verified"] == data["total"] == 12
    symbolic = json.loads(run("matrix", *PUBLISHED, "-f", "json").output)
    assert symbolic["layers"][0]["grad_W"][0] == ["X1*delta_H1", "X2*delta_H1"]
    assert symbolic["layers"][1]["delta"][0] == "Out1*(1 - Out1)*(Out1 - Y1)"


def test_latex_and_markdown_use_bmatrix():
    tex = run("matrix", "--layers", "2,2,1", "-f", "latex").output
    assert r"W^{[1]} &= \begin{bmatrix} W_{1} & W_{2} \\ W_{3} & W_{4} \end{bmatrix} && (2 \times 2)" in tex
    assert r"\frac{\partial \mathrm{Loss}}{\partial W^{[1]}} = \delta^{[1]} (a^{[0]})^{T}" in tex
    md = run("matrix", "--layers", "2,2,1", "--notation", "layered", "-f", "markdown").output
    assert "$$" in md and r"\begin{bmatrix} w^{1}_{11} & w^{1}_{21}" in md


@pytest.mark.parametrize("args,needle", [
    (["--network", str(ROOT / "examples" / "skip.toml")], "matrix needs a layered dense network"),
    (["--network", "rnn:steps=3,hidden=2"], "matrix needs a layered dense network"),
    (["--network", str(ROOT / "examples" / "rnn.toml")], "W is shared"),
    (["--network", str(ROOT / "examples" / "conv1d.toml")], "k1 is shared"),
])
def test_a_graph_that_is_not_layered_dense_is_refused_in_one_line(args, needle):
    r = run("matrix", *args)
    assert r.exit_code == 2 and needle in r.output and len(r.output.strip().splitlines()) == 1, r.output
    assert "use grad, table or export for this network" in r.output  # the fix, not only the problem


def test_missing_values_are_named():
    r = run("matrix", "--layers", "2,1", "--set", "X1=1")
    assert r.exit_code == 2 and "missing X2" in r.output


def test_an_empty_batch_is_refused():
    with pytest.raises(dc.DerivchainError, match="samples is empty"):
        dc.api.matrix(dc.dense("1,1"), {"W1": Fraction(1), "samples": []})


def test_json_has_no_python_reprs_and_text_is_deterministic():
    first = run("matrix", "--layers", "2,2,1", "--activation", "tanh", "--bias", "-f", "json").output
    assert first == run("matrix", "--layers", "2,2,1", "--activation", "tanh", "--bias", "-f", "json").output

    def walk(v):
        if isinstance(v, dict):
            [walk(x) for x in v.values()]
        elif isinstance(v, list):
            [walk(x) for x in v]
        elif isinstance(v, str):
            # An expression may open with a bracket (f'(z) first: (1 - H1**2)*W5*delta_Out), a Python repr may not.
            assert not v.startswith(("Matrix(", "Number(", "[", "((")) and not re.search(r"Fraction\(|mpf\(|Ordered", v), v

    walk(json.loads(first))


from derivchain.renderers.export import compile_text, latex_engine  # noqa: E402


@pytest.mark.skipif(latex_engine() is None and not os.environ.get("CI"), reason="no LaTeX engine (CI installs one)")
def test_latex_and_markdown_math_compile():
    pieces = [run("matrix", *args, "-f", "latex").output for args in (["--layers", "2,3,2,1"], PUBLISHED + ["--values", str(VALUES)],
                                                                      ["--layers", "2,2,1", "--notation", "layered", "--bias"])]
    md = run("matrix", "--layers", "2,2,1", "--activation", "sigmoid", "-f", "markdown").output
    blocks = [r"\[" + block + r"\]" for block in md.split("$$")[1::2]]
    doc = "\\documentclass{article}\\usepackage[a4paper,margin=2cm]{geometry}\\usepackage{amsmath,amssymb}\n\\begin{document}\n"
    compile_text(doc + "\n\n".join(pieces + blocks) + "\n\\end{document}\n", "matrix.tex")


@pytest.mark.skipif(latex_engine() is None and not os.environ.get("CI"), reason="no LaTeX engine (CI installs one)")
def test_batch_and_wide_matrices_compile(tmp_path):
    batch = ["--layers", "2,2,1", "--activation", "sigmoid", "--bias", "--loss", "half-squared", "--values", str(batch_file(tmp_path))]
    wide = ["--layers", "8,8,8,1", "--activation", "sigmoid", "--bias", "--loss", "half-squared"]
    at = tmp_path / "wide.json"
    rng = random.Random(3)
    at.write_text(json.dumps({s.name: rng.randint(-50, 50) / 100 for s in (lambda n: n.inputs + n.targets + n.parameters)(
        dc.dense("8,8,8,1", bias=True))}))
    readme = ["--layers", "2,2,1", "--activation", "relu", "--loss", "half-squared", "--bias", "--values",
              str(ROOT / "examples" / "matrix_batch_values.json")]
    cases = (batch, wide, wide + ["--values", str(at)], readme, readme + ["--l2", "0.1", "--reduction", "sum"])
    pieces = [run("matrix", *args, "-f", "latex").output for args in cases]
    md = run("matrix", *batch, "--reduction", "sum", "-f", "markdown").output
    blocks = [r"\[" + block + r"\]" for block in md.split("$$")[1::2]]
    doc = "\\documentclass{article}\\usepackage[a4paper,margin=2cm]{geometry}\\usepackage{amsmath,amssymb}\n\\begin{document}\n"
    _, log = compile_text(doc + "\n\n".join(pieces + blocks) + "\n\\end{document}\n", "matrix_batch.tex")
    assert "Overfull \\hbox" not in log  # wide matrices in blocks of columns stay on the page


def test_wide_matrices_are_written_in_blocks_of_columns_and_long_entries_one_a_line():
    from derivchain.renderers.latex import LINE_POINTS, points

    net = dc.dense("8,8,8,1", activation="sigmoid", loss="half-squared", bias=True)
    rng = random.Random(3)
    at = {s.name: Fraction(rng.randint(-50, 50), 100) for s in net.inputs + net.targets + net.parameters}
    for m in (dc.api.matrix(net), dc.api.matrix(net, at)):
        # No matrix row is wider than the line less its name and shape (the compile tests check the page itself).
        rows_shown = [r for body in re.findall(r"\\begin\{bmatrix\}(.*?)\\end\{bmatrix\}", render(m, "latex"))
                      for r in body.split(r" \\ ")]
        widest = max(rows_shown, key=lambda r: points(r, fraction=0.8))
        assert points(widest, fraction=0.8) <= LINE_POINTS - 150, widest
    tex = render(dc.api.matrix(net, at), "latex")
    assert r"W^{[1]} &= \underset{\text{columns } 1\text{--}5 \text{ of } 8}{\begin{bmatrix}" in tex
    assert r"&\phantom{=}\ \underset{\text{columns } 6\text{--}8 \text{ of } 8}{\begin{bmatrix}" in tex
    assert r"\underset{\text{column } 8 \text{ of } 8}" in tex  # dLoss/dW^1's 21-character entries: a column a line
    assert r" \cdot 10^{-5}" in tex and "e-5" not in tex
    symbolic = render(dc.api.matrix(net), "latex")
    assert r"(z^{[1]})_{8} &= W_{57} X_{1} + W_{58} X_{2} + " in symbolic  # z^1's entries, one a line, in source order


# --- batches on the command line ------------------------------------------------------------------------
#: The 2-1 linear network of tests/test_batch.py, Loss = (Out - Y)^2/2, three samples. By hand (exact fractions):
#: errors Out - Y = -1, 7/4, -11/8; dLoss/dW1 = mean(err * X1) = (-1 + 21/4 + 11/4)/3 = 7/3,
#: dLoss/dW2 = mean(err * X2) = (-2 - 7/4 - 11/16)/3 = -71/48 (sum: 7 and -71/16).
LINEAR_BATCH = {"W1": "1/2", "W2": "-1/4", "samples": [{"X1": 1, "X2": 2, "Y": 1}, {"X1": 3, "X2": -1, "Y": 0},
                                                        {"X1": -2, "X2": "1/2", "Y": "1/4"}]}
LINEAR = ["--layers", "2,1", "--loss", "half-squared"]
#: The same samples through a 2-2-1 network with biases.
HIDDEN_BATCH = {"W1": "1/10", "W2": "1/5", "W3": "3/10", "W4": "-2/5", "W5": "1/2", "W6": "3/5", "B1": 0, "B2": "1/10",
                "B3": "-1/5", "samples": LINEAR_BATCH["samples"]}


def batch_file(tmp_path, data=HIDDEN_BATCH):
    path = tmp_path / "batch.json"
    path.write_text(json.dumps(data))
    return path


def test_api_batch_matrix_form_by_hand(tmp_path):
    net = dc.dense("2,1", loss="half-squared")
    values = dc.read_values(batch_file(tmp_path, LINEAR_BATCH))
    mean, total = dc.api.matrix(net, values), dc.api.matrix(net, values, "sum")
    assert isinstance(mean, mx.BatchMatrixForm) and mean.size == 3 and mean.exact
    assert [v.value for v in mean.layers[0].grad_W[0]] == [Fraction(7, 3), Fraction(-71, 48)]
    assert [v.value for v in total.layers[0].grad_W[0]] == [Fraction(7), Fraction(-71, 16)]
    assert [v.value for v in mean.layers[0].Delta[0]] == [-1, Fraction(7, 4), Fraction(-11, 8)]
    assert mean.layers[0].shapes["Z"] == (1, 3) and mean.layers[0].A_prev_shape == (2, 3)
    assert mean.check.equal and (mean.check.verified, mean.check.total) == (2, 2)
    assert mean.loss_value.value == (1 + Fraction(49, 16) + Fraction(121, 64)) / 6


def test_cli_batch_text_prints_shapes_formula_and_check(tmp_path):
    path = batch_file(tmp_path, LINEAR_BATCH)
    r = run("matrix", *LINEAR, "--values", str(path))
    assert r.exit_code == 0, r.output
    for needle in ("Matrix form over a batch of m = 3 samples (exact)", "A^0: 2x3 = [1, 3, -2; 2, -1, 0.5]",
                   "Z^1 = W^1 A^0: (1x2)(2x3) -> 1x3 = [0, 1.75, -1.125]", "dLoss/dW^l = (1/m) Delta^l (A^(l-1))^T",
                   "dLoss/dW^1 = (1/m) Delta^1 (A^0)^T: (1x3)(3x2) -> 1x2, the shape of W^1 = [7/3 (~2.33333333333333), -71/48",
                   "Verified: 2 of 2 gradient entries"):
        assert needle in r.output, needle
    summed = run("matrix", *LINEAR, "--values", str(path), "--reduction", "sum")
    assert summed.exit_code == 0 and "(1/m)" not in summed.output and "= [7, -4.4375]" in summed.output
    hidden = run("matrix", "--layers", "2,2,1", "--activation", "relu", "--bias", "--loss", "half-squared", "--values", str(batch_file(tmp_path)))
    assert "Delta^1 = ((W^2)^T Delta^2) ⊙ f'(Z^1): (2x1)(1x3) -> 2x3" in hidden.output, hidden.output
    assert "dLoss/db^1 = (1/m) Delta^1 1: (2x3)(3x1) -> 2x1" in hidden.output and hidden.exit_code == 0


def test_cli_batch_json_layers_have_a_column_per_sample(tmp_path):
    data = json.loads(run("matrix", "--layers", "2,2,1", "--activation", "sigmoid", "--bias", "--loss", "half-squared",
                          "--values", str(batch_file(tmp_path)), "-f", "json").output)
    assert (data["m"], data["samples"], data["reduction"], data["exact"]) == (3, 3, "mean", False)
    hidden = data["layers"][0]
    assert {"W", "b", "z", "a", "delta", "grad_W", "grad_b"} <= set(hidden)
    assert [len(hidden[k]) for k in ("z", "a", "delta")] == [2, 2, 2] and all(len(r) == 3 for r in hidden["z"] + hidden["delta"])
    assert hidden["shapes"]["delta"] == [2, 3] and len(hidden["grad_W"]) == 2 and len(hidden["grad_W"][0]) == 2
    # The shapes' keys are the layer's own keys (z, a, f_prime, delta), as in the single-sample JSON.
    assert set(hidden["shapes"]) == {"W", "b", "z", "a", "a_prev", "f_prime", "delta", "grad_W", "grad_b"}
    single = json.loads(run("matrix", "--layers", "2,2,1", "--bias", "-f", "json").output)["layers"][0]
    assert set(single["shapes"]) == set(hidden["shapes"]) and set(single["shapes"]) - {"a_prev"} <= set(single)
    assert data["equal"] and data["verified"] == data["total"] == 9
    # grad_W is the mean of the samples' own matrix forms.
    values = dc.read_values(batch_file(tmp_path))
    net = dc.dense("2,2,1", activation="sigmoid", bias=True, loss="half-squared")
    shared = {k: v for k, v in values.items() if k != "samples"}
    singles = [dc.api.matrix(net, {**shared, **s}) for s in values["samples"]]
    assert abs(hidden["grad_W"][1][0] - sum(float(m.layers[0].grad_W[1][0]) for m in singles) / 3) < 1e-15


def test_cli_batch_that_does_not_verify_exits_1(tmp_path, monkeypatch):
    good = mx._Raw.dot
    monkeypatch.setattr(mx._Raw, "dot", lambda self, xs, ys: good(self, xs, ys) * 2)  # a wrong matrix product
    r = run("matrix", *LINEAR, "--values", str(batch_file(tmp_path, LINEAR_BATCH)))
    assert r.exit_code == 1 and "NOT verified: 0 of 2" in r.output and "Verified:" not in r.output


@pytest.mark.parametrize("args,message", [
    (["--reduction", "max"], "--reduction 'max': choose mean (the default) or sum"),
    (["--set", "X1=1"], "--set X1: with samples in the values file, each sample gives the inputs and targets"),
])
def test_cli_batch_bad_input_is_one_line(tmp_path, args, message):
    r = run("matrix", *LINEAR, "--values", str(batch_file(tmp_path, LINEAR_BATCH)), *args)
    assert r.exit_code == 2 and message in r.output and len(r.output.strip().splitlines()) == 1, r.output


def test_cli_batch_subprocess(tmp_path):
    import subprocess
    import sys

    env = dict(os.environ, NO_COLOR="1", COLUMNS="200")
    done = subprocess.run([sys.executable, "-m", "derivchain", "matrix", *LINEAR, "--values", str(batch_file(tmp_path, LINEAR_BATCH)),
                           "-f", "json"], capture_output=True, text=True, env=env)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert json.loads(done.stdout)["layers"][0]["grad_W"] == [[7 / 3, -71 / 48]]


# --- batches -----------------------------------------------------------------------------------------
def test_batch_gradient_is_the_mean_of_the_samples_gradients():
    net = dc.dense("2,3,1", activation="relu", loss="half-squared", bias=True)
    rng = random.Random(2)
    params = {s.name: Fraction(rng.randint(-9, 9), 4) for s in net.parameters}
    samples = [{s.name: Fraction(rng.randint(-9, 9), 2) for s in net.inputs + net.targets} for _ in range(5)]
    batch = mx.batch_matrix_form(net, params, samples)
    assert batch.size == 5 and batch.layers[0].A_prev_shape == (2, 5) and batch.layers[0].delta_shape == (3, 5)
    singles = [dc.api.matrix(net, {**params, **s}) for s in samples]
    for l, layer in enumerate(batch.layers):
        for j, row in enumerate(layer.grad_W):
            for i, number in enumerate(row):
                assert number.value == sum(m.layers[l].grad_W[j][i].value for m in singles) / 5
        for j, (number,) in enumerate(layer.grad_b):
            assert number.value == sum(m.layers[l].grad_b[j][0].value for m in singles) / 5
    assert batch.check.equal and batch.check.total == 13


# --- torch, an autodiff written elsewhere --------------------------------------------------------------
def _torch():
    if os.environ.get("CI"):
        import torch  # CI installs it: there the cross-check must run

        return torch
    return pytest.importorskip("torch")


def test_matrices_equal_torch_autograd_for_a_3_4_2_sigmoid_network():
    torch_ = _torch()
    net = dc.dense("3,4,2", activation="sigmoid", output_activation="sigmoid", loss="half-squared", bias=True)
    rng = random.Random(7)
    values = {s.name: Fraction(rng.randint(-20, 20), 10) for s in net.inputs + net.targets + net.parameters}
    m = dc.api.matrix(net, values)
    t = lambda rows: torch_.tensor(rows, dtype=torch_.float64, requires_grad=True)  # noqa: E731
    # Written from the textbook, not from derivchain: W1 is 4x3 (row = hidden neuron), W2 is 2x4.
    W1 = t([[float(values[f"W{3 * j + i + 1}"]) for i in range(3)] for j in range(4)])
    b1 = t([float(values[f"B{j + 1}"]) for j in range(4)])
    W2 = t([[float(values[f"W{12 + 4 * k + j + 1}"]) for j in range(4)] for k in range(2)])
    b2 = t([float(values[f"B{5 + k}"]) for k in range(2)])
    x = torch_.tensor([float(values[f"X{i}"]) for i in (1, 2, 3)], dtype=torch_.float64)
    y = torch_.tensor([float(values["Y1"]), float(values["Y2"])], dtype=torch_.float64)
    out = torch_.sigmoid(W2 @ torch_.sigmoid(W1 @ x + b1) + b2)
    (0.5 * ((out - y) ** 2).sum()).backward()
    for layer, (Wt, bt) in zip(m.layers, ((W1, b1), (W2, b2))):
        ours = [[float(v) for v in row] for row in layer.grad_W]
        assert len(ours) == Wt.grad.shape[0] and len(ours[0]) == Wt.grad.shape[1]
        for j, row in enumerate(ours):
            for i, v in enumerate(row):
                assert abs(v - Wt.grad[j, i].item()) <= 1e-12 * max(1.0, abs(v)), (layer.index, j, i)
        for j, (v,) in enumerate(layer.grad_b):
            assert abs(float(v) - bt.grad[j].item()) <= 1e-12 * max(1.0, abs(float(v)))


def test_batch_latex_and_markdown_write_the_formula_and_shapes(tmp_path):
    path = str(batch_file(tmp_path, LINEAR_BATCH))
    tex = run("matrix", *LINEAR, "--values", path, "-f", "latex").output
    # Two 15-digit entries do not fit beside these names and shapes: a column a line; a negative fraction's sign before it.
    assert (r"\frac{\partial \mathrm{Loss}}{\partial W^{[1]}} = \frac{1}{m} \Delta^{[1]} (A^{[0]})^{T} &= "
            r"\underset{\text{column } 1 \text{ of } 2}{\begin{bmatrix} \frac{7}{3} \approx 2.33333333333333 \end{bmatrix}}") in tex
    assert r"\underset{\text{column } 2 \text{ of } 2}{\begin{bmatrix} -\frac{71}{48} \approx -1.47916666666667 \end{bmatrix}}" in tex
    assert r"\frac{-" not in tex
    # The README's example: its 1x2 dLoss/dW^[2] fits the line, so it is whole (the page compiles without an overfull box).
    readme = run("matrix", "--layers", "2,2,1", "--activation", "relu", "--loss", "half-squared", "--bias", "--values",
                 str(ROOT / "examples" / "matrix_batch_values.json"), "-f", "latex").output
    assert r"&= \begin{bmatrix} \frac{37}{48} \approx 0.770833333333333 & -0.65625 \end{bmatrix} && (1 \times 3)(3 \times 2)" in readme
    assert r"(1 \times 3)(3 \times 2) \to (1 \times 2)" in tex and r"A^{[0]} &= \begin{bmatrix} 1 & 3 & -2 \\ 2 & -1 & 0.5 \end{bmatrix}" in tex
    assert r"\frac{1}{m}" not in run("matrix", *LINEAR, "--values", path, "--reduction", "sum", "-f", "latex").output
    md = run("matrix", *LINEAR, "--values", path, "--reduction", "sum", "-f", "markdown").output
    assert md.startswith("## Matrix form over a batch of 3 samples (sum)") and r"\Delta^{[1]}" in md and "Verified: 2 of 2" in md


# --- a published multi-sample example ---------------------------------------------------------------------
# deeplearning.ai, "Neural Networks and Deep Learning", week 3 assignment "Planar data classification with one
# hidden layer": testCases_v2.py, backward_propagation_test_case (e.g. github.com/david-d-an/Chapter1Week3,
# testCases_v2.py) and the notebook's "Expected output" of backward_propagation. A 2-4-1 network, tanh hidden,
# sigmoid output, binary cross-entropy averaged over m = 3 samples (J = -(1/m) sum ...), zero biases;
# X = np.random.seed(1); randn(2, 3) as numpy prints it, Y = randn(1, 3) > 0 = [1, 0, 1] (1.74481176, -0.7612069,
# 0.3190391). numpy prints 8 decimals; every gradient entry is reproduced to those printed digits.
COURSERA = {
    "W1": "-0.00416758", "W2": "-0.00056267", "W3": "-0.02136196", "W4": "0.01640271", "W5": "-0.01793436",
    "W6": "-0.00841747", "W7": "0.00502881", "W8": "-0.01245288",
    "W9": "-0.01057952", "W10": "-0.00909008", "W11": "0.00551454", "W12": "0.02292208",
    "B1": 0, "B2": 0, "B3": 0, "B4": 0, "B5": 0,
    "samples": [{"X1": "1.62434536", "X2": "-1.07296862", "Y": 1}, {"X1": "-0.61175641", "X2": "0.86540763", "Y": 0},
                {"X1": "-0.52817175", "X2": "-2.3015387", "Y": 1}],
}
COURSERA_PRINTED = {
    "dW1": [[0.00301023, -0.00747267], [0.00257968, -0.00641288], [-0.00156892, 0.003893], [-0.00652037, 0.01618243]],
    "db1": [0.00176201, 0.00150995, -0.00091736, -0.00381422],
    "dW2": [[0.00078841, 0.01765429, -0.00084166, -0.01022527]],
    "db2": [-0.16655712],
}


def test_published_batch_example_to_its_printed_digits(tmp_path):
    net = dc.dense("2,4,1", activation="tanh", output_activation="sigmoid", loss="cross-entropy", bias=True)
    b = dc.api.matrix(net, dc.read_values(batch_file(tmp_path, COURSERA)))
    hidden, out = b.layers
    assert b.check.equal and b.check.total == 17 and b.size == 3
    assert [[round(float(v), 8) for v in row] for row in hidden.grad_W] == COURSERA_PRINTED["dW1"]
    assert [round(float(v), 8) for (v,) in hidden.grad_b] == COURSERA_PRINTED["db1"]
    assert [[round(float(v), 8) for v in row] for row in out.grad_W] == COURSERA_PRINTED["dW2"]
    assert [round(float(v), 8) for (v,) in out.grad_b] == COURSERA_PRINTED["db2"]
    # The test case's cached forward pass too (its A2 = [0.5002307, 0.49985831, 0.50023963]).
    assert [round(float(v), 8) for v in out.A[0]] == [0.5002307, 0.49985831, 0.50023963]


# --- L2 regularisation: dL/dW^l = delta^l (a^(l-1))^T + lambda W^l ------------------------------------
def test_l2_symbolic_adds_lambda_W_and_every_entry_verifies():
    m = dc.api.matrix(dc.with_l2(dc.dense("2,1"), Fraction(1, 10)))
    assert m.l2 == Fraction(1, 10) and m.layers[0].shapes["grad_W"] == (1, 2)
    assert names(m.layers[0].grad_W) == [["W1/10 + X1*delta_Out", "W2/10 + X2*delta_Out"]]
    assert m.check.equal and (m.check.verified, m.check.total) == (2, 2)


def test_l2_left_out_is_caught(monkeypatch):
    monkeypatch.setattr(mx, "_lambda", lambda net: 0)  # the matrix form forgets the L2 term: the scalar derivation disagrees
    m = dc.api.matrix(dc.with_l2(dc.dense("2,1"), Fraction(1, 10)))
    assert not m.check.equal and m.check.verified == 0


def test_l2_at_values_and_biases_excluded():
    net = dc.with_l2(dc.dense("2,1", loss="half-squared", bias=True), Fraction(1, 10))
    m = dc.api.matrix(net, {"W1": Fraction(1, 2), "W2": Fraction(-1, 4), "B1": Fraction(1), "X1": 1, "X2": 2, "Y": 2})
    # Out = 1/2 - 1/2 + 1 = 1, delta = Out - Y = -1: dL/dW = -[1, 2] + (1/10) [1/2, -1/4]; dL/db = delta, no L2.
    assert [v.value for v in m.layers[0].grad_W[0]] == [Fraction(-19, 20), Fraction(-81, 40)]
    assert [r[0].value for r in m.layers[0].grad_b] == [-1]
    assert m.check.equal and m.check.total == 3


@pytest.mark.parametrize("reduction,expected", [("mean", [Fraction(143, 60), Fraction(-361, 240)]),
                                                ("sum", [Fraction(143, 20), Fraction(-361, 80)])])
def test_l2_batch_counts_the_term_as_each_samples_loss_does(tmp_path, reduction, expected):
    # Without L2: mean [7/3, -71/48], sum [7, -71/16]; each sample's loss holds lambda W: the sum has it m = 3 times.
    net = dc.with_l2(dc.dense("2,1", loss="half-squared"), Fraction(1, 10))
    b = dc.api.matrix(net, dc.read_values(batch_file(tmp_path, LINEAR_BATCH)), reduction)
    assert [v.value for v in b.layers[0].grad_W[0]] == expected
    assert b.check.equal and (b.check.verified, b.check.total) == (2, 2)
    scalar = run("grad", "W1", *LINEAR, "--l2", "0.1", "--values", str(batch_file(tmp_path, LINEAR_BATCH)), "--reduction", reduction)
    assert f"backprop = {expected[0]}" in scalar.output or f"backprop = {float(expected[0]):.15g}" in scalar.output, scalar.output


def test_l2_in_every_format(tmp_path):
    args = [*LINEAR, "--l2", "0.1"]
    text = run("matrix", *args)
    assert text.exit_code == 0 and "dLoss/dW^1 = delta^1 (a^0)^T + lambda W^1: (1x1)(1x2) -> 1x2" in text.output, text.output
    assert "L2: lambda = 1/10" in text.output
    summed = run("matrix", *args, "--values", str(batch_file(tmp_path, LINEAR_BATCH)), "--reduction", "sum")
    assert "dLoss/dW^1 = Delta^1 (A^0)^T + m lambda W^1: (1x3)(3x2) -> 1x2" in summed.output, summed.output
    tex = run("matrix", *args, "-f", "latex").output
    assert r"(a^{[0]})^{T} + \lambda W^{[1]}" in tex and r"\lambda = \frac{1}{10}" in tex
    assert r"\lambda W^{[1]}" in run("matrix", *args, "-f", "markdown").output
    data = json.loads(run("matrix", *args, "--values", str(batch_file(tmp_path, LINEAR_BATCH)), "-f", "json").output)
    assert data["l2"] == {"lambda": "1/10", "term": "lambda W^l"} and data["layers"][0]["grad_W"] == [[143 / 60, -361 / 240]]
    assert json.loads(run("matrix", *LINEAR, "-f", "json").output)["l2"] is None


def test_latex_and_markdown_label_each_layers_rows_as_the_text_does(tmp_path):
    for args in (["--layers", "2,2,1", "--bias"], [*LINEAR, "--values", str(batch_file(tmp_path, LINEAR_BATCH))]):
        text = run("matrix", *args).output
        labels = re.findall(r"^  (layer \d+ \([^)]*\):)$", text, re.M)
        assert labels and len(labels) == 2 * (len(args[1].split(",")) - 1), text
        for fmt in ("latex", "markdown"):
            shown = re.findall(r"&\\quad\\text\{(layer [^}]*)\}", run("matrix", *args, "-f", fmt).output)
            assert shown == labels, (fmt, shown)
    wide = render(dc.api.matrix(dc.dense("2,8,1")), "latex")
    assert r"&\quad\text{layer 1 (H1, H2, ..., H8):}" in wide  # a long layer's label stays short


def test_symbolic_z_and_delta_are_printed_in_neuron_order_as_the_scalar_equations():
    from derivchain.engines.forms import value_of

    m = dc.api.matrix(dc.dense("10,2,12", activation="sigmoid", bias=True))
    text = run("matrix", "--layers", "10,2,12", "--activation", "sigmoid", "--bias").output
    # Source order, bias last (SymPy's name order would put W10*X10 before W2*X2).
    assert "-> 2x1 = [W1*X1 + W2*X2 + W3*X3 + W4*X4 + W5*X5 + W6*X6 + W7*X7 + W8*X8 + W9*X9 + W10*X10 + B1; " in text, text
    # delta^1 as the scalar recursion prints it: f'(z) first, then the successors in order (Out9 before Out10).
    assert "[H1*(1 - H1)*(W21*delta_Out1 + W23*delta_Out2 + " in text and "W37*delta_Out9 + W39*delta_Out10 + " in text, text
    for layer in m.layers:  # the printed forms are the matrices' own entries
        for shown, entry in ((layer.z_shown, layer.z), (layer.delta_shown, layer.delta)):
            assert all(sp_equal(value_of(s), e) for (s,), e in zip(shown, entry))
    assert json.loads(run("matrix", "--layers", "10,2,1", "--bias", "-f", "json").output)["layers"][1]["z"] == ["W21*H1 + W22*H2 + B3"]


def sp_equal(a, b) -> bool:
    import sympy

    return sympy.expand(a - b) == 0


# --- issue 23: the textbook rewrite of the output delta ------------------------------------------------------
BCE = ["--layers", "2,2,1", "--output-activation", "sigmoid", "--loss", "cross-entropy"]


def test_sigmoid_cross_entropy_delta_is_out_minus_y_and_named_in_every_format():
    text = run("matrix", *BCE)
    assert text.exit_code == 0, text.output
    assert "= [Out - Y]" in text.output and "sigmoid + cross-entropy" in text.output
    assert "Out*(1 - Out)*((Out - Y)/(Out*(1 - Out)))" not in text.output  # the long form printed before
    assert "Verified: 6 of 6" in text.output  # the gradients built from it are checked as before
    data = json.loads(run("matrix", *BCE, "-f", "json").output)
    assert data["layers"][-1]["delta"] == ["Out - Y"] and data["layers"][-1]["rewrite"].startswith("sigmoid + cross-entropy")
    assert data["layers"][0]["rewrite"] == "" and data["equal"] is True
    for fmt in ("latex", "markdown", "html"):
        assert "sigmoid + cross-entropy" in run("matrix", *BCE, "-f", fmt).output, fmt


def test_no_rewrite_where_the_loss_has_none():
    out = run("matrix", "--layers", "2,2,1", "--output-activation", "sigmoid", "--loss", "half-squared").output
    assert "rewrite" not in out and "cancels" not in out
    data = json.loads(run("matrix", "--layers", "2,2,1", "--output-activation", "sigmoid", "--loss", "half-squared", "-f", "json").output)
    assert [layer["rewrite"] for layer in data["layers"]] == ["", ""]


def test_the_rewritten_delta_is_what_the_check_sees(monkeypatch):
    # a wrong rewrite in the scalar engine's data would reach the dense form's entries: the check must catch it
    from derivchain.engines import backprop

    real = backprop._delta_equations

    def wrong(network):
        eqs = real(network)
        return {s: (e if not e.rewrite else type(e)(e.neuron, e.delta, e.derivative, e.loss_derivative, e.terms,
                                                     e.value + 1, e.rewrite)) for s, e in eqs.items()}

    monkeypatch.setattr(backprop, "_delta_equations", wrong)
    m = dc.api.matrix(dc.dense("2,2,1", output_activation="sigmoid", loss="cross-entropy"))
    assert not m.check.equal


def test_softmax_delta_under_one_hot_targets_is_softmax_minus_y_in_every_format():
    args = ["--layers", "2,2", "--loss", "softmax"]
    text = run("matrix", *args).output
    assert "where Y1 + Y2 = 1 (one-hot targets): delta^1 = [exp(Out1)/(exp(Out1) + exp(Out2)) - Y1; " in text
    assert "Verified: 4 of 4" in text
    data = json.loads(run("matrix", *args, "-f", "json").output)
    assert data["conditional"] == {"condition": "one-hot targets", "equation": "Y1 + Y2 = 1", "verified": True,
                                   "delta": ["exp(Out1)/(exp(Out1) + exp(Out2)) - Y1", "exp(Out2)/(exp(Out1) + exp(Out2)) - Y2"]}
    assert json.loads(run("matrix", *BCE, "-f", "json").output)["conditional"] is None
    for fmt in ("latex", "markdown", "html"):
        assert "one-hot targets" in run("matrix", *args, "-f", fmt).output, fmt


def test_a_wrong_conditional_delta_is_not_verified(monkeypatch):
    from derivchain.model import losses

    real = losses.LOSSES["softmax"]
    words, imposed, derivative = real.conditional
    wrong = type(real)(*[getattr(real, f) for f in ("name", "formula", "text", "note", "note_tex", "output_activation",
                                                    "min_outputs", "derivative", "rewrite")],
                       conditional=(words, imposed, lambda o, y, k: derivative(o, y, k) + 1))
    monkeypatch.setitem(losses.LOSSES, "softmax", wrong)
    r = run("matrix", "--layers", "2,2", "--loss", "softmax")
    assert r.exit_code == 1 and "NOT verified" in r.output


@pytest.mark.skipif(latex_engine() is None and not os.environ.get("CI"), reason="no LaTeX engine (CI installs one)")
def test_rewritten_deltas_compile():
    pieces = [run("matrix", *args, "-f", "latex").output for args in (BCE, ["--layers", "2,2", "--loss", "softmax"])]
    doc = "\\documentclass{article}\\usepackage[a4paper,margin=2cm]{geometry}\\usepackage{amsmath,amssymb}\n\\begin{document}\n"
    compile_text(doc + "\n\n".join(pieces) + "\n\\end{document}\n", "rewrites.tex")
