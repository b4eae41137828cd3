import sympy as sp

from derivchain.engines.backprop import backprop
from derivchain.model.network import dense, real


def test_w1_factored_like_the_worked_example(net):
    bp = backprop(net, real("W1"))
    W, s = lambda i: real(f"W{i}"), sp.sign(real("Out") - real("Y"))
    assert bp.source == real("X1") and bp.neuron == real("H1")
    assert bp.local == real("X1") * (W(13) * W(7) + W(14) * W(10)) * s
    assert [e.delta.name for e in bp.deltas] == ["delta_Out", "delta_H4", "delta_H5", "delta_H1"]
    h1 = bp.deltas[-1]
    assert h1.terms == ((W(7), real("delta_H4")), (W(10), real("delta_H5")))


def test_bias_gradient_is_delta():
    n = dense(bias=True, activation="sigmoid")
    bp = backprop(n, real("B4"))
    assert bp.source is None and bp.neuron == real("H4")
    H4 = real("H4")
    assert sp.simplify(bp.local - H4 * (1 - H4) * real("W13") * sp.sign(real("Out") - real("Y"))) == 0


def test_output_delta_sums_loss_and_later_terms():
    n = dense("2,2", loss="half-squared")
    bp = backprop(n, real("W1"))
    assert bp.deltas[0].loss_derivative == real("Out1") - real("Y1")
    assert bp.local == real("X1") * (real("Out1") - real("Y1"))


def test_factor_common_pulls_out_shared_factors_one_level():
    from derivchain.engines.backprop import factor_common

    a, b, c, d, s = sp.symbols("a b c d s", real=True)
    assert factor_common([a * b * s, c * d * s]) == s * (a * b + c * d)
    assert factor_common([a * s, a * s * b]) == a * s * (1 + b)
    assert factor_common([a, b]) == a + b
    assert factor_common([a * b]) == a * b
    # One level only: a common factor inside a sum is left alone.
    assert factor_common([a * (b * s + c * s), d]) == a * (b * s + c * s) + d
