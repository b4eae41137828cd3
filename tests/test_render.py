"""The render layer: every command honours every format, textbook forms, no wrapping inside expressions,
and each defect found by the new-user trial of the render-layer issue, pinned."""

from __future__ import annotations

import json
import re
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest
from typer.testing import CliRunner

import derivchain as dc
from derivchain.cli import app
from derivchain.engines.forms import Form
from derivchain.renderers import Format, render, wrap_terms

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
VALUES = ROOT / "examples" / "published_step_values.json"
PUBLISHED = ["--layers", "2,2,2", "--activation", "sigmoid", "--output-activation", "sigmoid", "--loss", "half-squared", "--bias"]
RICH_BOX = set("│─╭╮╰╯┃━┏┓┗┛")


def run(*args):
    return runner.invoke(app, list(args))


# --- the bracket that was lost ------------------------------------------------------------------
def test_published_w5_keeps_the_brackets_of_dloss_dout():
    out = run("grad", "W5", *PUBLISHED).output
    assert "delta_Out1 = Out1*(1 - Out1)*(Out1 - Y1)" in out
    assert "Out1*(1 - Out1)*Out1 - Y1" not in out
    formula = run("formula", "W5", *PUBLISHED).output
    assert "delta_Out1 = Out1*(1 - Out1)*(Out1 - Y1)" in formula and "*Out1 - Y1" not in formula
    tex = run("formula", "W5", *PUBLISHED, "--format", "latex").output
    assert r"\left(1 - \mathrm{Out}_{1}\right) \left(\mathrm{Out}_{1} - Y_{1}\right)" in tex


def test_a_product_of_sums_keeps_its_brackets_in_every_format():
    net = dc.dense("2,2,1", activation="sigmoid", output_activation="sigmoid", loss="half-squared")
    d = dc.derive(net, "W1")
    assert "H1*(1 - H1)*W5*(Out*(1 - Out)*(Out - Y))" not in render(d, "text")
    data = json.loads(render(d, "json"))
    assert [x["rhs"] for x in data["deltas"]] == ["Out*(1 - Out)*(Out - Y)", "H1*(1 - H1)*W5*delta_Out"]


# --- textbook forms ------------------------------------------------------------------------------
def test_sigmoid_and_cross_entropy_give_out_minus_y_and_say_why():
    out = run("grad", "W3", "--layers", "2,2,1", "--activation", "sigmoid", "--output-activation", "sigmoid",
              "--loss", "cross-entropy").output
    assert "delta_Out = Out*(1 - Out)*((Out - Y)/(Out*(1 - Out))) = Out - Y" in out
    assert "(sigmoid + cross-entropy: the sigmoid's Out*(1 - Out) cancels the loss's denominator)" in out
    assert "Backpropagation: dLoss/dW3 = X1*delta_H2 = H2*(1 - H2)*W6*X1*(Out - Y)" in out


def test_softmax_cross_entropy_gives_softmax_minus_y_for_one_hot_targets():
    d = dc.derive(dc.dense("2,2,2", activation="sigmoid", loss="softmax"), "W5")
    cond = d.conditional(d.backprop.deltas[0].delta)
    assert cond is not None and cond.verdict.equal
    assert "where Y1 + Y2 = 1 (one-hot targets): delta_Out1 = exp(Out1)/(exp(Out1) + exp(Out2)) - Y1" in render(d, "text")


def test_squared_loss_is_two_times_the_error():
    out = run("grad", "W5", "--layers", "2,2,1", "--loss", "squared").output
    assert "delta_Out = 2*(Out - Y)" in out and "2*Out - 2*Y" not in out


def test_the_activation_derivative_sits_beside_its_factor():
    d = dc.derive(dc.dense("2,3,2,1", activation="sigmoid", loss="half-squared"), "W1")
    text = render(d, "text")
    assert "H4*(1 - H4)*W7" in text and "H4*W7*(1 - H4)" not in text
    assert r"H_{4} \left(1 - H_{4}\right) W_{7}" in render(d, "latex")


def test_a_negative_product_keeps_the_activation_derivative_together():
    # The case Out - Y < 0 negates the product: the sign goes in front, H1*(1 - H1) stays one piece.
    net = dc.dense("2,2,1", activation="sigmoid")
    d = dc.derive(net, "W1")
    negative = d.cases()[1].value
    assert dc.render(negative) == "-H1*(1 - H1)*W5*X1"
    assert dc.render(negative, "latex", net) == r"-H_{1} \left(1 - H_{1}\right) W_{5} X_{1}"
    # A number stays in front of the pair: 2*Out*(1 - Out)*X1, not Out*(1 - Out)*2*X1.
    out = run("grad", "W1", "--layers", "2,1", "--output-activation", "sigmoid", "--loss", "squared").output
    assert "Backpropagation: dLoss/dW1 = X1*delta_Out = 2*Out*(1 - Out)*X1*(Out - Y)" in out


def test_the_step_that_applies_the_sigmoid_names_its_rule():
    s = dc.api.steps(dc.dense("2,2,1", activation="sigmoid", loss="half-squared"), "W1")
    assert any("sigmoid: s' = s(1 - s)" in st.reason for st in s.steps)
    assert s.verified


# --- every format does what it says ---------------------------------------------------------------
COMMANDS = [
    ["grad", "W1"],
    ["grad", "W1", "--values", str(VALUES), *PUBLISHED],
    ["paths", "W1"],
    ["show"],
    ["table"],
    ["formula", "W1"],
    ["steps", "W1"],
    ["step", "--values", str(VALUES), "--lr", "0.5", *PUBLISHED],
]


@pytest.mark.parametrize("fmt", [f.value for f in Format])
@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_every_command_honours_every_format(args, fmt):
    r = run(*args, "--format", fmt)
    assert r.exit_code == 0, r.output
    assert r.output.strip()
    assert not RICH_BOX & set(r.output)
    if fmt == "json":
        data = json.loads(r.output)
        _no_python_reprs(data)
    if fmt == "latex":
        assert r"\begin{" in r.output
    if fmt == "markdown":
        assert "$$" in r.output or "|" in r.output


def _no_python_reprs(value):
    if isinstance(value, dict):
        for v in value.values():
            _no_python_reprs(v)
    elif isinstance(value, list):
        for v in value:
            _no_python_reprs(v)
    elif isinstance(value, str):
        assert not value.startswith(("{'", "[", "(")) or value.startswith("(") and not value.startswith("('"), value


def test_values_are_shown_in_every_format():
    for fmt, needle in (("text", "0.298371108760003"), ("latex", "0.298371108760003"), ("markdown", "0.298371108760003")):
        out = run("grad", "W5", "--values", str(VALUES), *PUBLISHED, "--format", fmt).output
        assert needle in out, fmt
    data = json.loads(run("grad", "W5", "--values", str(VALUES), *PUBLISHED, "--format", "json").output)
    assert abs(data["at_values"]["backprop"] - 0.082167040564) < 1e-9


def test_step_renders_a_table_in_latex_and_markdown():
    tex = run("step", "--values", str(VALUES), "--lr", "0.5", "--freeze", "B*", *PUBLISHED, "--format", "latex").output
    assert r"\begin{tabular}{llll}" in tex and "0.35891647971" in tex
    md = run("step", "--values", str(VALUES), "--lr", "0.5", "--freeze", "B*", *PUBLISHED, "--format", "markdown").output
    assert "| parameter | old value | gradient | new value |" in md and "| `W5` | 0.4 |" in md


def test_show_json_holds_objects_not_python_reprs():
    data = json.loads(run("show", "--format", "json").output)
    assert data["outputs_expanded"] == {"Out": data["outputs_expanded"]["Out"]} and isinstance(data["outputs_expanded"]["Out"], str)
    assert isinstance(data["equations"], dict)


# --- text: never broken inside an expression -------------------------------------------------------
def test_text_to_a_pipe_is_not_wrapped():
    r = run("grad", "W1", "--layers", "2,3,3,1", "--activation", "sigmoid")
    long = [line for line in r.output.splitlines() if len(line) > 200]
    assert long and all(line.count("(") == line.count(")") for line in r.output.splitlines())


def test_wrapping_on_a_terminal_never_breaks_a_name_or_a_number():
    line = "dLoss/dW1 = X1*(W10*W14 + W13*W7)*sign(Out - Y) + X2*(W11*W15 + W12*W8)*sign(Out - Y) = A + B"
    pieces = wrap_terms(line, 40, indent=4)
    assert len(pieces) > 1 and all(p.startswith("    ") and len(p) <= 40 for p in pieces[1:])
    assert "".join(p.strip() for p in pieces).replace(" ", "") == line.replace(" ", "")
    for before, after in zip(pieces, pieces[1:]):  # each break: before a term or an =, or after a factor's *
        assert after.strip().startswith(("+ ", "- ", "= ")) or before.endswith("*"), (before, after)
    top = wrap_terms(line, 60, indent=4)  # top-level terms first: no break inside brackets when those suffice
    assert all(p.count("(") == p.count(")") for p in top)
    assert wrap_terms("X1*(a + b)*(c + d)", 40) == ["X1*(a + b)*(c + d)"]
    assert wrap_terms("W1234567890*X1234567890", 5) == ["W1234567890*", "    X1234567890"]


def test_a_matrix_breaks_between_rows_then_between_entries():
    row = ", ".join(f"0.{i}12345678901234" for i in range(1, 4))
    line = f"A^1 = f(Z^1): 2x3 = [{row}; {row}]"
    pieces = wrap_terms(line, 70, indent=6)
    assert pieces[1:] == [f"      = [{row};", f"      {row}]"]
    narrow = wrap_terms(line, 50, indent=6)
    assert all(p.rstrip().endswith((",", ";", "]", "2x3")) for p in narrow), narrow
    assert "".join(narrow).replace(" ", "") == line.replace(" ", "")


def test_label_value_items_break_between_items_and_a_word_never_runs_past_the_width():
    line = "  sample 1: Loss = 0.598; sum over paths = 0.00359305755097788, backprop = 0.00359305755097788, direct = 0.00359"
    assert wrap_terms(line, 60, 6) == ["  sample 1: Loss = 0.598;", "      sum over paths = 0.00359305755097788,",
                                       "      backprop = 0.00359305755097788, direct = 0.00359"]
    prose = "Note: a long sentence with no operator in it at all, only words that go on and on past the width"
    assert all(len(p) <= 40 for p in wrap_terms(prose, 40, 2))


def test_a_table_row_continues_under_the_gradient_column():
    from derivchain.renderers.text import TABLE_GRADIENT_COLUMN

    row = "W1" + " " * (TABLE_GRADIENT_COLUMN - 2) + " + ".join(f"H{i}*W{i}" for i in range(30))
    pieces = wrap_terms(row, 80, TABLE_GRADIENT_COLUMN)
    assert len(pieces) > 1 and all(p.startswith(" " * TABLE_GRADIENT_COLUMN) for p in pieces[1:])


# --- a closed pipe ----------------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["table --layers 3,8,8,1", "grad W1 --layers 2,10,10,1", "--help"])
def test_a_closed_pipe_ends_quietly(command):
    exe = Path(sys.executable).parent / "derivchain"
    r = subprocess.run(["bash", "-o", "pipefail", "-c", f"'{exe}' {command} | head -2 >/dev/null"],
                       capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "1"})
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr and r.stderr == ""


# --- the API takes what it gives -------------------------------------------------------------------
def test_descend_takes_what_read_values_returns():
    net = dc.dense("2,2,2", activation="sigmoid", output_activation="sigmoid", loss="half-squared", bias=True)
    result = dc.descend(net, dc.read_values(VALUES), 0.5, freeze=["B*"])
    assert abs(float(result.steps[0].updated["W5"]) - 0.35891647971) < 1e-10
    same = dc.descend(net, dc.read_values(VALUES), "1/2", freeze="B*")
    assert same.steps[0].updated["W5"].value == result.steps[0].updated["W5"].value
    assert same.lr == Fraction(1, 2)
    with pytest.raises(dc.DerivchainError, match="missing"):
        dc.descend(net, {"X1": 1}, 0.5)


def test_reprs_are_short_and_dir_lists_the_api():
    net = dc.default_network()
    d = dc.derive(net, "W1")
    for obj in (net, d, d.verdict, d.path_sum, d.backprop, d.direct, d.paths[0], net.neurons[0],
                dc.api.paths(net, "W1"), dc.api.formula(net, "W1"), dc.api.steps(net, "W1"), dc.api.table(net)):
        assert len(repr(obj)) < 120, repr(obj)
    assert repr(d) == "Derivation(dLoss/dW1: 2 paths, equal)"
    listed = dir(dc)
    for name in ("derive", "dense", "descend", "read_values", "render", "emit", "Derivation", "Network", "api", "verify"):
        assert name in listed
    assert "annotations" not in listed


def test_engines_return_one_common_form():
    d = dc.derive(dc.default_network(), "W1")
    for form in (d.path_sum, d.backprop, d.direct):
        assert isinstance(form, Form) and form.parameter == d.parameter and form.how
    assert {d.path_sum.engine, d.backprop.engine, d.direct.engine} == {"path sum", "backprop", "direct"}


def test_every_printed_equality_of_a_derivation_is_checked():
    d = dc.derive(dc.default_network(), "W1")
    assert d.checked and all(c.verified for c in d.chains())
    assert len(d.chains()) >= 5


# --- what every LaTeX-bearing format prints compiles ---------------------------------------------
from derivchain.renderers.export import compile_text, latex_engine  # noqa: E402

NEEDS_TEX = pytest.mark.skipif(latex_engine() is None and not os.environ.get("CI"), reason="no LaTeX engine (CI installs one)")
NETWORKS = [
    [],
    ["--layers", "2,2,1", "--activation", "sigmoid", "--output-activation", "sigmoid", "--loss", "cross-entropy"],
    ["--layers", "2,2,3", "--activation", "tanh", "--loss", "softmax", "--bias"],
    ["--layers", "2,2,2,1", "--notation", "layered", "--activation", "sigmoid", "--bias"],
]


@NEEDS_TEX
@pytest.mark.parametrize("net", NETWORKS, ids=["default", "cross-entropy", "softmax", "layered"])
def test_every_latex_output_compiles(net):
    pieces, blocks = [], []
    for args in (["grad", "W1"], ["grad", "B1"] if "--bias" in net else ["grad", "W2"], ["paths", "W1"], ["show"],
                 ["table"], ["formula", "W1"], ["steps", "W1"]):
        weight = args[1:] if args[0] != "grad" or len(args) < 2 else args[1:]
        if "--notation" in net and weight:
            weight = ["w1_1_1"]
        if "--notation" in net and args == ["grad", "W2"]:
            weight = ["w1_2_1"]
        r = run(args[0], *weight, *net, "--format", "latex")
        assert r.exit_code == 0, (args, r.output)
        pieces.append(r.output)
        md = run(args[0], *weight, *net, "--format", "markdown")
        assert md.exit_code == 0, (args, md.output)
        blocks += [r"\[" + block + r"\]" for block in md.output.split("$$")[1::2]]  # the math, as KaTeX/MathJax take it
    doc = "\\documentclass{article}\\usepackage[a4paper,margin=2cm]{geometry}\\usepackage{amsmath,amssymb}\n\\begin{document}\n"
    _, log = compile_text(doc + "\n\n".join(pieces) + "\n\\end{document}\n", "outputs.tex")
    assert "Overfull \\vbox" not in log  # long snippets break across pages
    # A Markdown math block is one unbreakable display (a web page has no pages): it must compile.
    compile_text(doc.replace("a4paper", "a2paper") + "\n\n".join(blocks) + "\n\\end{document}\n", "markdown-math.tex")


@NEEDS_TEX
def test_notebook_latex_of_results_compiles():
    # Every result's _repr_latex_ (what Jupyter shows) is one math block that compiles.
    net = dc.dense("2,2,1", activation="sigmoid", output_activation="sigmoid", loss="cross-entropy")
    values = {"X1": 1, "X2": 2, "Y": 1, "W1": "1/2", "W2": "1/3", "W3": "1/4", "W4": "1/5", "W5": 1, "W6": 2}
    batch = {**{k: v for k, v in values.items() if k[0] == "W"}, "samples": [{"X1": 1, "X2": 2, "Y": 1}, {"X1": 0, "X2": 1, "Y": 0}]}
    results = [dc.derive(net, "W1"), dc.api.steps(net, "W1"), dc.api.formula(net, "W1"), dc.api.paths(net, "W1"), net,
               dc.api.table(net), dc.api.matrix(net), dc.api.matrix(net, batch), dc.api.step(net, values),
               dc.api.grad(net, "W1", values=values), dc.api.grad(net, "W1", values=batch)]
    shown = []
    for r in results:
        latex, page = r._repr_latex_(), r._repr_html_()
        assert latex.startswith("$$") and latex.endswith("$$") and "intertext" not in latex, type(r)
        assert "<math" in page and "<script" not in page and not page.startswith("<!DOCTYPE"), type(r)
        shown.append(latex[2:-2])
    assert len({type(r) for r in results}) == 11  # every kind of result
    doc = "\\documentclass{article}\\usepackage{amsmath,amssymb}\\begin{document}\n" + "\n".join(rf"\[{s}\]" for s in shown)
    compile_text(doc + "\n\\end{document}\n", "notebook.tex")


def _text_groups(latex: str) -> list[str]:
    """What each ``\\text{...}`` of ``latex`` holds (braces balanced)."""
    out = []
    for m in re.finditer(r"\\text\{", latex):
        i, depth = m.end(), 1
        while depth:
            depth += {"{": 1, "}": -1}.get(latex[i], 0)
            i += 1
        out.append(latex[m.end():i - 1])
    return out


@pytest.mark.parametrize("notation", ["flat", "layered"])
def test_notebook_latex_is_in_the_subset_mathjax_reads(notation):
    # MathJax prints \text{\small ...} and \text{a\_b} as written: a text group holds no command.
    net = dc.dense("2,2,1", activation="sigmoid", output_activation="sigmoid", loss="cross-entropy", notation=notation)
    w = net.parameters[0].name
    results = [dc.derive(net, w), dc.api.steps(net, w), dc.api.formula(net, w), dc.api.table(net), dc.api.matrix(net)]
    for r in results:
        latex = r._repr_latex_()
        assert r"\small" not in latex, type(r)
        assert [t for t in _text_groups(latex) if "\\" in t] == [], type(r)
    assert r"\text{Sigmoid + cross-entropy: the sigmoid's }" in results[0]._repr_latex_()


def test_a_checks_notebook_latex_is_in_the_subset_mathjax_reads():
    # check's block (issue 22) wrote its verdict and diagnosis as \text{missing\_path: ... \textgreater{} 0}: MathJax
    # prints those commands as written. Its exercise sheets' blocks too, with and without solutions.
    results = [dc.check(dc.default_network(), "W1", "W13*W7*X1"), dc.check(dc.default_network(), "W1", steps="W13*W7*X1\nW7*X1"),
               dc.api.exercise(seed=3, solutions=True), dc.api.exercise(seed=2)]
    assert results[0].diagnosis and results[1].steps
    for r in results:
        latex = r._repr_latex_()
        assert r"\small" not in latex, type(r)
        assert [t for t in _text_groups(latex) if "\\" in t] == [], type(r)
    assert r"\text{missing}\_\text{path: the path W1 -}>\text{ H1 -}>" in results[0]._repr_latex_()
