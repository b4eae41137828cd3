"""Direct differentiation: the loss with every output substituted, differentiated by SymPy."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .network import Network


@dataclass(frozen=True)
class Direct:
    """dLoss/dparameter taken by ``sympy.diff`` of the fully substituted loss."""

    parameter: sp.Symbol
    value: sp.Expr


def direct(network: Network, parameter: sp.Symbol) -> Direct:
    """Differentiate the fully substituted loss with respect to ``parameter``."""
    return Direct(parameter, sp.diff(network.loss_full, parameter))
