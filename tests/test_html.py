"""HTML notes: one self-contained page (MathML, inline SVG, no script, nothing loaded), the same content
as the other notes, printed from the verified objects, escaped, deterministic, and rendered by a real
browser (Chromium, headless) without a console message."""

from __future__ import annotations

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
import sympy as sp
from typer.testing import CliRunner

from derivchain import api
from derivchain.cli import app
from derivchain.verification.derivation import derive
from derivchain.renderers.export import html_document
from derivchain.verification.notes import Notes
from derivchain.model.network import default_network, dense
from derivchain.model.notation import get_notation
from derivchain.renderers.html import MathMLPrinter, mathml, pieces, printer_for
from derivchain.verification.steps import step_by_step

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()
SIGMOID = ["--layers", "2,2,2", "--activation", "sigmoid", "--output-activation", "sigmoid", "--loss", "half-squared", "--bias"]
MATHML_TAGS = {"math", "mrow", "mi", "mn", "mo", "mtext", "mfrac", "msub", "msup", "msubsup", "mover", "msqrt", "mroot", "mspace"}
MATH = re.compile(r"<math\b[^>]*>.*?</math>", re.S)


def export(tmp_path: Path, args: list[str], name: str = "notes.html") -> str:
    out = tmp_path / name
    r = runner.invoke(app, ["export", *args, "--out", str(out)])
    assert r.exit_code == 0, r.output
    return out.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, str]:
    """The two pages looked at: the default network's W7 and W1, and a sigmoid network with biases."""
    folder = tmp_path_factory.mktemp("pages")
    return {"default": export(folder, ["W7", "W1"], "default.html"), "sigmoid": export(folder, SIGMOID, "sigmoid.html")}


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

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def test_export_writes_one_page_and_never_clobbers(tmp_path):
    text = export(tmp_path, ["W7", "W1"])
    assert [p.name for p in tmp_path.iterdir()] == ["notes.html"]  # no SVG beside it: the diagrams are inline
    assert text.startswith("<!DOCTYPE html>\n") and text.endswith("</html>\n")
    r = runner.invoke(app, ["export", "W1", "--out", str(tmp_path / "notes.html")])
    assert r.exit_code == 2 and "already exists; pass --force" in r.output
    assert (tmp_path / "notes.html").read_text(encoding="utf-8") == text
    r = runner.invoke(app, ["export", "W7", "W1", "--out", str(tmp_path / "notes.html"), "--force"])
    assert r.exit_code == 0 and (tmp_path / "notes.html").read_text(encoding="utf-8") == text  # the same bytes again
    r = runner.invoke(app, ["export", "--out", str(tmp_path / "notes.htm")])
    assert r.exit_code == 2 and ".tex (LaTeX), .md (Markdown) or .html (HTML)" in r.output
    r = runner.invoke(app, ["export", "W1", "--out", str(tmp_path / "x.html"), "--pdf"])
    assert r.exit_code == 2 and "--pdf compiles a whole .tex document" in r.output


def test_python_api_writes_the_same_page(tmp_path):
    cli = export(tmp_path, ["W7", "W1"])
    written = api.export(default_network(), ["W7", "W1"], str(tmp_path / "api.html"))
    assert written == [tmp_path / "api.html"] and written[0].read_text(encoding="utf-8") == cli


def test_snippet_is_the_body_with_its_style(tmp_path):
    text = export(tmp_path, ["W7", "--snippet"])
    assert text.startswith('<div class="derivchain">\n<style>') and "<html" not in text and "<h1>" not in text
    assert "<math" in text and "<svg" in text


@pytest.mark.parametrize("name", ["default", "sigmoid"])
def test_page_is_self_contained(pages, name):
    page = pages[name]
    parsed = Parsed(page)
    tags = [t for t, _ in parsed.tags]
    assert not {"script", "link", "img", "iframe", "object", "embed", "base", "form"} & set(tags)
    assert "://" not in page and "@import" not in page and "url(" not in page.replace("url(#", "")
    for tag, attrs in parsed.tags:
        assert not [a for a in attrs if a.startswith("on")], (tag, attrs)  # no event handlers
        assert "src" not in attrs and attrs.get("href", "#").startswith("#"), (tag, attrs)
    assert page.isascii()  # deterministic bytes in any encoding: every other character a numeric reference
    meta = [a for t, a in parsed.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert meta and "default-src 'none'" in meta[0]["content"] and "script" not in meta[0]["content"]
    ids = [a["id"] for _, a in parsed.tags if "id" in a]
    assert len(ids) == len(set(ids))  # every diagram has its own arrowhead id


@pytest.mark.parametrize("name", ["default", "sigmoid"])
def test_every_math_element_is_well_formed_mathml(pages, name):
    page = pages[name]
    fragments = MATH.findall(page)
    assert len(fragments) == page.count("<math") > 50
    for fragment in fragments:
        root = ET.fromstring(fragment)
        assert root.tag == "math" and root.get("display") in (None, "block")
        assert {e.tag for e in root.iter()} <= MATHML_TAGS, fragment
    assert "<mfrac>" in page  # partial derivatives and quotients are real fractions


def test_layered_notation_writes_its_indices_as_scripts():
    net = dense("2,2,2,1", activation="tanh", notation="layered")
    assert mathml(net.parameter("w2_1_2"), net) == "<msubsup><mi>w</mi><mn>12</mn><mn>2</mn></msubsup>"
    assert mathml(sp.Symbol("O2_1"), net) == "<msub><mi>O</mi><mn>21</mn></msub>"
    wide = dense("2,12,1", notation="layered")
    assert mathml(wide.parameter("w2_12_1"), wide) == ('<msubsup><mi>w</mi><mrow><mn>12</mn><mo separator="true">,</mo>'
                                                       "<mn>1</mn></mrow><mn>2</mn></msubsup>")
    flat = default_network()
    assert mathml(sp.Symbol("delta_H4"), flat) == "<msub><mi>&#948;</mi><msub><mi>H</mi><mn>4</mn></msub></msub>"


@pytest.mark.parametrize("name", ["a_b_c", "W__a", "Out_1", "delta_Out_1", "x9y", "Hidden_layer_12_b", "L", "w2_1_12", "O1_12"])
def test_any_name_is_well_formed_mathml(name):
    for notation in ("flat", "layered"):
        printer = MathMLPrinter({"notation": get_notation(notation)})
        root = ET.fromstring(f"<math>{printer.doprint(sp.Symbol(name))}</math>")
        shown = "".join(root.itertext()).replace(",", "")
        assert {e.tag for e in root.iter()} <= MATHML_TAGS and sorted(shown) == sorted(name.replace("_", "").replace("delta", "\u03b4"))


def test_functions_are_written_as_the_rules_table_writes_them():
    net = dense("2,1,1", activation="sigmoid", loss="abs")
    x = net.inputs[0]
    from derivchain.symbolic.functions import leaky_relu, relu

    assert mathml(sp.sign(x), net) == '<mrow><mi>sign</mi><mo>&#8289;</mo><mrow><mo stretchy="false">(</mo><msub><mi>X</mi><mn>1</mn></msub><mo stretchy="false">)</mo></mrow></mrow>'
    assert "<mi>&#963;</mi>" in mathml(net.neurons[0].equation, net)  # sigma
    assert "<mi>ReLU</mi>" in mathml(relu(x), net) and "<msub><mi>LeakyReLU</mi><mfrac>" in mathml(leaky_relu(x, sp.Rational(1, 5)), net)
    assert mathml(sp.exp(-x), net).startswith("<msup><mi>e</mi><mrow><mo>&#8722;</mo>")
    assert mathml(sp.Abs(x - 1), net).startswith("<mrow><mo>|</mo>")
    assert mathml(sp.Heaviside(x, 0), net).count("<mn>0</mn>") == 0  # the value at 0 is in the notes, as in LaTeX


def test_every_printed_form_is_a_verified_one(pages):
    """Each chain's forms and each step-by-step line appear exactly as the printer writes those objects."""
    page = pages["sigmoid"]
    net = dense("2,2,2", activation="sigmoid", output_activation="sigmoid", loss="half-squared", bias=True)
    printer = printer_for(net)
    for p in net.parameters:
        d = derive(net, p)
        assert d.checked
        for c in (*d.path_chains, d.sum_chain, d.entry_chain, *d.delta_chains):
            for f in c.forms:
                for piece in pieces(printer, f):
                    assert printer.xml(piece) in page, (p, c)
        s = step_by_step(net, p)
        assert s.verified
        for st in s.steps[1:]:
            for piece in pieces(printer, st.expr):
                assert printer.xml(piece) in page
    text = "".join(Parsed(page).text)
    for word in ("Every derivative", "Sum over paths:", "Backpropagation:", "Direct", "Verdict:", "Step by step"):
        assert word in text
    assert text.count("Verdict: equal") == len(net.parameters)


def test_a_line_wraps_between_brackets_never_inside_a_short_one():
    # As in the LaTeX notes: each short bracket of a long product is one piece, whole.
    H1, W5, X1, Out, Y, c = sp.symbols("H1 W5 X1 Out Y c")
    e = W5 * X1 * (1 - H1**2) * (1 - Out**2) * (Out - Y) * (1 - sp.tanh(c) ** 2)
    printer = printer_for(dense("2,2,1", activation="tanh"))
    for split in (10, 20, 30):
        xml = [printer.xml(piece) for piece in pieces(printer, e, split)]
        assert len(xml) > 2, split
        assert all(x.count(">(<") == x.count(">)<") for x in xml), (split, xml)


def test_free_text_is_escaped(tmp_path):
    title = '<script>alert("x")</script> & <b>'
    net = dense("2,1")
    text = html_document(Notes(net, ["W1"]), title)
    assert "<script" not in text and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;" in text
    file = tmp_path / "n.toml"
    file.write_text('name = "</p><script>x</script>"\ninputs = ["X1"]\n[[neurons]]\nname = "Out"\ninputs = { X1 = "W1" }\noutput = true\n')
    text = html_document(Notes(api.network(str(file)), []), "t")
    assert "<script" not in text and "&lt;/p&gt;&lt;script&gt;" in text


def test_the_same_input_gives_the_same_bytes_in_any_process(tmp_path):
    outs = []
    for seed in ("1", "2"):
        out = tmp_path / f"n{seed}.html"
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
        done = subprocess.run([sys.executable, "-m", "derivchain", "export", *SIGMOID, "B1", "W5", "--out", str(out)],
                              capture_output=True, text=True, env=env, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]


# --- a real browser ----------------------------------------------------------------------------------
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# On CI (CI=true) a missing browser is a failure, not a skip: .ci/run installs one.
NEEDS_BROWSER = pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"), reason="no chromium installed (CI installs one)")


def chromium(page: Path, *args: str) -> subprocess.CompletedProcess:
    """Chromium, headless, offline, in a fresh profile, on ``page``; console messages on stderr."""
    with tempfile.TemporaryDirectory(prefix="derivchain-chromium-") as profile:
        return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                               "--disable-background-networking", "--disable-component-update", "--disable-sync",
                               "--hide-scrollbars", f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
                               *args, page.as_uri()], capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def console(stderr: str) -> list[str]:
    """What the page said on the console (errors, refused loads, blocked scripts)."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


def screenshot(page: Path, png: Path, size: str = "1000,2600", least: int = 20_000) -> list[str]:
    """Render ``page`` to ``png``; what it said on the console."""
    run = chromium(page, f"--window-size={size}", f"--screenshot={png}")
    assert run.returncode == 0, run.stderr[-2000:]
    data = png.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > least  # a page with content, not a blank one
    return console(run.stderr)


def _math_tags(text: str) -> list[str]:
    return [t for t, _ in Parsed(text).tags if t in MATHML_TAGS]


@NEEDS_BROWSER
def test_the_console_check_sees_errors(tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><p>x</p><script>throw new Error('boom')</script>")
    assert any("Uncaught Error: boom" in line for line in screenshot(bad, tmp_path / "bad.png", "400,300", 500))


@NEEDS_BROWSER
@pytest.mark.parametrize("name", ["default", "sigmoid"])
def test_chromium_renders_the_page_without_a_console_message(pages, name, tmp_path):
    page = tmp_path / f"{name}.html"
    page.write_text(pages[name], encoding="utf-8")
    assert screenshot(page, tmp_path / f"{name}.png") == []
    dom = chromium(page, "--dump-dom")
    assert dom.returncode == 0 and console(dom.stderr) == []
    # The MathML survived the HTML parser: the same MathML elements, in the same order, in the live DOM.
    assert _math_tags(dom.stdout) == _math_tags(pages[name]) and dom.stdout.count("<svg") == pages[name].count("<svg")


def test_an_escaped_underscore_in_an_upright_name_is_an_underscore_in_mathml():
    # a PyTorch parameter dec_bias is typeset \mathrm{dec\_bias}; the HTML printed "dec\_bias" literally
    from derivchain.renderers.html import MathMLPrinter

    printer = MathMLPrinter()
    assert printer.xml(printer.from_latex(r"\mathrm{dec\_bias}_{0}")) == "<msub><mi>dec_bias</mi><mn>0</mn></msub>"
