"""Registry of losses as data: each maps one output and its target to a SymPy expression."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import sympy as sp

from .errors import UnknownLossError, choices


@dataclass(frozen=True)
class Loss:
    """One loss: name, formula(out, y) for a single output, and its caveat at kinks."""

    name: str
    formula: Callable[[sp.Expr, sp.Expr], sp.Expr]
    text: str
    note: str = ""


LOSSES: dict[str, Loss] = {
    l.name: l
    for l in (
        Loss(
            "abs",
            lambda out, y: sp.Abs(out - y),
            "|Out - Y|",
            note="|u| is not differentiable at u = 0; derivchain uses d|u|/du = sign(u), "
            "so the gradient is 0 where Out = Y (a valid subgradient).",
        ),
        Loss("squared", lambda out, y: (out - y) ** 2, "(Out - Y)**2"),
        Loss("half-squared", lambda out, y: (out - y) ** 2 / 2, "(Out - Y)**2/2"),
    )
}


def get_loss(name: str) -> Loss:
    """Look up a loss by name, or raise with the valid choices."""
    try:
        return LOSSES[name]
    except KeyError:
        raise UnknownLossError(f"unknown loss {name!r}; choose one of: {choices(LOSSES)}") from None
