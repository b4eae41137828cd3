"""Sum over paths: every path from a parameter to the loss, the chain of local partials along it.

Paths are counted by dynamic programming (no enumeration) and enumerated lazily, in a fixed order:
successors in neuron order, so the same network always gives the same paths.
"""

from __future__ import annotations

from dataclasses import field
from itertools import islice
from typing import Iterator

import sympy as sp

from .. import memo
from ..record import record
from ..result import Result
from ..symbolic.build import add, mul, sorted_product
from .forms import Form
from ..model.network import Network
from ..model.nodes import Node

#: Paths listed (for display) by default. Listing only: it never changes how the sum is taken.
DEFAULT_MAX_PATHS = 1000
#: Up to this many paths the sum is their terms added one by one, as by hand; past it the same sum is
#: accumulated by suffix (each shared tail once). A fixed size, independent of how many are listed.
ENUMERATE_LIMIT = 32


@record(repr=False)
class Factor:
    """One local partial derivative d(numerator)/d(denominator) and its value in neuron symbols."""

    numerator: sp.Symbol
    denominator: sp.Symbol
    value: sp.Expr

    def __str__(self) -> str:
        return f"d{self.numerator.name}/d{self.denominator.name}"

    def __repr__(self) -> str:
        return f"Factor({self} = {self.value})"



@record(repr=False)
class Path:
    """One path, the leaf first and ``Loss`` last; its factors run from the loss back to the leaf.

    The factors are in the order both sources write the chain rule
    (dLoss/dOut * dOut/dH4 * dH4/dW7): each factor's denominator is the next one's numerator. A leaf
    with several uses (a shared weight) starts paths at each; ``shared`` makes the arrow say which.
    """

    nodes: tuple[sp.Symbol, ...]
    factors: tuple[Factor, ...]
    shared: bool = False

    @property
    def term(self) -> sp.Expr:
        """The path's contribution: the product of its factors' values."""
        return mul(*(f.value for f in self.factors))

    @property
    def use(self) -> sp.Symbol:
        """The node whose use of the leaf starts this path (``Loss`` where the loss reads it directly)."""
        return self.nodes[1]

    def arrow(self) -> str:
        """``W1 -> H1 -> H4 -> Out -> Loss``; a shared leaf's use named: ``U@h2 -> h2 -> o -> Loss``."""
        names = [s.name for s in self.nodes]
        if self.shared:
            names[0] = f"{names[0]}@{names[1]}"
        return " -> ".join(names)

    def __repr__(self) -> str:
        return f"Path({self.arrow()})"


@record(repr=False)
class PathSum(Form):
    """dLoss/dparameter as the sum of its path terms, in neuron symbols and fully substituted.

    ``paths`` holds the paths listed for display (at most ``max_paths``); listing never changes the
    sum. Up to ``ENUMERATE_LIMIT`` paths, ``local`` is every path's term added up, as done by hand
    (``enumerated``); past it, the same sum accumulated by suffix (each shared tail summed once).
    """

    count: int = 0
    paths: tuple[Path, ...] = ()
    enumerated: bool = True

    @property
    def listed_all(self) -> bool:
        """True when every path is listed."""
        return len(self.paths) == self.count


def _leaf(network: Network, leaf: str | sp.Symbol) -> sp.Symbol:
    return network.parameter(leaf if isinstance(leaf, str) else leaf.name)


def _counts(network: Network) -> dict[sp.Symbol, int]:
    """Paths from each node to the loss, by dynamic programming, once per network."""
    return network.memos.value(memo.PATH_COUNTS, lambda: _count(network))


def _count(network: Network) -> dict[sp.Symbol, int]:
    counts: dict[sp.Symbol, int] = {}
    for n in reversed(network.neurons):
        counts[n.symbol] = int(n.is_output) + sum(counts[s.symbol] for s, _ in network.successors.get(n.symbol, ()))
    return counts


def count_paths(network: Network, parameter: str | sp.Symbol) -> int:
    """Number of paths from a leaf (a name or a symbol) to the loss, over all its uses, without enumerating them."""
    counts = _counts(network)
    return sum(1 if use is None else counts[use.symbol] for use in network.uses.get(_leaf(network, parameter), ()))


def _entry_factor(network: Network, leaf: sp.Symbol, use: Node | None) -> Factor:
    # d(use)/d(leaf): the node's local partial (f'(z) * the weight's source for a neuron); the loss's own for the loss.
    if use is None:
        return Factor(network.loss_symbol, leaf, network.loss_partial(leaf))
    return Factor(use.symbol, leaf, use.partial(leaf))


def _edge_factor(network: Network, to: Node, coefficient: sp.Expr, frm: sp.Symbol) -> Factor:
    # Edges are shared by many paths and many parameters: each Factor is built once per network.
    cache = network.memos[memo.EDGE_FACTORS]
    key = (to.symbol, frm)
    hit = cache.get(key)
    if hit is None:
        d = to.derivative()
        hit = cache[key] = Factor(to.symbol, frm, coefficient if d == 1 else mul(d, coefficient))
    return hit


def iter_paths(network: Network, parameter: str | sp.Symbol) -> Iterator[Path]:
    """Yield every path from a leaf (a name or a symbol) to the loss, use by use, lazily, in a deterministic order."""
    leaf = _leaf(network, parameter)
    uses = network.uses.get(leaf, ())
    shared = len(uses) > 1

    def walk(neuron: Node, nodes: tuple[sp.Symbol, ...], factors: tuple[Factor, ...]) -> Iterator[Path]:
        # ``factors`` grow from the leaf outwards; a Path stores them from the loss back.
        if neuron.is_output:
            last = Factor(network.loss_symbol, neuron.symbol, network.loss_derivative(neuron))
            yield Path(nodes + (network.loss_symbol,), (last,) + tuple(reversed(factors)), shared)
        for nxt, coefficient in network.successors.get(neuron.symbol, ()):
            yield from walk(nxt, nodes + (nxt.symbol,), factors + (_edge_factor(network, nxt, coefficient, neuron.symbol),))

    try:
        for use in uses:
            entry = _entry_factor(network, leaf, use)
            if use is None:
                yield Path((leaf, network.loss_symbol), (entry,), shared)
            else:
                yield from walk(use, (leaf, use.symbol), (entry,))
    finally:
        del walk  # the recursive closure refers to itself: freed now, not by the cyclic collector


@record(repr=False)
class PathListing(Result):
    """The paths of one parameter: how many there are (counted, not enumerated) and the first ones listed."""

    kind = "paths"  # the renderers' method for it (see derivchain.result)

    network: Network
    parameter: sp.Symbol
    count: int
    paths: tuple[Path, ...]
    # Each listed path's chain (partials = factors in path order = term), verified; None until the verifier
    # has checked them (verification.listing.list_paths): what the renderers print of each path.
    chains: tuple | None = field(default=None, compare=False, repr=False)

    def __repr__(self) -> str:
        return f"PathListing({self.parameter}: {self.count} path{'' if self.count == 1 else 's'}, {len(self.paths)} listed)"


def list_paths(network: Network, parameter: str | sp.Symbol, max_paths: int = DEFAULT_MAX_PATHS) -> PathListing:
    """Count the paths of ``parameter`` and list the first ``max_paths`` of them."""
    symbol = _leaf(network, parameter)
    return PathListing(network, symbol, count_paths(network, symbol), tuple(islice(iter_paths(network, symbol), max_paths)))


def suffix_sums(network: Network) -> dict[sp.Symbol, sp.Expr]:
    """For each neuron n, the sum over all paths from n to the loss of their factors after n.

    Grouped by the output o each path ends at, so dLoss/dOut_o appears once:
    suffix(n) = sum_o dLoss/dOut_o * P_o(n), with P_o(o) = 1 and P_o(n) = sum over edges n -> k of
    (dk/dn) * P_o(k): every shared tail is added once. Computed once per network.
    """
    return network.memos.value(memo.SUFFIX_SUMS, lambda: _suffix_sums(network))


def _suffix_sums(network: Network) -> dict[sp.Symbol, sp.Expr]:
    to_output: dict[sp.Symbol, dict[sp.Symbol, sp.Expr]] = {}
    for o in network.outputs:
        chains: dict[sp.Symbol, sp.Expr] = {}
        for n in reversed(network.neurons):
            terms = [sp.S.One] if n is o else []
            # mul and add: SymPy's own product and sum, built without its flatten where nothing combines
            # (a 64-64-64-64-1 network's 12,000 edge terms took a second to evaluate one by one). A successor
            # with no path to o adds nothing (most of them in a batch: another row's): not multiplied by 0.
            terms += [mul(_edge_factor(network, k, c, n.symbol).value, chains[k.symbol]) for k, c in network.successors.get(n.symbol, ())
                      if chains[k.symbol] is not sp.S.Zero]
            chains[n.symbol] = add(*terms)
        to_output[o.symbol] = chains
    # The network's copies (interned): a delta value equal to a suffix's subtree, interned first (a table
    # verifies its delta equations before its rows), is then the same object, not an equal tree that every
    # SymPy cache lookup and == of the rows compares node by node (600 rows of 64-64-64-64-1: 1.6x slower).
    return {n.symbol: network.intern(sp.Add(*(network.loss_derivative(o) * to_output[o.symbol][n.symbol] for o in network.outputs
                                              if to_output[o.symbol][n.symbol] is not sp.S.Zero)))
            for n in network.neurons}


def _term(network: Network, path: Path, leaf: sp.Symbol) -> sp.Expr:
    """``path.term``, the same product: what every leaf into the same neuron by the same tail shares (f'(z)
    and the factors after it) multiplied once per network, then the leaf's source sorted into it (a few
    comparisons, where multiplying the path's factors afresh sorts them all again for every weight)."""
    *tail, entry = path.factors
    use = network.neuron_by_symbol.get(entry.numerator)
    if use is None:  # the loss reads the leaf itself
        return path.term
    source = use.inner_partial(leaf)
    if type(source) is not sp.Symbol:  # a bias, a weight shared within the neuron: as it stands
        return path.term
    cache = network.memos[memo.PATH_RESTS]
    key = path.nodes[1:]
    rest = cache.get(key)
    if rest is None:
        rest = cache[key] = sorted_product(use.derivative(), *(f.value for f in tail)) or False
    # The entry factor is derivative() * source (Node.partial; f'(z) * source for a neuron); with every
    # factor plain and no base twice, both products are the one sorted list of all the factors, so equal to path.term.
    term = sorted_product(rest, source) if rest is not False else None
    return path.term if term is None else term


def sum_over_paths(network: Network, parameter: sp.Symbol, max_paths: int = DEFAULT_MAX_PATHS) -> PathSum:
    """The sum over the paths of a leaf, every use included; the first ``max_paths`` are listed (listing only)."""
    total = count_paths(network, parameter)
    listed = tuple(islice(iter_paths(network, parameter), max_paths))
    if total <= ENUMERATE_LIMIT:
        every = listed if len(listed) == total else tuple(iter_paths(network, parameter))
        local = add(*(_term(network, p, parameter) for p in every))
        how = f"the {total} path term{'s' if total != 1 else ''} added up"
    else:
        suffix = suffix_sums(network)
        local = sp.Add(*(mul(_entry_factor(network, parameter, use).value, sp.S.One if use is None else suffix[use.symbol])
                         for use in network.uses.get(parameter, ())))
        how = f"all {total} paths, accumulated by suffix (each shared tail added once)"
    return PathSum("path sum", parameter, local, network.substitute(local), how,
                   count=total, paths=listed, enumerated=total <= ENUMERATE_LIMIT)
