"""What fits on a page: the one size rule every format follows for what it prints in full.

A form is printed when written out (shared subtrees counted each time they print) it stays within the
``printed_nodes`` limit; otherwise every format prints the same note in its place.
"""

from __future__ import annotations

import sympy as sp

from .. import limits, memo
from ..symbolic import sizes as expansion
from ..engines.forms import Ordered, OrderedSum


def tree_size(expr: sp.Basic, limit: int, known: dict | None = None) -> int:
    """:func:`derivchain.symbolic.sizes.tree_size` (nodes written out, ``limit + 1`` past ``limit``), the last
    answer for each of the few expressions last asked about kept: a derivation's direct result is sized
    against several limits (shown in full? compacted? printed?), one walk can answer them all.
    ``known``: exact sizes of nodes kept alive (a network's :meth:`~derivchain.model.network.Network.sizes`)."""
    # tree_size(e, L) is min(size, L + 1): an exact size answers any limit, a size past a larger
    # limit answers a smaller one.
    last = memo.current(memo.LAST_SIZES)
    hit = last.get(id(expr))
    if hit is not None:
        _, size, asked = hit
        if size <= asked:
            return min(size, limit + 1)
        if limit <= asked:
            return limit + 1
    size = expansion.tree_size(expr, limit, known)
    # A row's forms, not a table's (bounded at a few hundred): nothing per weight outlives a few rows.
    last.room()[id(expr)] = (expr, size, limit)  # the expression kept, so its id stays its own
    return size


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


def _size(expr, limit: int) -> int:
    # Renderers ask again and again about the same forms (a network's delta chains on every row of a
    # table): sizes are kept per expression and limit, a bounded number of them.
    if not isinstance(expr, sp.Basic):
        return tree_size(expr, limit)
    # Keyed by identity, the expression kept beside its size (so its id stays unique): equal but
    # distinct copies of a deep tree would be compared node by node on every lookup.
    hit = memo.current(memo.FORM_SIZES).get((id(expr), limit))
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
    hit = memo.current(memo.FORM_SIZES).get((id(expr), limit))
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
    memo.current(memo.FORM_SIZES).room()[(id(expr), limit)] = (expr, size)
    return size


def too_large_note() -> str:
    """What a renderer says in place of a form past the printing limit."""
    limit = limits.current().printed_nodes
    return f"not printed: more than {limit} nodes written out (--limit printed_nodes=N prints larger ones)"
