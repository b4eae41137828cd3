"""The output formats, as an enum the command line checks (no SymPy here: ``--help`` stays fast)."""

from __future__ import annotations

from enum import Enum


class Format(str, Enum):
    """An output format: each renderer module in :mod:`derivchain.renderers` is one of these."""

    text = "text"
    latex = "latex"
    markdown = "markdown"
    json = "json"
