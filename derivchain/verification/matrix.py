"""The matrix form of backpropagation with every gradient entry verified against the direct derivative."""

from __future__ import annotations

from dataclasses import replace

from .. import memo
from ..engines.direct import direct
from ..engines.matrix import EntryCheck, MatrixForm
from ..engines.matrix import matrix_form as unchecked_form
from ..model.network import Network
from .compare import verify


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
    total = len(form.claims)
    check = EntryCheck(total - len(failures), total, tuple(sorted(counts.items())),
                       "each compared with the direct derivative of its weight by verify", tuple(failures))
    return replace(form, check=check)
