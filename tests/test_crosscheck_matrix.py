"""The matrix-graph examples against PyTorch float64 autograd (issue 23): each example file at its values
file, its loss and the gradient of its parameters' entries (and an input's), as derived and verified by
derivchain, equal torch's to 12 digits. Skipped cleanly when torch is absent, as the other cross-checks.

The torch side is each example written again in torch's own operations (``@``, ``softmax``, ``mean``),
not read from the file, so it is an independent implementation of the same graph.
"""

import json
import os
from pathlib import Path

import pytest

from derivchain import api

if os.environ.get("CI"):
    import torch
else:
    torch = pytest.importorskip("torch")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
EPS = 1e-5


def _attention(t):
    q, k, v = t["X"] @ t["WQ"], t["X"] @ t["WK"], t["X"] @ t["WV"]
    a = torch.softmax(q @ k.T / 2, dim=1) @ v
    return ((a - t["T"]) ** 2).sum() / 2


def _layernorm(t):
    x = t["X"]
    y = torch.nn.functional.layer_norm(x, (x.shape[1],), eps=EPS) * t["gamma"] + t["beta"]
    return ((y - t["T"]) ** 2).sum() / 2


def _batchnorm(t):
    x = t["X"]
    y = torch.nn.functional.batch_norm(x, None, None, training=True, eps=EPS) * t["gamma"] + t["beta"]
    return ((y - t["T"]) ** 2).sum() / 2


def _classifier(t):
    z = t["X"] @ t["W"] + t["b"]
    return torch.nn.functional.cross_entropy(z, t["Y"].argmax(dim=1))  # the batch mean


def _two_layer(t):
    h = torch.sigmoid(t["W1"] @ t["X"] + t["b1"])
    out = t["W2"] @ h + t["b2"]
    return torch.nn.functional.mse_loss(out, t["Y"]) / 2


CASES = {
    "attention": (_attention, ["WQ[0,0]", "WQ[3,1]", "WK[1,2]", "WK[2,0]", "WV[0,3]", "WV[3,3]", "X[1,2]"]),
    "layernorm": (_layernorm, None),
    "batchnorm": (_batchnorm, None),
    "softmax_classifier": (_classifier, None),
    "two_layer_batch": (_two_layer, None),
}


@pytest.mark.parametrize("example", CASES)
def test_matrix_example_matches_torch(example):
    forward, names = CASES[example]
    net = api.network(str(EXAMPLES / f"{example}.toml"))
    values = api.given_values(str(EXAMPLES / f"{example}_values.json"))
    raw = json.loads((EXAMPLES / f"{example}_values.json").read_text())
    tensors = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in raw.items()}
    loss = forward(tensors)
    loss.backward()
    names = names or [p.name for p in net.parameters] + [net.inputs[0].name]
    for name in names:
        at = api.grad(net, name, values=values, max_paths=0)
        assert api.verified(at), name
        matrix, index = name[:-1].split("[")
        i, j = map(int, index.split(","))
        want = tensors[matrix].grad[i, j].item()
        assert float(at.loss) == pytest.approx(loss.item(), rel=1e-12, abs=1e-15), name
        for form in (at.path_sum, at.backprop, at.direct):
            assert float(form) == pytest.approx(want, rel=1e-10, abs=1e-13), (example, name)


@pytest.mark.parametrize("example, leaf", [("attention", "WQ"), ("attention", "X"), ("layernorm", "gamma"),
                                           ("batchnorm", "X"), ("softmax_classifier", "W"), ("two_layer_batch", "b1")])
def test_matrix_form_at_values_matches_torch(example, leaf):
    forward, _ = CASES[example]
    net = api.network(str(EXAMPLES / f"{example}.toml"))
    raw = json.loads((EXAMPLES / f"{example}_values.json").read_text())
    tensors = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in raw.items()}
    forward(tensors).backward()
    g = api.grad(net, leaf, values=api.given_values(str(EXAMPLES / f"{example}_values.json")))
    assert api.verified(g)
    want = tensors[leaf].grad.tolist()
    got = [[float(n) for n in row] for row in g.at_values]
    assert len(got) == len(want) and all(row == pytest.approx(w, rel=1e-10, abs=1e-13) for row, w in zip(got, want))
