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


def test_dirac_delta_from_a_custom_activation_is_its_convention():
    # sp.diff(heaviside(x)*x) = x*DiracDelta(x) + Heaviside(x); the rule's convention (0) is applied before
    # anything prints it, so the derivative is Heaviside(x, 0); a dead neuron makes the argument 0.
    from derivchain.model.activations import custom_activation

    act = custom_activation("heaviside(x, 0)*x")
    d = act.derivative(x, None)
    assert not d.has(sp.DiracDelta) and d == sp.Heaviside(x, 0)
    assert evaluate(d, {x: 0}) == 0 and evaluate(d, {x: mpmath.mpf(2)}) == 1
    assert verify({"direct": differentiate(act.function(x), x), "rule": d}).equal
    # DiracDelta itself still evaluates (to 0) and parses back, should a form hold it.
    assert evaluate(sp.DiracDelta(x), {x: 0}) == 0
    assert parse_expression("DiracDelta(x)", {"x": x}, "printed") == sp.DiracDelta(x)


def test_latex_call_examples():
    assert latex_call(RULES["sigmoid"], ["z"]) == r"\sigma\left(z\right)"
    assert latex_call(RULES["leaky_relu"], ["z", "a"]) == r"\operatorname{LeakyReLU}_{a}\left(z\right)"
    assert latex_call(RULES["Abs"], ["u"]) == r"\left|{u}\right|"
    assert latex_call(RULES["Max"], ["a", "b"]) == r"\max\left(a, b\right)"
    assert latex_call(RULES["Heaviside"], ["u", "0"]) == r"\theta\left(u\right)"
    assert latex_call(RULES["exp"], ["u"], "2") == r"\left(e^{u}\right)^{2}"


# A primitive added at run time through what functions.py and rules.py offer: its SymPy class and
# its rule, registered and removed again. Nothing else is touched; the parser, activations by
# expression, graph nodes, the differentiator, the verifier, the evaluators and every printer read it.
class hardtanh(sp.Function):
    """clip(u, -1, 1): u between -1 and 1, else the nearer bound; derivative 1 inside, 0 outside and at the kinks."""

    @staticmethod
    def definition(u):
        """The closed form."""
        return sp.Max(-1, sp.Min(u, 1))

    @staticmethod
    def numeric(u):
        """The value at an mpmath number or a Fraction, in the argument's own kind of number."""
        one = type(u)(1)
        return -one if u < -1 else one if u > 1 else u

    @classmethod
    def eval(cls, u):
        if u.is_Number:
            return cls.definition(u)
        return None

    def fdiff(self, argindex=1):
        u = self.args[0]
        return sp.Heaviside(u + 1, 0) * sp.Heaviside(1 - u, 0)

    def _eval_is_extended_real(self):
        return self.args[0].is_extended_real


def hardtanh_rule(**changes):
    from derivchain.symbolic.rules import FunctionRule

    fields = dict(
        parity="odd", definition=hardtanh.definition, slope=lambda u, out: 0,
        kinks=lambda args: (args[0] + 1, args[0] - 1),
        kink="hardtanh(u) is not differentiable at u = -1 and u = 1; derivchain uses the slope 0 there.",
    )
    fields.update(changes)
    return FunctionRule("hardtanh", hardtanh, "hardtanh", 1, lambda e, index: e.fdiff(index), hardtanh.numeric,
                        hardtanh.numeric, r"\operatorname{hardtanh}", "call", **fields)


@pytest.fixture
def registered():
    from derivchain.symbolic.rules import register, unregister

    rule = register(hardtanh_rule())
    try:
        yield rule
    finally:
        unregister("hardtanh")
    assert "hardtanh" not in RULES and "hardtanh" not in FUNCTIONS


def test_a_registered_primitive_parses_evaluates_and_finds_its_kinks(registered):
    from derivchain.verification.numeric import _kinks

    e = parse_expression("hardtanh(2*x - y)", SYMBOLS, "test")
    assert rule_for(e) is registered and parse_expression(str(e), SYMBOLS, "test") == e
    assert _kinks(e) == [2 * x - y + 1, 2 * x - y - 1]
    assert [evaluate(e, {x: mp(v), y: 0}) for v in (sp.Rational(-3, 2), sp.Rational(1, 4), sp.Integer(2))] == [-1, mpmath.mpf(1) / 2, 1]
    # The value of its derivative at a kink is the convention its fdiff states: 0.
    assert evaluate(differentiate(e, x), {x: mpmath.mpf(1) / 2, y: 0}) == 0
    assert evaluate(differentiate(e, x), {x: mpmath.mpf(1) / 4, y: 0}) == 2
    with pytest.raises(ExpressionError, match=r"hardtanh\(\) takes 1 argument"):
        parse_expression("hardtanh(x, y)", SYMBOLS, "test")
    # Equal to its closed form (breakpoints of both tried), and an error bound from the rule's slope.
    assert verify({"rule": e, "closed": hardtanh.definition(2 * x - y)}).equal
    bound: list = []
    evaluate(hardtanh(x / 3), {x: mpmath.mpf(1)}, error=bound)
    assert -300 < bound[0] < -150


def test_the_verifier_tries_both_sides_of_a_registered_kink(registered):
    # hardtanh(K*x) and tanh(K*x) agree to every digit wherever |x| is past 1/K: random points (scales
    # 1e-3 to 1e6) all land there. They differ only across the kinks at K*x = +-1, which the rule names.
    K = 10**10
    verdict = verify({"hardtanh": hardtanh(K * x), "tanh": sp.tanh(K * x)})
    assert not verdict.equal and verdict.decided and verdict.method == "numeric"
    assert abs(mpmath.mpf(verdict.counterexample["point"]["x"])) < mpmath.mpf(10) ** -9
    # Without the rule's breakpoints no counterexample is found: the kinks field is what is read. (Nor is
    # the pair called equal: tanh(K*x) at the random points hides more digits than can be compared.)
    from derivchain.symbolic.rules import register, unregister

    unregister("hardtanh")
    register(hardtanh_rule(kinks=None))
    assert verify({"hardtanh": hardtanh(K * x), "tanh": sp.tanh(K * x)}).word == "undecided"


def test_a_registered_primitive_as_an_activation_and_a_graph_node(registered, tmp_path):
    import json

    from typer.testing import CliRunner

    from derivchain import api
    from derivchain.cli import app
    from derivchain.model.network_file import build_network
    from derivchain.renderers import render
    from derivchain.renderers.html import mathml

    net = api.network(layers="2,2,1", activation="hardtanh(x)", loss="half-squared")
    d = api.grad(net, "W1")
    assert d.verdict.equal and d.direct.compared.has(hardtanh) and d.direct.compared.has(sp.Heaviside)
    text, tex = render(d, "text"), render(d, "latex")
    assert "hardtanh(" in text and registered.kink in text
    assert r"\operatorname{hardtanh}\left(" in tex
    assert "hardtanh(" in json.dumps(json.loads(render(d, "json")))
    assert "<mi>hardtanh</mi>" in mathml(hardtanh(x))
    page = api.export(net, ["W1"], str(tmp_path / "notes.html"))[0].read_text()
    assert "<mi>hardtanh</mi>" in page
    result = CliRunner().invoke(app, ["grad", "W1", "--layers", "2,2,1", "--activation", "hardtanh(x)", "--loss", "half-squared"])
    assert result.exit_code == 0 and "hardtanh(" in result.output, result.output

    # At numbers, exactly (the rule's exact value), the three forms agreeing: H1 = hardtanh(1/2 + 2/8) = 3/4
    # inside, H2 = hardtanh(3) = 1 clipped; Out = 2*3/4 - 1 = 1/2, so dLoss/dW1 = (Out - Y)*W5*1*X1 = 1/3.
    values = {"X1": 1, "X2": 2, "Y": Fraction(1, 3), "W1": Fraction(1, 2), "W2": Fraction(1, 8), "W3": 1, "W4": 1, "W5": 2, "W6": -1}
    at = {w: api.grad(net, w, values={k: Fraction(v) for k, v in values.items()}) for w in ("W1", "W3")}
    assert all(a.exact and a.agree for a in at.values())
    assert at["W1"].direct.value == Fraction(1, 3) and at["W3"].direct.value == 0  # H2 is clipped: slope 0
    # At the kink (z1 = 1/2 + 2/4 = 1) the slope is the rule's convention, 0.
    at_kink = api.grad(net, "W1", values={k: Fraction(v) for k, v in {**values, "W2": Fraction(1, 4)}.items()})
    assert at_kink.exact and at_kink.agree and at_kink.direct.value == 0

    # A graph node calling it, derived three ways and verified.
    g = build_network({"loss": "e", "nodes": [{"name": "h", "expr": "hardtanh(w*x + b)"},
                                              {"name": "e", "expr": "(v*h - y)**2/2"}]}, "g.json")
    dg = api.grad(g, "w")
    assert dg.verdict.equal and dg.direct.compared.has(hardtanh)
    assert "hardtanh(" in render(dg, "text") and r"\operatorname{hardtanh}" in render(dg, "latex")
    at = api.grad(g, "w", values={"w": Fraction(1, 2), "x": Fraction(1), "b": Fraction(0), "v": Fraction(3), "y": Fraction(1)})
    assert at.exact and at.direct.value == (3 * Fraction(1, 2) - 1) * 3 * 1  # (v*h - y) * v * h' * x, h' = 1 inside


def test_an_unregistered_primitive_is_refused():
    from derivchain.errors import UnknownActivationError
    from derivchain.model.activations import get_activation
    from derivchain.symbolic.rules import register, unregister

    register(hardtanh_rule())
    try:
        assert parse_expression("hardtanh(x)", SYMBOLS, "test") == hardtanh(x)
        with pytest.raises(ValueError, match="already"):
            register(hardtanh_rule())
    finally:
        unregister("hardtanh")
    with pytest.raises(ExpressionError, match=r"the call hardtanh\(\.\.\.\) is not allowed"):
        parse_expression("hardtanh(x)", SYMBOLS, "test")
    with pytest.raises((ExpressionError, UnknownActivationError)):
        get_activation("hardtanh(x)")
    assert rule_for(hardtanh(x)) is None and "hardtanh" not in DEFINED_FUNCTIONS
