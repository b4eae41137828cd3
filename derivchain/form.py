"""The one form every derivation engine returns: dLoss/dparameter in neuron symbols and substituted."""

from __future__ import annotations

import sympy as sp

from .record import record


@record(repr=False)
class Form:
    """One engine's dLoss/dparameter: ``local`` in neuron symbols, ``substituted`` in inputs and
    parameters only (what the verifier compares), and ``how`` it was obtained, in words."""

    engine: str
    parameter: sp.Symbol
    local: sp.Expr
    substituted: sp.Expr
    how: str

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.parameter}: {self.how})"
