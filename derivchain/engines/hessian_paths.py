"""Pairs of paths: d2Loss/(dP dQ) as a sum over pairs (a path from P, a path from Q) that meet at a node.

The second-order chain rule on a graph (Bishop's exact Hessian, written per pair of paths): where a path
from P reaching ``a`` and a path from Q reaching ``b`` meet at a node v that reads a and b, the pair
contributes the product of their two chains, times v's second derivative d2v/(da db) (for a neuron
f''(z) * dz/da * dz/db, the curvature, plus f'(z) * d2z/(da db), 1 where one path brings a weight's
source and the other is that weight), times the gradient arriving at v, dLoss/dv (the sum over the
paths from v to the loss, which the two share). At the loss itself the second derivative is the loss's
curvature d2Loss/(dOut_i dOut_j) and nothing arrives (1). A path may be empty: P itself, read by v.

Pairs are counted by dynamic programming (paths from each leaf to each node), listed lazily in a fixed
order (meeting node, then what it reads from each side, then each side's paths in ``paths`` order), and
summed term by term up to ``ENUMERATE_LIMIT`` pairs; past it the same sum grouped by meeting node, each
side's chains summed once per node (d(node)/dP, forward).
"""

from __future__ import annotations

from itertools import islice
from typing import Iterator

import sympy as sp

from .. import memo
from ..record import record
from ..symbolic.build import add, cancel_opposites, mul
from .curvature import curvature, inner_second, loss_second, mixed_reads, node_second, reads_of, second_at
from .forms import Form
from .paths import DEFAULT_MAX_PATHS, ENUMERATE_LIMIT, Factor, _edge_factor, suffix_sums
from ..model.network import Network


@record(repr=False)
class PathPair:
    """One pair: ``first`` (P's path, P first, the meeting node last) and ``second`` (Q's), each with its
    chain of partials (from the node read at the meeting back to the leaf; empty where the meeting node
    reads the leaf itself), the meeting node's second derivative in what it reads, and the gradient arriving there."""

    first: tuple[sp.Symbol, ...]
    second: tuple[sp.Symbol, ...]
    meet: sp.Symbol
    first_factors: tuple[Factor, ...]
    second_factors: tuple[Factor, ...]
    curvature: sp.Expr  # d2(meet)/(da db), a and b the nodes read: first[-2], second[-2]
    arriving: sp.Expr  # dLoss/d(meet): the sum over the paths from the meeting node to the loss (1 at the loss)

    @property
    def term(self) -> sp.Expr:
        """The pair's contribution: both chains, the second derivative where they meet, the gradient arriving."""
        # (1 - Out)**2/(Out - 1)**2 cancelled: the chains' activation derivatives against a curvature SymPy's factor wrote
        return cancel_opposites(mul(*(f.value for f in self.first_factors), *(f.value for f in self.second_factors),
                                    self.curvature, self.arriving))

    def arrow(self, which: int) -> str:
        """``W1 -> H1 -> H4 -> Out`` for the first path (``which`` 0) or the second (1)."""
        return " -> ".join(s.name for s in (self.first if which == 0 else self.second))

    def partials(self, loss: sp.Symbol) -> str:
        """``dH4/dH1 * dH1/dW1 * dOut/dW13 ... * d2Out/(dH4 dW13) * dLoss/dOut``: the term's factors by name."""
        a, b = self.first[-2], self.second[-2]
        names = [str(f) for f in self.first_factors] + [str(f) for f in self.second_factors]
        m = self.meet.name
        names.append(f"d2{m}/d{a.name}^2" if a == b else f"d2{m}/(d{a.name} d{b.name})")  # as the title: dW5^2, not dW52
        if self.meet != loss:
            names.append(f"d{loss.name}/d{m}")
        return " * ".join(names)

    def __repr__(self) -> str:
        return f"PathPair({self.arrow(0)} | {self.arrow(1)})"


@record(repr=False)
class PairSum(Form):
    """d2Loss/(dP dQ) as the sum over its pairs of paths; ``pairs`` holds those listed (at most ``max_paths``)."""

    count: int = 0
    pairs: tuple[PathPair, ...] = ()
    enumerated: bool = True
    second_parameter: sp.Symbol | None = None

    @property
    def listed_all(self) -> bool:
        """True when every pair is listed."""
        return len(self.pairs) == self.count


def prefix_counts(network: Network, leaf: sp.Symbol) -> dict[sp.Symbol, int]:
    """The number of paths from ``leaf`` to each node (reading it directly counts one per read), once per leaf."""
    def make():
        counts: dict[sp.Symbol, int] = {}
        for n in network.neurons:  # topological order
            counts[n.symbol] = sum(1 if r == leaf else counts.get(r, 0) for r in n.reads)
        return counts
    return network.memos[memo.PREFIX_COUNTS].lookup(leaf, make)


def _count(network: Network, leaf: sp.Symbol, x: sp.Symbol) -> int:
    return 1 if x == leaf else prefix_counts(network, leaf).get(x, 0)


def _factor(network: Network, to: sp.Symbol, frm: sp.Symbol) -> Factor:
    node = network.neuron_by_symbol[to]
    return _edge_factor(network, node, node.inner_partial(frm), frm)


def prefix_sums(network: Network, leaf: sp.Symbol) -> dict[sp.Symbol, sp.Expr]:
    """d(node)/d(leaf) for each node the leaf reaches: the sum over the paths from the leaf to it (forward), once per leaf."""
    def make():
        counts = prefix_counts(network, leaf)
        sums: dict[sp.Symbol, sp.Expr] = {leaf: sp.S.One}
        for n in network.neurons:
            if counts[n.symbol]:
                sums[n.symbol] = add(*(mul(_factor(network, n.symbol, r).value, sums[r]) for r in n.reads if r in sums))
        return sums
    return network.memos[memo.PREFIX_SUMS].lookup(leaf, make)


def iter_prefixes(network: Network, leaf: sp.Symbol, target: sp.Symbol) -> Iterator[tuple[tuple, tuple]]:
    """Each path from ``leaf`` to ``target`` (the leaf itself where they are one): (its nodes, leaf first;
    its factors, from the target back to the leaf), in a fixed order."""
    if target == leaf:
        yield (leaf,), ()
        return
    node = network.neuron_by_symbol.get(target)
    if node is None:
        return
    for r in node.reads:
        if _count(network, leaf, r):
            f = _factor(network, target, r)
            for nodes, factors in iter_prefixes(network, leaf, r):
                yield nodes + (target,), (f,) + factors


def _meetings(network: Network) -> tuple[sp.Symbol, ...]:
    """Every node in order, then the loss: where two paths can meet."""
    return tuple(n.symbol for n in network.neurons) + (network.loss_symbol,)


def _arriving(network: Network, meet: sp.Symbol) -> sp.Expr:
    return sp.S.One if meet == network.loss_symbol else suffix_sums(network)[meet]


def _mixed(network: Network, meet: sp.Symbol, a: sp.Symbol) -> tuple[sp.Symbol, ...]:
    """The reads b with a second derivative in (a, b) beyond the curvature term."""
    if meet == network.loss_symbol:
        held = network.loss_partial(a).free_symbols
        return tuple(b for b in network.uses_of_loss if b in held)
    return mixed_reads(network.neuron_by_symbol[meet], a)


def _bent(network: Network, meet: sp.Symbol) -> bool:
    """True where the meeting node has a curvature term (f'' not 0): every pair of its reads may meet."""
    return meet != network.loss_symbol and curvature(network, network.neuron_by_symbol[meet]) != 0


def _read_pairs(network: Network, p: sp.Symbol, q: sp.Symbol, meet: sp.Symbol) -> Iterator[tuple[sp.Symbol, sp.Symbol]]:
    """(a, b): a reached from p, b from q, both read by ``meet``, with a second derivative not known to be 0."""
    reads = reads_of(network, meet)
    bent = _bent(network, meet)
    node = network.neuron_by_symbol.get(meet)
    for a in reads:
        if not _count(network, p, a) or (bent and node.inner_partial(a) == 0):
            continue
        mixed = set(_mixed(network, meet, a))
        for b in reads:
            if not _count(network, q, b):
                continue
            # With a curvature term every pair whose z reads both counts (f''*dz/da*dz/db); without one,
            # the few mixed pairs are counted only where their second derivative is not 0.
            if (bent and node.inner_partial(b) != 0) or (not bent and b in mixed and second_at(network, meet, a, b) != 0):
                yield a, b


def count_pairs(network: Network, p: sp.Symbol, q: sp.Symbol) -> int:
    """The number of pairs of paths from p and q, without listing them."""
    return sum(_count(network, p, a) * _count(network, q, b) for meet in _meetings(network) for a, b in _read_pairs(network, p, q, meet))


def iter_pairs(network: Network, p: sp.Symbol, q: sp.Symbol) -> Iterator[PathPair]:
    """Every pair of paths, lazily, in a fixed order; pairs whose second derivative is 0 are skipped."""
    for meet in _meetings(network):
        for a, b in _read_pairs(network, p, q, meet):
            c = second_at(network, meet, a, b)
            arriving = _arriving(network, meet)
            for nodes_a, fa in iter_prefixes(network, p, a):
                for nodes_b, fb in iter_prefixes(network, q, b):
                    yield PathPair(nodes_a + (meet,), nodes_b + (meet,), meet, fa, fb, c, arriving)


def _grouped(network: Network, p: sp.Symbol, q: sp.Symbol) -> sp.Expr:
    """The sum of every pair's term grouped by meeting node: at a node, dLoss/dv * (f'' * (sum_a dz/da * da/dP) *
    (sum_b dz/db * db/dQ) + f' * sum d2z/(da db) * da/dP * db/dQ); at the loss, its curvature between the sums."""
    sp_, sq = prefix_sums(network, p), prefix_sums(network, q)
    terms = []
    for meet in _meetings(network):
        reads = reads_of(network, meet)
        pa = [a for a in reads if a in sp_]
        qb = [b for b in reads if b in sq]
        if not pa or not qb:
            continue
        inner = []
        if meet == network.loss_symbol:
            for a in pa:
                for b in _mixed(network, meet, a):
                    if b in sq:
                        inner.append(mul(loss_second(network, a, b), sp_[a], sq[b]))
        else:
            node = network.neuron_by_symbol[meet]
            f2 = curvature(network, node)
            if f2 != 0:
                inner.append(mul(f2, add(*(mul(node.inner_partial(a), sp_[a]) for a in pa)),
                                 add(*(mul(node.inner_partial(b), sq[b]) for b in qb))))
            mixed = [mul(inner_second(node, a, b), sp_[a], sq[b]) for a in pa for b in _mixed(network, meet, a) if b in sq]
            if mixed:
                d = node.derivative()
                inner.append(add(*mixed) if d == 1 else mul(d, add(*mixed)))
        if inner:
            terms.append(mul(add(*inner), _arriving(network, meet)))
    return add(*terms)


def sum_over_pairs(network: Network, p: sp.Symbol, q: sp.Symbol, max_paths: int = DEFAULT_MAX_PATHS) -> PairSum:
    """d2Loss/(dp dq) as the sum over pairs of paths; the first ``max_paths`` pairs listed (listing only)."""
    total = count_pairs(network, p, q)
    listed = tuple(islice(iter_pairs(network, p, q), max_paths))
    if total <= ENUMERATE_LIMIT:
        every = listed if len(listed) == total else tuple(iter_pairs(network, p, q))
        local = add(*(pair.term for pair in every))
        how = f"the {total} pair term{'s' if total != 1 else ''} added up"
    else:
        local = _grouped(network, p, q)
        how = f"all {total} pairs, grouped by meeting node (each side's paths summed once per node)"
    return PairSum("path pairs", p, local, network.substitute(local), how, count=total, pairs=listed,
                   enumerated=total <= ENUMERATE_LIMIT, second_parameter=q)
