"""The matrix form of backpropagation on a dense network, entry by entry checked against the scalar derivations.

Per layer l (layer 0 is the input): ``W^l`` has one row per neuron of layer l and one column per
neuron of layer l-1, so ``z^l = W^l a^{l-1} + b^l`` and ``a^l = f(z^l)``. Backwards:
``delta^L = grad_a L ⊙ f'(z^L)``, ``delta^l = ((W^{l+1})^T delta^{l+1}) ⊙ f'(z^l)``, and
``dL/dW^l = delta^l (a^{l-1})^T`` (an outer product: entry (j, i) is ``a^{l-1}_i delta^l_j``, the scalar
rule ``o_i * delta_j``), ``dL/db^l = delta^l``; with ``--l2`` (lambda/2 * the sum of squared weights in the loss)
``dL/dW^l`` gains ``lambda W^l``. The transpose in the recursion sends each delta back
along the edges it came forward on: column j of ``W^{l+1}`` holds the weights leaving neuron j.

Symbolic entries are written in the network's own symbols (neurons, deltas), as the scalar derivations
write them. Every entry of every ``dL/dW^l`` and ``dL/db^l`` is verified equal to the scalar derivation
of that weight: symbolically (the matrix entry, deltas replaced by the matrix recursion's own values and
fully substituted, against the direct derivative, by :func:`derivchain.verification.compare.verify`), or at
values (the matrix arithmetic's number against the scalar backprop form evaluated at the same values).
"""

from __future__ import annotations

from dataclasses import field
from fractions import Fraction

import mpmath
import sympy as sp

from ..record import record
from ..result import Result
from .backprop import delta_equations, delta_symbol
from .forms import Ordered, OrderedSum
from ..errors import DerivchainError
from ..model.network import Network
from ..symbolic.rules import rule_for
from ..model.values import (DIGITS, SAMPLES, SHOWN, Number, as_mpf, check_batch, check_reduction, check_values, environment, evaluate_at,
                     reduce_numbers, value_of)
from ..symbolic.evaluate import Undefined, evaluate


class NotDenseError(DerivchainError):
    """A network that is not layered-dense: the matrix form does not apply."""


Shape = tuple[int, int]


@record(repr=False)
class MatrixLayer:
    """One layer's matrices: symbolic (SymPy Matrices) or at values (nested tuples of Numbers)."""

    index: int
    W: object
    b: object | None
    z: object
    a: object
    fprime: object
    delta: object
    grad_W: object
    grad_b: object | None
    names: tuple[str, ...]  # the layer's neurons
    sources: tuple[str, ...]  # the previous layer's neurons (or inputs)
    weights: tuple[tuple[str, ...], ...]  # W^l's names, row by row
    biases: tuple[str, ...] | None
    # Symbolic z and delta as printed: each entry's terms in neuron order, as the scalar equations write them.
    z_shown: tuple | None = None
    delta_shown: tuple | None = None
    # The textbook rewrite of this layer's delta (the outputs': sigmoid + cross-entropy gives Out - Y), named as the
    # loss's registry entry names it; empty where none applies. Its delta is the rewritten one, checked as any.
    rewrite: str = ""

    @property
    def shapes(self) -> dict[str, Shape]:
        """Every matrix's shape (rows, columns)."""
        n, m = len(self.names), len(self.sources)
        return _shapes(self, z=(n, 1), a=(n, 1), a_prev=(m, 1), fprime=(n, 1), delta=(n, 1))

    def __post_init__(self):
        _check_shapes(self)

    def __repr__(self) -> str:
        n, m = len(self.names), len(self.sources)
        return f"MatrixLayer({self.index}: W {n}x{m})"


def _shapes(layer, **forward_and_back) -> dict[str, Shape]:
    """W, b, the layer's own ``forward_and_back`` matrices (by attribute name), dL/dW and dL/db: their
    shapes, b and dL/db left out without biases. W and dL/dW have a row per neuron, a column per source."""
    n, k = len(layer.names), len(layer.sources)
    out = {"W": (n, k), "b": (n, 1), **forward_and_back, "grad_W": (n, k), "grad_b": (n, 1)}
    if layer.b is None:
        del out["b"], out["grad_b"]
    return out


def _check_shapes(layer) -> None:
    # Every matrix has the shape the formulas promise (W^l and dL/dW^l: a row per neuron, a column per source).
    for key, want in layer.shapes.items():
        got = getattr(layer, key, None)
        if got is not None and _shape_of(got) != want:
            raise AssertionError(f"layer {layer.index}: {key} is {_shape_of(got)}, expected {want}")


@record
class EntryCheck:
    """How many gradient entries were compared with the scalar derivation, how many agreed, and how."""

    verified: int
    total: int
    methods: tuple[tuple[str, int], ...]  # method -> how many entries it decided
    against: str  # what each entry was compared with, in words
    failures: tuple[str, ...] = ()

    @property
    def equal(self) -> bool:
        """True when every entry was verified."""
        return self.verified == self.total and not self.failures


class _OfNetwork:
    """What a matrix form reads off its network: the loss's symbol and the L2 strength."""

    @property
    def loss_symbol(self) -> sp.Symbol:
        """The loss's symbol (Loss, L)."""
        return self.network.loss_symbol

    @property
    def l2(self) -> Fraction | None:
        """The L2 strength lambda (None without --l2): each dL/dW^l gains lambda W^l."""
        return self.network.l2


@record(repr=False)
class MatrixForm(_OfNetwork, Result):
    """The matrix form of backpropagation: the input column, each layer's matrices, the entry check."""

    kind = "matrix"  # the renderers' method for it (see derivchain.result)

    network: Network
    inputs: object  # a^0
    layers: tuple[MatrixLayer, ...]
    check: EntryCheck | None  # None until the verifier has checked the claims (symbolic forms)
    grad_a: object = None  # grad_a L: dLoss/dOut per output, the column delta^L starts from
    at_values: bool = False
    exact: bool = True
    loss_value: Number | None = None
    # Symbolic forms: (parameter, its gradient entry substituted) for each entry, in layer order, W before b.
    claims: tuple = field(default=(), compare=False, repr=False)
    # Symbolic, a loss with a textbook delta under a condition on the targets (softmax: one-hot): each output's
    # form under it (verification.derivation.Conditional), verified by the verifier; () otherwise.
    conditionals: tuple = ()

    def __repr__(self) -> str:
        kind = "at values" if self.at_values else "symbolic"
        checked = "not checked" if self.check is None else f"{self.check.verified}/{self.check.total} entries verified"
        return f"MatrixForm({len(self.layers)} layer{'' if len(self.layers) == 1 else 's'}, {kind}, {checked})"


def _shape_of(m) -> Shape:
    r = rows(m)
    return (len(r), len(r[0]) if r else 0)


def rows(m) -> list[list]:
    """A matrix (symbolic or at values) as a list of its rows."""
    return m.tolist() if isinstance(m, sp.MatrixBase) else [list(r) for r in m]


def dense_layers(net: Network) -> list[list]:
    """The network's neurons by layer, or a one-line error when it is not layered-dense (every neuron of
    layer l reads every neuron of layer l-1, in order, through a weight of its own)."""
    def refuse(why: str):
        raise NotDenseError(f"matrix needs a layered dense network (each neuron reads every neuron of the layer before "
                            f"through its own weight); {net.origin or 'this network'}: {why}; use grad, table or export for "
                            "this network (the matrix form needs layers of neurons without shared weights or skip connections)")

    without_z = next((n for n in net.neurons if n.preactivation is None), None)  # no W a + b: an expression node
    if without_z is not None:
        refuse(f"it has {without_z.noun}s")
    if net.shared:
        refuse(f"{net.shared[0].name} is shared")
    layers: list[list] = []
    previous = tuple(net.inputs)
    for n in net.neurons:
        if n.layer == len(layers) + 1:
            layers.append([])
            if len(layers) > 1:
                previous = tuple(m.symbol for m in layers[-2])
        elif n.layer != len(layers):
            refuse(f"{n.name} is in layer {n.layer} after layer {len(layers)}")
        if tuple(src for src, _ in n.sources) != previous:
            refuse(f"{n.name} does not read exactly {', '.join(s.name for s in previous)}")
        layers[-1].append(n)
    if not layers or [n.is_output for n in layers[-1]] != [True] * len(layers[-1]) or any(n.is_output for l in layers[:-1] for n in l):
        refuse("the outputs are not exactly the last layer")
    with_bias = {n.bias is not None for n in net.neurons}
    if len(with_bias) > 1:
        refuse("some neurons have a bias and some do not")
    read = set(net.uses_of_loss) - set(net.targets) - {o.symbol for o in net.outputs}
    if net.l2 is not None:  # the L2 term reads every weight: dL/dW^l gains lambda W^l
        read -= set(net.weights)
    if read:
        refuse("the loss reads something other than the outputs and targets")
    return layers


def _column(symbols) -> sp.Matrix:
    return sp.Matrix(len(symbols), 1, list(symbols))


def _checked(product: sp.Matrix, left: Shape, right: Shape, expected: Shape, what: str) -> sp.Matrix:
    # Every product's shape is checked: (n x k)(k x m) -> n x m, and that is the shape the formula promises.
    if left[1] != right[0] or (left[0], right[1]) != expected or product.shape != expected:
        raise AssertionError(f"{what}: shapes {left} x {right} give {product.shape}, expected {expected}")
    return product


def matrix_form(net: Network, values: dict | None = None) -> MatrixForm:
    """The matrix form of ``net`` (symbolic, or at ``values``, where each entry is compared with the scalar
    derivation's number); a symbolic form's entries are claims for :func:`derivchain.verification.matrix.matrix_form`."""
    layers = dense_layers(net)
    if values is not None:
        return _at_values(net, layers, check_values(net, values))
    return _symbolic(net, layers)


def _symbolic(net: Network, layers: list[list]) -> MatrixForm:
    a_prev = _column(net.inputs)
    forward = []
    for l, neurons in enumerate(layers, start=1):
        n, m = len(neurons), a_prev.shape[0]
        W = sp.Matrix(n, m, [w for neuron in neurons for _, w in neuron.sources])
        b = _column([x.bias for x in neurons]) if neurons[0].bias is not None else None
        Wa = _checked(W * a_prev, W.shape, a_prev.shape, (n, 1), f"W^{l} a^{l - 1}")
        z = Wa + b if b is not None else Wa
        a = _column([x.symbol for x in neurons])
        fprime = _column([x.derivative() for x in neurons])
        forward.append((neurons, W, b, z, a, fprime, a_prev))
        a_prev = a
    # Backwards: delta^L from the loss, then the transposed weights carry each delta back.
    deltas: list = [None] * len(layers)
    outs = layers[-1]
    grad_a = _column([net.loss_derivative(o) for o in outs])
    deltas[-1] = grad_a.multiply_elementwise(forward[-1][5])
    # Where the scalar engine's delta is a named textbook rewrite (Out - Y), the matrix form uses it: the entry
    # check below verifies every gradient entry built from it against the direct derivative.
    equations = delta_equations(net)
    deltas[-1] = sp.Matrix(len(outs), 1, [equations[o.symbol].value if equations[o.symbol].rewrite else entry
                                          for o, entry in zip(outs, deltas[-1])])
    for k in range(len(layers) - 2, -1, -1):
        W_next = forward[k + 1][1]
        names_next = _column([delta_symbol(x.symbol) for x in layers[k + 1]])
        back = _checked(W_next.T * names_next, W_next.T.shape, names_next.shape, (len(layers[k]), 1), f"(W^{k + 2})^T delta^{k + 2}")
        deltas[k] = _hadamard_keep(back, forward[k][5])
    # The deltas' values from this recursion (not the scalar engine's), outputs first.
    own: dict[sp.Symbol, sp.Expr] = {}
    for k in range(len(layers) - 1, -1, -1):
        for x, entry in zip(layers[k], deltas[k]):
            own[delta_symbol(x.symbol)] = entry.xreplace(own)
    out_layers, claims = [], []
    for k, (neurons, W, b, z, a, fprime, a_prev_l) in enumerate(forward):
        names = _column([delta_symbol(x.symbol) for x in neurons])
        grad_W = _checked(names * a_prev_l.T, names.shape, a_prev_l.T.shape, W.shape, f"delta^{k + 1} (a^{k})^T")
        if net.l2 is not None:
            grad_W = grad_W + _lambda(net) * W
        grad_b = names if b is not None else None
        for matrix, params in ((grad_W, W), (grad_b, b)):
            if matrix is not None:
                claims += [(p, net.substitute(entry.xreplace(own))) for entry, p in zip(matrix, params)]
        out_layers.append(_layer(k + 1, neurons, a_prev_l, W, b, z, a, fprime, deltas[k], grad_W, grad_b, net))
    # Each entry is a claim about dLoss/dparameter; the verifier checks them (verification.matrix).
    return MatrixForm(net, _column(net.inputs), tuple(out_layers), None, grad_a, claims=tuple(claims))


def _lambda(net: Network) -> sp.Rational:
    """The L2 strength lambda as a SymPy Rational."""
    return sp.Rational(net.l2.numerator, net.l2.denominator)


def _hadamard_keep(left: sp.Matrix, right: sp.Matrix) -> sp.Matrix:
    # f'(z) first, the sum a single factor: H4*(1 - H4)*(W7*delta_H4 + ...), as the scalar recursion prints it.
    entries = []
    for s, f in zip(left, right):
        entries.append(s if f == 1 else sp.Mul(f, s))
    return sp.Matrix(left.shape[0], left.shape[1], entries)


def _layer(index, neurons, a_prev, W, b, z, a, fprime, delta, grad_W, grad_b, net) -> MatrixLayer:
    equations = delta_equations(net)
    rewrite = next((equations[x.symbol].rewrite for x in neurons if equations[x.symbol].rewrite), "")
    shown = tuple((equations[x.symbol].value if equations[x.symbol].rewrite else equations[x.symbol].rhs_form,) for x in neurons)
    return MatrixLayer(index, W, b, z, a, fprime, delta, grad_W, grad_b, tuple(x.name for x in neurons),
                       tuple(s.name for s in a_prev), tuple(tuple(w.name for _, w in x.sources) for x in neurons),
                       tuple(x.bias.name for x in neurons) if neurons[0].bias is not None else None,
                       tuple((_z_form(x),) for x in neurons), shown, rewrite)


def _z_form(neuron) -> OrderedSum:
    """z of one neuron in source order, the bias last: ``W31*H1 + ... + W40*H10 + B11`` (SymPy would sort the
    terms by name, H10 before H2)."""
    terms = tuple(Ordered((w, src), compact=True) for src, w in neuron.sources)
    return OrderedSum(terms + ((neuron.bias,) if neuron.bias is not None else ()))


# --- at values -------------------------------------------------------------------------------------
def _at_values(net: Network, layers: list[list], numbers: dict) -> MatrixForm:
    with mpmath.workdps(DIGITS + 10):  # every mpmath product below at the working precision
        scalars = _scalar_forms(net, layers)
        one = _Pass(net, layers, numbers, scalars, tape=_tape(net, layers, scalars))
        raw, wrap = one.raw, one.raw.number
        out_layers = []
        for k, (neurons, W, b, z, a, fprime, a_prev) in enumerate(one.forward):
            out_layers.append(_values_layer(k, neurons, layers, net, W, b, wrap, _col(z, wrap), _col(a, wrap), _col(fprime, wrap),
                                            _col(one.deltas[k], wrap), _nested(one.grad_W[k], wrap),
                                            None if b is None else _col(one.deltas[k], wrap)))
        failures = [f"{p.name}: matrix {wrap(mine)}, scalar {wrap(scalar)}" for p, mine, scalar in one.compared if not raw.same(mine, scalar)]
        check = _values_check(len(one.compared), failures, one.exact)
        loss = value_of(net.loss_local, one.env, one.exact)
        return MatrixForm(net, _col(one.forward[0][6], wrap), tuple(out_layers), check, _col(one.grad_a, wrap), True, one.exact, loss)


def _values_check(total: int, failures: list[str], exact: bool, reduced: str = "") -> EntryCheck:
    how = "exactly equal" if exact else f"agreeing to {SHOWN + 5} significant digits"
    return EntryCheck(total - len(failures), total, ((how, total - len(failures)),),
                      f"each compared with {reduced}its weight's scalar backprop derivative evaluated at the same values",
                      tuple(failures))


def _values_layer(k, neurons, layers, net, W, b, wrap, z, a, fprime, delta, grad_W, grad_b) -> MatrixLayer:
    sources = net.inputs if k == 0 else [x.symbol for x in layers[k - 1]]
    return MatrixLayer(k + 1, _nested(W, wrap), None if b is None else _col(b, wrap), z, a, fprime, delta, grad_W, grad_b,
                       tuple(x.name for x in neurons), tuple(s.name for s in sources),
                       tuple(tuple(w.name for _, w in x.sources) for x in neurons),
                       tuple(x.bias.name for x in neurons) if b is not None else None)


def _scalar_forms(net: Network, layers: list[list]) -> list[tuple[sp.Symbol, sp.Expr]]:
    """Each weight and bias with its scalar backprop derivative in neuron symbols, in matrix order: what
    :func:`derivchain.engines.backprop.backprop` gives as ``local`` (dz/dw * delta of the one neuron using it),
    without the substituted form it also builds."""
    deltas = delta_equations(net)
    out = []
    for neurons in layers:
        for x in neurons:
            out += [(w, _with_l2(net, w, x.inner_partial(w) * deltas[x.symbol].value)) for _, w in x.sources]
        out += [(x.bias, deltas[x.symbol].value) for x in neurons if x.bias is not None]
    return out


def _with_l2(net: Network, w: sp.Symbol, form: sp.Expr) -> sp.Expr:
    # With --l2 the loss also reads w directly: backprop adds that use's partial, lambda * w.
    return form if net.l2 is None else sp.Add(net.loss_partial(w), form)


class _Pass:
    """One sample through the matrices: the forward pass, the deltas, delta (a^{l-1})^T, and each weight's
    scalar derivative at the same values (to compare with)."""

    def __init__(self, net: Network, layers: list[list], numbers: dict, scalars, exact: bool | None = None, tape=None,
                 outer: bool = True):
        known = self._compiled(net, layers, numbers, scalars, exact, tape) if tape is not None else None
        if known is not None:
            num = known.__getitem__
        else:
            num = self._interpreted(net, numbers, exact)

        raw = self.raw = _Raw(self.exact)
        env = self.env
        a_prev = [raw(numbers[s]) for s in net.inputs]
        forward = self.forward = []
        for neurons in layers:
            W = [[raw(numbers[w]) for _, w in x.sources] for x in neurons]
            b = [raw(numbers[x.bias]) for x in neurons] if neurons[0].bias is not None else None
            z = raw.affine(W, a_prev, b)
            a = [raw(env[x.symbol]) for x in neurons]  # f(z): the network's own forward pass
            fprime = [raw(num(x.derivative())) for x in neurons]
            forward.append((neurons, W, b, z, a, fprime, a_prev))
            a_prev = a
        self.grad_a = [raw(num(net.loss_derivative(o))) for o in layers[-1]]
        deltas = self.deltas = [None] * len(layers)
        deltas[-1] = [g * f for g, f in zip(self.grad_a, forward[-1][5])]
        for k in range(len(layers) - 2, -1, -1):
            back = raw.transposed_times(forward[k + 1][1], deltas[k + 1])
            deltas[k] = [s * f for s, f in zip(back, forward[k][5])]
        self.scalars = [raw(num(scalar)) for _, scalar in scalars]  # each weight's scalar derivative, in matrix order
        if not outer:  # a batch takes Delta (A^{l-1})^T itself, and reduces the samples' losses
            self.loss = raw.number(raw(num(net.loss_local)))
            return
        self.grad_W = [[[d * o for o in f[6]] for d in deltas[k]] for k, f in enumerate(forward)]  # delta (a^{l-1})^T
        if net.l2 is not None:  # + lambda W^l
            lam = raw(net.l2)
            self.grad_W = [[[g + lam * w for g, w in zip(gs, ws)] for gs, ws in zip(grad, f[1])] for grad, f in zip(self.grad_W, forward)]
        mine = []
        for k, (neurons, W, b, *_rest) in enumerate(forward):
            mine += [self.grad_W[k][j][i] for j in range(len(neurons)) for i in range(len(W[0]))]
            mine += list(deltas[k]) if b is not None else []
        self.compared = [(p, value, scalar) for (p, _), value, scalar in zip(scalars, mine, self.scalars)]

    def _interpreted(self, net, numbers, exact):
        env, own_exact = environment(net, numbers, exact=exact is not False)
        self.env, self.exact = env, own_exact if exact is None else exact and own_exact
        memo: dict = {}
        point = None if self.exact else {s: _Raw(False)(v) for s, v in env.items()}  # converted once, not per entry
        shared: dict = {}  # the scalar forms share their deltas: each subtree evaluated once

        def num(expr) -> object:
            if self.exact:
                return evaluate_at(expr, env, memo).value
            try:
                return evaluate(expr, point, DIGITS, memo=shared)
            except Undefined:
                return value_of(expr, env, False).value  # the one-line error naming what is undefined

        return num

    def _compiled(self, net, layers, numbers, scalars, exact, tape) -> dict | None:
        """Every expression's value from the compiled tape, or None (then the interpreter, with its errors)."""
        for as_exact in ((True, False) if exact is not False else (False,)):
            env = dict(numbers) if as_exact else {s: _Raw(False)(v) for s, v in numbers.items()}
            try:
                values, env = tape.run(env, as_exact)
            except _Unsupported:
                continue
            except (ZeroDivisionError, ValueError, OverflowError, TypeError):
                return None
            if not as_exact and not all(mpmath.isfinite(v) for v in values):
                return None
            self.env, self.exact = env, as_exact
            return dict(zip(tape.expressions, values))
        return None


class _Raw:
    """Arithmetic on the values' own numbers: Fractions when everything is exact, else mpmath numbers."""

    #: Fractions already converted (at the working precision): a batch converts each weight once, not per sample.
    _converted: dict = {}

    def __init__(self, exact: bool):
        self.exact = exact

    def __call__(self, v):
        if self.exact or isinstance(v, mpmath.mpf):
            return v
        if isinstance(v, Fraction):
            key = (v, mpmath.mp.prec)
            hit = self._converted.get(key)
            if hit is None:
                if len(self._converted) > 100_000:
                    self._converted.clear()
                hit = self._converted[key] = mpmath.mpf(v.numerator) / v.denominator
            return hit
        return mpmath.mpf(v)

    def dot(self, xs, ys):
        """sum x*y: exactly, or with mpmath's fdot (one rounding, and several times faster than a sum of products)."""
        if self.exact:  # a zero skipped: relu's deltas are often 0, and Fraction products are dear
            return sum((x * y for x, y in zip(xs, ys) if x and y), Fraction(0))
        return mpmath.fdot(xs, ys)

    def total(self, xs):
        """sum xs: exactly, or with mpmath's fsum."""
        return sum(xs, Fraction(0)) if self.exact else mpmath.fsum(xs)

    def affine(self, W, a, b):
        with mpmath.workdps(DIGITS + 10):
            out = [self.dot(row, a) for row in W]
            return [o + c for o, c in zip(out, b)] if b is not None else out

    def transposed_times(self, W, d):
        with mpmath.workdps(DIGITS + 10):
            return [self.dot([row[j] for row in W], d) for j in range(len(W[0]))]

    def same(self, a, b) -> bool:
        if self.exact:
            return a == b
        with mpmath.workdps(DIGITS + 10):
            a, b = as_mpf(a), as_mpf(b)
            return abs(a - b) <= max(abs(a), abs(b), mpmath.mpf(10) ** -DIGITS) * mpmath.mpf(10) ** -(SHOWN + 5)

    def number(self, v) -> Number:
        return Number(v, self.exact)


def _col(values, wrap) -> tuple:
    return tuple((wrap(v),) for v in values)


def _nested(rows, wrap) -> tuple:
    return tuple(tuple(wrap(v) for v in row) for row in rows)


# --- a batch: one column per sample ----------------------------------------------------------------
@record(repr=False)
class BatchLayer:
    """One layer over a batch of m samples: ``Z = W A^{l-1} + b 1^T``, ``A = f(Z)``, ``Delta`` (one column per
    sample), ``dL/dW = (1/m) Delta (A^{l-1})^T`` and ``dL/db = (1/m) Delta 1`` (nested tuples of Numbers)."""

    index: int
    W: tuple
    b: tuple | None
    Z: tuple
    A: tuple
    fprime: tuple
    Delta: tuple
    grad_W: tuple
    grad_b: tuple | None
    names: tuple[str, ...]
    sources: tuple[str, ...]
    weights: tuple[tuple[str, ...], ...]
    biases: tuple[str, ...] | None
    size: int  # m, the number of samples

    @property
    def A_prev_shape(self) -> Shape:
        """The shape of A^{l-1}: a row per neuron of layer l-1, a column per sample."""
        return (len(self.sources), self.size)

    @property
    def delta_shape(self) -> Shape:
        """The shape of Delta^l (and Z^l, A^l): a row per neuron, a column per sample."""
        return (len(self.names), self.size)

    @property
    def shapes(self) -> dict[str, Shape]:
        """Every matrix's shape (rows, columns): the per-sample ones have a column per sample."""
        each = self.delta_shape
        return _shapes(self, Z=each, A=each, A_prev=self.A_prev_shape, fprime=each, Delta=each)

    def __post_init__(self):
        _check_shapes(self)

    def __repr__(self) -> str:
        return f"BatchLayer({self.index}: W {len(self.names)}x{len(self.sources)}, {self.size} samples)"


@record(repr=False)
class BatchMatrixForm(_OfNetwork, Result):
    """The matrix form over a batch: A^0 (a column per sample), each layer's batch matrices, the entry check."""

    kind = "batch_matrix"  # the renderers' method for it (see derivchain.result)

    network: Network
    inputs: tuple
    layers: tuple[BatchLayer, ...]
    check: EntryCheck
    size: int
    exact: bool
    reduction: str = "mean"
    grad_A: tuple = ()  # grad_a L per sample: a row per output, a column per sample
    loss_value: Number | None = None  # the loss reduced over the samples as the gradient is

    def __repr__(self) -> str:
        return f"BatchMatrixForm({len(self.layers)} layer{'' if len(self.layers) == 1 else 's'}, {self.size} samples, {self.check.verified}/{self.check.total} entries verified)"


def batch_matrix_form(net: Network, parameters: dict, samples, reduction: str = "mean") -> BatchMatrixForm:
    """The matrix form of a batch: ``parameters`` give every weight and bias, each sample every input and target.

    ``dL/dW^l = (1/m) Delta^l (A^{l-1})^T`` (``reduction="sum"``: without the 1/m); each entry is compared
    with the same reduction of its weight's scalar backprop derivative over the samples."""
    check_reduction(reduction)
    layers = dense_layers(net)
    numbers = check_batch(net, {**parameters, SAMPLES: list(samples)})
    with mpmath.workdps(DIGITS + 10):
        scalars = _scalar_forms(net, layers)
        passes = _batch_passes(net, layers, numbers, scalars)
        exact, m = passes[0].exact, len(passes)
        raw, wrap = passes[0].raw, passes[0].raw.number
        one = Fraction(1) if exact else mpmath.mpf(1)
        scale = one / m if reduction == "mean" else one
        columns = lambda k, i: [[p.forward[k][i][j] for p in passes] for j in range(len(layers[k]))]  # noqa: E731
        A0 = [[p.forward[0][6][j] for p in passes] for j in range(len(net.inputs))]
        out_layers, A_prev, mine = [], A0, []
        for k, neurons in enumerate(layers):
            W, b = passes[0].forward[k][1], passes[0].forward[k][2]
            Delta = [[p.deltas[k][j] for p in passes] for j in range(len(neurons))]
            grad_W = [[scale * raw.dot(Delta[j], A_prev[i]) for i in range(len(A_prev))]
                      for j in range(len(neurons))]  # (1/m) Delta (A^{l-1})^T
            if net.l2 is not None:  # each sample's loss holds the L2 term: lambda W^l reduced as the samples are (sum: m times)
                lam = raw(net.l2) * (m if reduction == "sum" else 1)
                grad_W = [[g + lam * w for g, w in zip(gs, ws)] for gs, ws in zip(grad_W, W)]
            grad_b = [scale * raw.total(Delta[j]) for j in range(len(neurons))] if b is not None else None  # (1/m) Delta 1
            mine += [v for row in grad_W for v in row] + (grad_b or [])
            sources = net.inputs if k == 0 else [x.symbol for x in layers[k - 1]]
            out_layers.append(BatchLayer(k + 1, _nested(W, wrap), None if b is None else _col(b, wrap), _nested(columns(k, 3), wrap),
                                         _nested(columns(k, 4), wrap), _nested(columns(k, 5), wrap), _nested(Delta, wrap),
                                         _nested(grad_W, wrap), None if grad_b is None else _col(grad_b, wrap),
                                         tuple(x.name for x in neurons), tuple(s.name for s in sources),
                                         tuple(tuple(w.name for _, w in x.sources) for x in neurons),
                                         tuple(x.bias.name for x in neurons) if b is not None else None, m))
            A_prev = columns(k, 4)
        failures = []
        for index, ((p, _), value) in enumerate(zip(scalars, mine)):
            scalar = scale * raw.total([q.scalars[index] for q in passes])
            if not raw.same(value, scalar):
                failures.append(f"{p.name}: matrix {wrap(value)}, scalar {wrap(scalar)}")
        check = _values_check(len(mine), failures, exact, f"the {reduction} over the samples of ")
        grad_A = _nested([[p.grad_a[j] for p in passes] for j in range(len(layers[-1]))], wrap)
        loss = reduce_numbers([p.loss for p in passes], reduction, exact)
        return BatchMatrixForm(net, _nested(A0, wrap), tuple(out_layers), check, m, exact, reduction, grad_A, loss)


def _batch_passes(net: Network, layers: list[list], numbers, scalars) -> list[_Pass]:
    """One pass per sample, all in one arithmetic: exact Fractions only when every sample is exact."""
    tape = _tape(net, layers, scalars)
    first = _Pass(net, layers, numbers[0], scalars, tape=tape, outer=False)
    if first.exact:
        passes = [first] + [_Pass(net, layers, n, scalars, tape=tape, outer=False) for n in numbers[1:]]
        if all(p.exact for p in passes):
            return passes
    # 50-digit arithmetic for the whole batch: the weights converted once, each sample's inputs and targets on top.
    to_mpf = _Raw(False)
    shared = {s: to_mpf(v) for s, v in numbers[0].items()}
    data = list(net.inputs) + list(net.targets)
    return [_Pass(net, layers, {**shared, **{s: to_mpf(n[s]) for s in data}}, scalars, exact=False, tape=tape, outer=False)
            for n in numbers]


# --- many samples: the expressions compiled once ---------------------------------------------------
class _Unsupported(Exception):
    pass


_SYM, _CONST, _ADD, _MUL, _POW, _FN, _POWX = range(7)


def _tape(net: Network, layers: list[list], scalars) -> _Tape | None:
    """The tape of the forward pass, every f'(z), dLoss/dOut and scalar derivative; None if a node is not compilable."""
    roots = [x.derivative() for neurons in layers for x in neurons] + [net.loss_derivative(o) for o in layers[-1]] + [net.loss_local]
    try:
        return _Tape(net.neurons, roots + [form for _, form in scalars])
    except _Unsupported:
        return None


def _factor_uses(roots) -> dict:
    """Each factor -> how many distinct products of three or more factors hold it."""
    seen, uses, stack = set(), {}, list(roots)
    while stack:
        node = stack.pop()
        if node in seen or node.is_Symbol or node.is_Number:
            continue
        seen.add(node)
        if node.is_Mul and len(node.args) > 2:
            for f in node.args:
                uses[f] = uses.get(f, 0) + 1
        stack.extend(node.args)
    return uses


class _Tape:
    """Expressions compiled once into steps over their shared subtrees, then evaluated per sample: the
    neurons' equations in order (each output bound to its symbol as soon as it is computed), then any
    other expressions in neuron symbols. Exact at Fractions where every function has an exact rule
    (else :class:`_Unsupported`), or with mpmath numbers (call inside ``workdps``)."""

    def __init__(self, neurons, roots):
        self.slot: dict = {}
        self.steps: list = []
        self.binds: dict[int, sp.Symbol] = {}
        self.products: dict[tuple, int] = {}  # a product's leading factors -> the slot of their product
        self.uses = _factor_uses([n.equation for n in neurons] + list(roots))
        for n in neurons:
            self.binds[self._add(n.equation)] = n.symbol
        self.expressions = list(roots)
        self.roots = [self._add(r) for r in roots]

    def _add(self, root) -> int:
        stack = [(root, False)]
        while stack:
            node, done = stack.pop()
            if node in self.slot:
                continue
            if done:
                step = self._step(node)  # first: a long product may add steps of its own
                self.slot[node] = len(self.steps)
                self.steps.append(step)
                continue
            stack.append((node, True))
            if not (node.is_Symbol or node.is_Number):
                stack.extend((a, False) for a in reversed(self._operands(node)) if a not in self.slot)
        return self.slot[root]

    @staticmethod
    def _pairs(e) -> list[tuple]:
        # A sum of products w*x (a neuron's z, a delta's back-sum) is one dot product: its factors, not its products.
        return [a.args if a.is_Mul and len(a.args) == 2 else (a,) for a in e.args]

    def _operands(self, e) -> list:
        return [f for pair in self._pairs(e) for f in pair] if e.is_Add else list(e.args)

    def _step(self, e):
        s = self.slot
        if e.is_Symbol:
            return (_SYM, e, None)
        if e.is_Rational:
            return (_CONST, Fraction(int(e.p), int(e.q)), None)
        if e.is_Add:
            return (_ADD, tuple(tuple(s[f] for f in pair) for pair in self._pairs(e)), None)
        if e.is_Mul and len(e.args) > 2:
            return self._product(e)
        if e.is_Mul:
            return (_MUL, tuple(s[a] for a in e.args), None)
        if e.is_Pow:
            if e.args[1].is_Integer:
                return (_POW, s[e.args[0]], int(e.args[1]))
            return (_POWX, s[e.args[0]], s[e.args[1]])
        rule = rule_for(e)
        if rule is not None:
            return (_FN, tuple(s[a] for a in e.args), rule)
        raise _Unsupported(type(e).__name__)

    def _product(self, e):
        # The scalar derivatives' products share most of their factors (H33*W769*(1 - H33) times each weight
        # into H33): the most used factors first, each leading part computed once and shared.
        order = sorted(e.args, key=lambda f: (-self.uses.get(f, 0), self.slot[f]))
        at, lead = self.slot[order[0]], (order[0],)
        for f in order[1:-1]:
            lead += (f,)
            hit = self.products.get(lead)
            if hit is None:
                hit = self.products[lead] = len(self.steps)
                self.steps.append((_MUL, (at, self.slot[f]), None))
            at = hit
        return (_MUL, (at, self.slot[order[-1]]), None)

    def run(self, env: dict, exact: bool) -> tuple[list, dict]:
        """The roots' values and the environment with every neuron's output added."""
        env = dict(env)
        vals: list = [None] * len(self.steps)
        mpf, fdot = mpmath.mpf, mpmath.fdot
        one = Fraction(1) if exact else mpf(1)
        for i, (kind, a, b) in enumerate(self.steps):
            if kind == _SYM:
                v = env[a]
            elif kind == _CONST:
                v = a if exact else mpf(a.numerator) / a.denominator
            elif kind == _ADD:
                terms = [(vals[p[0]], vals[p[1]] if len(p) == 2 else one) for p in a]
                if exact:
                    v = sum((x * y for x, y in terms if x and y), Fraction(0))
                else:  # one rounding, and several times faster than term by term
                    v = fdot(terms)
            elif kind == _MUL:
                v = vals[a[0]]
                for k in a[1:]:
                    if not v:  # 0 times a finite number (relu's f' is 0 or 1): skip the rest
                        break
                    v = v * vals[k]
            elif kind == _POW:
                base = vals[a]
                if base == 0 and b < 0:
                    raise _Unsupported("division by zero")
                v = base ** b
            elif kind == _POWX:
                if exact:
                    raise _Unsupported("a power that is not an integer")
                v = mpmath.power(vals[a], vals[b])
            else:
                if exact and b.exact is None:
                    raise _Unsupported(b.name)
                v = (b.exact if exact else b.numeric)(*(vals[k] for k in a))
                if not exact and isinstance(v, mpmath.mpc):
                    raise _Unsupported("not real")
            vals[i] = v
            symbol = self.binds.get(i)
            if symbol is not None:
                env[symbol] = v
        return [vals[r] for r in self.roots], env
