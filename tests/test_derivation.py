"""The three forms agree, and agree with central finite differences, on random dense networks."""

import random

import mpmath
import pytest
import sympy as sp

from derivchain.model.activations import ACTIVATIONS
from derivchain.verification.derivation import derive
from derivchain.model.losses import LOSSES
from derivchain.model.network import dense, real
from derivchain.symbolic.evaluate import central_difference, evaluate


def test_worked_example_w7(net):
    d = derive(net, "W7")
    s = sp.sign(real("Out") - real("Y"))
    assert d.path_count == 1
    assert d.path_sum.local == real("W13") * real("H1") * s
    assert d.verdict.equal and d.verdict.proof
    case_pos, case_neg = d.cases()
    assert case_pos.condition == "Out - Y > 0" and case_pos.value == real("W13") * real("H1")
    assert case_neg.value == -real("W13") * real("H1")


def test_worked_example_w1(net):
    d = derive(net, "W1")
    W = lambda i: real(f"W{i}")
    assert d.path_count == 2 and len(d.paths) == 2
    assert d.cases()[0].value == (W(13) * W(7) + W(14) * W(10)) * real("X1")
    assert d.verdict.equal and d.verdict.method == "expansion"


def test_every_default_weight_verifies(net):
    for w in net.weights:
        d = derive(net, w)
        assert d.verdict.equal and d.verdict.proof, (w, d.verdict)


def _random_point(symbols, rng):
    return {s: mpmath.mpf(rng.uniform(-1.5, 1.5)) for s in symbols}


CASES = [
    (layers, act, out_act, loss, bias)
    for layers, act, out_act, loss, bias in [
        ("2,3,2,1", "identity", "identity", "abs", False),
        ("2,3,2,1", "sigmoid", "identity", "abs", True),
        ("3,2,2", "tanh", "sigmoid", "squared", True),
        ("2,4,1", "relu", "identity", "half-squared", True),
        ("2,2,2,2,1", "sigmoid", "sigmoid", "half-squared", False),
        ("1,3,2", "tanh", "tanh", "abs", True),
        ("3,3,1", "relu", "relu", "squared", False),
        ("2,2,3,1", "identity", "sigmoid", "squared", True),
        ("2,3,1", "softplus", "identity", "squared", True),
        ("2,2,2", "leaky_relu", "identity", "half-squared", True),
        ("2,3,1", "leaky_relu:0.2", "leaky_relu", "abs", False),
        ("2,2,1", "elu", "tanh", "abs", True),
        ("2,3,2", "swish", "identity", "softmax", True),
        ("2,2,3", "tanh", "identity", "softmax", False),
        ("2,2,1", "exp", "sigmoid", "cross-entropy", False),
        ("3,2,2", "square", "sigmoid", "cross-entropy", True),
        ("2,2,1", "x/(1+abs(x))", "identity", "(Out-Y)**4/4", True),
    ]
]


def test_cases_cover_every_activation_and_loss():
    assert {c[1] for c in CASES} | {c[2] for c in CASES} >= set(ACTIVATIONS)
    assert {c[3] for c in CASES} >= set(LOSSES)


@pytest.mark.parametrize("layers, act, out_act, loss, bias", CASES)
def test_three_forms_agree_and_match_finite_differences(layers, act, out_act, loss, bias):
    n = dense(layers, activation=act, output_activation=out_act, loss=loss, bias=bias)
    rng = random.Random(f"{layers}{act}{out_act}{loss}{bias}")
    symbols = sorted(n.loss_full.free_symbols, key=lambda s: s.name)
    point = _random_point(symbols, rng)
    for p in n.parameters:
        d = derive(n, p)
        assert d.verdict.equal, d.verdict
        fd = central_difference(n.loss_full, p, point)
        for form in (d.direct.value, d.path_sum.substituted, d.backprop.substituted):
            value = evaluate(form, point)
            assert abs(value - fd) <= mpmath.mpf("1e-20") * max(1, abs(fd)), (p, value, fd)


def test_derivation_latex_for_notebooks(net):
    # IPython asks a result for its _repr_latex_ and _repr_html_.
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    data, _ = shell.display_formatter.format(derive(net, "W1"))
    assert "<math" in data["text/html"] and "<script" not in data["text/html"]
    text = data["text/latex"]
    assert text.startswith("$$\\begin{aligned}") and text.endswith("\\end{aligned}$$")
    assert r"\frac{\partial \mathrm{Loss}}{\partial W_{1}}" in text


def test_public_names_are_the_functions_even_after_their_modules_load():
    # A submodule named like the function it exports would shadow it once imported.
    import derivchain as dc
    import derivchain.engines.backprop  # noqa: F401
    import derivchain.engines.direct  # noqa: F401
    import derivchain.verification.compare  # noqa: F401

    import derivchain.renderers  # noqa: F401
    import derivchain.verification  # noqa: F401

    for name in ("verify", "derive", "render", "emit", "dense", "descend", "load_network", "read_values"):
        assert callable(getattr(dc, name)) and not isinstance(getattr(dc, name), type(dc)), name


def test_a_deep_neurons_weights_share_its_direct_dloss_dz(monkeypatch):
    # Every weight into one neuron compares dz/dw * dLoss/dz, the second factor one object per
    # neuron (not one derivative per weight); the weight's own derivative is still what is printed,
    # and all three forms are verified for each weight.
    import derivchain.engines.direct as dd
    from derivchain.model.network import dense

    net = dense("3,3,3,3,1", activation="sigmoid", loss="half-squared")
    monkeypatch.setattr(dd, "SHARED_ABOVE", 0)
    first = [w for w in net.weights if net.edges[w][1] is net.hidden[0]]
    forms = [dd.direct(net, w) for w in first]
    assert len(first) == 3 and len({id(f.compared.args[-1]) for f in forms}) == 1
    for w, f in zip(first, forms):
        assert f.compared.args[0] == net.substitute(net.edges[w][0])  # dz/dw: the weight's source
        d = derive(net, w)
        assert d.verdict.equal and d.checked and d.direct.compared is not d.direct.value


def test_swish_reads_z_twice_and_its_direct_form_is_still_exact(monkeypatch):
    # swish(z) = z*sigmoid(z) reads z twice: dLoss/dw = dz/dw * dLoss/dz only where every occurrence of
    # w in the substituted loss is inside the node z (checked); either way the form equals the
    # derivative taken with respect to w itself, and the derivation verifies.
    import derivchain.engines.direct as dd
    from derivchain.model.network import dense
    from derivchain.verification.compare import verify

    net = dense("2,2,1", activation="swish", loss="half-squared")
    monkeypatch.setattr(dd, "SHARED_ABOVE", 0)
    for w in net.weights[:4]:
        form = dd.direct(net, w)
        if form.compared is not form.value:
            assert verify({"per neuron": form.compared, "per weight": form.value}).equal
        d = derive(net, w)
        assert d.verdict.equal and d.checked


def test_a_shared_direct_form_keeps_the_verdict_and_can_only_tighten_its_bound():
    # Where a neuron's dLoss/dz is shared (a deep network), the direct form compared is dz/dw *
    # dLoss/dz. The verdict's method and word are those of the per-weight derivative; the
    # false-agreement bound it prints comes from the compared form's degree, which can be lower:
    # grad W17 on a 13-layer network now says "below 1e-46" where it said "below 1e-45".
    import re

    from derivchain.model.network import dense
    from derivchain.verification.compare import verify

    net = dense("4,4,4,4,4,4,4,4,4,4,4,4,4,1", activation="sigmoid", loss="half-squared")
    exponent = lambda v: int(re.search(r"below 1e-(\d+)", v.detail).group(1))  # noqa: E731
    for w in ("W1", "W17"):
        d = derive(net, w)
        assert d.direct.compared is not d.direct.value
        per_weight = verify({"direct": d.direct.value, "path sum": d.path_sum.substituted, "backprop": d.backprop.substituted})
        assert (d.verdict.word, d.verdict.method) == (per_weight.word, per_weight.method) == ("equal", "random points mod p")
        assert exponent(d.verdict) >= exponent(per_weight)


def test_a_shared_direct_form_is_printed_from_its_two_verified_factors(monkeypatch):
    # Where dLoss/dz is shared (wide networks), the direct form printed in neuron symbols is
    # (dz/dw) * (dLoss/dz) compacted, dLoss/dz once per neuron: it equals the per-weight derivative
    # compacted (the form printed before), and each factor is checked, so a wrong one is caught.
    import derivchain.renderers.shown as dv
    import derivchain.engines.direct as dd
    from derivchain.model.network import dense
    from derivchain.renderers.shown import checked, shown

    monkeypatch.setattr(dd, "SHARED_ABOVE", 0)
    monkeypatch.setattr(dv, "SHOW_FULL_NODES", 10)  # the compact form on a network small enough to expand
    net = dense("2,3,3,1", activation="tanh", loss="half-squared")
    rows = [d for d in (derive(net, p) for p in net.parameters) if shown(d)._per_neuron is not None]
    assert len(rows) >= 6
    for d in rows:
        old = net.compact_canonical(d.direct.value)
        assert sp.expand(net.substitute(shown(d).direct_shown) - net.substitute(old)) == 0, d
        assert checked(d) and shown(d).direct_check.equal
    compact = dv._neuron_compact
    monkeypatch.setattr(dv, "_neuron_compact", lambda n, outer, bit: compact(n, outer, bit) + 1)
    fresh = dense("2,3,3,1", activation="tanh", loss="half-squared")  # nothing checked yet
    d = derive(fresh, rows[0].parameter)
    assert not checked(d) and not shown(d).direct_check.equal


def _walk_only_through(loss, masks, z, bit, own):
    # The walk each neuron once took (kept here as the oracle): every occurrence of the leaves in ``own``
    # lies inside the node z when no walk from the loss reaches one of them without passing through z.
    if not masks[loss] & bit:
        return False
    seen, stack = set(), [loss]
    while stack:
        e = stack.pop()
        if e is z or id(e) in seen:
            continue
        seen.add(id(e))
        for a in e.args:
            if masks[a] & bit:
                stack.append(a)
            elif masks[a] & own:
                return False
    return True


def _file(path):
    from derivchain.model.network_file import load_network

    return lambda: load_network(path)


@pytest.mark.parametrize("build", [
    lambda: dense("3,4,4,1", activation="sigmoid", loss="half-squared"),
    lambda: dense("2,2,1", activation="swish", loss="half-squared"),
    _file("examples/tied_autoencoder.toml"),  # W1_1 read by h1 and by r1; x1 by h1 and by the loss
    lambda: __import__("derivchain.model.builders", fromlist=["build"]).build("rnn:steps=3,hidden=2"),
])
def test_which_neurons_weights_reach_the_loss_only_through_z_is_found_in_one_pass(build):
    # The dominator tree (one pass over the loss) answers as the walk above each neuron's z did, for each
    # neuron's own parameters and for every leaf its z reads (many of which reach the loss outside z too).
    import derivchain.engines.direct as dd
    from derivchain import memo

    net = build()
    leaves = (1 << len(net.leaves)) - 1
    found = set()
    with memo.working_for(net):
        masks, nodes = dd._masks(net)
        own = dd._own_bits(net)
        for reads in (lambda n, z: own.get(n, 0), lambda n, z: masks[z] & leaves):
            answers = {n: dd._only_through(net, z, reads(n, z)) for n, (z, bit) in nodes.items()}
            assert answers == {n: _walk_only_through(net.loss_full, masks, z, bit, reads(n, z)) for n, (z, bit) in nodes.items()}
            found |= set(answers.values())
    assert found == {True, False}


@pytest.mark.parametrize("neurons", [
    # Two neurons with the same z (W1*X1 into exp and into identity): one node of the substituted loss.
    [{"name": "N1", "inputs": {"X1": "W1"}, "activation": "exp", "output": True},
     {"name": "N2", "inputs": {"X1": "W1"}, "activation": "identity", "output": True}],
    # A neuron that reads W1 on two edges, and another neuron that reads it too.
    [{"name": "N1", "inputs": {"X1": "W1", "X2": "W1"}, "activation": "tanh", "output": True},
     {"name": "N2", "inputs": {"X1": "W1", "X2": "W2"}, "activation": "sigmoid", "output": True}],
])
def test_a_weight_read_by_several_neurons_shares_their_dloss_dz_exactly(neurons, monkeypatch):
    # A parameter read by several neurons' z's alone compares the sum over its distinct z's of dz/dw * dLoss/dz
    # (a traced model's weights); a z shared by two neurons is counted once (it was counted twice when first
    # written: tests/test_crosscheck.py's random networks caught it), and a neuron reading the weight on two
    # edges has both terms in its dz/dw.
    import derivchain.engines.direct as dd
    from derivchain.model.network_file import build_network
    from derivchain.verification.compare import verify

    monkeypatch.setattr(dd, "SHARED_ABOVE", 0)
    inputs = sorted({x for n in neurons for x in n["inputs"]})
    net = build_network({"inputs": inputs, "neurons": neurons, "loss": "squared"}, "shared")
    w = net.parameter("W1")
    form = dd.direct(net, w)
    assert form.compared is not form.value  # the shared form, not the per-weight derivative
    assert verify({"per weight": form.value, "shared": form.compared}).equal
    assert derive(net, w).verdict.equal
