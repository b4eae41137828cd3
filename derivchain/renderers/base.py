"""The renderer contract: one class per format, one method per kind of result, and how its output is written.

A result names its kind in a class attribute (``Derivation.kind == "derivation"``), so choosing the
method needs no import of the result's module (rendering a gradient loads nothing of the matrix form).
A concrete renderer class that lacks a method for a kind fails when it is defined, not when a user
asks for that kind. No SymPy here.
"""

from __future__ import annotations

from typing import IO, Iterator

#: Each kind of result (its class's ``kind``) -> the command that prints it. A renderer has one method of that name.
KINDS = {
    "derivation": "grad: a Derivation",
    "derivation_at_values": "grad --values: a DerivationAtValues",
    "batch_at_values": "grad --values with a batch: a BatchAtValues",
    "paths": "paths: a PathListing",
    "network": "show: a Network",
    "formula": "formula: a GeneralFormula",
    "steps": "steps: a StepByStep",
    "descent": "step: a Descent",
    "table": "table: a Table, streamed row by row",
    "matrix": "matrix: a MatrixForm",
    "batch_matrix": "matrix with a batch: a BatchMatrixForm",
    "matrix_gradient": "grad of a matrix leaf of a matrix graph: a MatrixGradient",
    "verdict": "a Verdict alone (dc.verify's result)",
    "chain": "a Chain alone (one verified equality of a result)",
    "check": "check: a Check (an answer or a chain of steps, checked)",
    "exercise": "exercise: an Exercise (a sheet, with or without solutions)",
    "hessian": "hessian P Q: a HessianEntry",
    "hessian_at_values": "hessian P Q --values: a HessianAtValues",
    "hessian_matrix": "hessian --values (no P Q): a HessianMatrix",
    "autograd": "autograd: an AutogradComparison (a traced PyTorch model's gradients beside autograd's)",
}

#: Kinds whose method yields (part, row) pairs, written one by one as each row is derived (see :meth:`Renderer.emit`).
STREAMED = frozenset({"table"})


def kind(result) -> str:
    """The kind of ``result`` (its class's ``kind``): ``derivation``, ``paths``, ``network``, ..."""
    name = getattr(type(result), "kind", None)
    if not isinstance(name, str) or name not in KINDS:
        raise TypeError(f"nothing renders a {type(result).__name__}")
    return name


class Renderer:
    """One output format: a method per kind (see :data:`KINDS`) returning what that format writes of
    the result, and :meth:`write` / :meth:`write_part`, how it is written. Subclass with
    ``abstract=True`` for a base that leaves methods to its subclasses."""

    #: The methods a concrete renderer needs besides one per kind.
    REQUIRES: tuple[str, ...] = ("write", "write_part")

    def __init_subclass__(cls, abstract: bool = False, **kwargs):
        super().__init_subclass__(**kwargs)
        if abstract:
            return
        missing = [name for name in (*KINDS, *cls.REQUIRES) if not callable(getattr(cls, name, None))]
        if missing:
            raise TypeError(f"renderer {cls.__name__} has no method for {', '.join(missing)}: a renderer renders every "
                            f"kind of result ({', '.join(KINDS)}) and writes its output")

    def emit(self, result, out: IO[str], on_row=None) -> None:
        """Write ``result`` to ``out``; a streamed kind (a table) part by part, calling ``on_row(row)``
        after each row is written."""
        name = kind(result)
        rendered = getattr(self, name)(result)
        if name in STREAMED:
            for part, row in rendered:  # each row written as soon as it is derived; nothing is kept
                self.write_part(part, out)
                out.flush()
                if row is not None and on_row:
                    on_row(row)
        else:
            self.write(rendered, out)
        out.flush()


class StringRenderer(Renderer, abstract=True):
    """A format whose every kind is one string (LaTeX, Markdown, HTML); a table is its header, its rows
    joined by :attr:`ROW_SEPARATOR`, and its footer, each written as it is made."""

    REQUIRES = (*Renderer.REQUIRES, "table_header", "table_row", "table_footer")
    #: What stands between two rows of a table.
    ROW_SEPARATOR = "\n"

    def write(self, rendered: str, out: IO[str]) -> None:
        """The text, ending in one newline."""
        out.write(rendered if rendered.endswith("\n") else rendered + "\n")

    def write_part(self, part: str, out: IO[str]) -> None:
        """A part of a table, as it is."""
        out.write(part)

    def table(self, table) -> Iterator[tuple[str, object]]:
        """The table as (part, row): the header (with the delta equations unless ``table.expand``), each row
        (its derivation beside it; in delta form unless ``table.expand``), the footer."""
        yield self.table_header(table) + "\n", None
        for i, d in enumerate(table.rows):
            yield (self.ROW_SEPARATOR if i else "") + self.table_row(d, table.expand), d
        yield "\n" + self.table_footer(table) + "\n", None
