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
from .functions import DEFINED_FUNCTIONS

PRIME = 2**61 - 1
POINTS = 4
DIGITS = 50
AGREE_DIGITS = 40
NUMERIC_TRIES = 24
EXPANSION_TERMS = 300  # past this the exact random-point test is much cheaper than expand
SEED = "derivchain"


@dataclass(frozen=True)
class Verdict:
    """Whether the forms agree, how that was shown, and how strongly."""

    equal: bool
    method: str
    detail: str
    proof: bool
    forms: tuple[str, ...]
    counterexample: dict = field(default_factory=dict, compare=False)
    decided: bool = True

    @property
    def word(self) -> str:
        """``equal``, ``NOT equal`` or ``undecided``."""
        return "equal" if self.equal else ("NOT equal" if self.decided else "undecided")

    def __str__(self) -> str:
        word = self.word
        return f"{word} ({self.method}): {self.detail}"

    def _latex(self, printer) -> str:
        word = r"\text{%s}" % self.word if self.decided else r"\textbf{undecided}"
        return r"%s\ (\text{%s})" % (word, printer.text(self.method))


class _Unsupported(Exception):
    """An expression the modular evaluator cannot handle (the numeric check takes over)."""


class _ZeroDivision(Exception):
    """A denominator vanished at the sample point; another point is drawn."""


def _oracle(*parts) -> int:
    # A deterministic pseudo-random value mod p (Python's hash() is salted per process).
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=16).digest()
    return int.from_bytes(digest, "big") % PRIME


def _number_mod(q) -> int:
    frac = Fraction(q) if not isinstance(q, Fraction) else q
    if frac.denominator % PRIME == 0:
        raise _ZeroDivision
    return frac.numerator * pow(frac.denominator, -1, PRIME) % PRIME


# A node's value at sample point k depends only on the node and k (the oracle is deterministic), so
# one memo per point serves every comparison: a network's neurons are evaluated once, not once per
# weight. Bounded, so a long session does not grow without limit.
_MEMOS: dict[int, dict[sp.Basic, tuple[int, int, int]]] = {}
_MEMO_LIMIT = 2_000_000


class _ModularEvaluator:
    """Evaluates expressions mod p over shared subexpressions, and bounds their degree."""

    def __init__(self, point: int):
        self.point = point
        if sum(len(m) for m in _MEMOS.values()) > _MEMO_LIMIT:
            _MEMOS.clear()
        self.memo = _MEMOS.setdefault(point, {})

    def __call__(self, expr: sp.Basic) -> tuple[int, int, int]:
        """(value mod p, numerator degree bound, denominator degree bound)."""
        hit = self.memo.get(expr)
        if hit is None:
            hit = self.memo[expr] = self._eval(expr)
        return hit

    def _oracle(self, name: str, value: int) -> int:
        return _oracle(SEED, self.point, name, value)

    def _function(self, name: str, v: int) -> tuple[int, int, int]:
        """A function value at argument v: an unknown, with the parity identities it must obey."""
        # Residues above p/2 stand for negative numbers, so sign(-u) = -sign(u) holds exactly.
        negative, mirror = v > PRIME // 2, (PRIME - v) % PRIME
        if name in ODD:
            return ((-self._oracle(name, mirror) if negative else self._oracle(name, v)) % PRIME, 1, 0)
        if name in EVEN:
            return (self._oracle(name, mirror if negative else v), 1, 0)
        if name == "Heaviside":  # H(-u) = 1 - H(u) away from u = 0
            return ((1 - self._oracle(name, mirror)) % PRIME if negative else self._oracle(name, v), 1, 0)
        if name == "exp":  # exp(-u) = 1/exp(u)
            if negative:
                return (pow(self._oracle(name, mirror), -1, PRIME), 1, 1)
            return (self._oracle(name, v), 1, 1)
        if name == "sigmoid":  # 1/(1 + exp(-u))
            e, _, _ = self._function("exp", (PRIME - v) % PRIME)
            if (1 + e) % PRIME == 0:
                raise _ZeroDivision
            return (pow(1 + e, -1, PRIME), 1, 1)
        return (self._oracle(name, v), 1, 0)

    def _eval(self, e: sp.Basic) -> tuple[int, int, int]:
        # Products and sums first: they are most of every derivative's nodes.
        memo = self.memo
        if e.is_Mul:
            value, num, den = 1, 0, 0
            for a in e.args:
                v, n, d = memo.get(a) or self(a)
                value, num, den = value * v % PRIME, num + n, den + d
            return (value, num, den)
        if e.is_Add:
            parts = [memo.get(a) or self(a) for a in e.args]
            den = sum(d for _, _, d in parts)
            num = max(n + den - d for _, n, d in parts)
            return (sum(v for v, _, _ in parts) % PRIME, num, den)
        if e.is_Symbol:
            return (self._oracle("symbol", e.name), 1, 0)
        if e.is_Rational:
            return (_number_mod(Fraction(int(e.p), int(e.q))), 0, 0)
        if e.is_Float:
            return (_number_mod(Fraction(*sp.Rational(e).as_numer_denom())), 0, 0)
        if e.is_NumberSymbol or e is sp.I:
            return (self._oracle("constant", str(e)), 1, 0)
        if e.is_Pow:
            base, ex = e.args
            if not ex.is_Integer:
                raise _Unsupported("non-integer power")
            v, n, d = self(base)
            k = int(ex)
            if k >= 0:
                return (pow(v, k, PRIME), n * k, d * k)
            if v == 0:
                raise _ZeroDivision
            return (pow(v, k, PRIME), d * -k, n * -k)
        if isinstance(e, sp.Heaviside) or (isinstance(e, (sp.Function, sp.Max, sp.Min)) and len(e.args) == 1):
            # Heaviside(u) and Heaviside(u, 0) differ only at u = 0, which random points miss.
            return self._function(e.func.__name__, self(e.args[0])[0])
        if isinstance(e, (sp.Function, sp.Max, sp.Min)):
            return (self._oracle(e.func.__name__, tuple(self(a)[0] for a in e.args)), 1, 0)
        raise _Unsupported(type(e).__name__)


#: Functions with f(-u) = -f(u) and f(-u) = f(u): the modular check builds these identities in.
ODD = {"sign", "tanh", "sinh", "atan", "asinh", "atanh", "erf", "sin", "tan"}
EVEN = {"Abs", "cosh", "cos"}


def _random_point(symbols, index: int) -> dict[sp.Symbol, mpmath.mpf]:
    # Reals in (-2, 2), drawn deterministically from the seed, away from round numbers.
    point = {}
    for s in sorted(symbols, key=lambda s: s.name):
        raw = _oracle(SEED, "real", index, s.name)
        point[s] = mpmath.mpf(raw) / PRIME * 4 - 2
    return point


_NUMERIC = {
    "exp": mpmath.exp,
    "log": mpmath.log,
    "tanh": mpmath.tanh,
    "sinh": mpmath.sinh,
    "cosh": mpmath.cosh,
    "sign": mpmath.sign,
    "Abs": abs,
    "Max": max,
    "Min": min,
}


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
        elif isinstance(e, sp.Heaviside):
            u = ev(e.args[0])
            at_zero = ev(e.args[1]) if len(e.args) > 1 else mpmath.mpf(1) / 2
            out = mpmath.mpf(1) if u > 0 else (mpmath.mpf(0) if u < 0 else at_zero)
        elif e.func.__name__ in DEFINED_FUNCTIONS:
            out = e.func.numeric(*(ev(a) for a in e.args))
        elif e.func.__name__ in _NUMERIC:
            out = mpmath.mpf(_NUMERIC[e.func.__name__](*(ev(a) for a in e.args)))
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
        degree, points = 0, 0
        for index in range(3 * POINTS):
            evaluator = _ModularEvaluator(index)
            try:
                va, na, da = evaluator(a)
                vb, nb, db = evaluator(b)
            except _ZeroDivision:
                continue
            if va != vb:
                break
            degree = max(degree, na + db, nb + da, 1)
            points += 1
            if points == POINTS:
                exponent = int(mpmath.floor(-POINTS * mpmath.log10(mpmath.mpf(degree) / PRIME)))
                return (
                    "random points mod p",
                    f"equal at {POINTS} random exact points modulo 2^61-1, each function value "
                    f"treated as an unknown: polynomial identity, false-agreement chance below 1e-{exponent}",
                    True,
                    {},
                )
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
