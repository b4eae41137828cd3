"""The step-by-step derivation: the chain of equalities a careful person writes, one rewriting a line.

d/dW Loss -> the loss's formula -> the chain rule through the loss -> each layer's equations
substituted (outputs first) -> differentiated by linearity, terms that do not depend on W dropped
with the reason -> ... -> the result, collected. Pending derivatives are unevaluated SymPy
``Derivative`` objects, so every line is a real expression; tests check that each line equals the
next (by :func:`realize` and the verifier).
"""

from __future__ import annotations


import sympy as sp

from ..record import record
from .backprop import factor_common
from ..model.network import Network
from ..symbolic.walk import with_conventions


@record
class Equation:
    """``lhs = rhs`` inside a reason (typeset as mathematics in documents)."""

    lhs: sp.Expr
    rhs: sp.Expr

    def __str__(self) -> str:
        return f"{self.lhs} = {self.rhs}"


@record
class Step:
    """One line: the expression, and why it equals the line before.

    ``parts`` is the reason in pieces, for documents that typeset its mathematics as mathematics:
    words (str), a symbol or an :class:`Equation`, a tuple of symbols (a list of names), or an
    activation (its derivative rule). ``reason`` is the same as plain text.
    """

    expr: sp.Expr
    reason: str
    parts: tuple = ()


def plain(part) -> str:
    """A reason's part as plain text (see :class:`Step`)."""
    if isinstance(part, str):
        return part
    if isinstance(part, tuple):
        return ", ".join(plain(p) for p in part)
    rule = getattr(part, "rule", None)  # an activation: its derivative rule
    return rule if isinstance(rule, str) else str(part)


def _step(expr: sp.Expr, *parts) -> Step:
    return Step(expr, "".join(plain(p) for p in parts), parts)


def _joined(pieces: list[list]) -> list:
    """Pieces of a reason joined by ``; ``."""
    out: list = []
    for i, piece in enumerate(pieces):
        out += (["; "] if i else []) + piece
    return out


def _depends(network: Network, symbol: sp.Symbol, w: sp.Symbol) -> bool:
    return network.substitution[symbol].has(w) if symbol in network.substitution else symbol == w


def _expression_constants(network: Network, n, w: sp.Symbol) -> tuple[list, list]:
    """The names an expression node reads that do not depend on ``w``, as (those in a term that does, so
    constants there: ``x`` in ``w*x``; those only in terms that do not, which drop: ``b`` in ``w*x + b``).
    The terms are the expression's, or its argument's when it is one function of one argument."""
    body = n.equation
    if isinstance(body, sp.Function) and len(body.args) == 1:
        body = body.args[0]
    free = [r for r in n.reads if r != w and not (r in network.node_symbols and _depends(network, r, w))]
    moving = {r for r in n.reads if r == w or (r in network.node_symbols and _depends(network, r, w))}
    kept = [t for t in sp.Add.make_args(body) if t.free_symbols & moving]
    held = [r for r in free if any(t.has(r) for t in kept)]
    return held, [r for r in free if r not in held and body.has(r)]


def derivation_steps(network: Network, parameter: str | sp.Symbol) -> tuple[Step, ...]:
    """The step-by-step derivation of dLoss/d``parameter``."""
    w = network.parameter(parameter if isinstance(parameter, str) else parameter.name)
    D = lambda e: sp.Derivative(e, w)  # noqa: E731 - an unevaluated d/dw, printed as such
    steps = [_step(D(network.loss_symbol), "the derivative to find")]
    steps.append(_step(D(network.loss_local), Equation(network.loss_symbol, network.loss_local)))

    terms, unaffected = [], []
    for x in network.uses_of_loss:
        if x == w:
            terms.append(network.loss_partial(w))  # the loss reads the leaf itself
        elif x in network.node_symbols and _depends(network, x, w):
            terms.append(network.loss_partial(x) * D(x))
        elif x in network.node_symbols:
            unaffected.append(x)
    expr = sp.Add(*terms)
    reason: list = ["chain rule through the loss"]
    if unaffected:
        reason += ["; ", tuple(unaffected), f" do{'es' if len(unaffected) == 1 else ''} not depend on ", w]
    if expr != steps[-1].expr:
        steps.append(_step(expr, *reason))

    for layer in sorted({n.layer for n in network.neurons}, reverse=True):
        pending = [n for n in network.neurons if n.layer == layer and expr.has(D(n.symbol))]
        if not pending:
            continue
        expr = expr.xreplace({D(n.symbol): D(n.equation) for n in pending})
        steps.append(_step(expr, f"substitute the equation{'s' if len(pending) > 1 else ''} of ", tuple(n.symbol for n in pending)))
        replaced, dropped, constants, product = {}, [], [], False
        for n in pending:
            inner = []
            for r in n.reads:
                if r == w:
                    inner.append(n.inner_partial(w))  # d/dw (src * w) = src
                elif r in network.node_symbols and _depends(network, r, w):
                    inner.append(n.inner_partial(r) * D(r))
                    if n.sources:  # the weights on the edges from r, constants here (w itself: the product rule)
                        coefficient = n.inner_partial(r).free_symbols
                        constants.extend(sorted(coefficient - {w}, key=lambda x: x.name))
                        product |= w in coefficient
                elif n.sources and r in network.node_symbols:
                    dropped.append(r)  # its term source*weight does not depend on w
            if not n.sources:  # an expression: say which names drop with their terms, which are constants
                held, gone = _expression_constants(network, n, w)
                constants.extend(held)
                dropped.extend(gone)
            replaced[D(n.equation)] = n.derivative() * sp.Add(*inner)
        expr = expr.xreplace(replaced)
        pieces: list[list] = [["linearity and the chain rule" if any(n.sources for n in pending) else "the chain rule through the expression"]]
        if product:  # a weight times a node that depends on it (a shared weight)
            pieces.append(["the product rule: ", w, " multiplies a node that depends on it"])
        rules = list({n.activation.rule: n.activation for n in pending if n.activation.rule}.values())
        if rules:
            pieces.append(_joined([[a] for a in rules]))
        if constants:
            names = tuple(dict.fromkeys(constants))
            pieces.append([names, f" do{'es' if len(names) == 1 else ''} not depend on ", w])
        if dropped:
            pieces.append(["the terms with ", tuple(dict.fromkeys(dropped)), " do not depend on ", w, ": their derivative is 0"])
        steps.append(_step(expr, *_joined(pieces)))

    collected = _collect(expr)
    if collected != expr:
        steps.append(_step(collected, "collect the common factors"))
    return tuple(steps)


def _collect(expr: sp.Expr) -> sp.Expr:
    if expr.is_Add:
        return factor_common(list(expr.args))
    if expr.is_Mul:
        return sp.Mul(*(_collect(a) for a in expr.args))
    return expr


def realize(network: Network, expr: sp.Expr) -> sp.Expr:
    """A step's expression with every pending derivative taken and every neuron substituted."""
    rule = {}
    for d in expr.atoms(sp.Derivative):
        inner, (w, _) = d.args[0], d.args[1]
        rule[d] = with_conventions(sp.diff(network.substitute(inner).xreplace({network.loss_symbol: network.loss_full}), w))
    out = expr.xreplace(rule)
    return network.substitute(out)
