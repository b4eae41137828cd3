"""Error bounds as binary exponents: a value is within 2**E of the exact value at the point.

The arithmetic the numeric evaluator (:mod:`derivchain.symbolic.evaluate`) and the functions' own error
rules (their entries in :data:`derivchain.symbolic.rules.RULES`) share.
"""

from __future__ import annotations

import math

# Exact values have E = -inf; INF marks a value this precision cannot bound (an argument whose
# error could carry it across a breakpoint, a pole, or an exponent).
EXACT = float("-inf")


INF = float("inf")


def mag(value) -> float:
    """The binary exponent of an mpf, as mpmath.mag (|value| < 2**mag), -inf at 0; without its dispatch."""
    _, man, exp, bc = value._mpf_
    return exp + bc if man else EXACT


def join_errors(*exponents: float) -> float:
    """The exponent of a bound on a sum of errors 2**e (tight: log2 of the sum, not max + slack)."""
    top = max(exponents)
    if top == INF or top == EXACT:
        return top
    return top + math.log2(sum(2.0 ** (e - top) for e in exponents))


def bound(value, error: float) -> float:
    """The exponent of a bound on |value| + error: what a factor can multiply another's error by."""
    size = mag(value)
    return size if error <= size - 8 else max(size, error) + 1


def determined(value, error: float) -> bool:
    """Whether the sign of ``value`` is certain: its error is less than a quarter of it."""
    return bool(value) and error < mag(value) - 3
