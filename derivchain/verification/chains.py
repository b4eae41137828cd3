"""Printed equalities as checked objects: a chain ``lhs = f1 = f2 = ...`` whose every link was verified.

Renderers print chains only from these objects, never from text assembled beside them, so a line
such as ``delta_Out = Out*(1 - Out)*(Out - Y)`` is exactly the expression the verifier compared.
A form is a SymPy expression, or an :class:`~derivchain.engines.forms.Ordered` product (factors in path
order, as the chain rule is written), which is equal to the product of its factors.
"""

from __future__ import annotations

import sympy as sp

from ..record import record
from ..result import Result
from ..symbolic.walk import replace_shared
from ..engines.forms import Ordered, OrderedSum, value_of
from .compare import Verdict, verify


@record(repr=False)
class Chain(Result):
    """``lhs = forms[0] = forms[1] = ...``: ``links[i]`` verifies forms[i] = forms[i+1]; ``reasons[i]``
    names the rewrite of that link when it is one a reader should know (a textbook simplification)."""

    kind = "chain"  # the renderers' method for it (see derivchain.result)

    lhs: sp.Expr
    forms: tuple
    links: tuple[Verdict, ...]
    reasons: tuple[str, ...] = ()

    @property
    def verified(self) -> bool:
        """True when every link was shown equal."""
        return all(v.equal for v in self.links)

    def __repr__(self) -> str:
        return f"Chain({self.lhs} = {' = '.join(map(repr, self.forms))})"


def path_chain(path) -> Chain:
    """A path's chain of partials = its factors in path order = its term."""
    return chain(path, (Ordered(tuple(f.value for f in path.factors)), path.term))


def _same_shown(a, b) -> bool:
    # A compact product (an equation's right-hand side) that SymPy builds into the next form itself.
    if isinstance(b, (Ordered, OrderedSum)) or isinstance(a, OrderedSum) or isinstance(a, Ordered) and not a.compact:
        return False
    return value_of(a) == value_of(b)


def _same(a: sp.Expr, b: sp.Expr, memo: dict | None) -> Verdict:
    key = (a, b)
    if memo is not None and key in memo:
        return memo[key]
    verdict = verify({"left": a, "right": b}, rewrites=True)  # a chain's next form is often a factored rewrite
    if memo is not None:
        memo[key] = verdict
    return verdict


def chain(lhs: sp.Expr, forms, reasons=(), rule: dict | None = None, memo: dict | None = None,
          rule_memo: dict | None = None) -> Chain:
    """Build a chain and verify each link; ``rule`` replaces symbols (deltas by their values) before
    comparing, and ``memo`` keeps verdicts of links shared by many chains (a network's deltas);
    ``rule_memo`` keeps the replaced nodes across chains with the same rule (see :func:`replace_shared`).

    Consecutive forms that are the same expression are printed once (an ordered product in a
    path's order is kept: showing that order is its point).
    """
    kept = []
    kept_reasons = []
    for i, f in enumerate(forms):
        reason = reasons[i] if i < len(reasons) else ""
        if kept and (kept[-1] == f or not reason and _same_shown(kept[-1], f)):
            continue
        kept.append(f)
        kept_reasons.append(reasons[i] if i < len(reasons) else "")
    links = []
    for a, b in zip(kept, kept[1:]):
        va, vb = value_of(a), value_of(b)
        if rule:
            # Over shared subexpressions: xreplace walks the tree written out, exponential in depth
            # (an unrolled RNN's deltas: 57 s of a JSON row).
            va, vb = replace_shared(va, rule, rule_memo), replace_shared(vb, rule, rule_memo)
        links.append(_same(va, vb, memo))
    return Chain(lhs, tuple(kept), tuple(links), tuple(kept_reasons))
