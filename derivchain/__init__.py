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
    "Network": "model.network",
    "Neuron": "model.nodes",
    "dense": "model.network",
    "default_network": "model.network",
    "parse_layers": "model.network",
    "ACTIVATIONS": "model.activations",
    "LOSSES": "model.losses",
    "count_paths": "engines.paths",
    "iter_paths": "engines.paths",
    "sum_over_paths": "engines.paths",
    "backprop": "engines.backprop",
    "direct": "engines.direct",
    "verify": "verification.compare",
    "Verdict": "verification.compare",
    "derive": "verification.derivation",
    "Derivation": "verification.derivation",
    "latex": "renderers.latex",
    "text": "renderers.text",
    "emit": "renderers",
    "render": "renderers",
    "Format": "renderers.formats",
    "load_network": "model.network_file",
    "build_network": "model.network_file",
    "general_formula": "engines.formula",
    "read_values": "model.values",
    "parse_assignments": "model.values",
    "check_values": "model.values",
    "at_values": "verification.at_values",
    "batch_at_values": "verification.at_values",
    "BatchAtValues": "verification.at_values",
    "check_batch": "model.values",
    "with_l2": "model.network",
    "descend": "engines.descent",
    "DerivchainError": "errors",
    "Table": "verification.derivation",
    "Chain": "verification.chains",
    "PathListing": "engines.paths",
    "list_paths": "engines.paths",
    "GeneralFormula": "engines.formula",
    "StepByStep": "verification.steps",
    "step_by_step": "verification.steps",
    "derivation_steps": "engines.steps",
    "Descent": "engines.descent",
    "DerivationAtValues": "verification.at_values",
    "Notation": "model.notation",
    "NOTATIONS": "model.notation",
    "RULES": "symbolic.rules",
    "api": "api",
    "MatrixForm": "engines.matrix",
    "matrix_form": "verification.matrix",
}

#: Exported names that are modules themselves.
_MODULES = {"api"}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        from importlib import import_module

        module = import_module(f".{_EXPORTS[name]}", __name__)
        value = module if name in _MODULES else getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'derivchain' has no attribute {name!r}")


def __dir__() -> list[str]:
    # The public API (loaded or not), not the submodules that loading it leaves behind.
    return sorted(__all__ + ["__version__"])


def _register_notebook_display() -> None:
    # In Jupyter a Derivation displays as its LaTeX. Registered by type name, so no module below the
    # renderers has to know about rendering (and nothing is imported until one is displayed).
    import sys

    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    if shell is None:
        return

    def show(result):
        from .renderers.latex import latex

        return "$$%s$$" % latex(result)

    formatter = shell.display_formatter.formatters["text/latex"]
    for module, cls in (("derivchain.verification.derivation", "Derivation"), ("derivchain.verification.at_values", "DerivationAtValues"),
                        ("derivchain.verification.at_values", "BatchAtValues"),
                        ("derivchain.verification.steps", "StepByStep"), ("derivchain.engines.formula", "GeneralFormula"),
                        ("derivchain.engines.paths", "PathListing"), ("derivchain.model.network", "Network")):
        formatter.for_type_by_name(module, cls, show)


_register_notebook_display()
