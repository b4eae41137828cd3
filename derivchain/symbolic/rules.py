"""One table of function rules: everything derivchain knows about each function, in one entry.

Adding an activation or function is its SymPy class (:mod:`derivchain.symbolic.functions`) and one
entry here (in ``RULES``, or through :func:`register` at run time): the name a user writes, its
derivative for direct differentiation, its value in mpmath and (where rational) in exact fractions,
the parity the exact verifier builds in, its slope, jumps and special error rule for the numeric
evaluator's error bounds, the digits its values hide (for the precision the numeric verifier needs),
where its breakpoints are, its convention at a kink, and its LaTeX. The
parser, the differentiator, the verifier, the evaluators and the printers all read this table, and
nothing else keeps a list of functions.
"""

from __future__ import annotations

from typing import Callable, Iterable

import mpmath
import sympy as sp

from ..record import record
from .bounds import EXACT, INF, bound, determined, join_errors, mag
from .functions import elu, leaky_relu, relu, sigmoid


def _by_fdiff(e: sp.Basic, index: int) -> sp.Expr:
    """The class's own ``fdiff``: SymPy's derivative of the function in argument ``index``."""
    return e.fdiff(index)


def _self(e: sp.Basic, index: int) -> sp.Expr:
    """(e^u)' = e^u: the node itself, not a new exp(u) (whose evaluation inspects all of u)."""
    return e


def _tanh_derivative(e: sp.Basic, index: int) -> sp.Expr:
    """tanh'(u) = 1 - tanh(u)**2 from the node itself: SymPy's fdiff builds tanh(u) anew, and its
    evaluation asks for u's real and imaginary parts (seconds on an unrolled RNN's nested argument)."""
    return 1 - e**2


def _zero(e: sp.Basic, index: int) -> sp.Expr:
    """Derivative 0: the function is piecewise constant (0 wherever the derivative exists)."""
    return sp.S.Zero


def _heaviside_derivative(e: sp.Basic, index: int) -> sp.Expr:
    """Heaviside(u, v): 0 in u (piecewise constant: derivchain's convention at the jump too); in v, its value
    at 0, 1 where u = 0 and 0 elsewhere, written 1 - sign(u)**2 (the partial exists everywhere: no kink)."""
    return 1 - sp.sign(e.args[0]) ** 2 if index == 2 else sp.S.Zero


def _abs_derivative(e: sp.Basic, index: int) -> sp.Expr:
    """d|u|/du = sign(u): every symbol is real, so no assumption queries on u are needed. A large u
    (a wide network's substituted output) is left unevaluated: SymPy's sign asks whether u is zero,
    real, positive... term by term (18 s of ``grad W1`` on 128-128-1); a small one is evaluated as
    before (sign(-u) = -sign(u))."""
    from .sizes import tree_size

    u = e.args[0]
    return sign_of(u) if tree_size(u, 400) <= 400 else sp.sign(u, evaluate=False)


def sign_of(u: sp.Expr) -> sp.Expr:
    """``sp.sign(u)``, built unevaluated where SymPy's evaluation provably returns it unchanged.

    That is a sum with a term ``c*s`` (``c`` a nonzero real number, ``s`` a real symbol) whose symbol
    no other term contains: as ``s`` varies the sum takes every real part, so it is not zero, positive,
    negative or imaginary for all values, and SymPy's (sound) assumptions cannot say it is; its
    evaluation would only ask them about the whole sum (milliseconds on a network's output minus
    its target, each time: a cold ``grad W1`` did it three times). Every other argument is evaluated
    as before.
    """
    return sp.sign(u, evaluate=False) if _moves_freely(u) else sp.sign(u)


def _moves_freely(u: sp.Expr) -> bool:
    if not u.is_Add:
        return False
    terms = u.args
    for i, t in enumerate(terms):
        c, s = t.as_coeff_Mul()
        if s.is_Symbol and s.is_real and c.is_Number and c.is_extended_real and c.is_nonzero:
            if not any(s in other.free_symbols for j, other in enumerate(terms) if j != i):
                return True
    return False


# The piecewise functions below are written once for both mpmath numbers and Fractions:
# type(u)(...) builds the constant in the argument's own kind of number.
def _sign(u):
    """sign(u): -1, 0 or 1."""
    return type(u)((u > 0) - (u < 0))


def _heaviside(u, at_zero=None):
    """H(u): 0 below 0, 1 above, ``at_zero`` (SymPy's default 1/2) at 0."""
    if u > 0:
        return type(u)(1)
    if u < 0:
        return type(u)(0)
    return type(u)(1) / 2 if at_zero is None else at_zero


def _dirac(u, order=0):
    """DiracDelta(u) as a value: 0, at u = 0 too (see its entry)."""
    return type(u)(0)


def _at_zero(args) -> tuple:
    """A breakpoint where the first argument is 0 (|u|, sign, Heaviside, ReLU, ...)."""
    return args[:1]


def _where_equal(args) -> list:
    """A breakpoint where two neighbouring arguments are equal (max, min)."""
    return [a - b for a, b in zip(args, args[1:])]


# Error rules (see FunctionRule.error): the exponent of a bound on the error of the value ``out`` from
# the arguments' values ``args`` and their error exponents ``errors`` (see derivchain.symbolic.bounds);
# ``rounding`` is out's own rounding and ``prec`` the working precision in bits.
def _log_error(args, errors, out, rounding, prec) -> float:
    """log: the argument's relative error; unbounded where its sign is not certain."""
    u, eu = args[0], errors[0]
    return join_errors(eu - mag(u) + 2, rounding) if determined(u, eu) else INF


def _atanh_error(args, errors, out, rounding, prec) -> float:
    """atanh: the argument's error relative to its distance from the poles at +-1."""
    u, eu = args[0], errors[0]
    gap = 1 - abs(u)
    return join_errors(eu - mag(gap) + 2, rounding) if determined(gap, eu) else INF


def _leaky_relu_error(args, errors, out, rounding, prec) -> float:
    """leaky_relu(u, a): u's error times the larger slope, plus a's error times |u|."""
    (u, slope), (eu, es) = args[:2], errors[:2]
    if INF in (eu, es):
        return INF
    return join_errors(eu + max(0, mag(slope)), es + bound(u, eu), rounding)


def _extreme_error(args, errors, out, rounding, prec) -> float:
    """max, min: off by no more than the argument with the largest error."""
    return join_errors(max(errors), rounding)


def _elu_error(args, errors, out, rounding, prec) -> float:
    """ELU: slope at most 1, and exp(u) - 1 rounds at 1, not at its value: 1e-20 below 0 it has lost 20 digits."""
    u, eu = args[0], errors[0]
    inner = -prec + 1 if u <= 0 else EXACT
    return join_errors(rounding, inner) if eu == EXACT else join_errors(eu, rounding, inner)


def _exact_error(args, errors, out, rounding, prec) -> float:
    """Exact: the value is 0 everywhere (DiracDelta as derivchain values it)."""
    return EXACT


# Hidden digits (see FunctionRule.hidden): how far below its leading digit the value at u differs from
# a simpler one, in decimal digits. A saturated value differs from its limit by exp(-rate*|u|) (tanh(100)
# = 1 - 2e-87: 87 digits); near u = 0 a smooth function differs from its first Taylor terms by u**2
# relative (sin(1e-40) = 1e-40*(1 - 1e-80/6): 80 digits); and where the value hardly moves with u, u's
# own detail is pushed down by 1/|u f'(u)/f(u)| (its sensitivity: sin near pi/2).
LOG10_E = 0.4342944819032518
LOG10_2 = 0.30103


def _taylor(u) -> float:
    """Digits between a smooth function at a small u and its first Taylor terms: 2*log10(1/|u|)."""
    bits = mag(u)
    return -2 * LOG10_2 * bits + 1 if bits < 1 else 0.0  # |u| < 2**bits: an upper bound on the digits


def _sensitivity(value) -> float:
    """log10(|value|) where ``value`` is |f(u)/(u f'(u))| (0 below 1: the detail is not pushed down)."""
    return max(0.0, LOG10_2 * mag(value)) if value else 0.0


def _saturates(rate: float, power: int = 1) -> Callable:
    """A value that reaches its limit as exp(-rate*|u|**power) (tanh: 2, sigmoid: 1, erf: u**2), and is smooth at 0."""

    def hidden(u, out) -> float:
        if not u:
            return 0.0
        size = abs(float(u)) if mag(u) < 500 else float("inf")  # past 2**500: more digits than any precision
        return max(_taylor(u), rate * size**power * LOG10_E)

    return hidden


def _by_sensitivity(ratio: Callable) -> Callable:
    """A function whose value may hardly move with u (sin near pi/2): ``ratio(u)`` = f(u)/(u f'(u)), at 53 bits."""

    def hidden(u, out) -> float:
        if not u:
            return 0.0
        with mpmath.workprec(53):
            try:
                pushed = _sensitivity(ratio(u))
            except (ZeroDivisionError, ValueError, OverflowError):
                pushed = 0.0
        return max(_taylor(u), pushed)

    return hidden


def _elu_hidden(u, out) -> float:
    """ELU: exp(u) - 1 below 0 reaches -1 as exp(u) does 0, and is u*(1 + u/2) near 0."""
    return _saturates(1)(u, out) if u < 0 else 0.0


def _log_hidden(u, out) -> float:
    """log: u's relative detail moves log(u) by as much absolutely, so 1/|log u| relatively."""
    return _sensitivity(out) if out else 0.0


@record
class FunctionRule:
    """One function: its SymPy class, how it is written, differentiated, evaluated and printed."""

    name: str  # the SymPy class name, e.func.__name__
    cls: type
    parser_name: str | None  # what a user writes; None if not user-callable
    arity: int  # the arguments a user writes
    # (node, 1-based argument index) -> partial derivative; None: sympy.diff of the whole node.
    derivative: Callable[[sp.Basic, int], sp.Expr] | None
    numeric: Callable  # the value at real mpmath numbers
    exact: Callable | None  # the value at Fractions, or None where it is not rational in general
    latex: str
    # How ``latex`` is used (see latex_call): "operator" is SymPy's form for named functions,
    # \tanh{\left(u \right)}; "call" is name\left(args\right) with %s slots taking the trailing
    # arguments (LeakyReLU's slope); "around" is a template with %s for the leading arguments.
    latex_form: str = "operator"
    # Parity identity the modular verifier builds in: "odd", "even", "heaviside" (H(-u) = 1 - H(u)),
    # "exp" (exp(-u) = 1/exp(u)), "sigmoid" (1/(1 + exp(-u)), from exp's values), or None.
    parity: str | None = None
    # Degree bounds (numerator, denominator) of the value as a rational function of the unknown the
    # modular verifier puts in its place: 1/exp(u) and 1/(1 + exp(-u)) have a denominator.
    degree: tuple[int, int] = (1, 0)
    # Closed form in other functions, for derivchain's own classes: expansion treats them as opaque,
    # since expand cannot see sigmoid(u) = 1/(1 + exp(-u)).
    definition: Callable | None = None
    max_arity: int | None = -1  # most arguments accepted: None for any number; default: arity
    text: str = ""  # the name SymPy's str printer writes (default: name), accepted by the parser
    usage: str = ""  # how a user writes a call, for error messages (default: parser_name(u))
    # Where the function is not differentiable and the value derivchain's derivative takes there: a
    # note printed with every derivation whose expressions call it.
    kink: str = ""
    # Where its breakpoints are, from its arguments: expressions whose sign change crosses one (the
    # numeric verifier tries points on both sides of each). None: smooth.
    kinks: Callable[[tuple], Iterable[sp.Expr]] | None = None
    # derivchain's value for a node that only SymPy's own differentiation writes (DiracDelta, its derivative
    # of a jump): every derived form has it replaced (see walk.with_conventions) before it is printed or verified.
    convention: Callable[[sp.Basic], sp.Expr] | None = None
    # Not offered to users (no parser_name), but the parser reads its printed name (``text``) back, so a
    # form holding it parses again.
    reads_back: bool = False
    # For the numeric evaluator's error bounds (see derivchain.symbolic.bounds). ``slope(u, out)``: the
    # exponent of a bound on |f'(u)| of a one-argument function, f(u) = out. ``steep``: the slope grows
    # with the value, so an argument error past 1/16 leaves the first-order bound meaningless.
    # ``jump``: piecewise constant, exact unless the argument's error reaches 0, then off by up to
    # 2**jump. ``error(args, errors, out, rounding, prec)``: a rule of its own (see _log_error), in
    # place of those. With none of them: the largest change over each argument's error interval.
    slope: Callable[[mpmath.mpf, mpmath.mpf], float] | None = None
    steep: bool = False
    jump: float | None = None
    error: Callable[..., float] | None = None
    # ``hidden(u, out)``: the decimal digits below its leading digit at which the value at u = args[0]
    # differs from a simpler value (tanh(100) = 1 - 2e-87: about 87; a saturated function's limit, a
    # small argument's Taylor terms). The numeric verifier compares the forms past twice these digits,
    # so a difference made of such a value shows (x*tanh(100) against x). None: the value hides nothing
    # (pieces that are linear or constant in u).
    hidden: Callable[[mpmath.mpf, mpmath.mpf], float] | None = None

    def __post_init__(self):
        if self.max_arity == -1:
            object.__setattr__(self, "max_arity", self.arity)
        if not self.text:
            object.__setattr__(self, "text", self.name)
        if not self.usage and self.parser_name:
            object.__setattr__(self, "usage", f"{self.parser_name}(u)")


#: Every function derivchain handles itself, by SymPy class name (``e.func.__name__``).
RULES: dict[str, FunctionRule] = {
    r.name: r
    for r in (
        FunctionRule("exp", sp.exp, "exp", 1, _self, mpmath.exp, None, r"e^{%s}", "around", parity="exp", degree=(1, 1),
                     slope=lambda u, out: mag(out), steep=True, hidden=_by_sensitivity(lambda u: 1 / u)),
        FunctionRule("log", sp.log, "log", 1, _by_fdiff, mpmath.log, None, r"\log{\left(%s \right)}", "around", error=_log_error,
                     hidden=_log_hidden),
        FunctionRule("Abs", sp.Abs, "abs", 1, _abs_derivative, abs, abs, r"\left|{%s}\right|", "around", parity="even",
                     kink="abs(u) is not differentiable at u = 0; derivchain uses d|u|/du = sign(u), 0 at u = 0.",
                     kinks=_at_zero, slope=lambda u, out: 0),
        FunctionRule("sign", sp.sign, "sign", 1, _zero, _sign, _sign, r"\operatorname{sign}", parity="odd",
                     kink="sign(u) jumps at u = 0; derivchain takes its derivative as 0 everywhere, at u = 0 too.",
                     kinks=_at_zero, jump=1),
        # Heaviside(u, H0) prints as theta(u): the value at 0 is stated in the notes.
        FunctionRule("Heaviside", sp.Heaviside, "heaviside", 1, _heaviside_derivative, _heaviside, _heaviside, r"\theta", "call",
                     parity="heaviside", max_arity=2, usage="heaviside(u) or heaviside(u, value_at_0)",
                     kink="heaviside(u) jumps at u = 0; derivchain takes its derivative as 0 everywhere, at u = 0 too "
                     "(given a value at 0, heaviside(u, v), its derivative in v is 1 - sign(u)**2: 1 at u = 0, else 0).",
                     kinks=_at_zero, jump=0),
        FunctionRule("tanh", sp.tanh, "tanh", 1, _tanh_derivative, mpmath.tanh, None, r"\tanh", parity="odd",
                     slope=lambda u, out: 0, hidden=_saturates(2)),  # 1 - tanh(u) ~ 2*exp(-2u)
        FunctionRule("sinh", sp.sinh, "sinh", 1, _by_fdiff, mpmath.sinh, None, r"\sinh", parity="odd",
                     slope=lambda u, out: max(mag(out), 0) + 1, steep=True,  # cosh <= |sinh| + 1
                     hidden=_saturates(2)),  # sinh(u) = exp(u)/2*(1 - exp(-2u))
        FunctionRule("cosh", sp.cosh, "cosh", 1, _by_fdiff, mpmath.cosh, None, r"\cosh", parity="even",
                     slope=lambda u, out: mag(out), steep=True, hidden=_saturates(2)),  # |sinh| <= cosh
        FunctionRule("sin", sp.sin, "sin", 1, _by_fdiff, mpmath.sin, None, r"\sin", parity="odd", slope=lambda u, out: 0,
                     hidden=_by_sensitivity(lambda u: mpmath.tan(u) / u)),
        FunctionRule("cos", sp.cos, "cos", 1, _by_fdiff, mpmath.cos, None, r"\cos", parity="even", slope=lambda u, out: 0,
                     hidden=_by_sensitivity(lambda u: 1 / (u * mpmath.tan(u)))),
        FunctionRule("atan", sp.atan, "atan", 1, _by_fdiff, mpmath.atan, None, r"\operatorname{atan}", parity="odd",
                     slope=lambda u, out: 0, hidden=_by_sensitivity(lambda u: mpmath.atan(u) * (1 + u * u) / u)),
        FunctionRule("erf", sp.erf, "erf", 1, _by_fdiff, mpmath.erf, None, r"\operatorname{erf}", parity="odd",
                     slope=lambda u, out: 1, hidden=_saturates(1, 2)),  # 1 - erf(u) ~ exp(-u**2)
        # Not user-callable; should SymPy produce them, the verifier builds their parity in.
        FunctionRule("tan", sp.tan, None, 1, _by_fdiff, mpmath.tan, None, r"\tan", parity="odd",
                     slope=lambda u, out: 2 * max(mag(out), 0) + 1, steep=True,  # 1 + tan**2
                     hidden=_by_sensitivity(lambda u: mpmath.sin(2 * u) / (2 * u))),
        FunctionRule("asinh", sp.asinh, None, 1, _by_fdiff, mpmath.asinh, None, r"\operatorname{asinh}", parity="odd",
                     slope=lambda u, out: 0, hidden=lambda u, out: max(_taylor(u), LOG10_2 * 2 * mag(u))),  # log(2u) + 1/(4u**2)
        FunctionRule("atanh", sp.atanh, None, 1, _by_fdiff, mpmath.atanh, None, r"\operatorname{atanh}", parity="odd",
                     error=_atanh_error, hidden=lambda u, out: _taylor(u)),
        # SymPy's derivative of sign and Heaviside, in custom activations' derivatives (taken by
        # sp.diff). Valued 0 everywhere, at 0 too: derivchain's convention that a piecewise-constant
        # function's derivative is 0 (as sign' and Heaviside' above), so forms with and without it agree.
        # No exact value: such values stay on the 50-digit path they have always taken. Derived forms have
        # it replaced by 0 (its convention) before printing; should one be printed, it parses back.
        FunctionRule("DiracDelta", sp.DiracDelta, None, 1, _zero, _dirac, None, r"\delta\left(%s\right)", "around",
                     max_arity=2, error=_exact_error, convention=lambda e: sp.S.Zero, reads_back=True),
        FunctionRule("sigmoid", sigmoid, "sigmoid", 1, _by_fdiff, sigmoid.numeric, None, r"\sigma", "call",
                     parity="sigmoid", degree=(1, 1), definition=sigmoid.definition, slope=lambda u, out: -2,
                     hidden=_saturates(1)),  # 1 - sigmoid(u) ~ exp(-u), and sigmoid(-u) = exp(-u)*(1 - exp(-u) ...)
        FunctionRule("relu", relu, "relu", 1, _by_fdiff, relu.numeric, relu.numeric, r"\operatorname{ReLU}", "call",
                     definition=relu.definition,
                     kink="relu(u) is not differentiable at u = 0; derivchain uses relu'(0) = 0 (Heaviside(u, 0)), as PyTorch does.",
                     kinks=_at_zero, slope=lambda u, out: 0),
        FunctionRule("leaky_relu", leaky_relu, "leaky_relu", 2, _by_fdiff, leaky_relu.numeric, leaky_relu.numeric,
                     r"\operatorname{LeakyReLU}_{%s}", "call", definition=leaky_relu.definition,
                     usage="leaky_relu(u, slope), e.g. leaky_relu(z, 1/100)",
                     kink="leaky_relu(u, a) is not differentiable at u = 0; derivchain uses the slope a there, as PyTorch does.",
                     kinks=_at_zero, error=_leaky_relu_error),
        FunctionRule("elu", elu, "elu", 1, _by_fdiff, elu.numeric, None, r"\operatorname{ELU}", "call",
                     definition=elu.definition, kinks=_at_zero, error=_elu_error, hidden=_elu_hidden),
        # Max and Min: sympy.diff's evaluated form (Heaviside(a - b) + ...), which derivations have
        # always printed; the chain rule over fdiff gives the same values in another arrangement.
        FunctionRule("Max", sp.Max, "max", 2, None, max, max, r"\max", "call", max_arity=None, usage="max(a, b, ...)",
                     kink="max(a, b) is not differentiable where a = b; its derivative Heaviside(a - b) is 1/2 there, "
                     "the slope shared equally between the arguments.", kinks=_where_equal, error=_extreme_error),
        FunctionRule("Min", sp.Min, "min", 2, None, min, min, r"\min", "call", max_arity=None, usage="min(a, b, ...)",
                     kink="min(a, b) is not differentiable where a = b; its derivative Heaviside(b - a) is 1/2 there, "
                     "the slope shared equally between the arguments.", kinks=_where_equal, error=_extreme_error),
    )
}

#: Names the parser accepts that build other nodes: sqrt(u) is Pow(u, 1/2), handled by the power rules;
#: the activations written in other functions (swish(u) = u*sigmoid(u), softplus(u) = log(1 + exp(u))),
#: so a node's expression may use every activation by name.
PARSER_ONLY: dict[str, Callable[[sp.Expr], sp.Expr]] = {
    "sqrt": sp.sqrt, "swish": lambda u: u * sigmoid(u), "softplus": lambda u: sp.log(1 + sp.exp(u))}

#: The constants SymPy prints by name in derived forms (erf' = 2*exp(-u**2)/sqrt(pi), exp(1) = E): the
#: parser reads them back where the expression's own names do not take them.
CONSTANTS: dict[str, sp.Expr] = {"pi": sp.pi, "E": sp.E}

# The indexes below are read off RULES, and kept in step with it by register() and unregister():
# each is one dict, updated in place, so a module that imported it sees a function added later.

#: derivchain's own functions (closed forms in other functions), by name.
DEFINED_FUNCTIONS: dict[str, type] = {}

#: Each user-callable rule by the name a user writes and by the name SymPy prints (abs and Abs, max
#: and Max, heaviside and Heaviside), and each rule that ``reads_back`` by its printed name
#: (DiracDelta), so printed expressions parse back.
CALLABLE: dict[str, FunctionRule] = {}

#: What each name the parser accepts builds: the user-callable rules' classes, then ``PARSER_ONLY``.
PARSER_FUNCTIONS: dict[str, Callable] = {}

#: The names a user writes, in the table's order, for error messages (printed aliases are accepted silently).
DOCUMENTED: list[str] = []


def _index() -> None:
    """Rebuild the indexes from RULES, in place."""
    callable_rules = [r for r in RULES.values() if r.parser_name is not None]
    DEFINED_FUNCTIONS.clear()
    DEFINED_FUNCTIONS.update((name, r.cls) for name, r in RULES.items() if r.definition is not None)
    CALLABLE.clear()
    CALLABLE.update((r.parser_name, r) for r in callable_rules)
    CALLABLE.update((r.text, r) for r in RULES.values() if r.parser_name is not None or r.reads_back)
    PARSER_FUNCTIONS.clear()
    PARSER_FUNCTIONS.update((name, r.cls) for name, r in CALLABLE.items())
    PARSER_FUNCTIONS.update(PARSER_ONLY)
    DOCUMENTED[:] = [r.parser_name for r in callable_rules] + list(PARSER_ONLY)


_index()


def register(rule: FunctionRule) -> FunctionRule:
    """Add a function to the table: the parser, differentiator, verifier, evaluators and printers then handle it."""
    names = {rule.parser_name, rule.text} - {None}
    taken = sorted(n for n in names if n in PARSER_FUNCTIONS)
    if rule.name in RULES or taken:
        raise ValueError(f"a function named {rule.name!r} is already in the table" if rule.name in RULES
                         else f"the parser already reads {', '.join(taken)}")
    if getattr(rule.cls, "__name__", None) != rule.name:
        raise ValueError(f"rule {rule.name!r}: its class is named {getattr(rule.cls, '__name__', None)!r} (rule_for finds rules by it)")
    RULES[rule.name] = rule
    _index()
    return rule


def unregister(name: str) -> FunctionRule:
    """Remove the function ``name`` (its SymPy class name) from the table; the parser refuses it afterwards."""
    rule = RULES.pop(name)
    _index()
    return rule


def rule_for(expr: sp.Basic) -> FunctionRule | None:
    """The rule for a function node, or None (not a function, or one the table does not know)."""
    rule = RULES.get(getattr(expr.func, "__name__", ""))
    # By class, not just name: an undefined Function("sign") is not SymPy's sign.
    return rule if rule is not None and expr.func is rule.cls else None


def latex_call(rule: FunctionRule, printed_args: list[str], power: str | None = None) -> str:
    """LaTeX for ``rule``'s function at already printed arguments (raised to ``power`` if given)."""
    # A fixed-arity function shows its written arguments; the optional rest (Heaviside's value
    # at 0) is stated in the notes. Variadic ones (Max, Min) show all.
    shown = list(printed_args if rule.max_arity is None else printed_args[: rule.arity])
    if rule.latex_form == "operator":
        head = rule.latex if power is None else r"%s^{%s}" % (rule.latex, power)
        return r"%s{\left(%s \right)}" % (head, ",".join(shown))
    slots = rule.latex.count("%s")
    if rule.latex_form == "around":
        tex = rule.latex % tuple(shown[:slots])
    else:
        split = len(shown) - slots
        name = rule.latex % tuple(shown[split:]) if slots else rule.latex
        tex = r"%s\left(%s\right)" % (name, ", ".join(shown[:split]))
    if power is None:
        return tex
    # e^{u} already ends in a superscript: a second one needs parentheses.
    return r"\left(%s\right)^{%s}" % (tex, power) if "^{" in rule.latex else r"%s^{%s}" % (tex, power)
