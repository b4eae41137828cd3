"""The numeric test: both forms at points over every scale their constants reach and beside every
breakpoint, precision raised until the error bounds leave enough digits and past every digit a value
may hide; a counterexample is re-checked before it is reported.

What could make two different forms agree to the digits compared is closed off: the digits compared
grow with the constants' length and with the detail each evaluation finds hidden below its leading
digits (a term far smaller than its sum, a saturated function: x + exp(-100), x*tanh(100)), and a point
whose detail lies past ``MAX_DIGITS`` proves nothing; breakpoints are located whatever their argument
(solved where it is linear or polynomial in a symbol, bracketed along each symbol otherwise, walked
towards where no one symbol crosses it) and tried just beside, closer than the forms' largest
coefficients could make a bump narrow.
"""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath
from mpmath.libmp import NoConvergence
import sympy as sp

from ..symbolic.evaluate import DIGITS, EXACT, INF, Undefined, evaluate, join_errors, mag
from ..symbolic.rules import rule_for
from ..symbolic.sizes import tree_size
from .modular import POINTS, PRIME, SEED, constants, oracle


AGREE_DIGITS = 40


NUMERIC_TRIES = 24


MAX_DIGITS = 2000  # past this much cancellation, or detail this far down, a point is uninformative


SCALES = (1, 1e-3, 1e3, 1e-1, 10, 1e6)  # numeric points are spread over these scales (and beyond, see _scales)


KINKS = 48  # breakpoint expressions located; past them the numeric test does not claim every breakpoint


BESIDE = 20  # digits: how close (relatively, before the coefficients' own digits) points go to a breakpoint


SOLVE_SIZE = 300  # largest breakpoint expression solved as a polynomial (sympy's together and Poly)


MAX_DEGREE = 64


SCAN_EVALUATIONS = 4000  # evaluations spent bracketing one breakpoint's sign changes along one symbol


MAX_ROOTS = 8  # breakpoints kept along one symbol (the points beside each are all tried)


FAR = 4096  # bracketing looks for sign changes out to 10**FAR and in to 10**-FAR


CREEP = 64  # doublings of the exponent past 10**FAR within which a slow approach to 0 counts as a possible breakpoint


SEARCH_ROUNDS = 2  # rounds of moving one symbol at a time towards a breakpoint no single symbol crosses from the first point


def _random_point(symbols, index: int, seed: str = SEED, scales=SCALES) -> dict[sp.Symbol, mpmath.mpf]:
    # Reals drawn deterministically from the seed, away from round numbers, at the index's scale.
    scale = mpmath.mpf(scales[index % len(scales)])
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


def _sizes(*forms: sp.Basic) -> tuple[int, int, int]:
    """The forms' constants as powers of ten: (largest, smallest, coefficient digits). The
    coefficient digits are those of the largest numerator or denominator (10**20 and 10**-20: 20)."""
    largest, smallest, digits = 0, 0, 0
    for c in set().union(*(constants(f) for f in forms)):
        q = Fraction(c)
        if not q:
            continue
        top, bottom = abs(q.numerator), q.denominator
        size = (top.bit_length() - bottom.bit_length()) * 0.30103  # log10 |q|, within one digit
        largest, smallest = max(largest, math.ceil(size)), min(smallest, math.floor(size))
        digits = max(digits, len(str(max(top, bottom))) - 1)
    return largest, smallest, digits


def _scales(largest: int, smallest: int) -> tuple:
    """SCALES, and further powers of ten up to the magnitudes the forms' constants reach (x**2 - 10**13
    is decided by points near 3e6, not by points within 2e6), at most 8 more each way."""
    out = list(SCALES)
    for first, last, sign in ((9, largest + 2, 1), (-6, smallest - 2, -1)):
        span = (last - first) * sign
        if span < 0:
            continue
        step = max(3, math.ceil(span / 8))
        out += [10.0 ** (first + sign * k) for k in range(0, span + 1, step)]
    return tuple(out)


def _kinks(*forms: sp.Basic, limit: int = KINKS) -> list[sp.Expr]:
    """The expressions whose sign changes a piecewise form (|u|, sign, Heaviside, max, min, ReLU, ...: each
    function's ``kinks`` in the rules table, and Piecewise conditions), at most ``limit``."""
    found: dict[sp.Expr, None] = {}
    seen: set = set()
    stack = list(forms)
    while stack and len(found) < limit:
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
    return list(found)[:limit]


class _Plan:
    """Where the numeric test looks: points beside every breakpoint (each with the digits it needs to
    stay apart from the breakpoint), points at every scale, and what could not be located."""

    def __init__(self, a: sp.Expr, b: sp.Expr, seed: str):
        self.symbols = sorted(a.free_symbols | b.free_symbols, key=lambda s: s.name)
        self.largest, self.smallest, coefficients = _sizes(a, b)
        self.scales = _scales(self.largest, self.smallest)
        self.tries = max(NUMERIC_TRIES, 2 * len(self.scales))
        # A coefficient of 10**20 narrows a bump to 10**-20: points beside a breakpoint go closer than that.
        self.offset = BESIDE + coefficients
        self.digits = self.offset + 20  # to hold a point that close to its breakpoint apart from it
        self.work = max(DIGITS, self.digits)
        self.unlocated: list[sp.Expr] = []
        kinks = _kinks(a, b, limit=KINKS + 1)
        self.truncated = len(kinks) > KINKS
        self.kinks = kinks[:KINKS]
        self.beside: list[dict] = []
        # The breakpoint and side each point of ``beside`` is just beside (None: further out or between).
        self.owner: list[tuple[sp.Expr, int] | None] = []
        for index, kink in enumerate(self.kinks):
            # The other symbols at a point of some scale, and at one of scale 1: at a large scale the
            # forms may hide more digits than can be compared (tanh(10**6*W)), leaving a side untried.
            bases = [_random_point(self.symbols, self.tries + index, seed, self.scales)]
            if self.scales[(self.tries + index) % len(self.scales)] != 1:
                bases.append(_random_point(self.symbols, self.tries + index, seed, (1,)))
            found = [points for points in (self._across(kink, base) for base in bases) if points is not None]
            if not found:
                self.unlocated.append(kink)
            for points in found:
                self.beside += [point for point, _ in points]
                self.owner += [(kink, side) if side else None for _, side in points]
        self.scattered = [_random_point(self.symbols, index, seed, self.scales) for index in range(self.tries)]

    def _across(self, kink: sp.Expr, base: dict) -> list[tuple[dict, int]] | None:
        """Points on both sides of each place along one symbol where ``kink`` changes sign: just beside
        (closer than the forms' coefficients could make anything narrow), further out where forms that
        meet at the breakpoint have parted, and between neighbouring breakpoints. [] where ``kink``
        changes sign nowhere along its symbols (as far as solving, bracketing and walking towards 0
        show); None when it could be neither solved nor bracketed along any of them."""
        symbols = sorted(kink.free_symbols, key=lambda s: s.name)
        if not symbols:
            return []  # a constant: the same side everywhere
        # The cheapest first: a symbol the breakpoint is linear in (a network's are), then a
        # polynomial one, then bracketing along each symbol it is neither in.
        unsolved = list(symbols)
        for method in (self._linear, self._polynomial, self._bracketed):
            for s in list(unsolved):
                roots = method(kink, s, base)
                if roots is None:
                    continue
                if roots:
                    return self._around(kink, roots, s, base)
                unsolved.remove(s)  # no sign change along s (where the other symbols are)
        if len(unsolved) == len(symbols):
            return None
        if len(symbols) > 1:
            # No sign change along any one symbol from here, but the breakpoint may still enclose a
            # small region elsewhere (1 - 10**20*((x - 1/3)**2 + (y - 1/7)**2) is positive only near
            # (1/3, 1/7)): walk towards it, one symbol at a time to where the expression is nearest 0.
            moved = dict(base)
            for _ in range(SEARCH_ROUNDS):
                for s in symbols:
                    found = self._scan(kink, s, moved)
                    if found is None:
                        continue
                    roots, nearest = found
                    if roots:
                        return self._around(kink, roots, s, moved)
                    moved[s] = nearest
        return []

    def _around(self, kink: sp.Expr, roots: list, s: sp.Symbol, base: dict) -> list[tuple[dict, int]]:
        """Points beside each root along ``s``, each with the side of the breakpoint it is just beside
        (the sign of ``kink`` there: -1 or 1), or 0 further out and between roots."""
        with mpmath.workdps(self.work + 10):
            tiny = mpmath.mpf(10) ** -self.offset
            roots = sorted(set(roots))[:MAX_ROOTS]
            out = []
            for root in roots:
                unit = 1 + abs(root)
                for step in (tiny, 1):
                    for sign in (-1, 1):
                        point = {**base, s: root + sign * unit * step}
                        out.append((point, self._side(kink, point, sign) if step is tiny else 0))
            out += [({**base, s: (left + right) / 2}, 0) for left, right in zip(roots, roots[1:])]
        return out

    def _side(self, kink: sp.Expr, point: dict, fallback: int) -> int:
        """The sign of ``kink`` at ``point`` where its error bound makes it certain, else ``fallback``."""
        bound: list = []
        try:
            v = evaluate(kink, point, self.work, error=bound)
        except (Undefined, KeyError):
            return fallback
        return ((v > 0) - (v < 0)) if v and (bound[0] == EXACT or bound[0] < mag(v) - 3) else fallback

    def _solved(self, kink: sp.Expr, s: sp.Symbol, base: dict) -> list | None:
        """Where ``kink`` changes sign along ``s`` (the other symbols at ``base``), when it is linear or
        polynomial in ``s``; None when it is neither."""
        roots = self._linear(kink, s, base)
        return roots if roots is not None else self._polynomial(kink, s, base)

    def _linear(self, kink: sp.Expr, s: sp.Symbol, base: dict) -> list | None:
        slope = kink.diff(s)
        if slope == 0 or slope.has(s):
            return None
        try:
            with mpmath.workdps(self.work + 10):
                at = evaluate(slope, base, self.work)
                if at == 0:
                    return None
                rest = evaluate(kink.xreplace({s: sp.S.Zero}), {**base, s: 0}, self.work)
                return [-rest / at]
        except (Undefined, KeyError):
            return None

    def _polynomial(self, kink: sp.Expr, s: sp.Symbol, base: dict) -> list | None:
        if tree_size(kink, SOLVE_SIZE) > SOLVE_SIZE:
            return None
        try:
            with mpmath.workdps(self.work + 10):
                roots = []
                # A rational function of s changes sign where its numerator or denominator does.
                for part in sp.fraction(sp.together(kink)):
                    if part.has(s):
                        roots += self._polynomial_roots(part, s, base)
                return roots
        except (Undefined, KeyError, sp.PolynomialError, sp.GeneratorsNeeded, ValueError, ZeroDivisionError,
                NoConvergence, _NotPolynomial):
            return None

    def _polynomial_roots(self, part: sp.Expr, s: sp.Symbol, base: dict) -> list:
        poly = sp.Poly(part, s)
        coefficients = poly.all_coeffs()
        if poly.degree() > MAX_DEGREE or any(c.has(s) for c in coefficients):
            raise _NotPolynomial
        values = [evaluate(c, base, self.work) for c in coefficients]
        while values and values[0] == 0:
            values.pop(0)
        if len(values) < 2:
            return []
        found = mpmath.polyroots(values, maxsteps=100 + 10 * len(values), extraprec=4 * self.work, error=False)
        real = []
        for root in found:
            root = mpmath.mpc(root)
            if abs(root.imag) <= mpmath.mpf(10) ** (-self.work // 3) * (1 + abs(root.real)):
                real.append(root.real)
        return real

    def _bracketed(self, kink: sp.Expr, s: sp.Symbol, base: dict) -> list | None:
        """Sign changes of ``kink`` along ``s``, each narrowed by bisection (see :meth:`_scan`); None when
        no sign along ``s`` is certain."""
        found = self._scan(kink, s, base)
        return None if found is None else found[0]

    def _scan(self, kink: sp.Expr, s: sp.Symbol, base: dict) -> tuple[list, mpmath.mpf] | None:
        """Sign changes of ``kink`` along ``s`` over every magnitude the forms reach and beyond (powers of
        ten, sparser past 10**60, up to 10**FAR: log(x) - 300 changes sign at 2e130), each narrowed by
        bisection; and the sample where ``kink`` is nearest 0. Besides powers of ten the samples are
        the other breakpoints along ``s`` (and points just beside them: where a narrow bump starts)
        and the extremes of ``kink`` between samples (where its derivative changes sign: a bump that
        rises above 0 and falls back between two samples). Only signs the error bounds make certain
        count; None when none is certain or the evaluations allowed run out."""
        budget = [SCAN_EVALUATIONS]

        def at(expr, t):
            """expr at s = t, or None where it is undefined or its sign is not certain."""
            if budget[0] <= 0:
                raise _OutOfBudget
            budget[0] -= 1
            bound: list = []
            try:
                v = evaluate(expr, {**base, s: t}, self.work, error=bound)
            except (Undefined, KeyError):
                return None
            return v if bound[0] == EXACT or (v and bound[0] < mag(v) - 3) else None

        def sign_of(expr):
            def sign(t) -> int | None:
                v = at(expr, t)
                return None if v is None else (v > 0) - (v < 0)
            return sign

        sign = sign_of(kink)
        with mpmath.workdps(self.work + 10):
            low, high = min(60, max(30, 3 - self.smallest)), min(60, max(30, self.largest + 3))
            powers = list(range(-low, high + 1))
            far = 64
            while far <= FAR:  # sparser further out: only a sign change is looked for there
                powers += [far, -far]
                far *= 2
            samples = {mpmath.mpf(0), mpmath.mpf(base[s])}
            for j in powers:
                samples |= {mpmath.mpf(10) ** j, -mpmath.mpf(10) ** j}
            tiny = mpmath.mpf(10) ** -self.offset
            for other in self.kinks:  # the other breakpoints along s, and just beside them
                if other is kink or s not in other.free_symbols:
                    continue
                for root in self._solved(other, s, base) or []:
                    samples |= {root + step * (1 + abs(root)) for step in (0, -tiny, tiny)}
            try:
                known = {t: at(kink, t) for t in sorted(samples)}
                for t in self._extremes(kink, s, sorted(known.items()), sign_of):
                    if t not in known:
                        known[t] = at(kink, t)
                defined = [(t, v) for t, v in sorted(known.items()) if v is not None]
                if not defined:
                    return None
                roots = [t for t, v in defined if v == 0]
                for (t1, v1), (t2, v2) in zip(defined, defined[1:]):
                    if v1 * v2 < 0 and len(roots) < MAX_ROOTS:
                        roots.append(self._bisect(sign, t1, (v1 > 0) - (v1 < 0), t2))
            except _OutOfBudget:
                return None
            if not roots and _creeping(known):
                return None  # it may change sign past 10**FAR: not located
            nearest = min(defined, key=lambda tv: abs(tv[1]))[0]
        return roots, nearest

    def _extremes(self, kink: sp.Expr, s: sp.Symbol, values: list, sign_of) -> set:
        """The extremes of ``kink`` along ``s`` between neighbouring samples where its derivative changes
        sign: half of MAX_ROOTS nearest to 0, half nearest the origin."""
        if tree_size(kink, SOLVE_SIZE) > SOLVE_SIZE:
            return set()
        slope = kink.diff(s)
        if slope == 0 or not slope.has(s):
            return set()  # constant or linear: no extremes
        sign = sign_of(slope)
        slopes = [(t, v, sign(t)) for t, v in values]
        candidates = []
        for (t1, v1, g1), (t2, v2, g2) in zip(slopes, slopes[1:]):
            if g1 is not None and g2 is not None and g1 * g2 < 0:
                near = min(abs(v) for v in (v1, v2) if v is not None) if (v1, v2) != (None, None) else mpmath.inf
                candidates.append((near, t1, g1, t2))
        # Those nearest to 0 first, and those nearest the origin (far out, an oscillating expression's
        # extremes are neither resolved nor where the forms' scales are).
        nearest = sorted(candidates, key=lambda c: c[0])[:MAX_ROOTS // 2]
        central = sorted(candidates, key=lambda c: max(abs(c[1]), abs(c[3])))[:MAX_ROOTS // 2]
        chosen = {(t1, t2): (t1, g1, t2) for _, t1, g1, t2 in nearest + central}
        return {self._bisect(sign, t1, g1, t2) for t1, g1, t2 in chosen.values()}

    def _bisect(self, sign, t1, g1: int, t2):
        """A point within 10**-offset (relatively) of where the sign changes between ``t1`` and ``t2``."""
        close = mpmath.mpf(10) ** -(self.offset + 1)
        while abs(t2 - t1) > close * (1 + abs(t1)):
            # Between far-apart magnitudes of one sign, halve the exponent first (10**64 to 10**128).
            spread = t1 * t2 > 0 and max(abs(t1), abs(t2)) > 4 * min(abs(t1), abs(t2))
            mid = (t1 / abs(t1)) * mpmath.sqrt(t1 * t2) if spread else (t1 + t2) / 2
            g = sign(mid)
            if g == 0:
                return mid
            if g is None:
                break  # undefined or uncertain inside: stop at the bracket found so far
            if g == g1:
                t1 = mid
            else:
                t2 = mid
        return (t1 + t2) / 2


def _creeping(known: dict) -> bool:
    """Whether a breakpoint expression, sampled at 10**(FAR/4), 10**(FAR/2) and 10**FAR (and at their
    negatives and reciprocals), still creeps towards 0 there slowly enough to reach it within CREEP
    more doublings of the exponent (log(log(x)) - 10 at 10**9566), rather than settling (atan(x) - 2)
    or fading geometrically (1/x)."""
    for sign in (1, -1):
        for power in (1, -1):
            v1, v2, v3 = (known.get(sign * mpmath.mpf(10) ** (power * FAR // k)) for k in (4, 2, 1))
            if None in (v1, v2, v3) or not (v1 * v2 > 0 and v2 * v3 > 0):
                continue
            a1, a2, a3 = abs(v1), abs(v2), abs(v3)
            if a1 > a2 > a3 > a2 / 2 and (a2 - a3) * CREEP > a3:
                return True
    return False


class Unworkable(Undefined):
    """The forms have values at a point, but not to the digits a comparison there needs (past ``MAX_DIGITS``)."""


class _NotPolynomial(Exception):
    """A breakpoint expression is not a polynomial of a small degree in the symbol."""


class _OutOfBudget(Exception):
    """Bracketing a breakpoint took more evaluations than allowed."""


def _cached(expr: sp.Expr, point: dict, digits: int, memo: dict) -> tuple[mpmath.mpf, float, float]:
    """``expr`` at ``point``, the exponent of its error bound and the digits its value hides (see
    :func:`evaluate`), kept in ``memo``: within one verification the reference form is compared with
    each other form at the same points."""
    key = (expr, tuple(sorted((s.name, v) for s, v in point.items())), digits)
    hit = memo.get(key)
    if hit is None:
        bound: list = []
        below: list = []
        try:
            value = evaluate(expr, point, digits, error=bound, hidden=below)
        except Undefined as exc:
            value = exc
        hit = memo[key] = (value, bound[0] if bound else INF, below[0] if below else 0.0)
    if isinstance(hit[0], Undefined):
        raise hit[0]
    return hit


def _values(a: sp.Expr, b: sp.Expr, point: dict, digits: int, floor: int | None, memo: dict):
    """Both forms at ``point``, at a precision raised until their error bounds leave enough digits; the
    digits of the result (relative to the larger value) that the bounds guarantee; and the reason the
    values cannot show agreement (None when they can).

    Enough digits: ``DIGITS``, and twice the digits the forms hide below their leading digits (plus
    20), so that a difference made of what they hide is far past the tolerance: x + exp(-100) holds
    exp(-100) 43 digits below x, x*tanh(100) holds 1 - tanh(100) 87 digits down, and a Taylor
    polynomial of degree n against its function differs at about (n + 2)/n times the digits its own
    terms reach. Past ``MAX_DIGITS`` the values are held to ``DIGITS`` only: they can still show a
    difference, not agreement. The bounds come from a running error analysis of each evaluation, so
    cancellation anywhere in a form counts, also where its result is then multiplied by something
    large (the cancellation in elu(u) + 1 = exp(u) at u = -200, times exp(500)): the digits reported
    are digits the values have. Values below 10**-floor (default: ``digits``) are held to that
    absolute accuracy only: a form that is 0 at the point, computed through cancellation, is then not
    chased to ``MAX_DIGITS``. Raises :class:`Undefined` where cancellation passes ``MAX_DIGITS``.
    """
    tiny = mpmath.mpf(10) ** -(digits if floor is None else floor)
    while True:
        va, ea, ha = _cached(a, point, digits, memo)
        vb, eb, hb = _cached(b, point, digits, memo)
        # (min: a saturated function far out hides infinitely many digits, as far as the rules say)
        need, shallow = max(DIGITS, math.ceil(2 * min(max(ha, hb), MAX_DIGITS)) + 20), None
        if need > MAX_DIGITS:
            need = DIGITS
            shallow = (f"a difference could hide more than {MAX_DIGITS} digits down (a saturated function, or a "
                       "term far smaller than its sum)")
        if digits < need:
            digits = need
            continue
        error = join_errors(ea, eb)  # a bound on the error of va - vb
        scale = max(abs(va), abs(vb), tiny)
        if error == EXACT:
            return va, vb, digits, shallow
        # Bits to decimal digits, rounded down: |error| < scale * 10**-good.
        good = math.floor((mag(scale) - 1 - error) * 0.30103) if error != INF else -INF
        if good >= need:
            return va, vb, min(digits, good), shallow
        if digits >= MAX_DIGITS:
            raise Unworkable(f"cancellation beyond {MAX_DIGITS} digits")
        # Rounding errors shrink with the precision: raise it by what is missing (or double it).
        digits = min(MAX_DIGITS, 2 * digits if error == INF else digits + need - good + 10)


def _agree(a, b, digits: int = AGREE_DIGITS + 10, floor=None) -> bool:
    # Relative to the larger value, down to the floor below which values were held only absolutely.
    scale = max(abs(a), abs(b), mpmath.mpf(10) ** -(digits if floor is None else floor))
    return abs(a - b) <= scale * mpmath.mpf(10) ** (-(digits - 10))


def compare_at(a: sp.Expr, b: sp.Expr, point: dict, digits: int = DIGITS,
               memo: dict | None = None) -> tuple[bool, mpmath.mpf, mpmath.mpf, int]:
    """The numeric stage at one point: (agree, a's value, b's value, digits checked).

    The values carry error bounds (see :func:`evaluate`), raised in precision until ``DIGITS``
    digits are certain, and past what the forms hide (see :func:`_values`); they agree when they are
    within 10**-(checked - 10) of each other, relative to the larger (and absolute below 10**-digits).
    A disagreement is checked again at four times the precision, so ``agree`` False is a
    counterexample: the difference is past the values' own error bounds. Raises :class:`Undefined`
    where a form has no real value, the precision needed passes ``MAX_DIGITS``, or the values agree
    but could hide a difference past it.
    """
    memo = {} if memo is None else memo
    va, vb, used, shallow = _values(a, b, point, digits, digits, memo)
    if _agree(va, vb, used, digits):
        if shallow:
            raise Unworkable(shallow)
        return True, va, vb, used
    # Before saying "not equal": again at four times the precision.
    va, vb, used, shallow = _values(a, b, point, min(4 * used, 2 * MAX_DIGITS), digits, memo)
    if _agree(va, vb, used, digits):
        if shallow:
            raise Unworkable(shallow)
        return True, va, vb, used
    return False, va, vb, used


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
    informative, skipped, silent, lost, reasons = 0, 0, 0, 0, []
    plan = _Plan(a, b, seed)
    beside, scattered = plan.beside, plan.scattered
    # Each side of each breakpoint needs a point just beside it where the forms have values, or have none
    # (not real there); one skipped only for want of precision leaves that side untried.
    tried = set()
    located = set(plan.owner) - {None}
    for number, point in enumerate(beside + scattered):
        try:
            at = max(digits, plan.digits) if number < len(beside) else digits
            agree, va, vb, used = compare_at(a, b, point, at, memo)
            if number < len(beside):
                tried.add(plan.owner[number])
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
            if number < len(beside) and not isinstance(exc, Unworkable):
                tried.add(plan.owner[number])  # no real value there: nothing to compare on that side
            skipped += 1
            if len(reasons) < 2 and str(exc) not in reasons:
                reasons.append(str(exc))
            if number >= len(beside):
                lost += 1
                if not informative and lost >= len(plan.scales) + POINTS and lost > number - len(beside):
                    break  # every scattered point so far proved nothing, over every scale: the rest will not either
            continue
        if max(abs(va), abs(vb)) > mpmath.mpf(10) ** (-(used - 10)):
            informative += 1
            checked = used
        else:
            silent += 1
        # Every breakpoint tried first (each with a point beside it that has values), and a point at every scale.
        untried = bool(located - tried)
        if (informative >= POINTS and number >= len(beside) + len(plan.scales) and not plan.unlocated
                and not plan.truncated and not untried):
            return ("numeric", f"equal to {checked - 10} digits at {POINTS} points over several scales "
                    "and both sides of every breakpoint (evidence, not a proof)", True, {})
    why = []
    if plan.unlocated:
        why.append(f"no breakpoint of {plan.unlocated[0]} could be located (it is neither solved nor bracketed)")
    if plan.truncated:
        why.append(f"the forms have more than {KINKS} breakpoints")
    missed = [owner[0] for owner in dict.fromkeys(plan.owner) if owner is not None and owner not in tried]
    if missed:
        why.append(f"no point just beside the breakpoint of {missed[0]}, on one side, could be worked with")
    if silent:
        why.append(f"both forms are 0 at {silent} points")
    if skipped:
        why.append(f"{skipped} points were skipped ({'; '.join(reasons)})")
    return ("undecided", f"not shown: {', '.join(why) or 'too few points'}, and the exact test could not decide", False, {})
