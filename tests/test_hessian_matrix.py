"""The full Hessian at numbers (issue 24, parts 2 and 3): two computations agree, the split adds up, eigenvalues,
the Newton step, batches, H v by the R-operator."""

import json
import random
from fractions import Fraction

import mpmath
import pytest
from typer.testing import CliRunner

from derivchain import api
from derivchain.cli import app
from derivchain.model.values import check_batch, environment, value_of
from derivchain.verification.hessian import derive_hessian
from derivchain.verification.hessian_matrix import eigenvalues, full_hessian, solve

runner = CliRunner()


@pytest.fixture(autouse=True)
def precise():
    """The tests' own sums and differences at the numbers' precision (mpmath's default is 15 digits)."""
    with mpmath.workdps(60):
        yield


RELU_VALUES = {"X1": 1, "X2": 2, "Y": 1, "W1": Fraction(1, 2), "W2": Fraction(1, 4), "W3": -1, "W4": Fraction(1, 2), "W5": 2, "W6": 3}


def relu_net():
    return api.network(layers="2,2,1", activation="relu", loss="squared")


def rows(m, which="matrix"):
    return [[n.value for n in row] for row in getattr(m, which)]


def test_the_relu_matrix_and_its_split_by_hand():
    # Out = W5*relu(z1) + W6*relu(z2) at z1 = 1, z2 = 0 (relu' = 0 there), Out = 2, Y = 1.
    # J = dOut/dW = (W5*X1, W5*X2, 0, 0, H1, H2) = (2, 4, 0, 0, 1, 0); Gauss-Newton = 2 J J^T;
    # residual = 2*(Out - Y) * d2Out = 2 at (W1, W5) (d2Out/(dW1 dW5) = X1) and 4 at (W2, W5).
    net = relu_net()
    m = api.hessian(net, values=RELU_VALUES)
    J = [2, 4, 0, 0, 1, 0]
    assert rows(m, "gauss_newton") == [[2 * a * b for b in J] for a in J]
    residual = [[0] * 6 for _ in range(6)]
    residual[0][4] = residual[4][0] = 2
    residual[1][4] = residual[4][1] = 4
    assert rows(m, "residual") == residual
    assert rows(m) == [[g + r for g, r in zip(gr, rr)] for gr, rr in zip(rows(m, "gauss_newton"), residual)]
    assert m.exact and m.symmetric and m.agree and m.verified
    assert [g.value for g in m.gradient] == [4, 8, 0, 0, 2, 0]  # 2*(Out - Y)*J


def test_newton_step_on_chosen_parameters_solves_h_s_minus_g():
    net = relu_net()
    m = api.hessian(net, values=RELU_VALUES, params="W1,W5", newton=True)
    assert [p.name for p in m.parameters] == ["W1", "W5"]
    H = rows(m)
    assert H == [[8, 6], [6, 2]]
    s = [x.value for x in m.newton_step]
    g = [x.value for x in m.gradient]
    assert [sum(H[i][j] * s[j] for j in range(2)) for i in range(2)] == [-g[0], -g[1]]
    # Eigenvalues of [[8, 6], [6, 2]]: 5 -+ sqrt(45); indefinite, so the note says the step is not to a minimum.
    assert m.eigenvalues == pytest.approx((5 - 45**0.5, 5 + 45**0.5), rel=1e-12)
    assert "not positive definite" in m.newton_note
    singular = api.hessian(net, values=RELU_VALUES, newton=True)
    assert singular.newton_step is None and "singular" in singular.newton_note


def test_eigenvalues_and_solve_on_known_matrices():
    assert eigenvalues([[2, 1, 0], [1, 2, 1], [0, 1, 2]]) == pytest.approx((2 - 2**0.5, 2, 2 + 2**0.5), rel=1e-12)
    assert solve([[Fraction(2), Fraction(1)], [Fraction(1), Fraction(3)]], [Fraction(1), Fraction(2)], True, None) == [Fraction(1, 5), Fraction(3, 5)]
    assert solve([[Fraction(1), Fraction(2)], [Fraction(2), Fraction(4)]], [Fraction(1), Fraction(1)], True, None) is None


def random_values(net, seed):
    rng = random.Random(seed)
    values = {s.name: Fraction(rng.randint(-9, 9) or 1, 7) for s in net.leaves}
    for y in net.targets:
        values[y.name] = Fraction(rng.randint(1, 6), 7)
    return values


@pytest.mark.parametrize("spec", [dict(layers="2,3,1", activation="sigmoid", output_activation="sigmoid", loss="cross-entropy", bias=True),
                                  dict(layers="2,2,2", activation="tanh", loss="softmax"),
                                  dict(layers="2,2,1", activation="softplus", loss="half-squared", l2="1/10")],
                         ids=["cross-entropy", "softmax", "half-squared-l2"])
def test_every_entry_equals_the_symbolic_derivation_at_the_values(spec):
    net = api.network(**spec)
    values = random_values(net, 3)
    m = api.hessian(net, values=values)
    assert m.verified and not m.exact
    env, _ = environment(net, check_batch(net, values)[0], False)
    for i, p in enumerate(net.parameters):
        for j, q in enumerate(net.parameters[i:], start=i):
            if (i + j) % 3:
                continue  # a third of the entries: each a symbolic derivation of its own
            h = derive_hessian(net, p, q)
            symbolic = value_of(h.backprop.local, env, False).value
            assert abs(symbolic - m.matrix[i][j].value) <= mpmath.mpf(10) ** -35 * max(1, abs(symbolic)), (p, q)
    if m.split:  # with --l2, the regulariser's lambda*I is the third part
        reg = m.regulariser or [[0] * len(row) for row in m.matrix]
        assert all(abs(g.value + r.value + getattr(q, "value", q) - h_.value) <= mpmath.mpf(10) ** -35
                   for gr, rr, qr, hr in zip(m.gauss_newton, m.residual, reg, m.matrix) for g, r, q, h_ in zip(gr, rr, qr, hr))


def test_cross_entropy_splits_at_the_logits():
    # One sigmoid output, z = W1*X1 + B1 linear in the parameters: all curvature is p(1 - p) * dz dz^T, no residual.
    net = api.network(layers="1,1", output_activation="sigmoid", loss="cross-entropy", bias=True)
    m = api.hessian(net, values={"X1": Fraction(3, 2), "Y": 1, "W1": Fraction(1, 3), "B1": Fraction(-1, 4)})
    z = mpmath.mpf(1) / 2 - mpmath.mpf(1) / 4
    p = 1 / (1 + mpmath.exp(-z))
    x = mpmath.mpf(3) / 2
    expected = [[p * (1 - p) * x * x, p * (1 - p) * x], [p * (1 - p) * x, p * (1 - p)]]
    assert "diag(p(1 - p))" in m.split
    for got, want in zip(rows(m, "gauss_newton"), expected):
        assert all(abs(a - b) < mpmath.mpf(10) ** -40 for a, b in zip(got, want))
    assert all(abs(v) < mpmath.mpf(10) ** -40 for row in rows(m, "residual") for v in row)
    assert api.hessian(api.network(layers="2,1"), values={"X1": 1, "X2": 1, "Y": 0, "W1": 1, "W2": 1}).gauss_newton is None  # abs: no split


def test_a_batch_sum_is_m_times_its_mean():
    net = api.network(layers="2,2,1", activation="tanh", loss="half-squared")
    shared = {k: v for k, v in random_values(net, 5).items() if k.startswith("W")}
    values = {**shared, "samples": [{"X1": Fraction(1, 2), "X2": -1, "Y": Fraction(1, 3)}, {"X1": 2, "X2": Fraction(1, 5), "Y": -1}]}
    mean, total = api.hessian(net, values=values), api.hessian(net, values=values, reduction="sum")
    assert mean.samples == 2 and mean.verified and total.verified
    assert all(abs(2 * a.value - b.value) < mpmath.mpf(10) ** -40 for ra, rb in zip(mean.matrix, total.matrix) for a, b in zip(ra, rb))


def test_hessian_vector_product_by_the_r_operator_matches_the_matrix():
    net = api.network(layers="2,3,1", activation="sigmoid", loss="squared", bias=True)
    values = random_values(net, 9)
    m = api.hessian(net, values=values, direction="W1=1,W7=-1/2,B4=2")
    assert m.hvp_checked is True and m.verified
    v = {"W1": 1, "W7": Fraction(-1, 2), "B4": 2}
    for i, p in enumerate(net.parameters):
        expected = sum(m.matrix[i][j].value * v.get(q.name, 0) for j, q in enumerate(net.parameters))
        assert abs(m.hessian_vector_product[i].value - expected) < mpmath.mpf(10) ** -35


def test_cli_full_hessian_json_contract_and_errors(tmp_path):
    file = tmp_path / "v.json"
    file.write_text(json.dumps({k: float(v) for k, v in RELU_VALUES.items()}))
    base = ["hessian", "-l", "2,2,1", "-a", "relu", "--loss", "squared", "--values", str(file)]
    r = runner.invoke(app, base + ["-f", "json", "--newton", "--direction", "W1=1,W5=2"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    for key in ("parameters", "matrix", "gauss_newton", "residual", "symmetric", "eigenvalues", "newton_step", "hessian_vector_product"):
        assert key in out
    assert out["eigenvalues"] == sorted(out["eigenvalues"]) and out["symmetric"] is True
    assert out["hessian_vector_product"]["W1"] == 20.0 and out["newton_step"] is None
    assert "newton_step" not in json.loads(runner.invoke(app, base + ["-f", "json"]).output)
    for fmt in ("text", "markdown", "latex", "html"):
        r = runner.invoke(app, base + ["-f", fmt])
        assert r.exit_code == 0 and "W5" in r.output, fmt
    for extra in (["--direction", "W1"], ["--params", "X1"], ["--params", "Z9"]):
        r = runner.invoke(app, base + extra)
        assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1, (extra, r.output)
    r = runner.invoke(app, ["hessian", "W1", "W5", "--newton"])
    assert r.exit_code == 2 and "drop W1 W5" in r.output


def test_l2_is_its_own_part_and_the_three_parts_add_up(tmp_path):
    # --l2 adds lambda on each weight's diagonal: the regulariser's part, apart from the data loss's Gauss-Newton and
    # residual parts (those equal the unregularised network's); the three add up to the matrix.
    net, plain = api.network(layers="2,2,1", activation="relu", loss="squared", l2="1/10"), relu_net()
    m, m0 = api.hessian(net, values=RELU_VALUES), api.hessian(plain, values=RELU_VALUES)
    lam = Fraction(1, 10)
    assert rows(m, "regulariser") == [[lam if i == j else 0 for j in range(6)] for i in range(6)]
    assert rows(m, "residual") == rows(m0, "residual") and rows(m, "gauss_newton") == rows(m0, "gauss_newton")
    total = [[g + r + q for g, r, q in zip(*row)] for row in zip(rows(m, "gauss_newton"), rows(m, "residual"), rows(m, "regulariser"))]
    assert total == rows(m) and "lambda * I" in m.split
    assert m0.regulariser is None
    # Biases carry no L2: their diagonal entry of the regulariser is 0; cross-entropy's split at the logits as well.
    values = {"X1": Fraction(3, 2), "Y": 1, "W1": Fraction(1, 3), "B1": Fraction(-1, 4)}
    ce = api.network(layers="1,1", output_activation="sigmoid", loss="cross-entropy", bias=True, l2="1/2")
    c = api.hessian(ce, values=values)
    assert [p.name for p in c.parameters] == ["W1", "B1"] and rows(c, "regulariser") == [[Fraction(1, 2), 0], [0, 0]]
    assert all(abs(g + r + q - h) < mpmath.mpf(10) ** -40 for a, b, d, e in zip(rows(c, "gauss_newton"), rows(c, "residual"),
               rows(c, "regulariser"), rows(c)) for g, r, q, h in zip(a, b, d, e))
    path = tmp_path / "v.json"
    path.write_text(json.dumps({k: str(v) for k, v in RELU_VALUES.items()}))
    for extra, expected in ((["--l2", "1/10"], [[0.1 if i == j else 0 for j in range(6)] for i in range(6)]), ([], None)):
        out = runner.invoke(app, ["hessian", "--values", str(path), "--layers", "2,2,1", "--activation", "relu", "--loss",
                                  "squared", "--format", "json", *extra])
        assert out.exit_code == 0, out.output
        assert json.loads(out.output)["regulariser"] == expected
    out = runner.invoke(app, ["hessian", "--values", str(path), "--layers", "2,2,1", "--activation", "relu", "--loss", "squared",
                              "--l2", "1/10"])
    assert "L2 regulariser part" in out.output and "lambda * I" in out.output


def wide_values(net, seed=24):
    rng = random.Random(seed)
    return {s.name: Fraction(str(round(rng.uniform(-1, 1), 3))) for s in net.leaves}


def test_few_parameters_of_a_wide_network_in_seconds():
    # Each value was evaluated after converting the whole environment to mpmath numbers: 4-16-16-16-16-1 over
    # W1, W2 took 16 s from a values file (48-wide, 6 layers: past 200 s); now about 1 s.
    import signal

    net = api.network(layers="4,16,16,16,16,1", activation="sigmoid", loss="half-squared")
    values = wide_values(net)

    def late(*_):
        raise TimeoutError("the full Hessian over 2 parameters took more than 8 s")

    old = signal.signal(signal.SIGALRM, late)
    signal.alarm(8)
    try:
        m = api.hessian(net, values=values, params="W1,W2")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert m.verified
    env, _ = environment(net, check_batch(net, values)[0], False)
    symbolic = value_of(derive_hessian(net, "W1", "W2").backprop.local, env, False).value
    assert abs(symbolic - m.matrix[0][1].value) <= mpmath.mpf(10) ** -35 * abs(symbolic)


def test_the_work_limit_refuses_a_large_matrix_up_front_and_is_raisable(tmp_path):
    import time

    from derivchain import limits

    net = api.network(layers="4,16,16,16,16,1", activation="sigmoid", loss="half-squared")
    path = tmp_path / "v.json"
    path.write_text(json.dumps({k: str(v) for k, v in wide_values(net).items()}))
    start = time.perf_counter()
    r = runner.invoke(app, ["hessian", "--layers", "4,16,16,16,16,1", "--activation", "sigmoid", "--loss", "half-squared",
                            "--values", str(path), "--params", ",".join(f"W{i}" for i in range(1, 401))])
    # 400 parameters: (65 nodes + the loss) x 400^2 + 849 edges x 400 = 10,899,600 steps; it ran 80 s or more
    assert time.perf_counter() - start < 10
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1, r.output
    assert "--limit hessian_work=10899600" in r.output and "--params" in r.output
    small = api.network(layers="2,2,1", activation="tanh", loss="half-squared")
    sv = wide_values(small)
    with limits.raised(hessian_work=30):  # (3 nodes + the loss) x 2^2 + 7 edges x 2
        assert api.hessian(small, values=sv, params="W1,W2").verified
    with limits.raised(hessian_work=29), pytest.raises(Exception, match="hessian_work=30"):
        api.hessian(small, values=sv, params="W1,W2")


def test_h_v_on_a_network_too_large_for_the_whole_matrix_uses_the_block_of_v():
    # 848 parameters: the whole matrix is refused; H v needs none (before: refused, saying to use --direction)
    net = api.network(layers="4,16,16,16,16,1", activation="sigmoid", loss="half-squared")
    m = api.hessian(net, values=wide_values(net), direction="W1=1,W70=1/2")
    assert [p.name for p in m.parameters] == ["W1", "W70"] and m.hvp_checked is True
    assert len(m.hessian_vector_product) == 848


def test_eigenvalues_agree_with_mpmath_on_random_symmetric_matrices():
    rng = random.Random(5)
    for n in (1, 2, 3, 7, 30, 80):
        for case in range(3):
            a = [[0.0] * n for _ in range(n)]
            for i in range(n):
                for j in range(i, n):
                    a[i][j] = a[j][i] = rng.uniform(-1, 1) * (10 ** rng.randint(-4, 4) if case == 2 else 1)
            if case == 1 and n > 1:  # a repeated row and column: singular, a double eigenvalue structure
                for i in range(n):
                    a[i][0] = a[i][1]
                a[0] = list(a[1])
            ours = eigenvalues(a)
            theirs = sorted(float(x) for x in mpmath.eigsy(mpmath.matrix(a), eigvals_only=True))
            scale = max(abs(x) for x in theirs)
            assert max(abs(x - y) for x, y in zip(ours, theirs)) <= 1e-12 * scale, (n, case)


def test_a_matrix_wider_than_ten_columns_typesets_and_compiles(tmp_path):
    # amsmath's pmatrix stops at 10 columns: the 14-parameter Hessian's LaTeX stopped pdflatex
    import shutil
    import subprocess

    import derivchain as dc

    net = api.network(layers="2,3,2,1", activation="sigmoid", loss="squared")
    values = {s.name: Fraction(i + 1, 10) for i, s in enumerate([*net.inputs, *net.targets, *net.parameters])}
    tex = dc.render(api.hessian(net, values=values), "latex")
    assert "pmatrix" not in tex and r"\begin{array}{" + "c" * 14 + "}" in tex
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex not installed")
    doc = tmp_path / "h.tex"
    doc.write_text("\\documentclass{article}\\usepackage{amsmath,amssymb}\\begin{document}\n" + tex + "\n\\end{document}\n")
    done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", doc.name], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:]


def test_at_a_kink_the_full_hessian_prints_the_convention_note():
    # relu's input exactly 0 (W1 = W2 = 0): the numbers rest on relu'(0) = 0 and relu''(0) = 0; hessian P Q prints
    # that note, the full matrix printed none. Away from every kink it still prints none.
    kink = ["--activation", "relu", "--set", "W1=0", "--set", "W2=0", "--set", "X1=1", "--set", "X2=2", "--set", "Y=1"]
    kink += [x for i in range(3, 15) for x in ("--set", f"W{i}=1")]
    note = api.hessian(api.network(activation="relu"), "W1", "W7").notes
    relu = [n for n in note if n.startswith("relu''")]
    assert relu
    out = runner.invoke(app, ["hessian", *kink, "--params", "W1,W7"])
    assert out.exit_code == 0 and out.output.rstrip().endswith("Note: " + relu[0]), out.output
    assert json.loads(runner.invoke(app, ["hessian", *kink, "--params", "W1,W7", "-f", "json"]).output)["notes"] == relu
    away = [x if x != "W1=0" else "W1=1" for x in kink]
    out = runner.invoke(app, ["hessian", *away, "--params", "W1,W7", "-f", "json"])
    assert "notes" not in json.loads(out.output) and "Note:" not in runner.invoke(app, ["hessian", *away]).output
