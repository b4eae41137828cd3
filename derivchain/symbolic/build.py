"""SymPy's evaluated product and sum, built directly where SymPy's evaluation would only sort.

``sp.Mul(a, b)`` runs SymPy's whole ``flatten`` (numbers, powers of a common base, -1 and I, infinities)
and then sorts the factors. A table multiplies a weight's source into a neuron's shared factor and
adds up path terms thousands of times, where none of that applies: no factor is a number and no two
share a base, so the result is the factors sorted by SymPy's own order, nothing combined. For those
inputs :func:`mul` and :func:`add` build exactly that (the same expression ``sp.Mul``/``sp.Add``
gives, argument for argument); for any other input they call ``sp.Mul``/``sp.Add`` themselves.
"""

from __future__ import annotations

import sympy as sp
from sympy.core.basic import _args_sortkey
from sympy.functions.elementary.exponential import ExpBase

_ONE = sp.S.One


def _plain(f: sp.Basic) -> bool:
    # A factor SymPy's flatten passes through untouched (its base and exponent as they stand): a symbol, a
    # sum, an applied function other than exp (whose base E would combine with another exp), or an integer
    # power of a symbol (re-evaluating a power of a product, a power or |u| can rewrite it).
    if f.is_Symbol or f.is_Add:
        return f.is_commutative
    if f.is_Pow:
        base, exponent = f.args
        return base.is_Symbol and exponent.is_Integer and exponent is not _ONE and not exponent.is_zero and base.is_commutative
    return isinstance(f, sp.Function) and not isinstance(f, ExpBase) and f.is_commutative


def _base(f: sp.Basic) -> sp.Basic:
    return f.args[0] if f.is_Pow else f


def mul(*factors: sp.Expr) -> sp.Expr:
    """``sp.Mul(*factors)``: built directly when the factors (products opened up) are symbols, sums,
    functions and integer powers of symbols with no base twice, else by SymPy."""
    made = sorted_product(*factors)
    return sp.Mul(*factors) if made is None else made


def sorted_product(*factors: sp.Expr) -> sp.Expr | None:
    """``sp.Mul(*factors)`` when it is built directly (see :func:`mul`): at least two factors other than
    1, all plain, no base twice; else None. A product's factors are taken in their order, so a long
    product first and a symbol after it is sorted with a few comparisons."""
    kept = [f for f in factors if f is not _ONE]
    if len(kept) < 2:
        return None
    flat: list = []
    for f in kept:
        if f.is_Mul:
            flat.extend(f.args)  # a product's factors (none is a product: checked below)
        else:
            flat.append(f)
    bases = set()
    for f in flat:
        if not _plain(f):
            return None
        bases.add(_base(f))
    if len(bases) != len(flat):
        return None  # a common base: SymPy collects its powers
    flat.sort(key=_args_sortkey)
    return sp.Mul._from_args(flat, True)


def add(*terms: sp.Expr) -> sp.Expr:
    """``sp.Add(*terms)``: built directly when the terms are distinct products as :func:`mul` builds them
    (no number in front), symbols or functions, else by SymPy."""
    kept = [t for t in terms if t is not sp.S.Zero]
    if len(kept) < 2:
        return sp.Add(*terms)
    for t in kept:
        if t.is_Mul:
            if t.args[0].is_Number or not t.is_commutative:
                return sp.Add(*kept)  # a coefficient: like terms would be collected
        elif not ((t.is_Symbol or isinstance(t, sp.Function)) and t.is_commutative):
            return sp.Add(*kept)
    if len(set(kept)) != len(kept):
        return sp.Add(*kept)
    kept.sort(key=_args_sortkey)
    return sp.Add._from_args(kept, True)


def cancel_opposites(expr: sp.Expr) -> sp.Expr:
    """``expr`` with each product's powers of opposite sums combined, ``b**m * (-b)**n = (-1)**n * b**(m + n)`` for
    integers m, n, in the orientation of the one in the numerator: ``(1 - Out)**2/(Out - 1)**2`` is 1 (SymPy's factor
    writes a curvature's ``(Out - 1)**2`` where an activation's derivative has ``(1 - Out)``). Unchanged parts are kept
    as they stand (the same objects)."""
    done: dict = {}

    def walk(e):
        if e.is_Atom or not isinstance(e, sp.Expr):
            return e
        hit = done.get(id(e))
        if hit is not None:
            return hit[1]
        args = [walk(a) for a in e.args]
        new = e if all(a is b for a, b in zip(args, e.args)) else e.func(*args)
        if new.is_Mul:
            new = _cancel_product(new)
        done[id(e)] = (e, new)  # e kept alive, so its id is not reused
        return new

    try:
        return walk(expr)
    finally:
        del walk  # the recursive closure refers to itself: freed now, not by the cyclic collector


def _cancel_product(m: sp.Expr) -> sp.Expr:
    factors = [(f.base, f.exp) if f.is_Pow else (f, _ONE) for f in m.args]
    sums = [i for i, (b, x) in enumerate(factors) if b.is_Add and x.is_Integer]
    changed = False
    for i in sums:
        for j in sums:
            (bi, xi), (bj, xj) = factors[i], factors[j]
            # opposite term by term (structurally: expanding a deep network's sums would take minutes)
            if i < j and bi.is_Add and bj.is_Add and len(bi.args) == len(bj.args) and {-a for a in bi.args} == set(bj.args):
                keep, other = (i, j) if xi > 0 else (j, i)
                factors[keep] = (factors[keep][0], xi + xj)
                factors[other] = (sp.S.NegativeOne, factors[other][1])
                changed = True
    return sp.Mul(*(b**x for b, x in factors)) if changed else m
