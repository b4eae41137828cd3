import itertools

import pytest
import sympy as sp

from derivchain.model.network import dense, real
import derivchain.engines.paths as paths_module
from derivchain.engines.paths import count_paths, iter_paths, sum_over_paths
from derivchain.verification.compare import verify


def names(path):
    return [s.name for s in path.nodes]


def test_w7_has_one_path(net):
    ps = sum_over_paths(net, real("W7"))
    assert [names(p) for p in ps.paths] == [["W7", "H4", "Out", "Loss"]]
    path = ps.paths[0]
    assert [str(f) for f in path.factors] == ["dLoss/dOut", "dOut/dH4", "dH4/dW7"]
    assert [f.value for f in path.factors] == [sp.sign(real("Out") - real("Y")), real("W13"), real("H1")]
    assert ps.local == real("W13") * real("H1") * sp.sign(real("Out") - real("Y"))


def test_w1_has_two_paths_in_order(net):
    ps = sum_over_paths(net, real("W1"))
    assert [names(p) for p in ps.paths] == [
        ["W1", "H1", "H4", "Out", "Loss"],
        ["W1", "H1", "H5", "Out", "Loss"],
    ]
    W, s = lambda i: real(f"W{i}"), sp.sign(real("Out") - real("Y"))
    assert [f.value for f in ps.paths[0].factors] == [s, W(13), W(7), real("X1")]
    assert [f.value for f in ps.paths[1].factors] == [s, W(14), W(10), real("X1")]
    assert sp.expand(ps.local - (W(13) * W(7) + W(14) * W(10)) * real("X1") * s) == 0


def test_factors_chain(net):
    # Each factor's denominator is the next factor's numerator, ending at the parameter.
    for w in net.weights:
        for path in iter_paths(net, w):
            f = path.factors
            assert f[0].numerator.name == "Loss" and f[-1].denominator == w
            assert all(a.denominator == b.numerator for a, b in zip(f, f[1:]))
            assert [x.numerator for x in reversed(f)] == list(path.nodes[1:])


@pytest.mark.parametrize("layers", ["2,3,2,1", "3,4,4,2", "2,2,2,2,2,3", "1,5,1,5,1"])
def test_count_matches_enumeration(layers):
    n = dense(layers, bias=True)
    for p in n.parameters:
        assert count_paths(n, p) == sum(1 for _ in iter_paths(n, p))


def test_count_large_without_enumerating():
    n = dense("16,16,16,16,16,16,1")
    assert count_paths(n, n.weights[0]) == 16**4


def test_iteration_is_lazy():
    n = dense("4,40,40,40,40,1")
    first = list(itertools.islice(iter_paths(n, n.weights[0]), 3))
    assert len(first) == 3 and count_paths(n, n.weights[0]) == 40**3


@pytest.mark.parametrize("act", ["identity", "sigmoid", "tanh"])
def test_max_paths_limits_listing_only(act):
    n = dense("2,4,3,2", activation=act, bias=True, loss="half-squared")
    for p in n.parameters:
        listed = sum_over_paths(n, p, max_paths=10**6)
        capped = sum_over_paths(n, p, max_paths=2)
        assert listed.enumerated and capped.enumerated and capped.count == listed.count
        assert len(capped.paths) == min(2, listed.count) and capped.paths == listed.paths[: len(capped.paths)]
        assert capped.local == listed.local and capped.how == listed.how  # the same algorithm, the same sum


@pytest.mark.parametrize("act", ["identity", "sigmoid", "tanh"])
def test_past_the_enumeration_limit_the_sum_is_taken_by_suffix(act, monkeypatch):
    n = dense("2,4,3,2", activation=act, bias=True, loss="half-squared")
    every = {p: sum_over_paths(n, p) for p in n.parameters}
    monkeypatch.setattr(paths_module, "ENUMERATE_LIMIT", 2)
    for p in n.parameters:
        by_suffix = sum_over_paths(n, p, max_paths=10**6)
        assert by_suffix.enumerated == (by_suffix.count <= 2)
        assert ("accumulated by suffix" in by_suffix.how) == (by_suffix.count > 2)
        assert len(by_suffix.paths) == by_suffix.count  # still listed in full
        assert verify({"added up": every[p].substituted, "by suffix": by_suffix.substituted}).equal


def test_deterministic_order():
    a = [p.arrow() for p in iter_paths(dense("2,3,3,2"), real("W1"))]
    b = [p.arrow() for p in iter_paths(dense("2,3,3,2"), real("W1"))]
    assert a == b and a[0] == "W1 -> H1 -> H4 -> Out1 -> Loss" and a[-1] == "W1 -> H1 -> H6 -> Out2 -> Loss"


def test_suffix_sums_are_the_networks_copies_whatever_was_built_first():
    # A table verifies its delta equations (interned) before its rows: a suffix sum built after them that
    # is not the network's copy of its subtrees made SymPy's cache and every == of the rows compare equal
    # trees node by node (600 rows of 64-64-64-64-1: 1.6x slower).
    from derivchain import memo
    from derivchain.engines.backprop import delta_equations
    from derivchain.engines.paths import suffix_sums

    net = dense("16,16,16,16,1", activation="sigmoid", loss="half-squared")  # past SymPy's cache (smaller: its hits hide it)
    with memo.working_for(net):
        delta_equations(net)
        for s in suffix_sums(net).values():
            assert net.intern(s) is s
