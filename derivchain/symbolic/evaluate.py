"""Real values of an expression at a point, with a bound on their error: the numeric evaluator.

Every value carries a bound on its error from a running error analysis (each node's rounding plus its
arguments' errors carried through by the node's own sensitivity), so cancellation anywhere in a tree
counts, also where its result is then multiplied by something huge. The verifier raises the precision
until the bounds leave enough digits; the values module evaluates numbers a user gives with it.
"""

from __future__ import annotations

import math

import mpmath
import sympy as sp

from .bounds import EXACT, INF, bound as _bound, determined as _determined, join_errors, mag
from .rules import rule_for


DIGITS = 50


class Undefined(ArithmeticError):
    """A form has no real value at a point (log of a negative, a division by zero, an overflow)."""


#: Past this size an exponent that is not written as a number is raised through exp and log (see ev).
_LARGE_EXPONENT = 1024


def _not_real(name: str, args) -> str:
    """Why a function value is undefined here: ``log(-2) is not a real number``."""
    return f"{name}({', '.join(mpmath.nstr(a, 6) for a in args)}) is not a real number"


def evaluate(expr: sp.Basic, point: dict[sp.Symbol, object], digits: int = DIGITS, magnitude: list | None = None,
             error: list | None = None, memo: dict | None = None, hidden: list | None = None) -> mpmath.mpf:
    """Evaluate ``expr`` at ``point`` with the real functions, to ``digits`` digits, over shared subtrees.

    Raises :class:`Undefined` where the value is not a finite real number. ``magnitude``, when given,
    receives the largest power of two any intermediate value reached. ``error``, when given, receives
    the binary exponent of a bound on the result's error, from a running error analysis: each node's
    rounding, plus its arguments' errors carried through by the node's own sensitivity, so
    cancellation anywhere in the tree counts, also where its result is then multiplied by something
    large. -inf when the result is exact, inf when this precision cannot bound it (an argument whose
    error reaches a breakpoint, a pole or a large exponent). ``hidden``, when given, receives the
    decimal digits below the result's leading digit at which detail of the expression may live (see
    :func:`_hidden`): a term far smaller than its sum, a saturated function's distance from its limit.
    """
    # ``memo``: subtrees' values kept across calls at the same point and digits (many forms sharing
    # parts); not with ``error`` or ``hidden``, whose bounds are kept beside the values of this call only.
    memo = {} if memo is None or error is not None or hidden is not None else memo
    errs: dict[sp.Basic, float] = {}
    depth: dict[sp.Basic, float] = {}
    settled: set = set()  # jumps whose argument's sign was found exactly
    largest = [0]
    track = error is not None
    deep = hidden is not None

    def holds(cond) -> bool:
        if cond is sp.true or cond is True:
            return True
        if cond is sp.false or cond is False:
            return False
        if isinstance(cond, sp.core.relational.Relational):
            left, right = ev(cond.lhs), ev(cond.rhs)
            return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right,
                    "==": left == right, "!=": left != right}[cond.rel_op]
        if isinstance(cond, sp.And):
            return all(holds(c) for c in cond.args)
        if isinstance(cond, sp.Or):
            return any(holds(c) for c in cond.args)
        if isinstance(cond, sp.Not):
            return not holds(cond.args[0])
        raise Undefined(f"cannot decide the condition {cond}")

    def call(e, rule, args):
        if rule is not None:
            out = rule.numeric(*args)
        else:
            out = sp.N(e.func(*(sp.Float(a, digits) for a in args)), digits)
            if not out.is_real:
                raise Undefined(_not_real(e.func.__name__, args))
            out = mpmath.mpf(out)
        if isinstance(out, mpmath.mpc):
            if out.imag != 0:
                raise Undefined(_not_real(rule.parser_name or e.func.__name__ if rule else e.func.__name__, args))
            out = out.real
        return mpmath.mpf(out)

    def ev(e):
        hit = memo.get(e)
        if hit is not None:
            return hit
        if e.is_Symbol:
            if e not in point:
                raise KeyError(f"no value for {e}")
            out = mpmath.mpf(point[e])
        elif e.is_Number or e.is_NumberSymbol:
            out = mpmath.mpf(sp.N(e, digits + 10)) if not e.is_Rational else mpmath.mpf(int(e.p)) / int(e.q)
        elif e.is_Add:
            out = mpmath.fsum(ev(a) for a in e.args)
        elif e.is_Mul:
            out = mpmath.fprod(ev(a) for a in e.args)
        elif e.is_Pow:
            base = ev(e.args[0])
            if e.args[1].is_Integer:
                k = int(e.args[1])
                if base == 0 and k < 0:
                    raise Undefined(f"division by zero in {e}")
                out = mpmath.power(base, k)
            else:
                exponent = ev(e.args[1])
                if base != 0 and abs(exponent) > _LARGE_EXPONENT:
                    # A variable exponent can be huge (x**x at x = 1e6): mpmath raises to a whole-number
                    # power exactly, digit by digit, for minutes. Through exp and log it costs what any
                    # function does (a negative base keeps the sign a whole-number power gives it).
                    sign = 1
                    if base < 0:
                        if exponent != mpmath.floor(exponent):
                            raise Undefined(f"({mpmath.nstr(base, 6)})**{mpmath.nstr(exponent, 6)} is not a real number: "
                                            "a negative base to a non-integer power")
                        sign = -1 if int(mpmath.floor(exponent)) % 2 else 1
                    out = sign * mpmath.exp(exponent * mpmath.log(abs(base)))
                else:
                    out = mpmath.power(base, exponent)
                if isinstance(out, mpmath.mpc):
                    if out.imag != 0:
                        raise Undefined(f"({mpmath.nstr(base, 6)})**{mpmath.nstr(ev(e.args[1]), 6)} is not a real number: "
                                        "a negative base to a non-integer power")
                    out = out.real
        elif (rule := rule_for(e)) is not None:
            args = [ev(a) for a in e.args]
            if track and rule.jump is not None and not _settled(args[0], errs[e.args[0]]):
                # A jump at an argument whose sign rounding leaves open (an argument that is 0 written
                # otherwise): its sign exactly, where the argument is rational in the point.
                exact = _exact_sign(e.args[0], point)
                if exact is not None:
                    args[0] = mpmath.mpf(exact)
                    settled.add(e)
            out = call(e, rule, args)
        elif isinstance(e, sp.Piecewise):
            out = next((ev(piece) for piece, cond in e.args if holds(cond)), None)
            if out is None:
                raise Undefined("no piece of a Piecewise applies")
        else:
            out = call(e, None, [ev(a) for a in e.args])
        out = mpmath.mpf(out)
        if not mpmath.isfinite(out):
            raise Undefined(f"{e} is not finite here")
        if out:
            bits = mag(out)  # the binary exponent: cheap, unlike log10 at high precision
            if bits > largest[0]:
                largest[0] = bits
                if bits > 1 << 20:  # past about 10**315000: exp of it would not finish
                    raise Undefined("a value too large to work with (past 10**300000)")
        if track:
            errs[e] = node_error(e, out)
        memo[e] = out
        if deep:
            depth[e] = _hidden(e, out, memo, errs if track else None, depth)
        return out

    def node_error(e, out) -> float:
        """The exponent of a bound on the error of ``e``'s value ``out``, from its arguments' bounds."""
        rounding = mag(out) - prec + 1
        if e.is_Symbol:
            return EXACT  # both forms see the same (rounded) point
        if e.is_Number or e.is_NumberSymbol:
            return EXACT if e.is_Integer and abs(int(e.p)).bit_length() <= prec else rounding
        if e.is_Add:
            # The terms' errors add up (fsum rounds once). The bound is relative to the terms, so
            # cancellation shows as an error that is large next to the sum.
            return join_errors(*[errs[a] for a in e.args], rounding)
        if e.is_Mul:
            sizes = [_bound(memo[a], errs[a]) for a in e.args]
            if EXACT in sizes:
                return EXACT  # an exact zero factor
            if INF in sizes:
                return INF
            total = sum(sizes)
            # Each factor's error times the others' size, and a rounding per multiplication.
            return join_errors(*[errs[a] + total - s for a, s in zip(e.args, sizes)], rounding + math.log2(len(sizes)))
        if e.is_Pow:
            base, eb = memo[e.args[0]], errs[e.args[0]]
            if e.args[1].is_Integer:
                k = int(e.args[1])
                if k == 0 or eb == EXACT:
                    return rounding + 1
                if k > 0:  # k * b**(k - 1) times the base's error
                    return join_errors(eb + math.log2(k) + (k - 1) * _bound(base, eb), rounding + 1)
                if _determined(base, eb + math.log2(-k) + 1):  # relative errors: |k| times the base's
                    return join_errors(mag(out) + eb - mag(base) + 2 + math.log2(-k), rounding + 1)
                return INF
            exponent, ee = memo[e.args[1]], errs[e.args[1]]
            if eb == EXACT and ee == EXACT:
                return rounding + 1
            if base == 0 and eb == EXACT:
                return EXACT if exponent > 0 and _determined(exponent, ee) else INF
            if _determined(base, eb) and ee < -4:  # d/db = c*out/b, d/dc = out*log(b)
                from_base = eb - mag(base) + 2 + mag(exponent)
                from_exponent = ee + mag(mpmath.log(abs(base))) if abs(base) != 1 else ee
                return join_errors(mag(out) + join_errors(from_base, from_exponent) + 1, rounding + 1)
            return INF
        if isinstance(e, sp.Piecewise):
            for piece, cond in e.args:
                if not decided(cond):
                    return INF  # the piece taken may be the wrong one
                if holds(cond):
                    return errs[piece]
        # A function: its rule's own error analysis (see FunctionRule), looked up once per node.
        rule = rule_for(e)
        args = [memo[a] for a in e.args]
        u, eu = args[0], errs[e.args[0]]
        if rule is not None:
            if rule.jump is not None:
                if e in settled:  # at exactly 0 the value is the second argument (Heaviside's), if any
                    return errs[e.args[1]] if u == 0 and len(e.args) > 1 else EXACT
                return EXACT if _settled(u, eu) else rule.jump
            if rule.error is not None:
                return rule.error(args, [errs[a] for a in e.args], out, rounding, prec)
        if eu == EXACT and len(args) == 1:
            return join_errors(rounding)
        if rule is not None and rule.slope is not None and len(args) == 1:
            if rule.steep and eu > -4:
                return INF
            return join_errors(eu + rule.slope(u, out), rounding)
        # Any other function: the largest change over each argument's error interval.
        total = [rounding]
        for index, a in enumerate(e.args):
            ea = errs[a]
            if ea == EXACT:
                continue
            if ea == INF:
                return INF
            for sign in (-1, 1):
                moved = list(args)
                moved[index] = args[index] + sign * mpmath.ldexp(1, int(math.ceil(ea)))
                try:
                    other = call(e, rule, moved)
                except (Undefined, ZeroDivisionError, ValueError, OverflowError):
                    return INF
                total.append(mag(other - out) + 1)
        return join_errors(*total)

    def decided(cond) -> bool:
        """Whether a condition's truth is certain despite its sides' errors."""
        if isinstance(cond, sp.core.relational.Relational):
            left, right = ev(cond.lhs), ev(cond.rhs)
            el, er = errs[cond.lhs], errs[cond.rhs]
            if el == EXACT and er == EXACT:
                return True
            return cond.rel_op not in ("==", "!=") and _determined(left - right, join_errors(el, er))
        if isinstance(cond, (sp.And, sp.Or, sp.Not)):
            return all(decided(c) for c in cond.args)
        return True

    try:
        with mpmath.workdps(digits + 10):
            prec = mpmath.mp.prec
            value = ev(expr)
            if track:
                error.append(errs[expr])
            if deep:
                hidden.append(depth[expr])
            return value
    except (ZeroDivisionError, ValueError, OverflowError) as exc:
        raise Undefined(str(exc)) from None
    finally:
        if magnitude is not None:
            magnitude.append(largest[0])


LOG10_2 = 0.30103


def _settled(u, error: float) -> bool:
    """Whether the sign of a value with this error bound is certain (0 only when exact)."""
    return error == EXACT or _determined(u, error)


EXACT_NODES = 400  # largest argument evaluated exactly to settle a jump
EXACT_BITS = 1 << 16  # largest numerator or denominator it may reach


def _exact_sign(expr: sp.Basic, point: dict) -> int | None:
    """The sign of ``expr`` at ``point`` (binary numbers, so exact fractions), computed exactly when it
    is a rational function of the symbols with rational constants (and functions with exact values,
    |u|, sign, max, ...), small enough; None otherwise."""
    from fractions import Fraction

    from .sizes import tree_size

    if tree_size(expr, EXACT_NODES) > EXACT_NODES:
        return None
    memo: dict = {}

    def exact(e) -> Fraction:
        hit = memo.get(e)
        if hit is not None:
            return hit
        if e.is_Symbol:
            value = mpmath.mpf(point[e])
            man, exp = value.man_exp  # a binary number: man * 2**exp exactly (man without its sign)
            man = -int(man) if value < 0 else int(man)
            out = Fraction(man << exp) if exp >= 0 else Fraction(man, 1 << -exp)
        elif e.is_Rational:
            out = Fraction(int(e.p), int(e.q))
        elif e.is_Add:
            out = sum((exact(a) for a in e.args), Fraction(0))
        elif e.is_Mul:
            out = Fraction(1)
            for a in e.args:
                out *= exact(a)
        elif e.is_Pow and e.args[1].is_Integer:
            base = exact(e.args[0])
            if base == 0 and e.args[1] < 0:
                raise ZeroDivisionError
            out = base ** int(e.args[1])
        elif (rule := rule_for(e)) is not None and rule.exact is not None:
            out = Fraction(rule.exact(*(exact(a) for a in e.args)))
        else:
            raise TypeError(type(e).__name__)
        if max(abs(out.numerator).bit_length(), out.denominator.bit_length()) > EXACT_BITS:
            raise OverflowError
        memo[e] = out
        return out

    try:
        value = exact(expr)
    except (TypeError, KeyError, ZeroDivisionError, OverflowError, ValueError):
        return None
    return (value > 0) - (value < 0)


def _hidden(e: sp.Basic, out, values: dict, errors: dict | None, depth: dict) -> float:
    """How many decimal digits below the leading digit of ``e``'s value ``out`` its detail may lie: the
    digits a comparison must hold so that no part of ``e`` is lost in rounding or tolerance.

    A sum holds each term's detail that far below the term, and the term itself as far below the
    largest term as it is small (x + exp(-100): 43 digits); a product or a power of its factors'
    detail, relatively; a function its argument's, pushed down by the digits its value hides (its
    rule's ``hidden``: tanh(100) is 1 - 2e-87). Terms whose value is within its error bound are
    rounding noise (a cancellation): their size says nothing, so only their own detail counts. Exact
    zeros, sign and Heaviside (whose values are 0, 1 or -1 away from their breakpoints) hide nothing.
    """
    if not e.args:
        return 0.0
    if e.is_Add:
        sizes = [(depth[a], values[a], errors[a] if errors is not None else EXACT) for a in e.args]
        known = [mag(v) for _, v, err in sizes if v and (err == EXACT or _determined(v, err))]
        top = max(known, default=None)
        deepest = 0.0
        for below, v, err in sizes:
            if v and top is not None and (err == EXACT or _determined(v, err)):
                below += (top - mag(v) + 1) * LOG10_2  # mag is within a factor 2: rounded up
            deepest = max(deepest, below)
        return deepest
    if e.is_Mul or isinstance(e, (sp.Max, sp.Min)):
        return max(depth[a] for a in e.args)
    if e.is_Pow:
        base, exponent = e.args
        below = depth[base]
        if exponent.is_Integer:
            return below
        c, b = values[exponent], values[base]
        if c and mag(c) < 1:  # b**c moves by c times b's relative change: less than it when |c| < 1
            below += -LOG10_2 * (mag(c) - 1)
        if not exponent.is_Number and b > 0 and b != 1 and c:
            moved = abs(c * mpmath.log(b))  # and by c*log(b) times c's relative change
            below = max(below, depth[exponent] + max(0.0, -LOG10_2 * (mag(moved) - 1)))
        return below
    if isinstance(e, sp.Piecewise):
        return max((depth[piece] for piece, _ in e.args if piece in depth), default=0.0)  # the pieces tried
    rule = rule_for(e)
    if rule is not None and rule.jump is not None:
        return 0.0  # piecewise constant: its argument's detail does not reach the value
    below = max((depth.get(a, 0.0) for a in e.args), default=0.0)
    if rule is not None and rule.hidden is not None and out:
        below += rule.hidden(values[e.args[0]], out)
    return below


def central_difference(expr: sp.Basic, symbol: sp.Symbol, point: dict, digits: int = DIGITS) -> mpmath.mpf:
    """d expr/d symbol at ``point`` by a central difference with step 1e-15, at ``digits + 10`` digits.

    Truncation error is about h**2 = 1e-30 and rounding about 10**-(digits + 10)/h, so at the default
    50 digits the result is good to about 1e-30 relative to the derivative's scale.
    """
    with mpmath.workdps(digits + 10):
        h = mpmath.mpf("1e-15")
        up, down = dict(point), dict(point)
        up[symbol] = mpmath.mpf(point[symbol]) + h
        down[symbol] = mpmath.mpf(point[symbol]) - h
        return (evaluate(expr, up, digits) - evaluate(expr, down, digits)) / (2 * h)
