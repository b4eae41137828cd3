"""Verification: do two or more forms of a derivative agree? Never says "equal" without showing it.

Methods, strongest first:

* ``identical`` - the forms are the same SymPy expression.
* ``expansion`` - a proof: both forms are polynomials in symbols and function values (sign(u), ...)
  and their difference expands to 0. Tried only when the expansion is small.
* ``random points mod p`` - exact evaluation modulo a 62-bit prime p at k random points, each
  function value (sign(u), exp(u), tanh(u), ...) replaced by a pseudo-random value that depends only
  on the function and its argument's value. Agreement at all k points shows the forms are the same
  rational function of the symbols and those values (so equal as real functions), except with
  probability below (d/p)**k (Schwartz-Zippel; d bounds the degree of the difference). The prime and
  the points are drawn from a seed made of the forms' own constants (deterministic output): forms
  that differ by a multiple of the prime, or whose function arguments do, would need a constant
  chosen for a prime that the constant itself changes.
* ``numeric`` - evaluation with the real functions at points spread over several scales and placed
  on both sides of every breakpoint the forms contain (sign, |u|, Heaviside, max, min, ReLU, ...), at
  a precision that grows with the constants' digits and with the error each evaluation meets: every
  value carries a bound on its error (a running error analysis, so cancellation deep in a form
  counts even where the result is then multiplied by something huge), and the precision is raised
  until the bounds leave enough digits. Agreement at k points where the forms do not both vanish is
  reported as such, not as a proof. A disagreement past the bounds is re-checked at four times the
  precision and then shown as a counterexample, with enough digits that the two values visibly
  differ: this is the only way the verdict says "not equal". Points where a form is undefined or
  not real are skipped; if too few points are informative, the verdict is ``undecided``, with the
  reason, never "equal".

Non-differentiable points: d|u|/du is taken as sign(u) (0 at u = 0) and ReLU'(0) as 0. Random points
miss those sets with probability 1, so the verdict is about the derivative where it exists.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import field
from fractions import Fraction

import mpmath
import sympy as sp

from .record import record
from .differentiate import fold_by_id
from .expansion import expansion_terms
from .polynomial import expands_to_zero
from .rules import DEFINED_FUNCTIONS, RULES, rule_for

PRIME = 2**61 - 1  # the oracle's range for real sample points (the modular prime is drawn per seed)
POINTS = 4
DIGITS = 50
AGREE_DIGITS = 40
NUMERIC_TRIES = 24
MAX_DIGITS = 2000  # past this much cancellation a point is uninformative
SCALES = (1, 1e-3, 1e3, 1e-1, 10, 1e6)  # numeric points are spread over these scales
EXPANSION_TERMS = 300  # past this the exact random-point test is much cheaper than expand
SEED = "derivchain"


@record(repr=False)
class Verdict:
    """Whether the forms agree, how that was shown, and how strongly."""

    equal: bool
    method: str
    detail: str
    proof: bool
    forms: tuple[str, ...]
    counterexample: dict = field(default_factory=dict, compare=False)
    decided: bool = True

    def __repr__(self) -> str:
        return f"Verdict({self.word}, {self.method})"

    @property
    def word(self) -> str:
        """``equal``, ``NOT equal`` or ``undecided``."""
        return "equal" if self.equal else ("NOT equal" if self.decided else "undecided")

    def __str__(self) -> str:
        word = self.word
        return f"{word} ({self.method}): {self.detail}"



class _Unsupported(Exception):
    """An expression the modular evaluator cannot handle (the numeric check takes over)."""


def _oracle(*parts, modulus: int = PRIME) -> int:
    # A deterministic pseudo-random value (Python's hash() is salted per process).
    import hashlib  # here: a verification proved by expansion (the cold start) never hashes

    digest = hashlib.blake2b(repr(parts).encode(), digest_size=16).digest()
    return int.from_bytes(digest, "big") % modulus


# The constants of each node (memoized: a network's shared subtrees are walked once in a session).
# By identity, the node kept beside its answer: an equal node of another network (a second table in a
# notebook) would otherwise be compared with this one node by node, over the tree written out.
_CONSTANTS: dict[int, tuple[sp.Basic, frozenset]] = {}


def constants(expr: sp.Basic) -> frozenset:
    """Every number in ``expr`` (exactly, as p/q text), over shared subexpressions, without recursion."""
    if len(_CONSTANTS) > 2_000_000:
        _CONSTANTS.clear()

    def numbers(e, children):
        if e.is_Number:
            return frozenset((str(sp.Rational(e)) if e.is_Float else str(e),))
        return frozenset().union(*children)

    return fold_by_id(expr, _CONSTANTS, numbers)


def seed_of(*forms: sp.Basic) -> str:
    """The seed of one verification: the forms' constants, so the prime cannot be known before them."""
    import hashlib  # here, as in _oracle

    numbers = sorted(set().union(*(constants(f) for f in forms)))
    return hashlib.blake2b(repr(numbers).encode(), digest_size=16).hexdigest()


_PRIMES: dict[str, int] = {}


def prime_of(seed: str) -> int:
    """A 62-bit prime drawn from ``seed``."""
    hit = _PRIMES.get(seed)
    if hit is None:
        start = 2**61 + _oracle("prime", seed, modulus=2**60)
        hit = _PRIMES[seed] = int(sp.nextprime(start))
    return hit


# A node's values at the sample points depend only on the node and the seed, so one memo per seed
# serves every comparison with that seed: a network's neurons are evaluated once, not once per
# weight (its forms share their constants, so their seed). Bounded.
_MEMOS: dict[str, dict] = {}
_MEMO_LIMIT = 1_000_000
_LANES = tuple(range(POINTS))


class _ModularEvaluator:
    """Evaluates an expression mod p at all sample points in one pass over shared subexpressions.

    Each node gives (values, bad, num, den): its value at each point, a bit mask of the points where
    a denominator vanished (those points prove nothing), and bounds on the degrees of its numerator
    and denominator as a rational function of the symbols and function values.
    """

    def __init__(self, seed: str):
        self.seed, self.prime = seed, prime_of(seed)
        memo = _MEMOS.pop(seed, None)
        if memo is None or len(memo) > _MEMO_LIMIT:
            memo = {}
        while len(_MEMOS) >= 8:  # the most recently used seeds are kept
            _MEMOS.pop(next(iter(_MEMOS)))
        _MEMOS[seed] = self.memo = memo
        self.symbols: dict[str, tuple[int, ...]] = memo.setdefault("symbols", {})

    def __call__(self, expr: sp.Basic) -> tuple[tuple[int, ...], int, int, int]:
        # By identity, the node kept beside its values (see _CONSTANTS): equal nodes of two networks
        # share a seed's memo, and comparing them would walk both trees written out.
        hit = self.memo.get(id(expr))
        if hit is None:
            hit = self.memo[id(expr)] = (expr, self._eval(expr))
        return hit[1]

    def _oracle(self, lane: int, name: str, value) -> int:
        return _oracle(self.seed, lane, name, value, modulus=self.prime)

    def _function(self, name: str, rule, values: tuple[int, ...]) -> tuple[tuple[int, ...], int, int, int]:
        """A function's values: unknowns, with the parity identities (from its rule) they must obey."""
        parity = rule.parity if rule is not None else None
        out, bad = [], 0
        for lane, v in enumerate(values):
            r = self._one(lane, name, parity, v)
            if r is None:
                bad |= 1 << lane
                r = 0
            out.append(r)
        degree = rule.degree if rule is not None else (1, 0)
        return (tuple(out), bad, *degree)

    def _one(self, lane: int, name: str, parity: str | None, v: int) -> int | None:
        # Residues above p/2 stand for negative numbers, so sign(-u) = -sign(u) holds exactly.
        negative, mirror = v > self.prime // 2, (self.prime - v) % self.prime
        if parity == "odd":
            return (-self._oracle(lane, name, mirror) if negative else self._oracle(lane, name, v)) % self.prime
        if parity == "even":
            return self._oracle(lane, name, mirror if negative else v)
        if parity == "heaviside":  # H(-u) = 1 - H(u) away from u = 0
            return (1 - self._oracle(lane, name, mirror)) % self.prime if negative else self._oracle(lane, name, v)
        if parity == "exp":  # exp(-u) = 1/exp(u)
            return pow(self._oracle(lane, name, mirror), -1, self.prime) if negative else self._oracle(lane, name, v)
        if parity == "sigmoid":  # 1/(1 + exp(-u)), from exp's own values so the two forms agree
            e = self._one(lane, "exp", RULES["exp"].parity, mirror)
            return None if (1 + e) % self.prime == 0 else pow(1 + e, -1, self.prime)
        return self._oracle(lane, name, v)

    def _eval(self, e: sp.Basic) -> tuple[tuple[int, ...], int, int, int]:
        # Products and sums first: they are most of every derivative's nodes.
        if e.is_Mul:
            p = self.prime
            values, bad, num, den = None, 0, 0, 0
            for a in e.args:
                v, b, n, d = self(a)
                if values is None:
                    values = v
                elif len(v) == 4:  # the usual POINTS lanes written out: a table multiplies millions of them
                    x0, x1, x2, x3 = values
                    y0, y1, y2, y3 = v
                    values = (x0 * y0 % p, x1 * y1 % p, x2 * y2 % p, x3 * y3 % p)
                else:
                    values = tuple(x * y % p for x, y in zip(values, v))
                bad, num, den = bad | b, num + n, den + d
            return (values, bad, num, den)
        if e.is_Add:
            parts = [self(a) for a in e.args]
            den = sum(p[3] for p in parts)
            num = max(p[2] + den - p[3] for p in parts)
            values = tuple(sum(lane) % self.prime for lane in zip(*(p[0] for p in parts)))
            bad = 0
            for p in parts:
                bad |= p[1]
            return (values, bad, num, den)
        if e.is_Symbol:
            values = self.symbols.get(e.name)
            if values is None:
                values = self.symbols[e.name] = tuple(self._oracle(lane, "symbol", e.name) for lane in _LANES)
            return (values, 0, 1, 0)
        if e.is_Rational or e.is_Float:
            q = Fraction(int(e.p), int(e.q)) if e.is_Rational else Fraction(*sp.Rational(e).as_numer_denom())
            if q.denominator % self.prime == 0:  # cannot happen by chance: p is drawn after the constants
                raise _Unsupported("a constant with denominator divisible by p")
            c = q.numerator * pow(q.denominator, -1, self.prime) % self.prime
            return ((c,) * POINTS, 0, 0, 0)
        if e.is_NumberSymbol or e is sp.I:
            return (tuple(self._oracle(lane, "constant", str(e)) for lane in _LANES), 0, 1, 0)
        if e.is_Pow:
            base, ex = e.args
            if not ex.is_Integer:
                raise _Unsupported("non-integer power")
            v, b, n, d = self(base)
            k = int(ex)
            if k >= 0:
                return (tuple(pow(x, k, self.prime) for x in v), b, n * k, d * k)
            for lane, x in enumerate(v):
                if x == 0:
                    b |= 1 << lane
            return (tuple(pow(x, k, self.prime) if x else 0 for x in v), b, d * -k, n * -k)
        rule = rule_for(e)
        unary = isinstance(e, (sp.Function, sp.Max, sp.Min)) and len(e.args) == 1
        if unary or (rule is not None and rule.parity is not None):
            # A function with a parity identity is one of its first argument here: Heaviside's
            # second is its value at 0 (Heaviside(u) and Heaviside(u, 0)), which random points miss.
            v, b, _, _ = self(e.args[0])
            values, fbad, n, d = self._function(e.func.__name__, rule, v)
            return (values, b | fbad, n, d)
        if isinstance(e, (sp.Function, sp.Max, sp.Min)):
            args = [self(a) for a in e.args]
            bad = 0
            for a in args:
                bad |= a[1]
            values = tuple(
                self._oracle(lane, e.func.__name__, tuple(a[0][lane] for a in args)) for lane in _LANES
            )
            return (values, bad, 1, 0)
        raise _Unsupported(type(e).__name__)


class Undefined(ArithmeticError):
    """A form has no real value at a point (log of a negative, a division by zero, an overflow)."""


def _random_point(symbols, index: int, seed: str = SEED) -> dict[sp.Symbol, mpmath.mpf]:
    # Reals drawn deterministically from the seed, away from round numbers, at the index's scale.
    scale = mpmath.mpf(SCALES[index % len(SCALES)])
    point = {}
    for s in sorted(symbols, key=lambda s: s.name):
        raw = _oracle(seed, "real", index, s.name)
        point[s] = (mpmath.mpf(raw) / PRIME * 4 - 2) * scale
    return point


# Error bounds are binary exponents: a node's value is within 2**E of the exact value at the point.
# Exact values have E = -inf; INF marks a value this precision cannot bound (an argument whose
# error could carry it across a breakpoint, a pole, or an exponent).
_EXACT = float("-inf")
_INF = float("inf")


def _mag(value) -> float:
    """The binary exponent of an mpf, as mpmath.mag (|value| < 2**mag), -inf at 0; without its dispatch."""
    _, man, exp, bc = value._mpf_
    return exp + bc if man else _EXACT


def _join(*exponents: float) -> float:
    """The exponent of a bound on a sum of errors 2**e (tight: log2 of the sum, not max + slack)."""
    top = max(exponents)
    if top == _INF or top == _EXACT:
        return top
    return top + math.log2(sum(2.0 ** (e - top) for e in exponents))


def _bound(value, error: float) -> float:
    """The exponent of a bound on |value| + error: what a factor can multiply another's error by."""
    size = _mag(value)
    return size if error <= size - 8 else max(size, error) + 1


def _determined(value, error: float) -> bool:
    """Whether the sign of ``value`` is certain: its error is less than a quarter of it."""
    return bool(value) and error < _mag(value) - 3


# d f/du for the functions in the table, as the exponent of a bound at u (value) with f(u) = out.
# A function not listed is bounded by a difference quotient at u +- its error (see evaluate).
_SLOPES = {
    "exp": lambda u, out: _mag(out),
    "sinh": lambda u, out: max(_mag(out), 0) + 1,  # cosh <= |sinh| + 1
    "cosh": lambda u, out: _mag(out),  # |sinh| <= cosh
    "tan": lambda u, out: 2 * max(_mag(out), 0) + 1,  # 1 + tan**2
    "tanh": lambda u, out: 0,
    "sin": lambda u, out: 0,
    "cos": lambda u, out: 0,
    "atan": lambda u, out: 0,
    "asinh": lambda u, out: 0,
    "erf": lambda u, out: 1,
    "sigmoid": lambda u, out: -2,
    "Abs": lambda u, out: 0,
    "relu": lambda u, out: 0,
    "elu": lambda u, out: 0,
}
# Slopes that grow with the value: an argument error past 1/16 makes the first-order bound meaningless.
_STEEP = {"exp", "sinh", "cosh", "tan"}
# Piecewise constant: exact unless the argument's error reaches 0, then off by up to the jump (2**value).
_JUMPS = {"sign": 1, "Heaviside": 0}



def _not_real(name: str, args) -> str:
    """Why a function value is undefined here: ``log(-2) is not a real number``."""
    return f"{name}({', '.join(mpmath.nstr(a, 6) for a in args)}) is not a real number"


def evaluate(expr: sp.Basic, point: dict[sp.Symbol, object], digits: int = DIGITS, magnitude: list | None = None,
             error: list | None = None, memo: dict | None = None) -> mpmath.mpf:
    """Evaluate ``expr`` at ``point`` with the real functions, to ``digits`` digits, over shared subtrees.

    Raises :class:`Undefined` where the value is not a finite real number. ``magnitude``, when given,
    receives the largest power of two any intermediate value reached. ``error``, when given, receives
    the binary exponent of a bound on the result's error, from a running error analysis: each node's
    rounding, plus its arguments' errors carried through by the node's own sensitivity, so
    cancellation anywhere in the tree counts, also where its result is then multiplied by something
    large. -inf when the result is exact, inf when this precision cannot bound it (an argument whose
    error reaches a breakpoint, a pole or a large exponent).
    """
    # ``memo``: subtrees' values kept across calls at the same point and digits (many forms sharing
    # parts); not with ``error``, whose bounds are kept beside the values of this call only.
    memo = {} if memo is None or error is not None else memo
    errs: dict[sp.Basic, float] = {}
    largest = [0]
    track = error is not None

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
                out = mpmath.power(base, ev(e.args[1]))
                if isinstance(out, mpmath.mpc):
                    if out.imag != 0:
                        raise Undefined(f"({mpmath.nstr(base, 6)})**{mpmath.nstr(ev(e.args[1]), 6)} is not a real number: "
                                        "a negative base to a non-integer power")
                    out = out.real
        elif (rule := rule_for(e)) is not None:
            out = call(e, rule, [ev(a) for a in e.args])
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
            bits = _mag(out)  # the binary exponent: cheap, unlike log10 at high precision
            if bits > largest[0]:
                largest[0] = bits
                if bits > 1 << 20:  # past about 10**315000: exp of it would not finish
                    raise Undefined("a value too large to work with (past 10**300000)")
        if track:
            errs[e] = node_error(e, out)
        memo[e] = out
        return out

    def node_error(e, out) -> float:
        """The exponent of a bound on the error of ``e``'s value ``out``, from its arguments' bounds."""
        rounding = _mag(out) - prec + 1
        if e.is_Symbol:
            return _EXACT  # both forms see the same (rounded) point
        if e.is_Number or e.is_NumberSymbol:
            return _EXACT if e.is_Integer and abs(int(e.p)).bit_length() <= prec else rounding
        if e.is_Add:
            # The terms' errors add up (fsum rounds once). The bound is relative to the terms, so
            # cancellation shows as an error that is large next to the sum.
            return _join(*[errs[a] for a in e.args], rounding)
        if e.is_Mul:
            sizes = [_bound(memo[a], errs[a]) for a in e.args]
            if _EXACT in sizes:
                return _EXACT  # an exact zero factor
            if _INF in sizes:
                return _INF
            total = sum(sizes)
            # Each factor's error times the others' size, and a rounding per multiplication.
            return _join(*[errs[a] + total - s for a, s in zip(e.args, sizes)], rounding + math.log2(len(sizes)))
        if e.is_Pow:
            base, eb = memo[e.args[0]], errs[e.args[0]]
            if e.args[1].is_Integer:
                k = int(e.args[1])
                if k == 0 or eb == _EXACT:
                    return rounding + 1
                if k > 0:  # k * b**(k - 1) times the base's error
                    return _join(eb + math.log2(k) + (k - 1) * _bound(base, eb), rounding + 1)
                if _determined(base, eb + math.log2(-k) + 1):  # relative errors: |k| times the base's
                    return _join(_mag(out) + eb - _mag(base) + 2 + math.log2(-k), rounding + 1)
                return _INF
            exponent, ee = memo[e.args[1]], errs[e.args[1]]
            if eb == _EXACT and ee == _EXACT:
                return rounding + 1
            if base == 0 and eb == _EXACT:
                return _EXACT if exponent > 0 and _determined(exponent, ee) else _INF
            if _determined(base, eb) and ee < -4:  # d/db = c*out/b, d/dc = out*log(b)
                from_base = eb - _mag(base) + 2 + _mag(exponent)
                from_exponent = ee + _mag(mpmath.log(abs(base))) if abs(base) != 1 else ee
                return _join(_mag(out) + _join(from_base, from_exponent) + 1, rounding + 1)
            return _INF
        if isinstance(e, sp.Piecewise):
            for piece, cond in e.args:
                if not decided(cond):
                    return _INF  # the piece taken may be the wrong one
                if holds(cond):
                    return errs[piece]
        args = [memo[a] for a in e.args]
        name = e.func.__name__
        u, eu = args[0], errs[e.args[0]]
        if name in _JUMPS:
            return _EXACT if eu == _EXACT or _determined(u, eu) else _JUMPS[name]
        if name == "DiracDelta":
            return _EXACT
        # ELU's exp(u) - 1 rounds at 1, not at its value: 1e-20 below 0 it has lost 20 digits.
        inner = -prec + 1 if name == "elu" and u <= 0 else _EXACT
        if eu == _EXACT and len(args) == 1:
            return _join(rounding, inner)
        if name in _SLOPES and len(args) == 1:
            if name in _STEEP and eu > -4:
                return _INF
            return _join(eu + _SLOPES[name](u, out), rounding, inner)
        if name == "log":
            return _join(eu - _mag(u) + 2, rounding) if _determined(u, eu) else _INF
        if name == "atanh":
            gap = 1 - abs(u)
            return _join(eu - _mag(gap) + 2, rounding) if _determined(gap, eu) else _INF
        if name == "leaky_relu":
            slope, es = args[1], errs[e.args[1]]
            if _INF in (eu, es):
                return _INF
            return _join(eu + max(0, _mag(slope)), es + _bound(u, eu), rounding)
        if name in ("Max", "Min"):
            return _join(max(errs[a] for a in e.args), rounding)
        # Any other function: the largest change over each argument's error interval.
        rule = rule_for(e)
        total = [rounding]
        for index, a in enumerate(e.args):
            ea = errs[a]
            if ea == _EXACT:
                continue
            if ea == _INF:
                return _INF
            for sign in (-1, 1):
                moved = list(args)
                moved[index] = args[index] + sign * mpmath.ldexp(1, int(math.ceil(ea)))
                try:
                    other = call(e, rule, moved)
                except (Undefined, ZeroDivisionError, ValueError, OverflowError):
                    return _INF
                total.append(_mag(other - out) + 1)
        return _join(*total)

    def decided(cond) -> bool:
        """Whether a condition's truth is certain despite its sides' errors."""
        if isinstance(cond, sp.core.relational.Relational):
            left, right = ev(cond.lhs), ev(cond.rhs)
            el, er = errs[cond.lhs], errs[cond.rhs]
            if el == _EXACT and er == _EXACT:
                return True
            return cond.rel_op not in ("==", "!=") and _determined(left - right, _join(el, er))
        if isinstance(cond, (sp.And, sp.Or, sp.Not)):
            return all(decided(c) for c in cond.args)
        return True

    try:
        with mpmath.workdps(digits + 10):
            prec = mpmath.mp.prec
            value = ev(expr)
            if track:
                error.append(errs[expr])
            return value
    except (ZeroDivisionError, ValueError, OverflowError) as exc:
        raise Undefined(str(exc)) from None
    finally:
        if magnitude is not None:
            magnitude.append(largest[0])


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


def _digits_needed(*forms: sp.Basic) -> int:
    # Enough digits to tell apart exact constants that differ far down (x + 10**-60 against x).
    widest = 0
    for c in set().union(*(constants(f) for f in forms)):
        widest = max(widest, len(c))
    return max(DIGITS, widest + 20)


def _kinks(*forms: sp.Basic) -> list[sp.Expr]:
    """The arguments whose sign changes a piecewise form (|u|, sign, Heaviside, max, min, ReLU, ...)."""
    found: dict[sp.Expr, None] = {}
    seen: set = set()
    stack = list(forms)
    while stack and len(found) < 24:
        e = stack.pop()
        if e in seen or not e.args:
            continue
        seen.add(e)
        name = getattr(e.func, "__name__", "")
        if name in ("Abs", "sign", "Heaviside", "relu", "leaky_relu", "elu"):
            found.setdefault(e.args[0])
        elif name in ("Max", "Min"):
            for a, b in zip(e.args, e.args[1:]):
                found.setdefault(a - b)
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


# Within one verify() call the reference form is compared with each other form at the same points.
_EVALUATIONS: dict = {}


def _cached(expr: sp.Expr, point: dict, digits: int) -> tuple[mpmath.mpf, float]:
    """``expr`` at ``point`` and the exponent of its error bound (see :func:`evaluate`), memoized."""
    key = (expr, tuple(sorted((s.name, v) for s, v in point.items())), digits)
    hit = _EVALUATIONS.get(key)
    if hit is None:
        bound: list = []
        try:
            value = evaluate(expr, point, digits, error=bound)
        except Undefined as exc:
            value = exc
        hit = _EVALUATIONS[key] = (value, bound[0] if bound else _INF)
    if isinstance(hit[0], Undefined):
        raise hit[0]
    return hit


def _values(a: sp.Expr, b: sp.Expr, point: dict, digits: int, floor: int | None = None):
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
        va, ea = _cached(a, point, digits)
        vb, eb = _cached(b, point, digits)
        error = _join(ea, eb)  # a bound on the error of va - vb
        scale = max(abs(va), abs(vb), tiny)
        if error == _EXACT:
            return va, vb, digits
        # Bits to decimal digits, rounded down: |error| < scale * 10**-good.
        good = math.floor((_mag(scale) - 1 - error) * 0.30103) if error != _INF else -_INF
        if good >= DIGITS:
            return va, vb, min(digits, good)
        if digits >= MAX_DIGITS:
            raise Undefined(f"cancellation beyond {MAX_DIGITS} digits")
        # Rounding errors shrink with the precision: raise it by what is missing (or double it).
        digits = min(MAX_DIGITS, 2 * digits if error == _INF else digits + DIGITS - good + 10)


def _agree(a, b, digits: int = AGREE_DIGITS + 10) -> bool:
    scale = max(mpmath.mpf(1), abs(a), abs(b))
    return abs(a - b) <= scale * mpmath.mpf(10) ** (-(digits - 10))


def compare_at(a: sp.Expr, b: sp.Expr, point: dict, digits: int = DIGITS) -> tuple[bool, mpmath.mpf, mpmath.mpf, int]:
    """The numeric stage at one point: (agree, a's value, b's value, digits checked).

    The values carry error bounds (see :func:`evaluate`), raised in precision until ``DIGITS``
    digits are certain; they agree when they are within 10**-(checked - 10) of each other (relative,
    absolute below 1). A disagreement is checked again at four times the precision, so ``agree``
    False is a counterexample: the difference is past the values' own error bounds. Raises
    :class:`Undefined` where a form has no real value, or the precision needed passes ``MAX_DIGITS``.
    """
    va, vb, used = _values(a, b, point, digits, digits)
    if _agree(va, vb, used):
        return True, va, vb, used
    # Before saying "not equal": again at four times the precision.
    va, vb, used = _values(a, b, point, 4 * used, digits)
    return _agree(va, vb, used), va, vb, used


def _distinguishing_digits(a, b, used: int) -> int:
    """Significant digits that show ``a`` and ``b`` apart: past the first digit where they differ."""
    scale = max(abs(a), abs(b))
    if a == b or not scale:
        return 15
    apart = int(mpmath.ceil(mpmath.log10(scale / abs(a - b)))) + 3
    return max(15, min(used, apart))


def _numeric(a: sp.Expr, b: sp.Expr, seed: str) -> tuple[str, str, bool, dict]:
    """The numeric stage: a counterexample (re-checked), agreement at enough informative points, or undecided."""
    digits = _digits_needed(a, b)
    informative, skipped, silent, reasons = 0, 0, 0, []
    beside, scattered = _points(a, b, seed)
    for number, point in enumerate(beside + scattered):
        try:
            agree, va, vb, used = compare_at(a, b, point, digits)
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


#: Most terms a sum may have for :func:`_distributed_equal` to multiply a product out over it.
DISTRIBUTED_TERMS = 1000


def _distributed_equal(a: sp.Expr, b: sp.Expr) -> bool:
    """True when ``a`` and ``b`` are the same once the factors their top products share are set aside and
    what is left is multiplied out over one of its sums: ``s*(x*u + y*u)`` and ``s*u*(x + y)``.
    Multiplying out keeps the value, so equal results prove the forms equal; False decides nothing."""
    fa, fb = Counter(sp.Mul.make_args(a)), Counter(sp.Mul.make_args(b))
    common = fa & fb
    left = _spreads(sp.Mul(*(fa - common).elements()))
    right = _spreads(sp.Mul(*(fb - common).elements()))
    return any(x == y for x in left for y in right)


def _spreads(e: sp.Expr) -> list[sp.Expr]:
    # The product as it is, and multiplied out over each of its (first few) sums in turn.
    out = [e]
    sums = [f for f in e.args if f.is_Add and len(f.args) <= DISTRIBUTED_TERMS] if e.is_Mul else []
    for widest in sums[:4]:
        rest = [f for f in e.args if f is not widest]
        out.append(sp.Add(*(sp.Mul(*rest, t) for t in widest.args)))
    return out


_REFERENCE_TERMS: list = [None, None]  # (the last reference form, its expansion_terms estimate)


def _compare_pair(a: sp.Expr, b: sp.Expr, rewrites: bool = False) -> tuple[str, str, bool, dict]:
    """Compare two forms; returns (method, detail, equal, counterexample). ``rewrites``: see :func:`verify`."""
    if a == b:
        return ("identical", "the forms are the same expression", True, {})
    if rewrites and _distributed_equal(a, b):
        return ("expansion", "proved: the two forms multiply out to the same terms", True, {})

    # Estimate each side before building a - b: building it sorts and compares two large trees.
    # The reference form is compared with each other form in turn: its estimate is made once.
    if _REFERENCE_TERMS[0] is not a:
        _REFERENCE_TERMS[:] = [a, expansion_terms(a, EXPANSION_TERMS, atomic=DEFINED_FUNCTIONS)]
    ta = _REFERENCE_TERMS[1]
    tb = None if ta is None else expansion_terms(b, EXPANSION_TERMS - ta, atomic=DEFINED_FUNCTIONS)
    if tb is not None:
        if expands_to_zero(a, b):
            return ("expansion", "proved: the difference expands to 0", True, {})

    seed = seed_of(a, b)
    try:
        evaluator = _ModularEvaluator(seed)
        va, bad_a, na, da = evaluator(a)
        vb, bad_b, nb, db = evaluator(b)
        if not (bad_a | bad_b) and va == vb:
            exponent = _chance_exponent(max(na + db, nb + da, 1), evaluator.prime)
            return (
                "random points mod p",
                f"equal at {POINTS} random exact points modulo a 62-bit prime drawn from the forms, each "
                f"function value treated as an unknown: polynomial identity, false-agreement chance below 1e-{exponent}",
                True,
                {},
            )
        # Different values (or a vanished denominator) are not a proof of inequality: sign(u)**2
        # and 1 differ as unknowns but not as numbers. The numeric check below decides.
    except (_Unsupported, RecursionError):
        pass
    return _numeric(a, b, seed)


_EXPONENTS: dict[tuple[int, int, int], int] = {}


def _chance_exponent(degree: int, prime: int) -> int:
    """N in "false-agreement chance below 1e-N": (degree/p)**POINTS, as a power of ten; the same few
    (degree, prime) pairs recur on every row of a table, so each is worked out once."""
    key = (degree, prime, mpmath.mp.prec)
    hit = _EXPONENTS.get(key)
    if hit is None:
        if len(_EXPONENTS) > 10_000:
            _EXPONENTS.clear()
        hit = _EXPONENTS[key] = int(mpmath.floor(-POINTS * mpmath.log10(mpmath.mpf(degree) / prime)))
    return hit


_STRENGTH = ["identical", "expansion", "random points mod p", "numeric", "undecided"]


def weakest(verdicts) -> Verdict:
    """Of verdicts on the parts of one claim: the first that is not equal, else the one by the weakest
    method (the claim is shown only as strongly as its weakest part)."""
    verdicts = list(verdicts)
    failed = [v for v in verdicts if not v.equal]
    return failed[0] if failed else max(verdicts, key=lambda v: _STRENGTH.index(v.method))


def verify(forms: dict[str, sp.Expr], rewrites: bool = False) -> Verdict:
    """Check that every form equals the first; report the weakest method any pair needed.

    ``rewrites``: each form may be the first with common factors pulled out of a sum (an equation's
    factored right-hand side): such a pair is first multiplied out one level, which proves it exactly
    at a fraction of a full expansion's cost."""
    names = tuple(forms)
    if len(names) < 2:
        raise ValueError("verify needs at least two forms to compare")
    reference = forms[names[0]]
    results = []
    _EVALUATIONS.clear()
    for name in names[1:]:
        method, detail, equal, counter = _compare_pair(reference, forms[name], rewrites)
        if not equal and method == "undecided":
            return Verdict(False, method, f"{name} vs {names[0]}: {detail}", False, names, decided=False)
        if not equal:
            a_val, b_val = counter["values"]
            return Verdict(
                False,
                method,
                f"{name} != {names[0]}: at a random point {names[0]} = {a_val}, {name} = {b_val}",
                False,
                names,
                counter,
            )
        results.append((method, detail))
    method, detail = max(results, key=lambda r: _STRENGTH.index(r[0]))
    proof = method in ("identical", "expansion")
    return Verdict(True, method, f"{', '.join(names)}: {detail}", proof, names)
