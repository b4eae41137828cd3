"""The whitelist parser: what it accepts, what it refuses, and that refusing runs nothing."""

import re
import time

import pytest
import sympy as sp
from typer.testing import CliRunner

from derivchain.cli import app
from derivchain.errors import ExpressionError
from derivchain.symbolic.parse import parse_expression

x = sp.Symbol("x", real=True)
runner = CliRunner()


def parse(text):
    return parse_expression(text, {"x": x}, "--activation")


def test_accepts_the_documented_language():
    assert parse("x/(1+abs(x))") == x / (1 + sp.Abs(x))
    assert parse("0.25*x**2 - 3") == sp.Rational(1, 4) * x**2 - 3
    assert parse("max(x, 0.1*x) + tanh(x) + exp(-x) + 2**x") == sp.Max(x, x / 10) + sp.tanh(x) + sp.exp(-x) + 2**x


def test_reads_back_what_derived_forms_print():
    # erf' = 2*exp(-x**2)/sqrt(pi); exp(1) prints E; SymPy's derivative of a jump is DiracDelta; a step with
    # its value at 0 is Heaviside(u, v). Each parses back to the same expression (the rule table's names).
    for e in (2 * sp.exp(-x**2) / sp.sqrt(sp.pi), sp.E * x, sp.DiracDelta(x) * x, sp.Heaviside(x - 1, sp.Rational(1, 3)),
              sp.diff(sp.erf(x), x), 1 - sp.sign(x) ** 2):
        assert parse(str(e)) == e, e
    # A name of the expression's own comes first: a network's symbol E is that symbol, not e.
    own = sp.Symbol("E", real=True)
    assert parse_expression("E + pi", {"E": own}, "printed") == own + sp.pi


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("__import__('os').system('id')", "the call __import__('os').system(...) is not allowed"),
        ("().__class__.__base__.__subclasses__()", "is not allowed"),
        ("x.real", "'Attribute'"),
        ("lambda: 1", "'Lambda'"),
        ("[x]", "'List'"),
        ("y + 1", "unknown name 'y'"),
        ("exp", "used without arguments"),
        ("exp(x, 2)", "exp() takes 1 argument"),
        ("log(x, base=2)", "keyword arguments"),
        ("'x'", "is not a number"),
        ("x ==", "is not a valid expression"),
        ("9**9**9**9", "larger than 64"),
        ("((9**64)**64)**64", "more than 4096 bits"),
        ("x**1000", "larger than 64"),
        ("x" + "+x" * 300, "at most 500 are allowed"),
        ("-" * 60 + "x", "nested more than 40 levels deep"),
        ("1" * 40, "more than 30 characters"),
        ("x/0", "division by zero"),
        # The fix is in the message: the form of a call, where the text ends too early, an empty text.
        ("leaky_relu(x)", "takes 2 arguments, got 1 in 'leaky_relu(x)'; write leaky_relu(u, slope)"),
        ("max(x)", "got 1 in 'max(x)'; write max(a, b, ...)"),
        ("x +", "invalid syntax at the end: something is missing"),
        ("x y", "invalid syntax at character 3 ('y')"),
        ("   ", "the expression is empty; write one"),
    ],
)
def test_refuses(text, fragment):
    start = time.perf_counter()
    with pytest.raises(ExpressionError) as info:
        parse(text)
    assert fragment in str(info.value) and "\n" not in str(info.value)
    assert time.perf_counter() - start < 1  # bounded: nothing can hang the parser


def test_malicious_activation_runs_nothing(tmp_path):
    canary = tmp_path / "canary"
    for payload in (
        f"__import__('os').system('touch {canary}')",
        f"__import__('pathlib').Path('{canary}').touch()",
    ):
        r = runner.invoke(app, ["grad", "W1", "--activation", payload])
        assert r.exit_code == 2 and r.output.startswith("Error: activation: the call") and "Traceback" not in r.output
        r = runner.invoke(app, ["grad", "W1", "--loss", payload.replace("'", '"')])
        assert r.exit_code == 2
    assert not canary.exists()


def test_custom_activation_and_loss_end_to_end():
    r = runner.invoke(app, ["grad", "W1", "--activation", "x/(1+abs(x))", "--loss", "(Out-Y)**4/4", "--format", "json"])
    assert r.exit_code == 0, r.output
    assert '"equal": true' in r.output and "(Out - Y)**3" in r.output


@pytest.mark.parametrize("text, at", [("(x\n# Heading\n)", 3), ("x\r# comment", 2), ("x +\tx", 4),
                                      ("x\x1b[31m", 2), ("x\u202e + 1", 2), ("x\u2028", 2)])
def test_line_breaks_and_control_characters_are_refused_naming_the_position(text, at):
    # Before: a line break inside brackets parsed, and the activation's text reached the terminal and
    # the Markdown documents raw (a "# Heading" line there became a heading); "\r#..." commented the rest out.
    with pytest.raises(ExpressionError, match=rf"character {at} of the expression \({re.escape(repr(text[at - 1]))}\) does not print"):
        parse_expression(text, {"x": sp.Symbol("x")}, "activation")


@pytest.mark.parametrize("option, text", [("--activation", "(x\n# Heading\n)"), ("--loss", "(Out\n#x\n - Y)**2")])
def test_the_cli_refuses_an_expression_with_a_line_break_in_one_line(option, text):
    r = runner.invoke(app, ["grad", "W1", option, text, "--format", "markdown"])
    assert r.exit_code == 2 and "# Heading" not in r.output and "\n#" not in r.output
    assert r.output.count("\n") == 1 and "write the expression on one line" in r.output


def test_a_network_files_expression_with_a_line_break_is_refused(tmp_path):
    path = tmp_path / "net.toml"
    path.write_text('inputs = ["x"]\nloss = "e"\n[[nodes]]\nname = "e"\nexpr = """(w*x\n# Heading\n)"""\n')
    r = runner.invoke(app, ["show", "--network", str(path), "--format", "markdown"])
    assert r.exit_code == 2 and "\n#" not in r.output and "does not print" in r.output, r.output


def test_a_flat_sum_is_one_level_not_one_per_term():
    # 41 terms: Python nests them 40 deep, a reader sees one sum (and one product).
    names = {f"a{i}": sp.Symbol(f"a{i}", real=True) for i in range(60)}
    terms = list(names.values())
    assert parse_expression(" + ".join(names), names, "node") == sp.Add(*terms)
    assert parse_expression(" - ".join(names), names, "node") == terms[0] - sp.Add(*terms[1:])
    assert parse_expression("*".join(names) + "/a0", names, "node") == sp.Mul(*terms[1:])
    # Nesting is still bounded: brackets of sums inside products, minus signs, powers.
    with pytest.raises(ExpressionError, match="nested more than 40 levels"):
        parse("x*(" * 41 + "x" + ")" * 41)


def test_the_powers_a_flat_product_makes_are_bounded_as_a_towers():
    # A flat product is one level now, so the depth bound no longer stops x*x*...*x (65 factors, 40 levels before)
    # or x**64*x**64*...: the exponent they add up to is bounded as a tower's is (main's bound on powers).
    assert parse("x**32*x**32") == x**64 and parse("x**64/x") == x**63
    for text, exponent in (("x**64*x**64", 128), ("*".join(["x"] * 65), 65), ("x**-64/x", -65)):
        with pytest.raises(ExpressionError, match=f"the powers in .* add up to an exponent of {exponent}, larger than 64"):
            parse(text)


@pytest.mark.parametrize("text, char", [("ｘ*2", "'ｘ' (U+FF58) at character 1"), ("x*٣", "'٣' (U+0663) at character 3"),
                                        ("x*２", "'２' (U+FF12) at character 3"), ("xᵢ + x", "'ᵢ' (U+1D62) at character 2")])
def test_names_and_numbers_are_ascii(text, char):
    # Python reads a fullwidth x as x: an expression that means another name than it shows is refused.
    with pytest.raises(ExpressionError) as info:
        parse(text)
    assert char in str(info.value) and "is not ASCII" in str(info.value) and "\n" not in str(info.value)
