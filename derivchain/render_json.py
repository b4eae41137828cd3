"""Machine-readable results: stable keys, expressions as SymPy ``str()`` text."""

from __future__ import annotations

import json

import sympy as sp

from .derivation import Derivation
from .network import Network
from .paths import Path
from .printing import DerivPrinter


def path_json(path: Path, printer: DerivPrinter | None = None) -> dict:
    """One path: nodes, factors (each partial and its value, from the loss back) and term."""
    out = {
        "nodes": [s.name for s in path.nodes],
        "factors": [{"partial": str(f), "value": str(f.value)} for f in path.factors],
        "term": str(path.term),
    }
    if printer is not None:
        out["latex"] = printer._print(path) + " = " + printer.product([f.value for f in path.factors])
    return out


def derivation_json(d: Derivation) -> dict:
    """The ``grad`` contract: weight, loss, the three forms, paths, verdict and LaTeX."""
    printer = DerivPrinter()
    p = printer._print
    return {
        "weight": d.parameter.name,
        "network": d.network.summary(),
        "loss": str(d.network.loss_local),
        "path_count": d.path_count,
        "direct": str(d.direct.value),
        "path_sum": str(d.path_sum.substituted),
        "path_sum_local": str(d.path_sum.local),
        "paths_listed": len(d.paths),
        "backprop": str(d.backprop.local),
        "backprop_substituted": str(d.backprop.substituted),
        "deltas": [{"delta": eq.delta.name, "rhs": str(eq.rhs), "value": str(eq.value)} for eq in d.backprop.deltas],
        "paths": [path_json(path, printer) for path in d.paths],
        "cases": [{"condition": c.condition, "value": str(c.value)} for c in d.cases()],
        "equal": d.verdict.equal,
        "method": d.verdict.method,
        "proof": d.verdict.proof,
        "decided": d.verdict.decided,
        "verdict": d.verdict.detail,
        "notes": list(d.notes()),
        "latex": {
            "direct": p(d.direct.value),
            "path_sum": p(d.path_sum.substituted),
            "path_sum_local": p(d.path_sum.local),
            "backprop": p(d.backprop.local),
            "paths": [p(path) for path in d.paths],
            "derivation": p(d),  # Derivation._latex: the aligned block
        },
    }


def paths_json(d_parameter: sp.Symbol, count: int, paths: tuple[Path, ...]) -> dict:
    """The ``paths`` command: the weight, how many paths, and each path."""
    printer = DerivPrinter()
    return {"weight": d_parameter.name, "count": count, "paths": [path_json(p, printer) for p in paths]}


def network_json(net: Network, expanded: sp.Expr | None) -> dict:
    """The ``show`` contract: names by role, each neuron's equation, and the loss."""
    return {
        "summary": net.summary(),
        "layers": list(net.layers),
        "inputs": [s.name for s in net.inputs],
        "hidden": [n.name for n in net.hidden],
        "outputs": [n.name for n in net.outputs],
        "weights": [s.name for s in net.weights],
        "biases": [s.name for s in net.biases],
        "targets": [s.name for s in net.targets],
        "equations": {n.name: str(n.equation) for n in net.neurons},
        "loss": str(net.loss_local),
        "outputs_nested": {n.name: str(net.substitution[n.symbol]) for n in net.outputs},
        "outputs_expanded": None if expanded is None else str(expanded),
    }


def dumps(obj) -> str:
    """JSON text, keys in insertion order, two-space indent (deterministic)."""
    return json.dumps(obj, indent=2, ensure_ascii=False)


def at_values_json(d: Derivation, at) -> dict:
    """The numbers of a derivation (floats; ``exact`` says whether they were computed exactly)."""
    return {
        "exact": at.exact,
        "neurons": {name: {"z": float(z), "output": float(o)} for name, z, o in at.neurons},
        "loss": float(at.loss),
        "paths": [{"factors": [float(f) for f in fs], "term": float(t)} for fs, t in at.paths],
        "path_sum": float(at.path_sum),
        "backprop": float(at.backprop),
        "direct": float(at.direct),
    }
