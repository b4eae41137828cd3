"""The numeric test: both forms at points over several scales and beside every breakpoint, precision
raised until the error bounds leave enough digits; a counterexample is re-checked before it is reported."""

from __future__ import annotations

import math

import mpmath
import sympy as sp

from ..symbolic.evaluate import DIGITS, EXACT, INF, Undefined, evaluate, join_errors, mag
from ..symbolic.rules import rule_for
from .modular import POINTS, PRIME, SEED, constants, oracle


AGREE_DIGITS = 40


NUMERIC_TRIES = 24


MAX_DIGITS = 2000  # past this much cancellation a point is uninformative


SCALES = (1, 1e-3, 1e3, 1e-1, 10, 1e6)  # numeric points are spread over these scales


def _random_point(symbols, index: int, seed: str = SEED) -> dict[sp.Symbol, mpmath.mpf]:
    # Reals drawn deterministically from the seed, away from round numbers, at the index's scale.
    scale = mpmath.mpf(SCALES[index % len(SCALES)])
    point = {}
    for s in sorted(symbols, key=lambda s: s.name):
        raw = oracle(seed, "real", index, s.name)
        point[s] = (mpmath.mpf(raw) / PRIME * 4 - 2) * scale
    return point


def _digits_needed(*forms: sp.Basic) -> int:
    # Enough digits to tell apart exact constants that differ far down (x + 10**-60 against x).
    widest = 0
    for c in set().union(*(constants(f) for f in forms)):
        widest = max(widest, len(c))
    return max(DIGITS, widest + 20)


def _kinks(*forms: sp.Basic) -> list[sp.Expr]:
    """The expressions whose sign changes a piecewise form (|u|, sign, Heaviside, max, min, ReLU, ...: each
    function's ``kinks`` in the rules table, and Piecewise conditions)."""
    found: dict[sp.Expr, None] = {}
    seen: set = set()
    stack = list(forms)
    while stack and len(found) < 24:
        e = stack.pop()
        if e in seen or not e.args:
            continue
        seen.add(e)
        rule = rule_for(e)
        if rule is not None and rule.kinks is not None:  # where the rules table says its breakpoints are
            for kink in rule.kinks(e.args):
                found.setdefault(kink)
        elif isinstance(e, sp.Piecewise):
            for _, cond in e.args:
                if isinstance(cond, sp.core.relational.Relational):
                    found.setdefault(cond.lhs - cond.rhs)
        stack.extend(e.args)
    return list(found)


def _points(a: sp.Expr, b: sp.Expr, seed: str) -> tuple[list[dict], list[dict]]:
    """Sample points: pairs on both sides of each breakpoint (all of them are tried), then random
    points over several scales."""
    symbols = sorted(a.free_symbols | b.free_symbols, key=lambda s: s.name)
    beside = []
    for index, kink in enumerate(_kinks(a, b)):
        beside += _across(kink, _random_point(symbols, NUMERIC_TRIES + index, seed))
    return beside, [_random_point(symbols, index, seed) for index in range(NUMERIC_TRIES)]


def _across(kink: sp.Expr, base: dict) -> list[dict]:
    """Two points beside ``kink = 0``: one symbol moved to just below and just above the breakpoint
    (10**-20 away, relatively: closer than any two breakpoints of a real network)."""
    for s in sorted(kink.free_symbols, key=lambda s: s.name):
        slope = kink.diff(s)
        if slope.has(s) or slope == 0:
            continue  # not linear in s: try another symbol
        try:
            with mpmath.workdps(DIGITS + 10):
                rest = evaluate(kink.xreplace({s: sp.S.Zero}), {**base, s: 0})
                at = evaluate(slope, base)
                if at == 0:
                    continue
                root = -rest / at
                unit = 1 + abs(root)
        except (Undefined, KeyError):
            continue
        # Just beside the breakpoint (closer than any two breakpoints of a real network), and further
        # out, where forms that meet at the breakpoint have parted.
        return [{**base, s: root + sign * unit * mpmath.mpf(step)} for step in ("1e-20", "1") for sign in (-1, 1)]
    return []


def _cached(expr: sp.Expr, point: dict, digits: int, memo: dict) -> tuple[mpmath.mpf, float]:
    """``expr`` at ``point`` and the exponent of its error bound (see :func:`evaluate`), kept in ``memo``:
    within one verification the reference form is compared with each other form at the same points."""
    key = (expr, tuple(sorted((s.name, v) for s, v in point.items())), digits)
    hit = memo.get(key)
    if hit is None:
        bound: list = []
        try:
            value = evaluate(expr, point, digits, error=bound)
        except Undefined as exc:
            value = exc
        hit = memo[key] = (value, bound[0] if bound else INF)
    if isinstance(hit[0], Undefined):
        raise hit[0]
    return hit


def _values(a: sp.Expr, b: sp.Expr, point: dict, digits: int, floor: int | None, memo: dict):
    """Both forms at ``point``, at a precision raised until their error bounds leave ``DIGITS``
    digits; and the digits of the result (relative to the larger value) that the bounds guarantee.

    The bounds come from a running error analysis of each evaluation, so cancellation anywhere in a
    form counts, also where its result is then multiplied by something large (the cancellation in
    elu(u) + 1 = exp(u) at u = -200, times exp(500)): the digits reported are digits the values have.
    Values below 10**-floor (default: ``digits``) are held to that absolute accuracy only: a form
    that is 0 at the point, computed through cancellation, is then not chased to ``MAX_DIGITS``.
    """
    tiny = mpmath.mpf(10) ** -(digits if floor is None else floor)
    while True:
        va, ea = _cached(a, point, digits, memo)
        vb, eb = _cached(b, point, digits, memo)
        error = join_errors(ea, eb)  # a bound on the error of va - vb
        scale = max(abs(va), abs(vb), tiny)
        if error == EXACT:
            return va, vb, digits
        # Bits to decimal digits, rounded down: |error| < scale * 10**-good.
        good = math.floor((mag(scale) - 1 - error) * 0.30103) if error != INF else -INF
        if good >= DIGITS:
            return va, vb, min(digits, good)
        if digits >= MAX_DIGITS:
            raise Undefined(f"cancellation beyond {MAX_DIGITS} digits")
        # Rounding errors shrink with the precision: raise it by what is missing (or double it).
        digits = min(MAX_DIGITS, 2 * digits if error == INF else digits + DIGITS - good + 10)


def _agree(a, b, digits: int = AGREE_DIGITS + 10) -> bool:
    scale = max(mpmath.mpf(1), abs(a), abs(b))
    return abs(a - b) <= scale * mpmath.mpf(10) ** (-(digits - 10))


def compare_at(a: sp.Expr, b: sp.Expr, point: dict, digits: int = DIGITS,
               memo: dict | None = None) -> tuple[bool, mpmath.mpf, mpmath.mpf, int]:
    """The numeric stage at one point: (agree, a's value, b's value, digits checked).

    The values carry error bounds (see :func:`evaluate`), raised in precision until ``DIGITS``
    digits are certain; they agree when they are within 10**-(checked - 10) of each other (relative,
    absolute below 1). A disagreement is checked again at four times the precision, so ``agree``
    False is a counterexample: the difference is past the values' own error bounds. Raises
    :class:`Undefined` where a form has no real value, or the precision needed passes ``MAX_DIGITS``.
    """
    memo = {} if memo is None else memo
    va, vb, used = _values(a, b, point, digits, digits, memo)
    if _agree(va, vb, used):
        return True, va, vb, used
    # Before saying "not equal": again at four times the precision.
    va, vb, used = _values(a, b, point, 4 * used, digits, memo)
    return _agree(va, vb, used), va, vb, used


def _distinguishing_digits(a, b, used: int) -> int:
    """Significant digits that show ``a`` and ``b`` apart: past the first digit where they differ."""
    scale = max(abs(a), abs(b))
    if a == b or not scale:
        return 15
    apart = int(mpmath.ceil(mpmath.log10(scale / abs(a - b)))) + 3
    return max(15, min(used, apart))


def numeric_check(a: sp.Expr, b: sp.Expr, seed: str, memo: dict | None = None) -> tuple[str, str, bool, dict]:
    """The numeric stage: a counterexample (re-checked), agreement at enough informative points, or undecided
    (``memo``: values kept across the comparisons of one verification)."""
    memo = {} if memo is None else memo
    digits = _digits_needed(a, b)
    informative, skipped, silent, reasons = 0, 0, 0, []
    beside, scattered = _points(a, b, seed)
    for number, point in enumerate(beside + scattered):
        try:
            agree, va, vb, used = compare_at(a, b, point, digits, memo)
            if not agree:
                shown = {s.name: mpmath.nstr(v, 12) for s, v in point.items()}
                # Enough digits that the two values visibly differ (their difference is past the
                # tolerance, so it shows within the digits checked).
                places = _distinguishing_digits(va, vb, used)
                values = (mpmath.nstr(va, max(places, 20)), mpmath.nstr(vb, max(places, 20)))
                return ("numeric", f"differ at a point: {values[0]} vs {values[1]} "
                        f"(difference {mpmath.nstr(va - vb, 3)}, checked at {used} digits)", False,
                        {"point": shown, "values": values, "difference": mpmath.nstr(va - vb, 3)})
        except Undefined as exc:
            skipped += 1
            if len(reasons) < 2 and str(exc) not in reasons:
                reasons.append(str(exc))
            continue
        if max(abs(va), abs(vb)) > mpmath.mpf(10) ** (-(used - 10)):
            informative += 1
            # Every breakpoint tried first, and a point at every scale.
            if informative >= POINTS and number >= len(beside) + len(SCALES):
                return ("numeric", f"equal to {used - 10} digits at {POINTS} points over several scales "
                        "and both sides of every breakpoint (evidence, not a proof)", True, {})
        else:
            silent += 1
    why = []
    if silent:
        why.append(f"both forms are 0 at {silent} points")
    if skipped:
        why.append(f"{skipped} points were skipped ({'; '.join(reasons)})")
    return ("undecided", f"not shown: {', '.join(why) or 'too few points'}, and the exact test could not decide", False, {})
