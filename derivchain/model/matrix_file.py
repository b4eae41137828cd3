"""Matrix graphs: a network file with a ``[shapes]`` table, whose ``[[nodes]]`` are matrix expressions.

Example (TOML)::

    name = "one attention head"
    inputs = ["X"]
    targets = ["T"]
    loss = "sum((A - T)**2)/2"          # a scalar expression, or the name of a 1x1 node

    [shapes]                            # every matrix leaf: name = [rows, cols]
    X = [3, 4]
    WQ = [4, 4]
    T = [3, 4]

    [[nodes]]
    name = "Q"
    expr = "X @ WQ"                     # @, .T, + - * / ** elementwise (a row, a column or a 1x1 broadcast),
                                        # every activation and function entry by entry, sum/mean(M[, axis=0|1]),
                                        # softmax(M, axis=0|1), an entry X[0,1]

Each entry of a matrix is a scalar symbol ``NAME[i,j]`` (0-based, as in NumPy and PyTorch), and each
matrix node becomes one scalar expression node per entry, in the entries of what it reads: the graph
every engine, verifier and printer knows, with ``grad "WQ[0,0]"`` a parameter like any other. A leaf
not in ``[shapes]`` is a scalar; every leaf other than the inputs and targets is a parameter, its
entries in row-major order. Shapes are checked as the file is read: a mismatch is one line naming the
node, both shapes and the operation. Entries that do not reach the loss (``X[0,1]`` read alone) are
left out of the graph.
"""

from __future__ import annotations

import keyword
import re

import sympy as sp

from .. import limits
from ..errors import DerivchainError, NetworkFileError
from ..record import record
from ..symbolic import grids
from ..symbolic.grids import Grid
from ..symbolic.matrix_parse import REDUCTIONS, matrix_names, parse_matrix_expression
from ..symbolic.parse import FUNCTIONS as PARSER_NAMES
from ..user_text import clean
from .activations import ACTIVATIONS
from .losses import Loss
from .network import Network, real
from .nodes import ExprNode
from .notation import FLAT

TOP_KEYS = ("name", "shapes", "inputs", "targets", "nodes", "loss")
# The names a network file accepts and reserves, as model.network_file has them (that module reads this one).
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_RESERVED = {"Loss", "L"}
NODE_KEYS = ("name", "expr")
#: The activations a matrix expression applies entry by entry, by name (the parser's own functions besides).
ELEMENTWISE = {name: a.function for name, a in ACTIVATIONS.items() if name not in PARSER_NAMES}


@record(repr=False)
class MatrixNode:
    """One matrix node as the file gives it: its name, expression text and the grid of its entries."""

    name: str
    text: str
    grid: Grid
    reads: tuple[str, ...]  # the matrices and scalars its expression names, in order

    def __repr__(self) -> str:
        return f"MatrixNode({self.name} = {self.text}: {grids.shape_text(self.grid.shape)})"


@record(repr=False)
class MatrixGraph:
    """What a matrix graph is beside its scalar nodes: each matrix's shape (leaves, then nodes in order),
    which leaves are matrices, the nodes as written, and the loss's text."""

    shapes: tuple[tuple[str, tuple[int, int]], ...]
    leaves: tuple[tuple[str, str], ...]  # every leaf (matrix or scalar) and its kind: input, target or parameter
    nodes: tuple[MatrixNode, ...]
    loss: str
    loss_reads: tuple[str, ...]  # the names the loss reads, in order

    def __repr__(self) -> str:
        return f"MatrixGraph({', '.join(f'{n}: {grids.shape_text(s)}' for n, s in self.shapes)})"

    def shape(self, name: str) -> tuple[int, int] | None:
        """The shape of matrix ``name``; None for a scalar."""
        return dict(self.shapes).get(name)


def is_matrix_file(data: object) -> bool:
    """True when a parsed network description is a matrix graph (it has a ``shapes`` table)."""
    return isinstance(data, dict) and "shapes" in data


def build_matrix_network(data: dict, label: str = "network") -> Network:
    """Validate a matrix graph's description and build its network of scalar entry nodes."""
    return _MatrixBuilder(data, label).build()


class _MatrixBuilder:
    """One matrix graph's validation and build; every error names the file and the key."""

    def __init__(self, data: dict, label: str):
        self.data, self.label = data, label
        self.owner: dict[str, tuple[str, str]] = {}  # name -> (kind, the key that introduced it)

    def fail(self, key: str, message: str):
        raise NetworkFileError(f"{self.label}: {key}: {message}")

    def check_name(self, name: object, key: str, what: str) -> str:
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            shown = name if not isinstance(name, str) else clean(name[:40])
            self.fail(key, f"{what} name {shown!r} must start with a letter and use only letters, digits and _")
        if len(name) > limits.current().name_length:
            self.fail(key, f"{what} name {name[:20]!r}... is longer than {limits.current().name_length} characters")
        if keyword.iskeyword(name) or name in PARSER_NAMES or name in REDUCTIONS or name in ELEMENTWISE:
            self.fail(key, f"{what} name {name!r} is a Python keyword or a function's name, so expressions "
                      "would not read; choose another")
        if name in _RESERVED or name.startswith("delta_"):
            self.fail(key, f"{what} name {name!r} is reserved (Loss, L and delta_* name the loss and the deltas)")
        return name

    def claim(self, name: object, key: str, what: str, kind: str) -> str:
        name = self.check_name(name, key, what)
        if name in self.owner:
            old_kind, old_key = self.owner[name]
            if kind == old_kind == "parameter":
                return name
            self.fail(key, f"{name!r} is already used by {old_key}; every name must be unique")
        self.owner[name] = (kind, key)
        return name

    def build(self) -> Network:
        data, fail = self.data, self.fail
        _check_keys(data, TOP_KEYS, "top level", fail)
        shapes = self._shapes()
        for what in ("inputs", "targets"):
            names = data.get(what, [])
            if not isinstance(names, list):
                fail(what, f"must be a list of names, e.g. [\"{'X' if what == 'inputs' else 'T'}\"]")
            for i, n in enumerate(names):
                self.claim(n, f"{what}[{i}]", what[:-1], what[:-1])
        specs = self._nodes()
        loss_text = data.get("loss")
        if not isinstance(loss_text, str):
            fail("loss", "missing or not text; a matrix graph's loss is a scalar expression of its nodes, "
                 "e.g. loss = \"sum((A - T)**2)/2\", or the name of a 1x1 node")
        for key, text in [(f"{k}.expr", s["expr"]) for k, s in specs] + [("loss", loss_text)]:
            for name in self._names(text, key):
                if name not in self.owner:
                    self.claim(name, key, "parameter", "parameter")
        for name in shapes:
            if name not in self.owner:
                fail(f"shapes.{name}", f"{name!r} is read by no node and not the loss; remove it or use it")
        limits.check("the number of weights and biases",
                     sum(_size(shapes.get(n)) for n, (k, _) in self.owner.items() if k == "parameter"),
                     "parameters", self.label)

        # Every leaf: its grid of entry symbols (a matrix) or its symbol (a scalar).
        env: dict[str, object] = {}
        for name, (kind, _) in self.owner.items():
            if kind != "node":
                shape = shapes.get(name)
                env[name] = real(name) if shape is None else grids.symbols_grid(name, shape, real)
        nodes = self._evaluate(specs, env, shapes)
        loss_body = self._loss(loss_text, env)
        return self._network(nodes, env, loss_text, loss_body, shapes)

    def _shapes(self) -> dict[str, tuple[int, int]]:
        raw = self.data["shapes"]
        if not isinstance(raw, dict) or not raw:
            self.fail("shapes", "must be a table of name = [rows, cols], e.g. X = [3, 4]")
        out = {}
        most = limits.current().parameters
        for name, shape in raw.items():
            self.check_name(name, f"shapes.{name}", "matrix")
            if (not isinstance(shape, list) or len(shape) != 2
                    or not all(type(n) is int and n >= 1 for n in shape)):
                self.fail(f"shapes.{name}", f"must be [rows, cols], two whole numbers from 1, e.g. {name} = [3, 4]")
            if shape[0] * shape[1] > most:
                self.fail(f"shapes.{name}", f"{shape[0]}x{shape[1]} has more than {most} entries (the parameters "
                          "limit; raise it with --limit parameters=N)")
            out[name] = (shape[0], shape[1])
        return out

    def _nodes(self) -> list[tuple[str, dict]]:
        nodes = self.data.get("nodes")
        if not isinstance(nodes, list) or not nodes:
            self.fail("nodes", "a matrix graph needs [[nodes]], each a name and a matrix expression, "
                      "e.g. { name = \"Q\", expr = \"X @ WQ\" }")
        specs = []
        for index, spec in enumerate(nodes):
            key = f"nodes[{index}]"
            if not isinstance(spec, dict):
                self.fail(key, "must be a table with name and expr, e.g. { name = \"Q\", expr = \"X @ WQ\" }")
            _check_keys(spec, NODE_KEYS, key, self.fail)
            for needed in NODE_KEYS:
                if needed not in spec:
                    self.fail(key, f"missing {needed!r}; a node is a name and an expression, e.g. "
                              "{ name = \"Q\", expr = \"X @ WQ\" }")
            self.claim(spec["name"], f"{key}.name", "node", "node")
            if not isinstance(spec["expr"], str):
                self.fail(f"{key}.expr", "must be an expression as text, e.g. \"X @ WQ\"")
            specs.append((key, spec))
        return specs

    def _names(self, text: str, key: str) -> list[str]:
        try:
            return matrix_names(text, key)
        except DerivchainError as exc:
            raise NetworkFileError(f"{self.label}: {exc}") from None

    def _parse(self, text: str, env: dict, what: str):
        try:
            return parse_matrix_expression(text, env, what, ELEMENTWISE, max_entries=limits.current().neurons)
        except DerivchainError as exc:
            raise NetworkFileError(f"{self.label}: {exc}") from None

    def _evaluate(self, specs, env: dict, shapes: dict) -> list[tuple[MatrixNode, Grid]]:
        """Each node's grid in an order where what it reads comes first; the env gains its entry symbols."""
        names = {spec["name"] for _, spec in specs}
        reads = {spec["name"]: [n for n in self._names(spec["expr"], f"{key}.expr") if n in names] for key, spec in specs}
        remaining = list(specs)
        done: list[tuple[MatrixNode, Grid]] = []
        count = 0
        while remaining:
            ready = [s for s in remaining if all(r in env for r in reads[s[1]["name"]])]
            if not ready:
                self.fail("nodes", f"cycle {_cycle(remaining, reads)}; a feed-forward graph has no cycles: "
                          "remove one of its reads")
            key, spec = ready[0]
            remaining.remove(ready[0])
            name = spec["name"]
            if name in reads[name]:
                self.fail(f"{key}.expr", f"node {name!r} reads itself; a feed-forward graph has no cycles")
            value = self._parse(spec["expr"], env, f"{key} ({name})")
            if not isinstance(value, Grid):
                value = Grid(((value,),))  # a scalar node is a 1x1 matrix
            declared = shapes.get(name)
            if declared is not None and declared != value.shape:
                self.fail(f"{key} ({name})", f"{spec['expr']!r} is {grids.shape_text(value.shape)}, but shapes "
                          f"declares {name} {grids.shape_text(declared)}")
            count += value.rows * value.cols
            limits.check("the number of nodes' entries", count, "neurons", f"{self.label}: {key}")
            read = tuple(self._names(spec["expr"], f"{key}.expr"))
            done.append((MatrixNode(name, spec["expr"], value, read), value))
            env[name] = grids.symbols_grid(name, value.shape, real)
        return done

    def _loss(self, text: str, env: dict) -> sp.Expr:
        value = self._parse(text, env, "loss")
        if isinstance(value, Grid):
            if value.shape != (1, 1):
                self.fail("loss", f"{text[:60]!r} is {grids.shape_text(value.shape)}; a loss is a scalar: sum or "
                          f"average it, e.g. loss = \"sum(({text[:30]})**2)/2\", or name a 1x1 node")
            value = value.entries[0][0]
        return value

    def _network(self, nodes, env: dict, loss_text: str, loss_body: sp.Expr, shapes: dict) -> Network:
        node_entries = {s for matrix, _ in nodes for s in env[matrix.name].flat()}
        outputs = loss_body.free_symbols & node_entries
        if not outputs:
            self.fail("loss", f"{loss_text[:60]!r} reads no node; a loss reads the nodes it depends on, "
                      "e.g. loss = \"sum((A - T)**2)/2\"")
        # Entries that reach the loss, walking back from the ones it reads (a node's entries in reverse order).
        needed = set(outputs)
        for matrix, grid in reversed(nodes):
            own = env[matrix.name]
            for i, row in enumerate(grid.entries):
                for j, expr in enumerate(row):
                    if own.entries[i][j] in needed:
                        needed |= expr.free_symbols & node_entries
        layer: dict[sp.Symbol, int] = {}
        built = []
        for matrix, grid in nodes:
            own = env[matrix.name]
            for i, row in enumerate(grid.entries):
                for j, expr in enumerate(row):
                    symbol = own.entries[i][j]
                    if symbol not in needed:
                        continue
                    layer[symbol] = 1 + max((layer[s] for s in expr.free_symbols if s in layer), default=0)
                    limits.check("the network's depth", layer[symbol] + 1, "layers", f"{self.label}: {matrix.name}")
                    built.append(ExprNode(symbol, layer[symbol], expr, symbol in outputs))
        read = set().union(*(n.expr.free_symbols for n in built), loss_body.free_symbols)
        kinds = {name: kind for name, (kind, _) in self.owner.items()}

        def leaves(kind: str) -> tuple[sp.Symbol, ...]:
            return tuple(s for name in kinds if kinds[name] == kind for s in _symbols(env[name]) if s in read)

        inputs, targets, parameters = leaves("input"), leaves("target"), leaves("parameter")
        for kind, found in (("input", inputs), ("target", targets)):
            for name in (n for n in kinds if kinds[n] == kind):
                if not any(s in read for s in _symbols(env[name])):
                    self.fail(f"{kind}s", f"{name!r} is read by nothing that reaches the loss; read it or remove it")
        loss = Loss(loss_text, lambda outs, ys: loss_body, loss_text)
        title = self.data.get("name") or self.label
        if not isinstance(title, str):
            self.fail("name", "must be text")
        graph = MatrixGraph(
            tuple([(n, shapes[n]) for n in shapes if kinds.get(n) != "node"]
                  + [(m.name, g.shape) for m, g in nodes]),
            tuple((n, k) for n, k in kinds.items() if k != "node"),
            tuple(m for m, _ in nodes), loss_text, tuple(self._names(loss_text, "loss")))
        return Network((), inputs, tuple(built), targets, loss, FLAT, real("Loss"), origin=str(clean(title)[:200]),
                       order=tuple(s.name for s in parameters), matrix=graph)


def _check_keys(table: dict, allowed: tuple[str, ...], where: str, fail) -> None:
    for key in table:
        if key not in allowed:
            fail(where, f"unknown key {key!r}; valid keys: {', '.join(allowed)}")


def _cycle(remaining, reads) -> str:
    """``K -> Q -> K``: a cycle among the nodes left unordered, each arrow from what is read to its reader."""
    left = {spec["name"] for _, spec in remaining}
    path = [remaining[0][1]["name"]]
    while True:
        after = next(r for r in reads[path[-1]] if r in left)
        if after in path:
            cycle = path[path.index(after):] + [after]
            return " -> ".join(reversed(cycle))
        path.append(after)


def _symbols(value) -> list[sp.Symbol]:
    return value.flat() if isinstance(value, Grid) else [value]


def _size(shape) -> int:
    return 1 if shape is None else shape[0] * shape[1]
