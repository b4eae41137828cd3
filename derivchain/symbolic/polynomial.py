"""Proof by expansion: ``a - b`` expands to 0, with function values first taken as unknowns."""

from __future__ import annotations

from fractions import Fraction

import sympy as sp

from .walk import canonical


def expands_to_zero(a: sp.Expr, b: sp.Expr) -> bool:
    """``expand(a - b) == 0``, tried first as polynomials whose unknowns are the symbols and the
    function values: their difference multiplied out to no terms is an identity for any values those
    take, so it proves ``a = b`` as the full expansion does.

    Calls are named by their canonical form (SymPy's evaluation of the call rebuilt: the same value),
    so sign(Out - Y) written unevaluated and sorted is one unknown. That skips expanding inside the
    arguments, SymPy's evaluation of each rebuilt call (its sign(u) asks its assumptions about the
    whole of u) and the generality of ``sp.expand``: the largest single cost of a cold ``grad W1``
    before. When the forms are not such polynomials in exact numbers, or the unknowns do not cancel,
    ``sp.expand`` decides, as before.
    """
    memo: dict[int, tuple[sp.Basic, dict | None]] = {}
    pa, pb = _terms(sp.sympify(a), memo), _terms(sp.sympify(b), memo)
    if pa is not None and pb is not None and pa == pb:
        return True
    return sp.expand(a - b) == 0


def _terms(expr: sp.Basic, memo: dict) -> dict | None:
    """``expr`` multiplied out: {monomial: coefficient}, a monomial a frozenset of (unknown, power),
    zero coefficients dropped; None when it is not a polynomial (sums, products and powers to whole
    exponents of symbols, calls and rational numbers). Shared subtrees once (memo by id)."""

    def walk(e: sp.Basic) -> dict | None:
        hit = memo.get(id(e))
        if hit is not None:
            return hit[1]
        if not e.is_commutative:  # a monomial is a set: its factors commute
            out = None
        elif e.is_Rational:
            out = {frozenset(): Fraction(int(e.p), int(e.q))} if e else {}
        elif e.is_Symbol:
            out = {frozenset(((e, 1),)): Fraction(1)}
        elif isinstance(e, (sp.Function, sp.Max, sp.Min)):
            out = {frozenset(((canonical(e), 1),)): Fraction(1)}
        elif e.is_Add or e.is_Mul:
            out = walk(e.args[0])
            for x in e.args[1:]:
                t = walk(x)
                out = None if out is None or t is None else (_add if e.is_Add else _mul)(out, t)
        elif e.is_Pow and e.exp.is_Integer and e.exp >= 0:
            out = _power(walk(e.base), int(e.exp))
        else:
            out = None
        memo[id(e)] = (e, out)  # e kept alive: its id stays its own
        return out

    try:
        return walk(expr)
    finally:
        del walk  # the recursive closure refers to itself: freed now, not by the cyclic collector


def _power(base: dict | None, n: int) -> dict | None:
    """``base ** n`` by repeated squaring: (W*X**64)**64 and its towers in a few products, not n of them."""
    out = {frozenset(): Fraction(1)}
    while base is not None and n:
        if n & 1:
            out = _mul(out, base)
        n >>= 1
        if n:
            base = _mul(base, base)
    return None if base is None else out


def _add(p: dict, q: dict) -> dict:
    out = dict(p)
    for m, c in q.items():
        s = out.get(m, 0) + c
        if s:
            out[m] = s
        else:
            out.pop(m, None)
    return out


def _mul(p: dict, q: dict) -> dict:
    out: dict = {}
    for m1, c1 in p.items():
        for m2, c2 in q.items():
            powers = dict(m1)
            for x, k in m2:
                powers[x] = powers.get(x, 0) + k
            m = frozenset(powers.items())
            s = out.get(m, 0) + c1 * c2
            if s:
                out[m] = s
            else:
                out.pop(m, None)
    return out
