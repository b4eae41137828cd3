"""``grad fc1.weight`` on a traced PyTorch model: an ``nn.Linear`` (or ``F.linear``) weight's or bias's whole
gradient in matrix form, read off the traced entry graph and checked entry by entry.

A traced ``nn.Linear`` is one neuron per output entry, ``out[i,j] = sum_r x[i,r] * W[j,r] + b[j]`` (PyTorch
stores W as (out, in)). Where every entry of ``W`` (or ``b``) is read by exactly those neurons, the layer's
gradient is ``dL/dW = dL/dout.T @ x`` and ``dL/db = sum(dL/dout, axis=0)``, with ``dL/dout`` the batch's
matrix of the neurons' deltas (the scalar derivation's dLoss/dout[i,j]). The layer is found from the graph
(each neuron's edges name its input entry and its weight entry), never assumed; the form is evaluated
through the matrix parser and each entry compared with that entry's backpropagation gradient, which is
itself checked against its direct derivative (:func:`derivchain.verification.entries.check_entries`), as
``grad W1`` on a ``[shapes]`` matrix graph does. Any other parameter (a convolution's 4-D weight, a weight
read outside one layer) has no matrix form here: :func:`linear_layer` says why in one line.
"""

from __future__ import annotations

import keyword
import re

import sympy as sp

from .. import memo
from ..engines.backprop import backprop, delta_equations
from ..engines.matrix_chain import MatrixEquation, printed
from ..model.network import Network
from ..record import record
from ..symbolic import grids
from .entries import check_entries
from .matrix_chain import CheckedEquation, MatrixGradient, _check, _numbers

_ENTRY = re.compile(r"^(.*)\[(\d+(?:,\d+)*)\]$")


@record
class LinearLayer:
    """One traced linear layer as the graph has it: the parameter asked for (``weight`` or ``bias``), the
    output entries' name, and (n x in) input and (n x out) output grids of symbols (None where an output
    entry does not reach the loss)."""

    parameter: str
    role: str  # "weight" or "bias"
    output: str
    input_name: str
    inputs: tuple[tuple[sp.Symbol, ...], ...]
    outputs: tuple[tuple[sp.Symbol | None, ...], ...]
    entries: tuple[tuple[sp.Symbol, ...], ...]  # the parameter's entries, in its (out, in) or (1, out) shape

    @property
    def form(self) -> str:
        """The matrix form in the matrix language: ``dL_dout0.T @ x`` or ``sum(dL_dout0, axis=0)``."""
        if self.role == "weight":
            return f"dL_d{self.output}.T @ {self.input_name}"
        return f"sum(dL_d{self.output}, axis=0)"


def _indices(name: str) -> tuple[str, tuple[int, ...]] | None:
    found = _ENTRY.match(name)
    return None if found is None else (found.group(1), tuple(int(k) for k in found.group(2).split(",")))


def linear_layer(network: Network, name: str) -> LinearLayer | str:
    """The linear layer whose weight or bias is the whole parameter ``name``, or one line saying why ``name``
    has no matrix form (its entries not a 2-D weight or a 1-D bias read by one layer of neurons)."""
    entries = {}
    for p in network.parameter_entries(name):
        parts = _indices(p.name)
        if parts is not None and parts[0] == name:
            entries[parts[1]] = p
    dims = {len(k) for k in entries}
    if dims != {1} and dims != {2}:
        n = max(dims)
        return (f"{name} is {n}-D (a convolution's weight, or another tensor): the matrix form is given for an "
                "nn.Linear's 2-D weight and 1-D bias")
    role = "weight" if dims == {2} else "bias"
    rows = 1 + max(k[0] for k in entries)  # out features, for a weight (out, in) and a bias (out,)
    cols = 1 + max(k[-1] for k in entries) if role == "weight" else 1
    if len(entries) != rows * cols:
        return f"{name} has entries missing from the network (some do not reach the loss): name one entry"
    neurons: dict[tuple[int, int], object] = {}
    base = None
    for idx, p in entries.items():
        for use in network.uses.get(p, ()):
            at = None if use is None or not use.sources else _indices(use.symbol.name)
            if at is None or len(at[1]) != 2 or (base is not None and at[0] != base):
                return (f"{name} is read outside one linear layer (by {'the loss' if use is None else use.symbol.name}; "
                        "a tied or reused weight): its matrix form is not the layer's")
            base = at[0]
            neurons[at[1]] = use
    if base is None:
        return f"{name} is read by no node"
    batch = 1 + max(i for i, _ in neurons)
    x: dict[tuple[int, int], sp.Symbol] = {}
    for (i, j), n in neurons.items():
        if role == "weight":
            if j >= rows or len(n.sources) != cols or any(w is not entries[(j, r)] for r, (_, w) in enumerate(n.sources)):
                return f"{name}: the neuron {n.symbol.name} does not read row {j} of it in order, as nn.Linear does"
        elif n.bias is not entries[(j,)]:
            return f"{name}: the neuron {n.symbol.name} does not add entry {j} of it, as nn.Linear does"
        for r, (src, _) in enumerate(n.sources):
            if x.setdefault((i, r), src) is not src:
                return f"{name}: the neurons of row {i} of {base} read different inputs"
    width = len(next(iter(neurons.values())).sources)
    if len(x) != batch * width:
        return f"{name}: a row of {base}'s inputs is missing (no neuron of that row reaches the loss)"
    # Uses of each entry: one neuron per batch row, the one of its output column (nothing else reads it).
    for idx, p in entries.items():
        j = idx[0]
        if {u.symbol for u in network.uses.get(p, ())} != {n.symbol for (i, k), n in neurons.items() if k == j}:
            return f"{name}: an entry is not read by its output column's neurons alone"
    inputs = tuple(tuple(x[(i, r)] for r in range(width)) for i in range(batch))
    outputs = tuple(tuple(neurons[(i, j)].symbol if (i, j) in neurons else None for j in range(rows)) for i in range(batch))
    shaped = (tuple(tuple(entries[(j, r)] for r in range(cols)) for j in range(rows)) if role == "weight"
              else (tuple(entries[(j,)] for j in range(rows)),))
    return LinearLayer(name, role, base, _input_name(inputs, base), inputs, outputs, shaped)


def _input_name(inputs, output: str) -> str:
    """The input matrix's name: its entries' own (``x``, ``relu``) where they are ``NAME[i,r]`` of one 2-D
    tensor in order, else ``input_`` and the layer's output name (a flattened tensor's entries)."""
    names = {_indices(s.name) for row in inputs for s in row}
    bases = {n[0] for n in names if n is not None}
    ordered = all(_indices(s.name) == (next(iter(bases)), (i, r)) for i, row in enumerate(inputs) for r, s in enumerate(row)) \
        if len(bases) == 1 and None not in names else False
    base = next(iter(bases)) if ordered else ""
    if ordered and base.isidentifier() and not keyword.iskeyword(base) and base != f"dL_d{output}":
        return base
    return f"input_{output}"


def linear_gradient(network: Network, layer: LinearLayer, values: dict | None = None) -> MatrixGradient:
    """dLoss/d(the layer's weight or bias) in matrix form, checked entry by entry (at ``values`` too)."""
    with memo.working_for(network):
        deltas = delta_equations(network)
        adjoint = grids.Grid(tuple(tuple(sp.S.Zero if s is None else deltas[s].value for s in row) for row in layer.outputs))
        env = {f"dL_d{layer.output}": adjoint, layer.input_name: grids.Grid(layer.inputs)}
        found = {p: backprop(network, p) for row in layer.entries for p in row}
        want = grids.Grid(tuple(tuple(found[p].local for p in row) for row in layer.entries))
        shape = (len(layer.entries), len(layer.entries[0]))
        equation = MatrixEquation(layer.parameter, layer.form, shape, (f"dL_d{layer.output}",))
        ok, method = _check(network, equation, env, want)
        entries = check_entries(network, {p: g.substituted for p, g in found.items()})
        shown = None
        if values is not None:
            numbers = _numbers(network, values)
            shown = tuple(tuple(numbers(e) for e in row) for row in want.entries)
    checked = CheckedEquation(layer.parameter, printed(layer.form), shape, ok, method, "", shown)
    exact = bool(shown) and all(n.exact for row in shown for n in row)
    return MatrixGradient(network, layer.parameter, shape, (checked,), entries, shown, exact)

