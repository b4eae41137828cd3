import sympy as sp
import pytest

from derivchain.verification.derivation import derive
from derivchain.model.network import dense, real
from derivchain.engines.paths import sum_over_paths
from derivchain.symbolic.evaluate import central_difference, evaluate
from derivchain.verification.compare import verify

x, y, u = (sp.Symbol(n, real=True) for n in "xyu")


def test_identical_is_a_proof():
    v = verify({"a": x * y, "b": x * y})
    assert v.equal and v.proof and v.method == "identical"


def test_expansion_proof():
    v = verify({"a": (x + y) ** 2, "b": x**2 + 2 * x * y + y**2})
    assert v.equal and v.proof and v.method == "expansion"


def test_a_factored_rewrite_is_proved_by_multiplying_out_one_level():
    # backprop's factoring: the common factor u*(x - y) pulled out of a sum (a delta equation's value).
    s = x - y
    v = verify({"rhs": u * (2 * x * s + 3 * y * s), "value": u * s * (2 * x + 3 * y)}, rewrites=True)
    assert v.equal and v.proof and v.method == "expansion" and "multiply out to the same terms" in v.detail


def test_a_wrong_factored_rewrite_is_not_taken_for_equal():
    s = x - y
    v = verify({"rhs": u * (2 * x * s + 3 * y * s), "value": u * s * (2 * x + 4 * y)}, rewrites=True)
    assert not v.equal and v.decided


def test_random_points_for_rational_identity():
    # sigma'(u) written two ways: exp(-u)/(1+exp(-u))^2 and sigma*(1 - sigma); not polynomial.
    s = 1 / (1 + sp.exp(-u))
    v = verify({"direct": sp.exp(-u) / (1 + sp.exp(-u)) ** 2, "rule": s * (1 - s)})
    assert v.equal and not v.proof and v.method == "random points mod p"
    assert "false-agreement chance below 1e-" in v.detail


def test_parity_identities_are_used():
    v = verify({"a": sp.sign(x - y) * x, "b": -sp.sign(y - x) * x})
    assert v.equal and v.method in ("expansion", "random points mod p")
    v = verify({"a": sp.exp(x) / (sp.exp(x) + 1), "b": 1 / (1 + sp.exp(-x))})
    assert v.equal and v.method == "random points mod p"


def test_numeric_fallback_is_labelled_evidence():
    v = verify({"a": sp.sqrt(x**2 + 1) * 2, "b": 2 * sp.sqrt(1 + x**2)})
    assert v.equal
    # sin^2 + cos^2 = 1 needs more than parity: the exact test cannot see it, the numeric one can.
    v = verify({"a": sp.sin(x) ** 2 + sp.cos(x) ** 2, "b": sp.Integer(1)})
    assert v.equal and v.method == "numeric" and not v.proof and "not a proof" in v.detail


def test_undecided_when_every_point_is_uninformative():
    # Equal where it matters, but zero at every sample point and beyond the exact test: no verdict.
    dead = sp.Heaviside(sp.sin(x) ** 2 - 2, 0)  # always 0, which SymPy does not see
    v = verify({"a": dead * sp.cos(x) ** 2, "b": dead * (1 - sp.sin(x) ** 2)})
    assert not v.equal and not v.decided and v.method == "undecided" and v.word == "undecided"


def test_not_equal_shows_both_sides():
    v = verify({"direct": x * y, "path sum": x * y + 1e-30 * x})
    assert not v.equal and not v.proof
    assert "path sum != direct" in v.detail and "direct = " in v.detail and "path sum = " in v.detail
    assert set(v.counterexample["point"]) == {"x", "y"}


def test_tampered_derivation_is_caught(net):
    d = derive(net, "W1")
    assert d.verdict.equal
    one_path_only = net.substitute(d.paths[0].term)  # drop the second path
    wrong_sign = -d.path_sum.substituted
    swapped = d.path_sum.substituted.xreplace({real("W7"): real("W8")})
    for tampered in (one_path_only, wrong_sign, swapped):
        v = verify({"direct": d.direct.value, "path sum": tampered})
        assert not v.equal, tampered


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_tampered_derivative_rule_is_caught(activation):
    # A wrong activation rule must not verify, even where ReLU zeroes the gradient at many points.
    n = dense("2,2,1", activation=activation, loss="half-squared")
    ps = sum_over_paths(n, real("W1"))
    good = ps.substituted
    h1 = real("H1")
    bad_local = ps.local.xreplace({1 - h1: 1}) if activation == "sigmoid" else ps.local * 2
    assert bad_local != ps.local
    v_good = verify({"direct": derive(n, "W1").direct.value, "paths": good})
    v_bad = verify({"direct": derive(n, "W1").direct.value, "paths": n.substitute(bad_local)})
    assert v_good.equal and not v_bad.equal


def test_evaluate_matches_sympy():
    e = sp.tanh(x) * sp.exp(y) + sp.Abs(x - y) + sp.sign(y)
    point = {x: "0.3", y: "-1.2"}
    assert abs(evaluate(e, point) - sp.N(e.subs({x: sp.Rational(3, 10), y: sp.Rational(-6, 5)}), 50)) < 1e-40


def test_central_difference_matches_known_derivative():
    import mpmath

    e = sp.tanh(x) * y**3
    got = central_difference(e, x, {x: "0.4", y: "1.1"})
    with mpmath.workdps(60):
        exact = (1 - mpmath.tanh(mpmath.mpf("0.4")) ** 2) * mpmath.mpf("1.1") ** 3
        assert abs(got - exact) < mpmath.mpf("1e-25")


def test_tampering_is_caught_on_a_larger_network(monkeypatch):
    # Paths past the display cap are summed by suffix; a tampered sum must still be caught.
    from derivchain.model.network import dense

    import derivchain.engines.paths as paths_module

    monkeypatch.setattr(paths_module, "ENUMERATE_LIMIT", 4)
    n = dense("4,8,8,1", activation="sigmoid", loss="half-squared")
    d = derive(n, "W1", max_paths=0)
    assert d.verdict.equal and not d.path_sum.enumerated
    w = {k: real(f"W{k}") for k in (33, 34)}
    for tampered in (
        d.path_sum.substituted.xreplace({w[33]: w[34]}),  # one edge's weight swapped
        d.path_sum.substituted + sp.Rational(1, 10**30) * real("X1"),  # off by 1e-30
    ):
        v = verify({"direct": d.direct.value, "path sum": tampered})
        assert not v.equal and v.decided, v


# A network whose W1 gradient is ~1e123 at the point below, where the path-sum form reaches it
# through elu(u) + 1 = exp(u) at u = W1*X1 = -192: at 60 digits that sum cancels to 0 (exp(-192)
# is 1e-84), and the error only shows once it is multiplied by the huge exp output. The verifier
# used to measure cancellation against the largest intermediate value only, trusted all 60 digits,
# and reported "NOT equal" with two values printed identically.
HUGE_GRADIENT = {
    "inputs": ["X1", "X2"],
    "neurons": [
        {"name": "H", "inputs": {"X1": "W1"}, "activation": "elu"},
        {"name": "N2", "inputs": {"H": "W2", "X2": "W3"}, "activation": "exp", "output": True},
    ],
    "loss": "(Out-Y)**4/4",
}
HUGE_POINT = {"W1": "-12", "X1": "16", "W2": "2", "W3": "10", "X2": "12", "Y": "1"}


def test_cancellation_inside_a_huge_product_is_no_counterexample():
    import mpmath

    from derivchain.model.network_file import build_network

    net = build_network(HUGE_GRADIENT, "huge")
    d = derive(net, "W1")
    assert d.verdict.equal, d.verdict  # was: NOT equal, at two values printed the same

    from derivchain.verification.numeric import compare_at

    # At a fixed point: the forms agree, and the error bound covers what 60 digits really lose.
    point = {real(name): mpmath.mpf(value) for name, value in HUGE_POINT.items()}
    direct, path_sum = d.direct.value, d.path_sum.substituted
    agree, a, b, digits = compare_at(direct, path_sum, point)
    assert agree and digits >= 50 and a > mpmath.mpf("1e120"), (a, b, digits)
    exact = evaluate(path_sum, point, 400)
    bound: list = []
    rough = evaluate(path_sum, point, 50, error=bound)
    assert abs(rough - exact) <= mpmath.mpf(2) ** bound[0]
    assert bound[0] > mpmath.mag(exact) - 10  # the 60-digit value is known to be almost worthless


def test_not_equal_shows_values_that_visibly_differ():
    # They differ in the 31st digit: the verdict must print enough digits to show it.
    v = verify({"direct": x * y, "path sum": x * y * (1 + sp.Rational(1, 10**30))})
    assert not v.equal and v.decided
    shown = v.counterexample["values"]
    assert shown[0] != shown[1], shown
    assert f"direct = {shown[0]}" in v.detail and f"path sum = {shown[1]}" in v.detail
