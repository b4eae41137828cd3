"""The shortcuts a table takes build exactly what the plain way builds: products and sums as SymPy's
evaluation gives them, path terms as their factors multiplied, LaTeX widths and line layouts as measured."""

import random

import pytest
import sympy as sp

from derivchain.engines.backprop import delta_equations
from derivchain.model.builders import build
from derivchain.verification.derivation import derive
from derivchain.symbolic.build import add, mul
from derivchain.model.network import dense
from derivchain.engines.paths import _term, iter_paths
from derivchain.renderers.latex import _TIMES, _laid_out, _tokens, printer_for, visible_width, wider_than

NETWORKS = [("2,3,2,1", "identity", "abs"), ("3,4,3,1", "sigmoid", "half-squared"), ("3,3,3,1", "tanh", "squared"),
            ("2,3,2", "sigmoid", "softmax"), ("2,3,1", "elu", "abs"), ("2,3,1", "leaky_relu:0.1", "abs"),
            ("2,2,1", "swish", "abs"), ("2,3,1", "x**2", "half-squared")]


def _pool():
    x, y = sp.symbols("x y", real=True)
    pool = [sp.exp(x), sp.exp(y), 2 * x, -x, 1 / x, sp.Abs(x), sp.Abs(x) ** 2, sp.sign(x), sp.sqrt(x), sp.Integer(3),
            sp.Rational(1, 2), sp.S.Zero, sp.S.One, x * y, 2 * x * y, x + y, sp.Mul(x, y, evaluate=False),
            sp.Pow(x, 1, evaluate=False), sp.Function("f")(x), sp.pi, sp.E ** x, sp.I, x ** 2]
    for layers, act, loss in NETWORKS:
        net = dense(layers, activation=act, loss=loss)
        for n in net.neurons:
            pool += [n.derivative(), n.preactivation, n.symbol, 1 - n.symbol, n.symbol ** 2]
            pool += [n.inner_partial(p) for p in net.parameters[:4]]
        pool += [net.loss_derivative(o) for o in net.outputs]
        pool += [eq.value for eq in delta_equations(net).values()]
        pool += list(net.parameters) + list(net.inputs) + list(net.targets)
    return list(dict.fromkeys(pool))


def _same(a, b):
    return a == b and a.args == b.args and type(a) is type(b)


def test_mul_and_add_are_sympys():
    pool, rng = _pool(), random.Random(14)
    for _ in range(3000):
        factors = rng.sample(pool, rng.choice([1, 2, 2, 3, 4]))
        assert _same(mul(*factors), sp.Mul(*factors)), factors
        if len(factors) > 1:
            assert _same(add(*factors), sp.Add(*factors)), factors
        terms = [sp.Mul(*rng.sample(pool, rng.choice([1, 2, 3]))) for _ in range(rng.choice([2, 3, 5]))]
        assert _same(add(*terms), sp.Add(*terms)), terms


@pytest.mark.parametrize("net", [dense(*spec[:1], activation=spec[1], loss=spec[2]) for spec in NETWORKS[:4]]
                         + [dense("3,4,3,1", activation="sigmoid", loss="half-squared", bias=True),
                            build("rnn:steps=3,hidden=2"), build("conv1d:length=6,kernel=3")])
def test_path_terms_are_their_factors_multiplied(net):
    for p in net.parameters:
        for path in iter_paths(net, p):
            assert _same(_term(net, path, p), path.term), path


def _reference_layout(prefix, tokens, width):
    # The layout as it was written before its later lines were remembered.
    lines, current, used, depth = [], "", 0, 0
    for text, may_start in tokens:
        w = visible_width(text) + 1
        if current and may_start and used + w > width:
            lines.append((current, depth))
            current, used = "", 0
        # A factor's mark (a factor that may start a line): \cdot at a line's start, nothing inside one.
        current += (" " + text.replace(_TIMES, "", 1)) if current else text.replace(_TIMES, r"\cdot ", 1)
        used += w
        depth += text.count(r"\left(") - text.count(r"\right)")
    lines.append((current, depth))
    out, open_before = [], 0
    for i, (body, open_after) in enumerate(lines):
        start = r"%s &= " % prefix if i == 0 else r"&\quad " + r"\qquad " * open_before + r"\left. " * open_before + "{}"
        out.append(start + body + r" \right." * open_after)
        open_before = open_after
    return out


@pytest.mark.parametrize("layers,act", [("3,6,6,1", "sigmoid"), ("3,5,5,5,1", "tanh")])
def test_long_rows_measure_and_lay_out_as_before(layers, act):
    net = dense(layers, activation=act, loss="half-squared")
    printer = printer_for(net)
    for p in net.parameters:
        e = derive(net, p, 0).backprop.local
        tex = printer._print(e)
        for limit in (20, 58, 62, 200):
            assert wider_than(printer, e, limit) == (visible_width(tex) > limit)
        for width in (30, 62):
            tokens = _tokens(printer, e, width)
            assert _laid_out("L", tokens, width) == _reference_layout("L", tokens, width)
