"""The registry's textbook derivative rules agree with SymPy's derivative of each function."""

import pytest
import sympy as sp

from derivchain.model.activations import ACTIVATIONS
from derivchain.model.losses import LOSSES
from derivchain.symbolic.evaluate import evaluate


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_derivative_rule_matches_diff(name):
    act = ACTIVATIONS[name]
    z = sp.Symbol("z", real=True)
    o = act.function(z)
    rule = act.derivative(z, o)
    for value in ("-1.3", "-0.2", "0.7", "2.1"):
        point = {z: value}
        assert abs(evaluate(sp.diff(o, z), point) - evaluate(rule, point)) < 1e-40


def test_relu_derivative_at_zero_is_zero():
    z = sp.Symbol("z", real=True)
    act = ACTIVATIONS["relu"]
    assert act.derivative(z, act.function(z)).subs(z, 0) == 0
    assert "ReLU'(0) = 0" in act.note


def test_abs_loss_uses_sign():
    out, y = sp.symbols("Out Y", real=True)
    assert sp.diff(LOSSES["abs"].formula([out], [y]), out) == sp.sign(out - y)
    assert sp.sign(sp.Integer(0)) == 0


def test_exp_of_builds_what_exps_own_evaluation_builds():
    # exp_of skips exp's evaluation only where that evaluation leaves exp(u) as it is (a wide
    # neuron's z): the same expression either way, so what is printed and compared does not change.
    import sympy as sp

    from derivchain.symbolic.functions import exp_of
    from derivchain.model.network import dense, real

    W, X, B, P = real("W"), real("X"), real("B"), sp.Symbol("P", positive=True)
    cases = [W, -W, W * X + B, -(W * X + B), 1 + W, 2 - W * X, sp.Rational(1, 2) * W - 3, W * X * B - 1,
             sp.log(W), W + sp.log(X), P + W, sp.I * sp.pi * W, W**2 + X, sp.Integer(0), sp.Integer(2)]
    net = dense("128,4,1", activation="sigmoid", loss="half-squared")
    cases += [-net.substitute(n.preactivation) for n in net.hidden]
    for u in cases:
        assert exp_of(u) == sp.exp(u) and sp.srepr(exp_of(u)) == sp.srepr(sp.exp(u)), u
