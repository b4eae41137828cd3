"""Sum over paths: every path from a parameter to the loss, the chain of local partials along it.

Paths are counted by dynamic programming (no enumeration) and enumerated lazily, in a fixed order:
successors in neuron order, so the same network always gives the same paths.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import sympy as sp

from .errors import TooManyPathsError
from .network import Network, Neuron

#: Paths enumerated by default before refusing; ``max_paths`` raises it.
DEFAULT_MAX_PATHS = 1000


@dataclass(frozen=True)
class Factor:
    """One local partial derivative d(numerator)/d(denominator) and its value in neuron symbols."""

    numerator: sp.Symbol
    denominator: sp.Symbol
    value: sp.Expr

    def __str__(self) -> str:
        return f"d{self.numerator.name}/d{self.denominator.name}"

    def _latex(self, printer) -> str:
        return printer.partial(self.numerator, self.denominator)


@dataclass(frozen=True)
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

    def _latex(self, printer) -> str:
        return printer.chain(self.factors)


@dataclass(frozen=True)
class PathSum:
    """dLoss/dparameter as the sum of its path terms, in neuron symbols and fully substituted."""

    parameter: sp.Symbol
    paths: tuple[Path, ...]
    local: sp.Expr
    substituted: sp.Expr


def count_paths(network: Network, parameter: sp.Symbol) -> int:
    """Number of paths from ``parameter`` to the loss, without enumerating them."""
    counts: dict[sp.Symbol, int] = {}
    for n in reversed(network.neurons):
        counts[n.symbol] = int(n.is_output) + sum(counts[s.symbol] for s, _ in network.successors.get(n.symbol, ()))
    _, target = network.edges[parameter]
    return counts[target.symbol]


def _entry_factor(network: Network, parameter: sp.Symbol) -> Factor:
    source, target = network.edges[parameter]
    value = target.derivative() * (source if source is not None else sp.Integer(1))
    return Factor(target.symbol, parameter, value)


def _edge_factor(to: Neuron, weight: sp.Symbol, frm: sp.Symbol) -> Factor:
    return Factor(to.symbol, frm, to.derivative() * weight)


def iter_paths(network: Network, parameter: sp.Symbol) -> Iterator[Path]:
    """Yield every path from ``parameter`` to the loss, lazily, in a deterministic order."""
    _, first = network.edges[parameter]

    def walk(neuron: Neuron, nodes: tuple[sp.Symbol, ...], factors: tuple[Factor, ...]) -> Iterator[Path]:
        # ``factors`` grow from the parameter outwards; a Path stores them from the loss back.
        if neuron.is_output:
            last = Factor(network.loss_symbol, neuron.symbol, network.loss_derivative(neuron))
            yield Path(nodes + (network.loss_symbol,), (last,) + tuple(reversed(factors)))
        for nxt, w in network.successors.get(neuron.symbol, ()):
            yield from walk(nxt, nodes + (nxt.symbol,), factors + (_edge_factor(nxt, w, neuron.symbol),))

    yield from walk(first, (parameter, first.symbol), (_entry_factor(network, parameter),))


def sum_over_paths(network: Network, parameter: sp.Symbol, max_paths: int = DEFAULT_MAX_PATHS) -> PathSum:
    """Enumerate the paths of ``parameter`` and sum their terms; refuse past ``max_paths``."""
    total = count_paths(network, parameter)
    if total > max_paths:
        raise TooManyPathsError(
            f"{parameter.name} reaches the loss through {total} paths, more than the limit of "
            f"{max_paths}; raise it with --max-paths {total} (max_paths= in Python)"
        )
    paths = tuple(iter_paths(network, parameter))
    local = sp.Add(*(p.term for p in paths))
    return PathSum(parameter, paths, local, network.substitute(local))
