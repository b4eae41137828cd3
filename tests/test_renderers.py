"""Renderers as a contract: a class per format with a method per kind of result (a missing one fails when
the class is defined), every format registered in one place (the CLI's choices and help, the export
suffixes and their messages read from it), dispatch by the result's kind, and ``--format html`` on every
command that has ``--format``: one self-contained page (no script, nothing loaded, MathML, escaped text)."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import derivchain as dc
from derivchain import api
from derivchain.cli import app
from derivchain.renderers import FORMATS, KINDS, Format, Renderer, emit, kind, render, renderer
from derivchain.renderers.base import StringRenderer
from derivchain.renderers.formats import document_suffixes, format_of_suffix, help_text, listed, register, suffixes_named, unregister
from derivchain.renderers.html import tex
from derivchain.renderers.html import printer_for as mathml_printer

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()
PUBLISHED = ["--layers", "2,2,2", "--activation", "sigmoid", "--output-activation", "sigmoid", "--loss", "half-squared", "--bias"]
PUBLISHED_VALUES = str(ROOT / "examples" / "published_step_values.json")
BATCH_VALUES = str(ROOT / "examples" / "batch_values.json")
MATRIX_BATCH = str(ROOT / "examples" / "matrix_batch_values.json")


def run(*args):
    return runner.invoke(app, list(args))


# --- the contract -----------------------------------------------------------------------------------
def _methods(names, skip=()):
    """A class body: a method for each of ``names`` but those in ``skip``."""
    body = {name: (lambda self, result: type(result).__name__) for name in names if name not in skip}
    body.update(write=lambda self, rendered, out: out.write(rendered + "\n"), write_part=lambda self, part, out: out.write(part))
    return body


@pytest.mark.parametrize("missing", sorted(KINDS))
def test_a_renderer_missing_a_method_fails_when_it_is_defined(missing):
    with pytest.raises(TypeError, match=rf"renderer Partial has no method for {missing}\b"):
        type("Partial", (Renderer,), _methods(KINDS, skip={missing}))
    type("Whole", (Renderer,), _methods(KINDS))  # the same class with it is fine


def test_a_string_renderer_needs_its_table_parts_and_an_abstract_base_needs_nothing():
    with pytest.raises(TypeError, match="table_row"):
        type("NoRows", (StringRenderer,), {**_methods(KINDS), "table_header": lambda s, t: "", "table_footer": lambda s, t: ""})

    class Base(Renderer, abstract=True):
        """A base that leaves every method to its subclasses."""

    with pytest.raises(TypeError, match="derivation"):
        type("Empty", (Base,), {})


def test_every_registered_format_is_a_renderer_with_every_kind():
    for name in FORMATS:
        r = renderer(name)
        assert isinstance(r, Renderer) and all(callable(getattr(r, k)) for k in KINDS), name
        assert type(r).__module__ == FORMATS[name].module and type(r).__name__ == FORMATS[name].cls


class Shout(Renderer):
    """A format made up by this test: the gradient in capitals, one line."""

    def write(self, rendered, out):
        out.write(rendered + "\n")

    def write_part(self, part, out):
        out.write(part)

    def derivation(self, d):
        return f"d{d.network.loss_symbol}/d{d.parameter} = {d.backprop.local}".upper()

    def table(self, table):
        for d in table.rows:
            yield self.derivation(d) + "\n", d

    derivation_at_values = batch_at_values = paths = network = formula = steps = descent = matrix = batch_matrix = verdict = chain = \
        check = exercise = matrix_gradient = autograd = \
        lambda self, result: type(result).__name__
    hessian = hessian_at_values = hessian_matrix = lambda self, result: type(result).__name__


def test_a_format_registered_at_run_time_renders_through_render_and_emit(net):
    d = dc.derive(net, "W7")
    register("shout", __name__, "Shout", description="capitals")
    try:
        assert render(d, "shout") == "DLOSS/DW7 = H1*W13*SIGN(OUT - Y)\n"
        rows: list = []
        out = io.StringIO()
        emit(api.table(dc.dense("2,1"), 0), "shout", out, on_row=rows.append)
        assert out.getvalue() == "DLOSS/DW1 = X1*SIGN(OUT - Y)\nDLOSS/DW2 = X2*SIGN(OUT - Y)\n"
        assert [r.parameter.name for r in rows] == ["W1", "W2"]
        assert list(FORMATS)[-1] == "shout" and "shout" not in Format.__members__  # the CLI's choices are fixed at import
        with pytest.raises(ValueError, match="already registered"):
            register("shout", __name__, "Shout")
        with pytest.raises(ValueError, match="already belongs to format 'latex'"):
            register("other", __name__, "Shout", suffix=".tex")
    finally:
        unregister("shout")
    assert "shout" not in FORMATS
    with pytest.raises(ValueError, match="'shout' is not a format; the formats are 'text', 'latex', 'markdown', 'json', 'html' or 'jsonl'"):
        render(d, "shout")


def test_the_format_choices_the_export_suffixes_and_the_help_come_from_the_registry(tmp_path):
    assert [f.value for f in Format] == list(FORMATS) == ["text", "latex", "markdown", "json", "html", "jsonl"]
    assert document_suffixes() == [f.suffix for f in FORMATS.values() if f.suffix] == [".tex", ".md", ".html"]
    assert [format_of_suffix(s) for s in (".tex", ".md", ".html", ".txt")] == ["latex", "markdown", "html", None]
    # The messages, byte for byte as before, are made from the registry.
    assert suffixes_named() == ".tex (LaTeX), .md (Markdown) or .html (HTML)"
    assert listed(document_suffixes()) == ".tex, .md or .html"
    r = run("export", "--out", "notes.txt")
    assert r.exit_code == 2 and r.output == f"Error: --out notes.txt: choose a file ending in {suffixes_named()}\n"
    r = run("export")
    assert r.exit_code == 2 and r.output == f"Error: export needs --out FILE ending in {listed(document_suffixes())}\n"
    r = run("grad", "W1", "--format", "xml")
    assert r.exit_code == 2 and f"is not one of {', '.join(repr(n) for n in FORMATS)}." in r.output
    # Every command's --format help is the registry's: each format's name and description.
    shown = " ".join(run("grad", "--help").output.replace("│", " ").split())
    assert " ".join(help_text().split()) in shown
    for f in FORMATS.values():
        assert f"{f.name} ({f.description})" in help_text()


def _commands_with_format() -> set[str]:
    group = typer.main.get_command(app)
    return {name for name, command in group.commands.items()
            if any("--format" in getattr(p, "opts", ()) for p in command.params)}


# --- dispatch by kind -------------------------------------------------------------------------------
def test_each_result_class_names_its_kind_and_nothing_else_renders():
    from derivchain.engines.descent import Descent
    from derivchain.engines.formula import GeneralFormula
    from derivchain.engines.matrix import BatchMatrixForm, MatrixForm
    from derivchain.engines.paths import PathListing
    from derivchain.model.network import Network
    from derivchain.verification.at_values import BatchAtValues, DerivationAtValues
    from derivchain.verification.derivation import Derivation, Table
    from derivchain.verification.chains import Chain
    from derivchain.verification.steps import StepByStep
    from derivchain.verification.verdict import Verdict
    from derivchain.verification.check import Check
    from derivchain.verification.exercise import Exercise
    from derivchain.verification.matrix_chain import MatrixGradient
    from derivchain.verification.autograd import AutogradComparison

    classes = [Derivation, DerivationAtValues, BatchAtValues, PathListing, Network, GeneralFormula, StepByStep, Descent, Table,
               MatrixForm, BatchMatrixForm, Verdict, Chain, Check, Exercise, MatrixGradient, AutogradComparison]
    from derivchain.verification.hessian import HessianAtValues, HessianEntry
    from derivchain.verification.hessian_matrix import HessianMatrix

    classes += [HessianEntry, HessianAtValues, HessianMatrix]
    assert sorted(c.kind for c in classes) == sorted(KINDS)
    assert all("kind" not in {f.name for f in __import__("dataclasses").fields(c)} for c in classes)  # not a field
    import sympy as sp

    for thing in (3, "W1", sp.Symbol("x") + 1, object()):
        with pytest.raises(TypeError, match="nothing renders"):
            kind(thing)


def test_rendering_a_gradient_in_any_format_loads_nothing_of_the_matrix_descent_or_steps():
    code = ("import sys, derivchain as dc\n"
            "from derivchain.renderers import render, FORMATS\n"
            "d = dc.derive(dc.default_network(), 'W1')\n"
            "assert all(render(d, f) for f in FORMATS)\n"
            "print(sorted(m for m in sys.modules if m.startswith('derivchain') and any(k in m for k in ('matrix', 'descent', 'steps'))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


# --- HTML for every command ---------------------------------------------------------------------------
#: One invocation of each command that takes --format, in each of its result kinds.
HTML_RUNS = {
    "grad": ["grad", "W1"],
    "grad values": ["grad", "W5", "--values", PUBLISHED_VALUES, *PUBLISHED],
    "grad batch": ["grad", "W1", "--layers", "2,1", "--loss", "half-squared", "--l2", "0.1", "--values", BATCH_VALUES],
    "paths": ["paths", "W1", "--layers", "2,3,3,1", "--max-paths", "2"],
    "show": ["show", "--network", str(ROOT / "examples" / "rnn.toml")],
    "table": ["table", *PUBLISHED],
    "formula": ["formula", "W5", *PUBLISHED],
    "formula general": ["formula", "--network", str(ROOT / "examples" / "rnn.toml")],
    "steps": ["steps", "W1", "--activation", "relu"],
    "step": ["step", "--values", PUBLISHED_VALUES, "--lr", "0.5", "--steps", "2", "--freeze", "B*", *PUBLISHED],
    "step batch": ["step", "--layers", "2,1", "--loss", "half-squared", "--values", BATCH_VALUES, "--set", "W1=1", "--steps", "3",
                   "--batch-size", "2"],
    "matrix": ["matrix", "--layers", "2,3,1", "--activation", "tanh", "--l2", "0.1"],
    "matrix values": ["matrix", "--values", PUBLISHED_VALUES, *PUBLISHED],
    "matrix batch": ["matrix", "--layers", "2,2,1", "--activation", "relu", "--loss", "half-squared", "--bias", "--values", MATRIX_BATCH],
    "check": ["check", "W1", "(W13*W7 + W14*W10)*X1*sign(Out - Y)"],
}
HTML_RUNS["hessian"] = ["hessian", "W1", "W7", "--layers", "2,3,1", "--activation", "sigmoid", "--loss", "half-squared"]
HTML_RUNS["hessian values"] = ["hessian", "W5", "W5", "--values", PUBLISHED_VALUES, *PUBLISHED]
HTML_RUNS["hessian matrix"] = ["hessian", "--values", PUBLISHED_VALUES, "--newton", "--direction", "W1=1", *PUBLISHED]
MATHML_TAGS = {"math", "mrow", "mi", "mn", "mo", "mtext", "mfrac", "msub", "msup", "msubsup", "mover", "munder", "munderover",
               "msqrt", "mroot", "mspace", "mtable", "mtr", "mtd"}
MATH = re.compile(r"<math\b[^>]*>.*?</math>", re.S)


class Parsed(HTMLParser):
    """Every start tag with its attributes, and the text, as a browser's tokenizer reads them."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag

    def handle_data(self, data):
        self.text.append(data)


def check_page(page: str) -> Parsed:
    """``page`` is one self-contained page: parsed, no script or anything loaded, ASCII, well-formed MathML."""
    assert page.startswith("<!DOCTYPE html>\n") and page.endswith("</main>\n</body>\n</html>\n") and page.count("<html") == 1
    parsed = Parsed(page)
    tags = [t for t, _ in parsed.tags]
    assert not {"script", "link", "img", "iframe", "object", "embed", "base", "form"} & set(tags)
    assert "://" not in page and "@import" not in page and "url(" not in page.replace("url(#", "")
    for tag, attrs in parsed.tags:
        assert not [a for a in attrs if a.startswith("on")] and "src" not in attrs, (tag, attrs)
    meta = [a for t, a in parsed.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert meta and meta[0]["content"].startswith("default-src 'none'") and "script" not in meta[0]["content"]
    assert page.isascii() and tags.count("h1") == 1
    fragments = MATH.findall(page)
    assert len(fragments) == page.count("<math") > 0
    for fragment in fragments:
        root = ET.fromstring(fragment)
        assert {e.tag for e in root.iter()} <= MATHML_TAGS, fragment[:300]
    return parsed


def test_every_command_with_format_is_covered():
    # autograd needs torch: its page is checked in tests/test_autograd.py
    assert _commands_with_format() - {"autograd"} == {args[0] for args in HTML_RUNS.values()}


@pytest.mark.parametrize("name", list(HTML_RUNS))
def test_format_html_writes_one_self_contained_page(name):
    r = run(*HTML_RUNS[name], "--format", "html")
    assert r.exit_code == 0, r.output[-2000:]
    parsed = check_page(r.output)
    text = " ".join("".join(parsed.text).split())
    assert "Network: " in text
    if name.startswith("grad"):
        assert "Verdict: equal" in text and "Sum over paths:" in text and "Backpropagation:" in text
    if name in ("grad values", "grad batch"):
        assert "(all three forms)" in text and "At the given values" in text
    if name == "paths":
        assert "3 paths from" in text and "1 more path not shown" in text and text.count("path ") >= 2
    if name == "table":
        assert r.output.count("<tr>") == 1 + 12 and text.count("equal") == 12
    if name.startswith("matrix"):
        assert "Forward pass" in text and "Backward pass" in text and "Verified:" in text and "<mtable>" in r.output
    if name == "check":
        assert "Your answer:" in text and "Verdict: correct" in text


def test_the_html_page_is_the_python_apis_and_holds_what_the_text_holds():
    net = dc.dense("2,2,2", activation="sigmoid", output_activation="sigmoid", loss="half-squared", bias=True)
    values = api.given_values(PUBLISHED_VALUES, None)
    results = [api.grad(net, "W5", 1000, None, "mean"), api.grad(net, "W5", 1000, values, "mean"), api.paths(net, "W5", 10),
               api.show(net), api.formula(net, "W5"), api.steps(net, "W5"), api.step(net, values, "0.5", 1, (), None, "mean", None),
               api.table(net, 0), api.matrix(net, None, "mean"), api.matrix(net, values, "mean"),
               api.check(net, "W5", "(Out1 - Y1)*H1"), api.exercise(3)]
    results += [api.hessian(net, "W5", "W1"), api.hessian(net, "W5", "W5", values=values), api.hessian(net, values=values, newton=True)]
    # a command's results (a matrix graph's: test_matrix_chain; autograd's, which needs torch: test_autograd)
    assert {kind(r) for r in results} == set(KINDS) - {"batch_at_values", "batch_matrix", "verdict", "chain",
                                                       "matrix_gradient", "autograd"}
    for result in results:
        page = dc.render(result, "html")
        check_page(page)
        if kind(result) != "table":
            assert page == render(result, Format.html)
    # The numbers are the text output's.
    at = results[1]
    assert str(at.backprop) in dc.render(at, "text") and str(at.backprop).replace("-", "") in dc.render(at, "html")
    dc.emit(results[0], "text", io.StringIO())
    assert dc.render(results[0], "html").startswith("<!DOCTYPE html>")  # dc.render is still the function after dc.emit


def test_user_text_is_escaped_in_every_page(tmp_path):
    file = tmp_path / "n.toml"
    file.write_text('name = "</p><script>alert(1)</script> & <b>"\ninputs = ["X1"]\n[[neurons]]\nname = "Out"\n'
                    'inputs = { X1 = "W1" }\noutput = true\n')
    for args in (["grad", "W1"], ["paths", "W1"], ["show"], ["table"], ["formula", "W1"], ["steps", "W1"]):
        r = run(*args, "--network", str(file), "--format", "html")
        assert r.exit_code == 0, r.output
        check_page(r.output)
        assert "<script" not in r.output and "<b>" not in r.output
        assert "&lt;/p&gt;&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;" in r.output, args


def test_the_same_input_gives_the_same_page_in_any_process():
    outs = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
        done = subprocess.run([sys.executable, "-m", "derivchain", "matrix", "--values", PUBLISHED_VALUES, *PUBLISHED, "--format", "html"],
                              capture_output=True, env=env)
        assert done.returncode == 0, done.stderr
        outs.add(done.stdout)
    assert len(outs) == 1


def test_every_general_equation_is_mathml():
    from derivchain.engines.formula import L2_GENERAL
    from derivchain.model.notation import GRAPH_GENERAL, NOTATIONS

    printer = mathml_printer(dc.default_network())
    lines = [l for n in NOTATIONS.values() for _, l in n.general] + [l for _, l in GRAPH_GENERAL] + [L2_GENERAL[1]]
    for line in lines:
        xml = printer.xml(tex(printer, line))
        assert {e.tag for e in ET.fromstring(f"<math>{xml}</math>").iter()} <= MATHML_TAGS
    frac = printer.xml(tex(printer, r"\frac{\partial \mathrm{Loss}}{\partial W_{i \to j}} = \sum_{s=1}^{m} \mathbf{1}"))
    assert frac.startswith("<mrow><mfrac><mrow><mo>&#8706;</mo><mi>Loss</mi></mrow><mrow><mo>&#8706;</mo><msub><mi>W</mi>")
    assert "<munderover><mo>&#8721;</mo>" in frac and "<mn>&#120783;</mn>" in frac  # a bold 1, as MathML Core draws it
    with pytest.raises(ValueError, match="no MathML for"):
        tex(printer, r"\unknown{x}")


# --- a real browser -----------------------------------------------------------------------------------
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
NEEDS_BROWSER = pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"), reason="no chromium installed (CI installs one)")


def chromium(page: Path, *args: str) -> subprocess.CompletedProcess:
    """Chromium, headless, offline, in a fresh profile, on ``page``; console messages on stderr."""
    with tempfile.TemporaryDirectory(prefix="derivchain-chromium-") as profile:
        return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                               "--disable-background-networking", "--disable-component-update", "--disable-sync",
                               "--hide-scrollbars", f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
                               *args, page.as_uri()], capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def _console(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


@NEEDS_BROWSER
@pytest.mark.parametrize("name", ["grad values", "matrix batch"])
def test_chromium_renders_the_page_without_a_console_message(name, tmp_path):
    page = tmp_path / "page.html"
    page.write_text(run(*HTML_RUNS[name], "--format", "html").output, encoding="utf-8")
    shot = chromium(page, "--window-size=1000,1600", f"--screenshot={tmp_path / 'page.png'}")
    assert shot.returncode == 0 and _console(shot.stderr) == [], shot.stderr[-2000:]
    png = (tmp_path / "page.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 20_000
    dom = chromium(page, "--dump-dom")
    assert dom.returncode == 0 and _console(dom.stderr) == []
    # The MathML survived the HTML parser: the same MathML elements, in the same order, in the live DOM.
    tags = lambda text: [t for t, _ in Parsed(text).tags if t in MATHML_TAGS]  # noqa: E731
    assert tags(dom.stdout) == tags(page.read_text(encoding="utf-8")) and dom.stdout.count("<svg") == page.read_text().count("<svg")


@pytest.mark.parametrize("fmt", ["text", "json", "markdown", "latex", "html"])
def test_a_verdict_and_a_chain_render_alone_in_every_format(fmt, net):
    # dc.verify's result and one verified equality are results too: every format prints them.
    import sympy as sp

    d = dc.derive(net, "W1")
    x = sp.Symbol("x", real=True)
    wrong = dc.verify({"a": sp.tanh(x) + x, "b": sp.tanh(x)})
    shown = render(wrong, fmt)
    assert "NOT equal" in shown or "not equal" in shown.lower() or '"equal": false' in shown
    chain = render(d.entry_chain, fmt)
    assert ("delta_H1" in chain or r"\delta_{H_{1}}" in chain or "<mi>&#948;</mi>" in chain or "&#948;" in chain), chain[:300]
    if fmt == "json":
        data = json.loads(shown)
        assert data["equal"] is False and data["counterexample"]["values"][0] != data["counterexample"]["values"][1]
        assert json.loads(chain)["verified"] is True
    for result in (wrong, d.entry_chain):
        assert result._repr_latex_().startswith("$$") and "<script" not in result._repr_html_()


def test_free_text_never_reaches_a_terminal_or_a_document_raw():
    from derivchain.renderers import markdown, written
    from derivchain.renderers.latex import DerivPrinter
    from derivchain.renderers.terminal import write_lines
    from derivchain.renderers.text import Line
    import io

    # Markdown: a line break in a title or a name could start a heading; a '#' run could close one.
    assert "\n" not in markdown.escape("T\n# H1\r\n## H2") and markdown.escape("a#") == "a\\#"
    # A file name in a link: percent-encoded, so it neither ends the link nor starts HTML.
    assert markdown.link("x)<img src=x onerror=alert(1)>.svg") == "x%29%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E.svg"
    assert markdown.link("my notes.svg") == "my%20notes.svg"
    # LaTeX text: no paragraph break, no character TeX refuses.
    assert DerivPrinter().text("a\n\nb\x1bc") == "a  b c"
    out = io.StringIO()
    written(["x\x1b[31m.md"], out)
    assert out.getvalue() == "wrote x\\x1b[31m.md\n"  # shown as its escape, not obeyed
    out = io.StringIO()
    write_lines([Line("a\x1b[2Jb\rc")], out)
    assert out.getvalue() == "a [2Jb c\n"


def test_a_slow_run_shows_progress_even_with_few_steps(monkeypatch):
    # Before: a bar only from 50 steps, so `step --steps 3` of a slow network ran silently for minutes.
    import time
    from derivchain import renderers

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    import rich.progress  # noqa: F401  (imported before the clock runs: slow on a loaded machine)

    for after, shown in ((0.1, True), (60, False)):
        err = Terminal()
        monkeypatch.setattr(sys, "stderr", err)
        monkeypatch.setattr(renderers, "PROGRESS_AFTER", after)
        with renderers.progress(3) as advance:
            advance()
            time.sleep(1.5)
            advance()
        assert ("deriving" in err.getvalue()) is shown, err.getvalue()


def test_no_bar_between_rows_written_to_the_terminal(monkeypatch):
    # table's rows stream to stdout while the bar runs: where stdout is the terminal too, the bar was redrawn
    # between the rows, glued to them ("deriving ... 38% 0:00:04W1183  32  equal"). The rows are the progress there;
    # with stdout a file or a pipe the bar still shows.
    import time
    from derivchain import renderers

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    import rich.progress  # noqa: F401

    monkeypatch.setattr(renderers, "PROGRESS_AFTER", 0.1)
    for out, shown in ((Terminal(), False), (io.StringIO(), True)):
        err = Terminal()
        monkeypatch.setattr(sys, "stderr", err)
        monkeypatch.setattr(sys, "stdout", out)
        with renderers.progress(3, streaming=True) as advance:
            advance()
            time.sleep(1.5)
            advance()
        assert ("deriving" in err.getvalue()) is shown, err.getvalue()
