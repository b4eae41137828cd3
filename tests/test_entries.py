"""Each entry of a matrix leaf derived directly and checked against backpropagation (verification/entries.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import sympy as sp
from typer.testing import CliRunner

from derivchain import api, memo
from derivchain.cli import app
from derivchain.engines.backprop import backprop
from derivchain.engines.direct import direct, loss_masks
from derivchain.verification import entries
from derivchain.verification.matrix_chain import matrix_gradient
from derivchain.verification.modular import ModularEvaluator, seed_of

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
runner = CliRunner()


def test_forward_values_are_the_direct_trees_values():
    # The forward pass stands for the tree differentiate builds: at the same points, the same values.
    net = api.network(str(EXAMPLES / "attention.toml"))
    leaves = [s for s in net.leaves if s.name.startswith(("WQ[", "X["))]
    with memo.working_for(net):
        evaluator = ModularEvaluator(seed_of(net.loss_full))
        got, bad, degree = entries._forward(evaluator, net.loss_full, loss_masks(net), {p: net.parameter_index[p] for p in leaves})
        assert bad == 0 and degree[0] > 0
        for p in leaves:
            assert got[p] == evaluator(direct(net, p).compared)[0], p


def test_every_entry_checked_and_said():
    g = matrix_gradient(api.network(str(EXAMPLES / "attention.toml")), "WQ")
    assert g.entries.checked == 16 and g.entries.method == "random points mod p" and g.entries_verified
    r = runner.invoke(app, ["grad", "WQ", "--network", str(EXAMPLES / "attention.toml")])
    assert r.exit_code == 0 and "entries of dL/dWQ: direct = backprop for 16 entries [random points mod p]" in r.output
    r = runner.invoke(app, ["grad", "WQ", "--network", str(EXAMPLES / "attention.toml"), "--format", "json"])
    assert '"checked": 16' in r.output and '"failed": []' in r.output


def test_square_roots_go_to_the_verifier():
    # layer norm's sqrt is not a power the modular test takes: each entry is built and verify() decides.
    g = matrix_gradient(api.network(str(EXAMPLES / "layernorm.toml")), "gamma")
    assert g.entries.checked == 4 and g.entries.method == "numeric" and g.verified


def test_a_backprop_fault_in_one_entry_is_not_verified(monkeypatch):
    # A wrong local gradient for WQ[1,2] (its first use's factor doubled): caught by the direct derivation, named.
    def faulty(network, parameter):
        right = backprop(network, parameter)
        if parameter.name != "WQ[1,2]":
            return right
        wrong = 2 * right.local
        return dataclasses.replace(right, local=wrong, substituted=network.substitute(wrong))

    monkeypatch.setattr("derivchain.verification.matrix_chain.backprop", faulty)
    g = matrix_gradient(api.network(str(EXAMPLES / "attention.toml")), "WQ")
    assert not g.entries_verified and not g.verified
    assert [name for name, _ in g.entries.failed] == ["WQ[1,2]"] and g.entries.checked == 16
    r = runner.invoke(app, ["grad", "WQ", "--network", str(EXAMPLES / "attention.toml")])
    assert r.exit_code == 1 and "direct != backprop for WQ[1,2]" in r.output


def test_a_wrong_gradient_handed_in_is_caught_without_the_chain():
    net = api.network(str(EXAMPLES / "two_layer_batch.toml"))
    leaves = {s.name: s for s in net.leaves}
    with memo.working_for(net):
        gradients = {leaves[n]: backprop(net, leaves[n]).substituted for n in ("W1[0,0]", "W1[1,1]")}
        assert entries.check_entries(net, gradients).verified
        gradients[leaves["W1[1,1]"]] += sp.Rational(1, 10**30)  # a difference no float shows
        check = entries.check_entries(net, gradients)
    assert not check.verified and [n for n, _ in check.failed] == ["W1[1,1]"]
