"""A learner's answer read as an expression of the network: by the whitelist parser, never ``eval``.

An answer may use the network's inputs, weights, biases and targets, its neuron and node names (each
standing for the node's value), ``sign``, the activation functions (``sigmoid``, ``tanh``, ``relu``,
...) and anything else the parser allows, partial derivatives written ``dH4/dW1`` or ``dLoss/dOut``, and
``d/dW1(EXPRESSION)`` as ``steps`` prints it. A partial is the derivative of the first name's value with
respect to the second, every route between them followed (``dH4/dW1`` is ``W7*X1`` in the worked example).
Along an edge whose second name also reaches the first through other nodes (a skip connection, a tied
weight) it may instead mean the local partial of that edge, as the chains of ``grad`` and ``paths`` write
it: such an answer is read both ways (:func:`read_both`) and the check says which reading it used. It may
start with ``dLoss/dW1 =``. A chain of steps is one such line per step: the first ``dLoss/dW1 = ...``,
each next one ``= ...``.
"""

from __future__ import annotations

import re

import sympy as sp

from ..errors import ExpressionError
from ..record import record
from ..symbolic.parse import parse_expression
from ..symbolic.walk import differentiate
from ..model.network import Network
from ..model.nodes import reading_order

#: Most steps a chain may have (lines with an expression).
MAX_STEPS = 200

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_DERIVATIVE = re.compile(rf"(?<![A-Za-z0-9_.])d\s*/\s*d({_NAME})\s*\(")
_PARTIAL = re.compile(rf"(?<![A-Za-z0-9_.])d({_NAME})\s*/\s*d({_NAME})(?![A-Za-z0-9_(])")


def names(network: Network) -> dict[str, sp.Expr]:
    """The names an answer may use: every leaf, then every node (read as the node's value)."""
    out: dict[str, sp.Expr] = {s.name: s for s in network.leaves}
    out.update((n.name, n.symbol) for n in network.neurons)
    return out


def total_derivative(network: Network, of: sp.Symbol, by: sp.Symbol) -> sp.Expr:
    """d(of)/d(by): ``of`` a node or the loss, ``by`` a leaf or a node, every route from ``by`` to ``of`` followed
    and each edge's local partial written as the chains write it (``dH4/dW1`` = W7*X1, ``dOut/dH1`` =
    W13*W7 + W14*W10 in the worked example); nodes stay as their symbols."""
    depends = _depending_on(network, by)
    totals: dict[sp.Symbol, sp.Expr] = {by: sp.S.One}

    def total(node: sp.Symbol) -> sp.Expr:
        if node not in totals:  # nodes in order, so each read's total is known before the node's
            totals[node] = sp.Add(*(local_derivative(network, node, r) * total(r)
                                    for r in reading_order_of(network, node) if r in depends))
        return totals[node]

    for n in network.neurons:
        if n.symbol in depends:
            total(n.symbol)
    return total(of) if of == by or of in depends or of == network.loss_symbol else sp.S.Zero


def _depending_on(network: Network, by: sp.Symbol) -> set[sp.Symbol]:
    """``by`` and every node whose value depends on it."""
    depends: set[sp.Symbol] = {by}
    for n in network.neurons:
        if n.symbol != by and any(r in depends for r in n.reads):
            depends.add(n.symbol)
    return depends


def reads_directly(network: Network, of: sp.Symbol, by: sp.Symbol) -> bool:
    """True when ``of`` (a node or the loss) reads ``by`` in its own equation: an edge, ``dof/dby`` a local partial."""
    return by in reading_order_of(network, of)


def local_derivative(network: Network, of: sp.Symbol, by: sp.Symbol) -> sp.Expr:
    """The local partial d(of)/d(by) along one edge, the other nodes ``of`` reads held fixed, written as a path's
    chain writes it (``dOut/dH1`` = W5 on ``examples/skip.toml``, ``dH1/dW1`` = X1*(1 - H1**2))."""
    if of == network.loss_symbol:
        return network.loss_partial(by)
    return network.neuron_by_symbol[of].partial(by)


def other_route(network: Network, of: sp.Symbol, by: sp.Symbol) -> sp.Symbol | None:
    """A node ``of`` reads (other than ``by``) that itself depends on ``by``: where the local partial and the
    total derivative differ (None when they are the same thing)."""
    depends = _depending_on(network, by)
    reads = reading_order_of(network, of)
    return next((r for r in reads if r != by and r in depends), None)


def reading_order_of(network: Network, of: sp.Symbol) -> tuple[sp.Symbol, ...]:
    """What ``of`` (a node or the loss) reads, in order."""
    if of == network.loss_symbol:
        return tuple(network.uses_of_loss)
    return tuple(network.neuron_by_symbol[of].reads)


@record(repr=False)
class Reading:
    """How a partial derivative written in an answer was read, where the local partial (one edge) and the total
    derivative (every route) differ: ``dOut/dH1`` on a skip connection, ``dr1/dW1_1`` for a tied weight."""

    of: sp.Symbol  # Out
    by: sp.Symbol  # H1
    local: sp.Expr  # the local partial: one edge, the other nodes held fixed
    total: sp.Expr  # the total derivative, every route followed
    through: sp.Symbol  # a node on another route: H2
    read_as: str  # "local" or "total": the reading used

    @property
    def text(self) -> str:
        """As written: ``dOut/dH1``."""
        return f"d{self.of}/d{self.by}"

    @property
    def used(self) -> sp.Expr:
        """The value the reading used gives the partial."""
        return self.local if self.read_as == "local" else self.total

    @property
    def other(self) -> sp.Expr:
        """The value the other reading would give it."""
        return self.total if self.read_as == "local" else self.local

    @property
    def why(self) -> str:
        """Which reading was used, why, and what the other is, in words (followed by the other reading's value)."""
        a, b = self.of, self.by
        both = f"{a} reads {b} directly and {b} also reaches {a} through {self.through}"
        if self.read_as == "local":
            return (f"{both}: {self.text} is read as the local partial (one edge, as the chains of grad and paths "
                    f"write it), the reading under which your answer holds or the first tried; the total derivative "
                    f"(every route) would be")
        return (f"{both}: {self.text} is read as the total derivative (every route, as steps writes it), the reading "
                f"under which your answer holds; the local partial (one edge) would be")

    def __repr__(self) -> str:
        return f"Reading({self.text} read as the {self.read_as} {'partial' if self.read_as == 'local' else 'derivative'})"


@record(repr=False)
class Read:
    """An answer read both ways where a partial in it is ambiguous: the expression and readings with every
    ambiguous partial local, and (None where nothing is ambiguous) with every one total."""

    local: sp.Expr
    local_readings: tuple[Reading, ...]
    total: sp.Expr | None
    total_readings: tuple[Reading, ...]

    def __repr__(self) -> str:
        return f"Read({self.local}{'' if self.total is None else ' or ' + str(self.total)})"


def read_both(network: Network, parameter: sp.Symbol, text: str, what: str = "answer", lhs: bool = True) -> Read:
    """``text`` read with each ambiguous partial local, and, where there is one, again with each total."""
    local: list[Reading] = []
    expr = read_answer(network, parameter, text, what, lhs, local)
    if not local:
        return Read(expr, (), None, ())
    total: list[Reading] = []
    return Read(expr, tuple(local), read_answer(network, parameter, text, what, lhs, total, reading="total"), tuple(total))


def _lhs(network: Network, parameter: sp.Symbol) -> str:
    return f"d{network.loss_symbol}/d{parameter}"


def read_answer(network: Network, parameter: sp.Symbol, text: str, what: str = "answer", lhs: bool = True,
                readings: list[Reading] | None = None, reading: str = "local") -> sp.Expr:
    """The answer ``text`` as an expression in the network's names (``lhs``: it may start ``dLoss/dW1 =``); a
    partial along an edge whose total derivative differs is read as ``reading`` says (``local`` or ``total``) and
    added to ``readings``."""
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
        of, by = tops[a], known[b]
        if of == network.loss_symbol and by == parameter:
            raise ExpressionError(f"{what}: {m.group(0)} is the derivative being checked, so it cannot be part of the "
                                  f"answer; write it in the network's names or through other partials such as "
                                  f"d{network.loss_symbol}/d{network.outputs[0].name}")
        if of != by and reads_directly(network, of, by):
            route = other_route(network, of, by)
            if route is None:
                partials[key] = local_derivative(network, of, by)
            else:
                r = Reading(of, by, local_derivative(network, of, by), total_derivative(network, of, by), route, reading)
                partials[key] = r.used
                if readings is not None and all((x.of, x.by) != (of, by) for x in readings):
                    readings.append(r)
        else:
            partials[key] = total_derivative(network, of, by)
        return f"({key})"

    rewritten = _PARTIAL.sub(partial, _derivatives_of(network, parameter, body, what, partials, readings, reading))
    try:
        return parse_expression(rewritten, {**known, **partials}, what)
    except ExpressionError as exc:
        if not partials:
            raise
        message = str(exc).replace(repr(rewritten), repr(body))
        raise ExpressionError(message.split("; allowed are")[0] + "; allowed are the network's names, "
                              "partial derivatives such as dH4/dW1, numbers and + - * / **") from None


def _derivatives_of(network: Network, parameter: sp.Symbol, body: str, what: str, out: dict[str, sp.Expr],
                    readings: list[Reading] | None, reading: str) -> str:
    """``body`` with each ``d/dW1(EXPR)`` (as ``steps`` prints it) replaced by a name for its value in ``out``: EXPR
    read as an answer and differentiated by W1 (a leaf) through every node it reads."""
    while isinstance(body, str) and (m := _DERIVATIVE.search(body)) is not None:
        depth, close = 0, None
        for i in range(m.end() - 1, len(body)):
            depth += {"(": 1, ")": -1}.get(body[i], 0)
            if depth == 0:
                close = i
                break
        if close is None:
            raise ExpressionError(f"{what}: unbalanced parentheses after {m.group(0)!r} in {body!r}; "
                                  f"write d/d{m.group(1)}(EXPRESSION)")
        by = next((s for s in network.leaves if s.name == m.group(1)), None)
        if by is None:
            raise ExpressionError(f"{what}: {m.group(0)[:-1].strip()} in {body!r} is not by an input, weight, bias or "
                                  f"target of the network; write d/d{parameter}(EXPRESSION)")
        inner = read_answer(network, parameter, body[m.end():close], what, False, readings, reading)
        key = f"_e{len(out)}"
        # the chain rule through each node the expression reads, so the value stays in node symbols as steps writes it
        depends = _depending_on(network, by)
        out[key] = sp.Add(*(differentiate(inner, x) * (sp.S.One if x == by else total_derivative(network, x, by))
                            for x in reading_order(inner) if x in depends))
        body = f"{body[:m.start()]}({key}){body[close + 1:]}"
    return body


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


def _is_steps_decoration(network: Network, parameter: sp.Symbol, line: str) -> bool:
    """True for what ``steps`` prints around its lines (its heading, the bare ``dLoss/dW1``, a ``[reason]``), so its
    output pasted whole is a chain of steps."""
    lhs = _lhs(network, parameter)
    compact = "".join(line.split())
    return compact in (lhs, f"{lhs},stepbystep:") or (line.startswith("[") and line.endswith("]"))


def read_steps(network: Network, parameter: sp.Symbol, text: str, what: str = "--steps") -> list[tuple[int, str, Read]]:
    """The steps of ``text``: (line number, the line as written, its expression read both ways), one per line that
    is not blank, a ``#`` comment or what ``steps`` prints around its lines; the first may start ``dLoss/dW1 =``,
    each one ``=``."""
    out = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#") or _is_steps_decoration(network, parameter, line):
            continue
        if len(out) >= MAX_STEPS:
            raise ExpressionError(f"{what}: more than {MAX_STEPS} steps; check a shorter chain")
        where = f"{what} line {number}"
        if line.startswith("="):  # the first line too: its dLoss/dW1 may stand on a line of its own, as steps prints it
            body = line[1:]
        else:
            body = _strip_lhs(network, parameter, line, where)
        out.append((number, line, read_both(network, parameter, body, where, lhs=False)))
    if not out:
        raise ExpressionError(f"{what}: no steps: write one per line, the first {_lhs(network, parameter)} = ..., "
                              "each next one = ...")
    return out
