"""Fuzzing the command line in-process: random arguments, random network and values files, random
expressions. Whatever comes in: no traceback, an exit code that means something (0, 1 or 2), no
hang (a deadline per example), no file written outside the output path, nothing executed."""

from __future__ import annotations

import json
import re
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from derivchain.cli import app

runner = CliRunner()
CANARY = Path("/tmp/derivchain-fuzz-canary")

HOSTILE = [
    "__import__('os').system('touch /tmp/derivchain-fuzz-canary')",
    "().__class__.__base__.__subclasses__()", "9**9**9**9", "1e999999999", "-1e999999999", "1" * 5000,
    "nan", "inf", "-0", "1/0", "0/0", "x/(1+abs(x))", "(Out-Y)**4/4", "\x1b[31mred\x1b[0m", "W1\n", "W_",
    "W__a", "W_1_2_3", "\\input{/etc/passwd}", "<script>alert(1)</script>", "$$", "{", "}", "%", "é", "",
    " ", "sigmoid", "leaky_relu:1e999999", "leaky_relu:0.2", "relu", "softmax", "cross-entropy", "abs",
    "x" * 600, "(" * 100 + "x" + ")" * 100, "exp(exp(exp(x)))", "log(x)", "1/x", "sign(x)*x",
    # issue 21: towers multiplied out, line breaks with a comment or a heading after them
    "((((x**64)**64)**64)**64)**64", "((Out - Y)**64)**64", "(x\n# Heading\n)", "x\r# comment", "(2*x)**64",
]
# Forms SymPy writes with constants, delta functions or pending derivatives (issue 21): all resolved before printing.
HOSTILE += ["erf(x)", "heaviside(x)", "heaviside(x, 0)*x + sign(x - 1)", "max(heaviside(x, 1/3), x/2)", "E*x + pi",
            "max(Out - Y, heaviside(Y - Out))"]
NAMES = ["W1", "W7", "B1", "X1", "Y", "Out", "H1", "Loss", "w1_1_1", "W99", "delta_H1"]
COMMANDS = ["grad", "paths", "show", "table", "formula", "steps", "step", "draw", "export"]


def _layers():
    return st.lists(st.integers(min_value=0, max_value=4), min_size=0, max_size=5).map(lambda xs: ",".join(map(str, xs)))


def _network_file():
    name = st.sampled_from(["X1", "X2", "H1", "H2", "Out", "W1", "W2", "W3", "W4", "B1", "lambda", "exp", "Y", "a b", "", 3])
    neuron = st.fixed_dictionaries(
        {"name": name, "inputs": st.dictionaries(name.filter(lambda n: isinstance(n, str)), name, max_size=3)},
        optional={"output": st.booleans(), "activation": st.sampled_from(HOSTILE[:20] + ["tanh", "sigmoid"]), "bias": name},
    )
    return st.fixed_dictionaries(
        {"inputs": st.lists(name, max_size=3), "neurons": st.lists(neuron, max_size=4)},
        optional={"loss": st.sampled_from(HOSTILE), "name": st.sampled_from(HOSTILE), "targets": st.lists(name, max_size=2),
                  "junk": st.integers()},
    )


def _values_file():
    return st.dictionaries(st.sampled_from(NAMES + ["X2", "W2", "W3", "W4", "W5", "W6"]),
                           st.one_of(st.integers(-10**6, 10**6), st.floats(allow_nan=False, allow_infinity=False, width=32),
                                     st.sampled_from(HOSTILE)), max_size=12)


VALUES_COMMANDS = ("grad", "step")
OPTIONS = {  # the options each command takes (and, now and then, one it does not)
    "grad": ("--format", "--max-paths", "--values", "--set"),
    "paths": ("--format", "--max-paths"),
    "show": ("--format",),
    "table": ("--format", "--max-paths"),
    "formula": ("--format",),
    "steps": ("--format",),
    "step": ("--format", "--values", "--set", "--lr", "--steps", "--freeze"),
    "draw": (),
    "export": ("--max-paths", "--title", "--snippet", "--pdf"),
}
POOLS = {
    "--format": ["text", "latex", "markdown", "json", "xml"], "--max-paths": ["0", "3", "-1", "1000000"],
    "--set": ["W1=0.5", "X1=1e999999999", "W1", "=", "Y=nan", "W1=1/3", "X1=-2"], "--lr": ["0.5", "-1", "1e999999", "1/3"],
    "--steps": ["1", "0", "3", "100000"], "--freeze": ["B*", "W1", "nothing*"], "--title": HOSTILE,
    "--snippet": None, "--pdf": None,
}


@st.composite
def invocation(draw, folder: Path):
    command = draw(st.sampled_from(COMMANDS))
    args = [command]
    if command in ("grad", "paths", "steps") or (command in ("formula", "draw", "export") and draw(st.booleans())):
        args.append(draw(st.sampled_from(NAMES + HOSTILE[:8])))
    if draw(st.integers(0, 15)) == 0:  # a FIFO as the network file: refused at once, never waited on
        fifo = folder / "fifo.toml"
        if not fifo.exists():
            os.mkfifo(fifo)
        args += ["--network", str(fifo)]
    elif draw(st.integers(0, 3)) == 0:
        data = draw(_network_file())
        suffix = draw(st.sampled_from([".json", ".toml", ".json", ".txt"]))
        path = folder / f"net{suffix}"
        if suffix == ".json":
            path.write_text(json.dumps(data))
        else:
            path.write_text("\n".join(f"{k} = {json.dumps(v)}" for k, v in data.items() if k != "neurons"))
        args += ["--network", str(path)]
    else:
        for option, pool in (("--layers", None), ("--activation", HOSTILE[10:] + ["tanh", "sigmoid", "relu"]),
                             ("--output-activation", ["sigmoid", "identity", "tanh", "x/(1+abs(x))"]),
                             ("--loss", HOSTILE[5:] + ["squared", "half-squared"]), ("--notation", ["flat", "layered", "curly"]),
                             ("--bias", None)):
            if draw(st.integers(0, 2)) == 0:
                if option == "--bias":
                    args.append("--bias")
                else:
                    args += [option, draw(_layers()) if pool is None else draw(st.sampled_from(pool))]
    allowed = list(OPTIONS[command])
    if draw(st.integers(0, 6)) == 0:
        allowed.append(draw(st.sampled_from(list(POOLS))))  # one it may not take
    for option in allowed:
        if option in ("--values", "--set"):
            continue
        if draw(st.integers(0, 2)) == 0:
            pool = POOLS[option]
            args += [option] if pool is None else [option, draw(st.sampled_from(pool))]
    if "--values" in OPTIONS[command] and draw(st.integers(0, 2)) < 2:
        path = folder / "values.json"
        path.write_text(json.dumps(draw(_values_file()), default=str))
        args += ["--values", str(path)]
        if draw(st.booleans()):
            args += ["--set", draw(st.sampled_from(POOLS["--set"]))]
    if draw(st.integers(0, 8)) == 0:
        args += ["--limit", draw(st.sampled_from(["layers=3", "bogus=1", "printed_nodes=50", "width=2"]))]
    if command in ("draw", "export"):
        args += ["--out", str(folder / draw(st.sampled_from(["o.tex", "o.svg", "o.md", "o.pdf", "sub/o.tex", "."])))]
        if draw(st.booleans()):
            args.append("--force")
    return args


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


# The verifier, fuzzed with unequal pairs of the classes a hostile probe found (issue 21): it may say
# NOT equal or undecided, never equal.
@st.composite
def unequal_pair(draw):
    import sympy as sp

    from derivchain.symbolic.functions import relu, sigmoid

    x, y = sp.symbols("x y", real=True)
    kind = draw(st.sampled_from(["saturated", "tiny term", "far breakpoint", "bump", "zero argument", "bump in two symbols",
                                 "past every power of ten"]))
    big = draw(st.integers(40, 400))
    if kind == "saturated":  # a value a digit-count below its limit, against the limit
        f = draw(st.sampled_from([sp.tanh, sigmoid, sp.erf]))
        return x * f(big + y**2), x
    if kind == "tiny term":  # a term far below its sum, built from short constants
        c = draw(st.integers(1, 9))
        return draw(st.sampled_from([x + c * sp.exp(-big), x * (1 + c * sp.exp(-big)), x**2 + sp.exp(-y**2 - big)])), \
            draw(st.sampled_from([x, x, x**2]))
    if kind == "far breakpoint":  # a breakpoint not linear in any symbol, far from the origin
        k, n, c = draw(st.integers(2, 5)), draw(st.integers(13, 60)), draw(st.integers(1, 9))
        kink = draw(st.sampled_from([x**k - c * 10**n, x**k * y**2 - c * 10**n, c * 10**n - x**k]))
        return x + relu(kink), x
    if kind == "bump":  # a bump 10**-n wide at a point no scale reaches
        n, p, q = draw(st.integers(12, 60)), draw(st.integers(-50, 50)), draw(st.integers(1, 97))
        at = sp.Rational(p, q)
        return x + relu(1 - 10**n * draw(st.sampled_from([sp.Abs(x - at), (x - at) ** 2]))), x
    if kind == "bump in two symbols":  # positive only within 10**-n of a point no symbol alone reaches
        n, p, q, r = draw(st.integers(12, 40)), draw(st.integers(-50, 50)), draw(st.integers(1, 97)), draw(st.integers(1, 97))
        at, other = sp.Rational(p, q), sp.Rational(q, r)
        distance = draw(st.sampled_from([sp.Abs(x - at) + sp.Abs(y - other), (x - at) ** 2 + (y - other) ** 2]))
        return x + relu(1 - 10**n * distance), x
    if kind == "past every power of ten":  # a breakpoint at exp(c), far past the constants' own size
        c = draw(st.integers(150, 4000))
        return x + draw(st.sampled_from([relu(sp.log(x) - c), relu(sp.log(x**2 + 1) - 2 * c), sp.Heaviside(sp.log(x) - c)])), x
    c = draw(st.integers(1, 50))  # an argument that is 0, not written as 0
    zero = (x + c) ** 2 - x**2 - 2 * c * x - c**2
    a, b = draw(st.lists(st.sampled_from([0, 1, sp.Rational(1, 2), y, 3]), min_size=2, max_size=2, unique=True))
    return sp.Heaviside(zero, a), sp.Heaviside(zero, b)


@settings(max_examples=int(os.environ.get("DERIVCHAIN_FUZZ_VERIFIER", "60")), deadline=20_000,
          suppress_health_check=[HealthCheck.too_slow])
@given(pair=unequal_pair())
def test_the_verifier_never_calls_an_unequal_pair_equal(pair):
    from derivchain.verification.compare import verify

    a, b = pair
    verdict = verify({"a": a, "b": b})
    assert not verdict.equal, (a, b, str(verdict))


@settings(max_examples=int(os.environ.get("DERIVCHAIN_FUZZ_EXAMPLES", "400")), deadline=20_000,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_the_cli_never_tracebacks(data, folder, monkeypatch):
    monkeypatch.chdir(folder)
    before = set(Path(folder).parent.iterdir())
    args = data.draw(invocation(folder))
    result = runner.invoke(app, args)
    assert result.exit_code in (0, 1, 2), (args, result.exit_code, result.output[-2000:])
    assert "Traceback" not in result.output, (args, result.output[-2000:])
    assert result.exception is None or isinstance(result.exception, SystemExit), (args, repr(result.exception))
    if result.exit_code == 2:
        errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1, (args, result.output[-2000:])
    assert set(Path(folder).parent.iterdir()) == before  # nothing written beside the output folder
    assert not CANARY.exists()  # nothing executed


CONTROL = ["\n", "\r", "\r\n", "\t", "\x1b[2J", "\x1b]0;title\x07", "\x00", "\x7f", "\x85", "\u2028", "\u202e", "\x0c"]


@st.composite
def injected(draw, base: list[str]):
    """Text from ``base`` with control characters and Markdown markup put in at random places."""
    text = draw(st.sampled_from(base))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(CONTROL)) + draw(st.sampled_from(["", "# H", "## H", "> q", "- l", "<b>"])) + text[at:]
    return text


@settings(max_examples=int(os.environ.get("DERIVCHAIN_FUZZ_EXAMPLES", "400")) // 4, deadline=20_000,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_free_text_never_reaches_the_terminal_or_a_document_raw(data, folder, monkeypatch):
    monkeypatch.chdir(folder)
    where = data.draw(st.sampled_from(["--activation", "--loss", "--title", "--out"]))
    if where in ("--activation", "--loss"):
        text = data.draw(injected(["x/(1+abs(x))", "tanh(x)", "x"] if where == "--activation" else ["(Out - Y)**2", "abs(Out - Y)"]))
        args = ["grad", "W1", "--layers", "2,2,1", where, text, "--format", data.draw(st.sampled_from(["text", "markdown"]))]
    else:
        title = data.draw(injected(["Notes", "réseau"])) if where == "--title" else "Notes"
        name = data.draw(injected(["o", "my notes"])).replace("/", "") if where == "--out" else "o"
        args = ["export", "W1", "--layers", "2,1", "--out", name + ".md", "--title", title, "--force"]
    result = runner.invoke(app, args)
    assert result.exit_code in (0, 2), (args, result.output[-2000:])
    assert all(line.isprintable() for line in result.output.split("\n")), (args, result.output[-2000:])
    if where in ("--activation", "--loss"):
        assert result.exit_code == 2 and ("does not print" in result.output or "unknown activation" in result.output), (args, result.output)
    elif result.exit_code == 0:
        document = (folder / (name + ".md")).read_text()
        assert [line for line in document.splitlines() if line.startswith("# ")] == [document.splitlines()[0]], args
        assert "<b>" not in document and all(" " not in link for link in re.findall(r"\]\(([^)]*)\)", document)), args
        for path in folder.glob("*.md"):
            path.unlink()
        for path in folder.glob("*.svg"):
            path.unlink()
