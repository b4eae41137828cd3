"""Registry of losses as data: each maps the outputs and targets to one SymPy expression.

Per-output losses (abs, squared, ...) are summed over outputs. Adding a loss is one entry in
``LOSSES``; ``get_loss`` also accepts an expression in ``Out`` and ``Y`` from the whitelist parser.
"""

from __future__ import annotations

from typing import Callable, Sequence

import sympy as sp
from sympy.core.mul import _keep_coeff  # k*(a + b) kept as written: SymPy would distribute k

from ..record import record
from ..errors import UnknownLossError, choices


class Prose(str):
    """Words for a reader that hold mathematics: the string itself as plain text, and ``parts``, the same
    as words and SymPy expressions, for a document to typeset (``Out*(1 - Out)`` reads as code in prose)."""

    parts: tuple

    def __new__(cls, text: str, parts: tuple = ()):
        self = super().__new__(cls, text)
        self.parts = tuple(parts)
        return self


_OUT = sp.Symbol("Out")


@record
class Loss:
    """One loss: name, formula(outputs, targets), how it reads, its caveat and its requirements."""

    name: str
    formula: Callable[[Sequence[sp.Expr], Sequence[sp.Expr]], sp.Expr]
    text: str
    note: str = ""
    note_tex: str = ""  # the note as LaTeX prose (mathematics in $...$), for documents
    output_activation: str | None = None  # the output activation it requires, if any
    min_outputs: int = 1
    # dLoss/dOut_k written the textbook way (2*(Out - Y), not 2*Out - 2*Y), from (outputs, targets, k);
    # None: SymPy's derivative. Verified against SymPy's derivative of the formula for every network.
    derivative: Callable[[Sequence[sp.Expr], Sequence[sp.Expr], int], sp.Expr] | None = None
    # How the output delta simplifies with the required output activation, named where it is shown.
    rewrite: str = ""  # a Prose where it holds mathematics
    # A textbook form that holds under a condition on the targets (softmax: one-hot targets):
    # (the condition in words, targets -> substitution that imposes it, dLoss/dOut_k under it).
    conditional: tuple[str, Callable, Callable] | None = None


def per_output(f: Callable[[sp.Expr, sp.Expr], sp.Expr]):
    """Lift a loss of one output and its target to the sum over all outputs."""
    return lambda outs, ys: sp.Add(*(f(o, y) for o, y in zip(outs, ys)))


def each_output(f: Callable[[sp.Expr, sp.Expr], sp.Expr]):
    """Lift dloss/dout of one output and its target to (outputs, targets, k)."""
    return lambda outs, ys, k: f(outs[k], ys[k])


def _softmax_derivative(outs, ys, k):
    # softmax_k(Out) * sum(Y) - Y_k: with targets summing to 1 (one-hot), softmax_k(Out) - Y_k.
    return sp.exp(outs[k]) / sp.Add(*(sp.exp(o) for o in outs)) * sp.Add(*ys) - ys[k]


def _one_hot(outs, ys):
    # Targets that sum to 1: the last one is 1 minus the others.
    return {ys[-1]: 1 - sp.Add(*ys[:-1])}


def _softmax_minus_target(outs, ys, k):
    # softmax_k(Out) - Y_k: the textbook delta of softmax + cross-entropy, for one-hot targets.
    return sp.exp(outs[k]) / sp.Add(*(sp.exp(o) for o in outs)) - ys[k]


def _softmax_cross_entropy(outs, ys):
    # -sum_k Y_k log softmax_k(Out) = -sum_k Y_k Out_k + (sum_k Y_k) log sum_j exp(Out_j)
    return -sp.Add(*(y * o for o, y in zip(outs, ys))) + sp.Add(*ys) * sp.log(sp.Add(*(sp.exp(o) for o in outs)))


LOSSES: dict[str, Loss] = {
    l.name: l
    for l in (
        Loss(
            "abs",
            per_output(lambda out, y: sp.Abs(out - y)),
            "|Out - Y|",
            derivative=each_output(lambda out, y: sp.sign(out - y)),
            note="|u| is not differentiable at u = 0; derivchain uses d|u|/du = sign(u), "
            "so the gradient is 0 where Out = Y (a valid subgradient).",
            note_tex=r"$|u|$ is not differentiable at $u = 0$; derivchain uses $d|u|/du = \operatorname{sign}(u)$ "
            r"with $\operatorname{sign}(0) = 0$, so the gradient is $0$ where an output equals its target (a valid subgradient).",
        ),
        Loss("squared", per_output(lambda out, y: (out - y) ** 2), "(Out - Y)**2",
             derivative=each_output(lambda out, y: _keep_coeff(sp.Integer(2), out - y))),
        Loss("half-squared", per_output(lambda out, y: (out - y) ** 2 / 2), "(Out - Y)**2/2",
             derivative=each_output(lambda out, y: out - y)),
        Loss(
            "cross-entropy",
            per_output(lambda out, y: -(y * sp.log(out) + (1 - y) * sp.log(1 - out))),
            "-(Y*log(Out) + (1 - Y)*log(1 - Out))",
            note="binary cross-entropy needs Out in (0, 1): the output activation must be sigmoid.",
            note_tex=r"Binary cross-entropy needs outputs in $(0, 1)$: the output activation must be the sigmoid.",
            output_activation="sigmoid",
            derivative=each_output(lambda out, y: (out - y) / (out * (1 - out))),
            rewrite=Prose("sigmoid + cross-entropy: the sigmoid's Out*(1 - Out) cancels the loss's denominator",
                          ("sigmoid + cross-entropy: the sigmoid's ", _OUT * (1 - _OUT), " cancels the loss's denominator")),
        ),
        Loss(
            "softmax",
            _softmax_cross_entropy,
            "-sum_k Y_k*log(softmax_k(Out))",
            note="softmax + cross-entropy: the outputs are logits (identity output activation) and "
            "dLoss/dOut_k = softmax_k(Out)*sum(Y) - Y_k.",
            note_tex=r"Softmax + cross-entropy: the outputs are logits (identity output activation), and the derivative "
            r"of the loss by output $k$ is $\operatorname{softmax}_k(\mathrm{Out}) \sum_j Y_j - Y_k$.",
            output_activation="identity",
            min_outputs=2,
            derivative=_softmax_derivative,
            conditional=("one-hot targets", _one_hot, _softmax_minus_target),
        ),
    )
}


def custom_loss(text: str, what: str = "loss") -> Loss:
    """A per-output loss given as an expression in ``Out`` and ``Y``, summed over outputs."""
    from ..symbolic.parse import parse_expression

    out, y = sp.Symbol("Out", real=True), sp.Symbol("Y", real=True)
    body = parse_expression(text, {"Out": out, "Y": y}, what)
    if not body.has(out):
        raise UnknownLossError(f"{what}: {text!r} does not depend on Out")
    return Loss(text, per_output(lambda o, t: body.xreplace({out: o, y: t})), text)


def get_loss(name: str) -> Loss:
    """A loss by name, or an expression in Out and Y; else an error with the choices."""
    if name in LOSSES:
        return LOSSES[name]
    if any(c in name for c in "()+-*/"):
        return custom_loss(name)
    shown = name if len(name) <= 40 else name[:20] + "..."
    raise UnknownLossError(
        f"unknown loss {shown!r}; choose one of: {choices(LOSSES)}, or an expression in Out and Y such as \"(Out-Y)**4/4\""
    )
