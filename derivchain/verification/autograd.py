"""derivchain's gradient of a traced PyTorch model beside autograd's, entry by entry (``derivchain autograd``).

derivchain's side: each parameter entry's derivation (three ways, verified) evaluated at the network's
values (exactly where the network allows, else to 50 digits). autograd's side: the model's own
``backward()`` in float64, hand-written ``torch.autograd.Function`` backwards included. They agree when
they differ by at most ``tolerance`` relative to the larger of the two, or to the largest gradient entry
of all (an entry near 0 by cancellation is as exact as its neighbours' size allows, not relatively).
"""

from __future__ import annotations

from fractions import Fraction

import mpmath

from ..model.network import Network
from ..model.torch_model import TorchModelError, need_torch
from ..model.values import DIGITS, as_mpf, check_values, environment, evaluate_at
from ..symbolic.evaluate import evaluate as evaluate_numeric
from .. import memo
from ..engines.backprop import backprop
from ..record import record
from ..result import Result
from .derivation import derive

#: The default tolerance: float64 autograd against exact values, relative.
TOLERANCE = 1e-12


@record(repr=False)
class AutogradEntry:
    """One parameter entry: derivchain's value, autograd's, their relative difference and the verdict."""

    parameter: str
    derivchain: float
    autograd: float
    relative_difference: float
    agree: bool
    exact: str  # derivchain's value as an exact fraction where it is rational, else its 20 digits

    def __repr__(self) -> str:
        return f"AutogradEntry({self.parameter}: {self.derivchain!r} vs {self.autograd!r}, {'agree' if self.agree else 'DIFFER'})"


@record(repr=False)
class AutogradComparison(Result):
    """Every parameter entry's gradient by derivchain and by autograd; the first disagreement's derivation."""

    kind = "autograd"  # the renderers' method for it (see derivchain.result)

    network: Network
    entries: tuple[AutogradEntry, ...]
    tolerance: float
    loss_derivchain: float
    loss_autograd: float
    first: object = None  # the first disagreeing entry's Derivation (its path sum), None when all agree
    three_ways: bool = True  # every entry derived three ways and verified (False: --fast, backprop beside autograd)

    @property
    def all_agree(self) -> bool:
        """True when every entry agrees."""
        return all(e.agree for e in self.entries)

    @property
    def first_disagreement(self) -> str | None:
        """The first entry (in parameter order) that does not agree, or None."""
        return next((e.parameter for e in self.entries if not e.agree), None)

    def __repr__(self) -> str:
        bad = sum(not e.agree for e in self.entries)
        return f"AutogradComparison({len(self.entries)} entries, {'all agree' if not bad else f'{bad} differ'})"


def autograd_gradients(model, inputs, loss, target) -> tuple[dict[str, float], float]:
    """The model's own backward in float64: each parameter entry's gradient by name, and the loss."""
    torch = need_torch()
    import copy

    model = copy.deepcopy(model).to(torch.float64)
    inputs = [x.to(torch.float64) if x.is_floating_point() else x
              for x in (inputs if isinstance(inputs, (tuple, list)) else [inputs])]
    target = target.to(torch.float64) if target.is_floating_point() else target
    model.zero_grad()
    value = loss(model(*inputs), target)
    value.backward()
    grads: dict[str, float] = {}
    for name, p in model.named_parameters():
        g = p.grad if p.grad is not None else torch.zeros_like(p)
        shape = tuple(p.shape)
        flat = g.reshape(-1).tolist()
        import itertools

        for idx, v in zip(itertools.product(*(range(n) for n in shape)), flat):
            grads[f"{name}[{','.join(map(str, idx))}]" if shape else name] = float(v)
    return grads, float(value.detach())


def compare_autograd(network: Network, model, inputs, loss, target, tolerance: float = TOLERANCE,
                     three_ways: bool = True) -> AutogradComparison:
    """derivchain's verified gradient of every parameter entry of ``network`` (traced from ``model`` by
    ``from_torch``) at its values beside the model's own ``backward()``. ``three_ways=False`` (``--fast``):
    each entry by backpropagation alone, autograd its independent check; an entry that disagrees is derived
    three ways and verified all the same (the first disagreement's derivation is always)."""
    if network.values is None:
        raise TorchModelError("compare_autograd needs the network traced from the model: dc.from_torch(model, ...)")
    numbers = check_values(network, network.values)  # the model's own values: autograd runs at them
    grads, loss_autograd = autograd_gradients(model, inputs, loss, target)
    missing = [p.name for p in network.parameters if p.name not in grads]
    if missing:
        raise TorchModelError(f"the model has no parameter entry {missing[0]}; compare the network traced from this model")
    env, exact = environment(network, numbers)
    evaluate = _evaluator(env, exact)
    loss_value = evaluate(network.loss_local)
    ours: list[tuple[str, float, str, bool]] = []
    with memo.working_for(network), memo.bulk_work():  # the collector between entries (see memo.bulk_work)
        for p in network.parameters:
            if three_ways:
                d = derive(network, p.name, max_paths=0)
                value, shown = evaluate(d.backprop.local, shown=True)
                ours.append((p.name, value, shown, d.verdict.equal))
            else:
                value, shown = evaluate(backprop(network, p).local, shown=True)
                ours.append((p.name, value, shown, None))
            memo.step()
    scale = max((abs(v) for v in grads.values()), default=0.0)
    entries = []
    first = None
    for name, mine, shown, verified in ours:
        theirs = grads[name]
        if verified is None:  # --fast: derived three ways only where autograd disagrees
            close = abs(mine - theirs) <= tolerance * max(abs(mine), abs(theirs), scale)
            verified = True if close else derive(network, name, max_paths=0).verdict.equal
        diff = abs(mine - theirs)
        larger = max(abs(mine), abs(theirs))
        relative = diff / larger if larger else 0.0
        agree = verified and (diff <= tolerance * larger or diff <= tolerance * scale)
        entries.append(AutogradEntry(name, mine, theirs, relative, agree, shown))
        if not agree and first is None:
            first = derive(network, name)  # with its paths listed, for the report
    return AutogradComparison(network, tuple(entries), tolerance, loss_value, loss_autograd, first, three_ways)


def _evaluator(env: dict, exact: bool):
    """Expressions at one point, each subtree's value kept for the next (the deltas every entry shares): exact
    where they are rational, else at 50 digits, the point converted to mpmath once (not once per expression)."""
    memo: dict = {}
    numeric: dict = {}
    state = {"exact": exact, "point": None}

    def evaluate(expr, shown: bool = False):
        if state["exact"]:
            number = evaluate_at(expr, env, memo)
            if number.exact:
                value = number.value
                return (float(value), str(value)) if shown else float(value)
            state["exact"] = False  # a softmax, a log: the rest numerically, at one converted point
        if state["point"] is None:
            with mpmath.workdps(DIGITS + 10):
                state["point"] = {s: as_mpf(v) for s, v in env.items()}
        with mpmath.workdps(DIGITS + 10):
            value = evaluate_numeric(expr, state["point"], DIGITS, memo=numeric)
        return (float(value), mpmath.nstr(value, 20)) if shown else float(value)

    return evaluate
