"""Registry of activation functions as data: the function, and its derivative written the textbook way.

``derivative(z, o)`` gives f'(z) in terms of the pre-activation ``z`` and the neuron's own output
symbol ``o`` (sigmoid: o*(1 - o)), which is how a derivation by hand writes it. Direct
differentiation never uses these rules, so verification checks every one of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import sympy as sp

from .errors import UnknownActivationError, choices
from .functions import relu, sigmoid


@dataclass(frozen=True)
class Activation:
    """One activation: name, f(z), f'(z) in terms of z and the output o, and its caveat."""

    name: str
    function: Callable[[sp.Expr], sp.Expr]
    derivative: Callable[[sp.Expr, sp.Expr], sp.Expr]
    latex: str
    note: str = ""

    @property
    def is_identity(self) -> bool:
        """True for f(z) = z, where a neuron's equation is its weighted sum."""
        return self.name == "identity"


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("identity", lambda z: z, lambda z, o: sp.Integer(1), r"f(z) = z"),
        Activation(
            "sigmoid",
            sigmoid,
            lambda z, o: o * (1 - o),
            r"\sigma(z) = \frac{1}{1 + e^{-z}}",
        ),
        Activation("tanh", sp.tanh, lambda z, o: 1 - o**2, r"\tanh(z)"),
        Activation(
            "relu",
            relu,
            lambda z, o: sp.Heaviside(z, 0),
            r"\operatorname{ReLU}(z) = \max(0, z)",
            note="ReLU is not differentiable at z = 0; derivchain uses ReLU'(0) = 0 "
            "(Heaviside(0) = 0), as PyTorch does.",
        ),
    )
}


def get_activation(name: str) -> Activation:
    """Look up an activation by name, or raise with the valid choices."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise UnknownActivationError(
            f"unknown activation {name!r}; choose one of: {choices(ACTIVATIONS)}"
        ) from None
