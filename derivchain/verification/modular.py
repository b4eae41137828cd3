"""The exact test: forms evaluated modulo a 62-bit prime at random points, function values as unknowns.

Agreement at all points shows the forms are the same rational function of the symbols and those
values (so equal as real functions), except with probability below (d/p)**k (Schwartz-Zippel). The
prime and the points are drawn from a seed made of the forms' own constants (deterministic output).
"""

from __future__ import annotations

from fractions import Fraction

import mpmath
import sympy as sp

from .. import memo
from ..symbolic.walk import fold_by_id
from ..symbolic.rules import RULES, rule_for


PRIME = 2**61 - 1  # the oracle's range for real sample points (the modular prime is drawn per seed)


POINTS = 4


SEED = "derivchain"


class Unsupported(Exception):
    """An expression the modular evaluator cannot handle (the numeric check takes over)."""


def oracle(*parts, modulus: int = PRIME) -> int:
    # A deterministic pseudo-random value (Python's hash() is salted per process).
    import hashlib  # here: a verification proved by expansion (the cold start) never hashes

    digest = hashlib.blake2b(repr(parts).encode(), digest_size=16).digest()
    return int.from_bytes(digest, "big") % modulus


_NO_NUMBERS = frozenset()


def constants(expr: sp.Basic) -> frozenset:
    """Every number in ``expr`` (exactly, as p/q text), over shared subexpressions; each node's answer kept by
    the current owner (a network's shared subtrees are walked once), by identity."""
    memo_ = memo.current(memo.CONSTANTS).room()
    hit = memo_.get(id(expr))
    if hit is not None:
        return hit[1]
    try:
        return _numbers_in(expr, memo_)
    except RecursionError:  # a very deep tree: the same answer without recursion (each finished node is kept)
        return fold_by_id(expr, memo_, _numbers)


def _numbers_in(e: sp.Basic, memo_: dict) -> frozenset:
    # Recursive, children first: twice as fast as the general fold on the millions of nodes a table's
    # direct derivatives have. Most nodes' arguments hold the same few numbers: one set kept for them all.
    if not e.args:
        found = _numbers(e, ())
    else:
        found = None
        for a in e.args:
            hit = memo_.get(id(a))
            inner = hit[1] if hit is not None else _numbers_in(a, memo_)
            found = inner if found is None or inner == found else found | inner
    memo_[id(e)] = (e, found)
    return found


def _numbers(e: sp.Basic, children) -> frozenset:
    """The numbers of ``e`` from its arguments' (``children``)."""
    if e.is_Number:
        return frozenset((str(sp.Rational(e)) if e.is_Float else str(e),))
    if not children:
        return _NO_NUMBERS
    first = children[0]
    return first if children.count(first) == len(children) else first.union(*children)


def seed_of(*forms: sp.Basic) -> str:
    """The seed of one verification: the forms' constants, so the prime cannot be known before them."""
    import hashlib  # here, as in oracle

    numbers = sorted(set().union(*(constants(f) for f in forms)))
    return hashlib.blake2b(repr(numbers).encode(), digest_size=16).hexdigest()


def prime_of(seed: str) -> int:
    """A 62-bit prime drawn from ``seed`` (each seed's worked out once in a process)."""
    return memo.process(memo.PRIMES).lookup(seed, lambda: int(sp.nextprime(2**61 + oracle("prime", seed, modulus=2**60))))


#: Most values one seed's memo keeps before it starts again.
SEED_VALUES = 1_000_000
#: Seeds whose values are kept at once (the most recently used).
SEEDS_KEPT = 8


_LANES = tuple(range(POINTS))


class ModularEvaluator:
    """Evaluates an expression mod p at all sample points in one pass over shared subexpressions.

    Each node gives (values, bad, num, den): its value at each point, a bit mask of the points where
    a denominator vanished (those points prove nothing), and bounds on the degrees of its numerator
    and denominator as a rational function of the symbols and function values.
    """

    def __init__(self, seed: str):
        self.seed, self.prime = seed, prime_of(seed)
        # A node's values at the sample points depend only on the node and the seed, so one memo per seed
        # serves every comparison with that seed: a network's neurons are evaluated once, not once per
        # weight (its forms share their constants, so their seed). Kept by the current owner, bounded.
        seeds = memo.current(memo.MODULAR)
        values = seeds.pop(seed, None)
        if values is None or len(values) > SEED_VALUES:
            values = {}
        while len(seeds) >= SEEDS_KEPT:  # the most recently used seeds are kept
            seeds.pop(next(iter(seeds)))
        seeds[seed] = self.memo = values
        self.symbols: dict[str, tuple[int, ...]] = values.setdefault("symbols", {})

    def __call__(self, expr: sp.Basic) -> tuple[tuple[int, ...], int, int, int]:
        # By identity, the node kept beside its values: comparing equal nodes by value would walk
        # both trees written out.
        hit = self.memo.get(id(expr))
        if hit is None:
            hit = self.memo[id(expr)] = (expr, self._eval(expr))
        return hit[1]

    def _oracle(self, lane: int, name: str, value) -> int:
        return oracle(self.seed, lane, name, value, modulus=self.prime)

    def _function(self, name: str, rule, values: tuple[int, ...], at_zero=None,
                  salt=None) -> tuple[tuple[int, ...], int, int, int]:
        """A function's values: unknowns, with the parity identities (from its rule) they must obey.
        Where the argument is 0 the value is the function's own there (see :meth:`_at_zero`); ``salt``:
        Heaviside's values at 0, which then name its unknowns too (H(-u, v) = 1 - H(u, 1 - v))."""
        parity = rule.parity if rule is not None else None
        out, bad = [], 0
        for lane, v in enumerate(values):
            r = self._at_zero(rule, parity, lane, at_zero) if v == 0 else None
            if r is None and salt is not None:
                negative, mirror = v > self.prime // 2, (self.prime - v) % self.prime
                if negative:
                    r = (1 - self._oracle(lane, (name, (1 - salt[lane]) % self.prime), mirror)) % self.prime
                else:
                    r = self._oracle(lane, (name, salt[lane]), v)
            if r is None:
                r = self._one(lane, name, parity, v)
            if r is None:
                bad |= 1 << lane
                r = 0
            out.append(r)
        degree = rule.degree if rule is not None else (1, 0)
        return (tuple(out), bad, *degree)

    def _opaque(self, e: sp.Basic) -> bool:
        """Whether ``e`` holds a function value (an unknown here) or a named constant: whether it is 0
        everywhere, its values mod p cannot tell. Kept beside the values, by identity (shared subtrees
        once)."""
        key = ("opaque", id(e))
        hit = self.memo.get(key)
        if hit is None:
            if isinstance(e, (sp.Function, sp.Max, sp.Min)) or e.is_NumberSymbol:
                found = True
            else:
                found = any(self._opaque(a) for a in e.args)
            hit = self.memo[key] = (e, found)
        return hit[1]

    def _at_zero(self, rule, parity: str | None, lane: int, at_zero) -> int | None:
        """The value at an argument that is 0 here: an argument written as something else that is
        identically 0 ((x + 1)**2 - x**2 - 2*x - 1) is 0 at every point, so the function's value at 0 is
        its value everywhere, and Heaviside(u, 0) and Heaviside(u, 1) differ. An odd function is 0 there,
        exp 1, Heaviside its second argument; any other one with an exact rule its exact value at 0;
        else None (an unknown, as at any other argument)."""
        if parity == "odd":
            return 0
        if parity in ("exp", "sigmoid"):
            return 1 if parity == "exp" else pow(2, -1, self.prime)
        if parity == "heaviside":
            return at_zero[lane] if at_zero is not None else pow(2, -1, self.prime)
        if rule is not None and rule.exact is not None and rule.arity == 1:
            value = Fraction(rule.exact(Fraction(0)))
            return value.numerator * pow(value.denominator, -1, self.prime) % self.prime
        return None

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
                raise Unsupported("a constant with denominator divisible by p")
            c = q.numerator * pow(q.denominator, -1, self.prime) % self.prime
            return ((c,) * POINTS, 0, 0, 0)
        if e.is_NumberSymbol or e is sp.I:
            return (tuple(self._oracle(lane, "constant", str(e)) for lane in _LANES), 0, 1, 0)
        if e.is_Pow:
            base, ex = e.args
            if not ex.is_Integer:
                raise Unsupported("non-integer power")
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
            at_zero = salt = None
            if len(e.args) > 1 and 0 in v:  # the value at 0 matters only where the argument is 0
                at_zero, zb, zn, zd = self(e.args[1])
            elif rule is not None and rule.parity == "heaviside" and self._opaque(e.args[0]):
                # An argument holding function values may be 0 everywhere though the unknowns do not
                # show it (tanh(x)*cosh(x) - sinh(x)): its value at 0 then decides, so it is part of
                # the unknown's name, and Heaviside(u, 0) and Heaviside(u, 1) are not taken as equal.
                half = pow(2, -1, self.prime)
                salt, zb, _, _ = self(e.args[1]) if len(e.args) > 1 else ((half,) * POINTS, 0, 0, 0)
                b |= zb
            values, fbad, n, d = self._function(e.func.__name__, rule, v, at_zero, salt)
            if at_zero is not None:  # the value is the second argument's, a rational function of its own degree
                b, n, d = b | zb, max(n, zn), d + zd
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
        raise Unsupported(type(e).__name__)


def chance_exponent(degree: int, prime: int) -> int:
    """N in "false-agreement chance below 1e-N": (degree/p)**POINTS, as a power of ten; the same few
    (degree, prime) pairs recur on every row of a table, so each is worked out once."""
    return memo.process(memo.CHANCES).lookup(
        (degree, prime, mpmath.mp.prec), lambda: int(mpmath.floor(-POINTS * mpmath.log10(mpmath.mpf(degree) / prime))))
