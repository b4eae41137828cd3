"""The registry's textbook derivative rules agree with SymPy's derivative of each function."""

import pytest
import sympy as sp

from derivchain.activations import ACTIVATIONS
from derivchain.losses import LOSSES
from derivchain.verification import evaluate


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
