"""Second derivatives (issue 24, part 1): d2Loss/(dP dQ) three ways, the pairs of paths, the R-operator, the CLI."""

import json
from fractions import Fraction
from itertools import combinations_with_replacement

import pytest
import sympy as sp
from typer.testing import CliRunner

from derivchain import api
from derivchain.cli import app
from derivchain.engines.curvature import activation_second, node_second
from derivchain.engines.hessian_paths import count_pairs, iter_pairs, sum_over_pairs
from derivchain.model.network import dense
from derivchain.model.values import environment, value_of
from derivchain.symbolic.functions import sigmoid
from derivchain.verification.compare import verify
from derivchain.verification.hessian import derive_hessian

runner = CliRunner()


def run(*args):
    return runner.invoke(app, list(args))


def relu_net():
    """2-2-1, ReLU hidden layer, linear output, squared loss: the network of the hand derivation."""
    return dense("2,2,1", activation="relu", loss="squared")


def s(net, name):
    return net.parameter(name)


def test_a_relu_entry_derived_by_hand():
    # Out = W5*relu(z1) + W6*relu(z2), z1 = W1*X1 + W2*X2, Loss = (Out - Y)**2.
    # dLoss/dW5 = 2*(Out - Y)*relu(z1); by W1: 2*(dOut/dW1)*relu(z1) + 2*(Out - Y)*relu'(z1)*X1
    # with dOut/dW1 = W5*relu'(z1)*X1 and relu'' = 0 (so no curvature term in H1):
    # d2Loss/(dW1 dW5) = 2*W5*X1*theta(z1)*relu(z1) + 2*(Out - Y)*X1*theta(z1).
    net = relu_net()
    X1, X2, Y, W1, W2, W3, W4, W5, W6 = (s(net, n) for n in ("X1", "X2", "Y", "W1", "W2", "W3", "W4", "W5", "W6"))
    z1, z2 = W1 * X1 + W2 * X2, W3 * X1 + W4 * X2
    out = W5 * sp.Max(z1, 0) + W6 * sp.Max(z2, 0)
    theta = sp.Heaviside(z1, 0)
    by_hand = 2 * W5 * X1 * theta * sp.Max(z1, 0) + 2 * (out - Y) * X1 * theta
    h = derive_hessian(net, "W1", "W5")
    assert h.verdict.equal
    for form in (h.direct.substituted, h.path_pairs.substituted, h.backprop.substituted):
        assert verify({"by hand": by_hand, "derived": form}).equal
    # The hand formula without its second term (the gradient arriving at Out times d2Out/(dH1 dW5)) is caught.
    assert not verify({"by hand": 2 * W5 * X1 * theta * sp.Max(z1, 0), "derived": h.direct.substituted}).equal
    # At numbers: z1 = 1, z2 = 0, Out = 2: 2*2*1*1*1 + 2*(2 - 1)*1*1 = 6.
    values = {"X1": 1, "X2": 2, "Y": 1, "W1": Fraction(1, 2), "W2": Fraction(1, 4), "W3": -1, "W4": Fraction(1, 2), "W5": 2, "W6": 3}
    at = api.hessian(net, "W1", "W5", values=values)
    assert at.direct.value == at.path_pairs.value == at.backprop.value == 6 and at.exact and at.agree
    # Two pairs: W1 -> H1 -> Out with W5 -> Out meeting at Out (H1 and W5: d2z/(dH1 dW5) = 1), and both
    # continuing to the loss (its curvature 2).
    assert [(p.meet.name, [x.name for x in p.first], [x.name for x in p.second]) for p in h.pairs] == [
        ("Out", ["W1", "H1", "Out"], ["W5", "Out"]), ("Loss", ["W1", "H1", "Out", "Loss"], ["W5", "Out", "Loss"])]
    assert any("relu''(u) = 0 away from u = 0" in n for n in h.notes)


def test_activation_second_derivatives_come_from_the_rules():
    z = sp.Symbol("z", real=True)
    for act, f in (("sigmoid", sigmoid(z)), ("tanh", sp.tanh(z)), ("softplus", sp.log(1 + sp.exp(z))), ("swish", z * sigmoid(z)),
                   ("exp", sp.exp(z)), ("square", z**2), ("x**3/3 + x", z**3 / 3 + z)):
        net = dense("1,1", output_activation=act, loss="squared")
        node = net.outputs[0]
        second = activation_second(node).xreplace({node.symbol: node.equation})
        expected = sp.diff(f, z, 2).xreplace({z: node.preactivation})
        assert verify({"rule": second, "sympy": sp.sympify(expected).rewrite(sp.exp)}).equal, act
    assert activation_second(dense("1,1", output_activation="relu", loss="squared").outputs[0]) == 0
    assert activation_second(dense("1,1", output_activation="leaky_relu", loss="squared").outputs[0]) == 0


NETWORKS = [
    dict(layers="2,3,1", activation="sigmoid", output_activation="sigmoid", loss="cross-entropy", bias=True),
    dict(layers="2,2,2", activation="tanh", loss="softmax"),
    dict(layers="2,2,1", activation="softplus", loss="half-squared", bias=True),
    dict(layers="1,2,2,1", activation="swish", loss="squared"),
    dict(layers="2,2,1", activation="elu", loss="abs"),
]


@pytest.mark.parametrize("spec", NETWORKS, ids=lambda spec: f"{spec['layers']}-{spec['activation']}-{spec['loss']}")
def test_three_forms_agree_on_dense_networks(spec):
    net = dense(**spec)
    for p, q in list(combinations_with_replacement(net.parameters, 2))[:8]:
        h = derive_hessian(net, p, q)
        assert h.verdict.equal, (p, q, h.verdict)


@pytest.mark.parametrize("path", ["examples/course_graph.toml", "examples/tied_autoencoder.toml", "examples/skip.toml",
                                  "examples/two_outputs.toml", "rnn:steps=3,hidden=2"])
def test_three_forms_agree_on_graphs(path):
    net = api.network(path)
    for p, q in list(combinations_with_replacement(net.parameters[:4], 2)):
        h = derive_hessian(net, p, q)
        assert h.verdict.equal, (p, q, h.verdict)


def test_l2_adds_lambda_on_the_diagonal_only():
    net = api.network(layers="2,2,1", loss="squared", l2="1/10")
    plain = dense("2,2,1", loss="squared")
    for p, q in (("W1", "W1"), ("W1", "W2")):
        h, h0 = derive_hessian(net, p, q), derive_hessian(plain, p, q)
        assert h.verdict.equal
        extra = sp.Rational(1, 10) if p == q else 0
        assert verify({"l2": h.direct.substituted, "plain + lambda": h0.direct.substituted + extra}).equal


def test_pairs_are_counted_without_listing_and_listed_within_the_bound():
    net = dense("2,3,3,1", activation="sigmoid", loss="squared")
    for p, q in (("W1", "W2"), ("W1", "W7"), ("W1", "W1"), ("W16", "W7")):
        P, Q = s(net, p), s(net, q)
        listed = list(iter_pairs(net, P, Q))
        assert count_pairs(net, P, Q) == len(listed)
        assert len(set((x.first, x.second) for x in listed)) == len(listed)  # no pair twice
        total = sum_over_pairs(net, P, Q, max_paths=3)
        assert len(total.pairs) == min(3, len(listed)) and total.count == len(listed)
        # The terms of the listed pairs add up to the sum (enumerated or grouped by meeting node).
        assert verify({"sum": total.substituted, "terms": net.substitute(sp.Add(*(x.term for x in listed)))}).equal


def test_a_large_pair_count_is_grouped_not_enumerated():
    net = dense("4,6,6,6,1", activation="sigmoid", loss="squared")
    h = derive_hessian(net, "W1", "W2", max_paths=5)
    assert h.pair_count > 1000 and len(h.pairs) == 5 and not h.path_pairs.enumerated
    assert "grouped by meeting node" in h.path_pairs.how and h.verdict.equal


def test_the_second_derivative_of_a_node_in_what_it_reads():
    net = dense("2,1,1", activation="sigmoid", loss="squared")
    h1, out = net.neurons
    W1, W3, H1 = s(net, "W1"), s(net, "W3"), h1.symbol
    # d2Out/(dH1 dW3) = f''*W3*H1 + f'*1 = 1 for an identity output; d2H1/dW1^2 = s(1 - s)(1 - 2s)*X1**2.
    assert node_second(net, out, H1, W3) == 1
    X1 = s(net, "X1")
    assert sp.simplify(node_second(net, h1, W1, W1) - H1 * (1 - H1) * (1 - 2 * H1) * X1**2) == 0


def test_cli_hessian_json_contract_and_formats(tmp_path):
    r = run("hessian", "W1", "W5", "-l", "2,2,1", "-a", "relu", "--loss", "squared", "-f", "json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    for key in ("parameters", "direct", "path_pairs", "backprop", "pairs", "pair_count", "equal", "method", "verdict"):
        assert key in out
    assert out["parameters"] == ["W1", "W5"] and out["pair_count"] == len(out["pairs"]) == 2 and out["equal"]
    assert set(out["pairs"][0]) == {"first", "second", "meet", "term"}
    values = tmp_path / "v.json"
    values.write_text(json.dumps({"X1": 1, "X2": 2, "Y": 1, "W1": 0.5, "W2": 0.25, "W3": -1, "W4": 0.5, "W5": 2, "W6": 3}))
    r = run("hessian", "W1", "W5", "-l", "2,2,1", "-a", "relu", "--loss", "squared", "-f", "json", "--values", str(values))
    at = json.loads(r.output)["at_values"]
    assert r.exit_code == 0 and at["direct"] == at["path_pairs"] == at["backprop"] == 6.0
    for fmt, needle in (("text", "Second-order backprop"), ("markdown", "## d2Loss/(dW1 dW5)"), ("latex", r"\begin{align*}"),
                        ("html", "<math")):
        r = run("hessian", "W1", "W5", "-l", "2,2,1", "-a", "relu", "--loss", "squared", "-f", fmt)
        assert r.exit_code == 0 and needle in r.output, (fmt, r.output[:300])
    r = run("hessian", "W1", "W1", "-l", "2,2,1", "-a", "sigmoid", "--loss", "squared")
    assert "d2Loss/dW1^2" in r.output and "R_delta_H1 = " in r.output


def test_cli_hessian_bad_input_is_one_line():
    for args in (("hessian", "W1"), ("hessian", "W1", "Z9"), ("hessian", "W1", "W2", "--max-paths", "-1")):
        r = run(*args)
        assert r.exit_code == 2, (args, r.output)
        assert len(r.output.strip().splitlines()) == 1 and "Traceback" not in r.output


def test_a_batch_has_no_value_for_a_second_derivative_in_an_input():
    net = dense("2,1", loss="half-squared")
    batch = {"W1": 1, "W2": 2, "samples": [{"X1": 1, "X2": 0, "Y": 1}, {"X1": 2, "X2": 1, "Y": 0}]}
    with pytest.raises(api.OptionsError, match="each sample has its own X1"):
        api.hessian(net, "W1", "X1", values=batch)
    mean = api.hessian(net, "W1", "W2", values=batch)
    assert mean.samples == 2 and mean.backprop.value == Fraction(1 * 0 + 2 * 1, 2)  # d2/(dW1 dW2) = X1*X2, averaged


def test_a_deep_narrow_entry_is_derived_in_seconds():
    # 4 wide, 10 hidden layers: the direct second derivative asked SymPy whether (1 + exp(-z))**-2's base is a
    # number at each power it differentiated, walking z's whole tree unshared: ~60 s here, past 10 minutes at 12
    # layers. The alarm stops the test long before that.
    import signal
    import time

    def stop(*_):
        raise TimeoutError("hessian W1 W3 on 4 wide, 10 hidden layers took more than 20 s")

    net = dense(",".join(["2"] + ["4"] * 10 + ["1"]), activation="sigmoid", loss="half-squared")
    old = signal.signal(signal.SIGALRM, stop)
    signal.alarm(20)
    try:
        start = time.perf_counter()
        h = derive_hessian(net, "W1", "W3", max_paths=5)
        took = time.perf_counter() - start
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert h.verdict.equal and took < 20


def test_a_power_of_a_sum_is_built_as_sympy_evaluates_it():
    from derivchain.symbolic.walk import _power

    x, y = sp.symbols("x y", real=True)
    for base in (x + y, -x - y, 2.0 * x + 4 * y, 1 + sp.exp(-x), sp.Add._from_args([x, -y], True), 0.5 - x):
        for e in (sp.Integer(-3), sp.Integer(2), sp.Integer(-1), sp.Rational(1, 2), sp.Integer(0), sp.Integer(1)):
            assert sp.srepr(_power(base, e)) == sp.srepr(base ** e)


def test_a_network_past_the_edges_limit_is_refused_up_front():
    import time

    from derivchain import limits
    from derivchain.errors import LimitError

    start = time.perf_counter()
    out = run("hessian", "W1", "W2", "--layers", "48,48,48,48,48,48,1", "--activation", "sigmoid")  # ~70 s if derived
    assert out.exit_code == 2 and time.perf_counter() - start < 20
    line = out.output.strip()
    assert "\n" not in line and "11569" in line and "--limit hessian_edges=11569" in line
    net = dense("2,2,1", activation="sigmoid", loss="squared")  # 6 edges and the loss's 1
    with limits.raised(hessian_edges=6):
        with pytest.raises(LimitError, match="hessian W1 W2: the number of edges is 7"):
            derive_hessian(net, "W1", "W2")
    with limits.raised(hessian_edges=7):
        assert derive_hessian(net, "W1", "W2").verdict.equal


def test_every_format_of_a_deep_entry_is_printed_in_seconds():
    # HTML printed each listed pair's term in full (a tree exponential in depth: past 2 minutes at 12 hidden layers);
    # now past the printed_nodes limit it says so, as text, Markdown and LaTeX do.
    import signal

    def stop(*_):
        raise TimeoutError("printing took more than 30 s")

    layers = ",".join(["2"] + ["4"] * 12 + ["1"])
    old = signal.signal(signal.SIGALRM, stop)
    signal.alarm(30)
    try:
        out = run("hessian", "W1", "W3", "--layers", layers, "--activation", "sigmoid", "--loss", "half-squared", "--format", "html")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert out.exit_code == 0, out.output
    assert "not printed: more than 20000 nodes" in out.output and "equal" in out.output


@pytest.mark.parametrize("options, p, q", [({}, "W1", "W13"), ({}, "W1", "W5"),
                                           ({"layers": "2,2,1", "activation": "sigmoid", "loss": "half-squared"}, "W1", "W5")])
def test_every_r_delta_symbol_printed_has_its_equation(options, p, q):
    # "R_delta_H5 = R_delta_Out*W14" was printed with no line for R_delta_Out (0: sign'' = 0)
    from derivchain import api

    h = api.hessian(api.network(**options), p, q)
    defined = {eq.lhs for eq in (*h.backprop.forward, *h.backprop.deltas)}
    used = set().union(*(eq.rhs.free_symbols for eq in (*h.backprop.forward, *h.backprop.deltas)), h.backprop.entry.free_symbols)
    assert {s for s in used if s.name.startswith("R_")} <= defined
    assert h.verdict.equal


def test_a_diagonal_partial_names_its_power_and_opposite_factors_cancel():
    # "d2Out/dW52" read as a weight W52 (the title writes dW5^2), "d2H4/dH12" as a neuron H12; and the sigmoid's
    # (1 - Out)**2 against the cross-entropy curvature's (Out - 1)**2 was printed uncancelled.
    net = ["--layers", "2,2,1", "--activation", "relu", "--loss", "cross-entropy", "--output-activation", "sigmoid"]
    out = CliRunner().invoke(app, ["hessian", "W5", "W5", *net])
    assert out.exit_code == 0, out.output
    assert "d2Out/dW5^2 * dLoss/dOut" in out.output and "d2Loss/dOut^2 =" in out.output and "dW52" not in out.output
    assert "(Out - 1)**2" not in out.output, out.output
    h = api.hessian(api.network(layers="2,2,1", activation="relu", loss="cross-entropy", output_activation="sigmoid"), "W5", "W5")
    Out = h.network.outputs[0].symbol
    for e in (h.path_pairs.local, h.backprop.local, *(eq.rhs for eq in h.backprop.deltas), *(p.term for p in h.pairs)):
        powers = [b for b in sp.preorder_traversal(e) if isinstance(b, sp.Pow) and b.base.is_Add]
        assert not any(sp.expand(a.base + b.base) == 0 for a in powers for b in powers), e  # no b**m * (-b)**n left
    assert h.verdict.equal and sp.simplify(h.path_pairs.local - h.backprop.local) == 0
    # a hidden node's curvature by one neuron twice, on a tanh network
    out = CliRunner().invoke(app, ["hessian", "W1", "W1", "--layers", "2,2,2,1", "--activation", "tanh", "--loss", "squared"])
    assert "d2H3/dH1^2" in out.output and "dH12" not in out.output and Out.name == "Out"


def test_cancel_opposites_combines_powers_of_opposite_sums_exactly():
    from derivchain.symbolic.build import cancel_opposites

    o, y, r = sp.symbols("Out Y R")
    for e in ((1 - o) ** 2 * (o**2 - y) / (o - 1) ** 2, r * (1 - o) / (o * (o - 1) ** 2), (1 - o) / (o - 1) ** 3,
              (o - y) * (y - o) ** 2, r * (o - 1) ** 3 * (1 - o) ** -2):
        c = cancel_opposites(e)
        sums = lambda x: [f.base if f.is_Pow else f for f in sp.Mul.make_args(x) if (f.base if f.is_Pow else f).is_Add]  # noqa: E731
        assert sp.simplify(c - e) == 0 and len(sums(c)) < len(sums(e)), (e, c)
    kept = sp.Mul(sp.Mul(r, y, evaluate=False), sp.sign(o - y), evaluate=False)
    assert cancel_opposites(kept) is kept  # nothing to combine: the very object, its order kept
