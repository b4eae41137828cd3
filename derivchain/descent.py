"""Gradient descent on the derived gradients: w_new = w_old - lr * dLoss/dw, for one or many steps.

Each parameter's gradient is derived once, symbolically (and verified, by ``derive``), then
evaluated at the current values on every step. Exact arithmetic when every value is rational and
every function piecewise polynomial, for up to ``EXACT_STEPS`` steps (exact numbers double in size
each step); otherwise 50-digit arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from fractions import Fraction


from . import limits
from .derivation import derive
from .errors import DerivchainError
from .network import Network
from .values import Number, as_mpf, check_values, environment, read_number, value_of

EXACT_STEPS = 8


@dataclass(frozen=True)
class Step:
    """One gradient-descent step: the loss before, each gradient, the new values, the loss after."""

    loss: Number
    gradients: dict[str, Number]
    updated: dict[str, Number]
    loss_after: Number


@dataclass(frozen=True, repr=False)
class Descent:
    """All steps taken, with the parameters trained and those kept fixed."""

    lr: Fraction
    trained: tuple[str, ...]
    frozen: tuple[str, ...]
    steps: tuple[Step, ...]
    exact: bool
    network: Network | None = None
    initial: dict = field(default_factory=dict)  # name -> Number: every parameter's value before step 1

    def __repr__(self) -> str:
        last = self.steps[-1]
        return f"Descent({len(self.steps)} step{'s' if len(self.steps) != 1 else ''}, loss {self.steps[0].loss} -> {last.loss_after})"


def descend(
    network: Network,
    values: dict,
    lr: Fraction | int | float | str = Fraction(1, 10),
    steps: int = 1,
    freeze: tuple[str, ...] | str = (),
    on_step=None,
) -> Descent:
    """Take ``steps`` gradient-descent steps from ``values``; ``freeze`` holds glob patterns of names.

    ``values`` maps names (as :func:`~derivchain.values.read_values` returns them) or symbols to
    numbers; ``lr`` is read exactly (0.5 is 1/2, "1/3" a third).
    """
    limits.check("--steps", steps, "steps")
    values = check_values(network, {(k if isinstance(k, str) else k.name): v for k, v in values.items()})
    lr = lr if isinstance(lr, Fraction) else read_number(str(lr), "lr")
    freeze = (freeze,) if isinstance(freeze, str) else tuple(freeze)
    if lr <= 0:
        raise DerivchainError(f"--lr {lr}: the learning rate must be positive (a step goes against the gradient)")
    if steps < 1:
        raise DerivchainError(f"--steps {steps}: take at least one step")
    names = [p.name for p in network.parameters]
    for pattern in freeze:
        if not any(fnmatchcase(n, pattern) for n in names):
            raise DerivchainError(f"--freeze {pattern!r} matches no parameter; parameters: {network.describe_parameters()}")
    trained = [p for p in network.parameters if not any(fnmatchcase(p.name, pat) for pat in freeze)]
    gradients = {p: derive(network, p, max_paths=0).backprop.local for p in trained}

    current: dict = dict(values)
    env, exact = environment(network, current)
    if exact and steps > EXACT_STEPS:
        exact = False
    if not exact:
        current = {s: as_mpf(v) for s, v in current.items()}
        env, _ = environment(network, current, exact=False)
    rate = lr if exact else as_mpf(lr)
    taken = []
    for _ in range(steps):
        loss = value_of(network.loss_local, env, exact)
        grads = {p: value_of(g, env, exact) for p, g in gradients.items()}
        new = dict(current)
        for p, g in grads.items():
            new[p] = current[p] - rate * g.value
        # The forward pass after this step is the one the next step starts from: computed once.
        after_env, _ = environment(network, new, exact)
        loss_after = value_of(network.loss_local, after_env, exact)
        taken.append(
            Step(
                loss,
                {p.name: grads[p] for p in trained},
                {p.name: Number(new[p], exact) for p in trained},
                loss_after,
            )
        )
        current, env = new, after_env
        if on_step is not None:
            on_step()
    frozen = tuple(n for n in names if n not in {p.name for p in trained})
    initial = {p.name: Number(values[p], True) for p in network.parameters}
    return Descent(lr, tuple(p.name for p in trained), frozen, tuple(taken), exact, network, initial)
