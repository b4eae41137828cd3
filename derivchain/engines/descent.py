"""Gradient descent on the derived gradients: w_new = w_old - lr * dLoss/dw, for one or many steps.

Each parameter's gradient is derived once, symbolically (by ``gradient``: the API passes each
parameter's verified backpropagation form, see :func:`derivchain.api.step`), then evaluated at the
current values on every step. Exact arithmetic when every value is rational and
every function piecewise polynomial, for up to ``EXACT_STEPS`` steps (exact numbers double in size
each step); otherwise 50-digit arithmetic.
"""

from __future__ import annotations

from dataclasses import field
from fnmatch import fnmatchcase
from fractions import Fraction

from ..record import record
from ..result import Result
from .. import limits
from .backprop import backprop
from ..errors import DerivchainError
from ..model.network import Network
from ..model.values import SAMPLES, Number, as_mpf, check_batch, check_reduction, environment, read_number, reduce_numbers, value_of

EXACT_STEPS = 8


@record
class Step:
    """One gradient-descent step: the loss before, each gradient, the new values, the loss after."""

    loss: Number
    gradients: dict[str, Number]
    updated: dict[str, Number]
    loss_after: Number


@record(repr=False)
class Descent(Result):
    """All steps taken, with the parameters trained and those kept fixed."""

    kind = "descent"  # the renderers' method for it (see derivchain.result)

    lr: Fraction
    trained: tuple[str, ...]
    frozen: tuple[str, ...]
    steps: tuple[Step, ...]
    exact: bool
    network: Network | None = None
    initial: dict = field(default_factory=dict)  # name -> Number: every parameter's value before step 1
    reduction: str | None = None  # with a batch: mean or sum over samples
    samples: int = 0  # with a batch: how many samples
    batch_size: int | None = None  # with mini-batches: samples per step (steps then holds every update)
    epochs: int = 0  # with a batch: passes over it

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
    reduction: str = "mean",
    batch_size: int | None = None,
    gradient=None,
) -> Descent:
    """Take ``steps`` gradient-descent steps from ``values``; ``freeze`` holds glob patterns of names.

    ``values`` maps names (as :func:`~derivchain.model.values.read_values` returns them) or symbols to
    numbers; ``lr`` is read exactly (0.5 is 1/2, "1/3" a third). With a batch (``values["samples"]``),
    each gradient is the ``reduction`` (mean or sum) of the samples' gradients: the whole batch per step,
    or ``batch_size`` samples in file order per step, ``steps`` then counting epochs (passes over the batch).
    The losses recorded are always the whole batch's, reduced the same way. ``gradient(network, parameter)``
    gives dLoss/dparameter as an expression (default: the backpropagation engine's, unverified).
    """
    limits.check("--steps", steps, "steps")
    check_reduction(reduction)
    batched = SAMPLES in values
    samples = check_batch(network, values)
    m = len(samples)
    if batch_size is not None and not 1 <= batch_size <= m:
        what = "must be positive" if batch_size < 1 else f"is larger than the batch ({m} sample{'s' if m != 1 else ''})"
        raise DerivchainError(f"--batch-size {batch_size}: the mini-batch size {what}; give 1 to {m}")
    size = batch_size or m
    lr = lr if isinstance(lr, Fraction) else read_number(str(lr), "lr")
    freeze = (freeze,) if isinstance(freeze, str) else tuple(freeze)
    if lr <= 0:
        raise DerivchainError(f"--lr {lr}: the learning rate must be positive (a step goes against the gradient)")
    if steps < 1:
        raise DerivchainError(f"--steps {steps}: take at least one step")
    names = [p.name for p in network.parameters]
    for pattern in freeze:
        if not any(_matches(n, pattern) for n in names):
            raise DerivchainError(f"--freeze {pattern!r} matches no parameter; parameters: {network.describe_parameters()}")
    trained = [p for p in network.parameters if not any(_matches(p.name, pat) for pat in freeze)]
    if not trained:
        what = "every parameter is frozen" if network.parameters else "this network has no parameters (every leaf is an input or a target)"
        raise DerivchainError(f"step: nothing to update: {what}; gradient descent needs at least one parameter")
    gradient = gradient or (lambda net, p: backprop(net, p).local)
    gradients = {p: gradient(network, p) for p in trained}

    params = {p: samples[0][p] for p in network.parameters}
    data = [{s: v for s, v in sample.items() if s not in params} for sample in samples]
    groups = [range(i, min(i + size, m)) for i in range(0, m, size)]
    if len(groups) > 1:  # every mini-batch update is a step
        limits.check("the number of updates (--steps epochs x mini-batches)", steps * len(groups), "steps")
    exact = all(environment(network, d | params)[1] for d in data) and steps * len(groups) <= EXACT_STEPS
    if exact:
        # Exact only if every number is rational: a rational forward pass may still meet exp in the loss
        # (softmax) or a gradient; whether one does depends on the forms, not the values, so one look does.
        start = environment(network, data[0] | params)[0]
        exact = all(value_of(e, start, True).exact for e in (network.loss_local, *gradients.values()))
    if not exact:
        params = {s: as_mpf(v) for s, v in params.items()}
        data = [{s: as_mpf(v) for s, v in d.items()} for d in data]
    rate = lr if exact else as_mpf(lr)

    def forward(point):
        return [environment(network, d | point, exact)[0] for d in data]

    def loss_of(envs):
        return reduce_numbers([value_of(network.loss_local, e, exact) for e in envs], reduction, exact)

    current, envs = params, forward(params)
    taken = []
    for _ in range(steps):
        for group in groups:
            loss = loss_of(envs)
            grads = {p: reduce_numbers([value_of(g, envs[i], exact) for i in group], reduction, exact) for p, g in gradients.items()}
            if exact and not (loss.exact and all(g.exact for g in grads.values())):
                # An exact number grew past the exact_digits limit: from here on 50-digit arithmetic, and said so.
                exact, rate = False, as_mpf(lr)
                current = {s: as_mpf(v) for s, v in current.items()}
                data = [{s: as_mpf(v) for s, v in d.items()} for d in data]
                envs = forward(current)
                loss = loss_of(envs)
                grads = {p: reduce_numbers([value_of(g, envs[i], exact) for i in group], reduction, exact) for p, g in gradients.items()}
            new = dict(current)
            for p, g in grads.items():
                new[p] = current[p] - rate * g.value
            # The forward pass after this step is the one the next step starts from: computed once.
            after = forward(new)
            taken.append(Step(loss, {p.name: grads[p] for p in trained}, {p.name: Number(new[p], exact) for p in trained},
                              loss_of(after)))
            current, envs = new, after
        if on_step is not None:
            on_step()
    frozen = tuple(n for n in names if n not in {p.name for p in trained})
    initial = {p.name: Number(samples[0][p], True) for p in network.parameters}
    return Descent(lr, tuple(p.name for p in trained), frozen, tuple(taken), exact, network, initial,
                   reduction if batched else None, m if batched else 0, batch_size if batched else None, steps)


def _matches(name: str, pattern: str) -> bool:
    """``name`` is ``pattern`` itself (a matrix entry WQ[0,1], whose brackets a glob reads as a class) or matches it."""
    return name == pattern or fnmatchcase(name, pattern)
