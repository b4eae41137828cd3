"""What is printed of a derivation: the direct result in full, in neuron symbols, or not at all, the check
of the form printed, and the notes beside it. Display policy: the renderers' decision, not the derivation's.

Every format prints the same choice, from the same verified objects: a short direct result fully
substituted; a longer one with whole neurons written as their symbols (that form checked against the
one compared); past the limits, nothing but a note saying so.
"""

from __future__ import annotations

from functools import cached_property

import sympy as sp

from .. import memo
from ..record import record
from ..symbolic.rules import rule_for
from ..symbolic.walk import canonical
from ..model.network import Network
from ..verification.compare import Verdict, verify, weakest
from ..verification.derivation import Derivation
from .fitting import tree_size

#: Largest printed tree (in nodes, shared subtrees counted each time) shown fully substituted.
SHOW_FULL_NODES = 160

#: Largest direct result (as printed, in neuron symbols) printed at all, and the substituted size
#: past which compaction is not attempted.
SHOW_COMPACT_NODES = 2000

SHOW_COMPACT_SOURCE = 50_000


def _neuron_size(network: Network, name: str, bit: int, expr: sp.Expr, limit: int) -> int:
    """``tree_size(expr, limit)`` for a form one neuron's weights share (``bit``: its z's), kept per neuron
    with the network under ``name``: an exact size answers any limit, a capped one any smaller limit."""
    sizes = memo.of(network)[memo.NEURON_SIZES]
    known = sizes.get((name, bit))  # (size capped at asked + 1, asked)
    if known is None or (known[0] > known[1] and limit > known[1]):
        known = sizes[(name, bit)] = (tree_size(expr, limit, network.sizes()), limit)
    return min(known[0], limit + 1)


def _neuron_compact(network: Network, outer: sp.Expr, bit: int) -> sp.Expr:
    """dLoss/dz of one neuron (``bit``: its z's) compacted and canonical, once per network."""
    return memo.of(network)[memo.NEURON_COMPACT].lookup(bit, lambda: network.compact_canonical(outer))


def _neuron_check(network: Network, outer: sp.Expr, bit: int) -> Verdict:
    """dLoss/dz compacted (as printed in every weight's direct form) checked against dLoss/dz, once per network."""
    return memo.of(network)[memo.NEURON_CHECKS].lookup(
        bit, lambda: verify({"dLoss/dz": outer, "shown": network.substitute(_neuron_compact(network, outer, bit))}))


@record
class KinkNote:
    """A function's convention at its non-differentiable points (from the rule table), as a note."""

    note: str
    note_tex: str = ""  # none: documents print the text, escaped


def noted(network: Network) -> tuple:
    """The network's conventions at non-differentiable points: the loss if it has a note (else None),
    then each activation with a note, then each function with a kink that an expression node, a custom
    activation or a loss without a note calls, once (each has ``note`` and ``note_tex``); once per
    network (every row of a table asks)."""
    return memo.of(network)[memo.NOTED].lookup("noted", lambda: _noted(network))


def _noted(network: Network) -> tuple:
    seen: dict = {}
    for n in network.neurons:
        if n.activation.note:
            seen.setdefault(n.activation.name.split(":")[0], n.activation)  # leaky_relu:0.1 is leaky_relu
    written = [n.equation for n in network.neurons] + ([] if network.loss.note else [network.loss_local])
    called = {rule.parser_name: rule for e in written for node in sp.preorder_traversal(e)
              if (rule := rule_for(node)) is not None and rule.kink}
    for name in sorted(called):
        seen.setdefault(name, KinkNote(called[name].kink))
    return (network.loss if network.loss.note else None, *seen.values())



class Shown:
    """What is printed of one derivation ``d`` (see the module); one per derivation, from :func:`shown`."""

    def __init__(self, d: Derivation):
        self.d = d

    @cached_property
    def _per_neuron(self) -> tuple | None:
        """(dz/dw, dLoss/dz, z's bit) when the direct result compared is their product (a wide network,
        see :func:`derivchain.engines.direct.direct`) and too long to print in full, else None:
        then the printed forms below are built from those two verified factors, not from a fresh
        per-weight derivative (which a table would compact, size and check once per weight)."""
        factors = self.d.direct.factors
        if factors is None or self._compared_size(SHOW_FULL_NODES) <= SHOW_FULL_NODES:
            return None
        return factors


    def _compared_size(self, limit: int) -> int:
        """``tree_size(self.d.direct.compared, limit)``, dLoss/dz sized once per neuron: ``compared`` is
        ``product([dz/dw, dLoss/dz])``, that product's node over its two factors (or one factor alone)."""
        inner, outer, bit = self.d.direct.factors
        compared = self.d.direct.compared
        if compared is not outer and not (compared.is_Mul and compared.args == (inner, outer)):
            return tree_size(compared, limit, self.d.network.sizes())  # product() dropped a factor or found a zero
        outer_size = _neuron_size(self.d.network, "direct_neuron_size", bit, outer, limit)
        if compared is outer:
            return outer_size
        return min(1 + tree_size(inner, limit, self.d.network.sizes()) + outer_size, limit + 1)


    @cached_property
    def direct_in_full(self) -> bool:
        """True when the direct result is short enough to print fully substituted."""
        if self._per_neuron is not None:
            return False
        return tree_size(self.d.direct.value, SHOW_FULL_NODES, self.d.network.sizes()) <= SHOW_FULL_NODES


    @cached_property
    def direct_compact(self) -> sp.Expr:
        """The direct result with whole neurons written as their symbols (compacted before SymPy's
        evaluation flattens Out - Y and hides Out), in canonical form."""
        if self._per_neuron is not None:
            inner, outer, bit = self._per_neuron
            # (dz/dw) * (dLoss/dz), each factor compacted: dLoss/dz once per neuron for every weight into it.
            return sp.Mul(self.d.network.compact_canonical(inner), _neuron_compact(self.d.network, outer, bit))
        return self.d.network.compact_canonical(self.d.direct.value)


    @cached_property
    def direct_compactable(self) -> bool:
        """False when the direct result is past ``SHOW_COMPACT_SOURCE`` nodes written out: then it is not
        written in neuron symbols at all (in any format), only compared in full."""
        size = (tree_size(self.d.direct.value, SHOW_COMPACT_SOURCE, self.d.network.sizes()) if self._per_neuron is None
                else self._compared_size(SHOW_COMPACT_SOURCE))
        return size <= SHOW_COMPACT_SOURCE


    @cached_property
    def direct_shown(self) -> sp.Expr | None:
        """The direct result as printed: in full when short, else with whole neurons as their symbols,
        or None when even that is too long to read."""
        if self.direct_in_full:
            return canonical(self.d.direct.value)
        if not self.direct_compactable:
            return None
        compact = self.direct_compact
        return compact if self._compact_size(compact, SHOW_COMPACT_NODES) <= SHOW_COMPACT_NODES else None


    def _compact_size(self, compact: sp.Expr, limit: int) -> int:
        """``tree_size(compact, limit)``, the compacted dLoss/dz of a wide network's neuron sized once per
        neuron: ``compact`` is SymPy's product of (dz/dw) and it, their factors side by side when nothing
        merged (then its size is one node over their factors' sizes)."""
        if self._per_neuron is None:
            return tree_size(compact, limit)
        inner, outer, bit = self._per_neuron
        shared = _neuron_compact(self.d.network, outer, bit)
        own, theirs = sp.Mul.make_args(self.d.network.compact_canonical(inner)), sp.Mul.make_args(shared)
        if not compact.is_Mul or len(compact.args) != len(own) + len(theirs) or set(compact.args) != set(own) | set(theirs):
            return tree_size(compact, limit)
        # The shared factors' sizes: dLoss/dz's own, less its product node when it is a product.
        shared_size = _neuron_size(self.d.network, "direct_compact_size", bit, shared, limit)
        size = 1 + sum(tree_size(f, limit) for f in own) + shared_size - (1 if shared.is_Mul else 0)
        return min(size, limit + 1)


    def notes(self) -> tuple[str, ...]:
        """What happens at the non-differentiable points this derivation touches."""
        loss, *activations = noted(self.d.network)
        first = [loss.note] if loss is not None else []
        lam = self.d.network.l2
        if lam is not None:
            net = self.d.network
            # Only a neuron's bias is known to be one: an expression node's parameters (a graph file's b1) are all
            # regularised, and the note says so rather than claim biases are left out.
            graph = any(n.preactivation is None for n in net.neurons)
            named = "biases excluded" if not graph else "neurons' biases excluded, every parameter of the expression " \
                "nodes included" if net.biases else "every parameter of the expression nodes included (a graph file names no biases)"
            first.append(f"L2 regularisation: the loss adds lambda/2 * (sum of squared weights), lambda = {sp.Rational(lam.numerator, lam.denominator)}, "
                         f"{named}; each weight's gradient gains the path-free term lambda * w (the path w -> Loss).")
        return (*first, *self.own_notes(), *(a.note for a in activations))


    def own_notes(self) -> tuple[str, ...]:
        """The notes about this derivation itself (paths not listed, a sum by suffix, a direct result
        not printed), without the network's conventions (see :func:`noted`, printed once in a document)."""
        notes = []
        if not self.d.path_sum.listed_all:
            notes.append(f"{self.d.path_count} paths: the first {len(self.d.paths)} are listed (raise --max-paths to see more).")
        if not self.d.path_sum.enumerated:
            notes.append(f"the sum over all {self.d.path_count} paths is accumulated by suffix, each shared tail added once.")
        if self.direct_shown is None:
            notes.append(
                f"the direct result has more than {SHOW_COMPACT_NODES} nodes even with whole neurons written "
                "as their symbols, so it is not printed; the verdict compares it in full."
            )
        return tuple(notes)


    @cached_property
    def direct_check(self) -> Verdict | None:
        """The printed direct result (compacted or canonical) checked against the one compared."""
        shown = self.direct_shown
        if shown is None:
            return None
        if self._per_neuron is not None:
            # The printed form is sp.Mul(a, b), a = dz/dw and b = dLoss/dz compacted: each factor is
            # checked against its own factor of the product compared (b once per neuron), and SymPy's
            # evaluation of a product (sorting, collecting powers) keeps its value, so shown = compared.
            inner, outer, bit = self._per_neuron
            return weakest((verify({"dz/dw": inner, "shown": self.d.network.substitute(self.d.network.compact_canonical(inner))}),
                            _neuron_check(self.d.network, outer, bit)))
        return verify({"direct": self.d.direct.compared, "shown": self.d.network.substitute(shown)})


    @property
    def checked(self) -> bool:
        """True when every printed equality was verified: the derivation's chains and conditional forms, and
        the direct form as printed."""
        direct_ok = self.direct_check is None or self.direct_check.equal
        return direct_ok and self.d.checked

    def __repr__(self) -> str:
        return f"Shown({self.d!r})"


def shown(d: Derivation) -> Shown:
    """What is printed of ``d``, worked out once per derivation (kept with it)."""
    return memo.of(d)[memo.SHOWN].lookup("shown", lambda: Shown(d))


def notes(d: Derivation) -> tuple[str, ...]:
    """What happens at the non-differentiable points ``d`` touches, and what of it is not printed."""
    return shown(d).notes()


def checked(d: Derivation) -> bool:
    """True when every equality printed for ``d`` was verified (see :attr:`Shown.checked`)."""
    return shown(d).checked


def preactivation_letter(network: Network) -> str:
    """The name the numbers at values give a neuron's weighted input: ``z``, unless the network has a name
    ``z`` (a node, a leaf), where ``z = 2`` would read as that one's value; then ``net`` (the other
    textbook name), or the first of ``z_in``, ``z_in2``, ... that is free."""
    taken = {s.name for s in network.leaves} | {n.name for n in network.neurons}
    for letter in ("z", "net"):
        if letter not in taken:
            return letter
    k = 1
    while f"z_in{k if k > 1 else ''}" in taken:
        k += 1
    return f"z_in{k if k > 1 else ''}"


def summary_parts(network: Network, formula: bool = True) -> tuple:
    """``network.summary(formula)`` as (text, expression, text): the loss's formula apart, for documents
    to typeset (``loss (h - t)**2/2`` reads as code in prose), or (text,) when it has none."""
    text = network.summary(formula)
    name, local = network.loss.name, network.loss_local
    if name == network.loss.text:  # an expression: the formula is its name
        for said in (f"loss {name} ({local})", f"loss {name}"):
            before, found, after = text.rpartition(said)
            if found:
                return before + "loss ", local, after
    elif formula:
        before, found, after = text.rpartition(f"loss {name} ({local})")
        if found:
            return before + f"loss {name} (", local, ")" + after
    return (text,)
