"""Second derivatives on matrix graphs (issue 24 after issue 23): entries NAME[i,j] as parameters of hessian P Q,
a matrix's name for its entries in --params, entries in --direction, the squared error written as an expression
split like squared, and torch.func.hessian on the attention builder."""

import json
import os

import mpmath
import pytest
from typer.testing import CliRunner

from derivchain import api
from derivchain.cli import app
from derivchain.model.values import check_batch, environment, read_values, value_of

runner = CliRunner()

ATTENTION = "attention:tokens=2,dim=2"
#: The 2-token attention's numbers, each matrix a list of rows as grad takes them.
VALUES = {"X": [[0.1, -0.2], [0.4, 0.3]], "T": [[0.1, 0.0], [-0.1, 0.2]], "WQ": [[0.2, -0.1], [0.1, 0.15]],
          "WK": [[-0.1, 0.2], [0.25, -0.15]], "WV": [[0.3, 0.1], [-0.1, 0.2]]}


@pytest.fixture(autouse=True)
def precise():
    with mpmath.workdps(60):
        yield


def run(*args):
    return runner.invoke(app, list(args))


def values_file(tmp_path):
    path = tmp_path / "att.json"
    path.write_text(json.dumps(VALUES))
    return str(path)


def test_an_attention_entry_three_ways_equals_the_full_matrix_entry():
    net = api.network(ATTENTION)
    values = read_values_dict()
    entry = api.hessian(net, "WQ[0,0]", "WK[0,1]", values=values)
    assert entry.entry.verdict.equal and entry.agree
    assert entry.entry.pair_count == 80
    m = api.hessian(net, values=values)
    names = [p.name for p in m.parameters]
    i, j = names.index("WQ[0,0]"), names.index("WK[0,1]")
    # three symbolic forms at the values, and the matrix by the R-operator and by grouped pairs
    for number in (entry.direct, entry.path_pairs, entry.backprop):
        assert abs(number.value - m.matrix[i][j].value) <= mpmath.mpf(10) ** -35 * abs(m.matrix[i][j].value)
    assert m.verified and m.symmetric and len(names) == 12


def read_values_dict():
    """VALUES as a values file gives them (exact decimals, each matrix a list of rows)."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "att.json"
        path.write_text(json.dumps(VALUES))
        return read_values(path)


def test_every_attention_entry_equals_its_symbolic_derivation():
    net = api.network(ATTENTION)
    values = read_values_dict()
    m = api.hessian(net, values=values, params="WQ,WK")
    assert [p.name for p in m.parameters] == ["WQ[0,0]", "WQ[0,1]", "WQ[1,0]", "WQ[1,1]", "WK[0,0]", "WK[0,1]", "WK[1,0]", "WK[1,1]"]
    env, _ = environment(net, check_batch(net, values)[0], False)
    from derivchain.verification.hessian import derive_hessian

    for i in range(0, 8, 3):
        for j in range(i, 8, 2):
            h = derive_hessian(net, m.parameters[i], m.parameters[j])
            symbolic = value_of(h.backprop.local, env, False).value
            assert abs(symbolic - m.matrix[i][j].value) <= mpmath.mpf(10) ** -35 * max(1, abs(symbolic))


def test_the_squared_error_written_out_splits_as_squared():
    # sum((A - T)**2)/2 is half-squared in all but name: Gauss-Newton J^T J (d2Loss/dA2 = I) + residual adds up
    m = api.hessian(api.network(ATTENTION), values=read_values_dict())
    assert m.gauss_newton is not None and "Gauss-Newton" in m.split
    assert all(abs(g.value + r.value - h.value) <= mpmath.mpf(10) ** -40
               for gr, rr, hr in zip(m.gauss_newton, m.residual, m.matrix) for g, r, h in zip(gr, rr, hr))
    n = {p.name: i for i, p in enumerate(m.parameters)}
    # A is linear in WV: no residual between two WV entries
    assert all(m.residual[n[a]][n[b]].value == 0 for a in ("WV[0,0]", "WV[1,1]") for b in ("WV[0,1]", "WV[1,0]"))
    # a loss that is not quadratic in its outputs (the softmax classifier's cross-entropy) has no split
    classifier = api.network("examples/softmax_classifier.toml")
    values = read_values("examples/softmax_classifier_values.json")
    assert api.hessian(classifier, values=values, params="W[0,0],W[1,0]").gauss_newton is None


@pytest.mark.parametrize("source, params", [
    (dict(path="examples/layernorm.toml"), "gamma[0,1],beta[0,1]"),
    (dict(torch="examples/torch/autoencoder.py:build"), "enc.weight[0,0],enc.weight[0,1],dec_bias[0]")],
    ids=["graph-file", "torch"])
def test_l2_keeps_the_split_of_a_loss_written_out(source, params):
    # --l2's lambda/2 * sum w^2 reads every weight: the data loss's split was judged on the whole loss ("Split: none")
    values = read_values("examples/layernorm_values.json") if "path" in source else None
    plain = api.hessian(api.network(**source), values=values, params=params)
    m = api.hessian(api.network(**source, l2="1/10"), values=values, params=params)
    assert plain.gauss_newton is not None and m.gauss_newton is not None and "lambda * I" in m.split
    close = lambda a, b: abs(a.value - b.value) <= mpmath.mpf(10) ** -40  # noqa: E731
    assert all(close(a, b) for x, y in ((plain.gauss_newton, m.gauss_newton), (plain.residual, m.residual))
               for ra, rb in zip(x, y) for a, b in zip(ra, rb))
    # the three parts add up to H, lambda on a weight's diagonal (a bias: 0)
    assert all(abs(g.value + r.value + q.value - h.value) <= mpmath.mpf(10) ** -40 for gr, rr, qr, hr in
               zip(m.gauss_newton, m.residual, m.regulariser, m.matrix) for g, r, q, h in zip(gr, rr, qr, hr))
    weights = set(m.network.weights)
    assert [m.regulariser[i][i].value for i in range(len(m.parameters))] == [
        mpmath.mpf(1) / 10 if p in weights else 0 for p in m.parameters]


def test_cli_entries_on_a_graph_file_and_a_builder(tmp_path):
    r = run("hessian", "WQ[0,0]", "WK[0,1]", "--network", ATTENTION, "--format", "json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["parameters"] == ["WQ[0,0]", "WK[0,1]"] and data["equal"] and data["pair_count"] == 80
    assert all(p["first"][0] == "WQ[0,0]" and p["second"][0] == "WK[0,1]" for p in data["pairs"])
    r = run("hessian", "gamma[0,1]", "beta[0,1]", "--network", "examples/layernorm.toml", "--values", "examples/layernorm_values.json",
            "--format", "json")
    assert r.exit_code == 0, r.output
    at = json.loads(r.output)["at_values"]
    assert at["direct"] == at["path_pairs"] == at["backprop"] and float(at["direct"]) != 0


def test_cli_params_and_direction_name_entries_and_matrices(tmp_path):
    v = values_file(tmp_path)
    r = run("hessian", "--network", ATTENTION, "--values", v, "--params", "WQ[0,0],WK[1,1]", "--format", "json")
    assert r.exit_code == 0, r.output  # the comma inside an entry's name does not split the list
    assert json.loads(r.output)["parameters"] == ["WQ[0,0]", "WK[1,1]"]
    r = run("hessian", "--network", ATTENTION, "--values", v, "--params", "WV", "--format", "json")
    assert json.loads(r.output)["parameters"] == ["WV[0,0]", "WV[0,1]", "WV[1,0]", "WV[1,1]"]
    r = run("hessian", "--network", ATTENTION, "--values", v, "--direction", "WQ[0,0]=1,WK[1,1]=0.5", "--format", "json")
    assert r.exit_code == 0, r.output
    hv = json.loads(r.output)["hessian_vector_product"]
    full = json.loads(run("hessian", "--network", ATTENTION, "--values", v, "--format", "json").output)
    names = full["parameters"]
    row = names.index("WV[0,0]")
    expected = float(full["matrix"][row][names.index("WQ[0,0]")]) + 0.5 * float(full["matrix"][row][names.index("WK[1,1]")])
    assert abs(float(hv["WV[0,0]"]) - expected) < 1e-12 * max(1, abs(expected))


def test_cli_a_matrix_name_where_an_entry_is_needed_is_one_line():
    for args, words in ((["hessian", "WQ", "WK[0,0]"], ['"WQ[0,0]" "WQ[0,1]"', "--params WQ"]),
                        (["hessian", "--values", "examples/attention_values.json", "--params", "X"], ["a matrix of inputs"])):
        r = run(*args, "--network", "examples/attention.toml")
        assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1, r.output
        assert all(w in r.output for w in words), r.output


def test_torch_func_hessian_agrees_on_the_attention_builder():
    torch = pytest.importorskip("torch") if not os.environ.get("CI") else __import__("torch")
    net = api.network(ATTENTION)
    m = api.hessian(net, values=read_values_dict())
    names = [p.name for p in m.parameters]
    t = {k: torch.tensor(v, dtype=torch.float64) for k, v in VALUES.items()}

    def loss(theta):
        W = {k: theta[4 * i:4 * i + 4].reshape(2, 2) for i, k in enumerate(("WQ", "WK", "WV"))}
        Q, K, V = t["X"] @ W["WQ"], t["X"] @ W["WK"], t["X"] @ W["WV"]
        A = torch.softmax(Q @ K.T / 2 ** 0.5, dim=1) @ V
        return ((A - t["T"]) ** 2).sum() / 2

    assert names == [f"{k}[{i},{j}]" for k in ("WQ", "WK", "WV") for i in range(2) for j in range(2)]
    theta = torch.cat([t[k].reshape(-1) for k in ("WQ", "WK", "WV")])
    theirs = torch.func.hessian(loss)(theta).tolist()
    scale = max(abs(v) for row in theirs for v in row)
    assert max(abs(float(a.value) - b) for ra, rb in zip(m.matrix, theirs) for a, b in zip(ra, rb)) < 1e-12 * scale
    # the Gauss-Newton part is J^T J, J = dA/dtheta
    J = torch.func.jacrev(lambda th: (torch.softmax((t["X"] @ th[:4].reshape(2, 2)) @ (t["X"] @ th[4:8].reshape(2, 2)).T / 2 ** 0.5, dim=1)
                                      @ (t["X"] @ th[8:].reshape(2, 2))).reshape(-1))(theta)
    gn = (J.T @ J).tolist()
    assert max(abs(float(a.value) - b) for ra, rb in zip(m.gauss_newton, gn) for a, b in zip(ra, rb)) < 1e-12 * scale
