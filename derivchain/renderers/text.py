"""Plain text: one :class:`Line` at a time, every expression printed so that it parses back.

:class:`TextRenderer` has a method for each kind of result, yielding lines, and writes them (styled and
wrapped between top-level terms on a terminal, unwrapped to a pipe or file).
"""

from __future__ import annotations

from typing import Iterator

import sympy as sp

from sympy.printing.precedence import PRECEDENCE, precedence
from sympy.printing.printer import Printer
from sympy.printing.str import StrPrinter

from .. import memo
from ..record import record
from ..verification.chains import Chain
from ..verification.derivation import Table
from ..engines.forms import Ordered, OrderedSum
from .base import Renderer
from .fitting import fits, too_large_note
from .shown import notes as derivation_notes, preactivation_letter, shown as shown_of
from .terminal import write_lines


def negative(expr: sp.Expr) -> bool:
    """``expr.could_extract_minus_sign()``; for a product read off its number, without building ``-expr``
    to compare (a product equals its negation only with zoo or nan as its number, which is not negative
    anyway; a table asks of every row's product)."""
    if expr.is_Mul:
        c = expr.args[0]
        return bool(c.is_Number and c.is_extended_negative)
    return expr.could_extract_minus_sign()


def activation_first(expr: sp.Expr) -> tuple[list[sp.Expr], sp.Expr] | None:
    """A product's activation derivatives o*(1 - o) pulled to the front, each kept beside its factor.

    SymPy's order writes ``H5*W13*(1 - H5)``; the sources write ``H5*(1 - H5)*W13``. Returns the
    paired factors in order and the rest of the product, or None when nothing is paired.
    """
    if not expr.is_Mul or negative(expr):
        return None
    args = expr.args
    present = set(args)
    pairs: list[sp.Expr] = []
    for a in args:
        if a.is_Add and len(a.args) == 2 and sp.S.One in a.args:
            # 1 - o is Add(1, Mul(-1, o)): read o off it rather than build -(-o) (a new Mul per factor).
            minus = a.args[0] if a.args[1] is sp.S.One else a.args[1]
            if not (minus.is_Mul and len(minus.args) == 2 and minus.args[0] is sp.S.NegativeOne):
                continue
            o = minus.args[1]
            if o.is_Symbol and o in present and o not in pairs:
                pairs += [o, a]
    if not pairs:
        return None
    taken = set(pairs)
    rest = [a for a in args if a not in taken]
    # What is left of a product in SymPy's canonical form is still in it: no flattening and sorting again.
    return pairs, sp.Mul._from_args(rest) if len(rest) > 1 else rest[0] if rest else sp.S.One


def with_activation_first(printer, expr: sp.Expr, separator: str) -> str | None:
    """A product printed with its activation derivatives in front (see :func:`activation_first`), its
    factors joined by ``separator``; None when it has none (the printer's own way then)."""
    if expr.is_Mul and negative(expr):
        # -H5*(1 - H5)*W13: the sign in front, the pair still together.
        inner = with_activation_first(printer, -expr, separator)
        return None if inner is None else "-" + inner
    split = activation_first(expr)
    if split is None:
        return None
    pairs, rest = split
    coefficient, rest = rest.as_coeff_Mul()
    parts = [printer._print(coefficient)] if coefficient != 1 else []  # 2*Out*(1 - Out)*X1: the number first
    parts += [printer.factor(f) for f in pairs]
    if rest != 1:
        # What is left has no pair: a plain product prints directly (no memo entry for a row's own product).
        parts.append((printer._plain_product(rest) or printer._print(rest)) if rest.is_Mul else printer.factor(rest))
    return separator.join(parts)


def remembered(kept: memo.Memo, key, make):
    """``kept[key]``, made by ``make()`` the first time: a printer's each subexpression printed once
    (bounded as its memo's kind says, so a long session does not grow without end)."""
    hit = kept.get(key)
    if hit is None:
        hit = kept.room()[key] = make()
    return hit


def ordered_terms(printer, expr, order=None) -> list:
    """``printer._as_ordered_terms(expr, order)``, SymPy's sort of a sum's terms done once for every
    printer: a table row prints the same sums as text and as LaTeX, and LaTeX lays long ones out again."""
    order = order or printer.order
    # By identity, the sum kept beside its terms (so its id stays its own); a few thousand kept, the
    # sums being a row's own (nothing per row outlives the next few rows).
    terms = memo.current(memo.ORDERED_TERMS)
    key = (id(expr), order)
    hit = terms.get(key)
    if hit is None:
        fast = _lex_terms(expr) if order in (None, "lex") else None
        hit = terms.room()[key] = (expr, teacher_order(Printer._as_ordered_terms(printer, expr, order) if fast is None else fast))
    return list(hit[1])


def teacher_order(terms) -> tuple:
    """A sum's terms as a teacher writes them: the positive ones first, each group in SymPy's order
    (``z - t``, ``h - Y``, not ``-t + z``, ``-Y + h``); a sum of negative terms only as it was."""
    if not terms or not negative(terms[0]):
        return tuple(terms)
    plus = [t for t in terms if not negative(t)]
    return tuple(plus + [t for t in terms if negative(t)]) if plus else tuple(terms)


def sort_key(e):
    """``default_sort_key(e)``, kept per expression (a table orders the same factors in every row)."""
    # By identity, the expression kept beside its key: an equal expression built apart would be compared
    # with it node by node.
    return memo.current(memo.SORT_KEYS).lookup(e, lambda: sp.default_sort_key(e))


def _lex_terms(expr) -> list | None:
    """``expr.as_ordered_terms()`` (SymPy's lex order of a sum's terms) for a sum of more than two terms
    whose coefficients are rationals and whose other factors are commutative and not numbers, else None.

    The same computation as SymPy's ``as_terms`` and its sort key, with what each factor contributes
    (its base and exponent, the base's sort key) kept across sums: a table's rows add up terms made of
    the same few hundred factors, which SymPy decomposes again in every sum (a third of a JSON row)."""
    from sympy.core.exprtools import decompose_power

    if not expr.is_Add or len(expr.args) < 3:  # SymPy special-cases some two-term sums (1 - x)
        return None
    decomposed = memo.current(memo.POWERS).room()
    terms, gens = [], set()
    for term in expr.args:
        coeff, rest = term.as_coeff_Mul()
        if not coeff.is_Rational or abs(coeff.p) >= 2**53 or coeff.q >= 2**53:
            return None  # complex(coeff) through evalf: kept to SymPy
        powers = {}
        for factor in (() if rest is sp.S.One else sp.Mul.make_args(rest)):
            known = decomposed.get(id(factor))  # by identity, as sort_key's
            if known is None:
                if factor.is_number or not factor.is_commutative:
                    return None
                known = decomposed[id(factor)] = (factor, *decompose_power(factor))
            powers[known[1]] = known[2]
            gens.add(known[1])
        # complex(Rational) is its correctly rounded double, as p / q is.
        terms.append((term, coeff.p / coeff.q, powers))
    index = {g: i for i, g in enumerate(sorted(gens, key=sort_key))}

    def key(item):
        # SymPy's key for lex order: the exponents negated, no non-commutative part, then the coefficient.
        _, re, powers = item
        monom = [0] * len(index)
        for base, e in powers.items():
            monom[index[base]] = -e
        return tuple(monom), (), ((False, 0.0), (re, 0.0))

    return [term for term, _, _ in sorted(terms, key=key)]


class TextPrinter(StrPrinter):
    """Plain text that parses back: SymPy's str, pending derivatives as dH4/dW1, activation derivatives
    beside their factor (``H5*(1 - H5)*W13``)."""

    def __init__(self, settings=None):
        super().__init__(settings)
        self._memo = memo.Memo(memo.PRINTED)
        self._factors = memo.Memo(memo.PRINTED_FACTORS)

    def _print(self, expr, **kwargs):
        # A subexpression prints the same wherever it appears (the parent adds any brackets), and a
        # table's rows repeat many (each neuron's factor, the deltas): print each once, as LaTeX does.
        if kwargs or not isinstance(expr, sp.Basic) or not expr.args:
            return super()._print(expr, **kwargs)
        # By identity (see sort_key), the expression kept beside its text.
        return remembered(self._memo, id(expr), lambda: (expr, super(TextPrinter, self)._print(expr)))[1]

    def _as_ordered_terms(self, expr, order=None):
        return ordered_terms(self, expr, order)

    def _print_Derivative(self, e):
        inner, (w, _) = e.args[0], e.args[1]
        if inner.is_Symbol:
            return f"d{_name(inner)}/d{_name(w)}"
        return f"d/d{w}({self._print(inner)})"

    def _print_Mul(self, expr):
        return with_activation_first(self, expr, "*") or self._plain_product(expr) or super()._print_Mul(expr)

    def _print_Add(self, expr, order=None):
        # SymPy's, but a product's precedence is not asked for: it is Mul's, or Add's own when it is
        # negative, never below the sum's, so a product is never bracketed (asking builds its negation).
        prec = precedence(expr)
        out = []
        for term in self._as_ordered_terms(expr, order=order):
            t = self._print(term)
            sign = "+"
            if t.startswith("-") and not term.is_Add:
                sign, t = "-", t[1:]
            out += [sign, t if term.is_Mul or not (precedence(term) < prec or term.is_Add) else "(%s)" % t]
        sign = out.pop(0)
        return ("" if sign == "+" else sign) + " ".join(out)

    def _plain_product(self, expr) -> str | None:
        """What SymPy prints for a product of commutative factors none of which is a number or a power
        (``H12*W515*(Out - Y)``: each factor, bracketed where a product needs it, in SymPy's order),
        each factor's part kept across products (a table prints the same factors in every row); None
        for any other product (SymPy's general way then)."""
        args = expr.args
        if any(a.is_Number or a.is_Pow or not a.is_commutative for a in args):
            return None
        return "*".join(self._factor_text(a) for a in sorted(args, key=sort_key))

    def _factor_text(self, a) -> str:
        return self._factors.lookup(a, lambda: self.parenthesize(a, PRECEDENCE["Mul"], strict=False))

    def parenthesize(self, item, level, strict=False):
        # dOut/dW1 inside a product reads as one factor only in brackets: (Out - Y)*(dOut/dW1).
        if isinstance(item, sp.Derivative) and item.args[0].is_Symbol:
            return f"({self._print(item)})"
        return super().parenthesize(item, level, strict)

    def factor(self, expr) -> str:
        """One factor of a product, parenthesised when it is a sum, negative, or a quotient."""
        out = self._print(expr)
        if isinstance(expr, sp.Expr) and (expr.is_Add or negative(expr) or "/" in out and not expr.is_Function):
            return f"({out})"
        return out

    def product(self, factors) -> str:
        """Factors joined by `` * `` in the given order (SymPy's Mul would sort them)."""
        return " * ".join(self.factor(f) for f in factors)


def printer() -> TextPrinter:
    """The current owner's text printer (a network's: its memos serve every row of a table), or a new one."""
    return memo.current(memo.PRINTERS).lookup("text", TextPrinter)


def text(expr) -> str:
    """Plain text for an expression; it parses back with :func:`derivchain.symbolic.parse.parse_expression`."""
    return printer().doprint(expr)

#: What every format says when a derivation's three numbers disagree at the given values.
DISAGREE = ("the three results differ here beyond the digits shown: at values this extreme (a saturated activation, a huge input) the working precision is lost in some forms; do not trust these numbers")


@record
class Line:
    """One line of text output: its text, a style for terminals, and the label it starts with."""

    text: str
    style: str = ""
    label: str = ""  # printed bold on a terminal; part of ``text``
    prose: bool = False  # words, not an expression: a terminal may wrap it between any two words


def _line(label: str, body: str = "", style: str = "", prose: bool = False) -> Line:
    return Line(f"{label}{body}", style, label, prose)


def expr(e) -> str:
    """One form as text: an expression, or an ordered product or sum printed in its own order
    (past the printing limit, a note saying so)."""
    if isinstance(e, (sp.Basic, Ordered, OrderedSum)) and not isinstance(e, sp.Derivative) and not fits(e):
        return f"[{too_large_note()}]"
    if isinstance(e, Ordered):
        return ("*" if e.compact else " * ").join(_factor(f) for f in e.factors)
    if isinstance(e, OrderedSum):
        out = expr(e.terms[0])
        for t in e.terms[1:]:
            piece = expr(t)
            out += f" - {piece[1:]}" if piece.startswith("-") else f" + {piece}"
        return out
    if isinstance(e, sp.Derivative) and e.args[0].is_Symbol:
        return f"d{_name(e.args[0])}/d{_name(e.args[1][0])}"
    return printer().doprint(e)


def _name(s: sp.Symbol) -> str:
    # A plain symbol prints as its name (str() would set up a SymPy printer for it, on every row of a table).
    return s.name if type(s) is sp.Symbol else str(s)


def _factor(f) -> str:
    if isinstance(f, OrderedSum):
        return f"({expr(f)})" if len(f.terms) > 1 else expr(f)
    if isinstance(f, Ordered):
        return expr(f)
    return printer().factor(f)


def chain_text(c: Chain, lhs: str | None = None) -> str:
    """``lhs = f1 = f2``; a link that was not shown equal is printed ``=?`` (it never is, by the tests)."""
    out = lhs if lhs is not None else expr(c.lhs)
    for i, form in enumerate(c.forms):
        sign = " = " if i == 0 or c.links[i - 1].equal else " =? "
        out += sign + expr(form)
    return out


def _reasons(c: Chain, indent: str) -> Iterator[Line]:
    for reason in c.reasons:
        if reason:
            yield Line(f"{indent}({reason})", "dim", prose=True)


def delta_lines(deltas) -> Iterator[Line]:
    """A table's delta equations, defined once: each delta in the next layer's deltas (its verified chain's first form)."""
    checked = "each equation verified" if all(c.verified for c in deltas) else "NOT every equation verified"
    yield _line(f"Deltas (delta_j = dLoss/dz_j, from the outputs back; {checked}):", style="bold", prose=True)
    for c in deltas:
        yield Line(f"  {c.lhs} = {expr(c.forms[0])}" + ("" if c.verified else "  [NOT verified]"), "" if c.verified else "red")


def verified_chains(result) -> tuple:
    """The chains a path listing or a formula's instance prints, as the verifier made them (see
    :mod:`derivchain.verification.listing` and :mod:`derivchain.verification.formula`)."""
    if result.chains is None:
        raise TypeError(f"this {type(result).__name__} was not verified: make it with derivchain.api "
                        f"(dc.api.paths, dc.api.formula), which verifies every chain it prints")
    return result.chains


def more_paths(n: int) -> str:
    """``1 more path``, ``97 more paths``."""
    return f"{n} more path{'' if n == 1 else 's'}"


def partials(path) -> str:
    """``dLoss/dOut * dOut/dH4 * dH4/dW7``."""
    return " * ".join(str(f) for f in path.factors)


def _path_lines(listed, chains, count) -> Iterator[Line]:
    for i, (p, c) in enumerate(zip(listed, chains), start=1):
        yield Line(f"  path {i}: {p.arrow()}", "green")
        yield Line("    " + chain_text(c, partials(p)))
    if len(listed) < count:
        yield Line(f"  ... {more_paths(count - len(listed))} not shown (raise --max-paths to see them)", "yellow")


def verdict(v) -> Line:
    """``Verdict: equal [expansion] ...``."""
    style = "bold green" if v.equal else "bold red"
    return Line(f"Verdict: {v.word} [{v.method}] {v.detail}", style, "Verdict: ", prose=True)


def values(at) -> Iterator[Line]:
    """A derivation's numbers: each neuron, the loss, each path's factors and term, the three results."""
    d = at.derivation
    how = arithmetic(at.exact, "exact", at.digits)
    yield _line(f"At the given values ({how}):", style="bold")
    z_name = preactivation_letter(d.network)
    for name, z, o in at.neurons:
        yield Line(f"  {name}: {z_name} = {z}, output = {o}" if z is not None else f"  {name} = {o}")
    yield Line(f"  {d.network.loss_symbol} = {at.loss}")
    for path, (factors, term) in zip(d.paths, at.paths):
        yield Line(f"  {path.arrow()}: " + " * ".join(str(f) for f in factors) + f" = {term}")
    lhs = expr(d.lhs)
    yield Line(f"  {lhs}: sum over paths = {at.path_sum}, backprop = {at.backprop}, direct = {at.direct}")
    if not at.agree:
        yield Line(f"Warning: {DISAGREE}", "bold red", prose=True)


def batch_form(b) -> str:
    """The batch gradient as the reduction over samples of the one verified single-sample form (a leaf that
    differs per sample: that form for each sample)."""
    d = b.derivation
    if b.per_sample:
        return f"{expr(d.lhs)} = [{expr(d.backprop.local)}]_s for each sample s, m = {len(b.samples)}"
    lead = "(1/m) * sum" if b.reduction == "mean" else "sum"
    return f"{expr(d.lhs)} = {lead} over samples s of [{expr(d.backprop.local)}]_s, m = {len(b.samples)}"


def batch_values(b) -> Iterator[Line]:
    """Each sample's loss and three results, then the batch's (their mean or sum)."""
    m = len(b.samples)
    loss = b.derivation.network.loss_symbol
    yield _line(f"Batch of {m} sample{'s' if m != 1 else ''}, reduction {b.reduction} ({arithmetic(b.exact, 'exact', b.digits)}):",
                style="bold", prose=True)
    yield Line("  " + batch_form(b))
    for i, at in enumerate(b.samples, start=1):
        yield Line(f"  sample {i}: {loss} = {at.loss}; sum over paths = {at.path_sum}, backprop = {at.backprop}, direct = {at.direct}")
    if b.per_sample:
        yield Line(f"  batch ({b.reduction}): {loss} = {b.loss}", "bold")
    else:
        yield Line(f"  batch ({b.reduction}): {loss} = {b.loss}; sum over paths = {b.path_sum}, backprop = {b.backprop}, "
                   f"direct = {b.direct}", "bold")
    if not b.agree:
        yield Line(f"Warning: {DISAGREE}", "bold red", prose=True)
    if b.note:
        yield Line(f"Note: {b.note}", "dim", prose=True)


def batch_words(r) -> str:
    """How a descent used its batch, e.g. ``batch of 4 samples, mini-batches of 2 in file order, reduction mean``."""
    if not r.samples:
        return ""
    m = r.samples
    size = f", mini-batches of {r.batch_size} in file order, {r.epochs} epoch{'s' if r.epochs != 1 else ''}" if r.batch_size else ", full batch"
    return f"batch of {m} sample{'s' if m != 1 else ''}{size}, reduction {r.reduction}"


def learning_rate(lr) -> str:
    """The learning rate as the values are printed: exactly (0.5, 1/3 (~0.333...))."""
    from ..model.values import Number

    return str(Number(lr, True))


def arithmetic(exact: bool, exact_text: str = "exact arithmetic", digits: int = 50) -> str:
    """How the numbers were computed, as every format says it."""
    return exact_text if exact else f"{digits}-digit arithmetic, 15 significant digits shown"


TABLE_HEADER = f"{'parameter':<10} {'paths':>7}  {'verdict':<10} {'method':<20} gradient"
#: Where the gradient column starts: continuation lines on a terminal are indented to it.
TABLE_GRADIENT_COLUMN = len(TABLE_HEADER) - len("gradient")
#: The name column's least width (W1 ... W999 and the header's "parameter" fit).
TABLE_NAME_WIDTH = 10


def table_name_width(network) -> int:
    """The name column's width: the longest parameter name (a traced model's ``0.weight[0,0]``), at least 10."""
    return max(TABLE_NAME_WIDTH, *(len(p.name) for p in network.parameters))


# --- the matrix form --------------------------------------------------------------------------------
def _cell(v) -> str:
    return expr(v) if isinstance(v, (sp.Basic, Ordered, OrderedSum)) else str(v)


def bracketed(m) -> str:
    """A matrix on one line, rows separated by ``;``: ``[W1, W2; W3, W4]`` (a column: ``[X1; X2]``)."""
    from ..engines.matrix import rows

    return "[" + "; ".join(", ".join(_cell(v) for v in row) for row in rows(m)) + "]"


def shape(rows: int, cols: int) -> str:
    """``3x2``."""
    return f"{rows}x{cols}"


def matrix_check(check) -> str:
    """``Verified: 14 of 14 gradient entries ...`` (never "equal" unless every entry was verified)."""
    how = ", ".join(f"{method}: {n}" for method, n in check.methods if n)
    if check.equal:
        return (f"Verified: {check.verified} of {check.total} gradient entries equal the scalar derivation of their weight "
                f"({check.against}; {how})")
    shown = "; ".join(check.failures[:5]) + (" ..." if len(check.failures) > 5 else "")
    return f"NOT verified: {check.verified} of {check.total} gradient entries agree with the scalar derivation; {shown}"


def l2_term(m, l: object = "l") -> str:
    """`` + lambda W^l`` with --l2 (a batch summed: ``m lambda W^l``, each sample's loss holding the term), else ""."""
    if m.l2 is None:
        return ""
    return f" + {'m ' if getattr(m, 'reduction', 'mean') == 'sum' else ''}lambda W^{l}"


def l2_line(m) -> Iterator[Line]:
    """What --l2 adds to the loss and to each dL/dW^l (nothing without it)."""
    if m.l2 is not None:
        yield Line(f"  L2: lambda = {m.l2}; the loss adds lambda/2 * (sum of squared weights, biases excluded), "
                   f"so d{m.loss_symbol.name}/dW^l gains{l2_term(m).removeprefix(' +')}")


def _batch_scale(b) -> str:
    """``(1/m) `` for a mean over the samples, nothing for a sum."""
    return "(1/m) " if b.reduction == "mean" else ""


class TextRenderer(Renderer):
    """Plain text: each kind as :class:`Line` objects, written by :func:`~derivchain.renderers.terminal.write_lines`
    (styled and wrapped between top-level terms on a terminal, as they are to a pipe or file)."""

    def write(self, lines, out) -> None:
        """Every line, on a terminal styled and wrapped."""
        write_lines(lines, out)

    def write_part(self, part, out) -> None:
        """A part of a table: (its lines, the column continuation lines hang under)."""
        write_lines(part[0], out, hang=part[1])

    def table(self, table) -> Iterator[tuple[tuple[Iterator[Line], int | None], object]]:
        """``derivchain table``: the network line and the column titles, then one row per parameter (nothing after)."""
        yield (self.table_header(table), None), None
        width = table_name_width(table.network)  # names longer than the column pushed the rest of their row right
        for d in table.rows:
            yield (self.table_row(d, table.expand, width), TABLE_GRADIENT_COLUMN + width - TABLE_NAME_WIDTH), d

    def paths(self, listing) -> Iterator[Line]:
        """``derivchain paths``: how many, then each listed path with its chain of partials."""
        noun = "path" if listing.count == 1 else "paths"
        yield _line(f"{listing.count} {noun} from {listing.parameter} to the loss", style="bold")
        yield from _path_lines(listing.paths, verified_chains(listing), listing.count)

    def derivation(self, d) -> Iterator[Line]:
        """Everything ``derivchain grad`` prints, in order."""
        w = d.parameter.name
        lhs = expr(d.lhs)
        yield _line("Network: ", d.network.summary(), prose=True)
        noun = "path" if d.path_count == 1 else "paths"
        yield _line(f"{lhs}: {d.path_count} {noun} from {w} to the loss", style="bold")
        for i, (p, c) in enumerate(zip(d.paths, d.path_chains), start=1):
            yield Line(f"  path {i}: {p.arrow()}", "green")
            yield Line("    " + chain_text(c, partials(p)))
        if not d.path_sum.listed_all:
            yield Line(f"  ... {more_paths(d.path_count - len(d.paths))} not shown (raise --max-paths to see them)", "yellow", prose=True)
        yield _line("Sum over paths: ", chain_text(d.sum_chain))
        if not d.path_sum.enumerated:
            yield Line(f"  ({d.path_sum.how})", "dim", prose=True)
        yield _line("Backpropagation: ", chain_text(d.entry_chain))
        for c in d.delta_chains:
            yield Line("  " + chain_text(c))
            yield from _reasons(c, "    ")
            cond = d.conditional(c.lhs)
            if cond is not None:
                where = f"{expr(cond.equation[0])} = {expr(cond.equation[1])}"
                yield Line(f"    where {where} ({cond.condition}): {c.lhs} = {expr(cond.value)}", "" if cond.verdict.equal else "red")
        for case in d.cases():
            yield _line(f"Case {case.condition}: ", f"{lhs} = {expr(case.value)}")
        shown = shown_of(d).direct_shown
        if shown is None:
            yield _line("Direct: ", "not printed (too large; compared in full by the verdict)")
        else:
            label = "Direct: " if shown_of(d).direct_in_full else "Direct (whole neurons written as their symbols): "
            yield _line(label, f"{lhs} = {expr(shown)}")
        yield verdict(d.verdict)
        for note in derivation_notes(d):
            yield Line(f"Note: {note}", "dim", prose=True)

    def derivation_at_values(self, at) -> Iterator[Line]:
        """``grad --values``: the derivation, then its numbers."""
        yield from self.derivation(at.derivation)
        yield from values(at)

    def batch_at_values(self, b) -> Iterator[Line]:
        """``grad --values`` with a batch: the derivation, then each sample's numbers and the batch's."""
        yield from self.derivation(b.derivation)
        yield from batch_values(b)

    def network(self, net) -> Iterator[Line]:
        """Everything ``derivchain show`` prints: summary, equations, outputs nested and expanded, loss."""
        yield _line("Network: ", net.summary(), prose=True)
        yield Line(f"Inputs: {', '.join(s.name for s in net.inputs) or 'none'}; targets: {', '.join(s.name for s in net.targets) or 'none'}")
        yield Line(f"Parameters: {net.describe_parameters(leaves=False)}")
        yield _line("Equations:", style="bold")
        for n in net.neurons:
            yield Line(f"  {n.name} = {expr(n.equation)}")
        yield _line(f"{net.loss_symbol} = ", expr(net.loss_local))
        for n in net.outputs:
            yield _line(f"{n.name} nested: ", expr(net.substitution[n.symbol]))
            value = net.expanded_output(n)
            yield _line(f"{n.name} expanded: ", expr(value) if value is not None else "not written out (more than 2000 terms)")

    def formula(self, f) -> Iterator[Line]:
        """The general backpropagation equations, then their instance for one parameter."""
        yield _line(f"Backpropagation at an arbitrary layer ({f.where}):", style="bold")
        for line in f.text:
            yield Line("  " + line)
        bp = f.instance
        if bp is None:
            return
        entry, *deltas = verified_chains(f)
        yield _line(f"For {bp.parameter}:", style="bold")
        yield Line("  " + chain_text(entry))
        for c in deltas:
            yield Line("  " + chain_text(c))
            yield from _reasons(c, "    ")

    def steps(self, s) -> Iterator[Line]:
        """The step-by-step derivation: one line per rewriting, the reason after it."""
        yield _line(f"d{s.network.loss_symbol}/d{s.parameter}, step by step:", style="bold")
        for i, st in enumerate(s.steps):
            sign = "    " if i == 0 else ("  = " if s.links[i - 1].equal else "  =?")
            yield Line(f"{sign}{expr(st.expr)}")
            if i:
                yield Line(f"      [{st.reason}]", "dim")

    def descent(self, r) -> Iterator[Line]:
        """Gradient descent: the table of parameters (old value, gradient, new value) and the losses."""
        first, last = r.steps[0], r.steps[-1]
        n = len(r.steps)
        how = arithmetic(r.exact)
        yield _line("Network: ", r.network.summary(), prose=True)
        yield _line(f"gradient descent, lr = {learning_rate(r.lr)}, {n} step{'s' if n > 1 else ''} ({how})", style="bold", prose=True)
        if r.samples:
            yield Line(f"{batch_words(r)}; each loss is the whole batch's")
        rows = [("parameter", "old value", "gradient" + (" (first step)" if n > 1 else ""), "new value")]
        rows += [(name, str(r.initial[name]), str(first.gradients[name]), str(last.updated[name])) for name in r.trained]
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        for k, row in enumerate(rows):
            yield Line("  " + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip(), "bold" if k == 0 else "")
        if r.frozen:
            yield Line(f"kept fixed: {', '.join(r.frozen)}")
        yield Line(f"loss before: {first.loss}")
        if n > 1:
            for i, st in enumerate(r.steps[1:], start=1):
                yield Line(f"loss after step {i}: {st.loss}")
        yield Line(f"loss after: {last.loss_after}")

    def table_header(self, table) -> Iterator[Line]:
        """The network line, the delta equations (in delta form) and the column titles of ``derivchain table``."""
        yield _line("Network: ", table.network.summary(), prose=True)
        if not table.expand:
            yield from delta_lines(table.deltas)
        yield Line(f"{'parameter':<{table_name_width(table.network)}}" + TABLE_HEADER[TABLE_NAME_WIDTH:], "bold")

    def table_row(self, d, expand: bool = False, width: int = TABLE_NAME_WIDTH) -> Iterator[Line]:
        """One row: parameter (``width`` wide), path count, verdict, method, the gradient in delta form (``expand``: the
        backprop gradient in neuron symbols)."""
        equal, word = Table.row_equal(d, expand), Table.row_word(d, expand)
        gradient = expr(d.backprop.local) if expand else expr(d.delta_form)
        yield Line(f"{d.parameter.name:<{width}} {d.path_count:>7}  {word:<10} {d.verdict.method:<20} {gradient}", "" if equal else "red")

    def matrix(self, m) -> Iterator[Line]:
        """``derivchain matrix``: the forward pass, then the backward pass, layer by layer, every shape printed."""
        loss = m.loss_symbol.name
        L = len(m.layers)
        yield _line("Network: ", m.network.summary(), prose=True)
        where = f" at the given values ({arithmetic(m.exact, 'exact')})" if m.at_values else ", symbolic"
        yield _line(f"Matrix form{where}: W^l has a row per neuron of layer l and a column per neuron of layer l-1 "
                    "(layer 0 is the input)", style="bold", prose=True)
        b = " + b^l" if m.layers[0].b is not None else ""
        yield Line(f"  z^l = W^l a^(l-1){b},  a^l = f(z^l)")
        yield Line(f"  delta^{L} = grad_a {loss} ⊙ f'(z^{L}),  delta^l = ((W^(l+1))^T delta^(l+1)) ⊙ f'(z^l)")
        yield Line(f"  d{loss}/dW^l = delta^l (a^(l-1))^T{l2_term(m)}" + (f",  d{loss}/db^l = delta^l" if b else ""))
        yield from l2_line(m)
        yield _line("Forward:", style="bold")
        yield Line(f"  a^0: {shape(len(m.layers[0].sources), 1)} = {bracketed(m.inputs)}")
        for layer in m.layers:
            l, s = layer.index, layer.shapes
            n, k = s["W"]
            yield Line(f"  layer {l} ({', '.join(layer.names)}):", "green")
            yield Line(f"    W^{l}: {shape(n, k)} = {bracketed(layer.W)}")
            if layer.b is not None:
                yield Line(f"    b^{l}: {shape(n, 1)} = {bracketed(layer.b)}")
            yield Line(f"    z^{l} = W^{l} a^{l - 1}{f' + b^{l}' if layer.b is not None else ''}: "
                       f"({shape(n, k)})({shape(k, 1)}) -> {shape(n, 1)} = {bracketed(layer.z_shown or layer.z)}")
            yield Line(f"    a^{l} = f(z^{l}): {shape(n, 1)} = {bracketed(layer.a)}")
        if m.loss_value is not None:
            yield Line(f"  {loss} = {m.loss_value}")
        yield _line("Backward:", style="bold")
        for layer in reversed(m.layers):
            l, (n, k) = layer.index, layer.shapes["W"]
            yield Line(f"  layer {l} ({', '.join(layer.names)}):", "green")
            yield Line(f"    f'(z^{l}): {shape(n, 1)} = {bracketed(layer.fprime)}")
            names = "" if m.at_values else " = [" + "; ".join(f"delta_{x}" for x in layer.names) + "]"
            if l == L:
                yield Line(f"    grad_a {loss}: {shape(n, 1)} = {bracketed(m.grad_a)}")
                yield Line(f"    delta^{l}{names} = grad_a {loss} ⊙ f'(z^{l}): {shape(n, 1)} = {bracketed(layer.delta_shown or layer.delta)}")
                if layer.rewrite:
                    yield Line(f"      ({layer.rewrite})", prose=True)
                if m.conditionals:
                    c = m.conditionals[0]
                    yield Line(f"      where {expr(c.equation[0])} = {expr(c.equation[1])} ({c.condition}): delta^{l} = "
                               f"{bracketed(tuple((x.value,) for x in m.conditionals))}", "" if all(x.verdict.equal for x in m.conditionals) else "red")
            else:
                m_next = m.layers[l].shapes["W"][0]
                yield Line(f"    delta^{l}{names} = ((W^{l + 1})^T delta^{l + 1}) ⊙ f'(z^{l}): ({shape(n, m_next)})({shape(m_next, 1)}) "
                           f"-> {shape(n, 1)} = {bracketed(layer.delta_shown or layer.delta)}")
            yield Line(f"    d{loss}/dW^{l} = delta^{l} (a^{l - 1})^T{l2_term(m, l)}: ({shape(n, 1)})({shape(1, k)}) -> {shape(n, k)}, "
                       f"the shape of W^{l} = {bracketed(layer.grad_W)}")
            if layer.grad_b is not None:
                yield Line(f"    d{loss}/db^{l} = delta^{l}: {shape(n, 1)} = {bracketed(layer.grad_b)}")
        yield Line(matrix_check(m.check), "bold green" if m.check.equal else "bold red", prose=True)

    def batch_matrix(self, b) -> Iterator[Line]:
        """``derivchain matrix`` with a batch: Z, A and Delta with a column per sample, every shape printed."""
        loss, L, m, s = b.loss_symbol.name, len(b.layers), b.size, _batch_scale(b)
        yield _line("Network: ", b.network.summary(), prose=True)
        yield _line(f"Matrix form over a batch of m = {m} sample{'s' if m != 1 else ''} ({arithmetic(b.exact, 'exact')}): "
                    "Z, A and Delta have a column per sample; W^l has a row per neuron of layer l and a column per neuron "
                    "of layer l-1 (layer 0 is the input)", style="bold", prose=True)
        bias = b.layers[0].b is not None
        yield Line(f"  Z^l = W^l A^(l-1){' + b^l 1^T' if bias else ''},  A^l = f(Z^l)")
        yield Line(f"  Delta^{L} = grad_A {loss} ⊙ f'(Z^{L}),  Delta^l = ((W^(l+1))^T Delta^(l+1)) ⊙ f'(Z^l)")
        yield Line(f"  d{loss}/dW^l = {s}Delta^l (A^(l-1))^T{l2_term(b)}" + (f",  d{loss}/db^l = {s}Delta^l 1" if bias else "")
                   + f"  (the {b.reduction} over the samples)")
        yield from l2_line(b)
        yield _line("Forward:", style="bold")
        yield Line(f"  A^0: {shape(*b.layers[0].A_prev_shape)} = {bracketed(b.inputs)}")
        for layer in b.layers:
            l, (n, k), nm = layer.index, layer.shapes["W"], layer.delta_shape
            yield Line(f"  layer {l} ({', '.join(layer.names)}):", "green")
            yield Line(f"    W^{l}: {shape(n, k)} = {bracketed(layer.W)}")
            if layer.b is not None:
                yield Line(f"    b^{l}: {shape(n, 1)} = {bracketed(layer.b)}")
            yield Line(f"    Z^{l} = W^{l} A^{l - 1}{f' + b^{l} 1^T' if layer.b is not None else ''}: "
                       f"({shape(n, k)})({shape(k, m)}) -> {shape(*nm)} = {bracketed(layer.Z)}")
            yield Line(f"    A^{l} = f(Z^{l}): {shape(*nm)} = {bracketed(layer.A)}")
        yield Line(f"  {loss} ({b.reduction} over the samples) = {b.loss_value}")
        yield _line("Backward:", style="bold")
        for layer in reversed(b.layers):
            l, (n, k), nm = layer.index, layer.shapes["W"], layer.delta_shape
            yield Line(f"  layer {l} ({', '.join(layer.names)}):", "green")
            yield Line(f"    f'(Z^{l}): {shape(*nm)} = {bracketed(layer.fprime)}")
            if l == L:
                yield Line(f"    grad_A {loss}: {shape(*nm)} = {bracketed(b.grad_A)}")
                yield Line(f"    Delta^{l} = grad_A {loss} ⊙ f'(Z^{l}): {shape(*nm)} = {bracketed(layer.Delta)}")
            else:
                nxt = b.layers[l].shapes["W"][0]
                yield Line(f"    Delta^{l} = ((W^{l + 1})^T Delta^{l + 1}) ⊙ f'(Z^{l}): ({shape(n, nxt)})({shape(nxt, m)}) "
                           f"-> {shape(*nm)} = {bracketed(layer.Delta)}")
            yield Line(f"    d{loss}/dW^{l} = {s}Delta^{l} (A^{l - 1})^T{l2_term(b, l)}: ({shape(n, m)})({shape(m, k)}) -> {shape(n, k)}, "
                       f"the shape of W^{l} = {bracketed(layer.grad_W)}")
            if layer.grad_b is not None:
                yield Line(f"    d{loss}/db^{l} = {s}Delta^{l} 1: ({shape(n, m)})({shape(m, 1)}) -> {shape(n, 1)} = {bracketed(layer.grad_b)}")
        yield Line(matrix_check(b.check), "bold green" if b.check.equal else "bold red", prose=True)

    def matrix_gradient(self, g) -> Iterator[Line]:
        """``grad WQ`` on a matrix graph: the chain of matrix equations from the loss back, each with its shape
        and its check, then the verdict; with values, each matrix of the chain at them."""
        from .matrix_forms import mark, rows_text, shape_text, summary

        yield _line("Network: ", g.network.summary(), prose=True)
        yield _line(f"dLoss/d{g.parameter} ({shape_text(g.shape)}) in matrix form: the chain of matrix equations from "
                    "the loss back (@ the matrix product, * entry by entry, .T the transpose), each checked entry by entry "
                    "against the scalar derivation", style="bold", prose=True)
        for e in g.chain:
            named = f"; rewrite: {e.rewrite}" if e.rewrite else ""
            yield Line(f"  dL/d{e.name} = {e.form}    [{shape_text(e.shape)}; {mark(e)}{named}]", None if e.verified else "bold red")
        yield Line(summary(g), "bold green" if g.verified else "bold red", prose=True)
        if g.at_values is not None:
            yield _line(f"At the given values ({arithmetic(g.exact, 'exact')}):", style="bold")
            for e in g.chain:
                yield Line(f"  dL/d{e.name} = {rows_text(e.values)}")

    def verdict(self, v) -> Iterator[Line]:
        """A verdict alone: equal, NOT equal or undecided, how it was shown, and the detail."""
        yield verdict(v)

    def chain(self, c) -> Iterator[Line]:
        """A chain alone: lhs = each form, the named rewrites after it."""
        yield Line(chain_text(c))
        yield from _reasons(c, "  ")

    def autograd(self, c) -> Iterator[Line]:
        """``autograd``: the entries beside autograd's, the verdict, the first disagreement's path sum."""
        from .autograd import text_lines

        yield from (Line(t) for t in text_lines(c, expr))

    def check(self, c) -> Iterator[Line]:
        """``check``: the answer (or each step), the derivative, the verdict, the diagnosis, a counterexample."""
        yield _line("Network: ", c.network.summary(), prose=True)
        yield from check_lines(c)

    def hessian(self, h) -> Iterator[Line]:
        """``hessian P Q``: the pairs of paths, their sum, the R-operator equations, the direct form, the verdict."""
        yield from hessian_lines(h)

    def hessian_matrix(self, m) -> Iterator[Line]:
        """``hessian --values``: the matrix, its split, symmetry, eigenvalues, gradient, Newton step, H v, the check."""
        yield from hessian_matrix_lines(m)

    def hessian_at_values(self, at) -> Iterator[Line]:
        """``hessian P Q --values``: the entry, then its three numbers."""
        yield from hessian_lines(at.entry)
        yield from hessian_values(at)

    def exercise(self, ex) -> Iterator[Line]:
        """An exercise sheet as plain text: the network, the questions, room or (with solutions) the answers."""
        yield from exercise_lines(ex, self)




def _finding_lines(f, indent: str = "  ") -> Iterator[Line]:
    yield Line(f"{indent}{f.kind}: {f.detail}", "yellow", prose=True)
    if f.found is not None and f.expected is not None:
        yield Line(f"{indent}  found {expr(f.found)}, expected {expr(f.expected)}")


def check_lines(c) -> Iterator[Line]:
    """A check's lines after the network: the answer or the steps, the derivative, the verdict, the
    diagnosis (of the first wrong line, with steps) and the counterexample."""
    lhs = c.lhs
    if c.steps is None:
        yield _line("Your answer: ", f"{lhs} = {expr(c.answer)}")
    else:
        yield _line(f"Your steps, each checked against the line before and against {lhs}:", style="bold", prose=True)
        for s in c.steps:
            checks = ([] if s.to_previous is None else [f"line before: {s.to_previous.word}"]) + [f"{lhs}: {s.to_derivative.word}"]
            ok = s.equal_to_derivative and s.equal_to_previous is not False
            yield Line(f"  line {s.line}: {s.text}   [{'; '.join(checks)}]", "" if ok else "red")
    for r in c.readings:
        yield _line("Read as: ", f"{r.text} = {expr(r.used)}", prose=True)
        yield Line(f"  {r.why} {r.text} = {expr(r.other)}", "yellow", prose=True)
    yield _line("The derivative: ", f"{lhs} = {expr(c.expected)}")
    yield _line("Verdict: ", c.sentence, "bold green" if c.correct else "bold red", prose=True)
    if c.diagnosis:
        yield _line("Diagnosis" + (f" of line {c.first_wrong_line}" if c.first_wrong_line is not None else "") + ":", style="bold")
        for f in c.diagnosis:
            yield from _finding_lines(f)
    cx = c.counterexample
    if cx is not None:
        where = f" (line {c.first_wrong_line})" if c.first_wrong_line is not None else ""
        yield _line(f"Counterexample{where}: ", ", ".join(f"{k} = {v}" for k, v in cx.values.items()), prose=True)
        if cx.nodes:
            yield Line("  there " + ", ".join(f"{k} = {v}" for k, v in cx.nodes.items()), prose=True)
        yield Line(f"  your {'line' if where else 'answer'} = {cx.answer}, {lhs} = {cx.expected}", "bold")


#: Blank lines left for each answer on a plain-text sheet.
ANSWER_LINES = 4


def exercise_lines(ex, renderer) -> Iterator[Line]:
    """An exercise sheet: the network and its equations, how to check an answer, the three derivatives and
    the gradient step, each followed by room to answer or (with solutions) its verified solution."""
    net = ex.network
    yield _line(ex.title, style="bold")
    yield _line("Network: ", net.summary(), prose=True)
    yield _line("Equations:", style="bold")
    for n in net.neurons:
        yield Line(f"  {n.name} = {expr(n.equation)}")
    yield Line(f"  {net.loss_symbol} = {expr(net.loss_local)}")
    yield Line("Write each answer in the network's names (inputs, weights, biases, neurons, targets; sign, sigmoid, tanh, "
               "relu, exp, log). Check it with", prose=True)
    yield Line(f"  derivchain check {ex.derivations[0].parameter} \"YOUR ANSWER\" {ex.options}".rstrip())
    for i, d in enumerate(ex.derivations, start=1):
        yield _line(f"{i}. Find {expr(d.lhs)}.", style="bold")
        if ex.solutions:
            yield from (Line("   " + line.text, line.style, line.label, line.prose) for line in renderer.derivation(d) if not line.text.startswith("Network: "))
        else:
            yield from (Line("") for _ in range(ANSWER_LINES))
    yield _line(f"{len(ex.derivations) + 1}. " + exercise_step_question(ex), style="bold", prose=True)
    if ex.solutions:
        yield from (Line("   " + line.text, line.style, line.label, line.prose) for line in values(ex.at))
        yield Line(f"   new {ex.stepped} = {ex.values[ex.stepped]} - {learning_rate(ex.lr)} * ({ex.at.backprop}) = {ex.updated}", "bold")
    else:
        yield from (Line("") for _ in range(ANSWER_LINES))


def exercise_step_question(ex) -> str:
    """The gradient-step question in words, with its numbers."""
    from ..model.values import Number

    given = ", ".join(f"{s} = {Number(v, True)}" for s, v in ex.values.items())
    w = ex.stepped
    return (f"At {given}, take one gradient-descent step on {w} with learning rate {learning_rate(ex.lr)}: find the loss "
            f"{ex.network.loss_symbol}, d{ex.network.loss_symbol}/d{w} there, and the new {w} = {w} - lr * d{ex.network.loss_symbol}/d{w}.")


# --- hessian P Q (issue 24) ---------------------------------------------------------------------------

def hessian_lines(h) -> Iterator[Line]:
    """Lines of text, as ``grad`` prints a derivation."""
    from .hessian import noun, title

    loss = h.network.loss_symbol
    yield _line("Network: ", h.network.summary(), prose=True)
    yield _line(f"{title(h)}: {noun(h.pair_count, 'pair')} of paths from {h.first} and {h.second}", style="bold")
    for i, pair in enumerate(h.pairs, start=1):
        yield Line(f"  pair {i}: {pair.arrow(0)} | {pair.arrow(1)} (meet at {pair.meet.name})", "green")
        yield Line(f"    {pair.partials(loss)} = {expr(pair.term)}")
    if not h.path_pairs.listed_all:
        yield Line(f"  ... {more_paths(h.pair_count - len(h.pairs)).replace('path', 'pair')} not shown (raise --max-paths to see them)",
                   "yellow", prose=True)
    yield _line("Sum over pairs: ", f"{title(h)} = {expr(h.path_pairs.local)}")
    yield Line(f"  ({h.path_pairs.how})", "dim", prose=True)
    yield _line("Second-order backprop (R = d/d" + h.second.name + "): ", f"{title(h)} = {expr(h.backprop.entry)} = {expr(h.backprop.local)}")
    for eq in h.backprop.forward:
        yield Line(f"  {eq.lhs} = {expr(eq.rhs)}")
    for eq in h.backprop.deltas:
        yield Line(f"  {eq.lhs} = {expr(eq.rhs)}")
    shown, full, checked = h.direct_shown
    if shown is None:
        yield _line("Direct: ", "not printed (too large; compared in full by the verdict)")
    else:
        label = "Direct: " if full else "Direct (whole neurons written as their symbols): "
        yield _line(label, f"{title(h)} {'=' if checked is None or checked.equal else '=?'} {expr(shown)}")
    yield verdict(h.verdict)
    for note in h.notes:
        yield Line(f"Note: {note}", "dim", prose=True)


def hessian_values(at) -> Iterator[Line]:
    """The three numbers after the entry."""
    how = "exact" if at.exact else "50 digits"
    batch = f", {at.reduction} over {at.samples} samples" if at.samples > 1 else ""
    yield _line(f"At the given values ({how}{batch}):", style="bold")
    from .hessian import numbers

    for name, n in numbers(at):
        yield Line(f"  {name}: {n}")
    if not at.agree:
        yield Line("  Warning: the three numbers differ past their rounding", "bold red", prose=True)


def hessian_matrix_lines(m) -> Iterator[Line]:
    """A full Hessian's sections as lines (see :func:`derivchain.renderers.hessian.matrix_sections`)."""
    from .hessian import matrix_sections

    yield _line("Network: ", m.network.summary(), prose=True)
    for heading, content in matrix_sections(m):
        if content is None:
            style = "bold green" if heading.startswith("Verified") else "bold red" if heading.startswith("NOT") else ""
            yield Line(heading, style, prose=True)
        elif isinstance(content, str):
            yield Line(f"{heading}: {content}", prose=True)
        elif content and isinstance(content[0], tuple) and len(content[0]) == 2 and isinstance(content[0][0], str):
            yield Line(f"{heading}:", "bold")
            for name, value in content:
                yield Line(f"  {name} = {value}")
        else:
            yield Line(f"{heading}:", "bold")
            for p, row in zip(m.parameters, content):
                yield Line(f"  {p.name}: " + ", ".join(str(v) for v in row))
