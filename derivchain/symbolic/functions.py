"""SymPy functions that stay unevaluated so equations read the way they are taught.

Each knows its own definition (used by direct differentiation and by numeric evaluation), so the
textbook derivative rules in :mod:`derivchain.model.activations` are checked against it, not assumed.
The rest of what derivchain knows about them (parser name, exact values, parity, breakpoints, error
bounds, LaTeX) is their entry in :data:`derivchain.symbolic.rules.RULES`, which points at ``definition``
and ``numeric`` here. A new function is a class here and a rule there, nothing else.
"""

from __future__ import annotations

import mpmath
import sympy as sp


#: The largest argument (in nodes) of which sigmoid's derivative is built with SymPy's evaluation.
SMALL_ARGUMENT = 100


class sigmoid(sp.Function):
    """The logistic function ``1/(1 + exp(-x))``, printed as sigma(x)."""

    @staticmethod
    def definition(x: sp.Expr) -> sp.Expr:
        """The closed form that derivatives and numbers are taken from."""
        return 1 / (1 + sp.exp(-x))

    @staticmethod
    def numeric(x):
        """The value at an mpmath number."""
        return 1 / (1 + mpmath.exp(-x))

    @classmethod
    def eval(cls, x):
        if x.is_Number:
            return cls.definition(x)
        return None

    def fdiff(self, argindex=1):
        # d/dx 1/(1 + exp(-x)) = exp(-x)/(1 + exp(-x))**2, written from the definition, not as
        # sigma*(1 - sigma): the o*(1 - o) rule of the registry is then something to verify.
        # A large argument (a deep network's nested output) is not evaluated: exp's evaluation runs
        # logcombine over the argument written out, exponential in depth (27 s of grad W1 at width 4
        # with 9 hidden layers); a small one is, as before. A wide one neither: the quotient's
        # evaluation asks for the sign of 1 + exp(-z) through every term of z (0.05 s per neuron
        # at 128 inputs). Unevaluated, it is the same quotient (the same nodes, in another order).
        from .sizes import tree_size

        x = self.args[0]
        if tree_size(x, SMALL_ARGUMENT) <= SMALL_ARGUMENT:
            e = exp_of(-x)
            return e / (1 + e) ** 2
        e = sp.exp(-x, evaluate=False)
        return sp.Mul(e, sp.Pow(sp.Add(1, e, evaluate=False), -2, evaluate=False), evaluate=False)

    def _eval_is_extended_real(self):
        return self.args[0].is_extended_real

    def _eval_rewrite_as_exp(self, x, **kwargs):
        return self.definition(x)



def exp_of(u: sp.Expr) -> sp.Expr:
    """``exp(u)``, the same expression, without exp's evaluation where it is known to leave it as it is."""
    # exp's evaluation of a sum evaluates exp of every term and asks for the sum's assumptions: for
    # a wide neuron's z (128 terms W*X) that was most of the time of a table. Of a sum of products
    # of symbols that carry no sign or zero assumption it always returns exp(u) unchanged.
    return sp.exp(u, evaluate=False) if _inert_in_exp(u) else sp.exp(u)


def _inert_in_exp(u: sp.Expr) -> bool:
    """True when ``u`` is a sum of products of nonzero rationals and symbols with no sign assumption."""
    if not (u.is_Add or u.is_Mul or u.is_Symbol):
        return False
    for term in sp.Add.make_args(u):
        for f in sp.Mul.make_args(term):
            if f.is_Rational:
                if f.is_zero:
                    return False
            elif not f.is_Symbol or f.is_zero is not None or f.is_extended_positive is not None:
                return False
    return True


class relu(sp.Function):
    """The rectifier ``max(0, x)``, printed as ReLU(x); its derivative is Heaviside(x, 0)."""

    @staticmethod
    def definition(x: sp.Expr) -> sp.Expr:
        """The closed form that derivatives and numbers are taken from."""
        return sp.Max(0, x)

    @staticmethod
    def numeric(x):
        """The value at an mpmath number, or exactly at a Fraction."""
        return x if x > 0 else 0 * x  # 0 * x: zero in the argument's own kind of number

    @classmethod
    def eval(cls, x):
        if x.is_Number:
            return sp.Max(0, x)
        return None

    def fdiff(self, argindex=1):
        # SymPy's d/dx Max(0, x) is Heaviside(x); fix the value at the kink to 0 (as PyTorch does),
        # the same convention the activation registry documents.
        return sp.Heaviside(self.args[0], 0)

    def _eval_is_extended_real(self):
        return self.args[0].is_extended_real

    def _eval_rewrite_as_Max(self, x, **kwargs):
        return self.definition(x)



class leaky_relu(sp.Function):
    """``x`` for x > 0 and ``slope*x`` otherwise; printed LeakyReLU_slope(x). Derivative at 0: slope."""

    @staticmethod
    def definition(x: sp.Expr, slope: sp.Expr) -> sp.Expr:
        """The closed form (piecewise: Max(x, slope*x) only for slope <= 1)."""
        return sp.Piecewise((x, x > 0), (slope * x, True))

    @staticmethod
    def numeric(x, slope):
        """The value at mpmath numbers, or exactly at Fractions."""
        return x if x > 0 else slope * x

    @classmethod
    def eval(cls, x, slope):
        if x.is_Number and slope.is_Number:
            return x if x > 0 else slope * x
        return None

    def fdiff(self, argindex=1):
        x, slope = self.args
        if argindex == 2:
            # The parser accepts any slope expression: d/dslope is x for x < 0, else 0 (0 at x = 0 too).
            return x * (1 - sp.Heaviside(x, 0))
        if argindex != 1:
            raise sp.ArgumentIndexError(self, argindex)
        # 1 for x > 0, slope for x < 0; the slope is also used at 0 (as PyTorch does).
        return sp.Heaviside(x, 0) * (1 - slope) + slope

    def _eval_is_extended_real(self):
        return self.args[0].is_extended_real



class elu(sp.Function):
    """``x`` for x > 0 and ``exp(x) - 1`` otherwise (alpha = 1); differentiable everywhere."""

    @staticmethod
    def definition(x: sp.Expr) -> sp.Expr:
        """The closed form (piecewise) of ELU."""
        return sp.Piecewise((x, x > 0), (sp.exp(x) - 1, True))

    @staticmethod
    def numeric(x):
        """The value at an mpmath number."""
        return x if x > 0 else mpmath.exp(x) - 1

    @classmethod
    def eval(cls, x):
        if x.is_Number:
            return x if x > 0 else sp.exp(x) - 1
        return None

    def fdiff(self, argindex=1):
        # Taken from the definition piece by piece: 1 for x > 0, exp(x) for x <= 0 (both 1 at 0).
        x = self.args[0]
        return sp.Heaviside(x, 0) + (1 - sp.Heaviside(x, 0)) * sp.exp(x)

    def _eval_is_extended_real(self):
        return self.args[0].is_extended_real
