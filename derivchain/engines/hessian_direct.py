"""Direct second derivative: the direct gradient dLoss/dP differentiated again, by Q (no network structure)."""

from __future__ import annotations

import sympy as sp

from ..symbolic.walk import differentiate, with_conventions
from .direct import direct
from .forms import Form
from ..model.network import Network


def direct_second(network: Network, p: sp.Symbol, q: sp.Symbol) -> Form:
    """d2Loss/(dp dq): the fully substituted dLoss/dp (as the gradient's verdict compares it) differentiated by q."""
    first = direct(network, p)
    value = with_conventions(differentiate(first.compared, q))
    return Form("direct", p, value, value, f"the direct dLoss/d{p.name} differentiated by {q.name}")
