"""derivchain: derive neural-network gradients symbolically, three ways, verified equal.

>>> import derivchain as dc
>>> d = dc.derive(dc.default_network(), "W7")
>>> str(d.path_sum.local), d.verdict.equal
('H1*W13*sign(Out - Y)', True)
"""

from __future__ import annotations

__version__ = "0.1.0"

# Public names -> defining module. Loaded on first use so `derivchain --help` does not import SymPy.
_EXPORTS = {
    "Network": "network",
    "Neuron": "network",
    "dense": "network",
    "default_network": "network",
    "parse_layers": "network",
    "ACTIVATIONS": "activations",
    "LOSSES": "losses",
    "count_paths": "paths",
    "iter_paths": "paths",
    "sum_over_paths": "paths",
    "backprop": "backpropagation",
    "direct": "direct_derivative",
    "verify": "verification",
    "Verdict": "verification",
    "derive": "derivation",
    "Derivation": "derivation",
    "latex": "printing",
    "load_network": "netfile",
    "build_network": "netfile",
    "general_formula": "formula",
    "read_values": "values",
    "parse_assignments": "values",
    "check_values": "values",
    "at_values": "evaluation",
    "descend": "descent",
    "DerivchainError": "errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        from importlib import import_module

        value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'derivchain' has no attribute {name!r}")
