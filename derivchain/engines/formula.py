"""The general backpropagation equations at an arbitrary layer, in a network's notation.

The worked example asks for "a formula for dLoss/dW at an arbitrary layer"; this is it, written
once in general (by the notation object) and then instantiated for one weight by
:func:`derivchain.engines.backprop.backprop`.
"""

from __future__ import annotations

from dataclasses import field

from ..record import record
from ..result import Result
from .backprop import Backprop, backprop
from ..model.network import Network
from ..model.notation import GRAPH_GENERAL


@record
class GeneralFormula(Result):
    """The backpropagation equations for any layer, as text and LaTeX lines, and optionally one instance."""

    kind = "formula"  # the renderers' method for it (see derivchain.result)

    network: Network
    lines: tuple[tuple[str, str], ...]
    instance: Backprop | None = None
    # The instance's verified chains (dLoss/dW = source * delta, then each delta's), and each delta's textbook
    # form under a condition where the loss has one; None until the verifier made them (verification.formula).
    chains: tuple | None = field(default=None, compare=False, repr=False)
    conditionals: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def notation(self) -> str:
        """The notation's name."""
        return self.network.notation.name

    @property
    def where(self) -> str:
        """``flat notation``, or ``any graph`` for a network with expression nodes or shared weights."""
        return "any graph" if self.network.is_graph else f"{self.notation} notation"

    @property
    def text(self) -> list[str]:
        """The equations as plain text."""
        return [t for t, _ in self.lines]

    @property
    def latex(self) -> list[str]:
        """The equations as LaTeX, one per line."""
        return [l for _, l in self.lines]

    def __repr__(self) -> str:
        which = f", for {self.instance.parameter}" if self.instance is not None else ""
        return f"GeneralFormula({self.notation}{which})"


def general_formula(network: Network, parameter: str | None = None) -> GeneralFormula:
    """The general equations in the network's notation; with ``parameter``, instantiated for it too."""
    instance = backprop(network, network.parameter(parameter)) if parameter else None
    lines = GRAPH_GENERAL if network.is_graph else network.notation.general
    if network.l2 is not None:  # the loss reads every weight itself: one more term, no path
        lines = (*lines, L2_GENERAL)
    return GeneralFormula(network, lines, instance)


#: With --l2: each weight's gradient gains lambda * w (the loss's own use of it); biases none.
L2_GENERAL = ("with L2 (lambda/2 * sum of squared weights in the loss):  dLoss/dW = (the above) + lambda * W;  "
              "biases: no L2 term",
              r"\text{with L2:}\ \frac{\partial \mathrm{Loss}}{\partial W} = (\dots) + \lambda W"
              r"\quad \text{(biases: no L2 term)}")
