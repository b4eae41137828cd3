"""Verification: do two or more forms of a derivative agree? Never says "equal" without showing it.

Methods, strongest first:

* ``identical`` - the forms are the same SymPy expression.
* ``expansion`` - a proof: both forms are polynomials in symbols and function values (sign(u), ...)
  and their difference expands to 0. Tried only when the expansion is small.
* ``random points mod p`` - exact evaluation modulo a 62-bit prime p at k random points, each
  function value (sign(u), exp(u), tanh(u), ...) replaced by a pseudo-random value that depends only
  on the function and its argument's value; at an argument that is 0 (identically, if not written
  so) the function's own value there (Heaviside's second argument, 0 for odd functions, exp's 1);
  Heaviside(u, v) of a u holding function values an unknown of v too.
  Agreement at all k points shows the forms are the same
  rational function of the symbols and those values (so equal as real functions), except with
  probability below (d/p)**k (Schwartz-Zippel; d bounds the degree of the difference). The prime and
  the points are drawn from a seed made of the forms' own constants (deterministic output): forms
  that differ by a multiple of the prime, or whose function arguments do, would need a constant
  chosen for a prime that the constant itself changes.
* ``numeric`` - evaluation with the real functions at points spread over every scale the forms'
  constants reach and placed on both sides of every breakpoint the forms contain (sign, |u|,
  Heaviside, max, min, ReLU, ...: solved where its argument is linear or polynomial in a symbol,
  bracketed along the symbols otherwise, and approached closer than the largest coefficient could
  make a bump narrow), at a precision that grows with the constants' digits, with the error each
  evaluation meets and past twice the digits any value hides (a term far smaller than its sum, as
  exp(-100) next to x; a saturated function, as tanh(100) = 1 - 2e-87: each function's ``hidden``
  rule): every value carries a bound on its error (a running error analysis, so cancellation deep in
  a form counts even where the result is then multiplied by something huge), and the precision is
  raised until the bounds leave enough digits. Agreement at k points where the forms do not both
  vanish is reported as such, not as a proof. A disagreement past the bounds is re-checked at four
  times the precision and then shown as a counterexample, with enough digits that the two values
  visibly differ: this is the only way the verdict says "not equal". Points where a form is
  undefined or not real, or hides detail past the precision cap, are skipped; if too few points are
  informative, or a breakpoint could not be located, the verdict is ``undecided``, with the reason,
  never "equal".

Non-differentiable points: d|u|/du is taken as sign(u) (0 at u = 0) and ReLU'(0) as 0. Random points
miss those sets with probability 1, so the verdict is about the derivative where it exists.
"""

from __future__ import annotations

from collections import Counter
from fractions import Fraction

import sympy as sp

from .. import memo
from ..symbolic.sizes import expansion_terms
from ..symbolic.polynomial import expands_to_zero
from ..symbolic.rules import DEFINED_FUNCTIONS
from .modular import POINTS, ModularEvaluator, Unsupported, chance_exponent, seed_of
from .numeric import numeric_check
from .verdict import STRENGTH, Verdict, weakest

__all__ = ["verify", "Verdict", "weakest", "METHODS"]


EXPANSION_TERMS = 300  # past this the exact random-point test is much cheaper than expand


#: What each method shows, in its verdicts' words: said once where many verdicts share it (a table's JSON,
#: whose rows each give their method's name); a verdict's own detail adds its numbers (a chance, digits).
METHODS = {
    "identical": "the forms are the same expression",
    "expansion": "proved: the forms multiply out to the same terms (their difference expands to 0)",
    "random points mod p": f"equal at {POINTS} random exact points modulo a 62-bit prime drawn from the forms, each "
                           "function value treated as an unknown: polynomial identity, false-agreement chance "
                           "below (d/p)**4 for forms of degree d (each weight's figure: grad NAME --format json)",
    "numeric": f"equal, within error bounds, at {POINTS} points over several scales where the forms do not both "
               "vanish (evaluated, not proved)",
}


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


def _compare_pair(a: sp.Expr, b: sp.Expr, rewrites: bool, scratch: dict) -> tuple[str, str, bool, dict]:
    """Compare two forms; returns (method, detail, equal, counterexample). ``rewrites``: see :func:`verify`;
    ``scratch``: what one verification keeps across its pairs (its own, so verify() is re-entrant)."""
    if a == b:
        return ("identical", "the forms are the same expression", True, {})
    if rewrites and _distributed_equal(a, b):
        return ("expansion", "proved: the two forms multiply out to the same terms", True, {})

    # Estimate each side before building a - b: building it sorts and compares two large trees.
    # The reference form is compared with each other form in turn: its estimate is made once.
    if "reference terms" not in scratch:
        scratch["reference terms"] = expansion_terms(a, EXPANSION_TERMS, atomic=DEFINED_FUNCTIONS)
    ta = scratch["reference terms"]
    tb = None if ta is None else expansion_terms(b, EXPANSION_TERMS - ta, atomic=DEFINED_FUNCTIONS)
    if tb is not None:
        if expands_to_zero(a, b):
            return ("expansion", "proved: the difference expands to 0", True, {})

    seed = seed_of(a, b)
    try:
        evaluator = ModularEvaluator(seed)
        va, bad_a, na, da = evaluator(a)
        vb, bad_b, nb, db = evaluator(b)
        if not (bad_a | bad_b) and va == vb:
            exponent = chance_exponent(max(na + db, nb + da, 1), evaluator.prime)
            return (
                "random points mod p",
                f"equal at {POINTS} random exact points modulo a 62-bit prime drawn from the forms, each "
                f"function value treated as an unknown: polynomial identity, false-agreement chance below 1e-{exponent}",
                True,
                {},
            )
        # Different values (or a vanished denominator) are not a proof of inequality: sign(u)**2
        # and 1 differ as unknowns but not as numbers. The numeric check below decides.
    except (Unsupported, RecursionError):
        pass
    return numeric_check(a, b, seed, scratch.setdefault("evaluations", {}))


def verify(forms: dict[str, sp.Expr], rewrites: bool = False) -> Verdict:
    """Check that every form equals the first; report the weakest method any pair needed.

    ``rewrites``: each form may be the first with common factors pulled out of a sum (an equation's
    factored right-hand side): such a pair is first multiplied out one level, which proves it exactly
    at a fraction of a full expansion's cost."""
    names = tuple(forms)
    if len(names) < 2:
        raise ValueError("verify needs at least two forms to compare")
    forms = {name: _expression(name, form) for name, form in forms.items()}
    with memo.scratch():  # outside any network's work, this call's own memos (shared by its pairs)
        return _verify(forms, names, rewrites)


def _expression(name: str, form) -> sp.Expr:
    """A form as a SymPy expression: a Python number becomes one; text is refused (it is never evaluated here:
    parse it first with the network's whitelist parser)."""
    if isinstance(form, sp.Basic):
        return form
    if isinstance(form, (int, Fraction)) and not isinstance(form, bool):
        return sp.Rational(form)
    if isinstance(form, float):
        return sp.Float(form)
    raise TypeError(f"verify: form {name!r} is a {type(form).__name__}, not a SymPy expression or a number; "
                    "parse text with derivchain.symbolic.parse.parse_expression (the whitelist parser) first")


def _verify(forms: dict[str, sp.Expr], names: tuple[str, ...], rewrites: bool) -> Verdict:
    reference = forms[names[0]]
    results = []
    scratch: dict = {}
    for name in names[1:]:
        method, detail, equal, counter = _compare_pair(reference, forms[name], rewrites, scratch)
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
    method, detail = max(results, key=lambda r: STRENGTH.index(r[0]))
    proof = method in ("identical", "expansion")
    return Verdict(True, method, f"{', '.join(names)}: {detail}", proof, names)
