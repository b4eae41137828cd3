"""Registry of activation functions as data: the function, and its derivative written the textbook way.

``derivative(z, o)`` gives f'(z) in terms of the pre-activation ``z`` and the neuron's own output
symbol ``o`` (sigmoid: o*(1 - o)), which is how a derivation by hand writes it. Direct
differentiation never uses these rules, so verification checks every one of them.

Adding an activation is one entry in ``ACTIVATIONS``. ``get_activation`` also accepts
``leaky_relu:0.2`` (a slope) and any expression in ``x`` from the whitelist parser.
"""

from __future__ import annotations

from typing import Callable

import sympy as sp

from ..record import record
from ..errors import UnknownActivationError, choices
from ..user_text import parse_number
from ..symbolic.functions import elu, leaky_relu, relu, sigmoid

LEAKY_SLOPE = sp.Rational(1, 100)


@record
class Activation:
    """One activation: name, f(z), f'(z) in terms of z and the output o, and its caveat."""

    name: str
    function: Callable[[sp.Expr], sp.Expr]
    derivative: Callable[[sp.Expr, sp.Expr], sp.Expr]
    latex: str
    note: str = ""
    rule: str = ""  # the derivative rule as a reader writes it, named where a derivation applies it
    # The rule and the note as LaTeX prose (mathematics in $...$), for documents.
    rule_tex: str = ""
    note_tex: str = ""


    @property
    def is_identity(self) -> bool:
        """True for f(z) = z, where a neuron's equation is its weighted sum."""
        return self.name == "identity"


def _leaky(slope: sp.Expr) -> Activation:
    return Activation(
        "leaky_relu" if slope == LEAKY_SLOPE else f"leaky_relu:{slope}",
        lambda z: leaky_relu(z, slope),
        lambda z, o: sp.Heaviside(z, 0) * (1 - slope) + slope,
        r"\operatorname{LeakyReLU}_{a}(z) = \max(z, a z),\ a = %s" % sp.latex(slope),
        rule=f"leaky_relu: f'(z) = 1 for z > 0, {slope} otherwise",
        note=f"LeakyReLU is not differentiable at z = 0; derivchain uses the slope {slope} there, as PyTorch does.",
        rule_tex=r"LeakyReLU: $f'(z) = 1$ for $z > 0$, $%s$ otherwise" % sp.latex(slope),
        note_tex=r"LeakyReLU is not differentiable at $z = 0$; derivchain uses the slope $%s$ there, as PyTorch does." % sp.latex(slope),
    )


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("identity", lambda z: z, lambda z, o: sp.Integer(1), r"f(z) = z"),
        Activation("sigmoid", sigmoid, lambda z, o: o * (1 - o), r"\sigma(z) = \frac{1}{1 + e^{-z}}", rule="sigmoid: s' = s(1 - s)",
                   rule_tex=r"sigmoid: $s' = s\,(1 - s)$"),
        Activation("tanh", sp.tanh, lambda z, o: 1 - o**2, r"\tanh(z)", rule="tanh: t' = 1 - t^2",
                   rule_tex=r"tanh: $t' = 1 - t^{2}$"),
        Activation(
            "relu",
            relu,
            lambda z, o: sp.Heaviside(z, 0),
            r"\operatorname{ReLU}(z) = \max(0, z)",
            note="ReLU is not differentiable at z = 0; derivchain uses ReLU'(0) = 0 "
            "(Heaviside(0) = 0), as PyTorch does.",
            rule="relu: r'(z) = Heaviside(z) (0 at z = 0)",
            rule_tex=r"ReLU: $r'(z) = \theta(z)$, the step function, $0$ at $z = 0$",
            note_tex=r"ReLU is not differentiable at $z = 0$; derivchain uses $\operatorname{ReLU}'(0) = 0$ "
            r"(the step function $\theta$ with $\theta(0) = 0$), as PyTorch does.",
        ),
        _leaky(LEAKY_SLOPE),
        Activation(
            "softplus",
            lambda z: sp.log(1 + sp.exp(z)),
            lambda z, o: sigmoid(z),
            r"\operatorname{softplus}(z) = \log(1 + e^{z})",
            rule="softplus: f'(z) = sigmoid(z)",
            rule_tex=r"softplus: $f'(z) = \sigma(z)$",
        ),
        Activation(
            "elu",
            elu,
            lambda z, o: sp.Heaviside(z, 0) + (1 - sp.Heaviside(z, 0)) * (o + 1),
            r"\operatorname{ELU}(z) = z \text{ for } z > 0,\ e^{z} - 1 \text{ otherwise}",
            note="ELU (alpha = 1) is differentiable everywhere; its rule f'(z) = f(z) + 1 for z <= 0 "
            "is checked numerically, since it needs exp's values.",
            rule="elu: f'(z) = 1 for z > 0, f(z) + 1 otherwise",
            rule_tex=r"ELU: $f'(z) = 1$ for $z > 0$, $f(z) + 1$ otherwise",
            note_tex=r"ELU ($\alpha = 1$) is differentiable everywhere; its rule $f'(z) = f(z) + 1$ for $z \le 0$ "
            r"is checked numerically, since it needs the values of $\exp$.",
        ),
        Activation("swish", lambda z: z * sigmoid(z), lambda z, o: o + sigmoid(z) * (1 - o), r"z\,\sigma(z)",
                   rule="swish: f'(z) = f(z) + sigmoid(z)(1 - f(z))",
                   rule_tex=r"swish: $f'(z) = f(z) + \sigma(z)\,(1 - f(z))$"),
        Activation("exp", sp.exp, lambda z, o: o, r"e^{z}", rule="exp: f' = f", rule_tex=r"exp: $f' = f$"),
        Activation("square", lambda z: z**2, lambda z, o: 2 * z, r"z^{2}", rule="square: f'(z) = 2z", rule_tex=r"square: $f'(z) = 2z$"),
    )
}


# The activations whose function is a SymPy function class (sigmoid, tanh, relu, elu, exp), by that class.
_BY_FUNCTION = {a.function: a for a in ACTIVATIONS.values() if isinstance(a.function, sp.FunctionClass)}


def activation_of(expr: sp.Expr) -> Activation | None:
    """The activation ``expr`` is a call of (``sigmoid(u)``: sigmoid), by its function's class; else None."""
    return _BY_FUNCTION.get(expr.func) if len(expr.args) == 1 else None


def custom_activation(text: str, what: str = "activation") -> Activation:
    """An activation given as an expression in ``x``, parsed by the whitelist parser."""
    from ..symbolic.parse import parse_expression
    from ..symbolic.walk import with_conventions

    x = sp.Symbol("x", real=True)
    body = parse_expression(text, {"x": x}, what)
    if not body.has(x):
        raise UnknownActivationError(f"{what}: {text!r} does not depend on x")
    slope = with_conventions(sp.diff(body, x))  # no textbook rule for a custom function: SymPy's derivative of it
    return Activation(
        text,
        lambda z: body.xreplace({x: z}),
        lambda z, o: slope.xreplace({x: z}),
        sp.latex(body.xreplace({x: sp.Symbol("z")})),
        note=f"custom activation {text}: its derivative is SymPy's, so the verdict checks the chain rule, not a rule of yours.",
        note_tex=r"For the activation $f(x) = %s$ the derivative is SymPy's, so the verdict checks the chain rule, "
        r"not a rule of yours." % sp.latex(body),
    )


def get_activation(name: str) -> Activation:
    """An activation by name, ``leaky_relu:SLOPE``, or an expression in x; else an error with the choices."""
    if name in ACTIVATIONS:
        return ACTIVATIONS[name]
    if name.startswith("leaky_relu:"):
        raw = name.split(":", 1)[1]
        slope = sp.Rational(parse_number(raw, "slope", "activation leaky_relu:SLOPE (e.g. leaky_relu:0.2)", UnknownActivationError))
        return _leaky(slope)
    if any(c in name for c in "()+-*/"):
        return custom_activation(name)
    shown = name if len(name) <= 40 else name[:20] + "..."
    raise UnknownActivationError(
        f"unknown activation {shown!r}; choose one of: {choices(ACTIVATIONS)}, leaky_relu:SLOPE, "
        "or an expression in x such as \"x/(1+abs(x))\""
    )
