"""Network files (TOML or JSON): named inputs, neurons with weighted edges, expression nodes, any DAG.

Example (TOML)::

    inputs = ["X1", "X2"]
    activation = "identity"      # default for every neuron
    loss = "half-squared"        # a registry name, an expression in Out and Y, or one naming nodes
    targets = ["Y"]              # one per output, in output order (default Y or Y1..Yk)

    [[neurons]]
    name = "H1"
    inputs = { X1 = "W1", X2 = "W2" }   # source = weight, in order
    bias = "B1"                         # optional
    activation = "sigmoid"              # optional, overrides the default

    [[neurons]]
    name = "Out"
    inputs = { H1 = "W3", X1 = "W1" }   # a skip connection; W1 shared with H1's edge
    output = true

A computational graph of expressions (``[[nodes]]``, mixed freely with ``[[neurons]]``)::

    loss = "e"                   # an expression naming nodes directly, taken as written
    [[nodes]]
    name = "e"
    expr = "c*d"                 # definition order does not matter
    [[nodes]]
    name = "c"
    expr = "a + b"
    [[nodes]]
    name = "d"
    expr = "b + 1"

``inputs`` are the data leaves and ``targets`` the loss's; every other leaf (an expression's free name,
an edge's weight, a bias) is a parameter, in order of first appearance. The same parameter may sit on
several edges and in several expressions (shared weights). Every other name must be unique across
inputs, targets, neurons and nodes. Errors name the file, the key (``neurons[2].inputs``) and the fix.
"""

from __future__ import annotations

import json
import keyword
import re
import tomllib
from pathlib import Path

from .activations import get_activation
from .. import limits
from ..errors import DerivchainError, NetworkFileError
from ..user_text import clean, read_limited
from .losses import LOSSES, Loss, get_loss
from .network import Network, check_loss, real
from .nodes import ExprNode, Neuron
from ..symbolic.parse import FUNCTIONS as PARSER_NAMES, expression_names, parse_expression
from .notation import FLAT

TOP_KEYS = ("name", "inputs", "neurons", "nodes", "activation", "loss", "targets")
NODE_KEYS = ("name", "expr", "output")
NEURON_KEYS = ("name", "inputs", "bias", "activation", "output")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")  # matched whole (fullmatch): no trailing newline
_RESERVED = {"Loss", "L"}


def load_network(path: str | Path) -> Network:
    """Read, validate and build the network described by a ``.toml`` or ``.json`` file."""
    path = Path(path)
    label = path.name
    if path.suffix not in (".toml", ".json"):
        raise NetworkFileError(f"{label}: network files end in .toml or .json")
    raw = read_limited(path, label, NetworkFileError)
    try:
        if path.suffix == ".toml":
            data = tomllib.loads(raw.decode("utf-8"))
        else:
            data = json.loads(raw.decode("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise NetworkFileError(f"{label}: invalid TOML: {exc}") from None
    except json.JSONDecodeError as exc:
        raise NetworkFileError(f"{label}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except UnicodeDecodeError:
        raise NetworkFileError(f"{label}: not UTF-8 text") from None
    except (ValueError, RecursionError):  # nesting thousands deep; an integer of thousands of digits
        raise NetworkFileError(f"{label}: nested too deeply or holds a number too large to read") from None
    return build_network(data, label)


def build_network(data: object, label: str = "network") -> Network:
    """Validate a parsed network description (a dict) and build the network."""
    from .matrix_file import build_matrix_network, is_matrix_file  # here: it reads this module's helpers

    if is_matrix_file(data):
        return build_matrix_network(data, label)
    return _Builder(data, label).build()


def network_data(network: Network) -> dict:
    """The description a network file holds for ``network`` (what :func:`build_network` reads back), each
    node written by its kind (``Node.file_entry``): neurons in ``neurons``, expressions in ``nodes``."""
    if network.l2 is not None:
        raise NetworkFileError(f"{network.origin or 'this network'}: an L2 term is an option (--l2), not part of a network file")
    data: dict = {"name": network.origin} if network.origin else {}
    graph = network.matrix
    if graph is not None:  # a matrix graph is written as its matrices (its entries' names are no file's names)
        kinds = dict(graph.leaves)
        return data | {"inputs": [n for n, k in graph.leaves if k == "input"],
                       "targets": [n for n, k in graph.leaves if k == "target"], "loss": graph.loss,
                       "shapes": {n: list(shape) for n, shape in graph.shapes if n in kinds},
                       "nodes": [{"name": m.name, "expr": m.text} for m in graph.nodes]}
    data |= {"inputs": [x.name for x in network.inputs], "targets": [t.name for t in network.targets],
             "loss": network.loss.name}
    for n in network.neurons:
        section, entry = n.file_entry()
        data.setdefault(section, []).append(entry)
    return data


class _Builder:
    """One network file's validation and build; every error names the file and the key."""

    def __init__(self, data: object, label: str):
        self.data, self.label = data, label
        self.owner: dict[str, tuple[str, str]] = {}  # name -> (kind, the key that introduced it)
        self._loss_reads: list[str] = []
        self._default_targets: list[str] = []  # the loss's targets when the file declares none

    def fail(self, key: str, message: str):
        raise NetworkFileError(f"{self.label}: {key}: {message}")

    def claim(self, name: object, key: str, what: str, kind: str) -> str:
        """Check a name and record it; a parameter may be claimed again (a shared weight), nothing else."""
        fail = self.fail
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            shown = name if not isinstance(name, str) else clean(name[:40])
            fail(key, f"{what} name {shown!r} must start with a letter and use only letters, digits and _")
        if len(name) > limits.current().name_length:
            fail(key, f"{what} name {name[:20]!r}... is longer than {limits.current().name_length} characters")
        if keyword.iskeyword(name) or name in PARSER_NAMES:
            fail(key, f"{what} name {name!r} is a Python keyword or a function's name, so printed expressions "
                 "would not read back; choose another")
        if (name in _RESERVED and not self._is_loss_node(name, kind)) or name.startswith("delta_"):
            fail(key, f"{what} name {name!r} is reserved (Loss, L and delta_* name the loss and the deltas; "
                 "a node that is the loss itself may be named L, with loss = \"L\")")
        if name in self.owner:
            old_kind, old_key = self.owner[name]
            if kind == old_kind == "parameter":
                return name  # a shared weight: one parameter, several uses
            if {kind, old_kind} == {"parameter", "input"}:
                fail(key, f"{name!r} is already used by {old_key}; a leaf is either an input or a parameter, "
                     "not both: rename one")
            fail(key, f"{name!r} is already used by {old_key}; every name must be unique")
        self.owner[name] = (kind, key)
        return name

    def _is_loss_node(self, name: str, kind: str) -> bool:
        # Course notes name the loss node L (L = (o - y)**2/2, loss = "L"): the loss symbol stays Loss = L.
        loss = self.data.get("loss")
        return name == "L" and kind in ("node", "neuron") and isinstance(loss, str) and loss.strip() == name

    def build(self) -> Network:
        data, fail, label = self.data, self.fail, self.label
        if not isinstance(data, dict):
            raise NetworkFileError(f"{label}: the top level must be a table (TOML) or an object (JSON)")
        _check_keys(data, TOP_KEYS, "top level", fail)
        if "neurons" not in data and "nodes" not in data:
            fail("neurons", "missing; a network file needs 'inputs' and 'neurons', or 'nodes' given by expressions")
        if "inputs" not in data and "nodes" not in data:
            fail("inputs", "missing; a network file needs 'inputs', 'neurons'")
        inputs = data.get("inputs", [])
        if not isinstance(inputs, list) or (not inputs and "nodes" not in data):
            fail("inputs", "must be a non-empty list of names, e.g. [\"X1\", \"X2\"]")
        input_names = [self.claim(n, f"inputs[{i}]", "input", "input") for i, n in enumerate(inputs)]
        declared_targets = data.get("targets")
        if declared_targets is not None:
            if not isinstance(declared_targets, list):
                fail("targets", "must be a list of names, e.g. [\"Y\"]")
            for i, t in enumerate(declared_targets):
                self.claim(t, f"targets[{i}]", "target", "target")

        specs = self._neuron_specs() + self._node_specs()
        if not specs:
            fail("neurons", "the network has no neuron and no node; add [[neurons]] or [[nodes]]")
        limits.check("the number of neurons", len(specs), "neurons", label)
        limits.check("the number of connections", sum(len(s.edges or ()) for s in specs), "connections", label)
        # Weights and biases, then expressions' free names, are claimed after every node name, so an
        # edge's source or an expression may name any node, wherever it is defined.
        for spec in specs:
            if spec.edges is not None:
                for src, weight in spec.edges.items():
                    self.claim(weight, f"{spec.key}.inputs", "weight", "parameter")
                if spec.bias is not None:
                    self.claim(spec.bias, f"{spec.key}.bias", "bias", "parameter")
        for spec in specs:
            if spec.expr is not None:
                for name in self._names(spec.expr, f"{spec.key}.expr"):
                    if name not in self.owner:
                        self.claim(name, f"{spec.key}.expr", "parameter", "parameter")
        limits.check("the number of weights and biases", sum(k == "parameter" for k, _ in self.owner.values()), "parameters", label)

        nodes = {s.name for s in specs}
        for spec in specs:
            for src in spec.reads(self.owner):
                if spec.edges is not None and src not in nodes and src not in input_names:
                    fail(f"{spec.key}.inputs", f"{src!r} is not an input or a neuron (known: {', '.join(sorted(set(input_names) | nodes))})")
                if src == spec.name:
                    what = "neuron" if spec.edges is not None else "node"
                    fail(f"{spec.key}.{'inputs' if spec.edges is not None else 'expr'}",
                         f"{what} {spec.name!r} {'feeds' if spec.edges is not None else 'reads'} itself; a feed-forward network has no cycles")
        order = _topological(specs, nodes, label)

        loss, outputs, targets = self._loss(specs, nodes, input_names)
        limits.check("the number of outputs", len(outputs), "outputs", label)
        symbols = {name: real(name) for name in self.owner}
        self._check_reachability(specs, outputs, input_names, loss)
        layer: dict[str, int] = {n: 0 for n in input_names}
        built = []
        for index in order:
            spec = specs[index]
            deps = [layer[s] for s in spec.reads(self.owner) if s in nodes]
            layer[spec.name] = 1 + max(deps, default=0)
            limits.check("the network's depth", layer[spec.name] + 1, "layers", f"{label}: {spec.key}")
            built.append(spec.build(symbols, layer[spec.name], spec.name in outputs, self))
        if targets is None:  # a registry loss: targets in the outputs' topological order
            targets = [self._target_of[n.name] for n in built if n.is_output]
            try:
                check_loss(loss, [n for n in built if n.is_output])
            except DerivchainError as exc:
                fail("loss", str(exc).replace("--output-activation", "activation = on the output neurons"))
        title = data.get("name") or label
        if not isinstance(title, str):
            fail("name", "must be text")
        order = tuple(name for name, (kind, _) in self.owner.items() if kind == "parameter")
        return Network((), tuple(symbols[n] for n in input_names), tuple(built), tuple(symbols[t] for t in targets),
                       loss, FLAT, real("Loss"), origin=str(clean(title)[:200]), order=order)

    def _neuron_specs(self) -> list["_Spec"]:
        neurons = self.data.get("neurons", [])
        if not isinstance(neurons, list) or (not neurons and "nodes" not in self.data):
            self.fail("neurons", "must be a non-empty list of neuron tables ([[neurons]] in TOML)")
        limits.check("the number of neurons", len(neurons), "neurons", self.label)
        default_activation = self.data.get("activation", "identity")
        specs = []
        for index, spec in enumerate(neurons):
            key = f"neurons[{index}]"
            if not isinstance(spec, dict):
                self.fail(key, "must be a table with name and inputs")
            _check_keys(spec, NEURON_KEYS, key, self.fail)
            if "name" not in spec:
                self.fail(key, "missing 'name'")
            name = self.claim(spec["name"], f"{key}.name", "neuron", "neuron")
            edges = spec.get("inputs")
            if not isinstance(edges, dict) or not edges:
                self.fail(f"{key}.inputs", f"neuron {name!r} needs a table of source = weight, e.g. {{ X1 = \"W1\" }}")
            activation = spec.get("activation", default_activation)
            if not isinstance(activation, str):
                self.fail(f"{key}.activation", "must be a name or an expression in x")
            specs.append(_Spec(key, name, _output_flag(spec, key, self.fail), edges=edges, bias=spec.get("bias"),
                               activation=activation))
        return specs

    def _node_specs(self) -> list["_Spec"]:
        nodes = self.data.get("nodes", [])
        if not isinstance(nodes, list):
            self.fail("nodes", "must be a list of node tables ([[nodes]] in TOML) with name and expr")
        specs = []
        for index, spec in enumerate(nodes):
            key = f"nodes[{index}]"
            if not isinstance(spec, dict):
                self.fail(key, "must be a table with name and expr, e.g. { name = \"c\", expr = \"a + b\" }")
            _check_keys(spec, NODE_KEYS, key, self.fail)
            for needed in ("name", "expr"):
                if needed not in spec:
                    self.fail(key, f"missing {needed!r}; a node is a name and an expression, e.g. {{ name = \"c\", expr = \"a + b\" }}")
            name = self.claim(spec["name"], f"{key}.name", "node", "node")
            if not isinstance(spec["expr"], str):
                self.fail(f"{key}.expr", "must be an expression as text, e.g. \"a + b\"")
            specs.append(_Spec(key, name, _output_flag(spec, key, self.fail), expr=spec["expr"]))
        return specs

    def _names(self, text: str, key: str) -> list[str]:
        try:
            return expression_names(text, key)
        except DerivchainError as exc:
            raise NetworkFileError(f"{self.label}: {exc}") from None

    def _loss(self, specs, nodes: set[str], input_names: list[str]):
        """The loss, the names of the outputs it reads, and the targets in order."""
        fail, data = self.fail, self.data
        if "loss" not in data and not any(s.output for s in specs) and any(s.expr is not None for s in specs):
            fail("loss", "missing; a graph of [[nodes]] names its loss, e.g. loss = \"out\" or loss = \"(out - y)**2/2\"")
        loss_text = data.get("loss", "abs")
        if not isinstance(loss_text, str):
            fail("loss", "must be a loss name, an expression in Out and Y, or an expression naming nodes")
        marked = [s for s in specs if s.output]
        try:
            names = expression_names(loss_text, "loss") if loss_text not in LOSSES else []
        except DerivchainError:
            names = []
        if loss_text in LOSSES or not any(n in nodes for n in names):
            try:
                loss = get_loss(loss_text)
            except DerivchainError as exc:
                if names and not marked:  # an expression meant for the graph that reads no node
                    fail("loss", f"{loss_text[:60]!r} names no node (nodes: {', '.join(sorted(nodes)[:12])}); a loss "
                         "expression reads the nodes it depends on, e.g. loss = \"(o - y)**2/2\" (or name a loss, "
                         f"{', '.join(LOSSES)}, and mark the outputs with output = true)")
                fail("loss", str(exc).removeprefix("loss: "))
            return self._template_loss(loss, specs, marked)
        return self._graph_loss(loss_text, names, specs, nodes, marked)

    def _template_loss(self, loss: Loss, specs, marked):
        # A registry loss (or one in Out and Y) applied to each output marked output = true; in a graph
        # of [[nodes]] alone, to the nodes nothing else reads (its ends), as a reader would take them.
        if not marked and not self.data.get("neurons"):
            read = {r for s in specs for r in s.reads(self.owner)}
            marked = [s for s in specs if s.name not in read]
        if not marked:
            raise NetworkFileError(f"{self.label}: no neuron has output = true; mark the output neuron(s)")
        n_out = len(marked)
        targets = self.data.get("targets")
        if targets is None:
            targets = ["Y"] if n_out == 1 else [f"Y{k}" for k in range(1, n_out + 1)]
            for i, t in enumerate(targets):
                self.claim(t, f"targets[{i}]", "target", "target")
        if len(targets) != n_out:
            self.fail("targets", f"needs one name per output ({n_out}: {', '.join(s.name for s in marked)})")
        # Targets are written in the outputs' file order; the network lists outputs topologically.
        self._target_of = dict(zip((s.name for s in marked), targets))
        return loss, {s.name for s in marked}, None

    def _graph_loss(self, text, names, specs, nodes, marked):
        if "targets" not in self.data:
            # The default targets, as for a loss in Out and Y: Y for one output, Y1..Yk for k.
            read = [n for n in names if n in nodes]
            defaults = ["Y"] if len(read) == 1 else [f"Y{k}" for k in range(1, len(read) + 1)]
            self._default_targets = [t for t in defaults if t in names and t not in self.owner]
            for t in self._default_targets:
                self.claim(t, "targets", "target", "target")
        unknown = [n for n in names if n not in self.owner]
        if unknown:
            self.fail("loss", f"unknown name {unknown[0]!r} in {text!r}; the loss may read nodes, inputs, targets and "
                      "the parameters the nodes use: declare a target in targets = [...], or use the name in a node")
        symbols = {n: real(n) for n in names}
        try:
            body = parse_expression(text, symbols, "loss")
        except DerivchainError as exc:
            raise NetworkFileError(f"{self.label}: {exc}") from None
        outputs = {n for n in names if n in nodes}
        self._loss_reads = names
        for s in marked:
            if s.name not in outputs:
                self.fail(f"{s.key}.output", f"{s.name!r} is marked output = true but the loss {text!r} does not read it; "
                          "read it in loss or drop output = true")
        loss = Loss(text, lambda outs, ys: body, text)
        targets = list(self.data.get("targets") or self._default_targets)
        for i, t in enumerate(targets):
            read = t in names or any(t in s.reads(self.owner) for s in specs)
            if not read:
                self.fail(f"targets[{i}]", f"target {t!r} is read by nothing; read it in the loss or remove it")
        return loss, outputs, targets

    def _check_reachability(self, specs, outputs: set[str], inputs: list[str], loss) -> None:
        feeds: dict[str, list[str]] = {}
        for spec in specs:
            for src in spec.reads(self.owner):
                feeds.setdefault(src, []).append(spec.name)
        reaches = set(outputs)
        changed = True
        while changed:
            changed = False
            for spec in specs:
                if spec.name not in reaches and any(t in reaches for t in feeds.get(spec.name, ())):
                    reaches.add(spec.name)
                    changed = True
        for spec in specs:
            if spec.name not in reaches:
                raise NetworkFileError(f"{self.label}: {spec.key} ({spec.name}): no path to any output; "
                                       "connect it to a later neuron or remove it")
        loss_reads = set(self._loss_reads)
        for name in inputs:
            if not feeds.get(name) and name not in loss_reads:
                raise NetworkFileError(f"{self.label}: inputs: {name!r} feeds no neuron; connect it or remove it")


def _output_flag(spec: dict, key: str, fail) -> bool:
    output = spec.get("output", False)
    if not isinstance(output, bool):
        fail(f"{key}.output", "must be true or false")
    return output


class _Spec:
    """One ``[[neurons]]`` (``edges``) or ``[[nodes]]`` (``expr``) entry, validated, not yet built."""

    def __init__(self, key, name, output, edges=None, bias=None, activation=None, expr=None):
        self.key, self.name, self.output = key, name, output
        self.edges, self.bias, self.activation, self.expr = edges, bias, activation, expr
        self._reads = None

    def node_reads(self, nodes: set[str]) -> list[str]:
        """The nodes an expression reads (parameters are not known yet when the order is first needed)."""
        return [n for n in expression_names(self.expr, self.key, None) if n in nodes]

    def reads(self, owner) -> list[str]:
        """The names this entry reads that are not its own parameters: sources, or an expression's names."""
        if self._reads is None:
            if self.edges is not None:
                self._reads = list(self.edges)
            else:
                self._reads = [n for n in expression_names(self.expr, self.key, None) if owner.get(n, ("",))[0] != "parameter"]
        return self._reads

    def build(self, symbols, layer: int, is_output: bool, builder: "_Builder"):
        if self.edges is None:
            try:
                expr = parse_expression(self.expr, symbols, f"{self.key}.expr")
            except DerivchainError as exc:
                raise NetworkFileError(f"{builder.label}: {exc}") from None
            return ExprNode(symbols[self.name], layer, expr, is_output)
        try:
            act = get_activation(self.activation)
        except DerivchainError as exc:
            builder.fail(f"{self.key}.activation", str(exc))
        sources = tuple((symbols[src], symbols[w]) for src, w in self.edges.items())
        return Neuron(symbols[self.name], layer, sources, symbols[self.bias] if self.bias else None, act, is_output)


def _check_keys(table: dict, allowed: tuple[str, ...], where: str, fail) -> None:
    for key in table:
        if key not in allowed:
            fail(where, f"unknown key {key!r}; valid keys: {', '.join(allowed)}")


def _topological(specs, nodes: set[str], label: str) -> list[int]:
    """Indices of ``specs`` in an order where every node read comes first (file order kept when possible)."""
    deps = [[r for r in s.reads({}) if r in nodes] if s.edges is not None else s.node_reads(nodes) for s in specs]
    done: set[str] = set()
    order: list[int] = []
    remaining = list(range(len(specs)))
    while remaining:
        ready = [i for i in remaining if all(src in done for src in deps[i])]
        if not ready:
            what = "neurons" if all(specs[i].edges is not None for i in remaining) else "nodes"
            raise NetworkFileError(f"{label}: {what}: cycle {_find_cycle(remaining, specs, deps)}; "
                                   "a feed-forward network needs an acyclic graph: remove one of its edges")
        first = ready[0]
        order.append(first)
        done.add(specs[first].name)
        remaining.remove(first)
    return order


def _find_cycle(remaining, specs, deps) -> str:
    index = {specs[i].name: i for i in remaining}
    start = specs[remaining[0]].name
    path, seen = [start], {start}
    node = start
    while True:
        node = next(src for src in deps[index[node]] if src in index)
        if node in seen:
            cycle = path[path.index(node):] + [node]
            return " -> ".join(reversed(cycle))
        path.append(node)
        seen.add(node)
