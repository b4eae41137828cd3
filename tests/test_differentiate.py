"""The memoized differentiator agrees with sympy.diff."""

import pytest
import sympy as sp

from derivchain.symbolic.walk import differentiate, with_conventions
from derivchain.symbolic.functions import elu, leaky_relu, relu, sigmoid
from derivchain.model.network import dense
from derivchain.verification.compare import verify

x, y, z = sp.symbols("x y z", real=True)


@pytest.mark.parametrize(
    "expr",
    [
        x**3 * y + sp.exp(x * y) - sp.log(1 + x**2),
        sp.Abs(x - y) * sp.tanh(x),
        sigmoid(x * y) ** 2 + relu(x - z) + leaky_relu(x, sp.Rational(1, 5)) + elu(2 * x),
        x**y + sp.sqrt(1 + x**2) + 1 / (x + z),
        sp.Max(x, y) + sp.sign(x) * x,
    ],
)
def test_matches_sympy_diff(expr):
    assert verify({"sympy": sp.diff(expr, x), "derivchain": differentiate(expr, x)}).equal


@pytest.mark.parametrize("act, loss", [("identity", "abs"), ("sigmoid", "half-squared"), ("tanh", "cross-entropy")])
def test_whole_networks_match_sympy_diff(act, loss):
    n = dense("2,3,2,1", activation=act, output_activation="sigmoid" if loss == "cross-entropy" else "identity", loss=loss, bias=True)
    for p in n.parameters:
        v = verify({"sympy": sp.diff(n.loss_full, p), "derivchain": differentiate(n.loss_full, p)})
        assert v.equal, (p, v)


def test_constant_and_independent():
    assert differentiate(y * z, x) == 0
    assert differentiate(x, x) == 1


def test_dependency_masks_and_masked_derivative_agree_with_plain():
    from derivchain.symbolic.walk import dependency_masks

    n = dense("2,3,2,1", activation="tanh", bias=True, loss="half-squared")
    masks = dependency_masks(n.loss_full, n.parameters)
    for i, p in enumerate(n.parameters):
        masked = differentiate(n.loss_full, p, masks, 1 << i)
        assert verify({"plain": differentiate(n.loss_full, p), "masked": masked}).equal
    w13 = n.parameters.index(sp.Symbol("W13", real=True))
    h1 = n.substitution[sp.Symbol("H1", real=True)]
    assert not masks[h1] & (1 << w13)  # H1 does not depend on W13


def test_replace_shared_equals_xreplace():
    from derivchain.symbolic.walk import replace_shared

    n = dense("2,3,2,1", activation="sigmoid")
    expr = sp.Symbol("Out", real=True) * sp.Symbol("H1", real=True) + sp.sign(sp.Symbol("Out", real=True) - 1)
    memo = {}
    for _ in range(2):  # a kept memo gives the same answer
        assert replace_shared(expr, n.substitution, memo) == expr.xreplace(n.substitution)
    unevaluated = replace_shared(expr, n.substitution, {}, evaluate=False)
    assert verify({"a": unevaluated, "b": expr.xreplace(n.substitution)}).equal


def test_differentiating_with_respect_to_a_node_is_the_chain_rule_at_that_node():
    # d expr/d z for a subexpression z, with and without dependency masks: the same as replacing z
    # by a fresh symbol, differentiating, and putting z back.
    import sympy as sp

    from derivchain.symbolic.walk import dependency_masks, differentiate

    x, y, t = sp.symbols("x y t", real=True)
    z = x * y + 1
    expr = sp.tanh(z) * z + sp.exp(2 * z) + y
    want = sp.diff(expr.xreplace({z: t}), t).xreplace({t: z})
    masks = dependency_masks(expr, (x, y, z))
    for got in (differentiate(expr, z), differentiate(expr, z, masks, 1 << 2)):
        assert sp.simplify(got - want) == 0


def test_conventions_replace_what_only_sympy_writes():
    # DiracDelta (SymPy's derivative of a jump) is its rule's convention, 0; a pending Derivative (SymPy cannot
    # differentiate Heaviside in its value at 0) is taken by the rule table: 1 - sign(x)**2, 1 only at x = 0.
    p, q = sp.symbols("p q", real=True)
    assert with_conventions(sp.diff(sp.sign(x) * y, x)) == 0
    assert with_conventions(sp.diff(sp.Heaviside(x, p), p)) == 1 - sp.sign(x) ** 2
    for e in (sp.Max(sp.Heaviside(x, p), q), sp.Max(sp.Heaviside(x, p) * x, q), sp.Min(sp.Heaviside(x) + p, q)):
        for s in (p, x, q):
            d = differentiate(e, s)
            assert not d.has(sp.Derivative, sp.DiracDelta), (e, s, d)
    assert differentiate(sp.Max(sp.Heaviside(x, p), q), p) == (1 - sp.sign(x) ** 2) * sp.Heaviside(sp.Heaviside(x, p) - q)


@pytest.mark.parametrize("which", [0, 5, 198, 199])
def test_masks_with_the_variables_bit_low_or_high(which):
    # With dependency masks, whether a node holds x is read from x's bit: by a shift where the bit is high
    # (a neuron's z after thousands of leaves), by a mask where it is low; the derivative is SymPy's either way.
    from derivchain.symbolic.walk import dependency_masks, differentiate

    xs = sp.symbols("v0:200", real=True)
    expr = sp.Add(*(sp.sin(xs[i] * xs[(i + 1) % 200]) for i in range(200))) ** 2 + xs[which] * xs[0]
    masks = dependency_masks(expr, xs)
    got = differentiate(expr, xs[which], masks, 1 << which)
    assert sp.expand(got - sp.diff(expr, xs[which])) == 0 and got != 0
