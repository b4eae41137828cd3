"""Batches and L2 against PyTorch (float64), written from nn.Linear, MSELoss/BCELoss and SGD's
weight_decay alone: not from derivchain's SymPy forms. Skipped when torch is absent; CI installs it."""

import os
import random
from fractions import Fraction

import pytest

from derivchain import api
from derivchain.engines.descent import descend

if os.environ.get("CI"):
    import torch  # on CI torch must be there
else:
    torch = pytest.importorskip("torch")

M = 4  # samples


def setup(seed: int):
    """A 2-3-1 sigmoid network with biases (torch layers) and 4 samples; derivchain's values from the same numbers."""
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    first, second = torch.nn.Linear(2, 3).double(), torch.nn.Linear(3, 1).double()
    with torch.no_grad():
        for p in (first.weight, first.bias, second.weight, second.bias):
            p.copy_(torch.empty_like(p).uniform_(-1, 1, generator=gen))
    xs = [[rng.uniform(-2, 2), rng.uniform(-2, 2)] for _ in range(M)]
    ys = [float(rng.random() < 0.5) for _ in range(M)]
    # Flat names: W numbered by target neuron, then by source; B1..B3 for H1..H3, B4 for Out.
    values = {f"W{2 * j + i + 1}": first.weight[j, i].item() for j in range(3) for i in range(2)}
    values |= {f"W{7 + i}": second.weight[0, i].item() for i in range(3)}
    values |= {f"B{j + 1}": first.bias[j].item() for j in range(3)} | {"B4": second.bias[0].item()}
    given = {k: Fraction(v) for k, v in values.items()}
    given["samples"] = tuple({"X1": Fraction(x[0]), "X2": Fraction(x[1]), "Y": Fraction(y)} for x, y in zip(xs, ys))
    names = ([(first.weight, j, i, f"W{2 * j + i + 1}") for j in range(3) for i in range(2)]
             + [(second.weight, 0, i, f"W{7 + i}") for i in range(3)])
    return first, second, torch.tensor(xs, dtype=torch.float64), torch.tensor(ys, dtype=torch.float64)[:, None], given, names


def torch_loss(first, second, x, y, loss, reduction, lam):
    out = torch.sigmoid(second(torch.sigmoid(first(x))))
    data = (torch.nn.MSELoss(reduction=reduction) if loss == "squared" else torch.nn.BCELoss(reduction=reduction))(out, y)
    # L2 on weights only; with sum the per-sample L2 term is summed too (m times): derivchain's documented choice.
    times = 1 if reduction == "mean" else len(y)
    return data + times * lam / 2 * (first.weight.pow(2).sum() + second.weight.pow(2).sum())


@pytest.mark.parametrize("loss", ["squared", "cross-entropy"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("lam", ["0", "0.05"])
def test_batch_gradients_against_torch(loss, reduction, lam):
    first, second, x, y, given, names = setup(3)
    torch_loss(first, second, x, y, loss, reduction, float(Fraction(lam))).backward()
    theirs = {name: p.grad[j, i].item() for p, j, i, name in names}
    theirs |= {f"B{j + 1}": first.bias.grad[j].item() for j in range(3)} | {"B4": second.bias.grad[0].item()}
    net = api.network(layers="2,3,1", activation="sigmoid", output_activation="sigmoid", loss=loss, bias=True,
                      l2=None if lam == "0" else lam)
    for name, g in theirs.items():
        result = api.grad(net, name, max_paths=0, values=given, reduction=reduction)
        assert len(result.samples) == M
        for form in (result.direct, result.path_sum, result.backprop):
            assert abs(float(form) - g) <= 1e-12 * max(1.0, abs(g)), (name, float(form), g)


@pytest.mark.parametrize("reduction, batch_size, lam", [("mean", None, "0"), ("mean", 2, "0.05"), ("sum", 1, "0.05"), ("sum", None, "0")])
def test_steps_against_torch_sgd_with_weight_decay(reduction, batch_size, lam):
    """SGD's weight_decay adds lambda * w to each weight's gradient: derivchain's --l2 (biases excluded, so
    they get their own group with no decay). Mini-batches in file order, two epochs."""
    first, second, x, y, given, names = setup(8)
    decay = float(Fraction(lam)) * (1 if reduction == "mean" else (batch_size or M))
    opt = torch.optim.SGD([{"params": [first.weight, second.weight], "weight_decay": decay},
                           {"params": [first.bias, second.bias], "weight_decay": 0.0}], lr=0.5)
    size = batch_size or M
    for _ in range(2):
        for start in range(0, M, size):
            opt.zero_grad()
            torch_loss(first, second, x[start:start + size], y[start:start + size], "squared", reduction, 0.0).backward()
            opt.step()
    net = api.network(layers="2,3,1", activation="sigmoid", output_activation="sigmoid", loss="squared", bias=True,
                      l2=None if lam == "0" else lam)
    result = descend(net, given, Fraction(1, 2), 2, reduction=reduction, batch_size=batch_size)
    assert len(result.steps) == 2 * -(-M // size)
    ours = result.steps[-1].updated
    for p, j, i, name in names:
        assert abs(float(ours[name]) - p[j, i].item()) < 1e-12, name
    assert abs(float(ours["B4"]) - second.bias[0].item()) < 1e-12
