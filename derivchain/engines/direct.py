"""Direct differentiation: the loss with every output substituted, differentiated as one expression."""

from __future__ import annotations

from functools import cached_property

import sympy as sp

from .. import memo
from ..symbolic.walk import dependency_masks, differentiate, product, sum_of
from .forms import Form
from ..model.network import Network


#: A neuron's dLoss/dz is shared by its weights only when the nodes above z have more arguments
#: than this: below, one derivative per weight costs about as much.
SHARED_ABOVE = 100


class Direct(Form):
    """dLoss/dparameter taken by differentiating the fully substituted loss (no network structure);
    ``local`` is the same expression (direct differentiation never sees neuron symbols).

    ``compared`` is the form the verdict compares; ``value`` the derivative as printed, taken with
    respect to the parameter itself (built when first asked for: a table's rows never print it).
    They are the same expression unless the parameter is read by one neuron's z only, where
    ``compared`` is dz/dw * dLoss/dz (see :func:`direct`); a printed value is checked against it.
    """

    def __init__(self, parameter: sp.Symbol, compared: sp.Expr, written=None, factors=None):
        # ``factors``: (dz/dw, dLoss/dz, z's bit) when ``compared`` is their product, else None.
        for name, value in (("engine", "direct"), ("parameter", parameter), ("how", "the fully substituted loss differentiated"),
                            ("compared", compared), ("_written", written), ("factors", factors)):
            object.__setattr__(self, name, value)

    @cached_property
    def substituted(self) -> sp.Expr:
        """The derivative with respect to the parameter, fully substituted."""
        return self.compared if self._written is None else self._written()

    @cached_property
    def local(self) -> sp.Expr:
        """The same expression (direct differentiation never sees neuron symbols)."""
        return self.substituted

    @property
    def value(self) -> sp.Expr:
        """The derivative, fully substituted."""
        return self.substituted


def direct(network: Network, parameter: sp.Symbol) -> Direct:
    """Differentiate the fully substituted loss with respect to ``parameter`` (any leaf)."""
    masks, nodes = _masks(network)
    node = _inner_node(network, parameter, nodes)
    bit = 1 << network.parameter_index[parameter]
    if node is None:
        written = lambda: differentiate(network.loss_full, parameter, masks, bit)  # noqa: E731
        uses = _inner_nodes(network, parameter, nodes)
        if uses is None:
            return Direct(parameter, written())
        # The same chain rule over several uses (a traced model's weight, read by one neuron per batch row):
        # the parameter occurs only inside those neurons' z's, none inside another, so dLoss/dw is the sum
        # of dz/dw * dLoss/dz over them, each dLoss/dz taken once per neuron for every weight into it.
        return Direct(parameter, sum_of([product([differentiate(z, parameter, masks, bit), neuron_direct(network, z, masks, zbit)])
                                         for z, zbit in uses]), written)
    # The chain rule at the one node that reads the parameter: a weight or bias on one neuron's edge
    # occurs in the substituted loss only inside that neuron's z (checked, see _inner_node), so
    # every node that depends on it does so through z, and dLoss/dw = (dz/dw) * (dLoss/dz) exactly;
    # the second factor is the same for every weight into the neuron, so it is taken once per
    # neuron, not once per weight. This product is the direct form the verdict compares for w.
    z, zbit = node
    inner, outer = _inner_derivative(network, z, parameter, masks, bit), neuron_direct(network, z, masks, zbit)
    compared = product([inner, outer])
    return Direct(parameter, compared, lambda: differentiate(network.loss_full, parameter, masks, bit), (inner, outer, zbit))


def _inner_derivative(network: Network, z: sp.Expr, parameter: sp.Symbol, masks: dict, bit: int) -> sp.Expr:
    """dz/dparameter, as :func:`differentiate` takes it: for a sum, the sum of its terms' derivatives,
    only the terms that contain the parameter visited (found once per neuron, not scanned per weight)."""
    if not z.is_Add:
        return differentiate(z, parameter, masks, bit)
    cache = network.memos[memo.DIRECT_TERMS]
    terms = cache.get(z)
    if terms is None:
        terms = cache[z] = {}
        reads = _own_bits(network)[network.edges[parameter][1].symbol]  # the neuron's own parameters
        for i, a in enumerate(z.args):
            m = masks[a] & reads
            while m:
                low = m & -m
                terms.setdefault(low, []).append(i)
                m ^= low
    return sum_of([differentiate(z.args[i], parameter, masks, bit) for i in terms.get(bit, ())])


def neuron_direct(network: Network, z: sp.Expr, masks: dict, bit: int) -> sp.Expr:
    """d Loss/dz for one neuron's substituted pre-activation ``z`` (a node of the substituted loss), once per network."""
    cache = network.memos[memo.DIRECT_BY_NODE]
    hit = cache.get(bit)
    if hit is None:
        hit = cache[bit] = differentiate(network.loss_full, z, masks, bit)
    return hit


def loss_masks(network: Network) -> dict:
    """Each node of the substituted loss -> the leaves it contains (bit ``network.parameter_index[leaf]``); once per network."""
    return _masks(network)[0]


def _masks(network: Network) -> tuple[dict, dict]:
    """Which leaves and which neurons' substituted pre-activations each node of the loss contains, and
    each neuron symbol -> (its pre-activation node, that node's bit); once per network."""
    return network.memos.value(memo.DEPENDENCY_MASKS, lambda: _dependencies(network))


def _dependencies(network: Network) -> tuple[dict, dict]:
    loss, leaves = network.loss_full, network.leaves
    found = {}
    for n in network.neurons:
        if n.preactivation is not None:  # a node whose delta is taken of z (a neuron)
            found[n.symbol] = network.substitute(n.preactivation)  # interned: the very node inside the loss
    zs = list(dict.fromkeys(z for z in found.values() if not z.is_Symbol))
    masks = dependency_masks(loss, leaves + tuple(zs))
    bits = {z: 1 << (len(leaves) + i) for i, z in enumerate(zs)}
    nodes = {s: (z, bits[z]) for s, z in found.items() if z in bits and z in masks}
    return masks, nodes


def _inner_node(network: Network, parameter: sp.Symbol, nodes: dict) -> tuple[sp.Expr, int] | None:
    """(z, bit) of the one neuron whose pre-activation alone reads ``parameter``, or None (shared, an
    expression node's, the loss's own, an input or a target, or a neuron whose activation reads its
    parameters outside z as well: swish(z) = z*sigmoid(z) is flattened into W1*X2*sigmoid(W1*X2))."""
    edge = network.edges.get(parameter)
    if edge is None or edge[1].symbol not in nodes:  # nodes: those with a pre-activation z
        return None
    checked = network.memos[memo.DIRECT_THROUGH]
    neuron = edge[1].symbol
    if neuron not in checked:
        z, bit = nodes[neuron]
        # Near the loss (few, narrow nodes above z) differentiating per weight is as cheap, and keeps the
        # forms, so small networks' printed verdicts, as they were.
        checked[neuron] = (_only_through(network, z, _own_bits(network)[neuron])
                           and _scanned_above(network.loss_full, _masks(network)[0], {id(z)}, bit) > SHARED_ABOVE)
    return nodes[neuron] if checked[neuron] else None


def _inner_nodes(network: Network, parameter: sp.Symbol, nodes: dict) -> tuple[tuple[sp.Expr, int], ...] | None:
    """(z, bit) of each neuron that reads ``parameter`` when it has several uses, all of them neurons whose
    pre-activations alone read it, none of those z's inside another (checked once per set of uses, for every
    leaf those neurons alone read); None otherwise, or when the nodes above them are few (see :data:`SHARED_ABOVE`)."""
    uses = network.uses.get(parameter, ())
    if len(uses) < 2 or any(u is None or u.symbol not in nodes for u in uses):
        return None
    key = tuple(u.symbol for u in uses)
    checked = network.memos[memo.DIRECT_THROUGH]  # keyed by the uses' symbols (a single neuron's: by its symbol)
    if key not in checked:
        group = set(key)
        masks = _masks(network)[0]
        zs = _distinct(nodes, key)
        bits = 0
        for _, b in zs:
            bits |= b
        own = 0  # the leaves only these neurons read
        for u in uses:
            for leaf in [s for edge in u.sources for s in edge] + [u.bias]:
                if leaf in network.parameter_index and {n.symbol for n in network.uses.get(leaf, ()) if n is not None} <= group \
                        and None not in network.uses.get(leaf, ()):
                    own |= 1 << network.parameter_index[leaf]
        apart = all(not masks[z] & (bits & ~b) for z, b in zs)
        ids = {id(z) for z, _ in zs}
        checked[key] = (apart and _only_through_all(network.loss_full, masks, ids, bits, own)
                        and _scanned_above(network.loss_full, masks, ids, bits) > SHARED_ABOVE)
    return _distinct(nodes, key) if checked[key] else None


def _distinct(nodes: dict, key: tuple) -> tuple[tuple[sp.Expr, int], ...]:
    """The neurons' (z, bit), each z once: two neurons with the same z (X1*W1 into exp and into identity) are
    one node of the substituted loss, whose dLoss/dz already counts every place it is read."""
    return tuple({nodes[s][1]: nodes[s] for s in key}.values())


def _only_through_all(loss: sp.Expr, masks: dict, zs: set, bits: int, own: int) -> bool:
    """Whether every occurrence of the leaves in ``own`` lies inside one of the nodes ``zs`` (their ids;
    ``bits`` their bits): no walk from the loss reaches one without passing through them. (For one z the
    loss's dominator tree answers: :func:`_only_through`; a set of nodes dominating together is no one node.)"""
    if not masks[loss] & bits:
        return False
    seen, stack = set(), [loss]
    while stack:
        e = stack.pop()
        if id(e) in zs or id(e) in seen:
            continue
        seen.add(id(e))
        for a in e.args:
            m = masks[a]
            if m & bits:
                stack.append(a)
            elif m & own:
                return False  # a leaf reached without passing through any of the z's
    return True


def _own_bits(network: Network) -> dict[sp.Symbol, int]:
    """Each neuron -> the bits of the parameters that only its edges and bias read; once per network."""
    return network.memos.value(memo.DIRECT_OWN_BITS, lambda: _parameter_bits(network))


def _parameter_bits(network: Network) -> dict[sp.Symbol, int]:
    bits: dict[sp.Symbol, int] = {}
    for p, (_, n) in network.edges.items():
        bits[n.symbol] = bits.get(n.symbol, 0) | 1 << network.parameter_index[p]
    return bits


def _only_through(network: Network, z: sp.Expr, own: int) -> bool:
    """Whether every occurrence in the substituted loss of the leaves in ``own`` (a bit mask of
    ``network.leaves``) lies inside the node ``z``: whether z dominates each of them (every path from the
    loss to it passes through z)."""
    idom, rank, occurrences = _dominators(network)
    target = id(z)
    if target not in idom:
        return False
    leaves = network.leaves
    while own:
        low = own & -own
        own ^= low
        for node in occurrences.get(leaves[low.bit_length() - 1], ()):
            # Up the dominator tree: z is met before the loss, or z does not dominate this occurrence.
            while node != target and idom[node] != node:
                if rank[node] < rank[target]:  # above z in the order: z cannot be on the way up
                    return False
                node = idom[node]
            if node != target:
                return False
    return True


def _scanned_above(loss: sp.Expr, masks: dict, zs: set, bits: int) -> int:
    """How many arguments the nodes of ``loss`` above the nodes ``zs`` (their ids; ``bits`` their bits) have
    (what differentiating through them scans), counted until past SHARED_ABOVE (all that decides)."""
    seen, stack, scanned = set(), [loss], 0
    while stack and scanned <= SHARED_ABOVE:
        e = stack.pop()
        if id(e) in zs or id(e) in seen:
            continue
        seen.add(id(e))
        scanned += len(e.args)
        stack.extend(a for a in e.args if masks[a] & bits)
    return scanned


def _dominators(network: Network) -> tuple[dict[int, int], dict[int, int], dict[sp.Basic, list[int]]]:
    """The substituted loss's nodes by identity: each one's immediate dominator (the loss its own), each one's
    rank in an order that puts every node after all nodes above it, and each leaf -> its occurrences; once per
    network, in one pass (a walk above every neuron's z scanned the loss once per neuron)."""
    return network.memos.value(memo.DOMINATORS, lambda: _dominator_tree(network.loss_full))


def _dominator_tree(root: sp.Expr) -> tuple[dict[int, int], dict[int, int], dict[sp.Basic, list[int]]]:
    # Depth first without recursion (deep networks), each node's arguments in turn; its predecessors noted.
    preds: dict[int, list[int]] = {id(root): []}
    occurrences: dict[sp.Basic, list[int]] = {}
    post: list[int] = []
    stack = [(root, iter(root.args))]
    while stack:
        e, args = stack[-1]
        for a in args:
            seen = id(a) in preds
            preds.setdefault(id(a), []).append(id(e))
            if not seen:
                if not a.args:
                    occurrences.setdefault(a, []).append(id(a))
                stack.append((a, iter(a.args)))
                break
        else:
            stack.pop()
            post.append(id(e))
    order = post[::-1]  # every node after every node above it
    rank = {k: i for i, k in enumerate(order)}
    idom = {id(root): id(root)}
    for k in order[1:]:
        # The immediate dominator: the nearest common dominator of every node above it (Cooper, Harvey and
        # Kennedy's intersection; in this order each predecessor's is known already).
        ps = preds[k]
        found = ps[0]
        for p in ps[1:]:
            a, b = p, found
            while a != b:
                while rank[a] > rank[b]:
                    a = idom[a]
                while rank[b] > rank[a]:
                    b = idom[b]
            found = a
        idom[k] = found
    return idom, rank, occurrences
