"""Notes with second derivatives (issue 24, part 5): export --hessian P,Q in Markdown, LaTeX/PDF and HTML, the pairs
of paths drawn in two colours, the three forms, and with --values the numbers and the block's split."""

import re
import shutil

import pytest
from typer.testing import CliRunner

from derivchain.cli import app

runner = CliRunner()
RELU = ["--layers", "2,2,1", "--activation", "relu", "--loss", "squared"]
RELU_VALUES = ["--set", "X1=1", "--set", "X2=2", "--set", "Y=1", "--set", "W1=0.5", "--set", "W2=0.25", "--set", "W3=-1",
               "--set", "W4=0.5", "--set", "W5=2", "--set", "W6=3"]


def run(*args):
    return runner.invoke(app, list(args))


def test_markdown_notes_hold_the_pairs_in_two_colours_the_forms_and_the_split(tmp_path):
    out = tmp_path / "n.md"
    r = run("export", "W5", "--hessian", "W1,W5", *RELU, *RELU_VALUES, "--out", str(out))
    assert r.exit_code == 0, r.output
    text = out.read_text()
    assert "## 6. Second derivatives" in text and "(#derivchain-second)" in text
    assert "2 pairs of paths, one from $W_{1}$ (red) and one from $W_{5}$ (blue)" in text
    # the hand-derived entry (tests/test_hessian.py): 2*W5*X1*theta(z1)*H1 + 2*(Out - Y)*X1*theta(z1) = 6 here
    assert re.search(r"- direct: 6\n- path pairs: 6\n- backprop: 6\n", text)
    # the block over W1, W5 and its split (tests/test_hessian_matrix.py): H = [[8, 6], [6, 2]], GN = [[8, 4], [4, 2]]
    assert "| W1 | 8 | 6 |" in text and "| W1 | 8 | 4 |" in text and "| W1 | 0 | 2 |" in text
    assert "Gauss-Newton" in text and "*Verdict:* equal" in text
    picture = (tmp_path / "n-pairs-1.svg").read_text()
    assert '<g class="edge hot" data-from="X1" data-to="H1">' in picture  # W1's own edge: red only
    assert 'class="edge hot second" data-from="H1" data-to="Out"' in picture and 'stroke="#1f77b4"' in picture
    assert re.search(r'data-id="Out"><circle [^>]*stroke-width="2.4"', picture)  # where the pairs meet
    assert "![the pairs of paths of W1 and W5](n-pairs-1.svg)" in text


def test_latex_notes_of_a_matrix_entry_compile(tmp_path):
    if not shutil.which("pdflatex") and not shutil.which("lualatex"):
        pytest.skip("no LaTeX engine")
    values = tmp_path / "v.json"
    values.write_text('{"X": [[0.1, -0.2], [0.4, 0.3]], "T": [[0.1, 0.0], [-0.1, 0.2]], "WQ": [[0.2, -0.1], [0.1, 0.15]], '
                      '"WK": [[-0.1, 0.2], [0.25, -0.15]], "WV": [[0.3, 0.1], [-0.1, 0.2]]}')
    out = tmp_path / "a.tex"
    r = run("export", "--brief", "--network", "attention:tokens=2,dim=2", "--hessian", "WQ[0,0],WK[0,1]", "--values", str(values),
            "--out", str(out), "--pdf")
    assert r.exit_code == 0, r.output
    tex = out.read_text()
    assert r"\section{Second derivatives}" in tex and "80 pairs of paths" in tex
    assert r"-3.25618842892095 \times 10^{-8}" in tex  # the entry at the values, not e-8 read as e - 8
    assert "more than 300 terms and factors" in tex  # the pair sum is bounded (12 pages unbounded)
    assert r"\draw[both]" in tex and "second/.style" in tex
    assert (tmp_path / "a.pdf").stat().st_size > 10_000


def test_html_notes_have_the_section_and_the_two_colour_picture(tmp_path):
    out = tmp_path / "n.html"
    r = run("export", "--brief", "--hessian", "W5,W5", "--hessian", "W1,W5", *RELU, *RELU_VALUES, "--out", str(out))
    assert r.exit_code == 0, r.output
    page = out.read_text()
    from test_renderers import check_page

    check_page(page)  # one self-contained page, well-formed MathML, nothing loaded
    section = page[page.index('<section id="second">'):]
    assert 'stroke="#1f77b4"' in section and "Verdict" in section
    # the heading and the pairs' paths typeset as the gradient sections' are (MathML), not plain text
    square = ('<h3><math displaystyle="true"><mrow><msup><mo>&#8706;</mo><mn>2</mn></msup><mi>Loss</mi><mo>/</mo><mo>&#8706;</mo>'
              '<msup><msub><mi>W</mi><mn>5</mn></msub><mn>2</mn></msup></mrow></math></h3>')
    assert square in section and "<h3>d2Loss" not in section, section[:600]
    assert "W1 -&gt; H1" not in section and "<li>W5 -&gt;" not in section
    assert re.search(r'<ol class="pairs"><li><math displaystyle="true"><mrow><mrow><msub><mi>W</mi><mn>\d</mn></msub>'
                     r'<mo>&#8594;</mo>', section), section
    assert section.count('<section id="second-') == 2 and "<li>direct: 6</li>" in section
    r = run("export", "--brief", "--hessian", "W5,W5", *RELU, "--out", str(tmp_path / "bare.html"))
    assert "At the given values" not in (tmp_path / "bare.html").read_text()  # no values, no numbers


def test_export_hessian_bad_input_is_one_line():
    for args, words in ((["--hessian", "W1"], "write two parameters P,Q"),
                        (["--set", "W1=1"], "add --hessian P,Q"),
                        (["--hessian", "W1,W9"], "W9")):
        r = run("export", *RELU, *args, "--out", "x.md")
        assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1 and words in r.output, r.output
    r = run("export", "--network", "examples/attention.toml", "--hessian", "WQ,WK[0,0]", "--out", "x.md")
    assert r.exit_code == 2 and 'name its entries, e.g. --hessian "WQ[0,0],WQ[0,0]"' in r.output, r.output


def test_a_long_direct_line_breaks_inside_its_function_in_latex_and_html(tmp_path):
    # d2Loss/(dW1 dW13) on the default network is W7*X1*sign(Out - Y) with Out written out: one line of 300
    # characters ran off the PDF page and scrolled the HTML page sideways; it breaks inside sign( ) now.
    from derivchain.renderers.document import DOCUMENT_WIDTH
    from derivchain.renderers.latex import visible_width

    r = run("export", "--hessian", "W1,W13", "--out", str(tmp_path / "n.tex"))
    assert r.exit_code == 0, r.output
    tex = (tmp_path / "n.tex").read_text()
    block = tex[tex.index("Direct, "):]
    block = block[block.index(r"\begin{align*}"):block.index(r"\end{align*}")]
    lines = [x for x in block.split("\\\\\n") if "sign" in x or "W_{14}" in x]
    assert len(lines) >= 2 and r"\operatorname{sign}\left(" in block, block
    assert all(visible_width(x) <= DOCUMENT_WIDTH + 12 for x in lines), [visible_width(x) for x in lines]
    assert all(x.count(r"\left") == x.count(r"\right") and x.count("{") == x.count("}") for x in lines), lines
    r = run("export", "--hessian", "W1,W13", "--out", str(tmp_path / "n.html"))
    assert r.exit_code == 0, r.output
    page = (tmp_path / "n.html").read_text()
    direct = page[page.index("<p>Direct, "):]
    direct = direct[:direct.index("</p>")]
    assert direct.count("<math") > 3, direct  # pieces a browser wraps between, not one wide formula


def test_a_derivative_of_a_long_sum_and_a_long_equation_break_within_the_page(tmp_path):
    # A step's d/dw (a long sum) and the network section's own equations (a wide layer's sums, a traced model's
    # long names) were one line each: they ran off the PDF page. Both break now, brackets balanced on each line.
    import sympy as sp

    from derivchain.model.network import dense
    from derivchain.renderers.document import DOCUMENT_WIDTH
    from derivchain.renderers.latex import expression_lines, printer_for, visible_width

    net = dense("14,2,1", activation="tanh", loss="half-squared")
    printer = printer_for(net)
    h1 = next(n for n in net.neurons if n.symbol.name == "H1")
    lines = expression_lines(printer, "x", sp.Derivative(h1.equation.args[0], net.weights[0], evaluate=False) * net.outputs[0].symbol,
                             DOCUMENT_WIDTH)
    assert len(lines) >= 2 and r"\frac{\partial}{\partial W_{1}} \left(" in lines[0], lines
    assert all(visible_width(x) <= DOCUMENT_WIDTH + 12 for x in lines), [visible_width(x) for x in lines]
    assert all(x.count(r"\left") == x.count(r"\right") for x in lines), lines
    r = run("export", "W1", "--layers", "14,2,1", "--activation", "tanh", "--out", str(tmp_path / "n.tex"))
    assert r.exit_code == 0, r.output
    tex = (tmp_path / "n.tex").read_text()
    network = tex[tex.index(r"\section{The network}"):tex.index(r"\section", tex.index(r"\section{The network}") + 10)]
    block = network[network.index(r"\begin{aligned}") if r"\begin{aligned}" in network else network.index(r"\begin{align"):]
    rows = [x for x in block.split("\\\\") if "&" in x]
    assert any(r"H_{1} &=" in x for x in rows) and any(r"\quad" in x for x in rows), rows[:4]
    assert all(visible_width(x) <= DOCUMENT_WIDTH + 12 for x in rows), [visible_width(x) for x in rows]
