"""Sum over paths: every path from a parameter to the loss, the chain of local partials along it.

Paths are counted by dynamic programming (no enumeration) and enumerated lazily, in a fixed order:
successors in neuron order, so the same network always gives the same paths.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice
from typing import Iterator

import sympy as sp

from .form import Form
from .network import Network, Neuron

#: Paths listed (for display) by default. Listing only: it never changes how the sum is taken.
DEFAULT_MAX_PATHS = 1000
#: Up to this many paths the sum is their terms added one by one, as by hand; past it the same sum is
#: accumulated by suffix (each shared tail once). A fixed size, independent of how many are listed.
ENUMERATE_LIMIT = 32


@dataclass(frozen=True, repr=False)
class Factor:
    """One local partial derivative d(numerator)/d(denominator) and its value in neuron symbols."""

    numerator: sp.Symbol
    denominator: sp.Symbol
    value: sp.Expr

    def __str__(self) -> str:
        return f"d{self.numerator.name}/d{self.denominator.name}"

    def __repr__(self) -> str:
        return f"Factor({self} = {self.value})"



@dataclass(frozen=True, repr=False)
class Path:
    """One path, parameter first and ``Loss`` last; its factors run from the loss back to the parameter.

    The factors are in the order both sources write the chain rule
    (dLoss/dOut * dOut/dH4 * dH4/dW7): each factor's denominator is the next one's numerator.
    """

    nodes: tuple[sp.Symbol, ...]
    factors: tuple[Factor, ...]

    @property
    def term(self) -> sp.Expr:
        """The path's contribution: the product of its factors' values."""
        return sp.Mul(*(f.value for f in self.factors))

    def arrow(self) -> str:
        """``W1 -> H1 -> H4 -> Out -> Loss``."""
        return " -> ".join(s.name for s in self.nodes)

    def __repr__(self) -> str:
        return f"Path({self.arrow()})"



@dataclass(frozen=True, repr=False)
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


def count_paths(network: Network, parameter: str | sp.Symbol) -> int:
    """Number of paths from ``parameter`` (a name or a symbol) to the loss, without enumerating them."""
    parameter = network.parameter(parameter if isinstance(parameter, str) else parameter.name)
    counts = network.cache.get("path_counts")
    if counts is None:  # paths from each neuron to the loss, by dynamic programming, once per network
        counts = {}
        for n in reversed(network.neurons):
            counts[n.symbol] = int(n.is_output) + sum(counts[s.symbol] for s, _ in network.successors.get(n.symbol, ()))
        network.cache["path_counts"] = counts
    _, target = network.edges[parameter]
    return counts[target.symbol]


def _entry_factor(network: Network, parameter: sp.Symbol) -> Factor:
    source, target = network.edges[parameter]
    value = target.derivative() * (source if source is not None else sp.Integer(1))
    return Factor(target.symbol, parameter, value)


def _edge_factor(network: Network, to: Neuron, weight: sp.Symbol, frm: sp.Symbol) -> Factor:
    # Edges are shared by many paths and many parameters: each Factor is built once per network.
    cache = network.cache.setdefault("edge_factors", {})
    hit = cache.get(weight)
    if hit is None:
        hit = cache[weight] = Factor(to.symbol, frm, to.derivative() * weight)
    return hit


def iter_paths(network: Network, parameter: str | sp.Symbol) -> Iterator[Path]:
    """Yield every path from ``parameter`` (a name or a symbol) to the loss, lazily, in a deterministic order."""
    parameter = network.parameter(parameter if isinstance(parameter, str) else parameter.name)
    _, first = network.edges[parameter]

    def walk(neuron: Neuron, nodes: tuple[sp.Symbol, ...], factors: tuple[Factor, ...]) -> Iterator[Path]:
        # ``factors`` grow from the parameter outwards; a Path stores them from the loss back.
        if neuron.is_output:
            last = Factor(network.loss_symbol, neuron.symbol, network.loss_derivative(neuron))
            yield Path(nodes + (network.loss_symbol,), (last,) + tuple(reversed(factors)))
        for nxt, w in network.successors.get(neuron.symbol, ()):
            yield from walk(nxt, nodes + (nxt.symbol,), factors + (_edge_factor(network, nxt, w, neuron.symbol),))

    yield from walk(first, (parameter, first.symbol), (_entry_factor(network, parameter),))


@dataclass(frozen=True, repr=False)
class PathListing:
    """The paths of one parameter: how many there are (counted, not enumerated) and the first ones listed."""

    network: Network
    parameter: sp.Symbol
    count: int
    paths: tuple[Path, ...]

    def __repr__(self) -> str:
        return f"PathListing({self.parameter}: {self.count} paths, {len(self.paths)} listed)"


def list_paths(network: Network, parameter: str | sp.Symbol, max_paths: int = DEFAULT_MAX_PATHS) -> PathListing:
    """Count the paths of ``parameter`` and list the first ``max_paths`` of them."""
    symbol = network.parameter(parameter if isinstance(parameter, str) else parameter.name)
    return PathListing(network, symbol, count_paths(network, symbol), tuple(islice(iter_paths(network, symbol), max_paths)))


def suffix_sums(network: Network) -> dict[sp.Symbol, sp.Expr]:
    """For each neuron n, the sum over all paths from n to the loss of their factors after n.

    Grouped by the output o each path ends at, so dLoss/dOut_o appears once:
    suffix(n) = sum_o dLoss/dOut_o * P_o(n), with P_o(o) = 1 and P_o(n) = sum over edges n -> k of
    (dk/dn) * P_o(k): every shared tail is added once. Computed once per network.
    """
    cached = network.cache.get("suffix_sums")
    if cached is not None:
        return cached
    to_output: dict[sp.Symbol, dict[sp.Symbol, sp.Expr]] = {}
    for o in network.outputs:
        chains: dict[sp.Symbol, sp.Expr] = {}
        for n in reversed(network.neurons):
            terms = [sp.S.One] if n is o else []
            terms += [_edge_factor(network, k, w, n.symbol).value * chains[k.symbol] for k, w in network.successors.get(n.symbol, ())]
            chains[n.symbol] = sp.Add(*terms)
        to_output[o.symbol] = chains
    suffix = {
        n.symbol: sp.Add(*(network.loss_derivative(o) * to_output[o.symbol][n.symbol] for o in network.outputs))
        for n in network.neurons
    }
    network.cache["suffix_sums"] = suffix
    return suffix


def sum_over_paths(network: Network, parameter: sp.Symbol, max_paths: int = DEFAULT_MAX_PATHS) -> PathSum:
    """The sum over the paths of ``parameter``; the first ``max_paths`` are listed (listing only)."""
    total = count_paths(network, parameter)
    listed = tuple(islice(iter_paths(network, parameter), max_paths))
    if total <= ENUMERATE_LIMIT:
        every = listed if len(listed) == total else tuple(iter_paths(network, parameter))
        local = sp.Add(*(p.term for p in every))
        how = f"the {total} path term{'s' if total != 1 else ''} added up"
    else:
        _, target = network.edges[parameter]
        local = _entry_factor(network, parameter).value * suffix_sums(network)[target.symbol]
        how = f"all {total} paths, accumulated by suffix (each shared tail added once)"
    return PathSum("path sum", parameter, local, network.substitute(local), how,
                   count=total, paths=listed, enumerated=total <= ENUMERATE_LIMIT)
