"""The network model: symbols, the nodes (:mod:`.nodes`) in order, the loss, the graph between them; dense builders.

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
from dataclasses import field
from functools import cached_property

import sympy as sp

from ..record import record
from ..result import Result
from .. import limits, memo
from .activations import get_activation
from ..symbolic.walk import differentiate, intern, replace_shared, with_conventions
from ..symbolic.sizes import exact_sizes, expand_within
from ..errors import LayersError, LayersLimitError, UnknownLossError, UnknownParameterError
from .losses import Loss, get_loss
from .nodes import Node, Neuron, reading_order
from .notation import FLAT, Name, Notation, get_notation

#: The worked example's network: 2 inputs, hidden layers of 3 and 2, one output.
DEFAULT_LAYERS = (2, 3, 2, 1)


def real(name: str) -> sp.Symbol:
    """A real SymPy symbol: every quantity in a network is a real number."""
    return sp.Symbol(name, real=True)


@record(repr=False)
class Network(Result):
    """A feed-forward network with named symbols, its equations and its loss."""

    kind = "network"  # the renderers' method for it (see derivchain.result)

    layers: tuple[int, ...]
    inputs: tuple[sp.Symbol, ...]
    neurons: tuple[Node, ...]
    targets: tuple[sp.Symbol, ...]
    loss: Loss
    notation: Notation = FLAT
    loss_symbol: sp.Symbol = sp.Symbol("Loss", real=True)
    origin: str = ""  # where the network came from, for the summary (a file name)
    # L2 regularisation: lambda (an exact Fraction) when the loss has lambda/2 * sum of squared weights added.
    l2: object = None
    # The parameters' names in order of first appearance in a network file (their order in ``weights``).
    order: tuple = field(default=(), compare=False, repr=False, hash=False)
    # Each name's LaTeX, as the notation made it; names not here get the notation's generic rule.
    latex_names: dict = field(default_factory=dict, compare=False, repr=False, hash=False)
    # A matrix graph's shapes and matrix nodes (a model.matrix_file.MatrixGraph); None for any other network.
    matrix: object = field(default=None, compare=False, repr=False, hash=False)
    # Default values (name -> exact Fraction) every command evaluates at when none are given (a traced PyTorch model's).
    values: object = field(default=None, compare=False, repr=False, hash=False)

    def __repr__(self) -> str:
        shape = self.origin or "-".join(map(str, self.layers))
        return (f"Network({shape}: {count(len(self.neurons), 'neuron')}, {count(len(self.weights), 'weight')}, "
                f"{count(len(self.biases), 'bias', 'biases')}, "
                f"loss {self.loss.name}, {self.notation.name} notation)")

    # --- names -------------------------------------------------------------------------------
    @cached_property
    def outputs(self) -> tuple[Node, ...]:
        """The output neurons, in order."""
        return tuple(n for n in self.neurons if n.is_output)

    @cached_property
    def hidden(self) -> tuple[Node, ...]:
        """The hidden neurons, in order."""
        return tuple(n for n in self.neurons if not n.is_output)

    @cached_property
    def node_symbols(self) -> frozenset[sp.Symbol]:
        """The symbols of every node (neurons and expression nodes)."""
        return frozenset(n.symbol for n in self.neurons)

    @cached_property
    def biases(self) -> tuple[sp.Symbol, ...]:
        """Every bias, in numbering order (a bias shared by several neurons once)."""
        return tuple(dict.fromkeys(n.bias for n in self.neurons if n.bias is not None))

    @cached_property
    def weights(self) -> tuple[sp.Symbol, ...]:
        """Every other parameter in order of first appearance: the weights on edges, the parameters of
        expression nodes and of the loss (a weight shared by several edges once)."""
        data = set(self.inputs) | set(self.targets) | self.node_symbols | set(self.biases)
        read = [x for n in self.neurons for x in n.reads] + list(reading_order(self.loss_local))
        found = [x for x in dict.fromkeys(read) if x not in data]
        if self.order:  # a file's order of first appearance (an expression's own order is SymPy's)
            rank = {name: i for i, name in enumerate(self.order)}
            found.sort(key=lambda x: rank.get(x.name, len(rank)))
        return tuple(found)

    @cached_property
    def parameters(self) -> tuple[sp.Symbol, ...]:
        """Weights then biases: what gradient descent trains and a table lists."""
        return self.weights + self.biases

    @cached_property
    def leaves(self) -> tuple[sp.Symbol, ...]:
        """Everything a gradient can be taken for: parameters, then inputs, then targets."""
        return self.parameters + self.inputs + self.targets

    @cached_property
    def parameter_index(self) -> dict[sp.Symbol, int]:
        """Each leaf -> its position in ``leaves`` (parameters first, so their positions are as before)."""
        return {p: i for i, p in enumerate(self.leaves)}

    @cached_property
    def neuron_by_symbol(self) -> dict[sp.Symbol, Node]:
        """Node lookup by its output symbol."""
        return {n.symbol: n for n in self.neurons}

    @cached_property
    def uses(self) -> dict[sp.Symbol, tuple]:
        """Each leaf and node -> the nodes that read it, in node order, then the loss node (``None``) if
        the loss reads it directly. A shared weight has several uses; each starts its own paths."""
        table: dict[sp.Symbol, list] = {}
        for n in self.neurons:
            for x in n.reads:
                table.setdefault(x, []).append(n)
        for x in reading_order(self.loss_local):
            if x not in self.node_symbols or self.neuron_by_symbol[x].is_output:
                table.setdefault(x, []).append(None)
        return {k: tuple(v) for k, v in table.items()}

    @cached_property
    def uses_of_loss(self) -> tuple[sp.Symbol, ...]:
        """What the loss reads (outputs, targets, any leaf), in order of first appearance."""
        return reading_order(self.loss_local)

    @cached_property
    def edges(self) -> dict[sp.Symbol, tuple[sp.Symbol | None, Node]]:
        """Each parameter used on exactly one neuron edge (or as one neuron's bias) -> (source, neuron);
        shared parameters and those of expression nodes have their ``uses`` instead."""
        table: dict[sp.Symbol, tuple[sp.Symbol | None, Node]] = {}
        for n in self.neurons:
            for src, w in n.sources:
                table[w] = (src, n)
            if n.bias is not None:
                table[n.bias] = (None, n)
        return {p: e for p, e in table.items() if len(self.uses.get(p, ())) == 1}

    @cached_property
    def successors(self) -> dict[sp.Symbol, tuple[tuple[Node, sp.Expr], ...]]:
        """Each node symbol -> (node, dz/d(symbol)) for the nodes it feeds, in node order: the
        coefficient is the weight on a neuron's edge, the expression's partial for an expression node."""
        out: dict[sp.Symbol, list] = {}
        for n in self.neurons:
            for x in n.reads:
                if x in self.node_symbols:
                    out.setdefault(x, []).append((n, n.inner_partial(x)))
        return {k: tuple(v) for k, v in out.items()}

    def drawn_edges(self) -> tuple[tuple[sp.Symbol, sp.Symbol, sp.Symbol | None], ...]:
        """Every edge a picture draws: (source, target, the weight it carries or None), the loss's included."""
        drawn = self.node_symbols | set(self.inputs)
        edges = [e for n in self.neurons for e in n.drawn_edges(drawn)]
        edges += [(x, self.loss_symbol, None) for x in self.uses_of_loss if x in drawn]
        return tuple(edges)

    def path_edges(self, leaf: sp.Symbol) -> set[tuple[sp.Symbol, sp.Symbol]]:
        """The drawn edges on the paths from every use of ``leaf`` to the loss."""
        edges: set[tuple[sp.Symbol, sp.Symbol]] = set()
        reach: set[sp.Symbol] = set()
        for use in self.uses.get(leaf, ()):
            target = self.loss_symbol if use is None else use.symbol
            if use is not None:
                reach |= self.descendants(use)
            edges |= {(src, dst) for src, dst, w in self.drawn_edges() if dst == target and leaf in (src, w)}
        for src, dst, _ in self.drawn_edges():
            if src in reach:
                edges.add((src, dst))
        return edges

    def descendants(self, start: Node) -> set[sp.Symbol]:
        """``start`` and every node it feeds, directly or through others."""
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
        """The leaf called ``name`` (a weight, bias, parameter, input or target), or an error naming them."""
        leaf = self._leaf_by_name.get(name)
        if leaf is not None:
            return leaf
        base, bracket, index = name.partition("[")
        if bracket and (leaf := self._leaf_by_name.get(base + "[" + "".join(index.split()))) is not None:
            return leaf  # W[0, 1] as W[0,1]
        entries = self._entries_by_base.get(base.strip())
        if entries:  # a matrix or tensor's name, or an entry outside it: say which entries there are
            what = f"{name!r} is not an entry of {base.strip()}" if bracket else f"{name!r} names {len(entries)} entries, not one"
            raise UnknownParameterError(f"{what}; name one, {entries[0].name} to {entries[-1].name}")
        node = " (a node: gradients are taken for leaves)" if name in {n.name for n in self.neurons} else ""
        raise UnknownParameterError(f"unknown weight {name!r}{node}; this network has {self.describe_parameters()}")

    def parameter_entries(self, name: str) -> tuple[sp.Symbol, ...]:
        """The parameters named as entries of ``name`` (``0.weight[1,0]`` for ``0.weight``), in order; () if none."""
        count = len(self.parameters)
        return tuple(s for s in self._entries_by_base.get(name, ()) if self.parameter_index[s] < count)

    @cached_property
    def _entries_by_base(self) -> dict[str, list[sp.Symbol]]:
        """Leaves named as entries (``0.weight[1,0]``) by the name before their bracket, in order."""
        out: dict[str, list[sp.Symbol]] = {}
        for s in self.leaves:
            base, bracket, _ = s.name.partition("[")
            if bracket:
                out.setdefault(base, []).append(s)
        return out

    @cached_property
    def _leaf_by_name(self) -> dict[str, sp.Symbol]:
        return {s.name: s for s in self.leaves}

    def describe_parameters(self, leaves: bool = True) -> str:
        """``weights W1..W14`` (and ``biases B1..B6``), then (``leaves``) the inputs and targets, for messages."""
        text = f"{'weight' if len(self.weights) == 1 else 'weights'} {_span(self.weights)}" if self.weights else "no weights"
        if self.biases:
            text += f" and {'bias' if len(self.biases) == 1 else 'biases'} {_span(self.biases)}"
        for what, names in (("input", self.inputs), ("target", self.targets)):
            if names and leaves:
                text += f"; {what}{'s' if len(names) > 1 else ''} {_span(names)}"
        return text

    # --- equations ---------------------------------------------------------------------------
    @cached_property
    def substitution(self) -> dict[sp.Symbol, sp.Expr]:
        """Each neuron symbol -> its output in inputs and parameters only, nested and shared."""
        full: dict[sp.Symbol, sp.Expr] = {}
        for n in self.neurons:
            # Rebuilt unevaluated: SymPy's tanh (and others) query assumptions of the whole argument
            # when evaluated, which grows with depth (30 s of a 10-step RNN); the tree is the same.
            full[n.symbol] = replace_shared(n.equation, full, evaluate=False)
        return full

    def expanded_output(self, output: Node, max_terms: int = 2000) -> sp.Expr | None:
        """An output fully expanded, or None when that would exceed ``max_terms`` terms."""
        return expand_within(self.substitution[output.symbol], max_terms)

    @cached_property
    def compaction(self) -> dict[sp.Expr, sp.Symbol]:
        """Each neuron's full expression -> its symbol: the inverse of ``substitution``."""
        return {full: symbol for symbol, full in self.substitution.items() if not full.is_Symbol}

    def compact(self, expr: sp.Expr) -> sp.Expr:
        """Write a substituted expression back in neuron symbols where whole neurons appear."""
        return replace_shared(expr, self.compaction, self.memos[memo.COMPACT].room())

    def compact_canonical(self, expr: sp.Expr) -> sp.Expr:
        """``canonical(compact(expr))`` in one walk, each node evaluated once (not once to compact, again
        to make canonical), the nodes shared by many weights' derivatives once a table."""
        return replace_shared(expr, self.compaction, self.memos[memo.COMPACT_CANONICAL].room(), rebuild=True)

    def substitute(self, expr: sp.Expr) -> sp.Expr:
        """Replace every neuron symbol in ``expr`` by its full expression (sums and products as they stand)."""
        expr = self.intern(expr)
        return self.intern(replace_shared(expr, self.substitution, self.memos[memo.SUBSTITUTE].room(), evaluate=False))

    @property
    def memos(self) -> memo.Memos:
        """The network's memos (see :mod:`derivchain.memo`): what engines, the verifier and the renderers
        remember about it, dropped with it."""
        return memo.of(self)

    def intern(self, expr: sp.Expr) -> sp.Expr:
        """``expr`` with each subtree the network's one copy of it (see :func:`derivchain.symbolic.walk.intern`)."""
        return intern(expr, self.memos[memo.INTERN], self.memos[memo.INTERN_DONE])

    @cached_property
    def loss_local(self) -> sp.Expr:
        """The loss in output symbols (summed over outputs where it is per output): ``Abs(Out - Y)``."""
        return self.loss.formula([o.symbol for o in self.outputs], list(self.targets))

    @cached_property
    def loss_full(self) -> sp.Expr:
        """The loss with every output fully substituted."""
        return self.substitute(self.loss_local)

    def sizes(self) -> dict[int, int]:
        """id -> nodes written out, for every node of the substituted loss (which the network keeps):
        sizing a derivative stops where it reaches the loss's own subtrees, instead of walking the
        network's shared nodes again for every weight."""
        return self.memos.value(memo.SIZES, lambda: exact_sizes(self.loss_full, {}))

    def loss_partial(self, x: sp.Symbol) -> sp.Expr:
        """dLoss/dx for a symbol the loss reads: an output's textbook derivative, else the rule table's."""
        node = self.neuron_by_symbol.get(x)
        if node is not None and node.is_output:
            return self.loss_derivative(node)
        if self.l2 is not None and x in self.weights:
            # d/dw of lambda/2 * sum of squared weights, written lambda * w (plus what the rest of the loss gives).
            lam = sp.Rational(self.l2.numerator, self.l2.denominator)
            return sp.Add(differentiate(self.loss_local - self.l2_term, x), lam * x)
        return differentiate(self.loss_local, x)

    @cached_property
    def l2_term(self) -> sp.Expr:
        """The L2 term lambda/2 * (sum of squared weights) in the loss (0 without --l2)."""
        if self.l2 is None:
            return sp.Integer(0)
        from sympy.core.mul import _keep_coeff

        half = sp.Rational(self.l2.numerator, 2 * self.l2.denominator)
        return _keep_coeff(half, sp.Add(*(w**2 for w in self.weights))) if self.weights else sp.Integer(0)

    def loss_derivative(self, output: Node) -> sp.Expr:
        """dLoss/dOut for one output, in output and target symbols."""
        return self._loss_derivatives[output.symbol]

    @cached_property
    def _loss_derivatives(self) -> dict[sp.Symbol, sp.Expr]:
        # The loss's textbook derivative where the registry has one (checked: loss_derivative_checks).
        outs, ys = [o.symbol for o in self.outputs], list(self.targets)
        if self.loss.derivative is None:
            return {o: with_conventions(sp.diff(self.loss_local, o)) for o in outs}
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

    @cached_property
    def is_graph(self) -> bool:
        """True when a node has no pre-activation z (an expression node: the dense equations do not describe
        it) or a parameter has several uses (shared)."""
        return any(n.preactivation is None for n in self.neurons) or bool(self.shared)

    @cached_property
    def shared(self) -> tuple[sp.Symbol, ...]:
        """The parameters used in more than one place (shared weights), in order; the L2 term's direct use
        of each weight by the loss is not counted."""
        extra = 1 if self.l2 is not None else 0
        weights = set(self.weights)  # a set: a tuple's `in` compares with every weight (833 x 833 in 16-16-16-16-1)
        return tuple(p for p in self.parameters if len(self.uses.get(p, ())) - (extra if p in weights else 0) > 1)

    def _uses_text(self, p: sp.Symbol) -> str:
        """``W (3 uses)``; the L2 term's reading of a weight named apart: ``W (3 uses + L2)``."""
        l2 = self.l2 is not None and p in set(self.weights)
        return f"{p.name} ({len(self.uses[p]) - l2} uses{' + L2' if l2 else ''})"

    def summary(self, formula: bool = True) -> str:
        """The network in one line (``formula``: with the loss's formula after its name)."""
        bias = "with biases" if self.biases else "no biases"
        if self.is_graph:
            kinds: dict[str, int] = {}
            for n in self.neurons:
                kinds[n.noun] = kinds.get(n.noun, 0) + 1
            parts = [count(len(self.inputs), "input")]
            # neurons first, then each other kind (expression nodes, ...) in order of first appearance
            parts += [count(kinds[noun], noun) for noun in sorted(kinds, key=lambda noun: noun != Neuron.noun)]
            parts.append(count(len(self.parameters), "parameter"))
            shared = f"; shared: {', '.join(self._uses_text(p) for p in self.shared[:6])}" if self.shared else ""
            if len(self.shared) > 6:
                shared += f", ... ({len(self.shared)} shared in all)"
            same = self.loss.name == self.loss.text or not formula
            loss = self.loss.name if same else f"{self.loss.name} ({self.loss_local})"
            return f"{self.origin or 'graph'}: {', '.join(parts)}{shared}; loss {loss}"
        # a loss written by the user is named by its own text: printed once, not "loss (Out - Y)**4 ((Out - Y)**4)"
        loss = f"loss {self.loss.name}" + (f" ({self.loss_local})" if formula and self.loss.name != self.loss.text else "")
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
    if len(names) < 3:
        return ", ".join(names)
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
    if not text.strip():
        raise LayersError(f"layers: empty; {example}")
    parts = text.split(",")
    limits.check("the number of layers", len(parts), "layers", f"layers {text[:40]!r}", LayersLimitError, f"; {example}")
    sizes = []
    for i, raw in enumerate(parts, start=1):
        part = raw.strip()
        if not part:
            raise LayersError(f"layers {text!r}: entry {i} is empty; {example}")
        if not (part.isascii() and part.isdigit()):
            raise LayersError(f"layers {text!r}: entry {i} ({part!r}) is not a whole number; {example}")
        if len(part) > 9:
            raise LayersError(f"layers {text[:60]!r}: entry {i} ({part[:20]}) is too large; a layer has at most "
                              f"{limits.current().width} neurons (--limit width=N)")
        size = int(part)
        if size < 1:
            raise LayersError(f"layers {text!r}: entry {i} is 0; every layer needs at least one neuron; {example}")
        limits.check(f"layer {i}'s width", size, "width", f"layers {text!r}", LayersLimitError, f"; {example}")
        sizes.append(size)
    if len(sizes) < 2:
        raise LayersError(f"layers {text!r}: need an input layer and an output layer; {example}")
    limits.check("the number of neurons", sum(sizes[1:]), "neurons", f"layers {text!r}", LayersLimitError, f"; {example}")
    limits.check("the number of outputs", sizes[-1], "outputs", f"layers {text!r}", LayersLimitError, f"; {example}")
    limits.check("the number of weights", sum(a * b for a, b in zip(sizes, sizes[1:])), "parameters", f"layers {text!r}",
                 LayersLimitError, f"; {example}")
    return tuple(sizes)


def check_loss(loss: Loss, outputs: list[Node]) -> None:
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


def with_l2(network: Network, lam) -> Network:
    """``network`` with ``lam/2 * (sum of squared weights)`` added to its loss (biases excluded): every
    weight is then also read by the loss directly, so each derivation gains the path-free term
    ``lam * w`` (the path ``w -> Loss``). ``lam`` is an exact number >= 0 (0.01 is 1/100)."""
    from dataclasses import replace
    from fractions import Fraction

    lam = Fraction(lam)
    if lam < 0:
        raise UnknownLossError(f"--l2 {lam}: the L2 strength must be zero or positive")
    if network.l2 is not None:
        raise UnknownLossError("this network has an L2 term already")
    base = network.loss
    term = replace(network, l2=lam).l2_term
    lam_text = str(sp.Rational(lam.numerator, lam.denominator))
    loss = Loss(f"{base.name} + L2 (lambda = {lam_text})", lambda outs, ys: sp.Add(base.formula(outs, ys), term),
                f"{base.text} + {lam_text}/2*sum(w**2)", base.note, base.note_tex, base.output_activation,
                base.min_outputs, base.derivative, base.rewrite, base.conditional)
    return replace(network, loss=loss, l2=lam)


def default_network() -> Network:
    """The worked example: 2-3-2-1, identity activations, ``Loss = |Out - Y|``."""
    return dense()
