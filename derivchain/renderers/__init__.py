"""The render layer: one module per format, each with the same function for each kind of result.

``emit(result, format)`` picks the renderer module for the format and the function for the result's
kind, and writes what it returns. Text on a terminal is styled and wrapped only between top-level
terms; text to a pipe or file is written as it is (a copied expression is never broken).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping
from contextlib import contextmanager
from typing import IO

from .. import memo
from .formats import Format


class _Renderers(Mapping):
    """Format -> its renderer module, imported on first use (a text command never loads the LaTeX printer)."""

    def __getitem__(self, fmt):
        return importlib.import_module(f"{__name__}.{Format(fmt).value}")

    def __iter__(self):
        return iter(Format)

    def __len__(self) -> int:
        return len(Format)


RENDERERS = _Renderers()


def __getattr__(name: str):
    # `derivchain.renderers.latex` and friends as attributes, loaded when first asked for.
    if name in Format.__members__:
        return RENDERERS[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# Result class (by name, so that rendering a gradient does not import the matrix, descent or steps
# modules: the cold start counts) -> the renderer function for it.
KINDS = {
    "Derivation": "derivation", "DerivationAtValues": "derivation_at_values", "BatchAtValues": "batch_at_values",
    "PathListing": "paths", "Network": "network", "GeneralFormula": "formula", "StepByStep": "steps",
    "Descent": "descent", "Table": "table", "MatrixForm": "matrix", "BatchMatrixForm": "batch_matrix",
}


def kind(result) -> str:
    """The renderer function name for a result: ``derivation``, ``paths``, ``network``, ..."""
    for cls in type(result).__mro__:
        if cls.__module__.startswith("derivchain.") and cls.__name__ in KINDS:
            return KINDS[cls.__name__]
    raise TypeError(f"nothing renders a {type(result).__name__}")


def render(result, fmt: Format | str) -> str:
    """The whole output for ``result`` in ``fmt``, as one string (a table is rendered in full)."""
    import io

    buffer = io.StringIO()
    emit(result, fmt, buffer)
    return buffer.getvalue()


def emit(result, fmt: Format | str = Format.text, out: IO[str] | None = None, on_row=None) -> None:
    """Write ``result`` rendered in ``fmt`` to ``out`` (standard output); a table streams row by row,
    calling ``on_row(derivation)`` after each (a progress bar, the verdicts). What the printers remember
    while printing is the result's network's (see :mod:`derivchain.memo`)."""
    network = _network_of(result)
    with memo.working_for(network) if network is not None else memo.scratch():
        _emit(result, fmt, out, on_row)


def _network_of(result):
    """The network a result describes (a network its own), or None."""
    from ..model.network import Network

    if isinstance(result, Network):
        return result
    return getattr(result, "network", None) or getattr(getattr(result, "derivation", None), "network", None)


def _emit(result, fmt: Format, out: IO[str] | None, on_row) -> None:
    fmt = Format(fmt)
    out = sys.stdout if out is None else out
    module = RENDERERS[fmt]
    name = kind(result)
    if name == "table":
        _emit_table(result, fmt, module, out, on_row)
        return
    rendered = getattr(module, name)(result)
    if fmt is Format.json:
        out.write(module.dumps(rendered) + "\n")
    elif fmt is Format.text:
        _write_lines(rendered, out)
    else:
        out.write(rendered if rendered.endswith("\n") else rendered + "\n")
    out.flush()


def written(paths, out: IO[str] | None = None) -> None:
    """One line ``wrote PATH`` for each file a command wrote, in order."""
    out = sys.stdout if out is None else out
    for path in paths:
        out.write(f"wrote {path}\n")
    out.flush()


def _emit_table(table, fmt, module, out, on_row) -> None:
    # Each row is written as soon as it is derived; nothing is kept.
    if fmt is Format.json:
        out.write("[")
        for i, (d, row) in enumerate(module.table_texts(table)):
            out.write(("," if i else "") + "\n  " + row)
            out.flush()
            if on_row:
                on_row(d)
        out.write("\n]\n")
        return
    if fmt is Format.text:
        _write_lines(module.table_header(table), out)
        for d in table.rows:
            _write_lines(module.table_row(d), out, hang=module.TABLE_GRADIENT_COLUMN)
            if on_row:
                on_row(d)
        return
    out.write(module.table_header(table) + "\n")
    separator = " \\\\\n" if fmt is Format.latex else "\n"
    for i, d in enumerate(table.rows):
        out.write((separator if i else "") + module.table_row(d))
        out.flush()
        if on_row:
            on_row(d)
    out.write("\n" + module.table_footer(table) + "\n")


def _write_lines(lines, out, hang: int | None = None) -> None:
    console = _terminal(out)
    for line in lines:
        if console is None:
            out.write(line.text + "\n")
            continue
        from rich.text import Text

        lead = len(line.text) - len(line.text.lstrip())
        # Continuation lines hang under the label, else one step in from where the line starts.
        indent = hang if hang is not None else min(len(line.label), 24) if line.label else lead + 4
        if line.prose:
            import textwrap

            pieces = textwrap.wrap(line.text, console.width, subsequent_indent=" " * (lead + 2), break_long_words=False,
                                   break_on_hyphens=False) or [""]
        else:
            pieces = wrap_terms(line.text, console.width, indent)
        for i, piece in enumerate(pieces):
            styled = Text(piece, line.style)
            if i == 0 and line.label and not line.style:
                styled.stylize("bold", 0, len(line.label))
            console.print(styled, soft_wrap=True)
    out.flush()


PROGRESS_FROM = 50  # rows or steps; below this a run is done before a bar would help


@contextmanager
def progress(total: int):
    """A transient progress bar on stderr for long runs, when stderr is a terminal; else nothing."""
    if total < PROGRESS_FROM or not sys.stderr.isatty():
        yield lambda *_: None
        return
    from rich.console import Console
    from rich.progress import Progress

    # Not redirect_stdout: the rows go to stdout (a file, a pipe) while the bar draws on stderr.
    with Progress(console=Console(stderr=True), transient=True, redirect_stdout=False, redirect_stderr=False) as progress:
        task = progress.add_task("deriving", total=total)
        yield lambda *_: progress.advance(task)


def _terminal(out):
    """A rich console for ``out`` when it is a terminal (styles, width); None for a pipe or file."""
    isatty = getattr(out, "isatty", None)
    if not (isatty and isatty()):
        return None
    from rich.console import Console

    return Console(file=out, highlight=False)


def wrap_terms(line: str, width: int, indent: int = 4) -> list[str]:
    """``line`` broken to ``width`` before a `` + ``, `` - `` or `` = `` outside any brackets; a piece
    still too long is broken between its factors (``*``), then the same way one bracket level down.
    Never inside a name or a number; a piece with no such place is left long. Continuation lines are
    indented by ``indent``."""
    if len(line) <= width:
        return [line]
    out: list[str] = []
    _wrap(line, width, indent, 0, out)
    return [out[0]] + [" " * indent + p for p in out[1:]]


# The places to break, in order of preference at each bracket depth: after a ";" (a matrix's rows, a
# line's clauses), after a "," (entries, "label = value" items), before a term or an "=", after a "*".
_KINDS = ("rows", "items", "terms", "factors")
_LEVELS = [(depth, kind) for depth in range(6) for kind in _KINDS]


def _cuts(text: str, depth: int, kind: str) -> list[int]:
    cuts, level = [], 0
    for i, c in enumerate(text):
        if c in "([{":
            level += 1
        elif c in ")]}":
            level -= 1
        elif level == depth and i:
            if kind == "rows" and c == " " and text[i - 1] == ";" or kind == "items" and c == " " and text[i - 1] == ",":
                cuts.append(i)
            elif kind == "terms" and c == " " and text[i + 1:i + 3] in ("+ ", "- ", "= "):
                cuts.append(i)
            elif kind == "factors" and c == "*" and text[i - 1] != "*" and text[i + 1:i + 2] not in ("*", " "):
                cuts.append(i + 1)  # after the *, so the next line starts with the factor
    return cuts


def _wrap(text: str, width: int, indent: int, level: int, out: list[str]) -> None:
    room = width - (indent if out else 0)  # the first line has the whole width
    if len(text.strip()) <= room:
        out.append(text.strip() if out else text)
        return
    if level >= len(_LEVELS):  # no place of those: between words, never inside a name or a number
        import textwrap

        words = textwrap.wrap(text.strip(), room, break_long_words=False, break_on_hyphens=False) or [""]
        out.extend(words if out else [text[:len(text) - len(text.lstrip())] + words[0], *words[1:]])
        return
    cuts = _cuts(text, *_LEVELS[level])
    if not cuts:
        _wrap(text, width, indent, level + 1, out)
        return
    pieces, start = [], 0
    for cut in cuts + [len(text)]:
        pieces.append(text[start:cut])
        start = cut
    current = ""
    for piece in pieces:
        room = width - (indent if out else 0)
        if current and len((current + piece).strip()) > room:
            _wrap(current, width, indent, level + 1, out)
            current = piece.lstrip()
        else:
            current += piece
    _wrap(current, width, indent, level + 1, out)


__all__ = ["Format", "RENDERERS", "emit", "render", "kind", "wrap_terms", "progress", "json", "latex", "markdown", "text"]
