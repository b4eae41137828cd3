"""The general backpropagation equations, instantiated for one parameter with every printed chain verified."""

from __future__ import annotations

from dataclasses import replace

from .. import memo
from ..engines.formula import GeneralFormula
from ..engines.formula import general_formula as unverified
from ..model.network import Network
from .derivation import conditional_deltas, delta_chain, entry_chain


def general_formula(network: Network, parameter: str | None = None) -> GeneralFormula:
    """The general equations in the network's notation; with ``parameter``, their instance for it: dLoss/dW =
    source * delta, and each delta's recursion and value, each chain verified (what ``derivchain formula`` prints)."""
    f = unverified(network, parameter)
    if f.instance is None:
        return replace(f, chains=())
    with memo.working_for(network):
        chains = (entry_chain(network, f.instance), *(delta_chain(network, eq) for eq in f.instance.deltas))
        known = conditional_deltas(network)
        conditionals = {eq.delta: known[eq.delta] for eq in f.instance.deltas if eq.delta in known}
    return replace(f, chains=chains, conditionals=conditionals)
