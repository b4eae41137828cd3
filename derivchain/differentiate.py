"""Direct differentiation of an expression tree, memoized over shared subexpressions.

The same calculus rules as ``sympy.diff`` (sum, product, power and chain rule, each function's own
``fdiff``), applied to the fully substituted expression: no network structure is used, so this
stays an independent check of the sum over paths and of backpropagation. What it adds is speed:
a subexpression shared by many neurons is differentiated once, and since every symbol in a network
is real, |u|' = sign(u) u' without SymPy's assumption queries on u (the slow part of ``sympy.diff``
on large trees). Tests check it against ``sympy.diff``.
"""

from __future__ import annotations

import sympy as sp

# f'(argument) of each function node: the same neuron's sigmoid appears in every weight's
# derivative, so its fdiff is built once. Bounded.
_FDIFF: dict[tuple[sp.Basic, int], sp.Expr] = {}


def _fdiff(e: sp.Function, index: int) -> sp.Expr:
    key = (e, index)
    hit = _FDIFF.get(key)
    if hit is None:
        if len(_FDIFF) > 200_000:
            _FDIFF.clear()
        hit = _FDIFF[key] = e.fdiff(index)
    return hit


def replace_shared(expr: sp.Basic, rule: dict) -> sp.Basic:
    """``expr.xreplace(rule)`` over shared subexpressions: each distinct node is visited once."""
    memo: dict[sp.Basic, sp.Basic] = {}

    def walk(e: sp.Basic) -> sp.Basic:
        hit = memo.get(e)
        if hit is not None:
            return hit
        if e in rule:
            out = rule[e]
        elif not e.args:
            out = e
        else:
            args = tuple(walk(a) for a in e.args)
            out = e.func(*args) if args != e.args else e
        memo[e] = out
        return out

    return walk(expr)


def differentiate(expr: sp.Expr, x: sp.Symbol) -> sp.Expr:
    """d expr / d x for real symbols, over shared subexpressions."""
    depends: dict[sp.Basic, bool] = {}
    memo: dict[sp.Basic, sp.Expr] = {}

    def has_x(e: sp.Basic) -> bool:
        hit = depends.get(e)
        if hit is None:
            hit = depends[e] = e == x if e.is_Symbol else any(has_x(a) for a in e.args)
        return hit

    def d(e: sp.Basic) -> sp.Expr:
        if not has_x(e):
            return sp.S.Zero
        hit = memo.get(e)
        if hit is not None:
            return hit
        if e.is_Symbol:
            out = sp.S.One
        elif e.is_Add:
            out = sp.Add(*(d(a) for a in e.args if has_x(a)))
        elif e.is_Mul:
            args = e.args
            terms = []
            for i, a in enumerate(args):
                if has_x(a):
                    terms.append(sp.Mul(*args[:i], d(a), *args[i + 1:]))
            out = sp.Add(*terms)
        elif e.is_Pow:
            base, ex = e.args
            if has_x(ex):
                out = e * (d(ex) * sp.log(base) + ex * d(base) / base)
            else:
                out = ex * base ** (ex - 1) * d(base)
        elif isinstance(e, sp.Abs):
            out = sp.sign(e.args[0]) * d(e.args[0])
        elif isinstance(e, (sp.sign, sp.Heaviside)):
            out = sp.S.Zero  # piecewise constant: derivative 0 wherever it exists
        elif isinstance(e, sp.Function):
            out = sp.Add(*(_fdiff(e, i + 1) * d(a) for i, a in enumerate(e.args) if has_x(a)))
        else:
            out = sp.diff(e, x)  # anything else (Max, Piecewise, ...): SymPy's own rules
        memo[e] = out
        return out

    return d(expr)
