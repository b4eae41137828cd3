"""The network model: symbols, neurons with their equations, the loss, and the graph between them.

Notation ("flat", the worked example's): inputs ``X1..Xn``; hidden neurons ``H1..Hm`` numbered across
all hidden layers; one output ``Out`` (several: ``Out1..Outk``) with targets ``Y`` (``Y1..Yk``);
weights ``W1..`` numbered by target neuron, and within a target by source; biases ``B1..`` in
neuron order. Every symbol is ``real=True``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import sympy as sp

from .activations import Activation, get_activation
from .expansion import expand_within
from .errors import LayersError, UnknownParameterError
from .losses import Loss, get_loss

#: The worked example's network: 2 inputs, hidden layers of 3 and 2, one output.
DEFAULT_LAYERS = (2, 3, 2, 1)
#: Widest layer accepted, so a typo such as ``2,30000,1`` is refused instead of hanging.
MAX_WIDTH = 1000

LOSS = sp.Symbol("Loss", real=True)


def real(name: str) -> sp.Symbol:
    """A real SymPy symbol: every quantity in a network is a real number."""
    return sp.Symbol(name, real=True)


@dataclass(frozen=True)
class Neuron:
    """One neuron: its output symbol, incoming (source, weight) edges, bias and activation."""

    symbol: sp.Symbol
    layer: int
    sources: tuple[tuple[sp.Symbol, sp.Symbol], ...]
    bias: sp.Symbol | None
    activation: Activation
    is_output: bool

    @property
    def name(self) -> str:
        """The neuron's name, e.g. ``H4`` or ``Out``."""
        return self.symbol.name

    @property
    def preactivation(self) -> sp.Expr:
        """z = sum of source * weight (+ bias), in neighbour symbols."""
        terms = [src * w for src, w in self.sources]
        if self.bias is not None:
            terms.append(self.bias)
        return sp.Add(*terms)

    @property
    def equation(self) -> sp.Expr:
        """The neuron's output f(z) in neighbour symbols: ``H4 = H1*W7 + H2*W8 + H3*W9``."""
        return self.activation.function(self.preactivation)

    def derivative(self) -> sp.Expr:
        """f'(z) the textbook way, in this neuron's own symbol where the rule allows (o*(1 - o))."""
        return self.activation.derivative(self.preactivation, self.symbol)


@dataclass(frozen=True)
class Network:
    """A feed-forward network with named symbols, its equations and its loss."""

    layers: tuple[int, ...]
    inputs: tuple[sp.Symbol, ...]
    neurons: tuple[Neuron, ...]
    targets: tuple[sp.Symbol, ...]
    loss: Loss

    # --- names -------------------------------------------------------------------------------
    @cached_property
    def outputs(self) -> tuple[Neuron, ...]:
        """The output neurons, in order."""
        return tuple(n for n in self.neurons if n.is_output)

    @cached_property
    def hidden(self) -> tuple[Neuron, ...]:
        """The hidden neurons, in order."""
        return tuple(n for n in self.neurons if not n.is_output)

    @cached_property
    def weights(self) -> tuple[sp.Symbol, ...]:
        """Every weight, in numbering order."""
        return tuple(w for n in self.neurons for _, w in n.sources)

    @cached_property
    def biases(self) -> tuple[sp.Symbol, ...]:
        """Every bias, in numbering order."""
        return tuple(n.bias for n in self.neurons if n.bias is not None)

    @cached_property
    def parameters(self) -> tuple[sp.Symbol, ...]:
        """Weights then biases: everything a gradient can be taken for."""
        return self.weights + self.biases

    @cached_property
    def neuron_by_symbol(self) -> dict[sp.Symbol, Neuron]:
        """Neuron lookup by its output symbol."""
        return {n.symbol: n for n in self.neurons}

    @cached_property
    def edges(self) -> dict[sp.Symbol, tuple[sp.Symbol | None, Neuron]]:
        """Each parameter -> (source symbol, target neuron); a bias has no source."""
        table: dict[sp.Symbol, tuple[sp.Symbol | None, Neuron]] = {}
        for n in self.neurons:
            for src, w in n.sources:
                table[w] = (src, n)
            if n.bias is not None:
                table[n.bias] = (None, n)
        return table

    @cached_property
    def successors(self) -> dict[sp.Symbol, tuple[tuple[Neuron, sp.Symbol], ...]]:
        """Each node symbol -> the (neuron, weight) edges leaving it, in neuron order."""
        out: dict[sp.Symbol, list[tuple[Neuron, sp.Symbol]]] = {}
        for n in self.neurons:
            for src, w in n.sources:
                out.setdefault(src, []).append((n, w))
        return {k: tuple(v) for k, v in out.items()}

    def parameter(self, name: str) -> sp.Symbol:
        """The weight or bias called ``name``, or an error naming the valid range."""
        for p in self.parameters:
            if p.name == name:
                return p
        raise UnknownParameterError(
            f"unknown weight {name!r}; this network has {self.describe_parameters()}"
        )

    def describe_parameters(self) -> str:
        """``weights W1..W14`` (and ``biases B1..B6``), for messages."""
        text = f"weights {_span(self.weights)}"
        if self.biases:
            text += f" and biases {_span(self.biases)}"
        return text

    # --- equations ---------------------------------------------------------------------------
    @cached_property
    def substitution(self) -> dict[sp.Symbol, sp.Expr]:
        """Each neuron symbol -> its output in inputs and parameters only, nested and shared."""
        full: dict[sp.Symbol, sp.Expr] = {}
        for n in self.neurons:
            full[n.symbol] = n.equation.xreplace(full)
        return full

    def expanded_output(self, output: Neuron, max_terms: int = 2000) -> sp.Expr | None:
        """An output fully expanded, or None when that would exceed ``max_terms`` terms."""
        return expand_within(self.substitution[output.symbol], max_terms)

    def substitute(self, expr: sp.Expr) -> sp.Expr:
        """Replace every neuron symbol in ``expr`` by its full expression."""
        return expr.xreplace(self.substitution)

    @cached_property
    def loss_local(self) -> sp.Expr:
        """The loss in output symbols, summed over outputs: ``Abs(Out - Y)``."""
        return sp.Add(*(self.loss.formula(o.symbol, y) for o, y in zip(self.outputs, self.targets)))

    @cached_property
    def loss_full(self) -> sp.Expr:
        """The loss with every output fully substituted."""
        return self.substitute(self.loss_local)

    def loss_derivative(self, output: Neuron) -> sp.Expr:
        """dLoss/dOut for one output, in output and target symbols."""
        return sp.diff(self.loss_local, output.symbol)

    # --- description -------------------------------------------------------------------------
    @property
    def hidden_activation(self) -> str:
        """Name of the hidden layers' activation (``identity`` when there are none)."""
        return self.hidden[0].activation.name if self.hidden else "identity"

    @property
    def output_activation(self) -> str:
        """Name of the output layer's activation."""
        return self.outputs[0].activation.name

    def summary(self) -> str:
        """The network in one line."""
        bias = "with biases" if self.biases else "no biases"
        shape = "-".join(map(str, self.layers))
        return (
            f"{shape} dense network; hidden activation {self.hidden_activation}, "
            f"output activation {self.output_activation}; loss {self.loss.name} "
            f"({self.loss_text()}); {bias}"
        )

    def loss_text(self) -> str:
        """The loss formula in this network's output names."""
        return " + ".join(str(self.loss.formula(o.symbol, y)) for o, y in zip(self.outputs, self.targets))


def _span(symbols: tuple[sp.Symbol, ...]) -> str:
    if len(symbols) == 1:
        return symbols[0].name
    return f"{symbols[0].name}..{symbols[-1].name}"


def parse_layers(text: str) -> tuple[int, ...]:
    """Parse ``2,3,2,1`` into layer sizes, with a one-line error for anything else."""
    example = "give positive integers separated by commas, e.g. 2,3,2,1"
    parts = text.split(",")
    sizes = []
    for i, raw in enumerate(parts, start=1):
        part = raw.strip()
        if not part:
            raise LayersError(f"layers {text!r}: entry {i} is empty; {example}")
        if not part.isdigit():
            raise LayersError(f"layers {text!r}: entry {i} ({part!r}) is not a whole number; {example}")
        size = int(part)
        if size < 1:
            raise LayersError(f"layers {text!r}: entry {i} is 0; every layer needs at least one neuron; {example}")
        if size > MAX_WIDTH:
            raise LayersError(f"layers {text!r}: entry {i} ({size}) is wider than {MAX_WIDTH}; {example}")
        sizes.append(size)
    if len(sizes) < 2:
        raise LayersError(f"layers {text!r}: need an input layer and an output layer; {example}")
    return tuple(sizes)


def dense(
    layers: str | tuple[int, ...] | list[int] = DEFAULT_LAYERS,
    activation: str = "identity",
    output_activation: str = "identity",
    loss: str = "abs",
    bias: bool = False,
) -> Network:
    """A fully connected network in the flat notation; the defaults are the worked example."""
    sizes = parse_layers(layers) if isinstance(layers, str) else parse_layers(",".join(map(str, layers)))
    hidden_act, out_act = get_activation(activation), get_activation(output_activation)
    loss_rule = get_loss(loss)

    inputs = tuple(real(f"X{i}") for i in range(1, sizes[0] + 1))
    n_out = sizes[-1]
    out_names = ["Out"] if n_out == 1 else [f"Out{k}" for k in range(1, n_out + 1)]
    targets = (real("Y"),) if n_out == 1 else tuple(real(f"Y{k}") for k in range(1, n_out + 1))

    neurons: list[Neuron] = []
    previous = inputs
    w = b = h = 0
    for layer, size in enumerate(sizes[1:], start=1):
        is_output = layer == len(sizes) - 1
        current = []
        for j in range(size):
            if is_output:
                name = out_names[j]
            else:
                h += 1
                name = f"H{h}"
            edges = []
            for src in previous:
                w += 1
                edges.append((src, real(f"W{w}")))
            bias_symbol = None
            if bias:
                b += 1
                bias_symbol = real(f"B{b}")
            neuron = Neuron(
                real(name), layer, tuple(edges), bias_symbol, out_act if is_output else hidden_act, is_output
            )
            neurons.append(neuron)
            current.append(neuron.symbol)
        previous = tuple(current)
    return Network(sizes, inputs, tuple(neurons), targets, loss_rule)


def default_network() -> Network:
    """The worked example: 2-3-2-1, identity activations, ``Loss = |Out - Y|``."""
    return dense()
