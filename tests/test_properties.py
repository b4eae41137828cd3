"""Property tests: on random DAGs with random activations and losses, the three forms agree,
and agree with central finite differences at a random point."""

import mpmath
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from derivchain.model.activations import ACTIVATIONS
from derivchain.verification.derivation import derive
from derivchain.model.losses import LOSSES
from derivchain.model.network_file import build_network
from derivchain.symbolic.evaluate import central_difference, evaluate

ACTS = sorted(ACTIVATIONS) + ["leaky_relu:0.3", "x/(1+abs(x))"]
LOSS_NAMES = sorted(LOSSES) + ["(Out-Y)**4/4"]


@st.composite
def dags(draw):
    n_in = draw(st.integers(1, 3))
    n_neurons = draw(st.integers(1, 5))
    inputs = [f"X{i}" for i in range(1, n_in + 1)]
    nodes, neurons, w = list(inputs), [], 0
    for k in range(1, n_neurons + 1):
        sources = draw(st.lists(st.sampled_from(nodes), min_size=1, max_size=3, unique=True))
        edges = {}
        for s in sources:
            w += 1
            edges[s] = f"W{w}"
        neuron = {"name": f"N{k}", "inputs": edges, "activation": draw(st.sampled_from(ACTS))}
        if draw(st.booleans()):
            neuron["bias"] = f"B{k}"
        neurons.append(neuron)
        nodes.append(f"N{k}")
    used = {s for n in neurons for s in n["inputs"]}
    for x in inputs:  # every input must feed something
        if x not in used:
            w += 1
            neurons[-1]["inputs"][x] = f"W{w}"
    for n in neurons:  # a neuron nothing reads from is an output
        if n["name"] not in used or n is neurons[-1]:
            n["output"] = True
    loss = draw(st.sampled_from(LOSS_NAMES))
    outputs = [n for n in neurons if n.get("output")]
    if loss == "softmax" and len(outputs) < 2:
        loss = "half-squared"
    required = LOSSES[loss].output_activation if loss in LOSSES else None
    for n in outputs:
        if required:
            n["activation"] = required
    return {"inputs": inputs, "neurons": neurons, "loss": loss}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=dags(), seed=st.integers(0, 10**6))
def test_random_dags_three_forms_agree_with_finite_differences(spec, seed):
    net = build_network(spec, "random")
    symbols = sorted(net.loss_full.free_symbols, key=lambda s: s.name)
    point = {}
    for i, s in enumerate(symbols):
        # Deterministic per example; irrational offsets keep every sum off ReLU's kink at 0;
        # targets stay in (0, 1) for cross-entropy.
        with mpmath.workdps(60):
            v = mpmath.mpf(((seed * 7919 + i * 104729) % 2000) - 1000) / 700 + mpmath.sqrt(i + 2) / 1000
        point[s] = abs(v) % 1 if s.name.startswith("Y") else v
    for p in net.parameters:
        d = derive(net, p)
        assert d.verdict.equal, (spec, p, d.verdict)
        fd = central_difference(net.loss_full, p, point)
        for form in (d.direct.value, d.backprop.substituted, d.path_sum.substituted):
            value = evaluate(form, point)
            assert abs(value - fd) <= mpmath.mpf("1e-18") * max(1, abs(fd)), (spec, p, value, fd)
