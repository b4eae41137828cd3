"""The step-by-step derivation: the chain of equalities a careful person writes, one rewriting a line.

d/dW Loss -> the loss's formula -> the chain rule through the loss -> each layer's equations
substituted (outputs first) -> differentiated by linearity, terms that do not depend on W dropped
with the reason -> ... -> the result, collected. Pending derivatives are unevaluated SymPy
``Derivative`` objects, so every line is a real expression; tests check that each line equals the
next (by :func:`realize` and the verifier).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import sympy as sp

from .backpropagation import factor_common
from .network import Network


@dataclass(frozen=True)
class Step:
    """One line: the expression, and why it equals the line before."""

    expr: sp.Expr
    reason: str


@dataclass(frozen=True, repr=False)
class StepByStep:
    """The step-by-step derivation of dLoss/dparameter, each line checked equal to the next."""

    network: Network
    parameter: sp.Symbol
    steps: tuple[Step, ...]

    @cached_property
    def links(self) -> tuple:
        """The verdict of each line = next line, every pending derivative taken (see :func:`realize`)."""
        from .verification import verify

        real = [realize(self.network, s.expr) for s in self.steps]
        return tuple(verify({"line": a, "next line": b}) for a, b in zip(real, real[1:]))

    @property
    def verified(self) -> bool:
        """True when every line was shown equal to the next."""
        return all(v.equal for v in self.links)

    def __repr__(self) -> str:
        return f"StepByStep(d{self.network.loss_symbol}/d{self.parameter}: {len(self.steps)} lines)"


def step_by_step(network: Network, parameter: str | sp.Symbol) -> StepByStep:
    """The step-by-step derivation as a result object (lines checked lazily, when shown)."""
    symbol = network.parameter(parameter if isinstance(parameter, str) else parameter.name)
    return StepByStep(network, symbol, derivation_steps(network, symbol))


def _depends(network: Network, symbol: sp.Symbol, w: sp.Symbol) -> bool:
    return network.substitution[symbol].has(w) if symbol in network.substitution else symbol == w


def derivation_steps(network: Network, parameter: str | sp.Symbol) -> tuple[Step, ...]:
    """The step-by-step derivation of dLoss/d``parameter``."""
    w = network.parameter(parameter if isinstance(parameter, str) else parameter.name)
    D = lambda e: sp.Derivative(e, w)  # noqa: E731 - an unevaluated d/dw, printed as such
    steps = [Step(D(network.loss_symbol), "the derivative to find")]
    steps.append(Step(D(network.loss_local), f"{network.loss_symbol.name} = {network.loss_local}"))

    terms, unaffected = [], []
    for x in network.uses_of_loss:
        if x == w:
            terms.append(network.loss_partial(w))  # the loss reads the leaf itself
        elif x in network.node_symbols and _depends(network, x, w):
            terms.append(network.loss_partial(x) * D(x))
        elif x in network.node_symbols:
            unaffected.append(x.name)
    expr = sp.Add(*terms)
    reason = "chain rule through the loss"
    if unaffected:
        reason += f"; {', '.join(unaffected)} do{'es' if len(unaffected) == 1 else ''} not depend on {w.name}"
    if expr != steps[-1].expr:
        steps.append(Step(expr, reason))

    for layer in sorted({n.layer for n in network.neurons}, reverse=True):
        pending = [n for n in network.neurons if n.layer == layer and expr.has(D(n.symbol))]
        if not pending:
            continue
        names = ", ".join(n.name for n in pending)
        expr = expr.xreplace({D(n.symbol): D(n.equation) for n in pending})
        steps.append(Step(expr, f"substitute the equation{'s' if len(pending) > 1 else ''} of {names}"))
        replaced, dropped, constants = {}, [], []
        for n in pending:
            inner = []
            for r in n.reads:
                if r == w:
                    inner.append(n.inner_partial(w))  # d/dw (src * w) = src
                elif r in network.node_symbols or r in network.parameter_index:
                    if r in network.node_symbols and _depends(network, r, w):
                        inner.append(n.inner_partial(r) * D(r))
                        if n.sources:
                            constants.extend(x.name for x in n.inner_partial(r).free_symbols)
                    elif r in network.node_symbols or not n.sources:
                        dropped.append(r.name)
            replaced[D(n.equation)] = n.derivative() * sp.Add(*inner)
        expr = expr.xreplace(replaced)
        parts = ["linearity and the chain rule" if any(n.sources for n in pending) else "the chain rule through the expression"]
        rules = list(dict.fromkeys(n.activation.rule for n in pending if n.activation.rule))
        if rules:
            parts.append("; ".join(rules))
        if constants:
            names = sorted(set(constants), key=constants.index)
            parts.append(f"{', '.join(names)} do{'es' if len(names) == 1 else ''} not depend on {w.name}")
        if dropped:
            parts.append(f"the terms with {', '.join(dict.fromkeys(dropped))} do not depend on {w.name}: their derivative is 0")
        steps.append(Step(expr, "; ".join(parts)))

    collected = _collect(expr)
    if collected != expr:
        steps.append(Step(collected, "collect the common factors"))
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
        rule[d] = sp.diff(network.substitute(inner).xreplace({network.loss_symbol: network.loss_full}), w)
    out = expr.xreplace(rule)
    return network.substitute(out)
