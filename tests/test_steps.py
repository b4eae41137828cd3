"""The step-by-step derivation: every line equals the next, and the last equals the direct result."""

import json
from pathlib import Path

import pytest
import sympy as sp
from typer.testing import CliRunner

from derivchain.cli import app
from derivchain.verification.derivation import derive
from derivchain.model.network_file import load_network
from derivchain.model.network import dense, real
from derivchain.engines.steps import derivation_steps, realize
from derivchain.verification.compare import verify

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
runner = CliRunner()


def test_worked_example_w1_reads_like_the_answer():
    net = dense()
    steps = derivation_steps(net, "W1")
    D = lambda e: sp.Derivative(e, real("W1"))  # noqa: E731
    s = sp.sign(real("Out") - real("Y"))
    W = lambda i: real(f"W{i}")  # noqa: E731
    assert steps[2].expr == s * D(real("Out"))
    assert steps[4].expr == (W(13) * D(real("H4")) + W(14) * D(real("H5"))) * s
    # After H4 and H5: only H1's derivative is left, once per path, with W13*W7 and W14*W10.
    assert steps[6].expr == (W(14) * W(10) * D(real("H1")) + W(13) * W(7) * D(real("H1"))) * s
    assert not steps[6].expr.has(D(real("H2"))) and not steps[6].expr.has(D(real("H3")))
    assert "the terms with H2, H3 do not depend on W1" in steps[6].reason
    assert steps[-1].expr == real("X1") * (W(10) * W(14) + W(13) * W(7)) * s


NETWORKS = [
    dense(),
    dense("2,3,2,1", activation="sigmoid", bias=True, loss="half-squared"),
    dense("2,2,2", activation="tanh", output_activation="sigmoid", loss="cross-entropy"),
    dense("2,2,2,1", activation="relu", notation="layered", bias=True),
    load_network(EXAMPLES / "skip.toml"),
    load_network(EXAMPLES / "two_outputs.toml"),
]


@pytest.mark.parametrize("net", NETWORKS, ids=lambda n: n.summary()[:30])
def test_every_line_equals_the_next(net):
    for p in net.parameters:
        steps = derivation_steps(net, p)
        realized = [realize(net, s.expr) for s in steps[1:]]  # steps[0] is dLoss/dw itself
        for a, b in zip(realized, realized[1:]):
            assert verify({"line": a, "next": b}).equal, (p, a, b)
        assert verify({"last": realized[-1], "direct": derive(net, p).direct.value}).equal
        assert not steps[-1].expr.has(sp.Derivative)  # the chain ends with no derivative left


def test_a_tampered_step_is_caught():
    net = dense()
    steps = derivation_steps(net, "W1")
    wrong = realize(net, steps[-2].expr.xreplace({real("W10"): real("W11")}))
    assert not verify({"line": realize(net, steps[-3].expr), "next": wrong}).equal


def test_steps_cli():
    r = runner.invoke(app, ["steps", "W1"])
    assert r.exit_code == 0, r.output
    assert "dLoss/dW1, step by step:" in r.output and "= sign(Out - Y)*(dOut/dW1)" in r.output
    assert "[substitute the equations of H4, H5]" in r.output
    data = json.loads(runner.invoke(app, ["steps", "W7", "--format", "json"]).output)
    assert data["steps"][-1]["expr"] == "H1*W13*sign(Out - Y)"
    assert r"\frac{\partial}{\partial W_{1}}" in runner.invoke(app, ["steps", "W1", "--format", "latex"]).output


def test_an_expression_nodes_reason_says_what_is_true_of_each_name(tmp_path):
    # c = f*cp + i*g: cp multiplies f (a constant there), the term i*g drops; x multiplies Wf inside the sigmoid.
    path = tmp_path / "lstm.toml"
    path.write_text('inputs = ["x", "cp"]\nloss = "(c - y)**2/2"\ntargets = ["y"]\n'
                    '[[nodes]]\nname = "f"\nexpr = "sigmoid(Wf*x + bf)"\n[[nodes]]\nname = "c"\nexpr = "f*cp + i*g"\n')
    from derivchain.model.network_file import load_network

    reasons = [st.reason for st in derivation_steps(load_network(path), "Wf")]
    assert "the chain rule through the expression; cp does not depend on Wf; the terms with g, i do not depend on Wf: " \
           "their derivative is 0" in reasons
    assert "the chain rule through the expression; x does not depend on Wf; the terms with bf do not depend on Wf: " \
           "their derivative is 0" in reasons
    assert not any("the terms with" in r and ("cp" in r.split("the terms with")[1] or " x" in r.split("the terms with")[1])
                   for r in reasons)
