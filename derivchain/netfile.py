"""Network files (TOML or JSON): named inputs, neurons with their incoming edges, any DAG.

Example (TOML)::

    inputs = ["X1", "X2"]
    activation = "identity"      # default for every neuron
    loss = "half-squared"        # a registry name or an expression in Out and Y
    targets = ["Y"]              # one per output, in output order (default Y or Y1..Yk)

    [[neurons]]
    name = "H1"
    inputs = { X1 = "W1", X2 = "W2" }   # source = weight, in order
    bias = "B1"                         # optional
    activation = "sigmoid"              # optional, overrides the default

    [[neurons]]
    name = "Out"
    inputs = { H1 = "W3", X1 = "W4" }   # a skip connection straight from an input
    output = true

Every name must be unique across inputs, neurons, weights, biases and targets: a weight on two edges
is refused (shared weights are not supported; give each edge its own weight). Errors name the file,
the key (``neurons[2].inputs``) and the fix.
"""

from __future__ import annotations

import json
import keyword
import re
import tomllib
from pathlib import Path

from .activations import get_activation
from . import limits
from .errors import DerivchainError, NetworkFileError
from .user_text import clean, read_limited
from .losses import get_loss
from .network import Network, Neuron, check_loss, real
from .expressions import FUNCTIONS as PARSER_NAMES
from .notation import FLAT

TOP_KEYS = ("name", "inputs", "neurons", "activation", "loss", "targets")
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

    def fail(key: str, message: str):
        raise NetworkFileError(f"{label}: {key}: {message}")

    if not isinstance(data, dict):
        raise NetworkFileError(f"{label}: the top level must be a table (TOML) or an object (JSON)")
    _check_keys(data, TOP_KEYS, "top level", fail)
    for key in ("inputs", "neurons"):
        if key not in data:
            fail(key, f"missing; a network file needs {', '.join(repr(k) for k in ('inputs', 'neurons'))}")

    owner: dict[str, str] = {}  # name -> the key that introduced it

    def claim(name: object, key: str, what: str) -> str:
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            shown = name if not isinstance(name, str) else clean(name[:40])
            fail(key, f"{what} name {shown!r} must start with a letter and use only letters, digits and _")
        if len(name) > limits.current().name_length:
            fail(key, f"{what} name {name[:20]!r}... is longer than {limits.current().name_length} characters")
        if keyword.iskeyword(name) or name in PARSER_NAMES:
            fail(key, f"{what} name {name!r} is a Python keyword or a function's name, so printed expressions "
                 "would not read back; choose another")
        if name in _RESERVED or name.startswith("delta_"):
            fail(key, f"{what} name {name!r} is reserved (Loss, L and delta_* name the loss and the deltas)")
        if name in owner:
            if what == "weight" and owner[name].endswith(".inputs"):
                fail(key, f"weight {name!r} is on two edges (also in {owner[name]}); shared weights are not "
                     "supported: give each edge its own weight")
            fail(key, f"{name!r} is already used by {owner[name]}; every name must be unique")
        owner[name] = key
        return name

    inputs = data["inputs"]
    if not isinstance(inputs, list) or not inputs:
        fail("inputs", "must be a non-empty list of names, e.g. [\"X1\", \"X2\"]")
    input_names = [claim(n, f"inputs[{i}]", "input") for i, n in enumerate(inputs)]

    neurons = data["neurons"]
    if not isinstance(neurons, list) or not neurons:
        fail("neurons", "must be a non-empty list of neuron tables ([[neurons]] in TOML)")
    limits.check("the number of neurons", len(neurons), "neurons", label)

    default_activation = data.get("activation", "identity")
    specs = []
    for index, spec in enumerate(neurons):
        key = f"neurons[{index}]"
        if not isinstance(spec, dict):
            fail(key, "must be a table with name and inputs")
        _check_keys(spec, NEURON_KEYS, key, fail)
        if "name" not in spec:
            fail(key, "missing 'name'")
        name = claim(spec["name"], f"{key}.name", "neuron")
        edges = spec.get("inputs")
        if not isinstance(edges, dict) or not edges:
            fail(f"{key}.inputs", f"neuron {name!r} needs a table of source = weight, e.g. {{ X1 = \"W1\" }}")
        bias = spec.get("bias")
        if bias is not None:
            claim(bias, f"{key}.bias", "bias")
        output = spec.get("output", False)
        if not isinstance(output, bool):
            fail(f"{key}.output", "must be true or false")
        activation = spec.get("activation", default_activation)
        if not isinstance(activation, str):
            fail(f"{key}.activation", "must be a name or an expression in x")
        specs.append((index, name, edges, bias, activation, output))
    # Weights are claimed after all node names, so an edge's source may be any node.
    limits.check("the number of weights and biases", sum(len(s[2]) + (s[3] is not None) for s in specs), "parameters", label)
    for index, name, edges, _, _, _ in specs:
        for src, weight in edges.items():
            claim(weight, f"neurons[{index}].inputs", "weight")

    known = set(input_names) | {s[1] for s in specs}
    for index, name, edges, *_ in specs:
        for src in edges:
            if src not in known:
                fail(f"neurons[{index}].inputs", f"{src!r} is not an input or a neuron (known: {', '.join(sorted(known))})")
            if src == name:
                fail(f"neurons[{index}].inputs", f"neuron {name!r} feeds itself; a feed-forward network has no cycles")

    order = _topological(specs, set(input_names), label)
    outputs = [s for s in specs if s[5]]
    if not outputs:
        raise NetworkFileError(f"{label}: no neuron has output = true; mark the output neuron(s)")
    _check_reachability(specs, input_names, label)

    n_out = len(outputs)
    targets = data.get("targets", ["Y"] if n_out == 1 else [f"Y{k}" for k in range(1, n_out + 1)])
    if not isinstance(targets, list) or len(targets) != n_out:
        fail("targets", f"needs one name per output ({n_out}: {', '.join(s[1] for s in outputs)})")
    target_names = [claim(t, f"targets[{i}]", "target") for i, t in enumerate(targets)]

    loss_text = data.get("loss", "abs")
    if not isinstance(loss_text, str):
        fail("loss", "must be a loss name or an expression in Out and Y")
    try:
        loss = get_loss(loss_text)
    except DerivchainError as exc:
        fail("loss", str(exc))

    layer: dict[str, int] = {n: 0 for n in input_names}
    built: list[Neuron] = []
    for index in order:
        _, name, edges, bias, activation, output = specs[index]
        try:
            act = get_activation(activation)
        except DerivchainError as exc:
            fail(f"neurons[{index}].activation", str(exc))
        layer[name] = 1 + max(layer[s] for s in edges)
        limits.check("the network's depth", layer[name] + 1, "layers", f"{label}: neurons[{index}]")
        sources = tuple((real(src), real(w)) for src, w in edges.items())
        built.append(Neuron(real(name), layer[name], sources, real(bias) if bias else None, act, output))
    outs = [n for n in built if n.is_output]
    # Targets were written in the outputs' file order; the network lists outputs topologically.
    target_of = dict(zip((s[1] for s in outputs), target_names))
    target_names = [target_of[n.name] for n in outs]
    try:
        check_loss(loss, outs)
    except DerivchainError as exc:
        fail("loss", str(exc).replace("--output-activation", "activation = on the output neurons"))
    title = data.get("name") or label
    if not isinstance(title, str):
        fail("name", "must be text")
    title = clean(title)[:200]
    return Network((), tuple(real(n) for n in input_names), tuple(built), tuple(real(t) for t in target_names),
                   loss, FLAT, real("Loss"), origin=str(title))


def _check_keys(table: dict, allowed: tuple[str, ...], where: str, fail) -> None:
    for key in table:
        if key not in allowed:
            fail(where, f"unknown key {key!r}; valid keys: {', '.join(allowed)}")


def _topological(specs, inputs: set[str], label: str) -> list[int]:
    """Indices of ``specs`` in an order where every source comes first (file order kept when possible)."""
    by_name = {s[1]: s for s in specs}
    done: set[str] = set(inputs)
    order: list[int] = []
    remaining = [s[0] for s in specs]
    while remaining:
        ready = [i for i in remaining if all(src in done for src in specs[i][2])]
        if not ready:
            raise NetworkFileError(f"{label}: neurons: cycle {_find_cycle(remaining, specs, by_name)}; "
                                   "a feed-forward network needs an acyclic graph")
        first = ready[0]
        order.append(first)
        done.add(specs[first][1])
        remaining.remove(first)
    return order


def _find_cycle(remaining, specs, by_name) -> str:
    names = {specs[i][1] for i in remaining}
    start = specs[remaining[0]][1]
    path, seen = [start], {start}
    node = start
    while True:
        node = next(src for src in by_name[node][2] if src in names)
        if node in seen:
            cycle = path[path.index(node):] + [node]
            return " -> ".join(reversed(cycle))
        path.append(node)
        seen.add(node)


def _check_reachability(specs, inputs: list[str], label: str) -> None:
    feeds: dict[str, list[str]] = {}
    for _, name, edges, *_ in specs:
        for src in edges:
            feeds.setdefault(src, []).append(name)
    reaches = {s[1] for s in specs if s[5]}
    changed = True
    while changed:
        changed = False
        for _, name, *_ in specs:
            if name not in reaches and any(t in reaches for t in feeds.get(name, ())):
                reaches.add(name)
                changed = True
    for index, name, *_ in specs:
        if name not in reaches:
            raise NetworkFileError(f"{label}: neurons[{index}] ({name}): no path to any output; "
                                   "connect it to a later neuron or remove it")
    for name in inputs:
        if not feeds.get(name):
            raise NetworkFileError(f"{label}: inputs: {name!r} feeds no neuron; connect it or remove it")
