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
from ..model.values import as_mpf, check_values, environment, value_of
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


def compare_autograd(network: Network, model, inputs, loss, target, tolerance: float = TOLERANCE) -> AutogradComparison:
    """derivchain's verified gradient of every parameter entry of ``network`` (traced from ``model`` by
    ``from_torch``) at its values beside the model's own ``backward()``."""
    if network.values is None:
        raise TorchModelError("compare_autograd needs the network traced from the model: dc.from_torch(model, ...)")
    numbers = check_values(network, network.values)  # the model's own values: autograd runs at them
    grads, loss_autograd = autograd_gradients(model, inputs, loss, target)
    missing = [p.name for p in network.parameters if p.name not in grads]
    if missing:
        raise TorchModelError(f"the model has no parameter entry {missing[0]}; compare the network traced from this model")
    env, exact = environment(network, numbers)
    loss_value = float(as_mpf(value_of(network.loss_local, env, exact).value))
    ours: list[tuple[str, object, object]] = []
    derivations = {}
    for p in network.parameters:
        d = derive(network, p.name, max_paths=0)
        derivations[p.name] = d
        number = value_of(d.backprop.local, env, exact)
        ours.append((p.name, number, d))
    scale = max((abs(v) for v in grads.values()), default=0.0)
    entries = []
    first = None
    for name, number, d in ours:
        mine = float(as_mpf(number.value)) if not isinstance(number.value, Fraction) else float(number.value)
        theirs = grads[name]
        diff = abs(mine - theirs)
        larger = max(abs(mine), abs(theirs))
        relative = diff / larger if larger else 0.0
        agree = d.verdict.equal and (diff <= tolerance * larger or diff <= tolerance * scale)
        shown = str(number.value) if isinstance(number.value, Fraction) else mpmath.nstr(number.value, 20)
        entries.append(AutogradEntry(name, mine, theirs, relative, agree, shown))
        if not agree and first is None:
            first = derive(network, name)  # with its paths listed, for the report
    return AutogradComparison(network, tuple(entries), tolerance, loss_value, loss_autograd, first)
