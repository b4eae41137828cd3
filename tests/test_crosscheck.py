"""Cross-check against an autodiff nobody here wrote: PyTorch, float64, and central differences.

Skipped cleanly when torch is absent; CI installs it (the `cross-check` extra). The torch side is
written from the registry's names (torch.sigmoid, F.elu, log_softmax, ...), not from SymPy, so it
is an independent implementation of the same network.
"""

import os
import random

import mpmath
import pytest

from derivchain.direct_derivative import direct
from derivchain.netfile import build_network
from derivchain.verification import central_difference, evaluate

if os.environ.get("CI"):
    import torch  # on CI (CI=true) torch must be there: .ci/run installs it
else:
    torch = pytest.importorskip("torch")
F = torch.nn.functional

TORCH_ACTIVATIONS = {
    "identity": lambda z: z,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "leaky_relu": lambda z: F.leaky_relu(z, 0.01),
    "leaky_relu:0.2": lambda z: F.leaky_relu(z, 0.2),
    "softplus": F.softplus,
    "elu": F.elu,
    "swish": lambda z: z * torch.sigmoid(z),
    "exp": torch.exp,
    "square": lambda z: z**2,
}
TORCH_LOSSES = {
    "abs": lambda o, y: (o - y).abs().sum(),
    "squared": lambda o, y: ((o - y) ** 2).sum(),
    "half-squared": lambda o, y: ((o - y) ** 2 / 2).sum(),
    "cross-entropy": lambda o, y: -(y * torch.log(o) + (1 - y) * torch.log(1 - o)).sum(),
    "softmax": lambda o, y: -(y * torch.log_softmax(o, dim=0)).sum(),
}
NETWORKS = 200


def random_spec(rng: random.Random) -> dict:
    """A random feed-forward DAG (skip connections included), activations and loss."""
    n_in, n_neurons = rng.randint(1, 3), rng.randint(1, 5)
    inputs = [f"X{i}" for i in range(1, n_in + 1)]
    nodes, neurons, w = list(inputs), [], 0
    for k in range(1, n_neurons + 1):
        edges = {}
        for s in rng.sample(nodes, rng.randint(1, min(3, len(nodes)))):
            w += 1
            edges[s] = f"W{w}"
        neuron = {"name": f"N{k}", "inputs": edges, "activation": rng.choice(sorted(TORCH_ACTIVATIONS))}
        if rng.random() < 0.5:
            neuron["bias"] = f"B{k}"
        neurons.append(neuron)
        nodes.append(f"N{k}")
    used = {s for n in neurons for s in n["inputs"]}
    for x in inputs:
        if x not in used:
            w += 1
            neurons[-1]["inputs"][x] = f"W{w}"
    outputs = [n for n in neurons if n["name"] not in used or n is neurons[-1]]
    for n in outputs:
        n["output"] = True
    loss = rng.choice(sorted(TORCH_LOSSES))
    if loss == "softmax" and len(outputs) < 2:
        loss = "half-squared"
    if loss == "cross-entropy":
        for n in outputs:
            n["activation"] = "sigmoid"
    if loss == "softmax":
        for n in outputs:
            n["activation"] = "identity"
    return {"inputs": inputs, "neurons": neurons, "loss": loss}


def torch_gradients(spec: dict, net, point: dict) -> dict:
    """dLoss/dparameter by torch autograd in float64, from the spec alone."""
    t = {s.name: torch.tensor(float(v), dtype=torch.float64, requires_grad=True) for s, v in point.items()}
    out = dict(t)
    for n in spec["neurons"]:  # file order is topological for these specs
        z = sum(out[src] * t[wname] for src, wname in n["inputs"].items())
        if "bias" in n:
            z = z + t[n["bias"]]
        out[n["name"]] = TORCH_ACTIVATIONS[n["activation"]](z)
    outs = torch.stack([out[o.name] for o in net.outputs])
    ys = torch.stack([t[y.name] for y in net.targets])
    TORCH_LOSSES[spec["loss"]](outs, ys).backward()
    return {p.name: t[p.name].grad.item() for p in net.parameters}


def relative_error(ours: float, theirs: float) -> float:
    # Relative to the gradient's size, with a floor so that a gradient of ~0 is judged absolutely.
    return abs(ours - theirs) / max(abs(theirs), 1e-8)


def test_torch_autograd_agrees_on_random_networks():
    rng = random.Random(20261122)
    worst, compared = 0.0, 0
    for index in range(NETWORKS):
        spec = random_spec(rng)
        net = build_network(spec, f"random-{index}")
        symbols = sorted(net.loss_full.free_symbols, key=lambda s: s.name)
        point = {}
        for s in symbols:
            if s.name.startswith("Y"):
                point[s] = mpmath.mpf(rng.uniform(0.05, 0.95))  # targets in (0, 1) for cross-entropy
            else:
                point[s] = mpmath.mpf(rng.uniform(-1.5, 1.5))
        theirs = torch_gradients(spec, net, point)
        for p in net.parameters:
            ours = float(evaluate(direct(net, p).value, point))
            worst = max(worst, relative_error(ours, theirs[p.name]))
            compared += 1
    print(f"torch cross-check: {NETWORKS} networks, {compared} gradients, max relative error {worst:.2e}")
    assert compared >= 200 and worst < 1e-9


def test_central_differences_agree_on_random_networks():
    rng = random.Random(7)
    for index in range(20):
        spec = random_spec(rng)
        net = build_network(spec, f"random-{index}")
        symbols = sorted(net.loss_full.free_symbols, key=lambda s: s.name)
        point = {s: mpmath.mpf(rng.uniform(0.05, 0.95) if s.name.startswith("Y") else rng.uniform(-1.5, 1.5)) for s in symbols}
        for p in net.parameters:
            ours = evaluate(direct(net, p).value, point)
            fd = central_difference(net.loss_full, p, point)
            assert abs(ours - fd) <= mpmath.mpf("1e-20") * max(1, abs(fd)), (spec, p)
