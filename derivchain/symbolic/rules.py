"""One table of function rules: everything derivchain knows about each function, in one entry.

Adding an activation or function is one entry in ``RULES``: its SymPy class, the name a user
writes, its derivative for direct differentiation, its value in mpmath and (where rational) in
exact fractions, the parity the exact verifier builds in, and its LaTeX. The parser, the
differentiator, the verifier, the evaluators and the printer all read this table.
"""

from __future__ import annotations

from typing import Callable

import mpmath
import sympy as sp

from ..record import record
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
        FunctionRule("exp", sp.exp, "exp", 1, _self, mpmath.exp, None, r"e^{%s}", "around", parity="exp", degree=(1, 1)),
        FunctionRule("log", sp.log, "log", 1, _by_fdiff, mpmath.log, None, r"\log{\left(%s \right)}", "around"),
        FunctionRule("Abs", sp.Abs, "abs", 1, _abs_derivative, abs, abs, r"\left|{%s}\right|", "around", parity="even",
                     kink="abs(u) is not differentiable at u = 0; derivchain uses d|u|/du = sign(u), 0 at u = 0."),
        FunctionRule("sign", sp.sign, "sign", 1, _zero, _sign, _sign, r"\operatorname{sign}", parity="odd",
                     kink="sign(u) jumps at u = 0; derivchain takes its derivative as 0 everywhere, at u = 0 too."),
        # Heaviside(u, H0) prints as theta(u): the value at 0 is stated in the notes.
        FunctionRule("Heaviside", sp.Heaviside, "heaviside", 1, _zero, _heaviside, _heaviside, r"\theta", "call",
                     parity="heaviside", max_arity=2, usage="heaviside(u) or heaviside(u, value_at_0)",
                     kink="heaviside(u) jumps at u = 0; derivchain takes its derivative as 0 everywhere, at u = 0 too."),
        FunctionRule("tanh", sp.tanh, "tanh", 1, _tanh_derivative, mpmath.tanh, None, r"\tanh", parity="odd"),
        FunctionRule("sinh", sp.sinh, "sinh", 1, _by_fdiff, mpmath.sinh, None, r"\sinh", parity="odd"),
        FunctionRule("cosh", sp.cosh, "cosh", 1, _by_fdiff, mpmath.cosh, None, r"\cosh", parity="even"),
        FunctionRule("sin", sp.sin, "sin", 1, _by_fdiff, mpmath.sin, None, r"\sin", parity="odd"),
        FunctionRule("cos", sp.cos, "cos", 1, _by_fdiff, mpmath.cos, None, r"\cos", parity="even"),
        FunctionRule("atan", sp.atan, "atan", 1, _by_fdiff, mpmath.atan, None, r"\operatorname{atan}", parity="odd"),
        FunctionRule("erf", sp.erf, "erf", 1, _by_fdiff, mpmath.erf, None, r"\operatorname{erf}", parity="odd"),
        # Not user-callable; should SymPy produce them, the verifier builds their parity in.
        FunctionRule("tan", sp.tan, None, 1, _by_fdiff, mpmath.tan, None, r"\tan", parity="odd"),
        FunctionRule("asinh", sp.asinh, None, 1, _by_fdiff, mpmath.asinh, None, r"\operatorname{asinh}", parity="odd"),
        FunctionRule("atanh", sp.atanh, None, 1, _by_fdiff, mpmath.atanh, None, r"\operatorname{atanh}", parity="odd"),
        # SymPy's derivative of sign and Heaviside, in custom activations' derivatives (taken by
        # sp.diff). Valued 0 everywhere, at 0 too: derivchain's convention that a piecewise-constant
        # function's derivative is 0 (as sign' and Heaviside' above), so forms with and without it agree.
        # No exact value: such values stay on the 50-digit path they have always taken.
        FunctionRule("DiracDelta", sp.DiracDelta, None, 1, _zero, _dirac, None, r"\delta\left(%s\right)", "around",
                     max_arity=2),
        FunctionRule("sigmoid", sigmoid, "sigmoid", 1, _by_fdiff, sigmoid.numeric, None, r"\sigma", "call",
                     parity="sigmoid", degree=(1, 1), definition=sigmoid.definition),
        FunctionRule("relu", relu, "relu", 1, _by_fdiff, relu.numeric, relu.numeric, r"\operatorname{ReLU}", "call",
                     definition=relu.definition,
                     kink="relu(u) is not differentiable at u = 0; derivchain uses relu'(0) = 0 (Heaviside(u, 0)), as PyTorch does."),
        FunctionRule("leaky_relu", leaky_relu, "leaky_relu", 2, _by_fdiff, leaky_relu.numeric, leaky_relu.numeric,
                     r"\operatorname{LeakyReLU}_{%s}", "call", definition=leaky_relu.definition,
                     usage="leaky_relu(u, slope), e.g. leaky_relu(z, 1/100)",
                     kink="leaky_relu(u, a) is not differentiable at u = 0; derivchain uses the slope a there, as PyTorch does."),
        FunctionRule("elu", elu, "elu", 1, _by_fdiff, elu.numeric, None, r"\operatorname{ELU}", "call",
                     definition=elu.definition),
        # Max and Min: sympy.diff's evaluated form (Heaviside(a - b) + ...), which derivations have
        # always printed; the chain rule over fdiff gives the same values in another arrangement.
        FunctionRule("Max", sp.Max, "max", 2, None, max, max, r"\max", "call", max_arity=None, usage="max(a, b, ...)",
                     kink="max(a, b) is not differentiable where a = b; its derivative Heaviside(a - b) is 1/2 there, "
                     "the slope shared equally between the arguments."),
        FunctionRule("Min", sp.Min, "min", 2, None, min, min, r"\min", "call", max_arity=None, usage="min(a, b, ...)",
                     kink="min(a, b) is not differentiable where a = b; its derivative Heaviside(b - a) is 1/2 there, "
                     "the slope shared equally between the arguments."),
    )
}

#: Names the parser accepts that build other nodes: sqrt(u) is Pow(u, 1/2), handled by the power rules.
PARSER_ONLY: dict[str, Callable[[sp.Expr], sp.Expr]] = {"sqrt": sp.sqrt}

#: derivchain's own functions (closed forms in other functions), by name.
DEFINED_FUNCTIONS = {name: r.cls for name, r in RULES.items() if r.definition is not None}


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
