"""Bounded expansion: estimate how many terms ``expand`` would produce before paying for it."""

from __future__ import annotations

import sympy as sp


def expansion_terms(expr: sp.Basic, limit: int, atomic=()) -> int | None:
    """Upper bound on the terms of ``expand(expr)``, or None past ``limit`` or if not a polynomial.

    Function values count as single terms (their arguments are bounded too); functions named in
    ``atomic`` make the expression count as not polynomial.
    """
    memo: dict[sp.Basic, int | None] = {}

    def terms(e: sp.Basic) -> int | None:
        if e in memo:
            return memo[e]
        if e.is_Symbol or e.is_Number:
            out = 1
        elif e.is_Add or e.is_Mul:
            out = 0 if e.is_Add else 1
            for a in e.args:
                t = terms(a)
                if t is None:
                    out = None
                    break
                out = out + t if e.is_Add else out * t
        elif e.is_Pow and e.args[1].is_Integer and e.args[1] >= 0:
            b, n = terms(e.args[0]), int(e.args[1])
            # b**n > limit once 2**n is: checked first (x**(64**5) would be a 2**30-bit integer).
            out = None if b is None or b > 1 and n > limit.bit_length() else b ** n
        elif isinstance(e, (sp.Function, sp.Max, sp.Min)) and e.func.__name__ not in atomic:
            inner = [terms(a) for a in e.args]
            out = None if None in inner else 1 + sum(inner)
        else:
            out = None
        if out is not None and out > limit:
            out = None
        memo[e] = out
        return out

    try:
        return terms(expr)
    finally:
        del terms  # the recursive closure refers to itself: freed now, not by the cyclic collector


def expand_within(expr: sp.Expr, limit: int) -> sp.Expr | None:
    """``expand(expr)`` when at most ``limit`` terms are expected, else None (nothing computed)."""
    if expansion_terms(expr, limit) is None:
        return None
    return sp.expand(expr)


def tree_size(expr: sp.Basic, limit: int, known: dict | None = None) -> int:
    """Nodes of ``expr`` as printed (shared subtrees counted each time), or ``limit + 1`` past ``limit``.

    Walks each distinct node once (sizes of shared subtrees added, each capped at ``limit + 1``), and
    stops once more than ``limit`` distinct nodes were seen: linear in the printed limit, not in the
    written-out size (which grows exponentially with depth on a network's shared subexpressions).
    ``known`` maps ids of nodes the caller keeps alive to their exact sizes (see :func:`exact_sizes`):
    the walk stops at them.
    """
    cap = limit + 1
    sizes: dict[int, int] = {}
    stack = [(expr, False)]
    while stack:
        e, done = stack.pop()
        k = id(e)
        if done:
            total = 1
            for a in e.args:
                total += sizes[id(a)]
            sizes[k] = total if total < cap else cap
            continue
        if k in sizes:
            continue
        if known is not None:
            size = known.get(k)
            if size is not None:
                sizes[k] = size if size < cap else cap
                continue
        args = e.args
        if not args:
            sizes[k] = 1
            continue
        if len(sizes) > limit:
            return cap
        stack.append((e, True))
        stack.extend((a, False) for a in args if id(a) not in sizes)
    return sizes[id(expr)]


def exact_sizes(expr: sp.Basic, into: dict) -> dict:
    """Add to ``into`` (id -> nodes written out) the exact size of every distinct node of ``expr`` not
    in it yet: one walk, linear in the distinct nodes (the sizes themselves may be astronomically
    large integers). The caller keeps ``expr`` alive, so the ids stay its nodes'."""
    stack = [(expr, False)]
    while stack:
        e, done = stack.pop()
        k = id(e)
        if done:
            into[k] = 1 + sum(into[id(a)] for a in e.args)
        elif k not in into:
            stack.append((e, True))
            stack.extend((a, False) for a in e.args if id(a) not in into)
    return into
