"""A derivation evaluated at numbers: each neuron, the loss, each path's factors and term, the sums."""

from __future__ import annotations

from fractions import Fraction

import mpmath
import sympy as sp

from ..record import record
from ..result import Result
from .derivation import Derivation
from ..model.values import DIGITS, PRECISIONS, RECHECK, SHOWN, Number, RoundedAway, as_mpf, environment, settled, value_of


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
    exact: bool  # every number above exact (rational); else some were computed with ``digits`` digits
    digits: int = DIGITS  # the working precision of the numbers not exact (raised where 50 digits left one undefined)

    @property
    def agree(self) -> bool:
        """True when the three results agree to the digits shown (exactly, when computed exactly).

        They can differ at extreme values: a saturated sigmoid's o*(1 - o) is 0 to 50 digits while
        the direct form keeps a tiny value; then the numbers shown are not all trustworthy.
        """
        values = [self.path_sum.value, self.backprop.value, self.direct.value]
        if self.exact:
            return values[0] == values[1] == values[2]
        values = [as_mpf(v, self.digits) for v in values]
        scale = max(abs(v) for v in values)
        return all(abs(v - values[0]) <= scale * mpmath.mpf(10) ** -SHOWN for v in values)

    def __repr__(self) -> str:
        return f"DerivationAtValues(d{self.derivation.network.loss_symbol}/d{self.derivation.parameter} = {self.backprop})"


def at_values(d: Derivation, values: dict[sp.Symbol, Fraction]) -> DerivationAtValues:
    """Evaluate every piece of ``d`` at ``values``: exact where the network allows, else with 50 digits,
    raised (``PRECISIONS``) where a value is undefined only for its rounding (1/(1 - Out) of a saturated
    sigmoid output, whose gradient Out - Y is finite)."""
    for digits in PRECISIONS:
        try:
            return _at_values(d, values, digits)
        except RoundedAway:
            if digits == PRECISIONS[-1]:
                raise
    raise AssertionError("unreachable")


def _at_values(d: Derivation, values: dict[sp.Symbol, Fraction], digits: int) -> DerivationAtValues:
    net = d.network
    env, exact = environment(net, values, digits=digits)
    faint: list = []  # (expression, its faint number): settled below at a higher precision

    def value(expr) -> Number:
        number = value_of(expr, env, exact, digits)
        if number.faint:
            faint.append((expr, number))
        return number

    neurons = tuple(
        (n.name, None if n.preactivation is None else value(n.preactivation), value(n.symbol))
        for n in net.neurons
    )
    paths = tuple((tuple(value(f.value) for f in p.factors), value(p.term)) for p in d.paths)
    at = DerivationAtValues(d, neurons, value(net.loss_local), paths, value(d.path_sum.local), value(d.backprop.local),
                            value(d.direct.value), exact, digits)
    if faint:
        # Values below the rounding of the numbers they came from (a cancellation to 0): computed again with
        # more digits, each is its value there, or 0 where it is still below its rounding.
        again, _ = environment(net, values, digits=digits + RECHECK)
        fixed = {id(number): settled(expr, number, again, exact, digits + RECHECK) for expr, number in faint}
        at = _replaced(at, fixed)
    numbers = [at.loss, at.path_sum, at.backprop, at.direct, *(n for _, z, o in at.neurons for n in (z, o) if n is not None),
               *(n for factors, term in at.paths for n in (*factors, term))]
    everything_exact = all(n.exact for n in numbers)  # exact means rational, every number (a softmax loss is not)
    return DerivationAtValues(at.derivation, at.neurons, at.loss, at.paths, at.path_sum, at.backprop, at.direct,
                              everything_exact, digits)


def _replaced(at: DerivationAtValues, fixed: dict) -> DerivationAtValues:
    """``at`` with each number whose id is in ``fixed`` replaced by its settled value."""
    def new(n):
        return n if n is None else fixed.get(id(n), n)

    return DerivationAtValues(
        at.derivation, tuple((name, new(z), new(o)) for name, z, o in at.neurons), new(at.loss),
        tuple((tuple(new(f) for f in factors), new(term)) for factors, term in at.paths),
        new(at.path_sum), new(at.backprop), new(at.direct), at.exact, at.digits)


@record(repr=False)
class BatchAtValues(Result):
    """A derivation at a batch of samples: each sample's numbers (every form) and the batch's, the
    mean or sum over samples of each form. The batch gradient is the reduction of the one symbolic form.

    A leaf that differs per sample (an input or a target: ``per_sample``) has a derivative per sample
    only: the batch's three results are None and ``note`` says why."""

    kind = "batch_at_values"  # the renderers' method for it (see derivchain.result)

    derivation: Derivation
    samples: tuple[DerivationAtValues, ...]
    reduction: str  # mean or sum
    loss: Number
    path_sum: Number | None
    backprop: Number | None
    direct: Number | None
    exact: bool
    per_sample: bool = False
    note: str = ""

    @property
    def digits(self) -> int:
        """The working precision of the numbers not exact: the highest any sample needed."""
        return max(s.digits for s in self.samples)

    @property
    def agree(self) -> bool:
        """True when every sample's three results agree (then so do the batch's, reduced alike)."""
        return all(s.agree for s in self.samples)

    def __repr__(self) -> str:
        shown = "per sample only" if self.per_sample else str(self.backprop)
        return (f"BatchAtValues({self.reduction} over {len(self.samples)} samples: "
                f"d{self.derivation.network.loss_symbol}/d{self.derivation.parameter} = {shown})")


def batch_at_values(d: Derivation, samples, reduction: str = "mean") -> BatchAtValues:
    """Evaluate ``d`` at each sample's values (from :func:`~derivchain.model.values.check_batch`) and reduce."""
    from ..model.values import check_reduction, reduce_numbers

    check_reduction(reduction)
    each = tuple(at_values(d, s) for s in samples)
    exact = all(s.exact for s in each)

    def reduced(key):
        return reduce_numbers([getattr(s, key) for s in each], reduction, exact)

    net, p = d.network, d.parameter
    if p in set(net.inputs) | set(net.targets):
        # Each sample has its own value of p: d Loss/d p is a number per sample, and their mean or sum is
        # the derivative of no quantity (there is no one p to move).
        note = (f"Each sample has its own {p}, so d{net.loss_symbol}/d{p} has a value per sample only; "
                f"their {reduction} would be the derivative of nothing, so no batch value is given.")
        return BatchAtValues(d, each, reduction, reduced("loss"), None, None, None, exact, True, note)
    return BatchAtValues(d, each, reduction, reduced("loss"), reduced("path_sum"), reduced("backprop"), reduced("direct"), exact)
