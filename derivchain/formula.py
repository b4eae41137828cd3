"""The general backpropagation equations at an arbitrary layer, in a network's notation.

The worked example asks for "a formula for dLoss/dW at an arbitrary layer"; this is it, written
once in general and then instantiated for one weight by :func:`derivchain.backpropagation.backprop`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .network import Network

# (text, LaTeX) pairs; the layered form follows the second source (w^{l}_{ij}, O_{lj}).
_LAYERED = (
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

_FLAT = (
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


@dataclass(frozen=True)
class GeneralFormula:
    """The backpropagation equations for any layer, as text and LaTeX lines."""

    notation: str
    lines: tuple[tuple[str, str], ...]

    @property
    def text(self) -> list[str]:
        """The equations as plain text."""
        return [t for t, _ in self.lines]

    @property
    def latex(self) -> list[str]:
        """The equations as LaTeX, one per line."""
        return [l for _, l in self.lines]


def general_formula(network: Network) -> GeneralFormula:
    """The general equations in the network's notation (an output with several outputs sums dLoss over them)."""
    return GeneralFormula(network.notation, _LAYERED if network.notation == "layered" else _FLAT)
