"""Direct differentiation: the loss with every output substituted, differentiated as one expression."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .differentiate import differentiate
from .network import Network


@dataclass(frozen=True)
class Direct:
    """dLoss/dparameter taken by differentiating the fully substituted loss (no network structure)."""

    parameter: sp.Symbol
    value: sp.Expr


def direct(network: Network, parameter: sp.Symbol) -> Direct:
    """Differentiate the fully substituted loss with respect to ``parameter``."""
    return Direct(parameter, differentiate(network.loss_full, parameter))
