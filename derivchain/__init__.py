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
    "latex": "render.latex",
    "text": "render.text",
    "emit": "render",
    "render": "render",
    "Format": "formats",
    "load_network": "netfile",
    "build_network": "netfile",
    "general_formula": "formula",
    "read_values": "values",
    "parse_assignments": "values",
    "check_values": "values",
    "at_values": "evaluation",
    "batch_at_values": "evaluation",
    "BatchAtValues": "evaluation",
    "check_batch": "values",
    "with_l2": "network",
    "descend": "descent",
    "DerivchainError": "errors",
    "Table": "derivation",
    "Chain": "chains",
    "PathListing": "paths",
    "list_paths": "paths",
    "GeneralFormula": "formula",
    "StepByStep": "steps",
    "step_by_step": "steps",
    "derivation_steps": "steps",
    "Descent": "descent",
    "DerivationAtValues": "evaluation",
    "Notation": "notation",
    "NOTATIONS": "notation",
    "RULES": "rules",
    "api": "api",
    "MatrixForm": "matrix",
    "matrix_form": "matrix",
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
        from .render.latex import latex

        return "$$%s$$" % latex(result)

    formatter = shell.display_formatter.formatters["text/latex"]
    for module, cls in (("derivchain.derivation", "Derivation"), ("derivchain.evaluation", "DerivationAtValues"),
                        ("derivchain.evaluation", "BatchAtValues"),
                        ("derivchain.steps", "StepByStep"), ("derivchain.formula", "GeneralFormula"),
                        ("derivchain.paths", "PathListing"), ("derivchain.network", "Network")):
        formatter.for_type_by_name(module, cls, show)


_register_notebook_display()
