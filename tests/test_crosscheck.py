"""Cross-check against an autodiff nobody here wrote: PyTorch, float64, and central differences.

Skipped cleanly when torch is absent; CI installs it (the `cross-check` extra). The torch side is
written from the registry's names (torch.sigmoid, F.elu, log_softmax, ...), not from SymPy, so it
is an independent implementation of the same network.
"""

import os
import random

import mpmath
import pytest

from derivchain.engines.direct import direct
from derivchain.model.network_file import build_network
from derivchain.symbolic.evaluate import central_difference, evaluate

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


def random_spec(rng: random.Random, share: float = 0.0) -> dict:
    """A random feed-forward DAG (skip connections included), activations and loss; with ``share``,
    each edge reuses an earlier weight with that probability (shared weights)."""
    n_in, n_neurons = rng.randint(1, 3), rng.randint(1, 5)
    inputs = [f"X{i}" for i in range(1, n_in + 1)]
    nodes, neurons, w = list(inputs), [], 0
    for k in range(1, n_neurons + 1):
        edges = {}
        for s in rng.sample(nodes, rng.randint(1, min(3, len(nodes)))):
            if w and rng.random() < share:
                edges[s] = f"W{rng.randint(1, w)}"
                continue
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
    return {p.name: t[p.name].grad.item() for p in net.parameters + net.inputs}


def relative_error(ours: float, theirs: float) -> float:
    # Relative to the gradient's size, with a floor so that a gradient of ~0 is judged absolutely.
    return abs(ours - theirs) / max(abs(theirs), 1e-8)


@pytest.mark.parametrize("share, per_neuron", [(0.0, False), (0.4, False), (0.0, True), (0.4, True)])
def test_torch_autograd_agrees_on_random_networks(share, per_neuron, monkeypatch):
    # per_neuron: every neuron's dLoss/dz shared by its weights (the direct form a large network compares).
    if per_neuron:
        monkeypatch.setattr("derivchain.engines.direct.SHARED_ABOVE", 0)
    rng = random.Random(20261122)
    worst, compared = 0.0, 0
    for index in range(NETWORKS):
        spec = random_spec(rng, share)
        net = build_network(spec, f"random-{index}")
        symbols = sorted(net.loss_full.free_symbols, key=lambda s: s.name)
        point = {}
        for s in symbols:
            if s.name.startswith("Y"):
                point[s] = mpmath.mpf(rng.uniform(0.05, 0.95))  # targets in (0, 1) for cross-entropy
            else:
                point[s] = mpmath.mpf(rng.uniform(-1.5, 1.5))
        theirs = torch_gradients(spec, net, point)
        for p in net.parameters + net.inputs:  # gradients to the inputs too (saliency)
            form = direct(net, p)
            for ours in (float(evaluate(form.value, point)), float(evaluate(form.compared, point))):  # as printed, as compared
                worst = max(worst, relative_error(ours, theirs[p.name]))
            compared += 1
    print(f"torch cross-check (share {share}): {NETWORKS} networks, {compared} gradients, max relative error {worst:.2e}")
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


def _three_forms(net, leaf, point) -> list[float]:
    """dLoss/dleaf at ``point`` from each of derivchain's three forms (direct, path sum, backprop)."""
    from derivchain.verification.derivation import derive

    d = derive(net, leaf)
    assert d.verdict.equal
    return [float(evaluate(f.substituted, point)) for f in (d.direct, d.path_sum, d.backprop)]


def test_conv1d_against_torch_conv1d():
    """A shared kernel: derivchain's conv1d graph against torch.nn.functional.conv1d, written from the sizes alone."""
    from derivchain.model.builders import conv1d

    rng = random.Random(11)
    for length, kernel in ((5, 3), (7, 2), (6, 6)):
        net = conv1d(length, kernel, activation="tanh")
        x = [rng.uniform(-1, 1) for _ in range(length)]
        k = [rng.uniform(-1, 1) for _ in range(kernel)]
        c, ys = rng.uniform(-1, 1), [rng.uniform(-1, 1) for _ in range(length - kernel + 1)]
        tx = torch.tensor([[x]], dtype=torch.float64, requires_grad=True)
        tk = torch.tensor([[k]], dtype=torch.float64, requires_grad=True)
        tc = torch.tensor([c], dtype=torch.float64, requires_grad=True)
        out = torch.tanh(F.conv1d(tx, tk, tc))[0, 0]  # cross-correlation, as the graph: o_i = sum_j k_j x_(i+j-1)
        (((out - torch.tensor(ys, dtype=torch.float64)) ** 2) / 2).sum().backward()
        values = {f"x{i + 1}": v for i, v in enumerate(x)} | {f"k{j + 1}": v for j, v in enumerate(k)} | {"c": c}
        values |= {f"y{i + 1}": v for i, v in enumerate(ys)}
        point = {s: mpmath.mpf(values[s.name]) for s in net.leaves}
        theirs = {f"k{j + 1}": tk.grad[0, 0, j].item() for j in range(kernel)} | {"c": tc.grad[0].item()}
        theirs |= {f"x{i + 1}": tx.grad[0, 0, i].item() for i in range(length)}
        for name, g in theirs.items():
            for ours in _three_forms(net, name, point):
                assert relative_error(ours, g) < 1e-12, (length, kernel, name, ours, g)


def test_rnn_against_torch_rnncell():
    """Backprop through time: derivchain's unrolled RNN against torch.nn.RNNCell stepped by hand."""
    from derivchain.model.builders import rnn

    rng = random.Random(5)
    for steps, hidden in ((3, 1), (4, 2)):
        net = rnn(steps, hidden)
        cell = torch.nn.RNNCell(1, hidden, nonlinearity="tanh").double()
        head = torch.nn.Linear(hidden, 1).double()
        with torch.no_grad():
            for p in (cell.weight_ih, cell.weight_hh, cell.bias_ih, head.weight, head.bias):
                p.copy_(torch.empty_like(p).uniform_(-1, 1, generator=torch.Generator().manual_seed(rng.randint(0, 10**6))))
            cell.bias_hh.zero_()  # one bias per unit, as the graph's b
        xs = [rng.uniform(-1, 1) for _ in range(steps)]
        y = rng.uniform(-1, 1)
        h = torch.zeros(1, hidden, dtype=torch.float64)
        for x in xs:
            h = cell(torch.tensor([[x]], dtype=torch.float64), h)
        out = head(h)[0, 0]
        ((out - y) ** 2 / 2).backward()
        one = hidden == 1
        name = lambda base, *idx: base if one else base + "".join(f"_{i}" for i in idx)  # noqa: E731
        values = {f"x{t + 1}": v for t, v in enumerate(xs)} | {"Y": y, "c": head.bias.item()}
        theirs = {"c": head.bias.grad.item()}
        for j in range(hidden):
            values[name("W", j + 1)], theirs[name("W", j + 1)] = cell.weight_ih[j, 0].item(), cell.weight_ih.grad[j, 0].item()
            values[name("b", j + 1)], theirs[name("b", j + 1)] = cell.bias_ih[j].item(), cell.bias_ih.grad[j].item()
            values[name("V", j + 1)], theirs[name("V", j + 1)] = head.weight[0, j].item(), head.weight.grad[0, j].item()
            for k in range(hidden):
                values[name("U", j + 1, k + 1)] = cell.weight_hh[j, k].item()
                theirs[name("U", j + 1, k + 1)] = cell.weight_hh.grad[j, k].item()
        point = {s: mpmath.mpf(values[s.name]) for s in net.leaves}
        assert set(theirs) == {p.name for p in net.parameters}
        for leaf, g in theirs.items():
            for ours in _three_forms(net, leaf, point):
                assert relative_error(ours, g) < 1e-10, (steps, hidden, leaf, ours, g)
