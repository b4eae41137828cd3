"""The function rules table: each entry's numbers, parity, derivative, parsing and LaTeX are right."""

from fractions import Fraction

import mpmath
import pytest
import sympy as sp

from derivchain.symbolic.walk import differentiate
from derivchain.symbolic.parse import FUNCTIONS, _RULES, parse_expression
from derivchain.errors import ExpressionError
from derivchain.renderers.latex import latex
from derivchain.symbolic.rules import DEFINED_FUNCTIONS, RULES, latex_call, rule_for
from derivchain.symbolic.evaluate import central_difference, evaluate
from derivchain.verification.compare import verify

x, y = sp.symbols("x y", real=True)
SYMBOLS = {"x": x, "y": y}
POINTS = [sp.Rational(-13, 10), sp.Rational(-2, 5), sp.Integer(0), sp.Rational(7, 10), sp.Rational(19, 10)]
SECOND = sp.Rational(3, 10)  # the second argument of two-argument functions (a slope, Max's other side)

rules = pytest.mark.parametrize("rule", list(RULES.values()), ids=list(RULES))


def domain(rule, u: sp.Rational) -> sp.Rational | None:
    """``u`` moved into the function's real domain, or None where there is none."""
    if rule.name == "log":
        return None if u == 0 else abs(u)
    if rule.name == "atanh":
        return u / 2
    return u


def arguments(rule, u):
    """The arguments a user writes: u, then the fixed second one."""
    return [u] + [SECOND] * (rule.arity - 1)


def mp(q) -> mpmath.mpf:
    return mpmath.mpf(int(q.p)) / int(q.q)


@rules
def test_numeric_agrees_with_sympy(rule):
    with mpmath.workdps(40):
        for u in POINTS:
            u = domain(rule, u)
            if u is None:
                continue
            args = arguments(rule, u)
            ours = rule.numeric(*(mp(a) for a in args))
            theirs = sp.N(rule.cls(*args), 40)
            if not theirs.is_Number:  # DiracDelta(0): SymPy gives no value, derivchain's convention does
                assert rule.name == "DiracDelta" and ours == 0
                continue
            theirs = mpmath.mpf(theirs)
            assert abs(ours - theirs) <= mpmath.mpf(10) ** -35 * max(1, abs(theirs)), (rule.name, u, ours, theirs)


@rules
def test_exact_agrees_with_numeric_on_rationals(rule):
    if rule.exact is None:
        pytest.skip("not rational in general")
    for u in POINTS:
        args = arguments(rule, u)
        exact = rule.exact(*(Fraction(int(a.p), int(a.q)) for a in args))
        assert isinstance(exact, Fraction), (rule.name, u, exact)
        with mpmath.workdps(40):
            assert mp(sp.Rational(exact)) == rule.numeric(*(mp(a) for a in args)), (rule.name, u)


@rules
def test_parity_holds(rule):
    if rule.parity is None:
        pytest.skip("no parity claimed")
    exp = RULES["exp"].numeric
    with mpmath.workdps(40):
        for u in POINTS:
            if u == 0:  # H(-u) = 1 - H(u) is claimed away from the kink only
                continue
            u = domain(rule, u)
            f = lambda v: rule.numeric(*(mp(a) for a in arguments(rule, v)))  # noqa: E731
            claim = {
                "odd": lambda: -f(u),
                "even": lambda: f(u),
                "heaviside": lambda: 1 - f(u),
                "exp": lambda: 1 / f(u),
            }
            if rule.parity == "sigmoid":  # sigma(u) = 1/(1 + exp(-u)), computed from exp's values
                assert abs(f(u) - 1 / (1 + exp(-mp(u)))) < mpmath.mpf(10) ** -35
            else:
                assert abs(f(-u) - claim[rule.parity]()) < mpmath.mpf(10) ** -35, (rule.name, u)
    # The modular verifier's degree bound has a denominator exactly where the parity divides.
    assert (rule.degree[1] > 0) == (rule.parity in ("exp", "sigmoid"))


@rules
def test_derivative_agrees_with_central_difference(rule):
    symbols = [x, y][: rule.arity]
    e = rule.cls(*symbols)
    for index, s in enumerate(symbols, start=1):
        # No derivative of its own: sympy.diff of the node (Max, Min), which the differentiator uses.
        derivative = rule.derivative(e, index) if rule.derivative else sp.diff(e, s)
        for u in POINTS:
            if u == 0:  # the kinks of |u|, sign, Heaviside, relu, ... are at 0
                continue
            u = domain(rule, u)
            point = {x: mp(u), y: mp(SECOND)}
            fd = central_difference(e, s, point)
            assert abs(evaluate(derivative, point) - fd) <= mpmath.mpf(10) ** -20 * max(1, abs(fd)), (rule.name, index, u)
            # The direct differentiator reads the same rule.
            assert abs(evaluate(differentiate(e, s), point) - fd) <= mpmath.mpf(10) ** -20 * max(1, abs(fd))


def calls(rule):
    """Calls a user may write for ``rule``, under its parser name and its printed name."""
    inner = ["x", "x*y - 1/3"] if rule.name != "log" else ["x", "x**2 + 1"]
    second = ", 3/10" if rule.arity == 2 else ""
    out = [f"{name}({a}{second})" for name in (rule.parser_name, rule.text) for a in inner]
    if rule.max_arity != rule.arity:  # Heaviside's value at 0; Max and Min of three
        out += [f"{name}(x, 0)" if rule.max_arity else f"{name}(x, y, 1)" for name in (rule.parser_name, rule.text)]
    return out


@pytest.mark.parametrize("rule", [r for r in RULES.values() if r.parser_name], ids=lambda r: r.name)
def test_every_parser_name_parses_and_prints_back(rule):
    for text in calls(rule):
        parsed = parse_expression(text, SYMBOLS, "test")
        assert rule_for(parsed) is rule or parsed.has(rule.cls), (text, parsed)
        assert parse_expression(str(parsed), SYMBOLS, "test") == parsed, (text, str(parsed))


def test_derivatives_print_as_text_that_parses_back():
    e = parse_expression("leaky_relu(x, 1/5)*abs(x - y) + relu(x*y) + elu(x) + sigmoid(x) + max(x, y)", SYMBOLS, "test")
    d = sp.diff(e, x)
    assert d.has(sp.Heaviside, sp.sign, sp.Max)
    assert parse_expression(str(d), SYMBOLS, "test") == d


@pytest.mark.parametrize(
    "text, fragment",
    [("max(x)", "max() takes 2 or more arguments"), ("heaviside(x, 0, 1)", "heaviside() takes 1 or 2 arguments"),
     ("leaky_relu(x)", "leaky_relu() takes 2 arguments"), ("Abs(x, y)", "Abs() takes 1 argument")],
)
def test_arity_errors(text, fragment):
    with pytest.raises(ExpressionError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        parse_expression(text, SYMBOLS, "test")


def test_compatibility_names_come_from_the_table():

    assert set(DEFINED_FUNCTIONS) == {"sigmoid", "relu", "leaky_relu", "elu"}
    assert FUNCTIONS["abs"] is FUNCTIONS["Abs"] is sp.Abs and FUNCTIONS["sqrt"] is sp.sqrt
    assert _RULES["max"].arity == _RULES["leaky_relu"].arity == 2 and _RULES["exp"].arity == 1


@pytest.mark.parametrize("rule", [r for r in RULES.values() if r.name != "DiracDelta"], ids=lambda r: r.name)
def test_latex_call_matches_the_printer(rule):
    z = sp.Symbol("z", real=True)
    calls = [rule.cls(*[x, y][: rule.arity])]
    if rule.max_arity != rule.arity:  # Heaviside's value at 0, Max and Min of three
        calls.append(rule.cls(x, 0) if rule.max_arity else rule.cls(x, y, z))
    for e in calls:
        printed = [latex(a) for a in e.args]
        assert latex_call(rule, printed) == latex(e), rule.name
        cube = e**3
        if cube.is_Pow and cube.base == e:  # sign(u)**3 is sign(u): nothing to print
            assert latex_call(rule, printed, "3") == latex(cube), rule.name


def test_dirac_delta_latex():
    # SymPy's own delta: only its first-order form is produced (by sp.diff of sign and Heaviside).
    assert latex_call(RULES["DiracDelta"], ["u"]) == latex(sp.DiracDelta(sp.Symbol("u"))) == r"\delta\left(u\right)"


def test_dirac_delta_from_a_custom_activation_evaluates():
    # sp.diff(heaviside(x)*x) = x*DiracDelta(x) + Heaviside(x); a dead neuron makes the argument 0.
    from derivchain.model.activations import custom_activation

    act = custom_activation("heaviside(x, 0)*x")
    d = act.derivative(x, None)
    assert d.has(sp.DiracDelta)
    assert evaluate(d, {x: 0}) == 0 and evaluate(d, {x: mpmath.mpf(2)}) == 1
    assert verify({"direct": differentiate(act.function(x), x), "rule": d}).equal


def test_latex_call_examples():
    assert latex_call(RULES["sigmoid"], ["z"]) == r"\sigma\left(z\right)"
    assert latex_call(RULES["leaky_relu"], ["z", "a"]) == r"\operatorname{LeakyReLU}_{a}\left(z\right)"
    assert latex_call(RULES["Abs"], ["u"]) == r"\left|{u}\right|"
    assert latex_call(RULES["Max"], ["a", "b"]) == r"\max\left(a, b\right)"
    assert latex_call(RULES["Heaviside"], ["u", "0"]) == r"\theta\left(u\right)"
    assert latex_call(RULES["exp"], ["u"], "2") == r"\left(e^{u}\right)^{2}"
