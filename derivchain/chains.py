"""Printed equalities as checked objects: a chain ``lhs = f1 = f2 = ...`` whose every link was verified.

Renderers print chains only from these objects, never from text assembled beside them, so a line
such as ``delta_Out = Out*(1 - Out)*(Out - Y)`` is exactly the expression the verifier compared.
A form is a SymPy expression, or an :class:`Ordered` product (factors in path order, as the chain
rule is written), which is equal to the product of its factors.
"""

from __future__ import annotations

from functools import cached_property

import sympy as sp

from .record import record
from . import expansion, limits
from .differentiate import replace_shared
from .evaluated import add, mul
from .verification import Verdict, verify


def tree_size(expr: sp.Basic, limit: int, known: dict | None = None) -> int:
    """:func:`derivchain.expansion.tree_size` (nodes written out, ``limit + 1`` past ``limit``), the last
    answer for each of the few expressions last asked about kept: a derivation's direct result is sized
    against several limits (shown in full? compacted? printed?), one walk can answer them all.
    ``known``: exact sizes of nodes kept alive (a network's :meth:`~derivchain.network.Network.sizes`)."""
    # tree_size(e, L) is min(size, L + 1): an exact size answers any limit, a size past a larger
    # limit answers a smaller one.
    hit = _LAST.get(id(expr))
    if hit is not None:
        _, size, asked = hit
        if size <= asked:
            return min(size, limit + 1)
        if limit <= asked:
            return limit + 1
    size = expansion.tree_size(expr, limit, known)
    if len(_LAST) > 256:  # a row's forms, not a table's: nothing per weight outlives a few rows
        _LAST.clear()
    _LAST[id(expr)] = (expr, size, limit)  # the expression kept, so its id stays its own
    return size


_LAST: dict = {}


def fits(form) -> bool:
    """True when ``form`` written out (shared subtrees counted each time they print) stays within the
    ``printed_nodes`` limit: the one rule every format follows for what it prints in full."""
    limit = limits.current().printed_nodes
    return _form_size(form, limit) <= limit


def _form_size(form, limit: int) -> int:
    # An ordered product or sum: its parts' sizes (one more for each product's node), each part's
    # size kept (see _size): its value would be a new SymPy object on every call.
    if isinstance(form, Ordered):
        return 1 + sum(_form_size(f, limit) for f in form.factors)
    if isinstance(form, OrderedSum):
        return sum(_form_size(t, limit) for t in form.terms)
    return _size(form, limit)


_SIZES: dict = {}


def _size(expr, limit: int) -> int:
    # Renderers ask again and again about the same forms (a network's delta chains on every row of a
    # table): sizes are kept per expression and limit, a bounded number of them.
    if not isinstance(expr, sp.Basic):
        return tree_size(expr, limit)
    # Keyed by identity, the expression kept beside its size (so its id stays unique): equal but
    # distinct copies of a deep tree would be compared node by node on every lookup.
    hit = _SIZES.get((id(expr), limit))
    if hit is not None:
        return hit[1]
    # Summed over the arguments, each of them kept: a table row is o_i times a delta that every
    # weight into the neuron shares, so the delta's size is found once, not once per weight (the
    # same count: a node plus its arguments' sizes, capped).
    size = 1
    for a in expr.args:
        size = min(size + _sized(a, limit), limit + 1)
    return _keep(expr, limit, size)


def _sized(expr, limit: int) -> int:
    hit = _SIZES.get((id(expr), limit))
    if hit is not None:
        return hit[1]
    small = _written(expr, 64)  # most are a row's own small terms: counted directly, not walked by tree_size
    return _keep(expr, limit, min(small, limit + 1) if small is not None else tree_size(expr, limit))


def _written(expr, budget: int) -> int | None:
    """Nodes of ``expr`` written out when at most ``budget``, else None (stops as soon as it knows)."""
    n = 1
    for a in expr.args:
        if a.args:
            k = _written(a, budget - n)
            if k is None:
                return None
            n += k
        else:
            n += 1
        if n > budget:
            return None
    return n


def _keep(expr, limit: int, size: int) -> int:
    if len(_SIZES) > 50_000:
        _SIZES.clear()
    _SIZES[(id(expr), limit)] = (expr, size)
    return size


def too_large_note() -> str:
    """What a renderer says in place of a form past the printing limit."""
    limit = limits.current().printed_nodes
    return f"not printed: more than {limit} nodes written out (--limit printed_nodes=N prints larger ones)"


@record(repr=False)
class Ordered:
    """A product whose factors are printed in the given order (SymPy's Mul would sort them)."""

    factors: tuple
    compact: bool = False  # printed a*b (an equation's product) rather than a * b (a path's chain)

    @cached_property  # built once: a chain compares it twice (shown as one form? equal to the next?)
    def value(self) -> sp.Expr:
        """The product as one SymPy expression."""
        return mul(*(value_of(f) for f in self.factors))

    def __repr__(self) -> str:
        return " * ".join(map(str, self.factors))


@record(repr=False)
class OrderedSum:
    """A sum of :class:`Ordered` products, printed term by term in the given order."""

    terms: tuple

    @cached_property
    def value(self) -> sp.Expr:
        """The sum as one SymPy expression."""
        return add(*(value_of(t) for t in self.terms))

    def __repr__(self) -> str:
        return " + ".join(map(repr, self.terms))


def value_of(form) -> sp.Expr:
    """A form's SymPy value (an ordered product or sum multiplied out)."""
    return form.value if isinstance(form, (Ordered, OrderedSum)) else form


@record(repr=False)
class Chain:
    """``lhs = forms[0] = forms[1] = ...``: ``links[i]`` verifies forms[i] = forms[i+1]; ``reasons[i]``
    names the rewrite of that link when it is one a reader should know (a textbook simplification)."""

    lhs: sp.Expr
    forms: tuple
    links: tuple[Verdict, ...]
    reasons: tuple[str, ...] = ()

    @property
    def verified(self) -> bool:
        """True when every link was shown equal."""
        return all(v.equal for v in self.links)

    def __repr__(self) -> str:
        return f"Chain({self.lhs} = {' = '.join(map(repr, self.forms))})"


def path_chain(path) -> Chain:
    """A path's chain of partials = its factors in path order = its term."""
    return chain(path, (Ordered(tuple(f.value for f in path.factors)), path.term))


def _same_shown(a, b) -> bool:
    # A compact product (an equation's right-hand side) that SymPy builds into the next form itself.
    if isinstance(b, (Ordered, OrderedSum)) or isinstance(a, OrderedSum) or isinstance(a, Ordered) and not a.compact:
        return False
    return value_of(a) == value_of(b)


def _same(a: sp.Expr, b: sp.Expr, memo: dict | None) -> Verdict:
    key = (a, b)
    if memo is not None and key in memo:
        return memo[key]
    verdict = verify({"left": a, "right": b}, rewrites=True)  # a chain's next form is often a factored rewrite
    if memo is not None:
        memo[key] = verdict
    return verdict


def chain(lhs: sp.Expr, forms, reasons=(), rule: dict | None = None, memo: dict | None = None,
          rule_memo: dict | None = None) -> Chain:
    """Build a chain and verify each link; ``rule`` replaces symbols (deltas by their values) before
    comparing, and ``memo`` keeps verdicts of links shared by many chains (a network's deltas);
    ``rule_memo`` keeps the replaced nodes across chains with the same rule (see :func:`replace_shared`).

    Consecutive forms that are the same expression are printed once (an ordered product in a
    path's order is kept: showing that order is its point).
    """
    kept = []
    kept_reasons = []
    for i, f in enumerate(forms):
        reason = reasons[i] if i < len(reasons) else ""
        if kept and (kept[-1] == f or not reason and _same_shown(kept[-1], f)):
            continue
        kept.append(f)
        kept_reasons.append(reasons[i] if i < len(reasons) else "")
    links = []
    for a, b in zip(kept, kept[1:]):
        va, vb = value_of(a), value_of(b)
        if rule:
            # Over shared subexpressions: xreplace walks the tree written out, exponential in depth
            # (an unrolled RNN's deltas: 57 s of a JSON row).
            va, vb = replace_shared(va, rule, rule_memo), replace_shared(vb, rule, rule_memo)
        links.append(_same(va, vb, memo))
    return Chain(lhs, tuple(kept), tuple(links), tuple(kept_reasons))
