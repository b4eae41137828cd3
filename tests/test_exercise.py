"""Exercise sheets: a small network drawn from a seed, three derivatives and one gradient step; the same seed
gives the same bytes; with solutions, every answer verified and the step's numbers right."""

from __future__ import annotations

import shutil
from fractions import Fraction

import pytest
from typer.testing import CliRunner

import derivchain as dc
from derivchain import api
from derivchain.cli import app
from derivchain.verification.exercise import LOSSES, SHAPES, draw

runner = CliRunner()


def run(*args):
    return runner.invoke(app, list(args))


def test_the_seed_draws_the_network_and_the_options_fix_what_they_name():
    drawn = {tuple(draw(seed).values()) for seed in range(40)}
    assert len({d[0] for d in drawn}) > 2 and len({d[3] for d in drawn}) > 2  # shapes and losses vary
    assert all(d[0] in SHAPES and d[3] in LOSSES for d in drawn)
    fixed = draw(5, layers="3,2,1", activation="tanh", loss="half-squared")
    assert fixed == {"layers": "3,2,1", "activation": "tanh", "output_activation": "identity", "loss": "half-squared"}
    # softmax only where there are two outputs or more; cross-entropy with a sigmoid output
    for seed in range(60):
        d = draw(seed, layers="2,2,1")
        assert d["loss"] != "softmax"
        if d["loss"] == "cross-entropy":
            assert d["output_activation"] == "sigmoid"
    assert api.exercise(5, layers="3,2,1", activation="tanh", loss="half-squared").network.summary().startswith(
        "3-2-1 dense network; hidden activation tanh")


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
def test_the_solutions_are_verified_and_the_step_is_right(seed):
    ex = api.exercise(seed, solutions=True)
    asked = [d.parameter for d in ex.derivations]
    assert len(set(asked)) == 3 and all(d.verdict.equal for d in ex.derivations)
    assert ex.stepped == asked[1]
    values = {s.name: v for s, v in ex.values.items()}
    assert set(values) == {s.name for s in ex.network.leaves}
    at = api.grad(ex.network, ex.stepped.name, values=values)  # derived again, independently of the sheet
    if at.backprop.exact:
        assert ex.updated.exact and ex.updated.value == values[ex.stepped.name] - ex.lr * at.backprop.value
    else:
        assert abs(float(ex.updated.value) - (float(values[ex.stepped.name]) - float(ex.lr) * float(at.backprop.value))) < 1e-12
    # each answer checks as correct
    for d in ex.derivations:
        assert dc.check(ex.network, d.parameter.name, str(d.backprop.local)).correct


@pytest.mark.parametrize("suffix", [".md", ".html", ".tex"])
def test_the_same_seed_gives_the_same_bytes(tmp_path, suffix):
    outs = []
    for k in range(2):
        target = tmp_path / f"sheet{k}{suffix}"
        r = run("exercise", "--seed", "7", "--out", str(target))
        assert r.exit_code == 0, r.output
        outs.append(target.read_bytes())
    assert outs[0] == outs[1]
    other = tmp_path / f"other{suffix}"
    assert run("exercise", "--seed", "8", "--out", str(other)).exit_code == 0
    assert other.read_bytes() != outs[0]


def test_a_sheet_leaves_room_and_its_solutions_answer(tmp_path):
    ex = api.exercise(4, solutions=True)
    answers = [dc.render(d.backprop.local, "text").strip() for d in ex.derivations]
    plain, solved = tmp_path / "s.md", tmp_path / "s_solutions.md"
    assert run("exercise", "--seed", "4", "--out", str(plain)).exit_code == 0
    assert run("exercise", "--seed", "4", "--out", str(solved), "--solutions").exit_code == 0
    sheet, key = plain.read_text(), solved.read_text()
    assert sheet.count("Your answer:") == 4 and "Verdict" not in sheet
    assert key.count("Verdict: **equal**") == 3 and "Your answer:" not in key
    assert f"derivchain check {ex.derivations[0].parameter} \"YOUR ANSWER\" {ex.options}" in sheet
    text = dc.render(ex, "text")
    assert all(a in text for a in answers) and "new " + ex.stepped.name in text
    assert all(a not in dc.render(api.exercise(4), "text") for a in answers if len(a) > 3)


def test_the_check_command_on_a_sheet_rebuilds_its_network():
    ex = api.exercise(6)
    import shlex

    from derivchain.cli import app as cli_app

    d = ex.derivations[0]
    right = dc.render(dc.derive(ex.network, d.parameter.name).backprop.local, "text").strip()
    r = runner.invoke(cli_app, ["check", d.parameter.name, right, *shlex.split(ex.options)])
    assert r.exit_code == 0, r.output


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="no pdflatex")
@pytest.mark.parametrize("seed, solutions", [(3, True), (5, False)])
def test_the_pdf_compiles_and_is_the_same_bytes_each_time(tmp_path, seed, solutions):
    flags = ["--solutions"] if solutions else []
    pdfs = []
    for k in range(2):
        target = tmp_path / f"s{k}.pdf"
        r = run("exercise", "--seed", str(seed), "--out", str(target), *flags)
        assert r.exit_code == 0, r.output
        pdfs.append(target.read_bytes())
    assert pdfs[0].startswith(b"%PDF") and pdfs[0] == pdfs[1]


def test_exercise_input_errors_are_one_line(tmp_path):
    existing = tmp_path / "s.md"
    existing.write_text("mine")
    for args in (["exercise", "--seed", "1"], ["exercise", "--out", str(tmp_path / "s.txt")],
                 ["exercise", "--out", str(existing)], ["exercise", "--layers", "1,1", "--out", str(tmp_path / "t.md")],
                 ["exercise", "--layers", "2,2,1", "--loss", "softmax", "--out", str(tmp_path / "u.md")]):
        r = run(*args)
        assert r.exit_code == 2, (args, r.output)
        assert len(r.output.strip().splitlines()) == 1 and "Traceback" not in r.output, r.output
    assert existing.read_text() == "mine"
    assert run("exercise", "--out", str(existing), "--force").exit_code == 0


def test_exercise_on_a_network_file(tmp_path):
    from pathlib import Path

    skip = Path(__file__).resolve().parents[1] / "examples" / "skip.toml"
    ex = api.exercise(2, network=str(skip), solutions=True)
    assert "skip connection" in ex.network.summary() and ex.options == f"--network {skip}"
    assert isinstance(ex.lr, Fraction) and all(d.verdict.equal for d in ex.derivations)


@pytest.mark.parametrize("suffix", [".md", ".tex"])
def test_a_sheets_network_line_typesets_the_loss_formula(tmp_path, suffix):
    # As the notes' network line does (issue 21): "loss abs (Abs(Out - Y))" read as code in a sentence.
    out = tmp_path / f"s{suffix}"
    assert run("exercise", "--seed", "3", "--out", str(out)).exit_code == 0
    text = out.read_text()
    assert r"; loss abs ($\left|{\mathrm{Out} - Y}\right|$); no biases." in text and "Abs(" not in text
