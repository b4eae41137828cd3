"""Numbers: values files and --set, exact evaluation, gradient descent, and a published example."""

import json
from fractions import Fraction
from pathlib import Path

import pytest
from typer.testing import CliRunner

from derivchain.cli import app
from derivchain.engines.descent import descend
from derivchain.model.network import dense
from derivchain.model.values import ValuesError, check_values, environment, parse_assignments, read_values, value_of

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
runner = CliRunner()
PUBLISHED = ["--layers", "2,2,2", "--activation", "sigmoid", "--output-activation", "sigmoid",
             "--loss", "half-squared", "--bias", "--values", str(EXAMPLES / "published_step_values.json")]


def published_net():
    return dense("2,2,2", activation="sigmoid", output_activation="sigmoid", loss="half-squared", bias=True)


def test_values_are_read_exactly():
    assert read_values(EXAMPLES / "published_step_values.json")["W1"] == Fraction(3, 20)
    assert parse_assignments(["W1=0.15", "X1=1/3"]) == {"W1": Fraction(3, 20), "X1": Fraction(1, 3)}


@pytest.mark.parametrize(
    "items, message",
    [
        (["W1=nan"], "W1 = 'nan' is not a number"),
        (["W1=inf"], "W1 = 'inf' is not a number"),
        (["W1=abc"], "W1 = 'abc' is not a number"),
        (["W1"], "write NAME=NUMBER"),
    ],
)
def test_bad_numbers(items, message):
    with pytest.raises(ValuesError, match=message):
        parse_assignments(items)


def test_missing_and_unknown_names_listed():
    with pytest.raises(ValuesError) as info:
        check_values(dense("2,1"), {"W1": Fraction(1), "Z": Fraction(2)})
    assert str(info.value).startswith("values: missing X1, X2, Y, W2; unknown Z (this network has X1, X2, Y, W1, W2)")


def test_values_file_errors(tmp_path):
    bad = tmp_path / "v.json"
    bad.write_text('{"W1": NaN}')
    with pytest.raises(ValuesError, match="not a number"):
        read_values(bad)
    bad.write_text('{"W1": [1]}')
    with pytest.raises(ValuesError, match="is not a number"):
        read_values(bad)
    with pytest.raises(ValuesError, match="values files end in .json or .toml"):
        read_values(tmp_path / "v.yaml")


def test_published_example_forward_pass():
    # Numbers as printed in the post (seen in its text this session): 9 significant digits.
    net = published_net()
    env, exact = environment(net, check_values(net, read_values(EXAMPLES / "published_step_values.json")))
    assert not exact  # sigmoid: 50-digit arithmetic
    got = {n.name: float(value_of(n.symbol, env, exact).value) for n in net.neurons}
    assert round(got["H1"], 9) == 0.593269992
    assert round(got["H2"], 9) == 0.596884378
    assert round(float(value_of(net.neurons[2].preactivation, env, exact).value), 9) == 1.105905967
    assert round(got["Out1"], 8) == 0.75136507
    assert round(got["Out2"], 9) == 0.772928465
    assert round(float(value_of(net.loss_local, env, exact).value), 9) == 0.298371109


def test_published_example_step():
    net = published_net()
    vals = check_values(net, read_values(EXAMPLES / "published_step_values.json"))
    step = descend(net, vals, Fraction(1, 2), 1, ("B*",)).steps[0]
    # The post's updated weights (quoted from it; its biases are not updated, hence --freeze 'B*').
    published = {
        "W5": 0.35891648, "W6": 0.408666186, "W7": 0.511301270, "W8": 0.561370121,
        "W1": 0.149780716, "W2": 0.19956143, "W3": 0.24975114, "W4": 0.29950229,
    }
    for name, value in published.items():
        digits = len(str(value).split(".")[1])
        assert round(float(step.updated[name].value), digits) == value, name
    assert round(float(step.gradients["W5"].value), 9) == 0.082167041
    assert round(float(step.gradients["W1"].value), 9) == 0.000438568
    # The post's error after the first round, 0.291027924, does NOT follow from its own updated
    # weights: with them the error is 0.2910277737. It reproduces exactly (0.291027923905) when
    # w1..w4 are updated with gradients that use the already-updated w5..w8, which the post says
    # it does not do, and which would also change its printed w1+..w4+ (to 0.1498176...).
    assert round(float(step.loss_after.value), 10) == 0.2910277737
    assert round(float(step.loss_after.value), 9) != 0.291027924


def test_step_cli_reproduces_the_published_update():
    r = runner.invoke(app, ["step", *PUBLISHED, "--lr", "0.5", "--freeze", "B*", "--format", "json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert round(data["updated"]["W5"], 8) == 0.35891648 and round(data["updated"]["W1"], 9) == 0.149780716
    assert set(data) >= {"loss", "gradients", "updated", "loss_after"} and data["frozen"] == ["B1", "B2", "B3", "B4"]
    text = runner.invoke(app, ["step", *PUBLISHED, "--lr", "0.5", "--freeze", "B*"]).output
    assert "W1" in text and "0.15" in text and "0.149780716132763" in text and "kept fixed: B1, B2, B3, B4" in text


def test_exact_arithmetic_on_a_polynomial_network():
    net = dense("2,2,1", loss="half-squared")
    given = {"X1": "1", "X2": "2", "Y": "3"} | {f"W{i}": f"0.{i}" for i in range(1, 7)}
    vals = check_values(net, {k: Fraction(v) for k, v in given.items()})
    result = descend(net, vals, Fraction(1, 10), 3)
    assert result.exact and all(isinstance(v.value, Fraction) for v in result.steps[-1].updated.values())
    losses = [s.loss.value for s in result.steps] + [result.steps[-1].loss_after.value]
    assert all(a > b for a, b in zip(losses, losses[1:]))  # a small step lowers this loss


def test_step_errors():
    r = runner.invoke(app, ["step", *PUBLISHED, "--freeze", "Q*"])
    assert r.exit_code == 2 and "--freeze 'Q*' matches no parameter" in r.output
    r = runner.invoke(app, ["step"])
    assert r.exit_code == 2 and "step needs numbers" in r.output
    r = runner.invoke(app, ["step", *PUBLISHED, "--lr", "fast"])
    assert r.exit_code == 2 and "--lr = 'fast' is not a number" in r.output


def test_grad_at_values_text_and_json():
    r = runner.invoke(app, ["grad", "W1", *PUBLISHED])
    assert r.exit_code == 0, r.output
    assert "At the given values (50-digit arithmetic" in r.output
    assert "H1: z = 0.3775, output = 0.593269992107187" in r.output
    assert "sum over paths = 0.000438567734474347, backprop = 0.000438567734474347, direct = 0.000438567734474347" in r.output
    data = json.loads(runner.invoke(app, ["grad", "W5", *PUBLISHED, "--format", "json"]).output)
    at = data["at_values"]
    assert at["exact"] is False and round(at["loss"], 9) == 0.298371109
    assert round(at["direct"], 9) == 0.082167041 and at["path_sum"] == at["backprop"] == at["direct"]
    assert round(at["neurons"]["Out1"]["output"], 8) == 0.75136507


def test_grad_at_values_exact_for_identity_network():
    args = ["grad", "W7", "--set", "X1=1", "--set", "X2=2", "--set", "Y=3"]
    args += [x for i in range(1, 15) for x in ("--set", f"W{i}=0.{i}")]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "At the given values (exact):" in r.output
    assert "W7 -> H4 -> Out -> Loss: -1 * 0.13 * 0.5 = -0.065" in r.output
    r = runner.invoke(app, ["grad", "W7", "--set", "X1=1"])
    assert r.exit_code == 2 and "values: missing X2, Y, W1" in r.output


SOFTMAX = ["--layers", "2,2", "--loss", "softmax", "--set", "X1=1", "--set", "X2=2", "--set", "Y1=1", "--set", "Y2=0",
           "--set", "W1=1", "--set", "W2=0", "--set", "W3=0", "--set", "W4=1"]


def test_exact_only_when_every_number_is_rational():
    # A rational forward pass (identity logits) with a softmax loss: the loss and the gradient are irrational.
    r = runner.invoke(app, ["grad", "W1", *SOFTMAX])
    assert r.exit_code == 0, r.output
    assert "At the given values (50-digit arithmetic, 15 significant digits shown):" in r.output
    assert "Out1: z = 1, output = 1" in r.output  # the rational numbers still print exactly
    at = json.loads(runner.invoke(app, ["grad", "W1", *SOFTMAX, "--format", "json"]).output)["at_values"]
    assert at["exact"] is False and round(at["loss"], 12) == 1.313261687518
    # step: the same, where it ended in an internal error (exact Fractions met the loss's mpf values).
    r = runner.invoke(app, ["step", *SOFTMAX, "--lr", "1", "--format", "json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["exact"] is False


def test_an_exact_zero_prints_0():
    # Out = sigmoid(0.7) + sigmoid(-0.7) - 1 = 0 exactly; computed, it is its rounding (3.9e-62 before).
    args = ["grad", "W1", "--layers", "1,2,1", "--activation", "sigmoid", "--loss", "half-squared", "--bias", "--set", "X1=1",
            "--set", "Y=1", "--set", "W1=0.7", "--set", "W2=-0.7", "--set", "W3=1", "--set", "W4=1", "--set", "B1=0",
            "--set", "B2=0", "--set", "B3=-1"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    values = r.output[r.output.index("At the given values"):]
    assert "  Out: z = 0, output = 0" in values and "e-6" not in values
    at = json.loads(runner.invoke(app, [*args, "--format", "json"]).output)["at_values"]
    assert at["neurons"]["Out"] == {"z": 0.0, "output": 0.0}
    # A small value that is no rounding keeps its digits: Loss = -log(sigmoid(100)) = 3.72e-44.
    r = runner.invoke(app, ["grad", "W1", "--layers", "1,1", "--output-activation", "sigmoid", "--loss", "cross-entropy",
                            "--set", "X1=1", "--set", "Y=1", "--set", "W1=100"])
    assert "Loss = 3.72007597602084e-44" in r.output


@pytest.mark.parametrize("target, gradient, loss", [("0", "1.0", "200.0"), ("1", "-1.38389652673674e-87", "1.38389652673674e-87")])
def test_saturated_sigmoid_with_cross_entropy_gives_out_minus_y(target, gradient, loss):
    # sigmoid(200) rounds to 1 at 50 digits, so 1/(1 - Out) was "undefined"; the gradient X1*(Out - Y) is finite.
    r = runner.invoke(app, ["grad", "W1", "--layers", "1,1", "--output-activation", "sigmoid", "--loss", "cross-entropy",
                            "--set", "X1=1", "--set", f"Y={target}", "--set", "W1=200"])
    assert r.exit_code == 0, r.output
    assert "At the given values (200-digit arithmetic, 15 significant digits shown):" in r.output
    assert f"Loss = {loss}" in r.output
    assert f"sum over paths = {gradient}, backprop = {gradient}, direct = {gradient}" in r.output
    # Past every precision: one line, exit 2, saying how far it went.
    r = runner.invoke(app, ["grad", "W1", "--layers", "1,1", "--output-activation", "sigmoid", "--loss", "cross-entropy",
                            "--set", "X1=1", "--set", "Y=0", "--set", "W1=5000"])
    assert r.exit_code == 2 and "even with 1000-digit arithmetic" in r.output and len(r.output.strip().splitlines()) == 1


@pytest.mark.parametrize("raw", ["３", "٣", "0.１"])
def test_numbers_are_ascii_digits(raw):
    # Decimal reads other scripts' digits as ASCII ones: refused, naming the character.
    with pytest.raises(ValuesError, match=r"is not a number: '.' \(U\+[0-9A-F]{4}\) is not ASCII"):
        parse_assignments([f"W1={raw}"])


def test_a_node_named_z_does_not_collide_with_the_weighted_inputs(tmp_path):
    # z = ... names the weighted input of each neuron; with a node called z it would read as that node's value.
    net = tmp_path / "z.toml"
    net.write_text('inputs = ["x"]\nloss = "half-squared"\n[[neurons]]\nname = "z"\ninputs = { x = "w" }\n'
                   'activation = "sigmoid"\n[[neurons]]\nname = "Out"\ninputs = { z = "v" }\noutput = true\n')
    args = ["grad", "w", "--network", str(net), "--set", "x=2", "--set", "w=1", "--set", "v=1", "--set", "Y=0"]
    text = runner.invoke(app, args).output
    assert "  z: net = 2.0, output = " in text and "  Out: net = " in text and " z = " not in text.split("At the given")[1]
    tex = runner.invoke(app, [*args, "--format", "latex"]).output
    assert r"\mathrm{net}_{z} &= 2.0, \quad z = " in tex and "z_{z}" not in tex
    page = runner.invoke(app, [*args, "--format", "html"]).output
    assert "<msub><mi>net</mi><mi>z</mi></msub>" in page
    # Without such a node, z as before.
    assert "  H1: z = " in runner.invoke(app, ["grad", "W1", *PUBLISHED]).output
