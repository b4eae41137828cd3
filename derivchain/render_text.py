"""Terminal output with rich: the network line, a tree of paths with their chains, the forms, the verdict."""

from __future__ import annotations

from rich.console import Group
from rich.text import Text
from rich.tree import Tree

from .derivation import Derivation
from .network import Network
from .paths import Path


def _chain(path: Path) -> Text:
    partials = " * ".join(str(f) for f in path.factors)
    values = " * ".join(_factor(f.value) for f in path.factors)
    return Text.assemble((partials, "cyan"), " = ", values, " = ", (str(path.term), "bold"))


def _factor(value) -> str:
    text = str(value)
    return f"({text})" if value.is_Add else text


def paths_tree(title: str, paths, count: int) -> Tree:
    """A tree: one branch per path (nodes), its chain of partials beneath."""
    tree = Tree(Text(title, "bold"))
    for path in paths:
        tree.add(Text(path.arrow(), "green")).add(_chain(path))
    if len(paths) < count:
        tree.add(Text(f"... {count - len(paths)} more paths not shown (raise --max-paths to see them)", "yellow"))
    return tree


def delta_rhs_text(eq) -> str:
    """delta_j's right-hand side, terms in successor order."""
    # Successor order, as the recursion is written (SymPy's str would sort the terms).
    inner = [str(eq.loss_derivative)] if eq.loss_derivative is not None else []
    inner += [f"{w}*{d}" for w, d in eq.terms]
    body = " + ".join(inner)
    if eq.derivative == 1:
        return body
    return f"{_factor(eq.derivative)}*({body})" if len(inner) > 1 else f"{_factor(eq.derivative)}*{body}"


def derivation_text(d: Derivation) -> Group:
    """Everything ``derivchain grad`` prints, in order."""
    w = d.parameter.name
    lhs = f"d{d.network.loss_symbol.name}/d{w}"
    parts: list = [Text.assemble(("Network: ", "bold"), d.network.summary())]
    noun = "path" if d.path_count == 1 else "paths"
    parts.append(paths_tree(f"{lhs}: {d.path_count} {noun} from {w} to the loss", d.paths, d.path_count))
    how = "" if d.path_sum.enumerated else f" (all {d.path_count} paths, summed by suffix)"
    parts.append(Text.assemble(("Sum over paths: ", "bold"), f"{lhs} = {d.path_sum.local}{how}"))
    source = d.backprop.source.name if d.backprop.source is not None else "1"
    bp = [Text.assemble(("Backpropagation: ", "bold"), f"{lhs} = {source} * delta_{d.backprop.neuron.name}")]
    for eq in d.backprop.deltas:
        tail = "" if eq.rhs == eq.value else f" = {eq.value}"
        bp.append(Text(f"  {eq.delta} = {delta_rhs_text(eq)}{tail}"))
    bp.append(Text(f"  {lhs} = {d.backprop.local}"))
    parts.extend(bp)
    for case in d.cases():
        parts.append(Text.assemble(("Case ", "bold"), f"{case.condition}: {lhs} = {case.value}"))
    shown = d.direct_shown
    if shown is None:
        parts.append(Text.assemble(("Direct: ", "bold"), "not printed (too large; compared in full by the verdict)"))
    else:
        label = "Direct: " if d.direct_in_full else "Direct (whole neurons written as their symbols): "
        parts.append(Text.assemble((label, "bold"), f"{lhs} = {shown}"))
    style = "bold green" if d.verdict.equal else "bold red"
    parts.append(Text.assemble(("Verdict: ", "bold"), (d.verdict.word, style), f" [{d.verdict.method}] {d.verdict.detail}"))
    for note in d.notes():
        parts.append(Text(f"Note: {note}", "dim"))
    return Group(*parts)


def network_text(net: Network, expanded: dict) -> Group:
    """Everything ``derivchain show`` prints: summary, equations, outputs nested and expanded, loss."""
    parts: list = [Text.assemble(("Network: ", "bold"), net.summary())]
    parts.append(Text(f"Inputs: {', '.join(s.name for s in net.inputs)}; targets: {', '.join(s.name for s in net.targets)}"))
    parts.append(Text(f"Parameters: {net.describe_parameters()}"))
    parts.append(Text("Equations:", "bold"))
    for n in net.neurons:
        parts.append(Text(f"  {n.name} = {n.equation}"))
    parts.append(Text.assemble((net.loss_symbol.name, "bold"), f" = {net.loss_local}"))
    for n in net.outputs:
        parts.append(Text.assemble((f"{n.name} nested: ", "bold"), str(net.substitution[n.symbol])))
        value = expanded[n.name]
        shown = str(value) if value is not None else "not expanded: more than 2000 terms"
        parts.append(Text.assemble((f"{n.name} expanded: ", "bold"), shown))
    return Group(*parts)


def table_header() -> Text:
    """Column titles of ``derivchain table``."""
    return Text(f"{'parameter':<10} {'paths':>7}  {'verdict':<10} {'method':<20} gradient", "bold")


def table_row(d: Derivation) -> Text:
    """One row of ``derivchain table``: parameter, path count, verdict, method, gradient in neuron symbols."""
    style = "green" if d.verdict.equal else "red"
    return Text.assemble(
        f"{d.parameter.name:<10} {d.path_count:>7}  ", (f"{d.verdict.word:<10}", style), f" {d.verdict.method:<20} ", str(d.backprop.local)
    )


def at_values_text(d: Derivation, at) -> Group:
    """The derivation's numbers: neurons, loss, each path's factors and term, the three results."""
    how = "exact" if at.exact else "50-digit arithmetic, 15 significant digits shown"
    parts: list = [Text(f"At the given values ({how}):", "bold")]
    for name, z, o in at.neurons:
        parts.append(Text(f"  {name}: z = {z}, output = {o}"))
    parts.append(Text(f"  {d.network.loss_symbol.name} = {at.loss}"))
    for path, (factors, term) in zip(d.paths, at.paths):
        parts.append(Text(f"  {path.arrow()}: " + " * ".join(str(f) for f in factors) + f" = {term}"))
    lhs = f"d{d.network.loss_symbol.name}/d{d.parameter.name}"
    parts.append(Text(f"  {lhs}: sum over paths = {at.path_sum}, backprop = {at.backprop}, direct = {at.direct}"))
    return Group(*parts)
