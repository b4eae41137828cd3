"""Second-order backpropagation (Pearlmutter's R-operator): d2Loss/(dP dQ) = R{dLoss/dP}, R = d/dQ.

A forward pass carries R(n) = dn/dQ for each node Q reaches (R(n) = f'(z) * sum over its reads r of
dz/dr * R(r); R(Q) = 1, every other leaf 0); the backward pass carries the deltas and their directional
derivatives, R(delta_n) = R(f'(z_n)) * (dLoss/dn) + f'(z_n) * (R(dLoss/dOut_n) + sum over the nodes k it
feeds of R(dz_k/dn) * delta_k + dz_k/dn * R(delta_k)), R of an expression being the sum over its symbols
s of d(expr)/ds * R(s) (so R(o*(1 - o)) = (1 - 2*o)*R(o), taken by the rule table). Then
d2Loss/(dP dQ) = the sum over P's uses u of R(dz_u/dP) * delta_u + dz_u/dP * R(delta_u): the gradient
arriving times the second derivative where the paths part, plus the curvature carried back.
"""

from __future__ import annotations

import sympy as sp

from ..record import record
from ..symbolic.build import add, cancel_opposites, mul
from ..symbolic.walk import differentiate, with_conventions
from .backprop import delta_equations, delta_symbol
from .forms import Form
from .hessian_paths import prefix_counts, prefix_sums
from ..model.network import Network, real


def r_symbol(s: sp.Symbol) -> sp.Symbol:
    """R_H4 = dH4/dQ, a node's directional derivative."""
    return real(f"R_{s.name}")


def r_delta_symbol(s: sp.Symbol) -> sp.Symbol:
    """R_delta_H4 = d(delta_H4)/dQ."""
    return real(f"R_delta_{s.name}")


@record(repr=False)
class REquation:
    """``lhs = rhs`` (in R, delta and R-delta symbols), ``value`` the same in neuron symbols."""

    lhs: sp.Symbol
    rhs: sp.Expr
    value: sp.Expr

    def __repr__(self) -> str:
        return f"REquation({self.lhs} = {self.rhs})"


@record(repr=False)
class ROperator(Form):
    """d2Loss/(dP dQ) by the R-operator: ``entry`` in delta, R and R-delta symbols, the forward equations
    (R(n) for each node Q reaches) and the R-delta equations (outputs back, those P's uses need)."""

    second_parameter: sp.Symbol | None = None
    entry: sp.Expr = sp.S.Zero
    forward: tuple[REquation, ...] = ()
    deltas: tuple[REquation, ...] = ()


def _r(expr: sp.Expr, rates: dict) -> sp.Expr:
    """R(expr) = sum over its symbols s of d(expr)/ds * R(s), ``rates`` holding R(s) where it is not 0."""
    terms = []
    for s in sorted(expr.free_symbols & rates.keys(), key=sp.default_sort_key):
        d = differentiate(expr, s)
        if d.is_Add or d.is_Mul:  # o*(-1) + (1 - o) as 1 - 2*o; a loss's curvature as one fraction
            d = sp.factor(d) if d.has(sp.Pow) else sp.expand(d)
        if d != 0:
            terms.append(mul(d, rates[s]))
    return with_conventions(add(*terms)) if terms else sp.S.Zero


def r_operator(network: Network, p: sp.Symbol, q: sp.Symbol) -> ROperator:
    """d2Loss/(dp dq): R = d/dq applied to backpropagation's dLoss/dp."""
    reached = prefix_counts(network, q)
    tangents = prefix_sums(network, q)
    # R of each symbol, written (R symbols) and valued (in neuron symbols): Q's own is 1, others' leaves 0.
    written: dict = {q: sp.S.One}
    valued: dict = {q: sp.S.One}
    forward = []
    for n in network.neurons:
        if reached[n.symbol]:
            rs = r_symbol(n.symbol)
            d = n.derivative()
            inner = add(*(mul(n.inner_partial(r), written[r]) for r in n.reads if r in written))
            forward.append(REquation(rs, inner if d == 1 else mul(d, inner), tangents[n.symbol]))
            written[n.symbol], valued[n.symbol] = rs, tangents[n.symbol]
    deltas = delta_equations(network)
    needed: set = set()
    for u in network.uses.get(p, ()):
        if u is not None:
            needed |= network.descendants(u)
    r_delta_values: dict = {}
    equations = []
    # R(delta) of a node whose equation is 0 is written 0 where it is read: an equation is printed for every
    # R_delta symbol that appears (a reader met R_delta_Out in R_delta_H5 = R_delta_Out*W14 and no line for it)
    zero: dict = {}

    def r_delta(k):
        return sp.S.Zero if k in zero else r_delta_symbol(k)

    for n in reversed(network.neurons):
        if n.symbol not in needed:
            continue
        d = n.derivative()
        arriving = [network.loss_derivative(n)] if n.is_output else []
        arriving += [mul(c, delta_symbol(k.symbol)) for k, c in network.successors.get(n.symbol, ())]
        moved = [_r(network.loss_derivative(n), written)] if n.is_output else []
        for k, c in network.successors.get(n.symbol, ()):
            moved += [mul(_r(c, written), delta_symbol(k.symbol)), mul(c, r_delta(k.symbol))]
        rd = _r(d, written)
        # (1 - Out)/(Out - 1)**2 cancelled: an activation's derivative times a curvature SymPy's factor wrote
        rhs = cancel_opposites(add(mul(rd, add(*arriving)), add(*moved) if d == 1 else mul(d, add(*moved))))
        rule = {**{written[s]: valued[s] for s in written if s != q},
                **{delta_symbol(k.symbol): deltas[k.symbol].value for k, _ in network.successors.get(n.symbol, ())},
                **{r_delta_symbol(k.symbol): r_delta_values[k.symbol] for k, _ in network.successors.get(n.symbol, ())}}
        value = network.intern(rhs.xreplace(rule))
        r_delta_values[n.symbol] = value
        if rhs != 0:
            equations.append(REquation(r_delta_symbol(n.symbol), rhs, value))
        else:
            zero[n.symbol] = True
    entry_terms, local_terms = [], []
    for u in network.uses.get(p, ()):
        if u is None:  # the loss reads p itself: R of its partial
            term = _r(network.loss_partial(p), written)
            entry_terms.append(term)
            local_terms.append(term.xreplace({written[s]: valued[s] for s in written if s != q}))
            continue
        c = u.inner_partial(p)
        rc = _r(c, written)
        entry_terms.append(add(mul(rc, delta_symbol(u.symbol)), mul(c, r_delta(u.symbol))))
        local_terms.append(add(mul(rc.xreplace({written[s]: valued[s] for s in written if s != q}), deltas[u.symbol].value),
                               mul(c, r_delta_values[u.symbol])))
    entry = cancel_opposites(add(*entry_terms))
    local = cancel_opposites(add(*local_terms))
    how = "R(dLoss/dP) with R = d/dQ: " + ("the sum over P's uses of R(dz/dP)*delta + dz/dP*R(delta)")
    return ROperator("backprop", p, local, network.substitute(local), how, second_parameter=q, entry=entry,
                     forward=tuple(forward), deltas=tuple(equations))
