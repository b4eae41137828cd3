"""What every result derivchain returns has in common: a kind that names its renderer method, and a display.

Results live in the layers below the renderers (a derivation is verification's, a path listing an
engine's), so they cannot call the renderers themselves; the package installs the display function
(:func:`install`, from ``derivchain/__init__.py``) before any result exists, and Jupyter asks each result
for ``_repr_latex_`` and ``_repr_html_``.
"""

from __future__ import annotations

from typing import Callable, ClassVar

_DISPLAY: list = [None]  # the function (result, format) -> text that the package installs


def install(display: Callable[[object, str], str]) -> None:
    """Set the function results display themselves with (the package does, when it is imported)."""
    _DISPLAY[0] = display


class Result:
    """A derivchain result: ``kind`` names the method each format's renderer has for it."""

    kind: ClassVar[str] = ""

    def _repr_latex_(self) -> str:
        """LaTeX for Jupyter (MathJax), in the result's notation."""
        return _DISPLAY[0](self, "latex")

    def _repr_html_(self) -> str:
        """HTML for Jupyter and other notebooks: native MathML, no script."""
        return _DISPLAY[0](self, "html")
