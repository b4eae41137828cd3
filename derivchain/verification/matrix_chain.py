"""``grad WQ`` on a matrix graph: the chain of matrix equations of the backward pass, each checked entry by
entry against the scalar derivation, and (with values) every matrix of the chain at those numbers.

Each equation ``dL/dM = form`` (:mod:`derivchain.engines.matrix_chain`) is evaluated to a grid through the
matrix parser, with every adjoint it reads taken as the scalar derivation's (each entry's backpropagation
delta), and each entry is compared with dL/dM[i,j] as the scalar derivation has it: the delta of a node's
entry, or for the leaf asked for each entry's backpropagation gradient. That gradient is itself checked
entry by entry against the entry's direct derivative (the fully substituted loss differentiated,
:mod:`derivchain.verification.entries`), so the last equation stands on two independent derivations.
An equation is verified when every entry is, the result when every equation and every entry is. Anything
less is NOT verified.
"""

from __future__ import annotations

import re

import sympy as sp

from .. import memo
from ..engines.backprop import backprop, delta_equations
from ..engines.matrix_chain import MatrixEquation, Rewrite, adjoint, matrix_chain, printed, rewrites
from ..model.matrix_file import ELEMENTWISE
from ..model.network import Network, real
from ..record import record
from ..result import Result
from ..symbolic import grids
from ..symbolic.grids import Grid
from ..symbolic.matrix_parse import parse_matrix_expression
from .compare import verify
from .entries import EntryCheck, check_entries


@record
class CheckedEquation:
    """One equation of the chain: ``dL/dname = form`` (as printed), its shape, whether every entry equals the
    scalar derivation's, the weakest method a check needed, its textbook rewrite (or empty), and with
    values its entries (rows of Numbers)."""

    name: str
    form: str
    shape: tuple[int, int]
    verified: bool
    method: str
    rewrite: str = ""
    values: tuple | None = None


@record(repr=False)
class MatrixGradient(Result):
    """dLoss/d(a matrix leaf) as the chain of matrix equations from the loss back to it, every one checked."""

    kind = "matrix_gradient"

    network: Network
    parameter: str
    shape: tuple[int, int]
    chain: tuple[CheckedEquation, ...]
    entries: EntryCheck  # each entry of the leaf: direct derivative = backpropagation gradient
    at_values: tuple | None = None  # with values: the gradient's entries, rows of Numbers
    exact: bool = False

    def __repr__(self) -> str:
        return f"MatrixGradient(dL/d{self.parameter}: {len(self.chain)} equations, verified={self.verified})"

    @property
    def entries_verified(self) -> bool:
        """Every entry's direct derivative shown equal to its backpropagation gradient."""
        return self.entries.verified

    @property
    def verified(self) -> bool:
        """Every equation checked equal entry by entry, and every entry's own derivation verified."""
        return self.entries_verified and all(e.verified for e in self.chain)

    @property
    def form(self) -> str:
        """The last equation's right-hand side (in the adjoints of the matrices it reads)."""
        return self.chain[-1].form


def matrix_gradient(network: Network, name: str, values: dict | None = None) -> MatrixGradient:
    """The chain of matrix equations for matrix leaf ``name``, checked entry by entry; at ``values`` too."""
    equations = matrix_chain(network, name)
    kinds = dict(network.matrix.leaves)
    with memo.working_for(network):
        truth, entries = _truth(network, name, equations)
        env: dict[str, object] = {}
        for leaf, kind in kinds.items():
            shape = network.matrix.shape(leaf)
            env[leaf] = real(leaf) if shape is None else grids.symbols_grid(leaf, shape, real)
        for m in network.matrix.nodes:
            env[m.name] = grids.symbols_grid(m.name, m.grid.shape, real)
        env |= {adjoint(m): truth[m] for m in truth if m != name}
        numbers = _numbers(network, values) if values is not None else None
        offers = rewrites(network, equations, with_targets=values is not None)
        fixed = _given_targets(network, values) if any(r.at_targets for r in offers) else {}
        checked = []
        for eq in equations:
            ok, method = _check(network, eq, env, truth[eq.name])
            eq, named, method = _rewritten(network, eq, env, truth[eq.name], offers, fixed, ok, method)
            shown = None
            if numbers is not None:
                shown = tuple(tuple(numbers(e) for e in row) for row in truth[eq.name].entries)
            checked.append(CheckedEquation(eq.name, printed(eq.form), eq.shape, ok, method, named, shown))
        checked = _needed(checked) if any(e.rewrite for e in checked) else checked
    at = checked[-1].values if values is not None else None
    exact = bool(at) and all(n.exact for row in at for n in row)
    return MatrixGradient(network, name, network.matrix.shape(name), tuple(checked), entries, at, exact)


def _truth(network: Network, name: str, equations: tuple[MatrixEquation, ...]) -> tuple[dict[str, Grid], EntryCheck]:
    """dL/dM[i,j] as the scalar derivation has it, in node symbols, for every matrix of the chain: a node's
    entries' deltas (0 for an entry left out of the graph), the leaf's entries' backpropagation gradients;
    and the check of those gradients against each entry's direct derivative."""
    deltas = delta_equations(network)
    by_name = {s.name: s for s in network.node_symbols}
    out: dict[str, Grid] = {}
    for eq in equations[:-1]:
        out[eq.name] = grids.build(*eq.shape, lambda i, j, m=eq.name: _delta(deltas, by_name.get(grids.entry_name(m, i, j))))
    leaves = {s.name: s for s in network.leaves}
    shape = equations[-1].shape
    found = {entry: backprop(network, leaves[entry]) for i in range(shape[0]) for j in range(shape[1])
             for entry in [grids.entry_name(name, i, j)] if entry in leaves}
    out[name] = grids.build(*shape, lambda i, j: found[e].local if (e := grids.entry_name(name, i, j)) in found else sp.S.Zero)
    return out, check_entries(network, {leaves[e]: g.substituted for e, g in found.items()})


def _delta(deltas, symbol) -> sp.Expr:
    return sp.S.Zero if symbol is None else deltas[symbol].value


def _rewritten(network: Network, eq: MatrixEquation, env: dict, want: Grid, offers: tuple[Rewrite, ...], fixed: dict,
               ok: bool, method: str) -> tuple[MatrixEquation, str, str]:
    """``eq`` with the first textbook rewrite offered for it that checks equal entry by entry exactly as ``eq``
    was (one that holds only for some targets: with the targets at their given values), its name and the
    check's method; else ``eq`` as it was, no name. A rewrite that does not check is never printed."""
    if not ok:
        return eq, "", method
    for r in (r for r in offers if r.node == eq.name):
        candidate = MatrixEquation(eq.name, r.form, eq.shape, _reads(r.form))
        holds, how = _check(network, candidate, env, want, fixed if r.at_targets else None)
        if holds:
            return candidate, r.name + (f" ({r.condition})" if r.condition else ""), _weakest([method, how])
    return eq, "", method


def _reads(form: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(re.findall(r"\bdL_d[A-Za-z][A-Za-z0-9_]*", form)))


def _needed(chain: list[CheckedEquation]) -> list[CheckedEquation]:
    """The chain without the equations no later one reads (a rewrite's closed form skips them: ``dL/dZ =
    (1/4)*(P - Y)`` needs no dL/dP); the last equation, the leaf asked for, always stays."""
    kept = [chain[-1]]
    for e in reversed(chain[:-1]):
        if any(f"dL/d{e.name}" in re.findall(r"dL/d[A-Za-z][A-Za-z0-9_]*", k.form) for k in kept):
            kept.append(e)
    return kept[::-1]


def _given_targets(network: Network, values: dict | None) -> dict:
    """Each target entry at its given value (exact), to check a rewrite that holds only for some targets."""
    from ..model.values import check_values

    if values is None:
        return {}
    targets = set(network.targets)
    return {s: sp.nsimplify(v) for s, v in check_values(network, values).items() if s in targets}


def _check(network: Network, eq: MatrixEquation, env: dict, want: Grid, fixed: dict | None = None) -> tuple[bool, str]:
    """Whether ``eq``'s form equals ``want`` entry by entry (the form broadcast to the shape where it is a
    smaller matrix or a scalar), and the weakest method any entry needed; ``fixed``: symbols (the targets) held
    at values on both sides."""
    got = parse_matrix_expression(eq.form, env, f"dL/d{eq.name}", ELEMENTWISE, max_length=None)
    methods = []
    for i in range(eq.shape[0]):
        for j in range(eq.shape[1]):
            value = got if not isinstance(got, Grid) else got.entries[i if got.rows > 1 else 0][j if got.cols > 1 else 0]
            want_ij, value = network.substitute(want.entries[i][j]), network.substitute(value)
            if fixed:
                want_ij, value = want_ij.xreplace(fixed), value.xreplace(fixed)
            verdict = verify({"scalar derivation": want_ij, "matrix form": value})
            if not (verdict.equal and verdict.decided):
                return False, verdict.method
            methods.append(verdict.method)
    return True, _weakest(methods)


_STRENGTH = ("identical", "expansion", "random points mod p", "numeric")


def _weakest(methods: list[str]) -> str:
    known = [m for m in methods if m in _STRENGTH]
    return max(known, key=_STRENGTH.index) if known else (methods[0] if methods else "identical")


def _numbers(network: Network, values: dict):
    """A function from an expression in node symbols to its Number at ``values``: exact where every value is,
    else at 50 digits, the point converted once and subtrees shared across the chain's entries (each entry
    converting the 1,600 values of the 8-token, 16-dimension attention again took two minutes)."""
    import mpmath

    from ..errors import EvaluationError
    from ..model.values import DIGITS, Number, as_mpf, check_values, environment, evaluate_at
    from ..symbolic.evaluate import Undefined, evaluate

    env, exact = environment(network, check_values(network, values))
    shared: dict = {}
    if exact:
        return lambda e: evaluate_at(e, env, shared)
    with mpmath.workdps(DIGITS + 10):
        point = {s: as_mpf(v) for s, v in env.items()}

    def number(e):
        with mpmath.workdps(DIGITS + 10):
            largest: list = []
            try:
                value = evaluate(e, point, DIGITS, magnitude=largest, memo=shared)
            except Undefined as exc:
                raise EvaluationError(f"at these values an entry of the chain is undefined ({exc}); choose other values") from None
            faint = bool(value) and bool(largest) and mpmath.mag(value) < largest[0] - int(3.33 * (DIGITS - 10))
            return Number(value, False, faint)

    return number
