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


# Issue 21: the pieces that keep the verifier from being led into "equal".
ZERO = (x + 1) ** 2 - x**2 - 2 * x - 1  # 0, not written as 0 (SymPy keeps it unevaluated)


def test_the_modular_test_takes_a_function_at_a_zero_argument_at_its_value_there():
    # Heaviside's second argument is its value at 0: with an argument that is 0 everywhere, it is the
    # function's value everywhere. The modular test used to ignore it ("equal", chance below 1e-74).
    from derivchain.verification.modular import ModularEvaluator, seed_of

    h0, h1 = sp.Heaviside(ZERO, 0), sp.Heaviside(ZERO, 1)
    evaluator = ModularEvaluator(seed_of(h0, h1))
    assert evaluator(h0)[0] != evaluator(h1)[0]
    assert evaluator(h0)[0] == evaluator(sp.Integer(0))[0] and evaluator(h1)[0] == evaluator(sp.Integer(1))[0]
    assert evaluator(sp.Heaviside(ZERO, y))[0] == evaluator(y)[0]
    # Odd functions are 0 there, exp 1, sigmoid 1/2: forms that hold identically stay provable.
    from derivchain.symbolic.functions import sigmoid

    assert evaluator(sp.tanh(ZERO))[0] == evaluator(sp.Integer(0))[0]
    assert evaluator(sp.exp(ZERO))[0] == evaluator(sp.Integer(1))[0]
    assert evaluator(sigmoid(ZERO))[0] == evaluator(sp.Rational(1, 2))[0]
    # Where the argument is not 0 the second argument still does not matter (a set of measure 0).
    assert evaluator(sp.Heaviside(x, 0))[0] == evaluator(sp.Heaviside(x, 1))[0]
    v = verify({"a": h0, "b": h1})
    assert v.word == "NOT equal", v
    assert verify({"a": sp.Heaviside(ZERO, sp.Rational(1, 3)), "b": sp.Rational(1, 3)}).equal


def test_evaluate_reports_the_digits_a_value_hides():
    import mpmath

    from derivchain.symbolic.functions import sigmoid

    point = {x: mpmath.mpf("1.5"), y: mpmath.mpf("0.25")}

    def hidden(e):
        out: list = []
        evaluate(e, point, 60, error=[], hidden=out)
        return out[0]

    assert hidden(x * y + x) < 2  # terms of like size hide nothing
    assert 43 <= hidden(x + sp.exp(-100)) <= 46  # exp(-100) = 3.7e-44 next to 1.5
    assert 86 <= hidden(x * sp.tanh(100 + y**2)) <= 92  # 1 - tanh(100) = 2.8e-87, and y**2 3 digits below 100
    assert 173 <= hidden(x + 1 - sp.erf(20)) <= 180  # 1 - erf(20) = 5.4e-176
    assert 43 <= hidden(x * sigmoid(-100)) <= 46
    assert 85 <= hidden(x * sp.sin(sp.exp(-100))) <= 92  # sin(t) = t*(1 - t**2/6)
    assert hidden(sp.sign(x + sp.exp(-100))) == 0  # a jump's value does not carry its argument's detail


def test_a_jump_at_an_argument_that_is_zero_is_settled_exactly():
    import mpmath

    # Rounding leaves the sign of ZERO open at any precision; exact arithmetic at the (binary) point does not.
    bound: list = []
    value = evaluate(sp.Heaviside(ZERO, 0) + sp.sign(ZERO) + sp.Heaviside(ZERO, y), {x: mpmath.mpf("0.3"), y: mpmath.mpf(5)},
                     error=bound)
    assert value == 5 and bound[0] < -150  # was: an error bound past the value (so no verdict), at any precision


def test_breakpoints_are_located_whatever_their_argument():
    import mpmath

    from derivchain.verification.numeric import _Plan

    def near(kink_form, root):
        plan = _Plan(kink_form, x, "seed")
        assert not plan.unlocated
        with mpmath.workdps(80):
            return min(abs(p[x] - root) for p in plan.beside) / (1 + abs(root))

    with mpmath.workdps(80):
        root = mpmath.sqrt(10**13)
    assert near(relu_of(x**2 - 10**13), root) < 1e-20  # polynomial: solved
    assert near(relu_of(1 / x - 10**7), mpmath.mpf("1e-7")) < 1e-20  # rational: its numerator
    with mpmath.workdps(80):
        root = 1000 * mpmath.log(2 * 10**6)
    assert near(relu_of(sp.exp(x / 1000) - 2 * 10**6), root) < 1e-20  # bracketed
    # A bump 1e-20 wide around 1/3: its edges are bracketed from the inner breakpoint outwards, and a
    # point between them (inside the bump) is tried.
    bump = relu_of(1 - 10**20 * sp.Abs(x - sp.Rational(1, 3)))
    plan = _Plan(bump, x, "seed")
    assert any(evaluate(bump, p) > sp.Rational(1, 2) for p in plan.beside)
    # A coefficient of 10**20 takes the points beside a breakpoint closer than 1e-20.
    assert plan.offset >= 40


def relu_of(u):
    from derivchain.symbolic.functions import relu

    return relu(u)


def test_undecided_where_a_breakpoint_cannot_be_located():
    # The sign of sin(x)**2 + cos(x)**2 - 1 is rounding noise everywhere: no breakpoint can be found.
    kink = sp.sin(x) ** 2 + sp.cos(x) ** 2 - 1
    v = verify({"a": x + sp.Heaviside(kink, 0) * sp.sqrt(x**2), "b": x})
    assert v.word == "undecided" and "could be located" in v.detail, v


def test_the_modular_test_does_not_take_heaviside_values_at_zero_on_the_unknowns_word():
    # tanh(x)*cosh(x) - sinh(x) is 0 everywhere, but as a polynomial in the unknowns tanh(x), cosh(x),
    # sinh(x) it is not: the modular test cannot see it is 0, so Heaviside's value at 0 names its unknown
    # (it was "equal (random points mod p)" for Heaviside(u, 0) against Heaviside(u, 1)).
    from derivchain.verification.modular import ModularEvaluator, seed_of

    u = sp.tanh(x) * sp.cosh(x) - sp.sinh(x)
    h0, h1 = sp.Heaviside(u, 0), sp.Heaviside(u, 1)
    evaluator = ModularEvaluator(seed_of(h0, h1))
    assert evaluator(h0)[0] != evaluator(h1)[0]
    # The identity H(-u, v) = 1 - H(u, 1 - v) still holds, and Heaviside(u) is Heaviside(u, 1/2).
    assert evaluator(sp.Heaviside(-u, 0))[0] == evaluator(1 - sp.Heaviside(u, 1))[0]
    assert evaluator(sp.Heaviside(u))[0] == evaluator(sp.Heaviside(u, sp.Rational(1, 2)))[0]
    # An argument without function values is still decided by its values: x is not 0, so its value at 0
    # does not matter.
    assert evaluator(sp.Heaviside(x, 0))[0] == evaluator(sp.Heaviside(x, 1))[0]
    v = verify({"a": h0, "b": h1})
    assert not v.equal and v.word == "undecided", v
    # Where the breakpoint can be located, forms that differ only at it stay equal (numerically).
    w = sp.Heaviside(x * sp.tanh(y), 0)
    assert verify({"a": w, "b": sp.Heaviside(x * sp.tanh(y), 1)}).equal


def test_no_equal_when_one_side_of_a_breakpoint_could_not_be_worked_with():
    # At x = 5.8e328, just past the breakpoint, relu(...) is 370 digits below x and x**2 + 1 holds its 1
    # 657 digits down: more than 2000 digits to compare, so that side proves nothing; agreement on the
    # other side and at the scattered points is not "both sides of every breakpoint" (it was "equal").
    from derivchain.symbolic.functions import relu

    v = verify({"a": x + relu(sp.log(x**2 + 1) - 1514), "b": x})
    assert v.word == "undecided" and "on one side, could be worked with" in v.detail, v
    # A side where the forms have no real value is not held against them.
    v = verify({"a": sp.sqrt(x) * relu(x) + x, "b": sp.sqrt(x) * sp.Max(x, 0) + x})
    assert v.equal and v.method == "numeric", v


def test_a_value_hiding_endless_digits_is_unworkable_not_an_error():
    # tanh at 1e200 hides infinitely many digits as far as its rule says (past 2**500: more than any
    # precision); the comparison was an OverflowError (math.ceil of inf) in a random network's check.
    import mpmath

    from derivchain.verification.numeric import Unworkable, compare_at

    point = {x: mpmath.mpf("1.5"), y: mpmath.mpf("0.25")}
    with pytest.raises(Unworkable):
        compare_at(x * sp.tanh(10**200 + y), x, point)


def test_a_jump_is_settled_with_the_signs_of_the_point():
    # The exact sign read a point's binary digits without their sign (mpmath's man_exp is unsigned), so
    # at W1 > 0, W2 < 0 with W1*X1 + W2*X2 just below 0 it found relu(W1*X1 + W2*X2) > 0: Heaviside of it
    # was 1 where Heaviside(W1*X1 + W2*X2, 0) is 0, a false "NOT equal" for equal forms.
    import mpmath

    from derivchain.symbolic.evaluate import _exact_sign
    from derivchain.symbolic.functions import relu

    assert _exact_sign(x + y, {x: mpmath.mpf("-0.75"), y: mpmath.mpf("0.5")}) == -1
    assert _exact_sign(x * y, {x: mpmath.mpf("-0.75"), y: mpmath.mpf("-0.5")}) == 1
    w1, w2, x1, x2 = sp.symbols("W1 W2 X1 X2", real=True)
    z = w1 * x1 + w2 * x2
    with mpmath.workdps(60):
        point = {w1: mpmath.mpf("0.0000823"), w2: mpmath.mpf("-0.00069975"), x1: mpmath.mpf("0.00085")}
        point[x2] = -point[w1] * point[x1] / point[w2] * (1 + mpmath.mpf(10) ** -30)  # z just below 0
    assert evaluate(sp.Heaviside(relu(z), 0), point, error=[]) == evaluate(sp.Heaviside(z, 0), point, error=[]) == 0
    a = x1 * (w1 - w2) * sp.Heaviside(z, 0)
    assert verify({"a": a, "b": x1 * (w1 - w2) * sp.Heaviside(relu(z), 0)}).equal


def test_a_python_number_is_a_form_and_text_is_refused():
    # dc.verify({"a": sign(x**3 - 10**13), "b": -1}) raised AttributeError ('int' has no is_Symbol)
    x = real("x")
    v = verify({"a": sp.sign(x**3 - 10**13), "b": -1})
    assert v.decided and not v.equal
    assert verify({"a": sp.Rational(1, 2) * x, "b": 0.5 * x}).equal
    with pytest.raises(TypeError, match="whitelist parser"):
        verify({"a": x, "b": "x"})  # text is never evaluated here


def test_a_huge_variable_exponent_is_evaluated_through_exp_and_log(monkeypatch):
    # x**x as an output activation hung past 100 s: the verifier's scan reached x = 1.55e4096, and mpmath
    # raised that to itself as a whole-number power, squaring by squaring (2 s at 1e2048, minutes past it)
    import mpmath

    from derivchain.symbolic import evaluate as evaluate_module
    from derivchain.symbolic.evaluate import Undefined

    power = mpmath.power

    def small_powers_only(base, exponent):
        assert abs(exponent) <= 1024, f"mpmath asked for a power of {mpmath.nstr(exponent, 5)}"
        return power(base, exponent)

    monkeypatch.setattr(evaluate_module.mpmath, "power", small_powers_only)
    x, y = real("x"), real("y")
    huge = mpmath.mpf("1.5547691817114848156e4096")
    with pytest.raises(Undefined, match="too large"):  # at once, not after minutes
        evaluate(x**y, {x: huge, y: huge}, 50)
    with mpmath.workdps(60):
        big = evaluate(x**y, {x: 3, y: 10**5}, 50)
        assert abs(big / power(3, 10**5) - 1) < mpmath.mpf(10) ** -40
        assert evaluate(x**y, {x: -3, y: 10**5 + 1}, 50) < 0  # a negative base to an odd power keeps its sign
        assert evaluate(x**y, {x: -3, y: 10**5}, 50) > 0
    with pytest.raises(Undefined, match="non-integer power"):
        evaluate(x**y, {x: -3, y: mpmath.mpf(10**5) + mpmath.mpf("0.5")}, 50)
    assert evaluate(x**y, {x: 2, y: 10}, 50) == 1024  # small powers as before


def test_the_numbers_of_a_form_shared_or_deep():
    # The seed's constants: every number of the form once, walked recursively, and without recursion where the
    # tree is deeper than the interpreter's limit (the same answer).
    import sys

    from derivchain import memo
    from derivchain.verification.modular import constants

    x, y = sp.symbols("x y", real=True)
    shared = sp.Rational(3, 7) * x + sp.Float(0.5) * y
    expr = shared * sp.sin(shared) + 2 * x**-3
    with memo.owner(memo.Memos()):
        assert constants(expr) == {"3/7", "1/2", "2", "-3"}
    deep = x
    for i in range(3 * sys.getrecursionlimit()):
        deep = sp.Mul(sp.Add(deep, sp.Integer(i % 5 + 2), evaluate=False), y, evaluate=False)
    with memo.owner(memo.Memos()):
        assert constants(deep) == {"2", "3", "4", "5", "6"}
