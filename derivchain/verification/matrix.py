"""The matrix form of backpropagation with every gradient entry verified against the direct derivative."""

from __future__ import annotations

from dataclasses import replace

from .. import memo
from ..engines.backprop import delta_symbol
from ..engines.direct import direct
from ..engines.matrix import EntryCheck, MatrixForm
from ..engines.matrix import matrix_form as unchecked_form
from ..model.network import Network
from .compare import verify
from .derivation import conditional_deltas


def matrix_form(net: Network, values: dict | None = None) -> MatrixForm:
    """The matrix form of ``net`` (symbolic, or at ``values``), every gradient entry verified."""
    form = unchecked_form(net, values)
    return form if form.check is not None else checked(form)


def checked(form: MatrixForm) -> MatrixForm:
    """``form`` with its entry check: each entry compared with the direct derivative of its parameter by verify."""
    counts: dict[str, int] = {}
    failures = []
    with memo.working_for(form.network):
        for p, mine in form.claims:
            verdict = verify({"direct": direct(form.network, p).value, "matrix": mine})
            if verdict.equal:
                counts[verdict.method] = counts.get(verdict.method, 0) + 1
            else:
                failures.append(f"{p.name}: {verdict.word}")
        # The loss's textbook delta under a condition on the targets (softmax + cross-entropy, one-hot: softmax - Y),
        # the scalar derivation's verified form: printed under delta^L, a failure like any entry's.
        known = conditional_deltas(form.network)
        conditionals = tuple(known[delta_symbol(x.symbol)] for x in form.network.outputs if delta_symbol(x.symbol) in known)
        failures += [f"{c.lhs} where {c.condition}: {c.verdict.word}" for c in conditionals if not c.verdict.equal]
    total = len(form.claims)
    check = EntryCheck(total - len(failures), total, tuple(sorted(counts.items())),
                       "each compared with the direct derivative of its weight by verify", tuple(failures))
    return replace(form, check=check, conditionals=conditionals)
