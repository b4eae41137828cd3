"""A learner's answer read as an expression of the network: by the whitelist parser, never ``eval``.

An answer may use the network's inputs, weights, biases and targets, its neuron and node names (each
standing for the node's value), ``sign``, the activation functions (``sigmoid``, ``tanh``, ``relu``,
...) and anything else the parser allows, and partial derivatives written ``dH4/dW1`` or ``dLoss/dOut``:
each is the derivative of the first name's value with respect to the second, everything in between
followed (``dH4/dW1`` is ``W7*X1`` in the worked example). It may start with ``dLoss/dW1 =``. A chain
of steps is one such line per step: the first ``dLoss/dW1 = ...``, each next one ``= ...``.
"""

from __future__ import annotations

import re

import sympy as sp

from ..errors import ExpressionError
from ..symbolic.parse import parse_expression
from ..symbolic.walk import differentiate
from ..model.network import Network

#: Most steps a chain may have (lines with an expression).
MAX_STEPS = 200

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_PARTIAL = re.compile(rf"(?<![A-Za-z0-9_.])d({_NAME})\s*/\s*d({_NAME})(?![A-Za-z0-9_(])")


def names(network: Network) -> dict[str, sp.Expr]:
    """The names an answer may use: every leaf, then every node (read as the node's value)."""
    out: dict[str, sp.Expr] = {s.name: s for s in network.leaves}
    out.update((n.name, n.symbol) for n in network.neurons)
    return out


def total_derivative(network: Network, of: sp.Symbol, by: sp.Symbol) -> sp.Expr:
    """d(of)/d(by): ``of`` a node or the loss, ``by`` a leaf or a node, every node in between written out
    (``dH4/dW1`` = W7*X1, ``dOut/dH1`` = W13*W7 + W14*W10); other nodes stay as their symbols."""
    through: dict[sp.Symbol, sp.Expr] = {}
    for n in network.neurons:
        if n.symbol != by and any(r == by or r in through for r in n.reads):
            through[n.symbol] = n.equation.xreplace(through)
    if of == by:
        return sp.S.One
    if of == network.loss_symbol:
        expr = network.loss_local.xreplace(through)
    else:
        expr = through.get(of, network.neuron_by_symbol[of].equation if of != by else of)
    return differentiate(expr, by)


def _lhs(network: Network, parameter: sp.Symbol) -> str:
    return f"d{network.loss_symbol}/d{parameter}"


def read_answer(network: Network, parameter: sp.Symbol, text: str, what: str = "answer", lhs: bool = True) -> sp.Expr:
    """The answer ``text`` as an expression in the network's names (``lhs``: it may start ``dLoss/dW1 =``)."""
    body = _strip_lhs(network, parameter, text, what) if lhs else text
    known = names(network)
    nodes = {n.name: n.symbol for n in network.neurons}
    tops = {**nodes, network.loss_symbol.name: network.loss_symbol}
    partials: dict[str, sp.Expr] = {}

    def partial(m: re.Match) -> str:
        a, b = m.group(1), m.group(2)
        if a not in tops or b not in known or f"d{a}" in known or f"d{b}" in known:
            return m.group(0)  # not a partial of this network: read as written
        key = f"_d{len(partials)}"
        partials[key] = total_derivative(network, tops[a], known[b])
        return f"({key})"

    rewritten = _PARTIAL.sub(partial, body)
    try:
        return parse_expression(rewritten, {**known, **partials}, what)
    except ExpressionError as exc:
        if not partials:
            raise
        message = str(exc).replace(repr(rewritten), repr(body))
        raise ExpressionError(message.split("; allowed are")[0] + "; allowed are the network's names, "
                              "partial derivatives such as dH4/dW1, numbers and + - * / **") from None


def _strip_lhs(network: Network, parameter: sp.Symbol, text: str, what: str) -> str:
    """``text`` after an optional ``dLoss/dW1 =``; a left side naming another derivative is an error."""
    if not isinstance(text, str) or "=" not in text:
        return text
    left, _, right = text.partition("=")
    if right.startswith("="):
        raise ExpressionError(f"{what}: '==' in {text!r}; write dLoss/dW1 = EXPRESSION, or the expression alone")
    if "".join(left.split()) != _lhs(network, parameter):
        raise ExpressionError(f"{what}: the left side {left.strip()!r} of {text!r} is not {_lhs(network, parameter)}; "
                              f"write {_lhs(network, parameter)} = EXPRESSION, or the expression alone")
    return right


def read_steps(network: Network, parameter: sp.Symbol, text: str, what: str = "--steps") -> list[tuple[int, str, sp.Expr]]:
    """The steps of ``text``: (line number, the line as written, its expression), one per line that is not
    blank or a ``#`` comment; the first may start ``dLoss/dW1 =``, each next one ``=``."""
    out = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if len(out) >= MAX_STEPS:
            raise ExpressionError(f"{what}: more than {MAX_STEPS} steps; check a shorter chain")
        where = f"{what} line {number}"
        if not out:
            body = _strip_lhs(network, parameter, line, where)
        elif line.startswith("="):
            body = line[1:]
        else:
            body = _strip_lhs(network, parameter, line, where)
        out.append((number, line, read_answer(network, parameter, body, where, lhs=False)))
    if not out:
        raise ExpressionError(f"{what}: no steps: write one per line, the first {_lhs(network, parameter)} = ..., "
                              "each next one = ...")
    return out
