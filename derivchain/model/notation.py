"""Notations as objects: each one makes a dense network's names, their LaTeX, and the general equations.

A notation is a setting, not something decoded from names afterwards: :func:`derivchain.model.network.dense`
asks it for every name (and that name's LaTeX) as it builds the network, and the printers take the
notation as a setting. Adding a notation is one new :class:`Notation` subclass in ``NOTATIONS``.

Names a notation did not make (a network file's) get the generic rule :func:`generic_latex`.
"""

from __future__ import annotations

import re

from ..record import record
from ..errors import UnknownNotationError

_TRAILING_DIGITS = re.compile(r"^([A-Za-z]+)(\d+)$")
_WORDS = {"Out", "Loss"}


def _base(text: str) -> str:
    # One letter is a math variable (W); a word is upright (\mathrm{Out}).
    return text if len(text) == 1 else r"\mathrm{%s}" % text


def generic_latex(name: str) -> str:
    r"""LaTeX for any identifier: ``W13`` -> ``W_{13}``, ``Out`` -> ``\mathrm{Out}``, ``a_b_c`` -> ``a_{b,c}``.

    Names are identifiers (letters, digits, underscores), so nothing here needs escaping; empty parts
    (``W_``, ``W__a``) are dropped so that every valid name compiles.
    """
    if name.startswith("delta_") and len(name) > len("delta_"):
        return r"\delta_{%s}" % generic_latex(name[len("delta_"):])
    entry = _ENTRY.match(name)
    if entry:  # a matrix entry WQ[0,1]: the matrix's LaTeX (W_{Q}) and the indices as written, 0-based
        return "%s[%s,%s]" % (matrix_latex(entry.group(1)), entry.group(2), entry.group(3))
    parts = [p for p in name.split("_") if p]
    if not parts:
        return r"\mathrm{%s}" % name.replace("_", r"\_")
    head, subscripts = parts[0], parts[1:]
    match = _TRAILING_DIGITS.match(head)
    if match:
        head, index = match.groups()
        subscripts.insert(0, index)
    base = _base(head)
    if not subscripts:
        return base
    return "%s_{%s}" % (base, ",".join(_base(s) if not s.isdigit() else s for s in subscripts))


_ENTRY = re.compile(r"^([A-Za-z][A-Za-z0-9_]*)\[(\d+),(\d+)\]$")
_CAPITALS = re.compile(r"^([A-Z])([A-Z]{1,2})$")


def matrix_latex(name: str) -> str:
    r"""LaTeX for a matrix's name: ``WQ`` -> ``W_{Q}`` (a capital and one or two more: a letter with a
    subscript, as attention's W_Q is written), else :func:`generic_latex` (``X`` -> ``X``, ``W1`` -> ``W_{1}``)."""
    match = _CAPITALS.match(name)
    if match:
        return "%s_{%s}" % match.groups()
    return "\\" + name if name in _GREEK else generic_latex(name)


# Matrices named by a Greek letter (layer norm's gamma and beta) print as the letter.
_GREEK = {"alpha", "beta", "gamma", "delta", "epsilon", "eta", "theta", "lambda", "mu", "sigma", "tau", "phi", "omega"}


def _indices(*parts: int) -> str:
    # w^{2}_{12} reads fine; with an index of 10 or more a comma keeps it unambiguous: w^{2}_{1,12}.
    texts = [str(p) for p in parts]
    return "".join(texts) if all(len(t) == 1 for t in texts) else ",".join(texts)


@record
class Name:
    """A symbol's name and its LaTeX, as a notation makes them."""

    text: str
    latex: str


@record
class Notation:
    """How a dense network's quantities are named (text and LaTeX) and how the general equations read."""

    name: str = "generic"
    loss: str = "Loss"
    description: str = ""

    def input(self, i: int) -> Name:
        """Input ``i`` (from 1)."""
        raise NotImplementedError

    def target(self, k: int, outputs: int) -> Name:
        """The target of output ``k`` (from 1) of ``outputs``."""
        raise NotImplementedError

    def neuron(self, layer: int, j: int, number: int, is_output: bool, outputs: int) -> Name:
        """Neuron ``j`` of ``layer``; ``number`` counts hidden neurons across layers (from 1)."""
        raise NotImplementedError

    def weight(self, layer: int, i: int, j: int, number: int) -> Name:
        """The weight from neuron ``i`` of layer-1 to neuron ``j`` of ``layer``; ``number`` counts weights."""
        raise NotImplementedError

    def bias(self, layer: int, j: int, number: int) -> Name:
        """The bias of neuron ``j`` of ``layer``; ``number`` counts biases."""
        raise NotImplementedError

    def delta(self, neuron: Name, layer: int, j: int) -> Name:
        """delta = dLoss/dz of a neuron."""
        return Name(f"delta_{neuron.text}", r"\delta_{%s}" % neuron.latex)

    def loss_name(self) -> Name:
        """The loss's symbol."""
        return Name(self.loss, generic_latex(self.loss))

    def latex(self, name: str) -> str:
        """LaTeX for a name this notation did not make (a network file's, say)."""
        return generic_latex(name)

    #: The general backpropagation equations as (text, LaTeX) pairs.
    general: tuple[tuple[str, str], ...] = ()


@record
class Flat(Notation):
    """The worked example's: X1.., H1.. across hidden layers, Out (Out1..), W1.. by target, B1.., Y, Loss."""

    name: str = "flat"
    loss: str = "Loss"
    description: str = "flat (W1, H1, Out)"
    general: tuple[tuple[str, str], ...] = (
        ("z_j = sum over edges i -> j of W * o_i (+ B_j),   o_j = f(z_j)",
         r"z_{j} = \sum_{i \to j} W_{i \to j} \, o_{i} + B_{j}, \quad o_{j} = f(z_{j})"),
        ("delta_j = dLoss/dz_j",
         r"\delta_{j} = \frac{\partial \mathrm{Loss}}{\partial z_{j}}"),
        ("output neuron:  delta_Out = f'(z_Out) * dLoss/dOut",
         r"\delta_{\mathrm{Out}} = f'(z_{\mathrm{Out}}) \, \frac{\partial \mathrm{Loss}}{\partial \mathrm{Out}}"),
        ("any other neuron j:  delta_j = f'(z_j) * sum over edges j -> k of W * delta_k",
         r"\delta_{j} = f'(z_{j}) \sum_{j \to k} W_{j \to k} \, \delta_{k}"),
        ("dLoss/dW (edge i -> j) = o_i * delta_j,   dLoss/dB_j = delta_j",
         r"\frac{\partial \mathrm{Loss}}{\partial W_{i \to j}} = o_{i} \, \delta_{j}, \quad \frac{\partial \mathrm{Loss}}{\partial B_{j}} = \delta_{j}"),
        ("gradient descent:  W_new = W_old - alpha * dLoss/dW",
         r"W_{\text{new}} = W_{\text{old}} - \alpha \, \frac{\partial \mathrm{Loss}}{\partial W_{\text{old}}}"),
    )

    def input(self, i):
        return Name(f"X{i}", f"X_{{{i}}}")

    def target(self, k, outputs):
        return Name("Y", "Y") if outputs == 1 else Name(f"Y{k}", f"Y_{{{k}}}")

    def neuron(self, layer, j, number, is_output, outputs):
        if is_output:
            return Name("Out", r"\mathrm{Out}") if outputs == 1 else Name(f"Out{j}", r"\mathrm{Out}_{%d}" % j)
        return Name(f"H{number}", f"H_{{{number}}}")

    def weight(self, layer, i, j, number):
        return Name(f"W{number}", f"W_{{{number}}}")

    def bias(self, layer, j, number):
        return Name(f"B{number}", f"B_{{{number}}}")


@record
class Layered(Notation):
    """The second source's: x1.., O{l}_{j} (O_{lj}), w{l}_{i}_{j} (w^{l}_{ij}), b{l}_{j} (b^{l}_{j}), y, L."""

    name: str = "layered"
    loss: str = "L"
    description: str = "layered (w2_1_2, O2_1)"
    general: tuple[tuple[str, str], ...] = (
        ("z[l]_j = sum_i w[l]_ij * O[l-1]_i + b[l]_j,   O[l]_j = f(z[l]_j),   O[0]_i = x_i",
         r"z^{l}_{j} = \sum_{i} w^{l}_{ij} O_{(l-1)i} + b^{l}_{j}, \quad O_{lj} = f(z^{l}_{j}), \quad O_{0i} = x_{i}"),
        ("delta[l]_j = dL/dz[l]_j",
         r"\delta^{l}_{j} = \frac{\partial L}{\partial z^{l}_{j}}"),
        ("output layer L:  delta[L]_j = f'(z[L]_j) * dL/dO[L]_j",
         r"\delta^{L}_{j} = f'(z^{L}_{j}) \, \frac{\partial L}{\partial O_{Lj}}"),
        ("layer l < L:     delta[l]_j = f'(z[l]_j) * sum_k w[l+1]_jk * delta[l+1]_k",
         r"\delta^{l}_{j} = f'(z^{l}_{j}) \sum_{k} w^{l+1}_{jk} \, \delta^{l+1}_{k}"),
        ("dL/dw[l]_ij = O[l-1]_i * delta[l]_j,   dL/db[l]_j = delta[l]_j",
         r"\frac{\partial L}{\partial w^{l}_{ij}} = O_{(l-1)i} \, \delta^{l}_{j}, \quad \frac{\partial L}{\partial b^{l}_{j}} = \delta^{l}_{j}"),
        ("gradient descent:  w_new = w_old - alpha * dL/dw",
         r"w_{\text{new}} = w_{\text{old}} - \alpha \, \frac{\partial L}{\partial w_{\text{old}}}"),
    )

    def input(self, i):
        return Name(f"x{i}", f"x_{{{i}}}")

    def target(self, k, outputs):
        return Name("y", "y") if outputs == 1 else Name(f"y{k}", f"y_{{{k}}}")

    def neuron(self, layer, j, number, is_output, outputs):
        # The underscore keeps typed names unambiguous for indices of 10 and more (O1_12).
        return Name(f"O{layer}_{j}", "O_{%s}" % _indices(layer, j))

    def weight(self, layer, i, j, number):
        return Name(f"w{layer}_{i}_{j}", "w^{%d}_{%s}" % (layer, _indices(i, j)))

    def bias(self, layer, j, number):
        return Name(f"b{layer}_{j}", "b^{%d}_{%d}" % (layer, j))

    def delta(self, neuron, layer, j):
        return Name(f"delta_{neuron.text}", r"\delta^{%d}_{%d}" % (layer, j))

    def latex(self, name):
        # Its own names typed by hand (no network at hand): read back the pattern this notation makes.
        for pattern, make in self._patterns:
            match = pattern.match(name)
            if match:
                return make(self, *map(int, match.groups())).latex
        return generic_latex(name)

    _patterns = (
        (re.compile(r"^w(\d+)_(\d+)_(\d+)$"), lambda self, l, i, j: self.weight(l, i, j, 0)),
        (re.compile(r"^O(\d+)_(\d+)$"), lambda self, l, j: self.neuron(l, j, 0, False, 0)),
        (re.compile(r"^b(\d+)_(\d+)$"), lambda self, l, j: self.bias(l, j, 0)),
        (re.compile(r"^delta_O(\d+)_(\d+)$"), lambda self, l, j: self.delta(Name("", ""), l, j)),
    )


FLAT = Flat()
LAYERED = Layered()
#: Every notation by name; ``--notation`` chooses from these.
NOTATIONS: dict[str, Notation] = {n.name: n for n in (FLAT, LAYERED)}


def get_notation(name: str | Notation) -> Notation:
    """A notation by name (or the object itself); an error lists the choices."""
    if isinstance(name, Notation):
        return name
    if name not in NOTATIONS:
        raise UnknownNotationError(f"unknown notation {name!r}; choose one of: {', '.join(NOTATIONS)}")
    return NOTATIONS[name]


#: The general equations on any computational graph (expression nodes, shared weights), as (text, LaTeX).
GRAPH_GENERAL: tuple[tuple[str, str], ...] = (
    ("neuron j:  z_j = sum over edges i -> j of W * o_i (+ B_j),  o_j = f(z_j);  expression node n:  n = its expression",
     r"z_{j} = \sum_{i \to j} W_{i \to j} \, o_{i} + B_{j}, \quad o_{j} = f(z_{j}); \qquad n = \text{its expression}"),
    ("delta_j = dLoss/dz_j  (an expression node: delta_n = dLoss/dn)",
     r"\delta_{j} = \frac{\partial \mathrm{Loss}}{\partial z_{j}} \quad \Bigl(\delta_{n} = \frac{\partial \mathrm{Loss}}{\partial n}\Bigr)"),
    ("delta_j = f'(z_j) * (dLoss/dj if the loss reads j + sum over nodes k reading j of dz_k/dj * delta_k)",
     r"\delta_{j} = f'(z_{j}) \Bigl( \frac{\partial \mathrm{Loss}}{\partial j} + \sum_{k \ni j} \frac{\partial z_{k}}{\partial j} \, \delta_{k} \Bigr)"),
    ("dLoss/dtheta = sum over the uses u of theta of dz_u/dtheta * delta_u  (one use on edge i -> j: o_i * delta_j)",
     r"\frac{\partial \mathrm{Loss}}{\partial \theta} = \sum_{u \ni \theta} \frac{\partial z_{u}}{\partial \theta} \, \delta_{u}"),
    ("a shared weight has one term per use: unrolled over time, dLoss/dU = sum over t of h_(t-1) * delta_(h_t)",
     r"\frac{\partial \mathrm{Loss}}{\partial U} = \sum_{t} h_{t-1} \, \delta_{h_{t}}"),
    ("gradient descent:  theta_new = theta_old - alpha * dLoss/dtheta",
     r"\theta_{\text{new}} = \theta_{\text{old}} - \alpha \, \frac{\partial \mathrm{Loss}}{\partial \theta_{\text{old}}}"),
)
