"""Checking a learner's answer: the verdict, the diagnosis (a corpus of wrong answers, one or more per kind,
on several networks), the counterexample, chains of steps, the JSON contract and the exit codes."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest
from typer.testing import CliRunner

import derivchain as dc
from derivchain import api
from derivchain.cli import app
from derivchain.engines.mistakes import KINDS
from derivchain.errors import DerivchainError

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()

NETWORKS = {
    "worked": {},  # the Q&A's 2-3-2-1 network, identity activations, Loss = |Out - Y|
    "squared": {"loss": "squared"},
    "half": {"loss": "half-squared"},
    "sigmoid": {"layers": "2,2,1", "activation": "sigmoid", "loss": "half-squared"},
    "sigmoid bias": {"layers": "2,2,1", "activation": "sigmoid", "loss": "half-squared", "bias": True},
    "tanh": {"layers": "2,2,1", "activation": "tanh", "loss": "half-squared"},
    "relu": {"layers": "2,2,1", "activation": "relu", "loss": "half-squared"},
    "cross-entropy": {"layers": "2,2,1", "activation": "sigmoid", "output_activation": "sigmoid", "loss": "cross-entropy"},
    "softmax": {"layers": "2,2", "loss": "softmax"},
    "deep": {"layers": "2,2,2,2,1"},  # H1 feeds H3 and H4, each of which feeds H5 and H6: four paths for W1
    "graph": {"path": str(ROOT / "examples" / "course_graph.toml")},  # e = (a + b)(b + 1): b is used twice
    "tied": {"path": str(ROOT / "examples" / "tied_autoencoder.toml")},  # each weight used by encoder and decoder
    "skip": {"path": str(ROOT / "examples" / "skip.toml")},
}

S = "*sign(Out - Y)"
TIED = "((r1-x1)*W1_1 + (r2-x2)*W1_2 + (r3-x3)*W1_3)*h1*(1-h1)*x1"
DEEP = "X1*(W5*(W9*W13 + W11*W14) + W7*(W10*W13 + W12*W14))" + S

#: Correct answers, each written otherwise than derivchain prints it.
CORRECT = [
    ("worked", "W7", "W13*H1" + S),
    ("worked", "W7", "dLoss/dW7 = H1 * W13 * sign(Out - Y)"),
    ("worked", "W1", "(W13*W7 + W14*W10)*X1" + S),
    ("worked", "W1", "W13*W7*X1*sign(Out-Y) + X1*W10*W14*sign(Out-Y)"),
    ("worked", "W1", "dOut/dW1" + S),  # a partial derivative of the network, written out
    ("worked", "W1", "(dOut/dH4*dH4/dH1 + dOut/dH5*dH5/dH1)*dH1/dW1" + S),
    ("worked", "W1", "X1*(W13*W7 + W14*W10)*(Out - Y)/abs(Out - Y)"),
    ("squared", "W7", "2*(Out - Y)*W13*H1"),
    ("half", "W7", "(H4*W13 + H5*W14 - Y)*W13*H1"),  # Out written as its equation
    ("sigmoid", "W1", "(Out-Y)*W5*H1*(1-H1)*X1"),
    ("sigmoid", "W1", "(Out-Y)*W5*sigmoid(W1*X1 + W2*X2)*(1 - sigmoid(W1*X1 + W2*X2))*X1"),
    ("sigmoid bias", "B1", "(Out-Y)*W5*H1*(1-H1)"),
    ("tanh", "W1", "(Out-Y)*W5*(1-H1**2)*X1"),
    ("tanh", "W1", "(Out-Y)*W5*(1-tanh(W1*X1 + W2*X2)**2)*X1"),
    ("relu", "W1", "(Out-Y)*W5*heaviside(H1, 0)*X1"),  # relu'(z) is 0 where z < 0, where H1 = 0
    ("cross-entropy", "W5", "(Out-Y)*H1"),
    ("softmax", "W1", "(exp(Out1)/(exp(Out1)+exp(Out2))*(Y1+Y2) - Y1)*X1"),
    ("deep", "W1", DEEP),
    ("graph", "b", "d + c"),
    ("graph", "a", "b + 1"),
    ("tied", "W1_1", "(r1-x1)*h1 + " + TIED),
]

#: Wrong answers and the kinds that explain them (one or more per kind, on every network).
WRONG = [
    # missing_path: a path left out; a reused node's contributions overwritten; a shared weight's use left out
    ("worked", "W1", "W13*W7*X1" + S, ["missing_path"]),
    ("graph", "b", "d", ["missing_path"]),
    ("deep", "W1", "X1*W7*(W10*W13 + W12*W14)" + S, ["missing_path"]),
    ("skip", "W1", "(Out-Y)*W5*(1-H1**2)*X1", ["missing_path"]),
    ("tied", "W1_1", TIED, ["missing_path"]),
    ("tied", "W1_1", "(r1-x1)*h1", ["missing_path"]),
    # extra_term: a path counted twice; a path of another parameter added
    ("worked", "W1", "W13*W7*X1" + S + " + 2*W14*W10*X1" + S, ["extra_term"]),
    ("worked", "W1", "(W13*W7 + W14*W10)*X1" + S + " + W13*W8*X1" + S, ["extra_term"]),
    ("graph", "b", "2*d + c", ["extra_term"]),
    # wrong_factor: a weight from the wrong edge; the input of another weight; x for a bias's 1
    ("worked", "W1", "(W13*W7 + W14*W11)*X1" + S, ["wrong_factor"]),
    ("worked", "W1", "(W13*W7 + W14*W10)*X2" + S, ["wrong_factor"]),
    ("sigmoid bias", "B1", "(Out-Y)*W5*H1*(1-H1)*X1", ["wrong_factor"]),
    ("softmax", "W1", "(exp(Out1)/(exp(Out1)+exp(Out2))*(Y1+Y2) - Y1)*X2", ["wrong_factor"]),
    # missing_factor: an input, a weight, dLoss/dOut left out
    ("worked", "W1", "(W13*W7 + W14*W10)" + S, ["missing_factor"]),
    ("half", "W7", "W13*H1", ["missing_factor"]),
    ("sigmoid", "W1", "(Out-Y)*H1*(1-H1)*X1", ["missing_factor"]),
    # activation_derivative: left out, f(z) for f'(z), taken at the wrong point or neuron, counted twice
    ("sigmoid", "W1", "(Out-Y)*W5*X1", ["activation_derivative"]),
    ("sigmoid", "W1", "(Out-Y)*W5*H1*X1", ["activation_derivative"]),
    ("tanh", "W1", "(Out-Y)*W5*(1-tanh(H1)**2)*X1", ["activation_derivative"]),
    ("tanh", "W1", "(Out-Y)*W5*(1-H2**2)*X1", ["activation_derivative"]),
    ("tanh", "W1", "(Out-Y)*W5*(1-H1**2)**2*X1", ["activation_derivative"]),
    ("relu", "W1", "(Out-Y)*W5*X1", ["activation_derivative"]),
    # heaviside(0) is 1/2: for every z < 0 (H1 = 0) this says 1/2 where relu' is 0; the verdict says so
    # (a modular test blind to Heaviside's value at 0 once called it correct), with a counterexample at halves
    ("relu", "W1", "(Out-Y)*W5*heaviside(H1)*X1", ["unknown"]),
    # sign: the whole answer; one path's term
    ("worked", "W1", "-(W13*W7 + W14*W10)*X1" + S, ["sign"]),
    ("worked", "W1", "(W13*W7 - W14*W10)*X1" + S, ["sign"]),
    ("cross-entropy", "W5", "(Y-Out)*H1", ["sign"]),
    ("tanh", "W1", "(Y-Out)*W5*(1-H1**2)*X1", ["sign"]),
    # scale: the 2 of a square; a half-squared loss's missing 1/2
    ("squared", "W7", "(Out-Y)*W13*H1", ["scale"]),
    ("half", "W7", "2*(Out-Y)*W13*H1", ["scale"]),
    ("deep", "W1", "3*" + DEEP, ["scale"]),
    # case: the kink's sign left out (the learner of the Q&A), or taken as -1; softmax's one-hot form
    ("worked", "W7", "W13*H1", ["case"]),
    ("worked", "W1", "(W13*W7 + W14*W10)*X1", ["case"]),
    ("worked", "W1", "-(W13*W7 + W14*W10)*X1", ["case"]),
    ("softmax", "W1", "(exp(Out1)/(exp(Out1)+exp(Out2)) - Y1)*X1", ["case"]),
    # two mistakes together
    ("worked", "W1", "W13*W7*X2" + S, ["wrong_factor", "missing_path"]),
    ("half", "W7", "2*(Out-Y)*H1", ["scale", "missing_factor"]),
    # unknown: wrong, but none of the above
    ("worked", "W1", "X1*X2*W13", ["unknown"]),
    ("sigmoid", "W1", "exp(W1)", ["unknown"]),
]


def _net(name):
    return api.network(**NETWORKS[name])


def test_the_corpus_has_every_kind_on_every_network():
    assert {k for *_, kinds in WRONG for k in kinds} == set(KINDS)
    assert {n for n, *_ in WRONG} == set(NETWORKS)
    assert KINDS == ("case", "sign", "scale", "missing_factor", "activation_derivative", "wrong_factor", "missing_path",
                     "extra_term", "unknown")


@pytest.mark.parametrize("network, parameter, answer", CORRECT)
def test_a_correct_answer_in_another_form_is_accepted(network, parameter, answer):
    c = dc.check(_net(network), parameter, answer)
    assert c.correct and c.verdict.equal, c.sentence
    assert c.diagnosis == () and c.counterexample is None and c.correct_where is None
    assert c.sentence.startswith("correct: your answer equals")


@pytest.mark.parametrize("network, parameter, answer, kinds", WRONG)
def test_each_wrong_answer_gets_its_kind_and_a_counterexample(network, parameter, answer, kinds):
    net = _net(network)
    c = dc.check(net, parameter, answer)
    assert not c.correct
    assert [f.kind for f in c.diagnosis] == kinds, c.diagnosis
    assert all(f.detail for f in c.diagnosis)
    # The counterexample: every leaf has a value, and there the derivative (derived anew) and the answer differ.
    cx = c.counterexample
    assert cx is not None and set(cx.values) == {s.name for s in net.leaves}
    assert cx.answer.value != cx.expected.value
    values = {k: v.value for k, v in cx.values.items()}
    assert all(isinstance(v, Fraction) for v in values.values())  # exact: a learner can redo it by hand
    at = api.grad(net, parameter, values=values)
    assert at.backprop.value == cx.expected.value
    if "case" in kinds:
        assert c.correct_where is not None and c.correct_where in c.sentence
    else:
        assert c.correct_where is None


def test_the_learner_of_the_worked_example_is_right_where_out_exceeds_y():
    c = dc.check(dc.default_network(), "W7", "W13*H1")
    assert c.correct_where == "Out - Y > 0"
    assert c.sentence == "not correct: it equals dLoss/dW7 only where Out - Y > 0"
    (f,) = c.diagnosis
    assert f.kind == "case" and "sign(Out - Y)" in f.detail and str(f.expected) == "sign(Out - Y)" and f.found == 1
    assert c.counterexample.nodes["Out"].value < c.counterexample.values["Y"].value  # the side where it fails


def test_a_finding_names_its_path_and_what_was_found_and_expected():
    c = dc.check(dc.default_network(), "W1", "W13*W7*X1" + S)
    (f,) = c.diagnosis
    assert f.path == ("W1", "H1", "H5", "Out", "Loss")
    assert f.found == 0 and str(f.expected) == "W10*W14*X1*sign(Out - Y)"
    (g,) = dc.check(dc.default_network(), "W1", "(W13*W7 + W14*W11)*X1" + S).diagnosis
    assert (str(g.found), str(g.expected)) == ("W11", "W10") and "edge H1 -> H5" in g.detail


def test_an_undecided_or_impossible_search_says_unknown_quickly():
    net = api.network(layers="2,3,3,3,1", activation="sigmoid", loss="half-squared")
    c = dc.check(net, "W1", "X1*X2*W13")
    assert [f.kind for f in c.diagnosis] == ["unknown"] and c.counterexample is not None


# --- the answer's text -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("answer, message", [
    ("W13*H9", "H9"),
    ("__import__('os').system('true')", "not allowed"),
    ("().__class__", "not allowed"),
    ("9**9**9**9", "larger than"),
    ("dLoss/dW8 = W13*H2", "is not dLoss/dW7"),
    ("W13 == H1", "'=='"),
    ("", "empty"),
])
def test_a_bad_answer_is_one_line_naming_the_problem(answer, message):
    with pytest.raises(DerivchainError, match=message) as info:
        dc.check(dc.default_network(), "W7", answer)
    assert "\n" not in str(info.value)


def test_an_answer_or_steps_but_not_both_nor_neither():
    for answer, steps in ((None, None), ("W13*H1", "dLoss/dW7 = W13*H1")):
        with pytest.raises(DerivchainError, match="an answer or --steps"):
            dc.check(dc.default_network(), "W7", answer, steps)


# --- a chain of steps ---------------------------------------------------------------------------------------------

STEPS = """# the Q&A's second derivation, with one slip
dLoss/dW1 = W13*dH4/dW1*sign(Out-Y) + W14*dH5/dW1*sign(Out-Y)
= (W13*W7 + W14*W10)*dH1/dW1*sign(Out-Y)

= (W13*W7 + W14*W10)*X2*sign(Out-Y)
= (W13*W7 + W14*W10)*X1*sign(Out-Y)
"""


def test_steps_name_the_first_wrong_line_and_check_the_rest():
    c = dc.check(dc.default_network(), "W1", steps=STEPS)
    assert not c.correct and c.first_wrong_line == 5
    assert [(s.line, s.equal_to_previous, s.equal_to_derivative) for s in c.steps] == [
        (2, None, True), (3, True, True), (5, False, False), (6, False, True)]
    assert [f.kind for f in c.diagnosis] == ["wrong_factor"] and c.counterexample is not None
    assert "line 5 is the first wrong line" in c.sentence


def test_steps_that_all_hold_are_correct():
    good = "\n".join(line for line in STEPS.splitlines() if "X2" not in line)
    c = dc.check(dc.default_network(), "W1", steps=good)
    assert c.correct and c.first_wrong_line is None and c.counterexample is None
    assert all(s.equal_to_derivative for s in c.steps)


def test_a_step_that_does_not_follow_but_ends_right_is_not_correct():
    # Each line equals the derivative except that the step between two right lines is fine; a wrong jump
    # between two wrong lines is caught by the line-to-derivative check.
    c = dc.check(dc.default_network(), "W7", steps="dLoss/dW7 = W13*H1\n= W13*H1*sign(Out-Y)\n")
    assert not c.correct and c.first_wrong_line == 1 and c.correct_where == "Out - Y > 0"
    assert c.steps[1].equal_to_previous is False and c.steps[1].equal_to_derivative


def test_a_step_line_that_is_not_an_equation_is_an_error():
    with pytest.raises(DerivchainError, match="line 2"):
        dc.check(dc.default_network(), "W7", steps="dLoss/dW7 = W13*H1\nW13*H1 +\n")
    with pytest.raises(DerivchainError, match="no steps"):
        dc.check(dc.default_network(), "W7", steps="# nothing\n\n")


# --- the command: JSON contract, exit codes ----------------------------------------------------------------------

CONTRACT = ["parameter", "answer", "expected", "correct", "correct_where", "diagnosis", "counterexample", "verdict"]


def run(*args, **kwargs):
    return runner.invoke(app, list(args), **kwargs)


def test_check_json_keys_are_the_contract():
    r = run("check", "W1", "(W13*W7 + W14*W11)*X1*sign(Out - Y)", "--format", "json")
    assert r.exit_code == 1, r.output
    out = json.loads(r.output)
    assert list(out) == CONTRACT
    assert out["parameter"] == "W1" and out["answer"] == "X1*(W11*W14 + W13*W7)*sign(Out - Y)"
    assert out["expected"] == "X1*(W10*W14 + W13*W7)*sign(Out - Y)" and out["correct"] is False and out["correct_where"] is None
    (f,) = out["diagnosis"]
    assert list(f) == ["kind", "detail", "path", "found", "expected"] and f["kind"] == "wrong_factor"
    assert f["path"] == ["W1", "H1", "H5", "Out", "Loss"] and (f["found"], f["expected"]) == ("W11", "W10")
    cx = out["counterexample"]
    assert list(cx) == ["values", "answer_value", "expected_value"] and cx["answer_value"] != cx["expected_value"]
    assert len(cx["values"]) == 17 and out["verdict"].startswith("not correct")


def test_check_json_when_correct_and_where_a_case_holds():
    ok = json.loads(run("check", "W7", "W13*H1*sign(Out - Y)", "-f", "json").output)
    assert (ok["correct"], ok["diagnosis"], ok["counterexample"], ok["correct_where"]) == (True, [], None, None)
    r = run("check", "W7", "W13*H1", "-f", "json")
    case = json.loads(r.output)
    assert r.exit_code == 1 and case["correct_where"] == "Out - Y > 0" and case["diagnosis"][0]["kind"] == "case"
    assert "path" not in case["diagnosis"][0]  # where it does not apply, the key is left out


def test_check_steps_json_from_standard_input():
    r = run("check", "W1", "--steps", "-", "-f", "json", input=STEPS)
    assert r.exit_code == 1, r.output
    out = json.loads(r.output)
    assert list(out) == CONTRACT + ["steps", "first_wrong_line"]
    assert out["first_wrong_line"] == 5
    assert out["steps"][0] == {"line": 2, "text": "dLoss/dW1 = W13*dH4/dW1*sign(Out-Y) + W14*dH5/dW1*sign(Out-Y)",
                               "equal_to_previous": None, "equal_to_derivative": True}


def test_check_exit_codes(tmp_path):
    assert run("check", "W7", "W13*H1*sign(Out-Y)").exit_code == 0
    assert run("check", "W7", "W13*H1").exit_code == 1
    steps = tmp_path / "steps.txt"
    steps.write_text(STEPS.replace("X2", "X1"))
    assert run("check", "W1", "--steps", str(steps)).exit_code == 0
    for args in (("check", "W7", "W13*H9"), ("check", "W7"), ("check", "W99", "W13"), ("check", "W7", "1", "--steps", str(steps)),
                 ("check", "W7", "--steps", str(tmp_path / "missing.txt")), ("check", "W7", "W13*H1", "--layers", "2,0")):
        r = run(*args)
        assert r.exit_code == 2, (args, r.output)
        assert len(r.output.strip().splitlines()) == 1 and "Traceback" not in r.output, r.output


def test_check_text_shows_the_diagnosis_and_the_counterexample():
    r = run("check", "W1", "W13*W7*X1*sign(Out - Y)", "--layers", "2,3,2,1")
    assert r.exit_code == 1
    out = r.output
    assert "Your answer: dLoss/dW1 = W13*W7*X1*sign(Out - Y)" in out
    assert "The derivative: dLoss/dW1 = X1*(W10*W14 + W13*W7)*sign(Out - Y)" in out
    assert "missing_path: the path W1 -> H1 -> H5 -> Out -> Loss is left out" in out
    assert "Counterexample: X1 = " in out and "your answer = " in out


@pytest.mark.parametrize("fmt", ["text", "markdown", "latex", "html", "json"])
def test_check_renders_in_every_format(fmt):
    for steps in (None, STEPS):
        c = dc.check(dc.default_network(), "W1", None if steps else "W13*W7*X1", steps)
        out = dc.render(c, fmt).replace("\\_", "_")  # Markdown and LaTeX escape the underscore
        assert "missing_path" in out or "wrong_factor" in out or "case" in out
        assert ("line 5" in out or "5" in out) if steps else True


def test_a_checks_network_line_typesets_the_loss_formula():
    # Every other network line in Markdown, LaTeX and HTML typesets the loss's formula (issue 21's notes);
    # check's Markdown page wrote it as code in prose: "loss abs (Abs(Out - Y))".
    out = dc.render(dc.check(dc.default_network(), "W1", "W13*W7*X1"), "markdown")
    assert r"; loss abs ($\left|{\mathrm{Out} - Y}\right|$); no biases." in out and "Abs(" not in out
