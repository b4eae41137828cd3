"""The matrix form of the backward pass on a matrix graph: the chain of matrix equations from the loss back
to a matrix leaf, ``dL/dA = A - T``, ``dL/dV = P.T @ dL/dA``, ..., ``dL/dWQ = X.T @ dL/dQ``.

Reverse mode over each node's expression as written in the file: each operation passes its adjoint to
its operands by its textbook rule (``@``: ``G @ B.T`` and ``A.T @ G``; ``.T``: ``G.T``; a broadcast
operand: ``G`` summed over the axes it was broadcast along; elementwise ``f(u)``: ``G * f'(u)`` with f'
the activation's textbook derivative in the node's own name, ``H*(1 - H)``; ``softmax(S, axis=1)``:
``P * (G - sum(G * P, axis=1))``; ``sum`` and ``mean``: ``G`` broadcast back). A matrix's adjoint is the
sum of what each of its readers passes it. Every form is text in the matrix language of the network
file, each adjoint named ``dL_dM`` (printed ``dL/dM``), so the same whitelist parser evaluates it to a
grid of entries and :mod:`derivchain.verification.matrix_chain` checks it entry by entry against the
scalar derivation. Nothing here claims a form is right.
"""

from __future__ import annotations

import ast
import re

import sympy as sp

from ..errors import DerivchainError
from ..model.activations import ACTIVATIONS
from ..model.losses import LOSSES
from ..model.matrix_file import ELEMENTWISE
from ..model.network import Network, real
from ..record import record
from ..symbolic import grids
from ..symbolic.matrix_parse import REDUCTIONS, parse_matrix_expression
from ..symbolic.parse import FUNCTIONS, parse_expression

Shape = tuple[int, int] | None


class NoMatrixForm(DerivchainError):
    """A matrix graph whose backward pass has no matrix form here (an entry X[0,1], a function of two
    arguments): its entries are derived one by one instead."""


@record
class MatrixEquation:
    """``dL/dname = form``: the adjoint of one matrix (a node, or the leaf asked for) and its shape."""

    name: str
    form: str  # in the matrix language, adjoints as dL_dM
    shape: tuple[int, int]
    reads: tuple[str, ...]  # the adjoints the form uses, dL_dM names


def adjoint(name: str) -> str:
    """The identifier a form uses for dL/d``name``."""
    return f"dL_d{name}"


def printed(form: str) -> str:
    """A form as printed: ``dL_dS`` as ``dL/dS``."""
    return re.sub(r"\bdL_d([A-Za-z][A-Za-z0-9_]*)", r"dL/d\1", form)


def matrix_chain(network: Network, name: str) -> tuple[MatrixEquation, ...]:
    """The equations from the loss back to matrix leaf ``name``: each matrix node on a path from it to the
    loss (the last one written first), then ``name`` itself."""
    graph = network.matrix
    shapes = dict(graph.shapes) if graph is not None else {}
    if graph is None or name not in shapes or dict(graph.leaves).get(name) is None:
        raise NoMatrixForm(f"{name!r} is not a matrix leaf of this network")
    order = [m.name for m in graph.nodes]
    readers = {m.name: m.reads for m in graph.nodes}
    below = {name}
    for m in order:  # topological: the nodes that read, directly or not, the leaf asked for
        if any(r in below for r in readers[m]):
            below.add(m)
    env = dict(shapes) | {adjoint(m): shapes[m] for m in order}
    passed: dict[str, list[str]] = {}
    for reader, text, seed in [(m.name, m.text, adjoint(m.name)) for m in graph.nodes] + [("Loss", graph.loss, "1")]:
        if reader != "Loss" and reader not in below:
            continue
        whole = reader if reader != "Loss" else None
        for target, form in _Reverse(text, env, whole).run(seed):
            passed.setdefault(target, []).append(form)
    chain = []
    for m in [m for m in reversed(order) if m in below] + [name]:
        forms = passed.get(m, [])
        form = " + ".join(_wrap(f) if len(forms) > 1 else _unwrap(f) for f in forms) if forms else "0"
        reads = tuple(dict.fromkeys(re.findall(r"\bdL_d[A-Za-z][A-Za-z0-9_]*", form)))
        chain.append(MatrixEquation(m, form, shapes[m], reads))
    return tuple(chain)


def _wrap(text: str) -> str:
    """``text`` bracketed unless it is one name, number, call or transpose of a name."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.T)?|\d+(\.\d+)?", text):
        return text
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*\(.*\)", text) and _balanced_call(text):
        return text
    return f"({text})"


def _balanced_call(text: str) -> bool:
    # f(...) is one call only when its first bracket closes at the very end.
    depth = 0
    for i, c in enumerate(text):
        depth += c == "("
        depth -= c == ")"
        if depth == 0 and c == ")":
            return i == len(text) - 1
    return False


def _number(text: str):
    """The exact number ``text`` writes (``1/(2*3)`` is 1/6), or None when it names anything."""
    try:
        value = parse_expression(text, {}, "form", None)
    except DerivchainError:
        return None
    return value if value.is_Rational else None


def _split(text: str):
    """(number, rest) for ``2*(A - T)`` or a plain number; (1, text) otherwise."""
    number = _number(text)
    if number is not None:
        return number, "1"
    match = re.fullmatch(r"(\d+)\*(.+)", text)
    if match and _number(match.group(1)) is not None:
        return sp.Integer(match.group(1)), match.group(2)
    return sp.Integer(1), text


def _times(a: str, b: str) -> str:
    """``a*b`` with their numbers multiplied out: (1/2)*(2*(A - T)) is A - T."""
    (ca, ra), (cb, rb) = _split(a), _split(b)
    c = ca * cb
    rest = rb if ra == "1" else ra if rb == "1" else f"{_wrap(ra)}*{_wrap(rb)}"
    if c == 1:
        return _unwrap(rest)
    if rest == "1":
        return str(c)
    return f"{_wrap(str(c))}*{_wrap(_unwrap(rest))}"


def _unwrap(text: str) -> str:
    """``text`` without one pair of brackets around all of it."""
    if text.startswith("(") and text.endswith(")") and _balanced_call("f" + text):
        return text[1:-1]
    return text


def _divided(g: str, b: str) -> str:
    """``g/b``, a number divided out of a number: 1/(2*3) is 1/6."""
    ng, nb = _number(g), _number(b)
    if ng is not None and nb is not None and nb != 0:
        return str(ng / nb)
    return f"{_wrap(g)}/{_wrap(str(nb) if nb is not None else b)}"


class _Reverse:
    """Reverse mode over one expression: what each matrix name it reads receives from the adjoint of the whole."""

    def __init__(self, text: str, env: dict[str, Shape], whole: str | None):
        self.text = text.strip()
        self.tree = ast.parse(self.text, mode="eval").body
        self.env = env
        self.whole = whole  # the node's own name: a call that is the whole expression is written as it (H*(1 - H))
        self.out: list[tuple[str, str]] = []

    def run(self, seed: str) -> list[tuple[str, str]]:
        self.visit(self.tree, seed)
        return self.out

    def source(self, node) -> str:
        if node is self.tree and self.whole is not None:
            return self.whole
        return ast.get_source_segment(self.text, node) or ast.unparse(node)

    def shape(self, node) -> Shape:
        return _shape(node, self.env)

    def reduce(self, g: str, node, to: Shape, result: Shape) -> str:
        """``g`` (the adjoint of a result of shape ``result``) as the adjoint of an operand of shape ``to`` that
        was broadcast to it: summed over the broadcast axes (a scalar operand: over all)."""
        have = _shape_of_text(g, self.env)
        full = (1, 1) if result is None else result
        have = (1, 1) if have is None else have
        want = (1, 1) if to is None else to
        axes, scale = [], 1
        for axis in (0, 1):
            if want[axis] == 1 and full[axis] > 1:
                if have[axis] > 1:
                    axes.append(axis)
                else:
                    scale *= full[axis]  # g was itself broadcast along this axis: the sum is a multiple
        if axes == [0, 1] or (to is None and axes):
            g = f"sum({g})"
        elif axes:
            g = f"sum({g}, axis={axes[0]})"
        return g if scale == 1 else _times(str(scale), g)

    def visit(self, node, g: str) -> None:
        if isinstance(node, ast.Name):
            if self.env.get(node.id) is not None:  # a matrix (scalars have no matrix form to pass on)
                self.out.append((node.id, g))
            return
        if isinstance(node, ast.Constant):
            return
        if isinstance(node, ast.UnaryOp):
            self.visit(node.operand, g if isinstance(node.op, ast.UAdd) else f"-{_wrap(g)}")
            return
        if isinstance(node, ast.Attribute):  # .T
            self.visit(node.value, _transpose(g))
            return
        if isinstance(node, ast.BinOp):
            self.binary(node, g)
            return
        if isinstance(node, ast.Call):
            self.call(node, g)
            return
        raise NoMatrixForm(f"{ast.unparse(node)!r} has no matrix rule here; derive its entries one by one")

    def binary(self, node: ast.BinOp, g: str) -> None:
        left, right = node.left, node.right
        a, b = self.source(left), self.source(right)
        result = self.shape(node)
        if isinstance(node.op, ast.MatMult):
            full = self.expanded(g, node)
            self.visit(left, f"{_wrap(full)} @ {_transpose(b)}")
            self.visit(right, f"{_transpose(a)} @ {_wrap(full)}")
            return
        if isinstance(node.op, ast.Add):
            self.visit(left, self.reduce(g, left, self.shape(left), result))
            self.visit(right, self.reduce(g, right, self.shape(right), result))
        elif isinstance(node.op, ast.Sub):
            self.visit(left, self.reduce(g, left, self.shape(left), result))
            self.visit(right, self.reduce(f"-{_wrap(g)}", right, self.shape(right), result))
        elif isinstance(node.op, ast.Mult):
            self.visit(left, self.reduce(_times(g, b), left, self.shape(left), result))
            self.visit(right, self.reduce(_times(g, a), right, self.shape(right), result))
        elif isinstance(node.op, ast.Div):
            self.visit(left, self.reduce(_divided(g, b), left, self.shape(left), result))
            self.visit(right, self.reduce(f"-{_wrap(g)}*{_wrap(a)}/{_wrap(b)}**2", right, self.shape(right), result))
        elif isinstance(node.op, ast.Pow):
            if self.shape(right) is not None or _names(right, self.env):
                raise NoMatrixForm(f"{ast.unparse(node)!r}: a power by a matrix has no matrix rule here")
            n = b
            power = f"{_wrap(a)}" if n == "2" else f"{_wrap(a)}**({n} - 1)"
            self.visit(left, self.reduce(_times(g, f"{n}*{power}"), left, self.shape(left), result))
        else:
            raise NoMatrixForm(f"{ast.unparse(node)!r} has no matrix rule here")

    def expanded(self, g: str, node) -> str:
        """``g`` as a matrix of ``node``'s shape where it was a smaller one broadcast (a scalar seed before ``@``)."""
        have, want = _shape_of_text(g, self.env), self.shape(node)
        if have == want:
            return g
        return f"{_wrap(g)} + 0*{_wrap(self.source(node))}"

    def call(self, node: ast.Call, g: str) -> None:
        name = node.func.id
        arg = node.args[0]
        axis = next((k.value.value for k in node.keywords if k.arg == "axis"), None)
        a = self.source(arg)
        if name in ("sum", "mean"):
            inner = self.shape(arg)
            count = 1 if name == "sum" else (inner[0] * inner[1] if axis is None else inner[axis]) if inner else 1
            self.visit(arg, g if count == 1 else _divided(g, str(count)))
            return
        if name == "softmax":
            p = self.source(node)
            p = p if re.fullmatch(r"\w+", p) else _wrap(p)
            self.visit(arg, f"{p}*({g} - sum({_times(g, p)}, axis={axis}))")
            return
        if len(node.args) != 1 or node.keywords:
            raise NoMatrixForm(f"{ast.unparse(node)!r}: a function of several arguments has no matrix rule here")
        self.visit(arg, _times(g, _slope(name, a, self.source(node))))


def _slope(function: str, argument: str, value: str) -> str:
    """f'(argument) as text: an activation's textbook derivative in its output ``value`` (sigmoid: o*(1 - o)),
    else SymPy's derivative of the parser's function."""
    z, o = sp.Symbol(_wrap(argument), real=True), sp.Symbol(_wrap(value), real=True)
    if function in ACTIVATIONS:
        slope = ACTIVATIONS[function].derivative(z, o)
    else:
        x = sp.Symbol("x", real=True)
        slope = sp.diff(FUNCTIONS[function](x), x).xreplace({x: z})
    text = str(slope)
    return text.replace("Heaviside(", "heaviside(")


def _transpose(text: str) -> str:
    if text.endswith(".T") and re.fullmatch(r"[A-Za-z_]\w*\.T", text):
        return text[:-2]
    return f"{_wrap(text)}.T"


def _names(node, env) -> list[str]:
    return [n.id for n in ast.walk(node) if isinstance(n, ast.Name) and n.id in env]


def _shape_of_text(text: str, env) -> Shape:
    return _shape(ast.parse(text, mode="eval").body, env)


def _shape(node, env) -> Shape:
    """The shape of an expression's value, from the shapes of the names it reads (None: a scalar)."""
    if isinstance(node, ast.Name):
        return env.get(node.id)
    if isinstance(node, (ast.Constant, ast.Subscript)):
        return None
    if isinstance(node, ast.UnaryOp):
        return _shape(node.operand, env)
    if isinstance(node, ast.Attribute):
        s = _shape(node.value, env)
        return None if s is None else (s[1], s[0])
    if isinstance(node, ast.BinOp):
        left, right = _shape(node.left, env), _shape(node.right, env)
        if isinstance(node.op, ast.MatMult):
            return (left[0], right[1])
        return _broadcast([left, right])
    if isinstance(node, ast.Call):
        name = node.func.id
        inner = _shape(node.args[0], env)
        axis = next((k.value.value for k in node.keywords if k.arg == "axis"), None)
        if name in REDUCTIONS and name != "softmax":
            if inner is None or axis is None:
                return None
            return (1, inner[1]) if axis == 0 else (inner[0], 1)
        return _broadcast([_shape(a, env) for a in node.args])
    return None


def _broadcast(shapes) -> Shape:
    grids = [s for s in shapes if s is not None]
    if not grids:
        return None
    return max(s[0] for s in grids), max(s[1] for s in grids)


# --- textbook rewrites ---------------------------------------------------------------------------------------
@record
class Rewrite:
    """A textbook closed form offered for the equation of ``node``: its name and form (in the matrix language).
    An offer only: :mod:`derivchain.verification.matrix_chain` prints it when it checks equal entry by entry.
    ``condition``: what it needs of the targets where it holds only for some (a softmax's ``P - Y``: rows of Y
    summing to 1); such a form is checked with the targets at their given values, offered only with values."""

    node: str
    name: str
    form: str
    condition: str = ""

    @property
    def at_targets(self) -> bool:
        """Whether it is checked with the targets at their given values."""
        return bool(self.condition)


def rewrites(network: Network, equations: tuple[MatrixEquation, ...], with_targets: bool = False) -> tuple[Rewrite, ...]:
    """The textbook closed forms that fit the chain's equations by the graph's structure (what reads what,
    and the loss's partials), never by names: softmax then a cross-entropy, an activation then the loss
    its derivative cancels (sigmoid + cross-entropy, as data in the loss's registry entry), layer and
    batch normalisation. Each is a claim to check; the most specific first."""
    graph = network.matrix
    if graph is None:
        return ()
    texts = {m.name: m.text for m in graph.nodes}
    readers: dict[str, set[str]] = {}
    for m in graph.nodes:
        for r in m.reads:
            readers.setdefault(r, set()).add(m.name)
    for r in graph.loss_reads:
        readers.setdefault(r, set()).add("Loss")
    found: list[Rewrite] = []
    partials = _LossPartials(network)
    for eq in equations:
        found += _softmax_cross_entropy(graph, eq.name, texts, readers, partials, with_targets)
        found += _activation_loss(graph, eq.name, texts, readers, partials)
        found += _normalisation(eq.name, texts, readers)
    return tuple(found)


def _only_reader(name: str, readers: dict) -> str | None:
    """The one node (or ``Loss``) that reads ``name``, if there is exactly one."""
    rs = readers.get(name, set())
    return next(iter(rs)) if len(rs) == 1 else None


def _call_of(text: str):
    """(function, argument's name, axis) when ``text`` is one call of a function on a name, else None."""
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        return None
    if not (isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name) and len(tree.args) == 1
            and isinstance(tree.args[0], ast.Name)):
        return None
    axis = next((k.value.value for k in tree.keywords if k.arg == "axis" and isinstance(k.value, ast.Constant)), None)
    return tree.func.id, tree.args[0].id, axis


class _LossPartials:
    """dL/dR[0,0] for a matrix R the loss reads directly, from the loss as written (parsed once)."""

    def __init__(self, network: Network):
        self.network = network
        self.loss = None

    def first(self, name: str) -> sp.Expr:
        graph = self.network.matrix
        if self.loss is None:
            env = {n: real(n) if s is None else grids.symbols_grid(n, s, real) for n, s in graph.shapes}
            env |= {n: real(n) for n, _ in graph.leaves if n not in env}
            self.loss = parse_matrix_expression(graph.loss, env, "loss", ELEMENTWISE, max_length=None)
        return sp.diff(self.loss, real(grids.entry_name(name, 0, 0)))

    def entry(self, name: str) -> sp.Symbol:
        return real(grids.entry_name(name, 0, 0))


def _scale(ratio: sp.Expr):
    """The nonzero rational number ``ratio`` comes to, or None when it reads anything."""
    c = sp.cancel(ratio)
    return c if c.is_Rational and c != 0 else None


def _targets(graph, shape) -> list[str]:
    """The target matrices of ``shape`` the loss reads."""
    kinds = dict(graph.leaves)
    return [t for t in graph.loss_reads if kinds.get(t) == "target" and graph.shape(t) == shape]


def _softmax_cross_entropy(graph, name, texts, readers, partials, with_targets) -> list[Rewrite]:
    """``P = softmax(S, axis=a)`` read only by a loss whose partial is ``-c*Y/P`` (a cross-entropy, any scale):
    ``dL/dS = c*(P*sum(Y, axis=a) - Y)``, which is ``c*(P - Y)`` where Y's rows (columns) sum to 1."""
    p = _only_reader(name, readers)
    call = _call_of(texts.get(p, "")) if p not in (None, "Loss") else None
    if call is None or call[0] != "softmax" or call[1] != name or _only_reader(p, readers) != "Loss":
        return []
    out = []
    for y in _targets(graph, graph.shape(p)):
        c = _scale(-partials.first(p) * partials.entry(p) / partials.entry(y))
        if c is None:
            continue
        if with_targets:
            lines = "rows" if call[2] == 1 else "columns"
            out.append(Rewrite(name, "softmax + cross-entropy", _times(str(c), f"{p} - {y}"), f"the given targets' {lines} sum to 1"))
        out.append(Rewrite(name, "softmax + cross-entropy", _times(str(c), f"{p}*sum({y}, axis={call[2]}) - {y}")))
    return out


def _activation_loss(graph, name, texts, readers, partials) -> list[Rewrite]:
    """``A = f(Z)`` read only by a loss whose registry entry names a rewrite with activation f (sigmoid +
    cross-entropy): dL/dZ is that loss's rewritten delta (``A - Y``) times the loss's scale."""
    a = _only_reader(name, readers)
    call = _call_of(texts.get(a, "")) if a not in (None, "Loss") else None
    if call is None or call[1] != name or call[2] is not None or _only_reader(a, readers) != "Loss":
        return []
    out = []
    for loss in LOSSES.values():
        if not loss.rewrite or loss.output_activation != call[0] or loss.derivative is None or loss.min_outputs != 1:
            continue
        z, o, y = (sp.Symbol(n, real=True) for n in (name, a, "__target"))
        delta = sp.factor(ACTIVATIONS[call[0]].derivative(z, o) * loss.derivative([o], [y], 0))
        for t in _targets(graph, graph.shape(a)):
            c = _scale(partials.first(a) / loss.derivative([partials.entry(a)], [partials.entry(t)], 0))
            if c is not None:
                # o - y written as the textbook does (A - Y), whatever order SymPy would print the names in
                text = f"{a} - {t}" if sp.expand(delta - (o - y)) == 0 else str(delta.xreplace({y: sp.Symbol(t, real=True)}))
                out.append(Rewrite(name, loss.rewrite.split(":")[0].strip(), _times(str(c), text)))
    return out


def _normalisation(name, texts, readers) -> list[Rewrite]:
    """``mu = mean(X, axis=a)``, ``C = X - mu``, ``var = mean(C**2, axis=a)``, ``Xhat = C / sqrt(var + eps)``, each
    read only by the next: ``dL/dX = (g - mean(g, axis=a) - Xhat*mean(g*Xhat, axis=a))/sqrt(var + eps)`` with
    g = dL/dXhat; over a row (axis=1) layer normalisation, over a column (axis=0) batch normalisation."""
    if len(readers.get(name, ())) != 2:
        return []
    trees = {}
    for r in readers[name]:
        if r == "Loss":
            return []
        trees[r] = ast.parse(texts[r].strip(), mode="eval").body
    mu = next((r for r, t in trees.items() if _call_of(texts[r]) is not None and _call_of(texts[r])[:2] == ("mean", name)), None)
    c = next((r for r in trees if r != mu), None)
    if mu is None or c is None or readers.get(mu) != {c}:
        return []
    axis = _call_of(texts[mu])[2]
    t = trees[c]
    if axis is None or not (isinstance(t, ast.BinOp) and isinstance(t.op, ast.Sub) and _is_name(t.left, name) and _is_name(t.right, mu)):
        return []
    var = next((r for r in readers.get(c, ()) if r != "Loss" and _is_variance(texts[r], c, axis)), None)
    xhat = next((r for r in readers.get(c, ()) if r not in ("Loss", var)), None)
    if var is None or xhat is None or readers.get(c) != {var, xhat} or readers.get(var) != {xhat}:
        return []
    text = texts[xhat].strip()
    t = ast.parse(text, mode="eval").body
    if not (isinstance(t, ast.BinOp) and isinstance(t.op, ast.Div) and _is_name(t.left, c)):
        return []
    den = t.right
    if not (isinstance(den, ast.Call) and isinstance(den.func, ast.Name) and den.func.id == "sqrt" and len(den.args) == 1
            and {n.id for n in ast.walk(den) if isinstance(n, ast.Name)} == {"sqrt", var}):
        return []
    g = adjoint(xhat)
    form = (f"({g} - mean({g}, axis={axis}) - {xhat}*mean({g}*{xhat}, axis={axis}))"
            f"/{ast.get_source_segment(text, den)}")
    return [Rewrite(name, "layer normalisation" if axis == 1 else "batch normalisation", form)]


def _is_name(node, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name


def _is_variance(text: str, c: str, axis) -> bool:
    """``mean(C**2, axis=a)`` or ``mean(C*C, axis=a)``."""
    t = ast.parse(text.strip(), mode="eval").body
    if not (isinstance(t, ast.Call) and isinstance(t.func, ast.Name) and t.func.id == "mean" and len(t.args) == 1):
        return False
    if next((k.value.value for k in t.keywords if k.arg == "axis" and isinstance(k.value, ast.Constant)), None) != axis:
        return False
    u = t.args[0]
    square = isinstance(u, ast.BinOp) and isinstance(u.op, ast.Pow) and _is_name(u.left, c) and \
        isinstance(u.right, ast.Constant) and u.right.value == 2
    product = isinstance(u, ast.BinOp) and isinstance(u.op, ast.Mult) and _is_name(u.left, c) and _is_name(u.right, c)
    return square or product
