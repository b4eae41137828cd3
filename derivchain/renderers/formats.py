"""The output formats, registered in one place: each format's renderer class, document suffix and description.

The command line's ``--format`` choices (:class:`Format`) and help, and the suffixes ``export`` accepts,
are read from :data:`FORMATS`. No SymPy here: the CLI imports this to build ``--help``, which stays fast.
"""

from __future__ import annotations

from enum import Enum

from ..record import record


@record
class FormatInfo:
    """One output format: its name, where its renderer class is, its document suffix and what it writes."""

    name: str
    module: str  # the module that defines the renderer class, imported on first use
    cls: str  # the renderer class's name in that module (a subclass of renderers.base.Renderer)
    suffix: str | None  # an exported document's suffix (.tex); None: the format writes no documents
    label: str  # the format's name for people (LaTeX), as error messages write it
    description: str  # one line, for --help


#: name -> its format, in the order the CLI lists them.
FORMATS: dict[str, FormatInfo] = {}


def register(name: str, module: str, cls: str, suffix: str | None = None, label: str | None = None,
             description: str = "") -> FormatInfo:
    """Add a format: its renderer is ``cls`` in ``module`` (imported when first used). A name or
    suffix already taken is an error. :class:`Format` (the CLI's choices) holds only the formats
    registered when this module was first imported; :func:`derivchain.renderers.render` takes any."""
    if name in FORMATS:
        raise ValueError(f"format {name!r} is already registered")
    if suffix is not None and any(f.suffix == suffix for f in FORMATS.values()):
        raise ValueError(f"suffix {suffix!r} already belongs to format {format_of_suffix(suffix)!r}")
    info = FORMATS[name] = FormatInfo(name, module, cls, suffix, label or name, description)
    return info


def unregister(name: str) -> None:
    """Remove a format registered with :func:`register`."""
    del FORMATS[name]


def info(fmt: str) -> FormatInfo:
    """The registered format named ``fmt`` (a :class:`Format` or its name); ValueError naming the
    formats when there is none."""
    found = FORMATS.get(fmt.value if isinstance(fmt, Enum) else fmt)
    if found is None and isinstance(fmt, str):
        found = FORMATS.get(fmt.lower())  # as the command line's --format: HTML, LaTeX
    if found is None:
        raise ValueError(f"{fmt!r} is not a format; the formats are {listed([repr(n) for n in FORMATS])}")
    return found


def listed(items) -> str:
    """``a, b or c``."""
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def document_formats() -> list[FormatInfo]:
    """The formats ``export`` writes documents in (those with a suffix), in order."""
    return [f for f in FORMATS.values() if f.suffix is not None]


def document_suffixes() -> list[str]:
    """The suffixes ``export --out`` accepts: ``.tex``, ``.md``, ``.html``."""
    return [f.suffix for f in document_formats()]


def format_of_suffix(suffix: str) -> str | None:
    """The name of the format whose documents end in ``suffix``; None when none does."""
    return next((f.name for f in document_formats() if f.suffix == suffix.lower()), None)  # NOTES.HTML too


def suffixes_named() -> str:
    """``.tex (LaTeX), .md (Markdown) or .html (HTML)``."""
    return listed([f"{f.suffix} ({f.label})" for f in document_formats()])


def help_text() -> str:
    """The ``--format`` option's help: every format and what it writes."""
    return "Output format: " + listed([f"{f.name} ({f.description})" for f in FORMATS.values()]) + "."


register("text", "derivchain.renderers.text", "TextRenderer", None, "text",
         "plain text; expressions parse back")
register("latex", "derivchain.renderers.latex", "LatexRenderer", ".tex", "LaTeX", "amsmath align* blocks")
register("markdown", "derivchain.renderers.markdown", "MarkdownRenderer", ".md", "Markdown", "$$ math blocks")
register("json", "derivchain.renderers.json", "JsonRenderer", None, "JSON", "stable keys, expressions as text")
register("html", "derivchain.renderers.html", "HtmlRenderer", ".html", "HTML",
         "one self-contained page: MathML, no script")
register("jsonl", "derivchain.renderers.json", "JsonLinesRenderer", None, "JSON Lines",
         "JSON, one object a line: a table streams a line per row")

#: The formats registered at import, as the enum the command line checks (``--format``).
Format = Enum("Format", [(name, name) for name in FORMATS], type=str, module=__name__, qualname="Format")
Format.__doc__ = "An output format: one of :data:`FORMATS` (each renderer class in :mod:`derivchain.renderers`)."
