"""The full Hessian against torch.func.hessian in float64 (issue 24, part 4): random dense and graph networks.

Skipped without torch (the cross-check extra). The torch side is written from the network spec alone
(test_crosscheck's random specs and registry names), not from derivchain's SymPy."""

import os
import random
from fractions import Fraction

import pytest

from derivchain import api
from derivchain.model.network_file import build_network

if os.environ.get("CI"):
    import torch
else:
    torch = pytest.importorskip("torch")

from test_crosscheck import TORCH_ACTIVATIONS, TORCH_LOSSES, random_spec  # noqa: E402

#: Agreement asked of every entry, relative to the matrix's largest entry (the issue's 1e-12).
TOLERANCE = 1e-12


def torch_hessian(spec: dict, net, values: dict) -> list[list[float]]:
    """d2Loss/(dP dQ) by torch.func.hessian over the parameters in ``net.parameters`` order, float64."""
    names = [p.name for p in net.parameters]
    fixed = {k: torch.tensor(float(v), dtype=torch.float64) for k, v in values.items() if k not in names}

    def loss(theta):
        t = dict(fixed)
        t.update({n: theta[i] for i, n in enumerate(names)})
        out = dict(t)
        for n in spec["neurons"]:
            z = sum(out[src] * t[w] for src, w in n["inputs"].items())
            if "bias" in n:
                z = z + t[n["bias"]]
            out[n["name"]] = TORCH_ACTIVATIONS[n["activation"]](z)
        outs = torch.stack([out[o.name] for o in net.outputs])
        ys = torch.stack([t[y.name] for y in net.targets])
        return TORCH_LOSSES[spec["loss"]](outs, ys)

    theta = torch.tensor([float(values[n]) for n in names], dtype=torch.float64)
    return torch.func.hessian(loss)(theta).tolist()


def exact(x: float) -> Fraction:
    return Fraction(x)  # the double itself: both sides see the same numbers


def compare(ours, theirs) -> float:
    scale = max(1.0, max(abs(v) for row in theirs for v in row))
    return max(abs(float(a.value) - b) for ra, rb in zip(ours, theirs) for a, b in zip(ra, rb)) / scale


def test_torch_func_hessian_agrees_on_random_networks():
    rng = random.Random(20261207)
    worst, compared = 0.0, 0
    for index in range(40):
        spec = random_spec(rng, share=0.3 if index % 2 else 0.0)
        if spec["loss"] == "abs":
            spec["loss"] = "half-squared"  # |u|'' is 0 almost everywhere: compare where curvature exists
        net = build_network(spec, f"random-{index}")
        values = {s.name: exact(rng.uniform(0.05, 0.95) if s.name.startswith("Y") else rng.uniform(-1.5, 1.5)) for s in net.leaves}
        m = api.hessian(net, values=values)
        assert m.verified, (spec, m.detail)
        worst = max(worst, compare(m.matrix, torch_hessian(spec, net, values)))
        compared += len(m.parameters) ** 2
    print(f"torch.func.hessian cross-check: 40 networks, {compared} entries, max relative error {worst:.2e}")
    assert worst < TOLERANCE


def test_torch_func_hessian_agrees_on_a_dense_sigmoid_network_and_a_graph_file():
    rng = random.Random(3)
    dense = api.network(layers="3,4,2", activation="sigmoid", output_activation="sigmoid", loss="cross-entropy", bias=True)
    spec = {"neurons": [{"name": n.name, "inputs": {s.name: w.name for s, w in n.sources}, "activation": n.activation.name,
                         **({"bias": n.bias.name} if n.bias is not None else {})} for n in dense.neurons], "loss": "cross-entropy"}
    graph = api.network("examples/skip.toml")
    cases = [(dense, spec)]
    if all(hasattr(n, "sources") and n.sources for n in graph.neurons) and graph.loss.name in TORCH_LOSSES:
        gspec = {"neurons": [{"name": n.name, "inputs": {s.name: w.name for s, w in n.sources}, "activation": n.activation.name,
                              **({"bias": n.bias.name} if n.bias is not None else {})} for n in graph.neurons], "loss": graph.loss.name}
        cases.append((graph, gspec))
    for net, sp_ in cases:
        values = {s.name: exact(rng.uniform(0.1, 0.9) if s in net.targets else rng.uniform(-1, 1)) for s in net.leaves}
        m = api.hessian(net, values=values)
        assert m.verified
        assert compare(m.matrix, torch_hessian(sp_, net, values)) < TOLERANCE, net.summary()
    assert len(cases) == 2, "the graph file is compared too"
