"""derivchain: derive neural-network gradients symbolically, three ways, verified equal.

>>> import derivchain as dc
>>> d = dc.derive(dc.default_network(), "W7")
>>> str(d.path_sum.local), d.verdict.equal
('H1*W13*sign(Out - Y)', True)

The public API is small: build a network (one way per source), derive and verify, render any result in
any format; :mod:`derivchain.api` has one function per command of the CLI. Everything else lives in the
layer packages (``symbolic``, ``model``, ``engines``, ``verification``, ``renderers``: see docs/layout.md).
"""

from __future__ import annotations

__version__ = "0.1.0"

# Public names -> defining module, loaded on first use so `derivchain --help` does not import SymPy.
_EXPORTS = {
    # A network, one way per source: options, the worked example, a file, a mapping, a built family; L2 on any.
    "dense": "model.network",
    "default_network": "model.network",
    "load_network": "model.network_file",
    "build_network": "model.network_file",
    "rnn": "model.builders",
    "conv1d": "model.builders",
    "with_l2": "model.network",
    "from_torch": "model.torch_model",
    # Derive and verify; numbers and gradient descent.
    "derive": "verification.derivation",
    "verify": "verification.compare",
    "read_values": "model.values",
    "descend": "api:step",
    "check": "api",
    "compare_autograd": "verification.autograd",
    # Render any result in any format (text, json, markdown, latex, html).
    "render": "renderers",
    "emit": "renderers",
    # The results.
    "Network": "model.network",
    "Derivation": "verification.derivation",
    "DerivationAtValues": "verification.at_values",
    "BatchAtValues": "verification.at_values",
    "Table": "verification.derivation",
    "PathListing": "engines.paths",
    "GeneralFormula": "engines.formula",
    "StepByStep": "verification.steps",
    "Descent": "engines.descent",
    "MatrixForm": "engines.matrix",
    "BatchMatrixForm": "engines.matrix",
    "Verdict": "verification.verdict",
    "Chain": "verification.chains",
    "Check": "verification.check",
    "DerivchainError": "errors",
    # One function per command: grad, paths, table, formula, steps, step, matrix, show, draw, export, check, exercise.
    "api": "api",
}

#: Names the package used to export, each with what replaces it; still reachable, with a DeprecationWarning.
_DEPRECATED = {
    "count_paths": ("engines.paths", "dc.api.paths(net, name, 0).count"),
    "iter_paths": ("engines.paths", "dc.api.paths(net, name).paths"),
    "list_paths": ("verification.listing", "dc.api.paths(net, name)"),
    "sum_over_paths": ("engines.paths", "dc.derive(net, name).path_sum"),
    "backprop": ("engines.backprop", "dc.derive(net, name).backprop"),
    "direct": ("engines.direct", "dc.derive(net, name).direct"),
    "general_formula": ("verification.formula", "dc.api.formula(net, name)"),
    "step_by_step": ("verification.steps", "dc.api.steps(net, name)"),
    "derivation_steps": ("engines.steps", "dc.api.steps(net, name).steps"),
    "matrix_form": ("verification.matrix", "dc.api.matrix(net, values)"),
    "at_values": ("verification.at_values", "dc.api.grad(net, name, values=values)"),
    "batch_at_values": ("verification.at_values", "dc.api.grad(net, name, values=values_with_samples)"),
    "check_values": ("model.values", "dc.api.grad(net, name, values=values), which checks them"),
    "check_batch": ("model.values", "dc.api.grad(net, name, values=values), which checks them"),
    "parse_assignments": ("model.values", "dc.api.given_values(None, ['NAME=NUMBER', ...])"),
    "parse_layers": ("model.network", "dc.dense('2,3,2,1')"),
    "latex": ("renderers.latex", "dc.render(result, 'latex')"),
    "text": ("renderers.text", "dc.render(result, 'text')"),
    "Format": ("renderers.formats", "the format's name: dc.render(result, 'html')"),
    "Neuron": ("model.nodes", "net.neurons"),
    "Notation": ("model.notation", "dc.dense(..., notation='layered')"),
    "NOTATIONS": ("model.notation", "dc.dense(..., notation='layered')"),
    "ACTIVATIONS": ("model.activations", "dc.dense(..., activation='NAME') (the names are in docs/networks.md)"),
    "LOSSES": ("model.losses", "dc.dense(..., loss='NAME') (the names are in docs/networks.md)"),
    "RULES": ("symbolic.rules", "derivchain.symbolic.rules.RULES"),
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    from importlib import import_module

    if name in _EXPORTS:
        module, _, attribute = _EXPORTS[name].partition(":")
        loaded = import_module(f".{module}", __name__)
        value = loaded if name == module else getattr(loaded, attribute or name)
        globals()[name] = value
        return value
    if name in _DEPRECATED:
        import warnings

        module, instead = _DEPRECATED[name]
        warnings.warn(f"derivchain.{name} is no longer part of the public API; use {instead}", DeprecationWarning, stacklevel=2)
        return getattr(import_module(f".{module}", __name__), name)
    raise AttributeError(f"module 'derivchain' has no attribute {name!r}")


def __dir__() -> list[str]:
    # The public API (loaded or not), not the subpackages that loading it leaves behind.
    return sorted(__all__ + ["__version__"])


def _show(result, fmt: str) -> str:
    """What Jupyter shows of a result: its LaTeX between $$ (MathJax), or its HTML (a fragment with MathML)."""
    from .renderers import notebook

    return notebook(result, fmt)


def _install_display() -> None:
    # Results live below the renderers; they show themselves through this hook (installed with the package,
    # so before any result exists), and nothing is imported until one is displayed.
    from . import result

    result.install(_show)


_install_display()
