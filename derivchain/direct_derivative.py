"""Direct differentiation: the loss with every output substituted, differentiated as one expression."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .differentiate import dependency_masks, differentiate
from .network import Network


@dataclass(frozen=True)
class Direct:
    """dLoss/dparameter taken by differentiating the fully substituted loss (no network structure)."""

    parameter: sp.Symbol
    value: sp.Expr


def direct(network: Network, parameter: sp.Symbol) -> Direct:
    """Differentiate the fully substituted loss with respect to ``parameter``."""
    masks = network.cache.get("dependency_masks")
    if masks is None:
        masks = network.cache["dependency_masks"] = dependency_masks(network.loss_full, network.parameters)
    bit = 1 << network.parameter_index[parameter]
    return Direct(parameter, differentiate(network.loss_full, parameter, masks, bit))
