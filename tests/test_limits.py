"""Limits and hostile input: every row of the README's "Limits and errors" table, and each class of
defect found by the hardening trial, pinned: one line, a meaningful exit code, nothing hangs."""

from __future__ import annotations

import json
import os

import pytest
from typer.testing import CliRunner

from derivchain import limits
from derivchain.cli import app
from derivchain.errors import DerivchainError, LimitError
from derivchain.renderers.export import compile_text, latex_engine
from derivchain.model.network_file import build_network, load_network
from derivchain.model.network import parse_layers
from derivchain.model.values import parse_assignments, read_values

runner = CliRunner()
NEEDS_TEX = pytest.mark.skipif(latex_engine() is None and not os.environ.get("CI"), reason="no LaTeX engine (CI installs one)")


def one_line_error(args, code=2):
    r = runner.invoke(app, args)
    assert r.exit_code == code, (args, r.output)
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert lines[-1].startswith("Error: ") and "Traceback" not in r.output, r.output
    return lines[-1]


@pytest.mark.parametrize("args, fragment", [
    (["grad", "W1", "--layers", ",".join(["2"] * 60)], "the number of layers is 60, more than the limit of 40"),
    (["grad", "W1", "--layers", "2,5000,1"], "width is 5000, more than the limit of 1000"),
    (["grad", "W1", "--layers", "1000,1000,1"], "the number of weights is 1001000, more than the limit of 20000"),
    (["grad", "W1", "--layers", "2,900,900,900,900,900,900,1"], "the number of neurons is 5401"),
    (["step", "--steps", "100000", "--set", "W1=1"], "--steps is 100000, more than the limit of 10000"),
    (["grad", "W1", "--set", "W1=1e999999999"], "decimal exponent is past +-1000"),
    (["grad", "W1", "--set", "W1=" + "1" * 150], "more than 100 (the value_digits limit"),
    (["grad", "W1", "--activation", "leaky_relu:1e999999999"], "decimal exponent is past +-1000"),
    (["step", "--set", "W1=1", "--lr", "1e999999999"], "decimal exponent is past +-1000"),
    (["grad", "W1", "--max-paths", "1000000"], "--max-paths 1000000: give a number from 0 to 100000"),
    (["grad", "W1", "--activation", "x+" * 300 + "x"], "at most 500 are allowed"),
    (["grad", "W1", "--activation", "x" * 600], "unknown activation 'xxxxxxxxxxxxxxxxxxxx..."),
    (["grad", "W1", "--limit", "file_bytes=5"], "the file_bytes limit cannot be raised"),
])
def test_each_limit_is_one_line(args, fragment):
    assert fragment in one_line_error(args)


def test_limits_can_be_raised():
    deep = ",".join(["1"] * 45)
    assert "more than the limit of 40" in one_line_error(["paths", "W1", "--layers", deep])
    r = runner.invoke(app, ["paths", "W1", "--layers", deep, "--limit", "layers=45"])
    assert r.exit_code == 0 and "1 path from W1" in r.output
    with limits.raised(width=5000, neurons=6000, parameters=20000):
        assert parse_layers("2,5000,1") == (2, 5000, 1)
    with pytest.raises(LimitError):
        parse_layers("2,5000,1")


def test_printing_limit_applies_to_every_format():
    args = ["grad", "W1", "--layers", "2,6,6,6,1", "--activation", "sigmoid", "--limit", "printed_nodes=200"]
    data = json.loads(runner.invoke(app, args + ["--format", "json"]).output)
    assert set(data["printed_in_neuron_symbols"]) | set(data["not_printed"]) >= {"direct", "path_sum", "backprop_substituted"}
    for key in data["not_printed"]:
        assert data[key] is None
    text = runner.invoke(app, args).output
    assert "not printed: more than 200 nodes written out" in text
    assert "not printed: more than 200 nodes" in runner.invoke(app, args + ["--format", "latex"]).output


def test_files_past_the_size_limit(tmp_path):
    big = tmp_path / "big.json"
    big.write_text("{" + " " * 1_100_000 + "}")
    with pytest.raises(DerivchainError, match="larger than 1000000 bytes"):
        read_values(big)
    with pytest.raises(DerivchainError, match="larger than 1000000 bytes"):
        load_network(big)
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 50_000 + "]" * 50_000)
    assert "Error:" in one_line_error(["grad", "W1", "--values", str(deep)])
    nested = tmp_path / "nested.json"
    nested.write_text('{"inputs": ' + "[" * 50_000 + "]" * 50_000 + "}")
    with pytest.raises(DerivchainError, match="nested too deeply"):
        load_network(nested)
    toml = tmp_path / "huge.toml"
    toml.write_text("W1 = " + "9" * 6000 + "\n")
    assert "Error:" in one_line_error(["grad", "W1", "--values", str(toml)])


@pytest.mark.parametrize("bad", ["W1\n", "W 1", "1W", "W1\x1b[31m", "", "Wé"])
def test_names_are_identifiers_matched_whole(bad):
    spec = {"inputs": ["X1"], "neurons": [{"name": "Out", "inputs": {"X1": bad}, "output": True}]}
    with pytest.raises(DerivchainError, match="must start with a letter") as info:
        build_network(spec)
    assert "\x1b" not in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("name", ["lambda", "exp", "sigmoid", "max"])
def test_names_that_would_not_read_back_are_refused(name):
    spec = {"inputs": ["X1"], "neurons": [{"name": "Out", "inputs": {"X1": name}, "output": True}]}
    with pytest.raises(DerivchainError, match="keyword or a function's name"):
        build_network(spec)


@NEEDS_TEX
def test_every_valid_name_compiles_in_latex(tmp_path):
    spec = {"name": "odd names", "inputs": ["x_", "X__a"], "targets": ["Y_1_2_3"], "loss": "squared",
            "neurons": [{"name": "H_", "inputs": {"x_": "W_", "X__a": "W__a"}, "activation": "tanh"},
                        {"name": "Out_1_2_3", "inputs": {"H_": "W_1_2_3"}, "output": True}]}
    path = tmp_path / "odd.json"
    path.write_text(json.dumps(spec))
    r = runner.invoke(app, ["export", "--network", str(path), "--out", str(tmp_path / "odd.tex"), "--pdf"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "odd.pdf").read_bytes().startswith(b"%PDF")


def test_free_text_is_escaped_for_where_it_goes(tmp_path):
    spec = {"name": "\\input{/etc/passwd} <script>alert(1)</script> \x1b[2J end", "inputs": ["X1"],
            "neurons": [{"name": "Out", "inputs": {"X1": "W1"}, "output": True}]}
    path = tmp_path / "evil.json"
    path.write_text(json.dumps(spec))
    tex = runner.invoke(app, ["export", "--network", str(path), "--out", str(tmp_path / "e.tex"), "--title", "\\input{/etc/passwd}"])
    assert tex.exit_code == 0, tex.output
    body = (tmp_path / "e.tex").read_text()
    assert "\\input{/etc/passwd}" not in body and "\\textbackslash{}input\\{/etc/passwd\\}" in body
    md = runner.invoke(app, ["export", "--network", str(path), "--out", str(tmp_path / "e.md"), "--title", "<b>x</b>"])
    assert md.exit_code == 0, md.output
    text = (tmp_path / "e.md").read_text()
    assert "<script>" not in text and "&lt;script&gt;" in text and "<b>" not in text
    terminal = runner.invoke(app, ["show", "--network", str(path)]).output
    assert "\x1b" not in terminal


@NEEDS_TEX
def test_a_crafted_document_cannot_read_system_files():
    doc = "\\documentclass{article}\\begin{document}\\input{/etc/passwd}\\end{document}"
    with pytest.raises(DerivchainError, match="could not compile"):
        compile_text(doc)


@pytest.mark.parametrize("activation, values", [
    ("log(x)", "X1=0 X2=0"), ("1/x", "X1=0 X2=0"), ("sqrt(x)", "X1=-1 X2=-1"),
])
def test_values_at_a_singular_point_are_one_line(activation, values):
    sets = [f"--set={v}" for v in values.split()] + [f"--set={n}=1" for n in ("W1", "W2", "W3", "W4", "W5", "W6")] + ["--set=Y=0"]
    message = one_line_error(["grad", "W1", "--layers", "2,2,1", "--activation", activation, *sets])
    assert "undefined" in message and "choose other values" in message


def test_numbers_past_a_double_are_null_in_json():
    args = ["grad", "W1", "--layers", "2,1", "--set", "X1=1e900", "--set", "X2=1", "--set", "W1=1e900", "--set", "W2=1",
            "--set", "Y=0", "--format", "json"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["at_values"]["loss"] is None and "e+1800" in data["at_values"]["text"]["loss"].lower() or data["at_values"]["text"]["loss"]


def test_assignments_and_unknown_keys():
    with pytest.raises(DerivchainError, match="write NAME=NUMBER"):
        parse_assignments(["W1"])
    with pytest.raises(DerivchainError, match="unknown key 'junk'"):
        build_network({"inputs": ["X1"], "junk": 1, "neurons": [{"name": "Out", "inputs": {"X1": "W1"}, "output": True}]})


def test_unexpected_errors_are_one_line_and_debug_shows_the_traceback(monkeypatch):
    monkeypatch.setattr("derivchain.api.grad", lambda *a, **k: 1 / 0)
    line = one_line_error(["grad", "W1"], code=3)
    assert "internal error (ZeroDivisionError" in line and "--debug" in line
    r = runner.invoke(app, ["grad", "W1", "--debug"])
    assert isinstance(r.exception, ZeroDivisionError)


def test_a_long_chain_in_a_file_is_refused_in_one_line(tmp_path):
    neurons = [{"name": f"H{i}", "inputs": {("X1" if i == 1 else f"H{i - 1}"): f"W{i}"}} for i in range(1, 60)]
    neurons[-1]["output"] = True
    path = tmp_path / "chain.json"
    path.write_text(json.dumps({"inputs": ["X1"], "neurons": neurons}))
    assert "the network's depth is 41, more than the limit of 40" in one_line_error(["grad", "W1", "--network", str(path)])
    r = runner.invoke(app, ["paths", "W1", "--network", str(path), "--limit", "layers=60"])
    assert r.exit_code == 0 and "1 path from W1" in r.output, r.output


@pytest.mark.parametrize("activation, values, why", [
    ("log(x)", "X1=-2 X2=0", "log(-2.0) is not a real number"),
    ("x**(1/2)", "X1=-2 X2=0", "(-2.0)**0.5 is not a real number: a negative base to a non-integer power"),
])
def test_an_undefined_value_says_which_and_why(activation, values, why):
    sets = [f"--set={v}" for v in values.split()] + [f"--set={n}=1" for n in ("W1", "W2", "W3", "W4", "W5", "W6")] + ["--set=Y=0"]
    message = one_line_error(["grad", "W1", "--layers", "2,2,1", "--activation", activation, *sets])
    assert why in message, message
