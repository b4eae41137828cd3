"""Local second derivatives: an activation's f'', a node's d2(node)/(da db) and the loss's, in neighbour symbols.

Every second derivative comes from the first ones the model already has, differentiated by the rule
table (:func:`derivchain.symbolic.walk.differentiate`): f'' is the derivative of the activation's textbook
f'(z, o) (with do/dz = f'), so relu''= d/dz Heaviside(z, 0) = 0 (the rule's derivative of a jump: 0 away
from the kink, and derivchain's convention at it), sigmoid'' = (1 - 2o)*o*(1 - o).
"""

from __future__ import annotations

import sympy as sp

from .. import memo
from ..symbolic.build import mul
from ..symbolic.walk import differentiate, with_conventions
from ..model.network import Network
from ..model.nodes import Node


def activation_second(node: Node) -> sp.Expr:
    """d2(node)/d(inner)2: f''(z) in z and the node's own symbol, 0 for a node without a pre-activation
    (its value is its inner expression itself: derivative() is 1)."""
    if node.preactivation is None:
        return sp.S.Zero
    z, o = sp.Dummy("z", real=True), sp.Dummy("o", real=True)
    first = node.activation.derivative(z, o)
    # d/dz f'(z, o(z)) = df'/dz + df'/do * f': the textbook f' differentiated by the rule table.
    # Each part multiplied out (sigmoid: 1 - 2*o, not o*(-1) + (1 - o)), as a reader writes it.
    second = with_conventions(sp.Add(sp.expand(differentiate(first, z)), mul(sp.expand(differentiate(first, o)), first)))
    return second.xreplace({z: node.preactivation, o: node.symbol})


def curvature(network: Network, node: Node) -> sp.Expr:
    """:func:`activation_second` of ``node``, once per network."""
    return network.memos[memo.CURVATURES].lookup(node.symbol, lambda: activation_second(node))


def node_second(network: Network, node: Node, a: sp.Symbol, b: sp.Symbol) -> sp.Expr:
    """d2(node)/(da db) in neighbour symbols: f''(z) * dz/da * dz/db + f'(z) * d2z/(da db).

    An expression node's partials may hold its own symbol (sigmoid(u)' = s*(1 - s)*u'): the symbol is a
    function of a and b too, so d/db of a partial adds d/d(node) * d(node)/db."""
    def make():
        za = node.inner_partial(a)
        zab = inner_second(node, a, b)
        first = node.derivative()
        f2 = curvature(network, node)
        bent = sp.S.Zero if f2 == 0 else mul(f2, za, node.inner_partial(b))
        return sp.Add(bent, zab if first == 1 else mul(first, zab))
    return network.memos[memo.SECOND_PARTIALS].lookup((node.symbol, a, b), make)


def inner_second(node: Node, a: sp.Symbol, b: sp.Symbol) -> sp.Expr:
    """d2(inner)/(da db) in neighbour symbols (a neuron's z: 1 for a weight and its source, else 0)."""
    za = node.inner_partial(a)
    zab = differentiate(za, b)
    if node.symbol in za.free_symbols:
        zab = sp.Add(zab, mul(differentiate(za, node.symbol), node.partial(b)))
    return zab


def mixed_reads(node: Node, a: sp.Symbol) -> tuple[sp.Symbol, ...]:
    """The reads b for which d2(inner)/(da db) may be nonzero: those dz/da holds (all, where it holds the node itself)."""
    za = node.inner_partial(a)
    held = za.free_symbols
    return node.reads if node.symbol in held else tuple(b for b in node.reads if b in held)


def loss_second(network: Network, a: sp.Symbol, b: sp.Symbol) -> sp.Expr:
    """d2Loss/(da db) for two symbols the loss reads: its textbook first partial differentiated."""
    return network.memos[memo.SECOND_PARTIALS].lookup((network.loss_symbol, a, b),
                                                      lambda: sp.factor(with_conventions(differentiate(network.loss_partial(a), b))))


def second_at(network: Network, meet: sp.Symbol, a: sp.Symbol, b: sp.Symbol) -> sp.Expr:
    """d2(meet)/(da db): a node's or (``meet`` the loss symbol) the loss's."""
    if meet == network.loss_symbol:
        return loss_second(network, a, b)
    return node_second(network, network.neuron_by_symbol[meet], a, b)


def reads_of(network: Network, meet: sp.Symbol) -> tuple[sp.Symbol, ...]:
    """What a node (or the loss) reads, in order."""
    if meet == network.loss_symbol:
        return network.uses_of_loss
    return network.neuron_by_symbol[meet].reads
