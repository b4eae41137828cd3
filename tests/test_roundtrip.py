"""What is printed is what was verified: every expression printed as text or JSON parses back, and every
link of every printed chain ``A = B = C`` is verified equal, on a corpus of networks (every activation
and loss, both notations, network files). LaTeX is built from the same objects: each chain's forms,
printed by the LaTeX printer, appear in the LaTeX output."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import sympy as sp

from derivchain.model.activations import ACTIVATIONS
from derivchain.verification.derivation import derive
from derivchain.symbolic.parse import parse_expression
from derivchain.model.losses import LOSSES
from derivchain.model.network_file import build_network, load_network
from derivchain.model.network import dense, real
from derivchain.renderers import render
from derivchain.renderers.latex import form as latex_form
from derivchain.renderers.latex import LINE_WIDTH, printer_for, visible_width
from derivchain.verification.compare import verify

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

CORPUS = [
    # every activation in the hidden layer
    *[dict(layers="2,2,1", activation=a, loss="half-squared", bias=True) for a in ACTIVATIONS],
    dict(layers="2,2,1", activation="leaky_relu:0.2", loss="squared"),
    dict(layers="2,2,1", activation="x/(1+abs(x))", loss="abs"),
    # every loss
    *[dict(layers="2,2,1", activation="tanh", output_activation="sigmoid", loss=l) for l in ("abs", "squared", "half-squared", "cross-entropy")],
    dict(layers="2,2,2", activation="sigmoid", loss="softmax", bias=True),
    dict(layers="2,2,1", activation="sigmoid", loss="(Out-Y)**4/4"),
    # the worked example, the published 2-2-2, deeper, both notations
    dict(),
    dict(layers="2,2,2", activation="sigmoid", output_activation="sigmoid", loss="half-squared", bias=True),
    dict(layers="2,3,2,1", activation="relu", loss="squared", notation="layered"),
    dict(layers="2,2,2,1", activation="sigmoid", output_activation="sigmoid", loss="cross-entropy", notation="layered", bias=True),
    dict(layers="3,2,2", activation="tanh", loss="squared", notation="layered"),
]
FILES = sorted(p.name for p in EXAMPLES.glob("*.*") if p.suffix in (".toml", ".json") and "values" not in p.name)
# Forms SymPy writes with constants or delta functions, and kinks with a convention: erf' holds sqrt(pi), a
# step's derivative DiracDelta, exp(1) prints E, a parameter as Heaviside's value at 0 has no SymPy derivative.
KINKS = [
    dict(layers="2,2,1", activation="erf(x)", loss="abs"),
    dict(layers="2,2,1", activation="heaviside(x)", loss="half-squared"),
    dict(layers="2,3,2,1", activation="sign(x)", loss="abs"),
    dict(layers="2,2,1", activation="x*exp(1) + heaviside(x, 0)*x", loss="squared", bias=True),
    dict(layers="2,2,1", activation="tanh", loss="max(Out - Y, heaviside(Y - Out)) + abs(sign(Out))"),
]
NODES = {
    "heaviside_value": [("h", "max(heaviside(x, p), q)")],
    "heaviside_value_nested": [("h", "heaviside(x, p)*x"), ("m", "max(h, q)")],
    "erf_node": [("a", "erf(w*x + b)"), ("o", "min(a, c)*sign(x - a)")],
}


def _nodes(nodes):
    return build_network({"loss": nodes[-1][0], "nodes": [{"name": n, "expr": e} for n, e in nodes]}, "kinks")


def _networks(kinks: bool = True):
    for spec in CORPUS + (KINKS if kinks else []):
        yield pytest.param(lambda spec=spec: dense(**spec), id=",".join(f"{k}={v}" for k, v in spec.items()) or "default")
    for name in FILES:
        yield pytest.param(lambda name=name: load_network(EXAMPLES / name), id=name)
    for name, nodes in NODES.items() if kinks else ():
        yield pytest.param(lambda nodes=nodes: _nodes(nodes), id=name)


def _symbols(net) -> dict[str, sp.Symbol]:
    names = [*net.inputs, *net.targets, *net.parameters, *(n.symbol for n in net.neurons), net.loss_symbol]
    table = {s.name: s for s in names}
    table.update({f"delta_{n.name}": real(f"delta_{n.name}") for n in net.neurons})
    return table


def _parse(text: str, symbols) -> sp.Expr:
    return parse_expression(text, symbols, "printed", max_length=None)


def _delta_rule(net):
    from derivchain.verification.derivation import delta_values

    return delta_values(net)


def _equal(a: sp.Expr, b: sp.Expr, net) -> bool:
    rule = _delta_rule(net)
    return verify({"a": net.substitute(a.xreplace(rule)), "b": net.substitute(b.xreplace(rule))}).equal


def _params(net):
    ps = list(net.parameters)
    return sorted({ps[0], ps[len(ps) // 2], ps[-1]}, key=ps.index)


_LABELS = re.compile(r"^(Sum over paths: |Backpropagation: |Direct: |Direct \(whole neurons written as their symbols\): |\s+)")


@pytest.mark.parametrize("make", list(_networks()))
def test_text_round_trip(make):
    net = make()
    symbols = _symbols(net)
    for p in _params(net):
        d = derive(net, p)
        assert d.checked, d
        out = render(d, "text")
        finals = []
        for line in out.splitlines():
            if line.strip().startswith("where "):  # a form that holds under a condition on the targets
                condition, equation = re.match(r"\s*where (.*?) \(.*?\): (.*)$", line).groups()
                left, right = (_parse(x, symbols) for x in condition.split(" = "))
                lhs, value = equation.split(" = ")
                last = net.targets[-1]
                rule = {last: sp.solve(sp.Eq(left, right), last)[0]}
                assert _equal(symbols[lhs].xreplace(_delta_rule(net)).xreplace(rule), _parse(value, symbols).xreplace(rule), net), line
                continue
            if " = " not in line or line.startswith(("Network:", "Verdict:", "Note:", "Case ")) or line.strip().startswith("("):
                continue
            body = _LABELS.sub("", line)
            lhs, *forms = body.split(" = ")
            parsed = [_parse(f, symbols) for f in forms]  # every printed form parses back
            assert all(a != b for a, b in zip(forms, forms[1:])), line  # no form printed twice in a row
            for a, b in zip(parsed, parsed[1:]):
                assert _equal(a, b, net), (line, a, b)
            if lhs.startswith("delta_"):
                assert _equal(symbols[lhs], parsed[-1], net), line
            if lhs == f"d{net.loss_symbol}/d{p}":
                finals.append(parsed[-1])
        assert len(finals) >= 2  # the sum over paths, backprop (and direct when printed)
        for f in finals:
            assert verify({"printed": net.substitute(f.xreplace(_delta_rule(net))), "direct": d.direct.value}).equal


@pytest.mark.parametrize("make", list(_networks()))
def test_json_round_trip(make):
    net = make()
    symbols = _symbols(net)
    for p in _params(net):
        d = derive(net, p)
        data = json.loads(render(d, "json"))
        # A direct form too large to print is left out and said so (not_printed: the 3-token attention's); the
        # other forms are then checked against backpropagation's substituted one.
        reference = "direct" if data["direct"] is not None else "backprop_substituted"
        assert data["direct"] is not None or any("direct" in n for n in data["not_printed"]), data["not_printed"]
        direct = _parse(data[reference], symbols)
        for key in ("path_sum", "backprop_substituted", "path_sum_local", "backprop"):
            assert _equal(_parse(data[key], symbols), direct, net), key
        for delta in data["deltas"]:
            assert _equal(_parse(delta["rhs"], symbols), _parse(delta["value"], symbols), net), delta
            assert _equal(symbols[delta["delta"]], _parse(delta["value"], symbols), net), delta
        for path in data["paths"]:
            product = sp.Mul(*(_parse(f["value"], symbols) for f in path["factors"]))
            assert _equal(product, _parse(path["term"], symbols), net)
        for chain in data["chains"]:
            assert chain["verified"]
            forms = [_parse(f, symbols) for f in chain["forms"]]
            for a, b in zip(forms, forms[1:]):
                assert _equal(a, b, net), chain
        assert data["checked"] is True and data["equal"] is True


@pytest.mark.parametrize("make", list(_networks()))
def test_latex_is_built_from_the_same_objects(make):
    net = make()
    printer = printer_for(net)
    for p in _params(net):
        d = derive(net, p)
        # A long sum is broken across aligned lines, each continued by its sign ({}+ ...): read it joined again.
        tex = render(d, "latex").replace(" \\\\\n&\\quad {}", " ")
        for c in (d.sum_chain, d.entry_chain, *d.delta_chains):
            for f in c.forms:
                piece = latex_form(printer, f)
                if visible_width(piece) <= LINE_WIDTH:  # longer ones are broken across lines
                    assert piece in tex, (c, piece)


def test_the_corpus_is_broad():
    assert len(CORPUS) + len(FILES) >= 20
    covered = {spec.get("activation", "identity") for spec in CORPUS}
    assert set(ACTIVATIONS) <= covered
    assert set(LOSSES) <= {spec.get("loss", "abs") for spec in CORPUS}
    assert {"flat", "layered"} <= {spec.get("notation", "flat") for spec in CORPUS}


_NAME = r"\w+(?:\[\d+,\d+\])?"  # a matrix entry's name too: d/dWQ[0,0](...)
_DERIVATIVE_NOTATION = re.compile(rf"d/d{_NAME}\(|\(d{_NAME}/d{_NAME}\)|\bd{_NAME}/d{_NAME}(?![\w\[])")


@pytest.mark.parametrize("make", list(_networks()))
def test_table_steps_and_formula_print_forms_that_parse_back(make):
    """Every form ``table``, ``steps`` and ``formula`` print as text parses back, and is the gradient it says:
    the table's column, the last step, each link of the formula's instance. A step still pending a derivative
    (``d/dW1(...)``, ``(dOut/dW1)``) is the steps' own notation, not an expression: it is the one thing left out."""
    from derivchain import api
    from derivchain.renderers.text import TABLE_GRADIENT_COLUMN

    net = make()
    symbols = _symbols(net)
    checked = {p.name for p in _params(net)}
    rows = render(api.table(net, expand=True), "text").splitlines()[2:]
    assert len(rows) == len(net.parameters)
    for row in rows:
        name, gradient = row.split()[0], _parse(row[TABLE_GRADIENT_COLUMN:], symbols)
        if name in checked:
            assert _equal(gradient, derive(net, net.parameter(name)).backprop.local, net), row
    for p in _params(net):
        gradient = derive(net, p).backprop.local
        lines = render(api.steps(net, p.name), "text").splitlines()[1:]
        forms = [line[4:] for line in lines if not line.startswith("      [")]
        assert forms and not forms[-1].startswith(" ")
        for f in forms:
            if not _DERIVATIVE_NOTATION.search(f):
                assert _equal(_parse(f, symbols), gradient, net), f
        assert _equal(_parse(forms[-1], symbols), gradient, net), forms[-1]
        text = render(api.formula(net, p.name), "text")
        instance = text[text.index(f"For {p.name}:"):].splitlines()[1:]
        for line in (ln.strip() for ln in instance if not ln.strip().startswith("(")):
            lhs, *shown = line.split(" = ")
            parsed = [_parse(f, symbols) for f in shown]
            for a, b in zip(parsed, parsed[1:]):
                assert _equal(a, b, net), line
            target = gradient if lhs == f"d{net.loss_symbol}/d{p}" else symbols[lhs]
            assert _equal(target, parsed[-1], net), line


@pytest.mark.parametrize("make", list(_networks()))
def test_a_delta_table_prints_rows_and_deltas_that_parse_back_to_the_gradient(make):
    """The delta table's rows and delta equations, as text, parse back; each row with its deltas replaced by
    their printed right-hand sides (outputs first) is the gradient."""
    from derivchain import api
    from derivchain.renderers.text import TABLE_GRADIENT_COLUMN

    net = make()
    symbols = _symbols(net)
    lines = render(api.table(net), "text").splitlines()
    deltas = [l[2:] for l in lines if l.startswith("  delta_")]
    values: dict = {}
    for line in deltas:  # outputs first: each right-hand side only names deltas already known
        name, rhs = line.split(" = ", 1)
        values[symbols[name]] = _parse(rhs, symbols).xreplace(values)
    rows = lines[len(deltas) + 3:]
    assert len(rows) == len(net.parameters)
    checked = {p.name for p in _params(net)}
    for row in rows:
        name = row.split()[0]
        if name in checked:
            gradient = _parse(row[TABLE_GRADIENT_COLUMN:], symbols).xreplace(values)
            assert _equal(gradient, derive(net, net.parameter(name)).backprop.local, net), row
