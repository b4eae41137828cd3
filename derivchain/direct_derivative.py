"""Direct differentiation: the loss with every output substituted, differentiated as one expression."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .differentiate import dependency_masks, differentiate
from .form import Form
from .network import Network


@dataclass(frozen=True, repr=False)
class Direct(Form):
    """dLoss/dparameter taken by differentiating the fully substituted loss (no network structure);
    ``local`` is the same expression (direct differentiation never sees neuron symbols)."""

    @property
    def value(self) -> sp.Expr:
        """The derivative, fully substituted."""
        return self.substituted


def direct(network: Network, parameter: sp.Symbol) -> Direct:
    """Differentiate the fully substituted loss with respect to ``parameter`` (any leaf)."""
    masks = network.cache.get("dependency_masks")
    if masks is None:
        masks = network.cache["dependency_masks"] = dependency_masks(network.loss_full, network.leaves)
    bit = 1 << network.parameter_index[parameter]
    value = differentiate(network.loss_full, parameter, masks, bit)
    return Direct("direct", parameter, value, value, "the fully substituted loss differentiated")
