"""Verification: do two or more forms of a derivative agree? Never says "equal" without showing it.

Methods, strongest first:

* ``identical`` - the forms are the same SymPy expression.
* ``expansion`` - a proof: both forms are polynomials in symbols and function values (sign(u), ...)
  and their difference expands to 0. Tried only when the expansion is small.
* ``random points mod p`` - exact evaluation modulo the prime p = 2**61 - 1 at k random points, each
  function value (sign(u), exp(u), tanh(u), ...) replaced by a pseudo-random value that depends only
  on the function and the exact value of its argument. Agreement at all k points shows the forms are
  the same rational function of the symbols and those values (so equal as real functions), except
  with probability below (d/p)**k (Schwartz-Zippel; d bounds the degree of the difference).
* ``numeric`` - evaluation with the real functions at random real points to 50 digits; agreement
  to 40 digits at k points where the forms do not both vanish is reported as such, not as a proof.
  A disagreement here is shown as a counterexample: this is the only way the verdict says "not
  equal". If too few points are informative (both forms 0, as in a dead ReLU region), the verdict
  is ``undecided``, never "equal".

Non-differentiable points: d|u|/du is taken as sign(u) (0 at u = 0) and ReLU'(0) as 0. Random points
miss those sets with probability 1, so the verdict is about the derivative where it exists.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from fractions import Fraction

import mpmath
import sympy as sp

from .expansion import expansion_terms
from .rules import DEFINED_FUNCTIONS, RULES, rule_for

PRIME = 2**61 - 1
POINTS = 4
DIGITS = 50
AGREE_DIGITS = 40
NUMERIC_TRIES = 24
EXPANSION_TERMS = 300  # past this the exact random-point test is much cheaper than expand
SEED = "derivchain"


@dataclass(frozen=True, repr=False)
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


def _oracle(*parts) -> int:
    # A deterministic pseudo-random value mod p (Python's hash() is salted per process).
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=16).digest()
    return int.from_bytes(digest, "big") % PRIME


# A node's values at the sample points depend only on the node (the oracle is deterministic), so
# one memo serves every comparison: a network's neurons are evaluated once, not once per weight.
# Bounded, so a long session does not grow without limit.
_MEMO: dict[sp.Basic, tuple[tuple[int, ...], int, int, int]] = {}
_MEMO_LIMIT = 1_000_000
_LANES = tuple(range(POINTS))
_SYMBOLS: dict[str, tuple[int, ...]] = {}


class _ModularEvaluator:
    """Evaluates an expression mod p at all sample points in one pass over shared subexpressions.

    Each node gives (values, bad, num, den): its value at each point, a bit mask of the points where
    a denominator vanished (those points prove nothing), and bounds on the degrees of its numerator
    and denominator as a rational function of the symbols and function values.
    """

    def __init__(self):
        if len(_MEMO) > _MEMO_LIMIT:
            _MEMO.clear()
        self.memo = _MEMO

    def __call__(self, expr: sp.Basic) -> tuple[tuple[int, ...], int, int, int]:
        hit = self.memo.get(expr)
        if hit is None:
            hit = self.memo[expr] = self._eval(expr)
        return hit

    @staticmethod
    def _oracle(lane: int, name: str, value) -> int:
        return _oracle(SEED, lane, name, value)

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
        negative, mirror = v > PRIME // 2, (PRIME - v) % PRIME
        if parity == "odd":
            return (-self._oracle(lane, name, mirror) if negative else self._oracle(lane, name, v)) % PRIME
        if parity == "even":
            return self._oracle(lane, name, mirror if negative else v)
        if parity == "heaviside":  # H(-u) = 1 - H(u) away from u = 0
            return (1 - self._oracle(lane, name, mirror)) % PRIME if negative else self._oracle(lane, name, v)
        if parity == "exp":  # exp(-u) = 1/exp(u)
            return pow(self._oracle(lane, name, mirror), -1, PRIME) if negative else self._oracle(lane, name, v)
        if parity == "sigmoid":  # 1/(1 + exp(-u)), from exp's own values so the two forms agree
            e = self._one(lane, "exp", RULES["exp"].parity, mirror)
            return None if (1 + e) % PRIME == 0 else pow(1 + e, -1, PRIME)
        return self._oracle(lane, name, v)

    def _eval(self, e: sp.Basic) -> tuple[tuple[int, ...], int, int, int]:
        # Products and sums first: they are most of every derivative's nodes.
        memo = self.memo
        if e.is_Mul:
            values, bad, num, den = None, 0, 0, 0
            for a in e.args:
                v, b, n, d = memo.get(a) or self(a)
                values = v if values is None else tuple(x * y % PRIME for x, y in zip(values, v))
                bad, num, den = bad | b, num + n, den + d
            return (values, bad, num, den)
        if e.is_Add:
            parts = [memo.get(a) or self(a) for a in e.args]
            den = sum(p[3] for p in parts)
            num = max(p[2] + den - p[3] for p in parts)
            values = tuple(sum(lane) % PRIME for lane in zip(*(p[0] for p in parts)))
            bad = 0
            for p in parts:
                bad |= p[1]
            return (values, bad, num, den)
        if e.is_Symbol:
            values = _SYMBOLS.get(e.name)
            if values is None:
                values = _SYMBOLS[e.name] = tuple(self._oracle(lane, "symbol", e.name) for lane in _LANES)
            return (values, 0, 1, 0)
        if e.is_Rational or e.is_Float:
            q = Fraction(int(e.p), int(e.q)) if e.is_Rational else Fraction(*sp.Rational(e).as_numer_denom())
            if q.denominator % PRIME == 0:
                raise _Unsupported("a constant with denominator divisible by p")
            c = q.numerator * pow(q.denominator, -1, PRIME) % PRIME
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
                return (tuple(pow(x, k, PRIME) for x in v), b, n * k, d * k)
            for lane, x in enumerate(v):
                if x == 0:
                    b |= 1 << lane
            return (tuple(pow(x, k, PRIME) if x else 0 for x in v), b, d * -k, n * -k)
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


def _random_point(symbols, index: int) -> dict[sp.Symbol, mpmath.mpf]:
    # Reals in (-2, 2), drawn deterministically from the seed, away from round numbers.
    point = {}
    for s in sorted(symbols, key=lambda s: s.name):
        raw = _oracle(SEED, "real", index, s.name)
        point[s] = mpmath.mpf(raw) / PRIME * 4 - 2
    return point


def evaluate(expr: sp.Basic, point: dict[sp.Symbol, object], digits: int = DIGITS) -> mpmath.mpf:
    """Evaluate ``expr`` at ``point`` with the real functions, to ``digits`` digits, over shared subtrees."""
    memo: dict[sp.Basic, mpmath.mpf] = {}

    def ev(e):
        hit = memo.get(e)
        if hit is not None:
            return hit
        if e.is_Symbol:
            if e not in point:
                raise KeyError(f"no value for {e}")
            out = mpmath.mpf(point[e])
        elif e.is_Number or e.is_NumberSymbol:
            out = mpmath.mpf(sp.N(e, digits + 10))
        elif e.is_Add:
            out = mpmath.fsum(ev(a) for a in e.args)
        elif e.is_Mul:
            out = mpmath.fprod(ev(a) for a in e.args)
        elif e.is_Pow:
            out = mpmath.power(ev(e.args[0]), ev(e.args[1]) if not e.args[1].is_Integer else int(e.args[1]))
        elif (rule := rule_for(e)) is not None:
            out = mpmath.mpf(rule.numeric(*(ev(a) for a in e.args)))
        else:
            out = mpmath.mpf(sp.N(e.func(*(sp.Float(ev(a), digits) for a in e.args)), digits))
        memo[e] = out
        return out

    with mpmath.workdps(digits + 10):
        return ev(expr)


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


def _agree(a, b) -> bool:
    scale = max(mpmath.mpf(1), abs(a), abs(b))
    return abs(a - b) <= scale * mpmath.mpf(10) ** (-AGREE_DIGITS)


def _compare_pair(a: sp.Expr, b: sp.Expr) -> tuple[str, str, bool, dict]:
    """Compare two forms; returns (method, detail, equal, counterexample)."""
    if a == b:
        return ("identical", "the forms are the same expression", True, {})

    # Estimate each side before building a - b: building it sorts and compares two large trees.
    ta = expansion_terms(a, EXPANSION_TERMS, atomic=DEFINED_FUNCTIONS)
    tb = None if ta is None else expansion_terms(b, EXPANSION_TERMS - ta, atomic=DEFINED_FUNCTIONS)
    if tb is not None:
        if sp.expand(a - b) == 0:
            return ("expansion", "proved: the difference expands to 0", True, {})

    try:
        evaluator = _ModularEvaluator()
        va, bad_a, na, da = evaluator(a)
        vb, bad_b, nb, db = evaluator(b)
        if not (bad_a | bad_b) and va == vb:
            degree = max(na + db, nb + da, 1)
            exponent = int(mpmath.floor(-POINTS * mpmath.log10(mpmath.mpf(degree) / PRIME)))
            return (
                "random points mod p",
                f"equal at {POINTS} random exact points modulo 2^61-1, each function value "
                f"treated as an unknown: polynomial identity, false-agreement chance below 1e-{exponent}",
                True,
                {},
            )
        # Different values (or a vanished denominator) are not a proof of inequality: sign(u)**2
        # and 1 differ as unknowns but not as numbers. The numeric check below decides.
    except (_Unsupported, RecursionError):
        pass

    # Points where both forms vanish (a dead ReLU region, say) show nothing: only points where
    # either side is non-zero count towards "equal".
    symbols = a.free_symbols | b.free_symbols
    informative = 0
    for index in range(NUMERIC_TRIES):
        point = _random_point(symbols, index)
        va, vb = evaluate(a, point), evaluate(b, point)
        if not _agree(va, vb):
            shown = {s.name: mpmath.nstr(v, 12) for s, v in point.items()}
            return (
                "numeric",
                f"differ at a random point: {mpmath.nstr(va, 15)} vs {mpmath.nstr(vb, 15)}",
                False,
                {"point": shown, "values": (mpmath.nstr(va, 20), mpmath.nstr(vb, 20))},
            )
        if max(abs(va), abs(vb)) > mpmath.mpf(10) ** (-AGREE_DIGITS):
            informative += 1
            if informative == POINTS:
                return (
                    "numeric",
                    f"equal to {AGREE_DIGITS} digits at {POINTS} random points (evidence, not a proof)",
                    True,
                    {},
                )
    return (
        "undecided",
        f"not shown: both forms vanish at {NUMERIC_TRIES - informative} of {NUMERIC_TRIES} random points "
        "and the exact test could not decide",
        False,
        {},
    )


_STRENGTH = ["identical", "expansion", "random points mod p", "numeric", "undecided"]


def verify(forms: dict[str, sp.Expr]) -> Verdict:
    """Check that every form equals the first; report the weakest method any pair needed."""
    names = tuple(forms)
    if len(names) < 2:
        raise ValueError("verify needs at least two forms to compare")
    reference = forms[names[0]]
    results = []
    for name in names[1:]:
        method, detail, equal, counter = _compare_pair(reference, forms[name])
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
