"""A derivation evaluated at numbers: each neuron, the loss, each path's factors and term, the sums."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import mpmath
import sympy as sp

from .derivation import Derivation
from .values import SHOWN, Number, environment, value_of


@dataclass(frozen=True, repr=False)
class DerivationAtValues:
    """The numbers beside a derivation's symbolic pieces."""

    derivation: Derivation
    neurons: tuple[tuple[str, Number, Number], ...]  # name, pre-activation z, output
    loss: Number
    paths: tuple[tuple[tuple[Number, ...], Number], ...]  # factor values, term, per listed path
    path_sum: Number
    backprop: Number
    direct: Number
    exact: bool

    @property
    def agree(self) -> bool:
        """True when the three results agree to the digits shown (exactly, when computed exactly).

        They can differ at extreme values: a saturated sigmoid's o*(1 - o) is 0 to 50 digits while
        the direct form keeps a tiny value; then the numbers shown are not all trustworthy.
        """
        values = [self.path_sum.value, self.backprop.value, self.direct.value]
        if self.exact:
            return values[0] == values[1] == values[2]
        scale = max(abs(v) for v in values)
        return all(abs(v - values[0]) <= scale * mpmath.mpf(10) ** -SHOWN for v in values)

    def __repr__(self) -> str:
        return f"DerivationAtValues(d{self.derivation.network.loss_symbol}/d{self.derivation.parameter} = {self.backprop})"


def at_values(d: Derivation, values: dict[sp.Symbol, Fraction]) -> DerivationAtValues:
    """Evaluate every piece of ``d`` at ``values`` (exact where the network allows)."""
    net = d.network
    env, exact = environment(net, values)
    neurons = tuple(
        (n.name, value_of(n.preactivation, env, exact), value_of(n.symbol, env, exact)) for n in net.neurons
    )
    paths = tuple(
        (tuple(value_of(f.value, env, exact) for f in p.factors), value_of(p.term, env, exact)) for p in d.paths
    )
    return DerivationAtValues(
        d,
        neurons,
        value_of(net.loss_local, env, exact),
        paths,
        value_of(d.path_sum.local, env, exact),
        value_of(d.backprop.local, env, exact),
        value_of(d.direct.value, env, exact),
        exact,
    )
