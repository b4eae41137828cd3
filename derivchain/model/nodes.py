"""Nodes: the one protocol every kind of node follows, and its two kinds, neurons and expression nodes.

A node is a value computed from its neighbours (inputs, parameters, other nodes). What the engines,
the evaluation, the diagrams and the network files know of a node is this protocol, never its class:

* ``symbol``, ``name``, ``layer``, ``is_output``; ``equation``, its value in neighbour symbols;
* ``inner``, what its delta is taken of (a neuron's pre-activation z, else the node itself), and
  ``derivative()``, what stands between the delta and dLoss/d(node): the chain rule through a node is
  ``partial(x) = derivative() * inner_partial(x)``, with ``inner_partial(x)`` = d(inner)/dx;
* ``reads``, the symbols it reads, in order;
* ``preactivation``, the pre-activation z when its delta is taken of one (else None): what the dense
  equations, the matrix form and the numbers at values speak of;
* ``sources`` and ``bias``, its weighted edges (none for a node read through an expression) and
  ``activation``, what is applied to z (an expression's own value: the identity named ``expression``);
* ``noun``, what a summary counts it as; ``definition``, the ``name = expression`` a diagram's caption
  shows; ``drawn_edges``, the edges a picture draws into it; ``file_entry``, how a network file writes it.

A new kind (a matrix node: a matrix expression of matrix leaves, with shapes) subclasses :class:`Node`
and gives at least ``equation`` and ``inner_partial``; the rest has defaults that hold for any node
whose value is an expression in its neighbours.
"""

from __future__ import annotations

import re
from functools import cached_property

import sympy as sp

from .. import memo
from ..record import record
from ..symbolic.build import mul
from ..symbolic.walk import differentiate
from .activations import Activation, activation_of

#: The activation a node without a pre-activation reports: its value is its equation itself.
NO_ACTIVATION = Activation("expression", lambda z: z, lambda z, o: sp.Integer(1), r"f(z) = z")


class Node:
    """A node of a network: the protocol engines, evaluation, diagrams and network files use.

    Subclasses are records holding ``symbol``, ``layer`` and ``is_output``; they give ``equation`` and
    ``inner_partial`` (checked when the class is defined) and override the defaults below where they differ.
    """

    symbol: sp.Symbol
    layer: int
    is_output: bool

    #: What a summary counts the node as (``2 expression nodes``).
    noun = "node"
    #: Weighted edges (source, weight), in order: none for a node that reads its neighbours through an expression.
    sources: tuple = ()
    #: The bias added to the pre-activation, if any.
    bias = None
    #: What is applied to the pre-activation; a node whose value is its equation reports the identity.
    activation = NO_ACTIVATION
    #: The pre-activation z its delta is taken of, in neighbour symbols; None: the delta is dLoss/d(node).
    preactivation = None

    _REQUIRED = ("equation", "inner_partial")

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        missing = [name for name in Node._REQUIRED if getattr(cls, name) is getattr(Node, name)]
        if missing:  # fail when the kind is defined, not when an engine first asks
            raise TypeError(f"node kind {cls.__name__} does not define {', '.join(missing)}")

    @property
    def name(self) -> str:
        """The node's name, e.g. ``H4`` or ``Out``."""
        return self.symbol.name

    @property
    def equation(self) -> sp.Expr:
        """The node's value in neighbour symbols."""
        raise NotImplementedError

    @property
    def inner(self) -> sp.Expr:
        """What the node's delta is taken of: its pre-activation where it has one, else its value."""
        return self.equation if self.preactivation is None else self.preactivation

    def derivative(self) -> sp.Expr:
        """d(node)/d(inner): 1 unless an activation stands between them."""
        return sp.S.One

    @cached_property
    def reads(self) -> tuple[sp.Symbol, ...]:
        """Every symbol the equation reads, in order of first appearance (as printed), each once."""
        return reading_order(self.equation)

    def inner_partial(self, x: sp.Symbol) -> sp.Expr:
        """d(inner)/dx in neighbour symbols."""
        raise NotImplementedError

    def partial(self, x: sp.Symbol) -> sp.Expr:
        """The local partial d(node)/dx = derivative() * d(inner)/dx."""
        inner = self.inner_partial(x)
        d = self.derivative()
        return d if inner == 1 else inner if d == 1 else mul(d, inner)

    @property
    def definition(self) -> str | None:
        """``name = expression`` for a caption; None where the picture shows the node whole (a neuron's edges)."""
        return f"{self.name} = {self.equation}"

    def drawn_edges(self, drawn) -> list[tuple[sp.Symbol, sp.Symbol, sp.Symbol | None]]:
        """The edges a picture draws into the node, (source, node, the weight it carries or None): one from
        each weighted edge's source, else one from each symbol it reads among ``drawn`` (nodes and inputs)."""
        if self.sources:
            return [(src, self.symbol, w) for src, w in self.sources]
        return [(r, self.symbol, None) for r in self.reads if r in drawn]

    def file_entry(self) -> tuple[str, dict]:
        """How a network file writes the node: its table (``nodes``) and its entry there, an expression."""
        entry = {"name": self.name, "expr": str(self.equation)}
        if self.is_output:
            entry["output"] = True
        return "nodes", entry


@record(repr=False)
class Neuron(Node):
    """One neuron: its output symbol, incoming (source, weight) edges, bias and activation."""

    symbol: sp.Symbol
    layer: int
    sources: tuple[tuple[sp.Symbol, sp.Symbol], ...]
    bias: sp.Symbol | None
    activation: Activation
    is_output: bool

    noun = "neuron"

    def __repr__(self) -> str:
        return f"Neuron({self.name} = {self.equation})"

    @cached_property
    def preactivation(self) -> sp.Expr:
        """z = sum of source * weight (+ bias), in neighbour symbols."""
        terms = [mul(src, w) for src, w in self.sources]
        if self.bias is not None:
            terms.append(self.bias)
        return sp.Add(*terms)

    @cached_property
    def equation(self) -> sp.Expr:
        """The neuron's output f(z) in neighbour symbols: ``H4 = H1*W7 + H2*W8 + H3*W9``."""
        return self.activation.function(self.preactivation)

    def derivative(self) -> sp.Expr:
        """f'(z) the textbook way, in this neuron's own symbol where the rule allows (o*(1 - o))."""
        return self._derivative

    @cached_property
    def _derivative(self) -> sp.Expr:
        return self.activation.derivative(self.preactivation, self.symbol)

    @property
    def inner(self) -> sp.Expr:
        """What the node's delta is taken of: the pre-activation z (delta = dLoss/dz)."""
        return self.preactivation

    @cached_property
    def reads(self) -> tuple[sp.Symbol, ...]:
        """Every symbol the equation reads, in edge order (source, weight, ..., bias), each once."""
        read = [x for edge in self.sources for x in edge] + ([self.bias] if self.bias is not None else [])
        return tuple(dict.fromkeys(read))

    def inner_partial(self, x: sp.Symbol) -> sp.Expr:
        """dz/dx in neighbour symbols: a weight's source, a source's weight, 1 for the bias (summed
        over the edges that carry x, a weight shared within the neuron included)."""
        by_weight, by_source = self._edges_by
        terms = by_weight.get(x, []) + by_source.get(x, [])
        if self.bias == x:
            terms.append(sp.S.One)
        return sp.Add(*terms)

    @cached_property
    def _edges_by(self) -> tuple[dict, dict]:
        # weight -> its sources and source -> its weights, in edge order: a wide neuron's partials
        # are asked for every weight, and scanning the edges each time was quadratic in the fan-in.
        by_weight: dict = {}
        by_source: dict = {}
        for src, w in self.sources:
            by_weight.setdefault(w, []).append(src)
            by_source.setdefault(src, []).append(w)
        return by_weight, by_source

    def partial(self, x: sp.Symbol) -> sp.Expr:
        """The local partial d(node)/dx = f'(z) * dz/dx, f' the textbook way."""
        inner = self.inner_partial(x)
        return self.derivative() if inner == 1 else mul(self.derivative(), inner)

    @property
    def definition(self) -> None:
        """None: a picture shows a neuron by its edges, weights and bias."""
        return None

    def file_entry(self) -> tuple[str, dict]:
        """How a network file writes the neuron: in ``neurons``, its edges (source = weight), bias and activation."""
        entry: dict = {"name": self.name, "inputs": {src.name: w.name for src, w in self.sources}}
        if self.bias is not None:
            entry["bias"] = self.bias.name
        entry["activation"] = self.activation.name
        if self.is_output:
            entry["output"] = True
        return "neurons", entry


@record(repr=False)
class ExprNode(Node):
    """A node given by an expression in inputs, parameters and other nodes: ``c = a + b``.

    Its delta is dLoss/d(node) itself (there is no pre-activation), and its local partials are the
    expression's derivatives, written with the node's own symbol where its expression reappears.
    """

    symbol: sp.Symbol
    layer: int
    expr: sp.Expr
    is_output: bool

    noun = "expression node"

    def __repr__(self) -> str:
        return f"ExprNode({self.name} = {self.expr})"

    @property
    def equation(self) -> sp.Expr:
        """The node's value in neighbour symbols: its expression."""
        return self.expr

    inner = equation

    def inner_partial(self, x: sp.Symbol) -> sp.Expr:
        """d(expr)/dx in neighbour symbols, by the rule table, the node's own expression written as its symbol."""
        cache = memo.of(self)[memo.PARTIALS]
        hit = cache.get(x)
        if hit is None:
            act = activation_of(self.expr)
            if act is not None and self.expr == act.function(self.expr.args[0]):
                # f(u): f' the textbook way in the node's own symbol (sigmoid: s*(1 - s)) times du/dx
                inner = differentiate(self.expr.args[0], x)
                value = act.derivative(self.expr.args[0], self.symbol) * inner
            else:
                value = differentiate(self.expr, x)
            if not self.expr.is_Symbol:  # sigmoid(z)*(1 - sigmoid(z)) -> s*(1 - s)
                value = value.xreplace({self.expr: self.symbol})
            hit = cache[x] = value
        return hit

    partial = inner_partial  # no activation between the node and its delta


#: A printed name: an identifier, or a matrix entry's ``X[0,1]`` (see derivchain.model.matrix_file);
#: names, matrix entries (X[0,1]) and a PyTorch model's entries (0.weight[1,0], fc1.bias[2], conv.weight[0,0,1,2]).
_NAMES = re.compile(r"(?:[A-Za-z0-9_]+\.)*[A-Za-z][A-Za-z0-9_]*(?:\[\d+(?:,\d+)*\])?")


def reading_order(expr: sp.Expr) -> tuple[sp.Symbol, ...]:
    """The free symbols of ``expr`` in the order its printed form shows them (deterministic)."""
    from sympy.printing.str import StrPrinter

    text = StrPrinter({"order": "none"}).doprint(expr)
    names = {s.name: s for s in expr.free_symbols}
    found = [m.group(0) for m in _NAMES.finditer(text) if m.group(0) in names]
    return tuple(names[n] for n in dict.fromkeys(found))
