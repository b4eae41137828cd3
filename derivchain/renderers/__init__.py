"""The render layer: one renderer class per format (see :mod:`.base`), registered in :mod:`.formats`.

``emit(result, format)`` asks the format's renderer for the method of the result's kind and lets the
renderer write what it returns: text styled and wrapped on a terminal (see :mod:`.terminal`), JSON
dumped, LaTeX, Markdown and HTML as they are; a table streamed row by row.
"""

from __future__ import annotations

import importlib
import sys
from contextlib import contextmanager
from typing import IO

from .. import memo
from ..result import Result
from .base import KINDS, Renderer, kind
from .formats import FORMATS, Format, info
from .terminal import wrap_terms


def __getattr__(name: str):
    # `derivchain.renderers.latex` and friends as attributes, loaded when first asked for.
    if name in FORMATS and FORMATS[name].module == f"{__name__}.{name}":
        return importlib.import_module(FORMATS[name].module)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def renderer(fmt: Format | str) -> Renderer:
    """The renderer of a registered format (its module imported on first use: text never loads the LaTeX printer)."""
    found = info(fmt)
    return getattr(importlib.import_module(found.module), found.cls)()


def render(result, fmt: Format | str = Format.text, network=None) -> str:
    """The whole output for ``result`` in ``fmt``, as one string (a table is rendered in full). A SymPy
    expression (a form of a derivation, say) is printed alone, in ``network``'s notation when given."""
    import io

    if not isinstance(result, Result):
        return expression(result, fmt, network)
    buffer = io.StringIO()
    emit(result, fmt, buffer)
    return buffer.getvalue()


def expression(expr, fmt: Format | str = Format.text, network=None) -> str:
    """One expression in ``fmt``: text that parses back, LaTeX, MathML (html), ``$LaTeX$`` (markdown) or a JSON
    string of its text; in ``network``'s notation (its names' LaTeX) when given."""
    import sympy as sp

    if not isinstance(expr, sp.Basic):
        raise TypeError(f"nothing renders a {type(expr).__name__}: give a derivchain result or a SymPy expression")
    name = info(fmt).name
    with memo.working_for(network) if network is not None else memo.scratch():
        if name == "text":
            from .text import text
            return text(expr)
        if name in ("latex", "markdown"):
            from .latex import latex
            return latex(expr, network) if name == "latex" else f"${latex(expr, network)}$"
        if name == "html":
            from .html import mathml
            return mathml(expr, network)
        if name == "json":
            import json as _json
            from .text import text
            return _json.dumps(text(expr))
    raise TypeError(f"the {name} format renders derivchain results, not expressions")


def notebook(result, fmt: str) -> str:
    """What Jupyter shows of a result: its LaTeX between ``$$`` (MathJax), or an HTML fragment (the page's
    style, scoped to it, and its content: MathML, no script)."""
    if fmt == "latex":  # the result as one aligned block in its network's notation (MathJax's subset of LaTeX)
        from .latex import latex
        return "$$%s$$" % latex(result)
    page = render(result, "html")
    start = '<main class="derivchain">'
    style = page[page.index("<style>"):page.index("</style>") + len("</style>")]
    body = page[page.index(start) + len(start):page.rindex("</main>")]
    return f'{style}\n<div class="derivchain">{body}</div>'


def emit(result, fmt: Format | str = Format.text, out: IO[str] | None = None, on_row=None) -> None:
    """Write ``result`` rendered in ``fmt`` to ``out`` (standard output); a table streams row by row,
    calling ``on_row(derivation)`` after each (a progress bar, the verdicts). What the printers remember
    while printing is the result's network's (see :mod:`derivchain.memo`)."""
    network = _network_of(result)
    with memo.working_for(network) if network is not None else memo.scratch():
        renderer(fmt).emit(result, sys.stdout if out is None else out, on_row)


def emit_all(results, fmt: Format | str = Format.text, out: IO[str] | None = None) -> None:
    """Several results in one output (``grad W1 W2``): JSON one array of their objects, any other format each
    result after the other (text with a blank line between them; JSON Lines a line each)."""
    out = sys.stdout if out is None else out
    if info(fmt).name == "json":
        from .json import JsonRenderer, dumps

        objects = []
        for r in results:
            network = _network_of(r)
            with memo.working_for(network) if network is not None else memo.scratch():
                objects.append(getattr(JsonRenderer(), kind(r))(r))
        out.write(dumps(objects) + "\n")
        out.flush()
        return
    for i, r in enumerate(results):
        if i and info(fmt).name == "text":
            out.write("\n")
        emit(r, fmt, out)


def _network_of(result):
    """The network a result describes (a network its own), or None."""
    from ..model.network import Network

    if isinstance(result, Network):
        return result
    return getattr(result, "network", None) or getattr(getattr(result, "derivation", None), "network", None)


def written(paths, out: IO[str] | None = None) -> None:
    """One line ``wrote PATH`` for each file a command wrote, in order."""
    from ..user_text import shown

    out = sys.stdout if out is None else out
    for path in paths:
        out.write(f"wrote {shown(str(path))}\n")  # a name's escape sequences shown, not obeyed
    out.flush()


PROGRESS_FROM = 50  # rows or steps; below this a run is done before a bar would help...
PROGRESS_AFTER = 1.0  # ...unless it has already taken this many seconds (3 slow steps of an x**64 network)


#: Seconds a command runs before its status line shows (a run done sooner shows nothing).
STATUS_AFTER = 1.0


class _EndsStatus:
    """A stream that ends the status line before its first write: output never lands beside the spinner
    (``end_status``: what a progress bar calls first, on ``sys.stderr``)."""

    def __init__(self, stream, end_status):
        self._stream = stream
        self.end_status = end_status

    def write(self, text):
        self.end_status()
        return self._stream.write(text)

    def __getattr__(self, name):  # isatty, fileno, flush, encoding, buffer: the stream's own
        return getattr(self._stream, name)


@contextmanager
def status(what: str):
    """A transient status line on stderr (a spinner, ``what``, the time taken) once a command has run
    :data:`STATUS_AFTER` seconds, when stderr is a terminal; ended by the first output or a progress bar.
    Nothing otherwise: what is written, to stdout or a file, is the same bytes either way."""
    if not sys.stderr.isatty():
        yield
        return
    import threading

    real_out, real_err = sys.stdout, sys.stderr
    lock, state = threading.Lock(), {"bar": None}

    def show():
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        with lock:
            if state["bar"] is None:  # not yet shown, not already ended
                bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                               console=Console(file=real_err), transient=True, redirect_stdout=False, redirect_stderr=False)
                bar.add_task(what, total=None)
                state["bar"] = bar
                bar.start()

    def stop():
        with lock:
            if state["bar"]:
                state["bar"].stop()
            state["bar"] = False  # a timer firing now shows nothing

    timer = threading.Timer(STATUS_AFTER, show)
    timer.daemon = True
    sys.stdout, sys.stderr = _EndsStatus(real_out, stop), _EndsStatus(real_err, stop)
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        stop()
        sys.stdout, sys.stderr = real_out, real_err


@contextmanager
def progress(total: int, streaming: bool = False):
    """A transient progress bar on stderr for long runs (``total`` at least :data:`PROGRESS_FROM`, or a
    run still going after :data:`PROGRESS_AFTER` seconds), when stderr is a terminal; else nothing.
    ``streaming``: the output is written while the bar runs (a table's rows); none then when stdout is a
    terminal too: the bar would be redrawn between the rows, glued to them, and the rows are the progress."""
    if total < 2 or not sys.stderr.isatty() or (streaming and sys.stdout.isatty()):
        yield lambda *_: None
        return
    import threading

    if isinstance(sys.stderr, _EndsStatus):  # the bar says more than the status line: one live line at a time
        sys.stderr.end_status()

    lock, state = threading.Lock(), {"done": 0, "bar": None, "task": None}

    def show():
        from rich.console import Console
        from rich.progress import Progress

        with lock:
            if state["bar"] is None:  # not yet shown, not already ended
                # Not redirect_stdout: the rows go to stdout (a file, a pipe) while the bar draws on stderr.
                bar = Progress(console=Console(stderr=True), transient=True, redirect_stdout=False, redirect_stderr=False)
                state["task"] = bar.add_task("deriving", total=total, completed=state["done"])
                state["bar"] = bar
                bar.start()

    def advance(*_):
        with lock:
            state["done"] += 1
            if state["bar"]:
                state["bar"].advance(state["task"])

    timer = threading.Timer(0 if total >= PROGRESS_FROM else PROGRESS_AFTER, show)
    timer.daemon = True
    if total >= PROGRESS_FROM:
        show()
    else:
        timer.start()
    try:
        yield advance
    finally:
        timer.cancel()
        with lock:
            if state["bar"]:
                state["bar"].stop()
            state["bar"] = False  # a timer firing now shows nothing


__all__ = ["Format", "FORMATS", "KINDS", "Renderer", "emit", "emit_all", "render", "expression", "notebook", "renderer", "kind",
           "wrap_terms", "progress", "status", "written", "html", "json", "latex", "markdown", "text"]
