"""A derivation evaluated at numbers: each neuron, the loss, each path's factors and term, the sums."""

from __future__ import annotations

from fractions import Fraction

import mpmath
import sympy as sp

from ..record import record
from ..result import Result
from .derivation import Derivation
from ..model.values import SHOWN, Number, environment, value_of


@record(repr=False)
class DerivationAtValues(Result):
    """The numbers beside a derivation's symbolic pieces."""

    kind = "derivation_at_values"  # the renderers' method for it (see derivchain.result)

    derivation: Derivation
    neurons: tuple[tuple[str, Number | None, Number], ...]  # name, pre-activation z (None: it has none, an expression node), output
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
        (n.name, None if n.preactivation is None else value_of(n.preactivation, env, exact), value_of(n.symbol, env, exact))
        for n in net.neurons
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


@record(repr=False)
class BatchAtValues(Result):
    """A derivation at a batch of samples: each sample's numbers (every form) and the batch's, the
    mean or sum over samples of each form. The batch gradient is the reduction of the one symbolic form."""

    kind = "batch_at_values"  # the renderers' method for it (see derivchain.result)

    derivation: Derivation
    samples: tuple[DerivationAtValues, ...]
    reduction: str  # mean or sum
    loss: Number
    path_sum: Number
    backprop: Number
    direct: Number
    exact: bool

    @property
    def agree(self) -> bool:
        """True when every sample's three results agree (then so do the batch's, reduced alike)."""
        return all(s.agree for s in self.samples)

    def __repr__(self) -> str:
        return (f"BatchAtValues({self.reduction} over {len(self.samples)} samples: "
                f"d{self.derivation.network.loss_symbol}/d{self.derivation.parameter} = {self.backprop})")


def batch_at_values(d: Derivation, samples, reduction: str = "mean") -> BatchAtValues:
    """Evaluate ``d`` at each sample's values (from :func:`~derivchain.model.values.check_batch`) and reduce."""
    from ..model.values import check_reduction, reduce_numbers

    check_reduction(reduction)
    each = tuple(at_values(d, s) for s in samples)
    exact = all(s.exact for s in each)

    def reduced(key):
        return reduce_numbers([getattr(s, key) for s in each], reduction, exact)

    return BatchAtValues(d, each, reduction, reduced("loss"), reduced("path_sum"), reduced("backprop"), reduced("direct"), exact)
