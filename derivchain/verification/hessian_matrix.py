"""The full Hessian at numbers (``hessian --values``): computed two ways and compared entry by entry, its symmetry
checked, its Gauss-Newton and residual parts where the loss has such a split, eigenvalues, the Newton step, H v."""

from __future__ import annotations

from fractions import Fraction
from math import copysign, hypot, sqrt

import mpmath
import sympy as sp

from .. import limits
from ..errors import DerivchainError
from ..record import record
from ..result import Result
from ..engines.hessian_numbers import HessianNumbers, hessian_numbers, hessian_vector_product
from ..model.losses import LOSSES
from ..model.network import Network
from ..model.nodes import reading_order
from ..model.values import DIGITS, Number, as_mpf

#: Most parameters the full matrix is formed for (a row each; an R-operator pass per direction).
MAX_PARAMETERS = 400
#: Most parameters H v is also checked against the full matrix for.
HVP_CHECK_PARAMETERS = 60
#: Digits the two computations must agree to (of the largest entry) when not exact.
AGREE_DIGITS = DIGITS - 10


class HessianError(DerivchainError):
    """Options for the full Hessian that cannot be met."""


@record(repr=False)
class HessianMatrix(Result):
    """d2Loss/(dP dQ) for every pair of ``parameters`` at the values (a batch: the mean or sum over samples)."""

    kind = "hessian_matrix"  # the renderers' method for it (see derivchain.result)

    network: Network
    parameters: tuple
    matrix: tuple  # rows of Numbers (by the R-operator, every direction at once)
    gauss_newton: tuple | None  # rows of Numbers, None where the loss has no such split
    residual: tuple | None
    split: str  # what the split is, in words ("" without one)
    symmetric: bool
    agree: bool  # the R-operator rows equal the pair sums, entry by entry
    detail: str  # how they were compared
    eigenvalues: tuple  # ascending, floats (of the symmetric part)
    gradient: tuple  # Numbers
    exact: bool
    samples: int = 1
    reduction: str = "mean"
    newton_step: tuple | None = None  # Numbers: -H^-1 g, when asked and H is invertible
    newton_note: str = ""
    direction: tuple = ()  # (name, Fraction) per given component
    hessian_vector_product: tuple | None = None  # Numbers, one per parameter of the network, by one R-operator pass
    hvp_checked: bool | None = None  # H v equal to the full matrix times v (None: not checked, too large)
    newton: bool = False  # the Newton step was asked for
    regulariser: tuple | None = None  # rows of Numbers: lambda on each weight's diagonal (--l2), None without L2
    notes: tuple = ()  # the second-derivative convention of each function met at its kink at these values

    @property
    def verified(self) -> bool:
        """True when both computations agree, H is symmetric and (where checked) H v equals the matrix times v."""
        return self.agree and self.symmetric and self.hvp_checked is not False

    def __repr__(self) -> str:
        n = len(self.parameters)
        return f"HessianMatrix({n}x{n}, {'verified' if self.verified else 'NOT verified'})"


def _reduce(mats: list, reduction: str, exact: bool):
    """Entrywise mean or sum of equal-shaped nested lists (or of flat lists)."""
    if len(mats) == 1:
        return mats[0]
    first = mats[0]
    count = len(mats) if reduction == "mean" else 1
    if first and isinstance(first[0], list):
        return [[sum(m[i][j] for m in mats) / count for j in range(len(first[i]))] for i in range(len(first))]
    return [sum(m[i] for m in mats) / count for i in range(len(first))]


def _as(x, exact: bool):
    return x if exact else as_mpf(x)


def _numbers(rows, exact: bool) -> tuple:
    return tuple(tuple(Number(v, exact) for v in row) for row in rows)


def _close(a, b, tolerance) -> bool:
    return a == b if tolerance is None else abs(a - b) <= tolerance


def _float(x) -> float:
    return float(x)


def eigenvalues(rows: list) -> tuple[float, ...]:
    """The eigenvalues of a symmetric matrix, ascending, in double precision: Householder to tridiagonal form,
    then the implicit QL method (mpmath's ``tridiag_eigen``)."""
    n = len(rows)
    a = [[_float(v) for v in row] for row in rows]
    a = [[(a[i][j] + a[j][i]) / 2 for j in range(n)] for i in range(n)]
    for k in range(n - 2):
        x = [a[i][k] for i in range(k + 1, n)]
        norm = sqrt(sum(v * v for v in x))
        if norm == 0:
            continue
        alpha = -copysign(norm, x[0])
        v = x[:]
        v[0] -= alpha
        vn = sqrt(sum(t * t for t in v))
        if vn == 0:
            continue
        v = [t / vn for t in v]
        m = n - k - 1
        block = [a[k + 1 + i][k + 1:] for i in range(m)]
        p = [sum(r[j] * v[j] for j in range(m)) for r in block]
        kk = sum(v[i] * p[i] for i in range(m))
        q = [p[i] - kk * v[i] for i in range(m)]
        for i in range(m):
            row = a[k + 1 + i]
            vi, qi = v[i], q[i]
            for j in range(m):
                row[k + 1 + j] -= 2 * (vi * q[j] + qi * v[j])
        for i in range(k + 1, n):
            a[i][k] = a[k][i] = 0.0
        a[k + 1][k] = a[k][k + 1] = alpha
    d = [a[i][i] for i in range(n)]
    e = [a[i + 1][i] for i in range(n - 1)] + [0.0]
    _implicit_ql(d, e)
    values = sorted(d)
    # What double precision cannot tell from 0 (an exact 0 computed as 1e-18) is 0.
    floor = 1e-12 * max((abs(v) for v in values), default=0)
    return tuple(0.0 if abs(v) <= floor else v for v in values)


def _implicit_ql(d: list, e: list) -> None:
    """The eigenvalues of the symmetric tridiagonal matrix with diagonal ``d`` and ``e[i]`` beside ``d[i]``, ``d[i + 1]``
    (``e[-1]`` 0), into ``d``: the implicit QL method with Wilkinson's shift (Numerical Recipes' tqli), in floats.
    mpmath's ``tridiag_eigen`` at 20 digits took 12 s of a 200-parameter Hessian; this takes a fraction of one."""
    n = len(d)
    for l in range(n):
        for _ in range(200):
            m = l
            while m < n - 1:
                scale = abs(d[m]) + abs(d[m + 1])
                if abs(e[m]) <= 1e-16 * scale or scale + abs(e[m]) == scale:
                    break
                m += 1
            if m == l:
                break
            g = (d[l + 1] - d[l]) / (2 * e[l])
            r = hypot(g, 1.0)
            g = d[m] - d[l] + e[l] / (g + copysign(r, g))
            s = c = 1.0
            p = 0.0
            i = m - 1
            while i >= l:
                f, b = s * e[i], c * e[i]
                r = hypot(f, g)
                e[i + 1] = r
                if r == 0.0:  # underflow: the matrix splits here; start this eigenvalue again
                    d[i + 1] -= p
                    e[m] = 0.0
                    break
                s, c = f / r, g / r
                g = d[i + 1] - p
                r = (d[i] - g) * s + 2 * c * b
                p = s * r
                d[i + 1] = g + p
                g = c * r - b
                i -= 1
            else:
                d[l] -= p
                e[l] = g
                e[m] = 0.0


def solve(rows: list, rhs: list, exact: bool, tolerance):
    """x with rows x = rhs by Gaussian elimination with partial pivoting; None where the matrix is singular
    (a pivot within ``tolerance`` of 0, exactly 0 when exact)."""
    n = len(rows)
    a = [list(r) + [b] for r, b in zip(rows, rhs)]
    for c in range(n):
        pivot = max(range(c, n), key=lambda r: abs(a[r][c]))
        if a[pivot][c] == 0 or (tolerance is not None and abs(a[pivot][c]) <= tolerance):
            return None
        a[c], a[pivot] = a[pivot], a[c]
        top = a[c]
        for r in range(c + 1, n):
            f = a[r][c] / top[c]
            if f:
                row = a[r]
                for j in range(c, n + 1):
                    row[j] -= f * top[j]
    x = [0] * n
    for i in reversed(range(n)):
        x[i] = (a[i][n] - sum(a[i][j] * x[j] for j in range(i + 1, n))) / a[i][i]
    return x


def split_of(network: Network) -> str:
    """Which Gauss-Newton split the loss has: ``outputs`` (squared, half-squared), ``logits`` (cross-entropy
    with sigmoid outputs), or "" (none)."""
    base = network.loss.name.split(" + L2")[0]
    if base in ("squared", "half-squared"):
        return "outputs"
    if base == "cross-entropy" and all(o.activation.name == "sigmoid" for o in network.outputs):
        return "logits"
    if base not in LOSSES and _quadratic(network):
        return "outputs"
    return ""


def _quadratic(network: Network) -> bool:
    """True when a loss written as an expression is a squared error in all but name (a matrix graph's
    sum((A - T)**2)/2): it reads no parameter, and its second partials between the outputs are numbers, not all 0, so
    J^T (d2Loss/dOut^2) J + sum_k dLoss/dOut_k * d2Out_k is the whole data loss's Hessian, as for squared."""
    from ..engines.curvature import loss_second

    # The data loss alone: --l2's lambda/2 * sum w^2 reads every weight but is its own part of the split.
    reads = reading_order(network.loss_local - network.l2_term)
    if set(reads) & set(network.parameters):
        return False
    outputs = {o.symbol for o in network.outputs}
    seconds = [loss_second(network, a, b) for a in reads if a in outputs
               for b in sorted(network.loss_partial(a).free_symbols & outputs, key=sp.default_sort_key)]
    # some curvature (a loss linear in the outputs, as the node e itself, has no Gauss-Newton part to speak of)
    return any(seconds) and all(not c.free_symbols for c in seconds)


SPLIT_WORDS = {
    "outputs": "H = J^T (d2Loss/dOut^2) J (Gauss-Newton, J = dOut/dparameters) + sum_k dLoss/dOut_k * d2Out_k (residual)",
    "logits": "H = J_z^T diag(p(1 - p)) J_z (Gauss-Newton at the output pre-activations z, p = sigmoid(z)) "
              "+ sum_k (p_k - Y_k) * d2z_k (residual)",
}


def full_hessian(network: Network, samples, parameters: tuple | None = None, reduction: str = "mean", newton: bool = False,
                 direction: dict | None = None) -> HessianMatrix:
    """The Hessian over ``parameters`` (default: every one) at each sample's values (from ``check_batch``), reduced."""
    # Every sum, difference and comparison at the numbers' own precision (mpmath's default is 15 digits).
    with mpmath.workdps(DIGITS + 10):
        return _full_hessian(network, samples, parameters, reduction, newton, direction)


def _full_hessian(network, samples, parameters, reduction, newton, direction) -> HessianMatrix:
    params = tuple(parameters or network.parameters)
    if len(params) > MAX_PARAMETERS:
        raise HessianError(f"hessian: {len(params)} parameters make a {len(params)}x{len(params)} matrix, past the {MAX_PARAMETERS} "
                           "this command forms; choose some with --params NAME,NAME,... or use --direction for H v alone")
    # The pair sums add an outer product of tangents (parameters long) at every node, the R-operator a tangent at
    # every edge: refused up front past the limit (200 parameters of a 16-wide, 4-deep network: 2.8 million, 30 s).
    n = len(params)
    limits.check("the work", work_of(network, len(samples), n), "hessian_work", f"hessian --values ({n} parameters)",
                 hint="; or choose fewer with --params NAME,NAME,..., or use --direction for H v alone")
    each = [hessian_numbers(network, s, params) for s in samples]
    exact = all(h.exact for h in each)
    if not exact:
        each = [h if not h.exact else _inexact(h) for h in each]
    rows = _reduce([h.by_rows for h in each], reduction, exact)
    pairs = _reduce([h.by_pairs for h in each], reduction, exact)
    gradient = _reduce([h.gradient for h in each], reduction, exact)
    n = len(params)
    scale = max((abs(v) for row in rows for v in row), default=0)
    tolerance = None if exact else max(scale, 1) * mpmath.mpf(10) ** -AGREE_DIGITS
    agree = all(_close(rows[i][j], pairs[i][j], tolerance) for i in range(n) for j in range(n))
    symmetric = all(_close(rows[i][j], rows[j][i], tolerance) for i in range(n) for j in range(i + 1, n))
    how = "exactly" if exact else f"to {AGREE_DIGITS} digits of the largest entry"
    detail = (f"{n * n} entries by the R-operator (every direction at once) and by the pairs of paths grouped by meeting "
              f"node: {'equal' if agree else 'NOT equal'} {how}; H {'is' if symmetric else 'is NOT'} symmetric {how}")
    split = split_of(network)
    gauss = residual = regulariser = None
    words = SPLIT_WORDS.get(split, "")
    if network.l2 is not None:
        # The L2 term lambda/2 * sum w^2 adds lambda on each weight's diagonal: its own part, not the data loss's
        # residual, so Gauss-Newton + residual is the data loss's Hessian and the three parts add up to H.
        weights, lam = set(network.weights), _as(Fraction(network.l2), exact)
        reg = [[lam if i == j and params[i] in weights else _as(Fraction(0), exact) for j in range(n)] for i in range(n)]
        regulariser = _numbers(reg, exact)
        if words:
            words += " + lambda * I on the weights (the L2 regulariser's part)"
    if split:
        part = _reduce([h.gauss_newton if split == "outputs" else h.logits_gauss_newton for h in each], reduction, exact)
        gauss = _numbers(part, exact)
        extra = reg if regulariser is not None else None
        residual = _numbers([[pairs[i][j] - part[i][j] - (extra[i][j] if extra else 0) for j in range(n)] for i in range(n)], exact)
    step, note = None, ""
    if newton:
        x = solve(rows, [-g for g in gradient], exact, tolerance)
        if x is None:
            note = "H is singular at these values: no Newton step (a direction of zero curvature)"
        else:
            step = tuple(Number(v, exact) for v in x)
            if min(eigenvalues(rows), default=0) <= 0:
                note = "H is not positive definite here: the Newton step goes to a saddle or maximum of the quadratic model"
    hvp = checked = None
    named = ()
    if direction:
        named = tuple((p.name, v) for p, v in direction.items())
        per = [hessian_vector_product(network, s, direction) for s in samples]
        hv_exact = all(h.exact for h in per)
        values = _reduce([[row[0] for row in h.by_rows] for h in per], reduction, hv_exact and exact)
        hvp = tuple(Number(v, hv_exact and exact) for v in values)
        if n <= HVP_CHECK_PARAMETERS and set(direction) <= set(params):
            where = {p: i for i, p in enumerate(network.parameters)}
            full = [sum(rows[i][j] * _as(direction.get(params[j], 0), exact) for j in range(n)) for i in range(n)]
            checked = all(_close(values[where[p]] if hv_exact else values[where[p]], full[i], tolerance if not (hv_exact and exact)
                                 else None) for i, p in enumerate(params))
    return HessianMatrix(network, params, _numbers(rows, exact), gauss, residual, words, symmetric, agree,
                         detail, eigenvalues(rows), tuple(Number(g, exact) for g in gradient), exact, len(each), reduction, step,
                         note, named, hvp, checked, newton, regulariser, kink_notes(network, samples))


def kink_notes(network: Network, samples) -> tuple[str, ...]:
    """The second-derivative convention (``hessian P Q``'s note) of each function some sample meets exactly at its
    kink (a relu or |u| at 0): there the numbers rest on it (relu'(0) = 0 and relu''(0) = 0)."""
    from ..model.values import environment, value_of
    from ..symbolic.rules import rule_for

    written = [n.equation for n in network.neurons] + [network.loss_local]
    calls = [(rule, node.args) for e in written for node in sp.preorder_traversal(e)
             if node.args and (rule := rule_for(node)) is not None and rule.second and rule.kinks is not None]
    hit = {}
    for sample in samples if calls else ():
        env, exact = environment(network, sample)
        for rule, args in calls:
            if rule.name not in hit and any(value_of(k, env, exact).value == 0 for k in rule.kinks(args)):
                hit[rule.name] = rule.second
    return tuple(hit[name] for name in sorted(hit))


def work_of(network: Network, samples: int, parameters: int) -> int:
    """The estimated steps of the full Hessian at numbers over ``parameters`` of them (the ``hessian_work`` limit's measure)."""
    return samples * ((len(network.neurons) + 1) * parameters * parameters + len(network.drawn_edges()) * parameters)


def too_large(network: Network, samples: int, parameters: int) -> bool:
    """True when the full Hessian over ``parameters`` of them would be refused (its size or its work)."""
    return parameters > MAX_PARAMETERS or work_of(network, samples, parameters) > limits.current().hessian_work


def _inexact(h: HessianNumbers) -> HessianNumbers:
    """An exact computation's numbers as mpmath numbers (a batch mixing exact and inexact samples)."""
    def conv(x):
        return [conv(v) for v in x] if isinstance(x, list) else as_mpf(x)
    return HessianNumbers(h.parameters, conv(h.by_rows), conv(h.by_pairs), conv(h.gauss_newton), conv(h.logits_gauss_newton),
                          conv(h.gradient), False)
