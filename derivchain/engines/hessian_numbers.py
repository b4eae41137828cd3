"""The Hessian at numbers: every entry d2Loss/(dP dQ) at once, two ways, from the same local partials.

* **R-operator, every direction at once** (forward over reverse): the forward pass carries each node's
  tangent T(n) = dn/d(parameters) (a sparse vector), the backward pass each delta and its directional
  derivatives R(delta) (a vector over the directions Q); row P is the sum over P's uses of
  R(dz/dP) * delta + dz/dP * R(delta).
* **Pairs of paths grouped by meeting node**: H = the sum over nodes v of dLoss/dv * (f''(z_v) * T(z_v) T(z_v)^T +
  f'(z_v) * the sum over mixed reads of d2z/(da db) * T(a) T(b)^T), plus the loss's curvature between its reads'
  tangents. The loss's part between the outputs is the Gauss-Newton matrix J^T (d2Loss/dOut^2) J.

Numbers are exact (Fractions) where every local value is rational, else ``digits``-digit mpmath numbers.
"""

from __future__ import annotations

from fractions import Fraction

import mpmath
import sympy as sp

from ..record import record
from ..symbolic.walk import differentiate
from .curvature import curvature, inner_second, loss_second, mixed_reads
from ..model.network import Network


class _Inexact(Exception):
    """A local value is not rational: start again with mpmath numbers."""


@record(repr=False)
class HessianNumbers:
    """Both computations at one set of values: rows by the R-operator (``by_rows``), the pair sums (``by_pairs``),
    the pairs' loss part between outputs (``gauss_newton``), the gradient, and whether the numbers are exact."""

    parameters: tuple
    by_rows: list  # list of rows, each a list of numbers
    by_pairs: list
    gauss_newton: list
    logits_gauss_newton: list  # the Gauss-Newton matrix at the output pre-activations (J_z^T d2Loss/dz2 J_z)
    gradient: list
    exact: bool


def _add_outer(matrix: list, coefficient, u: dict, v: dict) -> None:
    """matrix += coefficient * u v^T (u, v sparse: index -> number)."""
    if not coefficient:
        return
    for i, a in u.items():
        ca = coefficient * a
        if ca:
            row = matrix[i]
            for j, b in v.items():
                row[j] += ca * b


def _axpy(out: dict, a, x: dict) -> None:
    """out += a * x, sparse."""
    if not a:
        return
    for i, v in x.items():
        out[i] = out.get(i, 0) + a * v


def hessian_numbers(network: Network, values: dict, parameters: tuple, digits: int = 50) -> HessianNumbers:
    """The full Hessian over ``parameters`` at ``values`` (symbols -> Fractions), both ways."""
    return _either(network, values, parameters, digits, None)


def hessian_vector_product(network: Network, values: dict, direction: dict, digits: int = 50) -> HessianNumbers:
    """H v at ``values`` for ``direction`` (parameter symbol -> Fraction), by one R-operator pass (H is not formed):
    ``by_rows`` holds one number per parameter of the network, in order; no pair sums."""
    return _either(network, values, network.parameters, digits, direction)


def _either(network, values, parameters, digits, direction):
    try:
        return _numbers(network, values, parameters, digits, True, direction)
    except _Inexact:
        with mpmath.workdps(digits + 10):
            return _numbers(network, values, parameters, digits, False, direction)


def _numbers(network: Network, values: dict, parameters: tuple, digits: int, exact: bool, direction: dict | None) -> HessianNumbers:
    from ..model.values import as_mpf, environment, value_of

    env, env_exact = environment(network, values, exact, digits)
    if exact and not env_exact:
        raise _Inexact
    cache: dict = {}

    def num(expr):
        """``expr`` (in neuron symbols) at the values: a Fraction, or an mpf."""
        key = expr
        hit = cache.get(key)
        if hit is None:
            n = value_of(expr, env, exact, digits)
            if exact and not n.exact:
                raise _Inexact
            hit = cache[key] = n.value if exact else as_mpf(n.value, digits)
        return hit

    zero = Fraction(0) if exact else mpmath.mpf(0)
    index = {p: i for i, p in enumerate(parameters)}
    one = Fraction(1) if exact else mpmath.mpf(1)
    if direction is None:  # a direction per parameter: the tangents' entries are the Hessian's columns
        size = len(parameters)
        tangent: dict = {p: {i: one} for p, i in index.items()}
    else:  # one direction: a tangent's one entry is its derivative along it
        size = 1
        tangent = {p: {0: (v if exact else as_mpf(v, digits)) * one} for p, v in direction.items() if v}
    for n in network.neurons:  # forward: T(n) = sum over reads of d(n)/d(read) * T(read)
        t: dict = {}
        for a in n.reads:
            if tangent.get(a):
                _axpy(t, num(n.partial(a)), tangent[a])
        tangent[n.symbol] = t
    # Backward: dLoss/d(node) and each delta.
    adjoint, delta = {}, {}
    for n in reversed(network.neurons):
        total = num(network.loss_derivative(n)) if n.is_output else zero
        for k, c in network.successors.get(n.symbol, ()):
            total += num(c) * delta[k.symbol]
        adjoint[n.symbol] = total
        delta[n.symbol] = num(n.derivative()) * total

    def rate(expr) -> dict:
        """R(expr) over every direction: the sum over its symbols s of d(expr)/ds * T(s)."""
        out: dict = {}
        for s in sorted(expr.free_symbols, key=sp.default_sort_key):
            if tangent.get(s):
                _axpy(out, num(differentiate(expr, s)), tangent[s])
        return out

    gradient = [zero] * len(parameters)
    for p, i in index.items():
        for u in network.uses.get(p, ()):
            gradient[i] += num(network.loss_partial(p)) if u is None else num(u.inner_partial(p)) * delta[u.symbol]
    # The R-operator: R(delta) for every node, as a vector over the directions.
    r_delta: dict = {}
    for n in reversed(network.neurons):
        moved: dict = {}
        if n.is_output:
            _axpy(moved, 1, rate(network.loss_derivative(n)))
        for k, c in network.successors.get(n.symbol, ()):
            _axpy(moved, delta[k.symbol], rate(c))
            _axpy(moved, num(c), r_delta[k.symbol])
        out: dict = {}
        _axpy(out, adjoint[n.symbol], rate(n.derivative()))
        _axpy(out, num(n.derivative()), moved)
        r_delta[n.symbol] = out
    by_rows = []
    for p in parameters:
        row: dict = {}
        for u in network.uses.get(p, ()):
            if u is None:
                _axpy(row, 1, rate(network.loss_partial(p)))
            else:
                c = u.inner_partial(p)
                _axpy(row, delta[u.symbol], rate(c))
                _axpy(row, num(c), r_delta[u.symbol])
        by_rows.append([row.get(j, zero) for j in range(size)])
    if direction is not None:
        return HessianNumbers(tuple(parameters), by_rows, [], [], [], gradient, exact)
    # Pairs of paths, grouped by meeting node.
    def empty():
        return [[zero] * size for _ in range(size)]

    by_pairs, gauss_newton, logits = empty(), empty(), empty()
    outputs = {o.symbol for o in network.outputs}
    for n in network.neurons:
        reads = [a for a in n.reads if tangent.get(a)]
        if not reads or not adjoint[n.symbol]:
            continue
        f2 = curvature(network, n)
        if f2 != 0:
            tz: dict = {}
            for a in reads:
                _axpy(tz, num(n.inner_partial(a)), tangent[a])
            coefficient = adjoint[n.symbol] * num(f2)
            _add_outer(by_pairs, coefficient, tz, tz)
            if n.symbol in outputs:
                _add_outer(logits, coefficient, tz, tz)
        d = num(n.derivative())
        for a in reads:
            for b in mixed_reads(n, a):
                if tangent.get(b):
                    _add_outer(by_pairs, adjoint[n.symbol] * d * num(inner_second(n, a, b)), tangent[a], tangent[b])
    loss_reads = [a for a in network.uses_of_loss if tangent.get(a)]
    for a in loss_reads:
        held = network.loss_partial(a).free_symbols
        for b in loss_reads:
            if b in held:
                c = num(loss_second(network, a, b))
                _add_outer(by_pairs, c, tangent[a], tangent[b])
                if a in outputs and b in outputs:
                    _add_outer(gauss_newton, c, tangent[a], tangent[b])
                    _add_outer(logits, c, tangent[a], tangent[b])
    return HessianNumbers(tuple(parameters), by_rows, by_pairs, gauss_newton, logits, gradient, exact)
