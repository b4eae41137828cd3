"""Batches of samples (mean or sum over samples, full-batch and mini-batch steps) and L2 regularisation,
checked against sums worked by hand here with exact fractions (independent of derivchain's engines)."""

import json
from fractions import Fraction as Fr

import pytest
from typer.testing import CliRunner

from derivchain import api
from derivchain.cli import app
from derivchain.engines.descent import descend
from derivchain.model.network import dense, with_l2
from derivchain.renderers import render
from derivchain.model.values import ValuesError, check_batch, read_values

runner = CliRunner()
#: A 2-1 linear network, Loss = (Out - Y)^2/2 with Out = W1*X1 + W2*X2, and three samples.
WEIGHTS = {"W1": Fr(1, 2), "W2": Fr(-1, 4)}
SAMPLES = [{"X1": Fr(1), "X2": Fr(2), "Y": Fr(1)}, {"X1": Fr(3), "X2": Fr(-1), "Y": Fr(0)},
           {"X1": Fr(-2), "X2": Fr(1, 2), "Y": Fr(1, 3)}]
LINEAR = ["--layers", "2,1", "--loss", "half-squared"]


def hand_gradient(w, samples, reduction="mean", lam=Fr(0)):
    """dLoss/dW_i by hand: per sample (Out - Y) * X_i + lam * W_i, then the mean or the sum over samples."""
    grads = []
    for s in samples:
        err = w["W1"] * s["X1"] + w["W2"] * s["X2"] - s["Y"]
        grads.append({"W1": err * s["X1"] + lam * w["W1"], "W2": err * s["X2"] + lam * w["W2"]})
    total = {k: sum(g[k] for g in grads) for k in ("W1", "W2")}
    return grads, {k: v / len(samples) if reduction == "mean" else v for k, v in total.items()}


def values_file(tmp_path, samples=SAMPLES, **weights):
    path = tmp_path / "batch.json"
    data = {k: str(v) for k, v in (weights or WEIGHTS).items()}
    data["samples"] = [{k: str(v) for k, v in s.items()} for s in samples]
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("lam", [Fr(0), Fr(1, 10)])
def test_batch_gradient_is_the_reduction_of_the_samples(tmp_path, reduction, lam):
    net = dense("2,1", loss="half-squared")
    if lam:
        net = with_l2(net, lam)
    result = api.grad(net, "W1", values=read_values(values_file(tmp_path)), reduction=reduction)
    each, batch = hand_gradient(WEIGHTS, SAMPLES, reduction, lam)
    assert result.exact and result.agree
    assert [s.backprop.value for s in result.samples] == [g["W1"] for g in each]
    for form in (result.direct, result.path_sum, result.backprop):
        assert form.value == batch["W1"]
    # mean: the L2 term once (mean of a constant); sum: once per sample, as the reduction of the one form says.
    text = render(result, "text")
    lead = "(1/m) * sum" if reduction == "mean" else "sum"
    assert f"dLoss/dW1 = {lead} over samples s of [" in text and "m = 3" in text
    assert f"batch ({reduction}): " in text and "sample 3: " in text


def test_batch_json_keeps_the_three_forms_and_adds_samples(tmp_path):
    r = runner.invoke(app, ["grad", "W2", *LINEAR, "--values", str(values_file(tmp_path)), "--format", "json"])
    assert r.exit_code == 0, r.output
    at = json.loads(r.output)["at_values"]
    each, batch = hand_gradient(WEIGHTS, SAMPLES)
    assert {"direct", "path_sum", "backprop", "samples"} <= set(at) and at["reduction"] == "mean"
    assert at["backprop"] == at["direct"] == at["path_sum"] == float(batch["W2"])
    assert [s["backprop"] for s in at["samples"]] == [float(g["W2"]) for g in each]
    assert all(set(s) >= {"direct", "path_sum", "backprop"} for s in at["samples"])


def test_batch_latex_and_markdown_write_the_reduction(tmp_path):
    net = dense("2,1", loss="half-squared")
    result = api.grad(net, "W1", values=read_values(values_file(tmp_path)))
    tex = render(result, "latex")
    assert r"\frac{1}{m}\sum_{s=1}^{m}" in tex and r"m = 3" in tex
    assert r"\sum_{s=1}^{m}" in render(api.grad(net, "W1", values=read_values(values_file(tmp_path)), reduction="sum"), "markdown")


def test_full_batch_and_mini_batch_steps_by_hand(tmp_path):
    net = dense("2,1", loss="half-squared")
    given = read_values(values_file(tmp_path))
    lr = Fr(1, 10)
    # Full batch, two steps: each the mean gradient over all three samples.
    w = dict(WEIGHTS)
    for _ in range(2):
        _, g = hand_gradient(w, SAMPLES)
        w = {k: w[k] - lr * g[k] for k in w}
    full = descend(net, given, lr, 2)
    assert full.exact and {k: v.value for k, v in full.steps[-1].updated.items()} == w
    # Mini-batches of 2 in file order (samples 1-2, then 3), two epochs: four updates.
    w = dict(WEIGHTS)
    for _ in range(2):
        for part in (SAMPLES[:2], SAMPLES[2:]):
            _, g = hand_gradient(w, part)
            w = {k: w[k] - lr * g[k] for k in w}
    mini = descend(net, given, lr, 2, batch_size=2)
    assert len(mini.steps) == 4 and {k: v.value for k, v in mini.steps[-1].updated.items()} == w
    # The losses recorded are the whole batch's mean loss.
    loss0 = sum((WEIGHTS["W1"] * s["X1"] + WEIGHTS["W2"] * s["X2"] - s["Y"]) ** 2 / 2 for s in SAMPLES) / 3
    assert mini.steps[0].loss.value == loss0
    # Sum reduction with L2: w - lr * (sum of sample gradients, each with lam * w).
    lam = Fr(1, 5)
    _, g = hand_gradient(WEIGHTS, SAMPLES, "sum", lam)
    summed = descend(with_l2(net, lam), given, lr, 1, reduction="sum")
    assert {k: v.value for k, v in summed.steps[0].updated.items()} == {k: WEIGHTS[k] - lr * g[k] for k in WEIGHTS}


def test_step_cli_with_a_batch(tmp_path):
    r = runner.invoke(app, ["step", *LINEAR, "--values", str(values_file(tmp_path)), "--batch-size", "1", "--steps", "2",
                            "--reduction", "sum", "--l2", "0.1", "--format", "json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["steps"] == 6 and data["epochs"] == 2 and data["batch_size"] == 1 and data["reduction"] == "sum"
    text = runner.invoke(app, ["step", *LINEAR, "--values", str(values_file(tmp_path)), "--batch-size", "2"]).output
    assert "batch of 3 samples, mini-batches of 2 in file order, 1 epoch, reduction mean" in text


def test_l2_is_a_path_free_term_in_every_form():
    net = api.network(layers="2,2,1", activation="sigmoid", loss="half-squared", bias=True, l2="0.01")
    assert net.l2 == Fr(1, 100) and not net.shared  # the L2 use is not a shared weight
    d = api.grad(net, "W1")
    assert d.verdict.equal
    text = render(d, "text")
    assert "path 2: W1@Loss -> Loss" in text and "dLoss/dW1 = W1/100" in text
    assert "+ W1/100" in text.split("Backpropagation: ")[1].splitlines()[0]
    # Biases are excluded: no path B1 -> Loss, and the loss names no bias.
    assert "B1@Loss" not in render(api.grad(net, "B1"), "text") and "B1" not in str(net.l2_term)
    assert r"\frac{W_{1}}{100}" in render(d, "latex")
    assert "Note: L2 regularisation: the loss adds lambda/2 * (sum of squared weights), lambda = 1/100, biases excluded" in text


@pytest.mark.parametrize("args, message", [
    (["--l2", "-0.5"], "--l2 -0.5: the L2 strength lambda must be zero or positive"),
    (["--reduction", "max"], "--reduction 'max': choose mean (the default) or sum"),
    (["--batch-size", "4"], "--batch-size 4: the mini-batch size is larger than the batch (3 samples)"),
    (["--batch-size", "0"], "--batch-size 0: the mini-batch size must be positive"),
    (["--batch-size", "-2"], "--batch-size -2: the mini-batch size must be positive"),
    (["--set", "X1=5"], "--set X1: with samples in the values file, each sample gives the inputs and targets"),
    (["--l2", "abc"], "Error: --l2 = 'abc' is not a number"),
])
def test_bad_batch_options(tmp_path, args, message):
    r = runner.invoke(app, ["step", *LINEAR, "--values", str(values_file(tmp_path)), *args])
    assert r.exit_code == 2 and r.output.count("\n") == 1 and message in r.output, r.output


@pytest.mark.parametrize("samples, message", [
    ([], "samples is empty; give at least one sample"),
    ([{"X1": 1, "X2": 2}], "sample 1: missing Y"),
    ([{"X1": 1, "X2": 2, "Y": 1}, {"X1": 1, "X2": 2, "Y": 1, "Z": 3}], "sample 2: unknown key Z"),
    ([{"X1": 1, "X2": 2, "Y": 1, "W1": 3}], "sample 1: unknown key W1"),
    ([1], "sample 1 is not an object"),
])
def test_bad_samples(tmp_path, samples, message):
    path = tmp_path / "v.json"
    path.write_text(json.dumps({"W1": 1, "W2": 2, "samples": samples}))
    r = runner.invoke(app, ["grad", "W1", *LINEAR, "--values", str(path)])
    assert r.exit_code == 2 and r.output.count("\n") == 1 and message in r.output, r.output


def test_inputs_outside_samples_and_missing_weights_are_named():
    net = dense("2,1")
    with pytest.raises(ValuesError, match="X1 given outside samples"):
        check_batch(net, {"W1": 1, "W2": 1, "X1": 1, "samples": [{"X2": 1, "Y": 1}]})
    with pytest.raises(ValuesError, match="missing W2"):
        check_batch(net, {"W1": 1, "samples": [{"X1": 1, "X2": 1, "Y": 1}]})


def test_terminating_decimals_print_every_digit():
    # 33/64 = 0.515625 exactly (was printed 0.5156 under "exact"); long ones fall back to a fraction.
    from derivchain.model.values import Number

    assert str(Number(Fr(33, 64), True)) == "0.515625" and str(Number(Fr(-1, 20), True)) == "-0.05"
    assert str(Number(Fr(1, 1024), True)) == "0.0009765625"
    assert str(Number(Fr(1, 2**90), True)).startswith("1/1237940039285380274899124224 (~")


def test_mini_batch_updates_count_against_the_steps_limit(tmp_path):
    r = runner.invoke(app, ["step", *LINEAR, "--values", str(values_file(tmp_path)), "--batch-size", "1",
                            "--steps", "4", "--limit", "steps=10"])
    assert r.exit_code == 2 and "the number of updates (--steps epochs x mini-batches) is 12" in r.output, r.output


def test_l2_in_the_general_formula_and_the_summary():
    f = runner.invoke(app, ["formula", "W1", "--layers", "2,2,1", "--bias", "--l2", "0.1"]).output
    assert "with L2 (lambda/2 * sum of squared weights in the loss):  dLoss/dW = (the above) + lambda * W;  biases: no L2 term" in f
    assert "with L2" not in runner.invoke(app, ["formula", "W1", "--layers", "2,2,1"]).output
    assert "shared: W (3 uses + L2), U (2 uses + L2), b (3 uses)" in api.network("examples/rnn.toml", l2="0.1").summary()


@pytest.mark.parametrize("leaf", ["X1", "Y"])
def test_a_leaf_each_sample_has_its_own_has_per_sample_values_only(tmp_path, leaf):
    # Each sample has its own X1 (and Y): the mean of the samples' dLoss/dX1 is the derivative of nothing.
    path = str(values_file(tmp_path))
    r = runner.invoke(app, ["grad", leaf, *LINEAR, "--values", path])
    assert r.exit_code == 0, r.output
    batch = next(line for line in r.output.splitlines() if line.startswith("  batch (mean)"))
    assert batch.startswith("  batch (mean): Loss = ") and "sum over paths" not in batch
    assert f"dLoss/d{leaf} = [" in r.output and "]_s for each sample s, m = 3" in r.output and "(1/m) * sum" not in r.output
    assert f"Note: Each sample has its own {leaf}, so dLoss/d{leaf} has a value per sample only" in r.output
    at = json.loads(runner.invoke(app, ["grad", leaf, *LINEAR, "--values", path, "--format", "json"]).output)["at_values"]
    assert at["direct"] is None and at["path_sum"] is None and at["backprop"] is None
    assert at["note"].startswith(f"Each sample has its own {leaf}") and at["loss"] is not None
    assert all(s["backprop"] is not None for s in at["samples"])
    for fmt in ("latex", "markdown", "html"):
        out = runner.invoke(app, ["grad", leaf, *LINEAR, "--values", path, "--format", fmt]).output
        assert "per sample only" in out and r"\frac{1}{m}\sum" not in out
    # A weight keeps its batch value, and JSON says there is no note.
    at = json.loads(runner.invoke(app, ["grad", "W1", *LINEAR, "--values", path, "--format", "json"]).output)["at_values"]
    assert at["backprop"] is not None and at["note"] is None
