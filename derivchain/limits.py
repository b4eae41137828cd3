"""Every size that can blow up, with its default limit: one place, documented in the README.

Past a limit derivchain refuses in one line naming what was too big and how to raise the limit,
instead of hanging or exhausting memory. The limits that can sensibly be raised are raised with
``--limit NAME=N`` on the command line, or :func:`raised` in Python.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import fields, replace

from .record import record
from .errors import LimitError


@record
class Limits:
    """The limits in force (see ``DESCRIPTIONS`` for what each bounds)."""

    name_length: int = 64
    layers: int = 40
    width: int = 1000
    neurons: int = 5000
    parameters: int = 20_000
    outputs: int = 100
    connections: int = 20_000
    file_bytes: int = 1_000_000
    value_digits: int = 100
    value_exponent: int = 1000
    exact_digits: int = 1000
    steps: int = 10_000
    printed_nodes: int = 20_000
    listed_paths: int = 100_000
    pictures: int = 100
    hessian_edges: int = 6000
    hessian_work: int = 3_000_000


DESCRIPTIONS = {
    "name_length": "characters in a name (inputs, neurons, weights, biases, targets)",
    "layers": "layers of a network (its depth, inputs included)",
    "width": "neurons in one layer of --layers",
    "neurons": "neurons in a network",
    "parameters": "weights and biases in a network",
    "connections": "weighted connections in a network (a shared weight counted at each use)",
    "outputs": "outputs of a network, each read by the loss (the work grows with their square)",
    "file_bytes": "bytes in a network or values file",
    "value_digits": "significant digits of one value",
    "value_exponent": "size of a value's decimal exponent (1e1000)",
    "exact_digits": "digits of an exact number computed at given values; a larger one is computed to 50 digits instead",
    "steps": "gradient-descent steps (--steps)",
    "printed_nodes": "nodes of one printed expression; larger ones are printed with whole neurons as their symbols",
    "listed_paths": "paths listed per parameter (--max-paths)",
    "pictures": "SVG pictures a Markdown export writes beside the document (past it: only the network's)",
    "hessian_edges": "edges of the network's graph for one symbolic second derivative, hessian P Q (its time grows about with their square)",
    "hessian_work": "steps of the full Hessian at numbers, hessian --values: samples x (nodes x parameters^2 + edges x parameters), "
                    "about 10 s a million",
}

#: Limits a user may raise with --limit (the others guard against input that is only ever a mistake).
RAISABLE = ("layers", "width", "neurons", "parameters", "outputs", "connections", "steps", "printed_nodes", "value_digits", "exact_digits",
            "pictures", "hessian_edges", "hessian_work")

_CURRENT: ContextVar[Limits] = ContextVar("derivchain_limits", default=Limits())


def current() -> Limits:
    """The limits in force."""
    return _CURRENT.get()


@contextmanager
def raised(**changes: int):
    """Run a block with some limits changed: ``with raised(layers=80): ...``."""
    token = _CURRENT.set(replace(current(), **changes))
    try:
        yield current()
    finally:
        _CURRENT.reset(token)


def parse_limits(items: list[str]) -> dict[str, int]:
    """``["layers=80", "printed_nodes=50000"]`` -> changes; a one-line error for anything else."""
    names = [f.name for f in fields(Limits)]
    out = {}
    for item in items:
        name, _, raw = item.partition("=")
        name = name.strip().replace("-", "_")
        if name not in names:
            raise LimitError(f"--limit {item!r}: unknown limit; choose one of: {', '.join(RAISABLE)}")
        if name not in RAISABLE:
            raise LimitError(f"--limit {item!r}: the {name} limit cannot be raised")
        if not raw.strip().isdigit() or len(raw.strip()) > 9 or int(raw) < 1:
            raise LimitError(f"--limit {item!r}: give a whole number from 1 to 999999999, e.g. --limit {name}=100")
        out[name] = int(raw)
    return out


def check(what: str, size: int, name: str, where: str = "", error: type[LimitError] = LimitError, hint: str = "") -> None:
    """Refuse ``size`` past the limit ``name`` with a one-line error that says how to raise it."""
    limit = getattr(current(), name)
    if size > limit:
        fix = f"raise it with --limit {name}={size}" if name in RAISABLE else "this limit is fixed"
        place = f"{where}: " if where else ""
        raise error(f"{place}{what} is {size}, more than the limit of {limit} ({DESCRIPTIONS[name]}); {fix}{hint}")
