"""The network model: symbols, neurons with their equations, the loss, and the graph between them.

Two notations for dense networks, every symbol ``real=True``:

* ``flat`` (the worked example's): inputs ``X1..Xn``; hidden neurons ``H1..Hm`` numbered across all
  hidden layers; one output ``Out`` (several: ``Out1..Outk``) with targets ``Y`` (``Y1..Yk``);
  weights ``W1..`` numbered by target neuron, and within a target by source; biases ``B1..`` in
  neuron order; the loss ``Loss``.
* ``layered`` (the second source's): inputs ``x1..xn`` (layer 0); the output of neuron j of layer l
  is ``O{l}_{j}`` (LaTeX O_{lj}); the weight from neuron i of layer l-1 to neuron j of layer l is
  ``w{l}_{i}_{j}`` (LaTeX w^{l}_{ij}); biases ``b{l}_{j}``; targets ``y`` (``y1..yk``); the loss
  ``L``. The underscores keep typed names unambiguous for indices of 10 and more (``w2_1_12``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

import sympy as sp

from . import limits
from .activations import Activation, get_activation
from .differentiate import replace_shared
from .expansion import expand_within
from .errors import LayersError, LayersLimitError, UnknownLossError, UnknownParameterError
from .losses import Loss, get_loss
from .notation import FLAT, Name, Notation, get_notation

#: The worked example's network: 2 inputs, hidden layers of 3 and 2, one output.
DEFAULT_LAYERS = (2, 3, 2, 1)


def real(name: str) -> sp.Symbol:
    """A real SymPy symbol: every quantity in a network is a real number."""
    return sp.Symbol(name, real=True)


@dataclass(frozen=True, repr=False)
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

    def __repr__(self) -> str:
        return f"Neuron({self.name} = {self.equation})"

    @cached_property
    def preactivation(self) -> sp.Expr:
        """z = sum of source * weight (+ bias), in neighbour symbols."""
        terms = [src * w for src, w in self.sources]
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


@dataclass(frozen=True, repr=False)
class Network:
    """A feed-forward network with named symbols, its equations and its loss."""

    layers: tuple[int, ...]
    inputs: tuple[sp.Symbol, ...]
    neurons: tuple[Neuron, ...]
    targets: tuple[sp.Symbol, ...]
    loss: Loss
    notation: Notation = FLAT
    loss_symbol: sp.Symbol = sp.Symbol("Loss", real=True)
    origin: str = ""  # where the network came from, for the summary (a file name)
    # Each name's LaTeX, as the notation made it; names not here get the notation's generic rule.
    latex_names: dict = field(default_factory=dict, compare=False, repr=False, hash=False)
    # Per-network results that engines reuse across parameters (deltas, path suffix sums).
    cache: dict = field(default_factory=dict, compare=False, repr=False, hash=False)

    def __repr__(self) -> str:
        shape = self.origin or "-".join(map(str, self.layers))
        return (f"Network({shape}: {count(len(self.neurons), 'neuron')}, {count(len(self.weights), 'weight')}, "
                f"{count(len(self.biases), 'bias', 'biases')}, "
                f"loss {self.loss.name}, {self.notation.name} notation)")

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
    def parameter_index(self) -> dict[sp.Symbol, int]:
        """Each parameter -> its position in ``parameters``."""
        return {p: i for i, p in enumerate(self.parameters)}

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

    def descendants(self, start: Neuron) -> set[sp.Symbol]:
        """``start`` and every neuron it feeds, directly or through others."""
        seen = {start.symbol}
        for n in self.neurons:  # topological order: one pass suffices
            if n.symbol in seen:
                seen.update(s.symbol for s, _ in self.successors.get(n.symbol, ()))
        return seen

    def latex_name(self, name: str) -> str:
        """The LaTeX of one of this network's names (the notation's, or its generic rule)."""
        tex = self.latex_names.get(name)
        return tex if tex is not None else self.notation.latex(name)

    def parameter(self, name: str) -> sp.Symbol:
        """The weight or bias called ``name``, or an error naming the valid range."""
        for p in self.parameters:
            if p.name == name:
                return p
        raise UnknownParameterError(
            f"unknown weight {name!r}; this network has {self.describe_parameters()}"
        )

    def describe_parameters(self) -> str:
        """``weights W1..W14`` (and ``biases B1..B6``), for messages; names listed where no range reads."""
        text = f"{'weight' if len(self.weights) == 1 else 'weights'} {_span(self.weights)}"
        if self.biases:
            text += f" and {'bias' if len(self.biases) == 1 else 'biases'} {_span(self.biases)}"
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

    @cached_property
    def compaction(self) -> dict[sp.Expr, sp.Symbol]:
        """Each neuron's full expression -> its symbol: the inverse of ``substitution``."""
        return {full: symbol for symbol, full in self.substitution.items() if not full.is_Symbol}

    def compact(self, expr: sp.Expr) -> sp.Expr:
        """Write a substituted expression back in neuron symbols where whole neurons appear."""
        return replace_shared(expr, self.compaction, self.cache.setdefault("compact_memo", {}))

    def substitute(self, expr: sp.Expr) -> sp.Expr:
        """Replace every neuron symbol in ``expr`` by its full expression (sums and products as they stand)."""
        return replace_shared(expr, self.substitution, self.cache.setdefault("substitute_memo", {}), evaluate=False)

    @cached_property
    def loss_local(self) -> sp.Expr:
        """The loss in output symbols (summed over outputs where it is per output): ``Abs(Out - Y)``."""
        return self.loss.formula([o.symbol for o in self.outputs], list(self.targets))

    @cached_property
    def loss_full(self) -> sp.Expr:
        """The loss with every output fully substituted."""
        return self.substitute(self.loss_local)

    def loss_derivative(self, output: Neuron) -> sp.Expr:
        """dLoss/dOut for one output, in output and target symbols."""
        return self._loss_derivatives[output.symbol]

    @cached_property
    def _loss_derivatives(self) -> dict[sp.Symbol, sp.Expr]:
        # The loss's textbook derivative where the registry has one (checked: loss_derivative_checks).
        outs, ys = [o.symbol for o in self.outputs], list(self.targets)
        if self.loss.derivative is None:
            return {o: sp.diff(self.loss_local, o) for o in outs}
        return {o: self.loss.derivative(outs, ys, k) for k, o in enumerate(outs)}

    # --- description -------------------------------------------------------------------------
    @property
    def hidden_activation(self) -> str:
        """Name of the hidden layers' activation (``identity`` when there are none)."""
        return self.hidden[0].activation.name if self.hidden else "identity"

    @property
    def output_activation(self) -> str:
        """Name of the output layer's activation."""
        return self.outputs[0].activation.name

    def summary(self, formula: bool = True) -> str:
        """The network in one line (``formula``: with the loss's formula after its name)."""
        bias = "with biases" if self.biases else "no biases"
        loss = f"loss {self.loss.name}" + (f" ({self.loss_local})" if formula else "")
        if self.origin:
            acts = sorted({n.activation.name for n in self.neurons})
            return (
                f"{self.origin}: {count(len(self.inputs), 'input')}, {count(len(self.hidden), 'hidden neuron')}, "
                f"{count(len(self.outputs), 'output')}, {count(len(self.weights), 'weight')}; "
                f"activations {', '.join(acts)}; {loss}; {bias}"
            )
        shape = "-".join(map(str, self.layers))
        notation = "" if self.notation is FLAT else f", {self.notation.name} notation"
        return (
            f"{shape} dense network{notation}; hidden activation {self.hidden_activation}, "
            f"output activation {self.output_activation}; {loss}; {bias}"
        )


def count(n: int, word: str, many: str | None = None) -> str:
    """``1 weight``, ``2 weights``."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def _span(symbols: tuple[sp.Symbol, ...]) -> str:
    names = [s.name for s in symbols]
    if len(names) == 1:
        return names[0]
    # W1..W14 only when the names are one letter-word numbered 1, 2, ... in order; else listed.
    numbered = [re.fullmatch(r"([A-Za-z]+)(\d+)", n) for n in names]
    if all(numbered) and len({m.group(1) for m in numbered}) == 1 and [int(m.group(2)) for m in numbered] == list(range(1, len(names) + 1)):
        return f"{names[0]}..{names[-1]}"
    return ", ".join(names) if len(names) <= 12 else ", ".join(names[:6]) + f", ... ({len(names)} in all), " + names[-1]


def parse_layers(text: str) -> tuple[int, ...]:
    """Parse ``2,3,2,1`` into layer sizes, with a one-line error for anything else (sizes within the limits)."""
    example = "give positive integers separated by commas, e.g. 2,3,2,1"
    if len(text) > 2000:
        raise LayersError(f"layers: {len(text)} characters is too long; {example}")
    parts = text.split(",")
    limits.check("the number of layers", len(parts), "layers", f"layers {text[:40]!r}", LayersLimitError, f"; {example}")
    sizes = []
    for i, raw in enumerate(parts, start=1):
        part = raw.strip()
        if not part:
            raise LayersError(f"layers {text!r}: entry {i} is empty; {example}")
        if not (part.isascii() and part.isdigit()) or len(part) > 9:
            raise LayersError(f"layers {text!r}: entry {i} ({part!r}) is not a whole number; {example}")
        size = int(part)
        if size < 1:
            raise LayersError(f"layers {text!r}: entry {i} is 0; every layer needs at least one neuron; {example}")
        limits.check(f"layer {i}'s width", size, "width", f"layers {text!r}", LayersLimitError, f"; {example}")
        sizes.append(size)
    if len(sizes) < 2:
        raise LayersError(f"layers {text!r}: need an input layer and an output layer; {example}")
    limits.check("the number of neurons", sum(sizes[1:]), "neurons", f"layers {text!r}", LayersLimitError, f"; {example}")
    limits.check("the number of weights", sum(a * b for a, b in zip(sizes, sizes[1:])), "parameters", f"layers {text!r}",
                 LayersLimitError, f"; {example}")
    return tuple(sizes)


def check_loss(loss: Loss, outputs: list[Neuron]) -> None:
    """Refuse a loss whose requirements (output activation, number of outputs) the network breaks."""
    if len(outputs) < loss.min_outputs:
        raise UnknownLossError(f"loss {loss.name!r} needs at least {loss.min_outputs} outputs; this network has {len(outputs)}")
    if loss.output_activation is not None:
        wrong = [o.name for o in outputs if o.activation.name != loss.output_activation]
        if wrong:
            raise UnknownLossError(
                f"loss {loss.name!r} needs output activation {loss.output_activation}; "
                f"{', '.join(wrong)} use{'s' if len(wrong) == 1 else ''} {outputs[0].activation.name if len(wrong) == len(outputs) else 'another'}"
                f" (set --output-activation {loss.output_activation})"
            )


def dense(
    layers: str | tuple[int, ...] | list[int] = DEFAULT_LAYERS,
    activation: str = "identity",
    output_activation: str = "identity",
    loss: str = "abs",
    bias: bool = False,
    notation: str | Notation = "flat",
) -> Network:
    """A fully connected network; the defaults are the worked example."""
    sizes = parse_layers(layers) if isinstance(layers, str) else parse_layers(",".join(map(str, layers)))
    names = get_notation(notation)
    if len(sizes) == 2 and activation not in ("identity", None):
        raise LayersError(f"layers {','.join(map(str, sizes))} has no hidden layer, so --activation {activation} would apply to "
                          "nothing; set the output's with --output-activation")
    if bias:
        parameters = sum(a * b for a, b in zip(sizes, sizes[1:])) + sum(sizes[1:])
        limits.check("the number of weights and biases", parameters, "parameters", "layers")
    hidden_act, out_act = get_activation(activation), get_activation(output_activation)
    loss_rule = get_loss(loss)
    latex: dict[str, str] = {}

    def symbol(name: Name) -> sp.Symbol:
        latex[name.text] = name.latex
        return real(name.text)

    n_out = sizes[-1]
    inputs = tuple(symbol(names.input(i)) for i in range(1, sizes[0] + 1))
    targets = tuple(symbol(names.target(k, n_out)) for k in range(1, n_out + 1))
    neurons: list[Neuron] = []
    previous = inputs
    counts = {"hidden": 0, "weight": 0, "bias": 0}
    for layer, size in enumerate(sizes[1:], start=1):
        is_output = layer == len(sizes) - 1
        current = []
        for j in range(1, size + 1):
            counts["hidden"] += not is_output
            name = names.neuron(layer, j, counts["hidden"], is_output, n_out)
            edges = []
            for i, src in enumerate(previous, start=1):
                counts["weight"] += 1
                edges.append((src, symbol(names.weight(layer, i, j, counts["weight"]))))
            bias_symbol = None
            if bias:
                counts["bias"] += 1
                bias_symbol = symbol(names.bias(layer, j, counts["bias"]))
            delta = names.delta(name, layer, j)
            latex[delta.text] = delta.latex
            act = out_act if is_output else hidden_act
            neuron = Neuron(symbol(name), layer, tuple(edges), bias_symbol, act, is_output)
            neurons.append(neuron)
            current.append(neuron.symbol)
        previous = tuple(current)
    check_loss(loss_rule, [n for n in neurons if n.is_output])
    loss_name = names.loss_name()
    loss_symbol = symbol(loss_name)
    return Network(sizes, inputs, tuple(neurons), targets, loss_rule, names, loss_symbol, latex_names=latex)


def default_network() -> Network:
    """The worked example: 2-3-2-1, identity activations, ``Loss = |Out - Y|``."""
    return dense()
