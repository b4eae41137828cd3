"""What the derivation engines return: dLoss/dparameter as a :class:`Form`, and products and sums whose
printed order is part of what they say (:class:`Ordered`, :class:`OrderedSum`)."""

from __future__ import annotations

from functools import cached_property

import sympy as sp

from ..record import record
from ..symbolic.build import add, mul


@record(repr=False)
class Form:
    """One engine's dLoss/dparameter: ``local`` in neuron symbols, ``substituted`` in inputs and
    parameters only (what the verifier compares), and ``how`` it was obtained, in words."""

    engine: str
    parameter: sp.Symbol
    local: sp.Expr
    substituted: sp.Expr
    how: str

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.parameter}: {self.how})"


@record(repr=False)
class Ordered:
    """A product whose factors are printed in the given order (SymPy's Mul would sort them)."""

    factors: tuple
    compact: bool = False  # printed a*b (an equation's product) rather than a * b (a path's chain)

    @cached_property  # built once: a chain compares it twice (shown as one form? equal to the next?)
    def value(self) -> sp.Expr:
        """The product as one SymPy expression."""
        return mul(*(value_of(f) for f in self.factors))

    def __repr__(self) -> str:
        return " * ".join(map(str, self.factors))


@record(repr=False)
class OrderedSum:
    """A sum of :class:`Ordered` products, printed term by term in the given order."""

    terms: tuple

    @cached_property
    def value(self) -> sp.Expr:
        """The sum as one SymPy expression."""
        return add(*(value_of(t) for t in self.terms))

    def __repr__(self) -> str:
        return " + ".join(map(repr, self.terms))


def value_of(form) -> sp.Expr:
    """A form's SymPy value (an ordered product or sum multiplied out)."""
    return form.value if isinstance(form, (Ordered, OrderedSum)) else form
