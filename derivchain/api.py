"""One function per task: what the command line calls, and what a Python user calls the same way.

Each takes a network (see :func:`network`) and plain values, does the work, and returns a result
object that :func:`derivchain.renderers.emit` renders in any format. Bad input raises a
:class:`~derivchain.errors.DerivchainError` subclass with a one-line message.
"""

from __future__ import annotations

import re

from fractions import Fraction
from pathlib import Path

from .errors import DerivchainError, UnknownParameterError
from .model.network import Network, dense
from .engines.paths import DEFAULT_MAX_PATHS

#: The most paths listed per parameter: listing more would print for minutes.
MAX_LISTED = 100_000

#: The tasks: one per command of the CLI, each returning the result that command renders (or the files it wrote).
TASKS = ("show", "grad", "paths", "table", "formula", "steps", "step", "matrix", "draw", "export", "check", "exercise",
         "hessian", "autograd")
#: What the CLI may call besides one task: reading its options into arguments, and reading a result's verdict.
HELPERS = ("network", "given_values", "with_defaults", "verified", "steps_text", "check_many")

__all__ = [*TASKS, *HELPERS, "verified_gradient", "check_max_paths", "OptionsError", "MAX_LISTED"]


class OptionsError(DerivchainError):
    """Options that contradict each other or are out of range."""


def check_max_paths(max_paths: int) -> int:
    """``max_paths`` if it is from 0 to ``MAX_LISTED``; else a one-line error."""
    if not 0 <= max_paths <= MAX_LISTED:
        raise OptionsError(f"--max-paths {max_paths}: give a number from 0 to {MAX_LISTED} (it limits listing only; "
                           "the count and the sum always cover every path)")
    return max_paths


def network(path: str | None = None, layers: str | None = None, activation: str | None = None,
            output_activation: str | None = None, loss: str | None = None, bias: bool = False,
            notation: str | None = None, l2: str | Fraction | None = None, torch: str | None = None) -> Network:
    """The network from a file, or a dense one from the options (never both); the default is the worked example.
    ``l2``: add lambda/2 * (sum of squared weights, biases excluded) to the loss (lambda read exactly: 0.01 is 1/100).
    ``torch``: ``FILE.py:NAME``, the PyTorch model NAME() returns traced (this runs that file)."""
    if torch is not None:
        _torch_alone(path, layers, activation, output_activation, loss, bias, notation)
        from .model.torch_model import torch_network

        return _with_l2(torch_network(torch)[0], l2)
    return _with_l2(_network(path, layers, activation, output_activation, loss, bias, notation), l2)


def _torch_alone(path, layers, activation, output_activation, loss, bias, notation) -> None:
    given = [name for name, value in (("--network", path), ("--layers", layers), ("--activation", activation),
             ("--output-activation", output_activation), ("--loss", loss), ("--notation", notation)) if value is not None]
    if bias:
        given.append("--bias")
    if given:
        raise OptionsError(f"--torch gives the whole network; drop {', '.join(given)}")


def autograd(torch: str | None, tolerance: float = 1e-12, fast: bool = False):
    """The model of ``FILE.py:NAME`` (``torch``) traced, and every parameter entry's verified gradient at its values
    beside the model's own ``backward()`` (an AutogradComparison: all agree, or the first that does not). ``fast``:
    each entry by backpropagation alone, derived three ways only where autograd disagrees."""
    if not torch:
        raise OptionsError("autograd needs --torch FILE.py:NAME, where NAME() returns (model, inputs, loss, target)")
    if not 0 < tolerance < 1:
        raise OptionsError(f"--tolerance {tolerance}: give a relative tolerance between 0 and 1, e.g. 1e-12")
    from .model.torch_model import torch_network
    from .verification.autograd import compare_autograd

    net, (model, inputs, loss, target) = torch_network(torch)
    return compare_autograd(net, model, inputs, loss, target, tolerance, not fast)


def _with_l2(net: Network, l2: str | Fraction | None) -> Network:
    if l2 is None:
        return net
    from .model.network import with_l2
    from .model.values import read_number

    lam = l2 if isinstance(l2, Fraction) else read_number(str(l2), "--l2")
    if lam < 0:
        raise OptionsError(f"--l2 {l2}: the L2 strength lambda must be zero or positive")
    return with_l2(net, lam)


#: The builders' names (model.builders.BUILDERS), here so that naming a file does not import them.
_BUILT = ("rnn", "conv1d", "attention", "layernorm", "batchnorm")


def _network(path, layers, activation, output_activation, loss, bias, notation) -> Network:
    if path is not None:
        given = [name for name, value in (("--layers", layers), ("--activation", activation),
                 ("--output-activation", output_activation), ("--loss", loss), ("--notation", notation)) if value is not None]
        if bias:
            given.append("--bias")
        if given:
            raise OptionsError(f"--network describes the whole network; drop {', '.join(given)} (set them in the file)")
        if not path.strip():
            raise OptionsError("--network is empty; give a network file (.toml or .json) or a builder: rnn:steps=T,hidden=H, "
                               "conv1d:length=N,kernel=K, attention:tokens=T,dim=D, layernorm:n=N, batchnorm:batch=B,features=F")
        head, colon, _ = path.partition(":")
        if colon and not path.endswith((".toml", ".json")) and not Path(path).exists() and \
                (head in _BUILT or re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", head)):
            from .model.builders import build  # rnn:steps=10,hidden=4, conv1d:length=6,kernel=3, attention:tokens=3,dim=4

            return build(path)
        from .model.network_file import load_network

        return load_network(path)
    # None is "not given"; an empty option ("--layers ''") is refused by what reads it, not taken as the default.
    default = lambda value, fallback: fallback if value is None else value  # noqa: E731
    return dense(default(layers, "2,3,2,1"), activation=default(activation, "identity"),
                 output_activation=default(output_activation, "identity"), loss=default(loss, "abs"), bias=bias,
                 notation=default(notation, "flat"))


def with_defaults(net: Network, values: dict | None) -> dict | None:
    """``values`` over the network's own default values (a traced PyTorch model's): given ones override them."""
    if net.values is None:
        return values
    return {**net.values, **(values or {})}


def given_values(path: str | None = None, assignments: list[str] | None = None) -> dict[str, Fraction] | None:
    """Numbers from a values file, overridden by each ``NAME=NUMBER``; None when neither is given."""
    if path is not None and not path.strip():
        raise OptionsError("--values is empty; give a values file (.json or .toml), or numbers with --set NAME=NUMBER")
    if not path and not assignments:
        return None
    from .model.values import parse_assignments, read_values

    given = read_values(path) if path else {}
    assigned = parse_assignments(assignments or [])
    per_sample = sorted(set(assigned) & {k for sample in given.get("samples", ()) for k in sample})
    if per_sample:
        raise OptionsError(f"--set {', '.join(per_sample)}: with samples in the values file, each sample gives the inputs "
                           "and targets; --set gives weights and biases only (edit the samples instead)")
    given.update(assigned)
    return given


def show(net: Network) -> Network:
    """The network itself: its equations, outputs nested and expanded, and its loss, as the renderers print it."""
    return net


def grad(net: Network, parameter: str | list[str], max_paths: int = DEFAULT_MAX_PATHS, values: dict | None = None,
         reduction: str = "mean"):
    """dLoss/dparameter three ways and verified (a Derivation); with ``values``, also its numbers; with a
    batch (``values["samples"]``), each sample's numbers and their ``reduction`` (mean or sum). A list of
    parameters: a tuple of each one's result, in order."""
    if not isinstance(parameter, str):
        return tuple(grad(net, p, max_paths, values, reduction) for p in parameter)
    from .verification.derivation import derive

    check_max_paths(max_paths)
    values = with_defaults(net, values)
    if net.matrix is not None and net.matrix.shape(parameter) is not None and parameter in dict(net.matrix.leaves):
        return _matrix_gradient(net, parameter, values)
    if net.matrix is None and net.values is not None and net.parameter_entries(parameter):
        return _linear_gradient(net, parameter, values)
    if values is None and reduction == "mean":  # no numbers to read or check: no values module (the cold start)
        return derive(net, parameter, max_paths=max_paths)
    from .model.values import SAMPLES, check_batch, check_reduction

    check_reduction(reduction)
    numbers = None
    if values is not None:
        numbers = check_batch(net, values)
    d = derive(net, parameter, max_paths=max_paths)
    if numbers is None:
        return d
    from .verification.at_values import at_values, batch_at_values

    return batch_at_values(d, numbers, reduction) if SAMPLES in values else at_values(d, numbers[0])


def _matrix_gradient(net: Network, parameter: str, values: dict | None):
    # A whole matrix leaf of a matrix graph (grad WQ): the chain of matrix equations, each checked entry by entry.
    from .model.values import SAMPLES
    from .verification.matrix_chain import matrix_gradient

    if values is not None and SAMPLES in values:
        raise OptionsError(f"grad {parameter}: a matrix graph holds its batch in its matrices; give values without samples")
    return matrix_gradient(net, parameter, values)


def _linear_gradient(net: Network, parameter: str, values: dict | None):
    # A traced model's whole nn.Linear weight or bias (grad fc1.weight): its matrix form, checked entry by entry.
    from .model.values import SAMPLES
    from .verification.torch_matrix import linear_gradient, linear_layer

    layer = linear_layer(net, parameter)
    if isinstance(layer, str):
        entries = net.parameter_entries(parameter)
        raise UnknownParameterError(f"{layer}; name one entry, {entries[0].name} to {entries[-1].name}")
    if values is not None and SAMPLES in values:
        raise OptionsError(f"grad {parameter}: a traced model holds its batch in its tensors; give values without samples")
    return linear_gradient(net, layer, values)


def verified(result) -> bool:
    """True when a gradient's three forms were shown equal and every equality printed for it was verified
    (a derivation, or its numbers at values; a matrix gradient when every equation of its chain was)."""
    from .renderers.shown import checked

    if isinstance(result, tuple):  # grad of several parameters
        return all(verified(r) for r in result)
    if getattr(result, "kind", "") == "matrix_gradient":
        return result.verified

    d = getattr(result, "derivation", result)
    return d.verdict.equal and checked(d)


def matrix(net: Network, values: dict | None = None, reduction: str = "mean"):
    """The matrix form of backpropagation on a dense network, per layer W, b, z, a, delta, dL/dW = delta a^T and
    dL/db = delta with their shapes (at ``values`` when given, exactly where they are rational), every gradient
    entry verified equal to the scalar derivation of its weight. With a batch (``values["samples"]``): Z, A and
    Delta have a column per sample and dL/dW = (1/m) Delta A^T (``reduction="sum"``: without the 1/m)."""
    from .engines.matrix import batch_matrix_form
    from .verification.matrix import matrix_form
    from .model.values import SAMPLES, check_reduction

    check_reduction(reduction)
    values = with_defaults(net, values)
    if values is not None and SAMPLES in values:
        parameters = {k: v for k, v in values.items() if k != SAMPLES}
        return batch_matrix_form(net, parameters, values[SAMPLES], reduction)
    return matrix_form(net, values)


def paths(net: Network, parameter: str, max_paths: int = DEFAULT_MAX_PATHS):
    """The paths of ``parameter``: counted, and the first ``max_paths`` listed."""
    from .verification.listing import list_paths

    return list_paths(net, parameter, check_max_paths(max_paths))


def formula(net: Network, parameter: str | None = None):
    """The general backpropagation equations in the network's notation, instantiated for ``parameter``."""
    from .verification.formula import general_formula

    return general_formula(net, parameter)


def steps(net: Network, parameter: str):
    """The step-by-step derivation of dLoss/dparameter."""
    from .verification.steps import step_by_step

    return step_by_step(net, parameter)


def table(net: Network, max_paths: int = 0, expand: bool = False):
    """Every parameter's derivation, derived as the rows are read (``max_paths`` listed per row); printed in
    delta form after the delta equations, or with ``expand`` each gradient in neuron symbols."""
    from .verification.derivation import Table

    _has_parameters(net, "table", "derivchain grad NAME")
    return Table(net, check_max_paths(max_paths), expand)


#: The formats that print several ``grad`` results in one output (a document format prints one).
MANY_FORMATS = ("text", "json", "jsonl")


def check_many(parameters: list[str], fmt: str) -> None:
    """Several weights print in text, JSON or JSON Lines only; else a one-line error naming ``export``."""
    if fmt not in MANY_FORMATS:
        raise OptionsError(f"grad {' '.join(parameters)}: several weights print in text, json or jsonl; for a {fmt} "
                           f"document of several derivations use derivchain export {' '.join(parameters)} --out FILE")


def _has_parameters(net: Network, command: str, instead: str) -> None:
    # A graph of inputs only has nothing to list: an empty table or document would say nothing.
    if not net.parameters:
        leaves = ", ".join(s.name for s in net.leaves) or "none"
        raise OptionsError(f"{command}: this network has no parameters (every leaf is an input or a target: {leaves}); "
                           f"for an input's gradient use {instead}")


def step(net: Network, values: dict | None, lr: str | Fraction = "0.1", steps: int = 1, freeze=(), on_step=None,
         reduction: str = "mean", batch_size: int | None = None):
    """Gradient descent from ``values``: ``steps`` steps of w - lr * dLoss/dw (``freeze``: glob patterns kept fixed).
    With a batch (``values["samples"]``): full-batch steps, or with ``batch_size`` K mini-batch steps of K samples in
    file order (``steps`` then counts epochs); each gradient the ``reduction`` (mean or sum) over the samples used."""
    from .engines.descent import descend
    from .model.values import read_number

    values = with_defaults(net, values)
    if not values:
        raise OptionsError("step needs numbers: --values FILE or --set NAME=NUMBER for every input, target, weight and bias")
    rate = lr if isinstance(lr, Fraction) else read_number(str(lr), "--lr")
    freeze = (freeze,) if isinstance(freeze, str) else tuple(freeze or ())
    return descend(net, values, rate, steps, freeze, on_step=on_step, reduction=reduction, batch_size=batch_size,
                   gradient=verified_gradient)


def verified_gradient(net: Network, parameter) -> object:
    """dLoss/dparameter as backpropagation writes it, derived three ways and verified (what ``step`` descends on)."""
    from .verification.derivation import derive

    return derive(net, parameter, max_paths=0).backprop.local


def draw(net: Network, parameter: str | None, out: str, force: bool = False) -> list[Path]:
    """Write the network's picture (``.tex``: TikZ, ``.svg``) with the paths of ``parameter`` highlighted."""
    from .renderers.diagram import svg, tikz
    from .renderers.export import write_new

    target = Path(out) if out else None
    if target is None or target.suffix.lower() not in (".tex", ".svg"):
        raise OptionsError("draw needs --out FILE ending in .tex (TikZ) or .svg")
    if parameter is not None:
        net.parameter(parameter)
    if target.suffix.lower() == ".tex":
        from .renderers.latex import printer_for  # the caption's equations typeset (an SVG needs no LaTeX printer)

        picture = tikz(net, parameter, printer_for(net))
    else:
        picture = svg(net, parameter)
    write_new(target, picture + "\n", force)
    return [target]


def export(net: Network, parameters: list[str] | None, out: str, snippet: bool = False, force: bool = False,
           pdf: bool = False, title: str = "Gradients by the chain rule", max_paths: int = DEFAULT_MAX_PATHS,
           brief: bool = False, hessian: list[str] | None = None, values: dict | None = None,
           reduction: str = "mean") -> list[Path]:
    """Write the derivations as a LaTeX, Markdown or HTML document (or snippet); ``pdf`` compiles it; ``brief``:
    the network, the table of every derivative, the conventions and backpropagation only; ``hessian``
    (``["W1,W5", ...]``): a section of second derivatives, with ``values`` their numbers. Every file written
    (a Markdown document's SVG diagrams too)."""
    from .renderers.export import export_document
    from .renderers.formats import document_suffixes, listed, suffixes_named

    if not out:
        raise OptionsError(f"export needs --out FILE ending in {listed(document_suffixes())}")
    target = Path(out)
    if target.suffix.lower() == ".pdf":
        raise OptionsError(f"--out {out}: a PDF is compiled from LaTeX: write --out {target.with_suffix('.tex')} --pdf "
                           "(the .pdf is written beside the .tex)")
    if target.suffix.lower() not in document_suffixes():
        raise OptionsError(f"--out {out}: choose a file ending in {suffixes_named()}")
    if not title.strip():
        raise OptionsError("--title is empty; give the document a title, e.g. --title 'Backpropagation, worked'")
    if pdf and (target.suffix.lower() != ".tex" or snippet):
        raise OptionsError("--pdf compiles a whole .tex document: use --out FILE.tex without --snippet")
    check_max_paths(max_paths)
    if not parameters or parameters == ["all"]:
        _has_parameters(net, "export", "derivchain export NAME ... (any leaf may be named)")
    chosen, detailed = _exported(net, None if not parameters or parameters == ["all"] else parameters)
    # the second derivatives' numbers at a traced model's own values, as every command's (given ones override)
    pairs, samples = _second_pairs(net, hessian or [], with_defaults(net, values) if hessian else values, reduction)
    from .verification.notes import Notes

    notes = Notes(net, chosen, max_paths, detailed, pairs, samples, reduction)
    return export_document(notes, target, title, snippet, force, pdf, brief)


def _second_pairs(net: Network, hessian: list[str], values: dict | None, reduction: str) -> tuple[list, list | None]:
    """export --hessian P,Q ...: the pairs of parameters, and the values' samples (None without values)."""
    if values is not None and not hessian:
        raise OptionsError("export: --values and --set give the numbers of the second derivatives; add --hessian P,Q "
                           "(e.g. --hessian W1,W5) or drop them")
    pairs = []
    for text in hessian:
        names = [n.strip() for n in _listed(text)]
        if len(names) != 2 or not all(names):
            raise OptionsError(f"--hessian {text}: write two parameters P,Q (e.g. --hessian W1,W5; W1,W1 for a diagonal entry)")
        for name in names:
            if name in _matrix_leaves(net):
                first = _entries(net, name)[0].name
                raise OptionsError(f"--hessian {text}: {name} is a matrix; name its entries, e.g. --hessian \"{first},{first}\"")
        pairs.append(tuple(_parameter(net, n, "--hessian") for n in names))
    if values is None:
        return pairs, None
    from .model.values import SAMPLES, check_batch, check_reduction

    check_reduction(reduction)
    if SAMPLES in values and net.matrix is not None:
        raise OptionsError("export: a matrix graph holds its batch in its matrices; give values without samples")
    return pairs, check_batch(net, values)


def _exported(net: Network, names: list[str] | None) -> tuple[list, list | None]:
    """The parameters an export covers and those with a section of their own (None: all). On a matrix graph a
    matrix leaf's name stands for its entries, and of the entries not named one by one only each matrix's
    first has a section (the 48 entries of a 3-token attention, 230 KB of Markdown each, were 11 MB): the
    matrix equations say the rest, and the table lists every entry."""
    if net.matrix is None:
        return (list(net.parameters) if names is None else [net.parameter(w) for w in names]), None
    matrices = {leaf for leaf, _ in net.matrix.leaves if net.matrix.shape(leaf) is not None}
    if names is None:
        # every parameter in order, a matrix's entries by the matrix's name
        names = list(dict.fromkeys(p.name.split("[")[0] if p.name.split("[")[0] in matrices else p.name for p in net.parameters))
    chosen, detailed = [], []
    for name in names:
        if name in matrices:
            entries = [s for s in net.leaves if s.name.startswith(name + "[")]
            chosen += entries
            detailed += entries[:1]
        else:
            chosen.append(net.parameter(name))
            detailed.append(chosen[-1])
    chosen = list(dict.fromkeys(chosen))
    return chosen, [p for p in chosen if p in set(detailed)]


def check(net: Network, parameter: str, answer: str | None = None, steps: str | None = None):
    """Check a learner's ``answer`` to dLoss/dparameter (text such as ``"W13*H1"``, in the network's names) or a
    chain of ``steps`` (text, one step a line: ``dLoss/dW1 = ...``, then ``= ...``): whether it is correct (the
    verifier decides), where it holds, the mistake that explains it, and a point where it is wrong (a Check)."""
    from .verification.check import check as checked

    return checked(net, parameter, answer, steps)


def steps_text(path: str | None) -> str | None:
    """The text of a file of steps (``-``: standard input), within the file size limit; None without one."""
    if path is None:
        return None
    from . import limits
    from .verification.check import CheckError

    if path == "-":
        import sys

        raw = sys.stdin.buffer.read(limits.current().file_bytes + 1) if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode()
        if len(raw) > limits.current().file_bytes:
            raise CheckError(f"--steps -: standard input is larger than {limits.current().file_bytes} bytes (the file_bytes limit)")
    else:
        from .user_text import read_limited

        raw = read_limited(path, f"--steps {path}", CheckError)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise CheckError(f"--steps {path}: not UTF-8 text") from None


#: The files an exercise sheet may be written to, and the format each is rendered in.
SHEET_SUFFIXES = {".tex": "latex", ".pdf": "latex", ".md": "markdown", ".html": "html"}


def exercise(seed: int = 1, out: str | None = None, solutions: bool = False, force: bool = False, network: str | None = None,
             layers: str | None = None, activation: str | None = None, output_activation: str | None = None,
             loss: str | None = None, bias: bool = False, notation: str | None = None, l2: str | None = None,
             torch: str | None = None):
    """An exercise sheet from ``seed``: a small network (what the options do not fix drawn from the seed), three
    derivatives to find and one gradient step at given numbers; ``solutions``: with every answer, verified.
    With ``out`` (``.tex``, ``.pdf``, ``.md``, ``.html``) the sheet is written there and the files written are
    returned; without it, the sheet (an Exercise) is."""
    from .verification.exercise import draw, make, options_text

    if torch is not None:
        raise OptionsError("exercise draws a small network of its own (or reads --network); --torch is not offered here")
    if out is not None:
        target = Path(out)
        if not out or target.suffix.lower() not in SHEET_SUFFIXES:
            raise OptionsError(f"exercise needs --out FILE ending in {', '.join(SHEET_SUFFIXES)}"
                               + (f" (not {out})" if out else ""))
        from .files import check_targets

        check_targets([target], force)
    if network is not None:
        chosen = {"path": network}
        net = _with_l2(_network(network, layers, activation, output_activation, loss, bias, notation), l2)
    else:
        chosen = {**draw(seed, layers, activation, output_activation, loss), "bias": bias, "notation": notation}
        net = _with_l2(_network(None, chosen["layers"], chosen["activation"], chosen["output_activation"], chosen["loss"], bias,
                                notation), l2)
    if l2 is not None:
        chosen["l2"] = l2
    sheet = make(net, seed, options_text(chosen), solutions)
    if out is None:
        return sheet
    from .renderers import render
    from .renderers.export import compile_text
    from .files import write_files

    suffix = target.suffix.lower()  # NOTES.HTML is an HTML page
    text = render(sheet, SHEET_SUFFIXES[suffix])
    data = compile_text(text, target.with_suffix(".tex").name, reproducible=True)[0] if suffix == ".pdf" else text
    return write_files({target: data}, force)



def hessian(net: Network, first: str | None = None, second: str | None = None, max_paths: int = DEFAULT_MAX_PATHS,
            values: dict | None = None, reduction: str = "mean", params: str | list | None = None, newton: bool = False,
            direction: str | dict | None = None):
    """d2Loss/(dfirst dsecond) three ways (direct, pairs of paths, second-order backprop) and verified (a
    HessianEntry); with ``values``, also its numbers (a HessianAtValues; a batch: the ``reduction`` over samples).
    Without parameters, at ``values``: the full Hessian over ``params`` (default all; a HessianMatrix), with
    ``newton`` the Newton step, with ``direction`` (``"W1=1,W5=0.5"``) H v by the R-operator. A traced PyTorch
    model's own values are used where ``values`` gives none."""
    check_max_paths(max_paths)
    values = with_defaults(net, values)
    if first is None and second is None and values is not None:
        return _full_hessian(net, values, reduction, params, newton, direction)
    if first is None or second is None:
        raise OptionsError("hessian needs two parameters P and Q (the same one twice for a diagonal entry), "
                           "e.g. derivchain hessian W1 W5; or --values FILE without them for the full matrix")
    given = [name for name, value in (("--params", params), ("--newton", newton), ("--direction", direction)) if value]
    if given:
        raise OptionsError(f"{', '.join(given)}: for the full Hessian at numbers; drop {first} {second} (and give --values)")
    from .verification.hessian import derive_hessian

    for name in (first, second):
        if name in _matrix_leaves(net):
            entries = ' '.join(f'"{s.name}"' for s in _entries(net, name)[:2])
            raise OptionsError(f"hessian {name}: a matrix; name entries, e.g. derivchain hessian {entries}, "
                               f"or its whole block at numbers with --values FILE --params {name}")
    entry = derive_hessian(net, first, second, max_paths)
    if values is None and reduction == "mean":
        return entry
    from .model.values import check_batch, check_reduction
    from .verification.hessian import hessian_at_values

    check_reduction(reduction)
    if values is None:
        return entry
    per_sample = [s.name for s in entry.parameters if s in set(net.inputs) | set(net.targets)]
    if per_sample and "samples" in values:
        raise OptionsError(f"hessian {first} {second}: each sample has its own {', '.join(per_sample)}, so a batch has no one "
                           "value of this derivative; give the values of one sample (without samples)")
    return hessian_at_values(entry, check_batch(net, values), reduction)


def _full_hessian(net: Network, values: dict, reduction: str, params, newton: bool, direction):
    from .model.values import check_batch, check_reduction, read_number
    from .verification.hessian_matrix import full_hessian, too_large

    check_reduction(reduction)
    names = _listed(params) if isinstance(params, str) else list(params or [])
    chosen = tuple(dict.fromkeys(p for n in names if n.strip() for p in _parameters(net, n.strip(), "--params"))) or None
    seen = None
    if direction:
        items = direction.items() if isinstance(direction, dict) else (_assignment(part) for part in _listed(direction))
        seen = {}
        for name, number in items:
            seen[_parameter(net, str(name), "--direction")] = number if isinstance(number, Fraction) else read_number(str(number), f"--direction {name}")
    samples = check_batch(net, values)
    if seen and chosen is None and too_large(net, len(samples), len(net.parameters)):
        # H v needs no matrix: on a network too large for the whole one, the block over v's parameters checks it
        chosen = tuple(seen)
    return full_hessian(net, samples, chosen, reduction, newton, seen)


def _listed(text: str) -> list[str]:
    """``text`` split at its commas outside brackets (a matrix entry's name, WQ[0,1], holds one)."""
    parts, depth, start = [], 0, 0
    for i, c in enumerate(text):
        depth += (c == "[") - (c == "]")
        if c == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    return parts + [text[start:]]


def _matrix_leaves(net: Network) -> set[str]:
    """The names of a matrix graph's matrix leaves (none for any other network)."""
    if net.matrix is None:
        return set()
    return {leaf for leaf, _ in net.matrix.leaves if net.matrix.shape(leaf) is not None}


def _parameters(net: Network, name: str, option: str) -> list:
    """The parameter ``name``, or a matrix leaf's entries in order (each must be a parameter)."""
    if name in _matrix_leaves(net):
        kind = dict(net.matrix.leaves)[name]
        if kind != "parameter":
            raise OptionsError(f"{option} {name}: a matrix of {kind}s, not parameters; the parameters are "
                               f"{net.describe_parameters(False)}")
        return [_parameter(net, s.name, option) for s in _entries(net, name)]
    return [_parameter(net, name, option)]


def _entries(net: Network, name: str) -> list:
    """A matrix leaf's entries, row by row."""
    return [s for s in net.leaves if s.name.startswith(name + "[")]


def _assignment(part: str) -> tuple[str, str]:
    name, sep, number = part.partition("=")
    if not sep or not name.strip() or not number.strip():
        raise OptionsError(f"--direction {part!r}: write NAME=NUMBER,NAME=NUMBER,... (e.g. W1=1,W5=0.5)")
    return name.strip(), number.strip()


def _parameter(net: Network, name: str, option: str):
    symbol = net.parameter(name)
    if symbol not in set(net.parameters):
        raise OptionsError(f"{option} {name}: an input or target, not a parameter; the parameters are {net.describe_parameters(False)}")
    return symbol
