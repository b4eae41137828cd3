"""dLoss/dparameter derived three ways and verified: the object the CLI, exports and notebooks show."""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .backprop import Backprop, backprop
from .direct import Direct, direct
from .network import Network
from .paths import DEFAULT_MAX_PATHS, PathSum, count_paths, sum_over_paths
from .verify import Verdict, verify


#: Largest printed tree (in nodes, shared subtrees counted each time) shown fully substituted.
SHOW_FULL_NODES = 160


def tree_size(expr: sp.Basic, limit: int) -> int:
    """Nodes of ``expr`` as printed (shared subtrees counted each time), counting stops past ``limit``."""
    count, stack = 0, [expr]
    while stack and count <= limit:
        e = stack.pop()
        count += 1
        stack.extend(e.args)
    return count


@dataclass(frozen=True)
class Case:
    """The derivative on one side of a kink: for ``condition``, sign(...) is ``sign`` and dLoss/dw is ``value``."""

    argument: sp.Expr
    sign: int
    value: sp.Expr

    @property
    def condition(self) -> str:
        """``Out - Y > 0``."""
        return f"{self.argument} {'>' if self.sign > 0 else '<'} 0"


@dataclass(frozen=True)
class Derivation:
    """dLoss/dparameter: the paths, their sum, the backprop form, the direct result and the verdict."""

    network: Network
    parameter: sp.Symbol
    path_count: int
    path_sum: PathSum | None  # None when there were more paths than the limit and skip was asked
    backprop: Backprop
    direct: Direct
    verdict: Verdict

    @property
    def paths(self):
        """The paths from the parameter to the loss, in order (empty when not enumerated)."""
        return self.path_sum.paths if self.path_sum is not None else ()

    @property
    def direct_shown(self) -> sp.Expr:
        """The direct result as printed: in full when short, else with whole neurons as their symbols."""
        if tree_size(self.direct.value, SHOW_FULL_NODES) <= SHOW_FULL_NODES:
            return self.direct.value
        return self.network.compact(self.direct.value)

    def cases(self) -> tuple[Case, ...]:
        """The two sides of the single sign(...) kink in the result (the worked example's case split)."""
        signs = sorted(self.backprop.local.atoms(sp.sign), key=sp.default_sort_key)
        if len(signs) != 1:
            return ()
        s = signs[0]
        return tuple(Case(s.args[0], v, self.backprop.local.xreplace({s: v})) for v in (1, -1))

    def notes(self) -> tuple[str, ...]:
        """What happens at the non-differentiable points this derivation touches."""
        notes = [self.network.loss.note] if self.network.loss.note else []
        if self.path_sum is None:
            notes.append(
                f"{self.path_count} paths: more than the limit, so the sum over paths was not enumerated "
                "(raise --max-paths to see it); the verdict compares backprop with direct differentiation."
            )
        seen = set()
        for n in self.network.neurons:
            a = n.activation
            if a.note and a.name not in seen:
                seen.add(a.name)
                notes.append(a.note)
        return tuple(notes)

    def _latex(self, printer) -> str:
        return r"\begin{aligned}%s\end{aligned}" % r" \\ ".join(latex_lines(self, printer))

    def _repr_latex_(self) -> str:
        from .printing import latex

        return "$$%s$$" % latex(self)


def latex_lines(d: Derivation, printer) -> list[str]:
    """The derivation as aligned LaTeX lines: paths, sum, backprop, direct, verdict."""
    p = printer._print
    lhs = printer.partial(d.network.loss_symbol, d.parameter)
    lines = []
    if d.path_sum is None:
        lines.append(r"&\text{%d paths (not enumerated)}" % d.path_count)
    for i, path in enumerate(d.paths, start=1):
        nodes = r" \to ".join(p(s) for s in path.nodes)
        lines.append(r"&\text{path %d: } %s" % (i, nodes))
        lines.append(r"&\quad %s = %s" % (printer.chain(path.factors), printer.product([f.value for f in path.factors])))
    if d.path_sum is not None:
        terms = " + ".join(printer.product([f.value for f in path.factors]) for path in d.paths)
        lines.append(r"%s &= %s" % (lhs, terms))
        lines.append(r"&= %s" % p(d.path_sum.local))
    source = p(d.backprop.source) if d.backprop.source is not None else "1"
    lines.append(r"\text{backprop: } %s &= %s \cdot %s" % (lhs, source, p(sp.Symbol(f"delta_{d.backprop.neuron.name}"))))
    for eq in d.backprop.deltas:
        lines.append(r"%s &= %s" % (p(eq.delta), delta_rhs_latex(eq, printer)) + ("" if eq.rhs == eq.value else " = %s" % p(eq.value)))
    lines.append(r"%s &= %s" % (lhs, p(d.backprop.local)))
    for case in d.cases():
        cond = r"%s %s 0" % (p(case.argument), ">" if case.sign > 0 else "<")
        lines.append(r"\text{for } %s:\ %s &= %s" % (cond, lhs, p(case.value)))
    lines.append(r"\text{direct: } %s &= %s" % (lhs, p(d.direct_shown)))
    lines.append(r"\text{verdict: } & %s" % p(d.verdict))
    return lines


def delta_rhs_latex(eq, printer) -> str:
    """delta_j's right-hand side with its terms in successor order, as the recursion reads."""
    inner = [printer._print(eq.loss_derivative)] if eq.loss_derivative is not None else []
    inner += [r"%s %s" % (printer.factor(w), printer._print(d)) for w, d in eq.terms]
    body = " + ".join(inner)
    if eq.derivative == 1:
        return body
    return r"%s \left(%s\right)" % (printer.factor(eq.derivative), body) if len(inner) > 1 else r"%s \cdot %s" % (printer.factor(eq.derivative), body)


def derive(
    network: Network, parameter: str | sp.Symbol, max_paths: int = DEFAULT_MAX_PATHS, skip_paths_over_limit: bool = False
) -> Derivation:
    """Derive dLoss/dparameter by direct differentiation, sum over paths and backprop, and verify.

    More paths than ``max_paths`` raise TooManyPathsError, or with ``skip_paths_over_limit`` leave
    the path sum out (the verdict then compares backprop with direct differentiation).
    """
    symbol = network.parameter(parameter if isinstance(parameter, str) else parameter.name)
    count = count_paths(network, symbol)
    paths = None if skip_paths_over_limit and count > max_paths else sum_over_paths(network, symbol, max_paths)
    bp = backprop(network, symbol)
    dr = direct(network, symbol)
    forms = {"direct": dr.value, "backprop": bp.substituted}
    if paths is not None:
        forms = {"direct": dr.value, "path sum": paths.substituted, "backprop": bp.substituted}
    return Derivation(network, symbol, count, paths, bp, dr, verify(forms))
