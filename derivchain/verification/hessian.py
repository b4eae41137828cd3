"""d2Loss/(dP dQ) derived three ways (direct, pairs of paths, second-order backprop) and verified."""

from __future__ import annotations

from functools import cached_property

import sympy as sp

from .. import limits, memo
from ..record import record
from ..result import Result
from ..engines.forms import Form
from ..engines.hessian_direct import direct_second
from ..engines.hessian_paths import PairSum, sum_over_pairs
from ..engines.paths import DEFAULT_MAX_PATHS
from ..engines.r_operator import ROperator, r_operator
from ..model.network import Network
from ..symbolic.rules import rule_for
from ..symbolic.sizes import tree_size
from .compare import Verdict, verify

#: Largest direct form (in nodes) printed fully substituted; past it whole neurons are written as their symbols,
#: when the substituted form is at most SHOW_COMPACT_SOURCE nodes and the compacted one SHOW_COMPACT_NODES (as grad).
SHOW_FULL_NODES = 160
SHOW_COMPACT_SOURCE = 50_000
SHOW_COMPACT_NODES = 2000


@record(repr=False)
class HessianEntry(Result):
    """d2Loss/(dP dQ): the pairs of paths and their sum, the R-operator form, the direct form and the verdict."""

    kind = "hessian"  # the renderers' method for it (see derivchain.result)

    network: Network
    first: sp.Symbol
    second: sp.Symbol
    path_pairs: PairSum
    backprop: ROperator
    direct: Form
    verdict: Verdict

    @property
    def parameters(self) -> tuple[sp.Symbol, sp.Symbol]:
        """(P, Q)."""
        return (self.first, self.second)

    @property
    def pairs(self):
        """The pairs of paths listed (at most the display cap)."""
        return self.path_pairs.pairs

    @property
    def pair_count(self) -> int:
        """Every pair of paths, counted."""
        return self.path_pairs.count

    @cached_property
    def lhs(self) -> sp.Expr:
        """d2Loss/(dP dQ) as an unevaluated derivative."""
        if self.first == self.second:
            return sp.Derivative(self.network.loss_symbol, (self.first, 2))
        return sp.Derivative(self.network.loss_symbol, self.first, self.second)

    @cached_property
    def direct_shown(self) -> tuple[sp.Expr | None, bool, Verdict | None]:
        """What is printed of the direct form: (the form, True when in full, the check of a compacted form).
        Past ``SHOW_FULL_NODES`` nodes, with whole neurons written as their symbols, verified equal to the full
        form; past the compacting limits, None (not printed; the verdict compares it in full)."""
        full = self.direct.local
        if tree_size(full, SHOW_FULL_NODES) <= SHOW_FULL_NODES:
            return full, True, None
        if tree_size(full, SHOW_COMPACT_SOURCE, self.network.sizes()) > SHOW_COMPACT_SOURCE:
            return None, False, None  # past compacting (minutes on a wide network): not printed
        with memo.working_for(self.network):
            compact = self.network.compact_canonical(full)
            if tree_size(compact, SHOW_COMPACT_NODES) > SHOW_COMPACT_NODES:
                return None, False, None
            checked = verify({"direct": full, "shown": self.network.substitute(compact)})
        return compact, False, checked

    @property
    def notes(self) -> tuple[str, ...]:
        """The conventions at non-differentiable points for second derivatives (from the rule table)."""
        return second_notes(self.network)

    def __repr__(self) -> str:
        noun = "pair" if self.pair_count == 1 else "pairs"
        return (f"HessianEntry(d2{self.network.loss_symbol}/(d{self.first} d{self.second}): {self.pair_count} {noun}, "
                f"{self.verdict.word})")


def second_notes(network: Network) -> tuple[str, ...]:
    """Each function with a kink that the network's equations or loss call, its second-derivative convention, once."""
    def make():
        written = [n.equation for n in network.neurons] + [network.loss_local]
        called = {rule.name: rule for e in written for node in sp.preorder_traversal(e)
                  if (rule := rule_for(node)) is not None and rule.second}
        return tuple(called[name].second for name in sorted(called))
    return network.memos[memo.SECOND_NOTES].lookup(None, make)


def derive_hessian(network: Network, first: str | sp.Symbol, second: str | sp.Symbol,
                   max_paths: int = DEFAULT_MAX_PATHS) -> HessianEntry:
    """d2Loss/(dfirst dsecond) by direct differentiation, pairs of paths and the R-operator, verified equal.

    At most ``max_paths`` pairs are listed; past ``ENUMERATE_LIMIT`` the pair sum is grouped by meeting node."""
    p = network.parameter(first if isinstance(first, str) else first.name)
    q = network.parameter(second if isinstance(second, str) else second.name)
    # The pair sum and the R-operator build one expression per edge read; their time grows about with the square
    # of the edges (32 wide, 6 layers: 5,153 edges, 20 s; 48 wide: 11,569, 70 s): refused up front past the limit.
    limits.check("the number of edges", len(network.drawn_edges()), "hessian_edges", f"hessian {p} {q}")
    with memo.working_for(network):
        pairs = sum_over_pairs(network, p, q, max_paths)
        rop = r_operator(network, p, q)
        dr = direct_second(network, p, q)
        verdict = verify({"direct": dr.substituted, "path pairs": pairs.substituted, "backprop": rop.substituted})
    return HessianEntry(network, p, q, pairs, rop, dr, verdict)


@record(repr=False)
class HessianAtValues(Result):
    """A Hessian entry's three forms at numbers (a batch: each form's mean or sum over the samples)."""

    kind = "hessian_at_values"  # the renderers' method for it (see derivchain.result)

    entry: HessianEntry
    direct: object  # a model.values.Number
    path_pairs: object
    backprop: object
    exact: bool
    samples: int = 1
    reduction: str = "mean"

    @property
    def agree(self) -> bool:
        """True when the three numbers agree (exactly, when exact; else to the digits shown)."""
        import mpmath

        from ..model.values import SHOWN, as_mpf

        values = [self.direct.value, self.path_pairs.value, self.backprop.value]
        if self.exact:
            return values[0] == values[1] == values[2]
        numbers = [as_mpf(v) for v in values]
        scale = max(abs(v) for v in numbers)
        return all(abs(v - numbers[0]) <= scale * mpmath.mpf(10) ** -SHOWN for v in numbers)

    def __repr__(self) -> str:
        return f"HessianAtValues({self.entry.lhs} = {self.backprop})"


def hessian_at_values(entry: HessianEntry, samples, reduction: str = "mean") -> HessianAtValues:
    """The entry's three forms at each sample's values (from ``check_batch``), reduced over the samples."""
    from ..model.values import environment, reduce_numbers, value_of

    each = []
    for values in samples:
        env, exact = environment(entry.network, values)
        each.append([value_of(f.local, env, exact) for f in (entry.direct, entry.path_pairs, entry.backprop)])
    exact = all(n.exact for row in each for n in row)
    reduced = [reduce_numbers([row[i] for row in each], reduction, exact) if len(each) > 1 else each[0][i] for i in range(3)]
    return HessianAtValues(entry, *reduced, exact, len(each), reduction)
