"""Text on a terminal: styled, and wrapped only between top-level terms (a copied expression is never
broken); text to a pipe or file is written as it is. No SymPy here (rich is imported when a terminal is written to).
"""

from __future__ import annotations

from dataclasses import replace


def write_lines(lines, out, hang: int | None = None) -> None:
    """Each :class:`~derivchain.renderers.text.Line` on a line of ``out``: on a terminal styled, its label bold, and
    wrapped to the width (continuation lines under ``hang``, else under the label); else as it is."""
    from ..user_text import clean_lines

    console = _terminal(out)
    for line in lines:
        if console is None:
            out.write(clean_lines(line.text) + "\n")
            continue
        from rich.text import Text

        # Nothing that does not print reaches a terminal (an escape sequence could restyle or move it).
        line = replace(line, text=clean_lines(line.text))
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
