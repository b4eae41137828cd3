"""Backpropagation: dLoss/dw_ij = o_i * delta_j, with delta_j = f'(z_j) * sum_k w_jk * delta_k.

On any graph the same recursion: a node's delta is dLoss/d(what it activates), the sum over the nodes
it feeds of (their dz/d(node)) * their delta; a leaf's gradient sums dz/d(leaf) * delta over its uses.
"""

from __future__ import annotations

from collections import Counter

import sympy as sp

from .. import memo
from ..record import record
from ..symbolic.build import mul
from .forms import Form
from ..model.network import Network, real


def delta_symbol(neuron: sp.Symbol) -> sp.Symbol:
    """The symbol delta_H4 = dLoss/dz_H4 for a neuron's pre-activation."""
    return real(f"delta_{neuron.name}")


@record(repr=False)
class DeltaEquation:
    """delta_j = f'(z_j) * (dLoss/dOut_j if j is an output + sum_k w_jk * delta_k).

    ``rhs`` is the recursion as written (delta symbols, the product not multiplied out); ``value`` is
    the same in neuron symbols, with any textbook rewrite (named in ``rewrite``) applied.
    """

    neuron: sp.Symbol
    delta: sp.Symbol
    derivative: sp.Expr
    loss_derivative: sp.Expr | None
    terms: tuple[tuple[sp.Symbol, sp.Symbol], ...]
    value: sp.Expr
    rewrite: str = ""

    @property
    def rhs(self) -> sp.Expr:
        """The right-hand side in delta symbols, as the recursion writes it: f'(z) * (sum), brackets kept."""
        inner = [w * d for w, d in self.terms]
        if self.loss_derivative is not None:
            inner.insert(0, self.loss_derivative)
        body = sp.Add(*inner)
        if self.derivative == 1:
            return body
        # One flat product, not SymPy's evaluated one (which would multiply a number into the sum or
        # cancel a fraction): the factors as the recursion writes them, the sum a single factor.
        return sp.Mul._from_args(sp.Mul.make_args(self.derivative) + sp.Mul.make_args(body), True)

    @property
    def rhs_form(self):
        """The right-hand side as printed: f'(z) first, the sum's terms in successor order (a chain form)."""
        from .forms import Ordered, OrderedSum

        inner = [sp.Mul._from_args((w, d), True) for w, d in self.terms]
        if self.loss_derivative is not None:
            inner.insert(0, self.loss_derivative)
        body = inner[0] if len(inner) == 1 else OrderedSum(tuple(inner))
        if self.derivative == 1:
            return body
        return Ordered(sp.Mul.make_args(self.derivative) + (body,), compact=True)

    def __repr__(self) -> str:
        return f"DeltaEquation({self.delta} = {self.rhs})"


@record(repr=False)
class Backprop(Form):
    """dLoss/dleaf = sum over its uses of dz_use/dleaf * delta_use (one use: source * delta(target)).

    ``uses`` holds (dz/dleaf, node) per use, node ``None`` where the loss reads the leaf itself;
    ``source`` and ``neuron`` are the single use's, as a dense network writes o_i * delta_j.
    """

    source: sp.Symbol | None = None
    neuron: sp.Symbol | None = None
    deltas: tuple[DeltaEquation, ...] = ()
    uses: tuple[tuple[sp.Expr, sp.Symbol | None], ...] = ()

    @property
    def entry(self) -> sp.Expr:
        """dLoss/dleaf in delta symbols, summed over the uses in order (a bias's source is 1)."""
        terms = [_use_term(c, n) for c, n in self.uses]
        if len(terms) == 1:
            return terms[0]
        from .forms import OrderedSum

        return OrderedSum(tuple(terms))

    @property
    def gradient_text(self) -> str:
        """``H1 * delta_H4``, or a sum over the uses."""
        return gradient_text(self.uses)


def gradient_text(uses) -> str:
    """``H1 * delta_H4`` for one use; the uses' terms joined by `` + `` for several."""
    return " + ".join(f"{_text(c)} * {delta_symbol(n).name}" if n is not None else _text(c) for c, n in uses) or "0"


def _text(e: sp.Expr) -> str:
    # str() of a plain symbol is its name (a table asks for every weight's source); anything else printed.
    return e.name if type(e) is sp.Symbol else str(e)


def _use_term(coefficient: sp.Expr, node: sp.Symbol | None) -> sp.Expr:
    if node is None:  # the loss reads the leaf itself: its partial is the whole term
        return coefficient
    from .forms import Ordered

    delta = delta_symbol(node)  # o_i * delta_j in that order, whatever the names' sort order
    return delta if coefficient == 1 else Ordered(sp.Mul.make_args(coefficient) + (delta,), compact=True)


def factor_common(terms: list[sp.Expr]) -> sp.Expr:
    """The sum of ``terms`` with the factors every term shares pulled out (one level, no recursion).

    This is backprop's factoring: W7*W13*s + W10*W14*s -> (W13*W7 + W10*W14)*s. SymPy's
    factor_terms does the same but recurses into every subexpression, which grows with depth.
    """
    if len(terms) < 2:
        return sp.Add(*terms)
    factors = [sp.Mul.make_args(t) for t in terms]
    common = Counter(factors[0])
    for f in factors[1:]:
        common &= Counter(f)
    if not common:
        return sp.Add(*terms)
    rests = []
    for f in factors:
        left = common.copy()
        kept = []
        for x in f:
            if left[x] > 0:
                left[x] -= 1
            else:
                kept.append(x)
        rests.append(sp.Mul(*kept))
    return sp.Mul(*common.elements(), sp.Add(*rests))


def delta_equations(network: Network) -> dict[sp.Symbol, DeltaEquation]:
    """Every neuron's delta equation, from the outputs back; computed once per network."""
    return network.memos.value(memo.DELTAS, lambda: _delta_equations(network))


def _delta_equations(network: Network) -> dict[sp.Symbol, DeltaEquation]:
    values: dict[sp.Symbol, sp.Expr] = {}
    equations: dict[sp.Symbol, DeltaEquation] = {}
    for n in reversed(network.neurons):
        successors = network.successors.get(n.symbol, ())
        terms = tuple((c, delta_symbol(s.symbol)) for s, c in successors)
        loss_derivative = network.loss_derivative(n) if n.is_output else None
        inner = [c * values[s.symbol] for s, c in successors]
        if loss_derivative is not None:
            inner.insert(0, loss_derivative)
        # Pull out what the terms share: the factored shape backprop is about, (W13*W7 + W14*W10)*sign(...)
        common = factor_common(inner)
        value = network.intern(common if n.derivative() == 1 else n.derivative() * common)
        # A loss whose textbook delta is a simplification (sigmoid + cross-entropy: Out - Y) says so.
        rewrite = network.loss.rewrite if n.is_output and len(inner) == 1 else ""
        values[n.symbol] = value
        equations[n.symbol] = DeltaEquation(n.symbol, delta_symbol(n.symbol), n.derivative(), loss_derivative, terms, value, rewrite)
    return equations


def _deltas_needed(network: Network, uses: tuple) -> tuple[DeltaEquation, ...]:
    """The delta equations below ``uses`` (nodes), from the outputs back, layer by layer, each layer
    in node order (Out1 before Out2); once per set of uses (every weight into a neuron shares them)."""
    cache = network.memos[memo.DELTAS_NEEDED]
    key = tuple(u.symbol for u in uses)
    hit = cache.get(key)
    if hit is None:
        all_deltas = delta_equations(network)
        needed: set[sp.Symbol] = set()
        for u in uses:
            needed |= network.descendants(u)
        order = sorted((n for n in network.neurons if n.symbol in needed), key=lambda n: -n.layer)
        hit = cache[key] = tuple(all_deltas[n.symbol] for n in order)
    return hit


def backprop(network: Network, parameter: sp.Symbol) -> Backprop:
    """Derive dLoss/dleaf by the delta recursion, factored (not multiplied out), summed over its uses."""
    all_deltas = delta_equations(network)
    uses = tuple((network.loss_partial(parameter), None) if u is None else (u.inner_partial(parameter), u.symbol)
                 for u in network.uses.get(parameter, ()))
    equations = _deltas_needed(network, tuple(u for u in network.uses.get(parameter, ()) if u is not None))
    terms = [c if n is None else all_deltas[n].value if c == 1 else mul(c, all_deltas[n].value) for c, n in uses]
    local = sp.Add(*terms)  # one use: a product that keeps the delta's factored shape
    source = neuron = None
    if len(uses) == 1 and uses[0][1] is not None:
        neuron = uses[0][1]
        source = None if uses[0][0] == 1 else uses[0][0]
    how = gradient_text(uses) if len(uses) < 2 else f"the sum over its {len(uses)} uses: {gradient_text(uses)}"
    return Backprop("backprop", parameter, local, network.substitute(local), how, source=source, neuron=neuron,
                    deltas=equations, uses=uses)
