"""The step-by-step derivation with each line verified equal to the next (see :mod:`derivchain.engines.steps`)."""

from __future__ import annotations

from functools import cached_property

import sympy as sp

from .. import memo
from ..record import record
from ..result import Result
from ..engines.steps import Step, derivation_steps, realize
from ..model.network import Network
from .compare import verify


@record(repr=False)
class StepByStep(Result):
    """The step-by-step derivation of dLoss/dparameter, each line checked equal to the next."""

    kind = "steps"  # the renderers' method for it (see derivchain.result)

    network: Network
    parameter: sp.Symbol
    steps: tuple[Step, ...]

    @cached_property
    def links(self) -> tuple:
        """The verdict of each line = next line, every pending derivative taken (see :func:`realize`)."""
        with memo.working_for(self.network):
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


