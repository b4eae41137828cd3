"""What every format prints of a Hessian entry (``hessian P Q``), the parts they share: its title and counts.
Each format's own printing is in its module (``text.hessian_lines``, ``latex.hessian_lines``, ...), beside its helpers."""

from __future__ import annotations


def noun(n: int, word: str) -> str:
    """``1 pair``, ``2 pairs``."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def title(h) -> str:
    """``d2Loss/(dW1 dW5)``, or ``d2Loss/dW1^2`` for a diagonal entry."""
    loss, p, q = h.network.loss_symbol.name, h.first.name, h.second.name
    return f"d2{loss}/d{p}^2" if p == q else f"d2{loss}/(d{p} d{q})"


def numbers(at) -> tuple:
    """(name, Number) for each of the three forms at values, in order."""
    return (("direct", at.direct), ("path pairs", at.path_pairs), ("backprop", at.backprop))
