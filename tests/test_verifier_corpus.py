"""A corpus of hostile pairs for the verifier, each labelled with the truth.

The verifier must never call an unequal pair equal; it should call equal pairs equal (or, where it
cannot decide, say "undecided" and why), and never report a counterexample for an equal pair. The
pairs attack what a fixed prime, fixed points, a small box and fixed precision would miss: forms
that differ by a multiple of a prime, thresholds far from the origin, differences past 40 digits,
cancellation, and values that are complex or undefined at some points.
"""

from __future__ import annotations

import pytest
import sympy as sp

from derivchain.symbolic.functions import elu, leaky_relu, relu, sigmoid
from derivchain.verification.compare import verify

x, y, z = sp.symbols("x y z", real=True)
P = 2**61 - 1  # the prime an earlier verifier used, fixed
Q = 2**89 - 1
R = sp.Rational
H = sp.Heaviside

UNEQUAL = {
    "x + p": (x + P, x),
    "x + 2p": (x + 2 * P, x),
    "x + pq": (x + P * Q, x),
    "p*x": (P * x, 0 * x + 0),
    "sign(x + p)": (sp.sign(x + P), sp.sign(x)),
    "exp(x + p)": (sp.exp(x + P), sp.exp(x)),
    "tanh(x*p)": (sp.tanh(P * x * y), sp.tanh(0 * x)),
    "sigmoid(x + p)": (sigmoid(x + P), sigmoid(x)),
    "x/(x + p)": (x / (x + P), 1 + 0 * x),
    "x + 1e-50": (x + R(1, 10**50), x),
    "x + 1e-100": (x + R(1, 10**100), x),
    "x + 1e-300": (x + R(1, 10**300), x),
    "y + 1e-45 inside a product": ((y + R(1, 10**45)) * x, x * y),
    "max threshold 1000": (sp.Max(x, 1000), x),
    "min threshold -500": (sp.Min(x, -500), x),
    "max threshold 1e5": (sp.Max(x, 10**5), x),
    "heaviside at 100": (H(x - 100), 0 * x),
    "heaviside at 1e5 times x": (H(x - 10**5) * x, 0 * x),
    "relu at 50": (relu(x - 50), 0 * x),
    "relu at -1e4": (relu(x + 10**4), x + 10**4),
    "abs at 300": (sp.Abs(x - 300), x - 300),
    "sign at 1000": (sp.sign(x - 1000), 1 + 0 * x),
    "sign at 1e-7": (sp.sign(x - R(1, 10**7)), sp.sign(x)),
    "clip": (sp.Min(sp.Max(x, -3), 3), x),
    "square off by 1": ((x + 1) ** 2, x**2 + 2 * x),
    "pythagoras off by 1e-45": (sp.sin(x) ** 2 + sp.cos(x) ** 2, 1 + R(1, 10**45) + 0 * x),
    "exp product off by 1e-60": (sp.exp(x) * sp.exp(-x), 1 + R(1, 10**60) + 0 * x),
    "cosh/sinh off by 1e-30": (sp.cosh(60 * x) ** 2 - sp.sinh(60 * x) ** 2, 1 + R(1, 10**30) + 0 * x),
    "tanh vs sigmoid(2x)": (sp.tanh(x), sigmoid(2 * x)),
    "leaky vs relu": (leaky_relu(x, R(1, 100)), relu(x)),
    "leaky at 200": (leaky_relu(x - 200, R(1, 100)), x - 200),
    "elu vs x": (elu(x), x),
    "sign(xy) vs sign(x)": (sp.sign(x * y), sp.sign(x)),
    "abs(xy) vs xy": (sp.Abs(x * y), x * y),
    "sigmoid vs its Taylor": (sigmoid(x), R(1, 2) + x / 4),
    "max(x, y) vs x": (sp.Max(x, y), x),
    "min + max off by 1e-50": (sp.Min(x, y) + sp.Max(x, y), x + y + R(1, 10**50)),
    "pole moved by 1e-6": (1 / (x - 1000), 1 / (x - R(1000000001, 10**6))),
    "a dropped path (ReLU dead half the time)": (relu(x) * y + relu(-x) * z, relu(x) * y),
    "doubled gradient where relu is alive": (2 * relu(x) * y, relu(x) * y),
}

EQUAL = {
    "cosh/sinh cancellation": (sp.cosh(60 * x) ** 2 - sp.sinh(60 * x) ** 2, 1 + 0 * x),
    "cosh/sinh": (sp.cosh(x) ** 2 - sp.sinh(x) ** 2, 1 + 0 * x),
    "pythagoras": (sp.sin(x) ** 2 + sp.cos(x) ** 2, 1 + 0 * x),
    "exp product": (sp.exp(x) * sp.exp(-x), 1 + 0 * x),
    "exp quotient at scale": (sp.exp(1000 * x) / sp.exp(999 * x), sp.exp(x)),
    "log of a product of negatives": (sp.log(x * y), sp.log(-x) + sp.log(-y)),
    "abs as x*sign": (sp.Abs(x), x * sp.sign(x)),
    "max by abs": (sp.Max(x, y), (x + y + sp.Abs(x - y)) / 2),
    "min by abs": (sp.Min(x, y), (x + y - sp.Abs(x - y)) / 2),
    "relu as x*H": (relu(x), x * H(x)),
    "relu as max": (relu(x), sp.Max(0, x)),
    "relu far out": (relu(x - 1000), sp.Max(0, x - 1000)),
    "tanh by sigmoid": (sp.tanh(x), 2 * sigmoid(2 * x) - 1),
    "sigmoid by exp": (sigmoid(x), 1 / (1 + sp.exp(-x))),
    "sigmoid parity": (sigmoid(-x), 1 - sigmoid(x)),
    "sigmoid derivative": (sigmoid(x) * (1 - sigmoid(x)), sp.exp(-x) / (1 + sp.exp(-x)) ** 2),
    "binomial": ((x + y) ** 2, x**2 + 2 * x * y + y**2),
    "sign squared": (sp.sign(x) ** 2, 1 + 0 * x),
    "heaviside halves": (H(x) + H(-x), 1 + 0 * x),
    "leaky as max": (leaky_relu(x, R(1, 5)), sp.Max(x, x / 5)),
    "elu piecewise": (elu(x), sp.Piecewise((x, x > 0), (sp.exp(x) - 1, True))),
    "abs scaling": (x / (1 + sp.Abs(x)) * (1 + sp.Abs(x)), x),
    "huge constants cancel": ((x - 10**50) ** 2 - x**2 + 2 * x * 10**50, sp.Integer(10) ** 100 + 0 * x),
    "sinh by exp": ((sp.exp(x) - sp.exp(-x)) / 2, sp.sinh(x)),
    "cosh by exp": ((sp.exp(x) + sp.exp(-x)) / 2, sp.cosh(x)),
    "abs far out": (sp.Abs(x - 300), sp.Max(x - 300, 300 - x)),
    "relu by heaviside far out": (H(x - 100) * (x - 100), relu(x - 100)),
    "sign of a product": (sp.sign(x * y), sp.sign(x) * sp.sign(y)),
    "abs of a product": (sp.Abs(x * y), sp.Abs(x) * sp.Abs(y)),
    "double reciprocal": (1 / (1 / (x + y)), x + y),
    "sigmoid complement": (sigmoid(x) + sigmoid(-x), 1 + 0 * x),
    "p cancels": ((x + P) * (x - P), x**2 - P**2),
    "p in a function cancels": (sp.sign(x + P - P), sp.sign(x)),
    "clip by relu": (sp.Min(sp.Max(x, -3), 3), relu(x + 3) - relu(x - 3) - 3),
    "tiny constants cancel": ((x + R(1, 10**80)) * (x - R(1, 10**80)), x**2 - R(1, 10**160)),
}


_SEEN: dict = {}


def _check(pair, truth: bool):
    a, b = (sp.sympify(f) for f in pair)
    verdict = _SEEN.get((a, b))
    if verdict is None:
        verdict = _SEEN[(a, b)] = verify({"a": a, "b": b})
    if truth:
        assert verdict.word != "NOT equal", f"an equal pair was called NOT equal: {verdict}"
        if not verdict.equal:
            assert verdict.word == "undecided" and "not shown:" in verdict.detail, verdict
    else:
        assert not verdict.equal, f"an unequal pair was called equal: {verdict}"
    return verdict


@pytest.mark.parametrize("name", list(UNEQUAL))
def test_unequal_pairs_are_never_called_equal(name):
    _check(UNEQUAL[name], False)


@pytest.mark.parametrize("name", list(EQUAL))
def test_equal_pairs_are_never_called_unequal(name):
    _check(EQUAL[name], True)


def test_the_corpus_is_large_and_mostly_decided():
    assert len(UNEQUAL) + len(EQUAL) >= 60
    decided = [_check(pair, False).word == "NOT equal" for pair in UNEQUAL.values()]
    assert sum(decided) >= len(UNEQUAL) - 2  # the verifier finds the counterexample, not just "undecided"
    shown = [_check(pair, True).equal for pair in EQUAL.values()]
    assert sum(shown) >= len(EQUAL) - 3


def test_the_verdict_is_deterministic():
    pair = UNEQUAL["max threshold 1000"]
    assert str(verify({"a": pair[0], "b": pair[1]})) == str(verify({"a": pair[0], "b": pair[1]}))
