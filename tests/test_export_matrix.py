"""Notes of a matrix graph (``export``): the matrix equations with shapes and checks, entries' sections bounded."""

from __future__ import annotations

import dataclasses
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from derivchain import api
from derivchain.cli import app
from derivchain.renderers.export import compile_text, html_document, latex_document, latex_engine, markdown_document
from derivchain.verification.notes import Notes

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
runner = CliRunner()


@pytest.fixture(scope="module")
def attention_md(tmp_path_factory):
    out = tmp_path_factory.mktemp("att") / "notes.md"
    r = runner.invoke(app, ["export", "--network", str(EXAMPLES / "attention.toml"), "--out", str(out)])
    assert r.exit_code == 0, r.output
    return out


def test_markdown_notes_show_each_matrix_chain_with_shapes_and_checks(attention_md):
    text = attention_md.read_text()
    headings = re.findall(r"^## \d+\. (.*)$", text, re.M)
    assert headings[:2] == ["The network", "Matrix equations"]  # right after the network
    matrix = text.split("## 2. Matrix equations")[1].split("## 3.")[0]
    for leaf in ("W_{Q}", "W_{K}", "W_{V}"):
        assert f"### $\\partial L/\\partial {leaf}$ (4x4)" in matrix
    assert r"\frac{\partial L}{\partial S} &= P \odot" in matrix and r"&& \text{3x3; verified (random points mod p)}" in matrix
    assert r"\frac{1}{2}\, \frac{\partial L}{\partial S}\, K" in matrix  # not a fraction in a fraction
    assert matrix.count("direct = backprop for 16 entries") == 3


def test_entries_sections_are_bounded_and_every_link_lands(attention_md):
    # Before: a section for each of the 48 entries, 11 MB of Markdown and 49 pictures, in 82 s.
    text = attention_md.read_text()
    assert len(re.findall(r"^### \$\\partial \\mathrm\{Loss\}", text, re.M)) == 3
    assert sorted(p.name for p in attention_md.parent.glob("*.svg")) == [
        "notes-network.svg", "notes-paths-WK-0-0.svg", "notes-paths-WQ-0-0.svg", "notes-paths-WV-0-0.svg"]
    assert attention_md.stat().st_size < 1_500_000
    assert 'derivchain export "WQ[0,1]" --out FILE' in text and "the other 45" in text
    anchors = set(re.findall(r'<a id="([^"]+)"></a>', text))
    links = set(re.findall(r"\]\(#([^)]+)\)", text))
    assert links and links <= anchors, links - anchors
    # WQ's and WK's entries' gradients (5,000 characters each expanded) are short in delta form: every row prints it
    assert "too long for a table" not in text
    assert r"| $W_{Q}[0,1]$ | 108 | $X[0,0] \delta_{Q[0,1]} + X[1,0] \delta_{Q[1,1]} + X[2,0] \delta_{Q[2,1]}$ | equal |" in text


def test_a_delta_form_too_long_for_a_table_is_left_to_the_matrix_equations(monkeypatch):
    from derivchain.renderers import matrix_forms

    net = api.network(str(EXAMPLES / "two_layer_batch.toml"))
    notes = Notes(net, [net.parameter("W1[0,0]"), net.parameter("W2[0,0]")])
    short, long = sorted(notes.derivations, key=lambda d: len(str(d.delta_form)))
    monkeypatch.setattr(matrix_forms, "TABLE_TEXT", len(str(short.delta_form)))  # the shorter printed, the longer not
    for document in (markdown_document(notes, "t"), latex_document(notes, "t"), html_document(notes, "t")):
        assert document.count(matrix_forms.LONG_CELL) == 1


def test_named_entries_and_matrices_choose_the_sections(tmp_path):
    net = api.network(str(EXAMPLES / "attention.toml"))
    chosen, detailed = api._exported(net, ["WQ[1,2]", "WK"])
    assert len(chosen) == 17 and [p.name for p in detailed] == ["WQ[1,2]", "WK[0,0]"]
    notes = Notes(net, chosen, detailed=detailed)
    assert [g.parameter for g in notes.matrix_gradients] == ["WQ", "WK"] and notes.left_out == 15
    chosen, detailed = api._exported(api.network(str(EXAMPLES / "two_layer_batch.toml")), None)
    assert detailed is not None and all(p.name.endswith("[0,0]") for p in detailed)


def test_a_rewrite_name_is_printed_in_every_format(monkeypatch):
    from derivchain.verification import matrix_chain

    real = matrix_chain.matrix_gradient

    def named(network, name, values=None):  # as the rewrites engineer's results carry it
        g = real(network, name, values)
        return dataclasses.replace(g, chain=(dataclasses.replace(g.chain[0], rewrite="a textbook name"), *g.chain[1:]))

    monkeypatch.setattr(matrix_chain, "matrix_gradient", named)
    net = api.network(str(EXAMPLES / "two_layer_batch.toml"))
    notes = Notes(net, [net.parameter("W2[0,0]")])
    for document in (markdown_document(notes, "t"), latex_document(notes, "t"), html_document(notes, "t")):
        assert "verified (identical); a textbook name" in document
        assert "Matrix equations" in document


def test_html_notes_put_the_matrix_equations_first_and_link_only_written_sections():
    net = api.network(str(EXAMPLES / "layernorm.toml"))
    chosen, detailed = api._exported(net, ["gamma", "X"])  # dL/dX's chain has the root
    page = html_document(Notes(net, chosen, detailed=detailed), "t")
    assert page.index('<section id="matrix">') < page.index('<section id="derivatives">')
    matrix = page.split('<section id="matrix">')[1].split("</section>")[0]
    assert "<msqrt>" in matrix and "sqrt" not in matrix.replace("msqrt", "")
    ids = set(re.findall(r'id="([^"]+)"', page))
    assert set(re.findall(r'href="#([^"]+)"', page)) <= ids


@pytest.mark.skipif(latex_engine() is None or not shutil.which("pdftotext"), reason="no LaTeX engine or pdftotext")
def test_attention_notes_compile_with_every_reference_resolved(tmp_path):
    net = api.network(str(EXAMPLES / "attention.toml"))
    chosen, detailed = api._exported(net, None)
    pdf, log = compile_text(latex_document(Notes(net, chosen, detailed=detailed), "Attention"))
    assert "undefined" not in log.lower() and "??" not in log
    path = tmp_path / "notes.pdf"
    path.write_bytes(pdf)
    import subprocess

    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert "Matrix equations" in text and "too long for a table" not in text  # every row in delta form
