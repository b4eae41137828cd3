"""JSON: stable keys, JSON objects and numbers (never Python reprs), expressions as text that parses back.

:class:`JsonRenderer` has a method for each kind of result returning one JSON-ready object, and dumps it
(a table streams its rows as the elements of one array).
"""

from __future__ import annotations

import json as _json

import sympy as sp

from .. import memo
from .base import Renderer
from .fitting import fits, too_large_note, tree_size
from .latex import DerivPrinter, printer_for
from .latex import form as latex_form
from ..engines.paths import Path
from ..verification.derivation import Table
from .text import expr, partials, remembered
from .shown import checked as all_checked, notes as derivation_notes, shown as shown_of


def dumps(obj, printed: Printed | None = None, level: int = 0) -> str:
    """JSON text, keys in insertion order, two-space indent (deterministic): ``json.dumps(obj, indent=2,
    ensure_ascii=False)`` with every line after the first set in ``level`` steps more; the parts a table's
    rows share (``printed``'s) are written once a table and their text reused, as they were printed once."""
    if printed is None:
        text = _json.dumps(obj, indent=2, ensure_ascii=False)
        return text.replace("\n", "\n" + "  " * level) if level else text
    parts: list[str] = []
    _encode(obj, level, parts, printed)
    return "".join(parts)


_STRING = _json.encoder.encode_basestring  # ensure_ascii=False's, in C


def _encode(o, level: int, parts: list, printed: Printed) -> None:
    """``o`` as ``json.dumps(indent=2)`` writes it at nesting ``level`` (the same bytes), into ``parts``."""
    kind = type(o)
    if kind is str:
        parts.append(_STRING(o))
    elif kind is dict or kind is list or kind is tuple:
        text = printed.text_of(o, level)
        if text is not None:
            parts.append(text)
            return
        start = len(parts)
        if not o:
            parts.append("{}" if kind is dict else "[]")
        else:
            inner = "\n" + "  " * (level + 1)
            following = "," + inner
            if kind is dict:
                parts.append("{")
                for i, (key, item) in enumerate(o.items()):
                    if type(key) is not str:
                        raise TypeError("JSON object keys here are text")
                    parts.append((following if i else inner) + _STRING(key) + ": ")
                    if type(item) is str:
                        parts.append(_STRING(item))
                    else:
                        _encode(item, level + 1, parts, printed)
                parts.append("\n" + "  " * level + "}")
            else:
                parts.append("[")
                for i, item in enumerate(o):
                    parts.append(following if i else inner)
                    if type(item) is str:
                        parts.append(_STRING(item))
                    else:
                        _encode(item, level + 1, parts, printed)
                parts.append("\n" + "  " * level + "]")
        printed.keep_text(o, level, parts, start)
    elif o is None or o is True or o is False:
        parts.append("null" if o is None else "true" if o else "false")
    elif isinstance(o, str):  # a subclass (words that also carry their mathematics): its text
        parts.append(_STRING(str(o)))
    elif isinstance(o, (int, float)):
        parts.append(_json.dumps(o))
    elif isinstance(o, (dict, list, tuple)):  # their subclasses: as json.dumps writes them
        _encode(dict(o) if isinstance(o, dict) else list(o), level, parts, printed)
    else:
        raise TypeError(f"not JSON: {type(o).__name__}")


def _printer(network) -> DerivPrinter:
    return printer_for(network)  # one printer (and memo of printed subexpressions) per network, as LaTeX


def _path(path, printer: DerivPrinter | None = None) -> dict:
    out = {
        "nodes": [s.name for s in path.nodes],
        "factors": [{"partial": str(f), "value": expr(f.value)} for f in path.factors],
        "term": expr(path.term),
    }
    if printer is not None:
        out["latex"] = printer._print(path) + " = " + printer.product([f.value for f in path.factors])
    return out


def _chain(c) -> dict:
    lhs = partials(c.lhs) if isinstance(c.lhs, Path) else expr(c.lhs)
    return {"lhs": lhs, "forms": [expr(f) for f in c.forms], "verified": c.verified,
            "reasons": [r for r in c.reasons[1:]]}


class Printed:
    """The pieces every row of one network's table prints alike (each delta equation, the network's
    delta and loss chains), printed once and reused by identity: one per table (or ``grad``), dropped
    with it, bounded as every printer memo is (see :func:`remembered`)."""

    def __init__(self):
        self._memo = memo.Memo(memo.PRINTED)
        self._made = memo.Memo(memo.JSON_MADE)  # id of each object once() made -> [the object, {level: its JSON text}]

    def once(self, kind: str, obj, make):
        """``make()`` for ``obj`` the first time ``kind`` of it is asked for; the same object after."""
        # Keyed by identity, the object kept beside its value so its id stays its own: the network
        # caches these objects, so every row hands over the same ones.
        made = remembered(self._memo, (kind, id(obj)), lambda: (obj, make()))[1]
        if isinstance(made, (dict, list)) and id(made) not in self._made:
            self._made.room()[id(made)] = [made, {}]
        return made

    def text_of(self, o, level: int) -> str | None:
        """The JSON text of a shared part at ``level``, once it was written there."""
        hit = self._made.get(id(o))
        return None if hit is None or hit[0] is not o else hit[1].get(level)

    def keep_text(self, o, level: int, parts: list, start: int) -> None:
        """Remember the JSON text of a shared part (``parts[start:]``), to write it again as it is."""
        hit = self._made.get(id(o))
        if hit is not None and hit[0] is o:
            text = "".join(parts[start:])
            parts[start:] = [text]
            hit[1][level] = text


def _delta(eq, cond=None, chain=None) -> dict:
    """One delta equation; ``cond``: its textbook form under a condition on the targets; ``chain``: its
    printed chain, and whether it was shown."""
    out = {"delta": eq.delta.name, "rhs": expr(eq.rhs_form), "value": expr(eq.value), "rewrite": eq.rewrite}
    if chain is not None:
        out["verified"] = chain.verified
    if cond is not None:
        out["conditional"] = {"condition": cond.condition, "equation": f"{expr(cond.equation[0])} = {expr(cond.equation[1])}", "value": expr(cond.value),
                              "verified": cond.verdict.equal}
    return out


def _chains(d, printed: Printed) -> list[dict]:
    """Every chain of the derivation; the network's own (its deltas', its loss's) printed once a table."""
    # Asked for last: built before the derivation's other forms, the delta chains left its entry chain
    # comparing equal but distinct deep copies (2 s a row on a 10-step RNN).
    shared = {id(c) for c in (*d.delta_chains, *d.loss_chains)}
    return [printed.once("chain", c, lambda c=c: _chain(c)) if id(c) in shared else _chain(c) for c in d.chains()]


class _Sized:
    """The one printing rule (README, Limits): a fully substituted form is printed in full up to
    ``SHOW_FULL_NODES`` nodes written out (as text and LaTeX print the direct result), else with whole
    neurons as their symbols when that fits the ``printed_nodes`` limit, else null; a form in neuron
    symbols is printed when it fits that limit, else null. The keys ``printed_in_neuron_symbols`` and
    ``not_printed`` say which rule each key fell under; ``forms`` keeps what was printed (the LaTeX keys
    print the same object, so no format expands what another prints compactly)."""

    def __init__(self, network):
        self.network, self.compacted, self.omitted, self.forms = network, [], [], {}

    def __call__(self, key: str, e, substituted: bool = False, compact=None, big: bool | None = None):
        """``big``: whether ``e`` is past the full-printing limit, when the caller knows (``e`` may then
        be a thunk, built only when printed in full)."""
        from .shown import SHOW_FULL_NODES

        if big is None:
            big = substituted and tree_size(e, SHOW_FULL_NODES, self.network.sizes()) > SHOW_FULL_NODES
        elif not big and not isinstance(e, sp.Basic):
            e = e()
        shown = e
        if big:
            shown = self.network.compact(e) if compact is None else compact
            if shown is not e:
                self.compacted.append(key)
        if not fits(shown):
            if self.compacted and self.compacted[-1] == key:
                self.compacted.pop()
            self.omitted.append(key)
            shown = None
        self.forms[key] = shown
        return None if shown is None else expr(shown)

    def omit(self, key: str) -> None:
        """``key`` not printed (too large to write even with whole neurons as symbols)."""
        self.omitted.append(key)
        self.forms[key] = None

    def latex(self, printer, key: str) -> str:
        """The LaTeX of what ``key`` printed (the printing-limit note when it printed nothing)."""
        shown = self.forms[key]
        return latex_form(printer, self.forms[key]) if shown is not None else r"\text{[%s]}" % printer.text(too_large_note())


def _number(n) -> float | None:
    # JSON has no infinity or NaN: a value too large for a double is given as null.
    value = float(n)  # Number.__float__: +-inf past the doubles' range
    return value if value == value and abs(value) != float("inf") else None


def values(at) -> dict:
    """The numbers of a derivation (floats; ``exact`` says whether they were computed exactly)."""
    return {
        "exact": at.exact,
        "neurons": {name: {"z": None if z is None else _number(z), "output": _number(o)} for name, z, o in at.neurons},
        "loss": _number(at.loss),
        "paths": [{"factors": [_number(f) for f in fs], "term": _number(t)} for fs, t in at.paths],
        "path_sum": _number(at.path_sum),
        "backprop": _number(at.backprop),
        "direct": _number(at.direct),
        "agree": at.agree,
        "text": {"loss": str(at.loss), "path_sum": str(at.path_sum), "backprop": str(at.backprop), "direct": str(at.direct)},
    }


def table_row(d, printed: Printed | None = None) -> dict:
    """One row of ``table``: the full ``grad`` object of that parameter (``printed``: what the rows
    of one table share, see :class:`Printed`)."""
    return JsonRenderer().derivation(d, printed)


def table_rows(table):
    """Each row of ``table`` as (derivation, its ``grad`` object), derived one by one; what the rows
    share is printed once for the whole table and dropped after it."""
    printed = Printed()
    for d in table.rows:
        yield d, table_row(d, printed)


def table_texts(table, level: int = 1):
    """Each row of ``table`` as (derivation, its ``grad`` object's JSON text set in ``level`` steps, as
    an element of the table's array): the shared parts' text written once a table, like their values."""
    printed = Printed()
    for d in table.rows:
        yield d, dumps(table_row(d, printed), printed, level)


def table_head(table) -> dict:
    """What a table in delta form opens with: the network, what each verification method shows (said once: each
    row names its method) and every delta equation, each in the next layer's deltas (its verified chain's first
    form) and whether it was verified."""
    from ..verification.compare import METHODS

    return {"network": table.network.summary(), "methods": dict(METHODS),
            "deltas": [{"delta": expr(c.lhs), "rhs": expr(c.forms[0]), "verified": c.verified} for c in table.deltas]}


def delta_row(d) -> dict:
    """One row of a table in delta form: the gradient as source times delta (the verified entry chain's first
    form), ``equal`` when the three forms and the delta form were shown equal, how, and the verdict in short
    (see :func:`row_verdict`)."""
    return {"parameter": d.parameter.name, "path_count": d.path_count, "gradient": expr(d.delta_form),
            "equal": Table.row_equal(d), "method": d.verdict.method, "verdict": row_verdict(d)}


def row_verdict(d) -> str:
    """A row's verdict as the table's other formats print it (``equal``; the method's meaning is in the table's
    ``methods``), or, for a row not shown equal, its whole sentence: the counterexample or reason that row alone
    has (``NOT shown: ...`` when its delta form was not shown equal to the gradient)."""
    if not d.verdict.equal:
        return d.verdict.detail
    if not d.entry_chain.verified:
        return "NOT shown: " + next(v.detail for v in d.entry_chain.links if not v.equal)
    return d.verdict.word


def _entries(m):
    """A matrix's entries: numbers at values, expression text otherwise; a column as a flat list."""
    from ..engines.matrix import rows
    from ..model.values import Number

    if m is None:
        return None
    out = [[_number(v) if isinstance(v, Number) else expr(v) for v in row] for row in rows(m)]
    return out


def _column(m):
    entries = _entries(m)
    return None if entries is None else [row[0] for row in entries]


def _layer(layer, z, a, f_prime, delta) -> dict:
    """One layer's JSON: the same keys for one sample (columns) and a batch (a column per sample)."""
    return {
        "layer": layer.index,
        "neurons": list(layer.names),
        "W": _entries(layer.W),
        "b": _column(layer.b),
        "z": z,
        "a": a,
        "f_prime": f_prime,
        "delta": delta,
        "delta_names": [f"delta_{x}" for x in layer.names],
        "grad_W": _entries(layer.grad_W),
        "grad_b": _column(layer.grad_b),
        "weights": [list(r) for r in layer.weights],
        "biases": None if layer.biases is None else list(layer.biases),
        "shapes": _shapes(layer),
    }


#: The layer attributes' names where the JSON layer keys differ (a batch's Z, A, Delta are its z, a, delta).
_LAYER_KEYS = {"Z": "z", "A": "a", "A_prev": "a_prev", "fprime": "f_prime", "Delta": "delta"}


def _shapes(layer) -> dict:
    """Each matrix's [rows, columns], under the key the layer's entries have (``f_prime``, ``delta``)."""
    return {_LAYER_KEYS.get(k, k): list(v) for k, v in layer.shapes.items()}


def _l2(m) -> dict:
    """``l2``: lambda and the term each ``grad_W`` includes (None without --l2)."""
    from .text import l2_term

    return {"l2": None if m.l2 is None else {"lambda": str(m.l2), "term": l2_term(m).removeprefix(" + ")}}


def _entry_check(c) -> dict:
    return {"verified": c.verified, "total": c.total, "equal": c.equal, "methods": dict(c.methods), "compared_with": c.against,
            "failures": list(c.failures)}


class JsonRenderer(Renderer):
    """JSON: each kind as one JSON-ready object, dumped by :func:`dumps`; a table as one array whose
    elements (each row's ``grad`` object) are written as each row is derived."""

    def write(self, obj, out) -> None:
        """The object as JSON text, then a newline."""
        out.write(dumps(obj) + "\n")

    def write_part(self, part: str, out) -> None:
        """A part of a table's array, as it is."""
        out.write(part)

    def table(self, table):
        """``derivchain table``: one object, ``network``, ``deltas`` and ``rows`` (each row in delta form, see
        :func:`delta_row`), written row by row; ``table.expand``: an array of every parameter's ``grad`` object
        (see :func:`table_texts`)."""
        if table.expand:
            yield "[", None
            for i, (d, row) in enumerate(table_texts(table)):
                yield ("," if i else "") + "\n  " + row, d
            yield "\n]\n", None
            return
        head = dumps(table_head(table))
        yield head[:-2] + ',\n  "rows": [', None  # the head object, open for its rows (as json.dumps writes the whole)
        for i, d in enumerate(table.rows):
            yield ("," if i else "") + "\n    " + dumps(delta_row(d), level=2), d
        yield "\n  ]\n}\n", None

    def derivation(self, d, printed: Printed | None = None) -> dict:
        """The ``grad`` contract: weight, loss, the three forms, paths, deltas, verdict and LaTeX.

        ``printed`` keeps what a table's rows share (see :class:`Printed`): each row's object is the same,
        only printed once."""
        printed = Printed() if printed is None else printed
        printer = _printer(d.network)
        sized = _Sized(d.network)
        network = d.network
        out = {
            "weight": d.parameter.name,
            "network": printed.once("summary", network, network.summary),
            "loss": printed.once("loss", network, lambda: expr(network.loss_local)),
            "l2": None if network.l2 is None else str(network.l2),  # lambda, exactly ("1/10"); the term is in loss
            "path_count": d.path_count,
            # The direct form's size is the derivation's to decide (a wide network's is never built per weight).
            # Past the size where compaction is not attempted, as text and LaTeX: not printed.
            "direct": sized("direct", lambda: d.direct.value, True, None if shown_of(d).direct_in_full else shown_of(d).direct_compact,
                            big=not shown_of(d).direct_in_full) if shown_of(d).direct_in_full or shown_of(d).direct_compactable else sized.omit("direct"),
            # As text and LaTeX print it: in full when short, else with whole neurons as their symbols.
            "direct_shown": None if shown_of(d).direct_shown is None else expr(shown_of(d).direct_shown),
            "direct_shown_as": None if shown_of(d).direct_shown is None else ("full" if shown_of(d).direct_in_full else "neuron symbols"),
            # A form's substituted value is substitute(local) by definition, so in neuron symbols it is its
            # own local form: nothing to compact (a fresh walk of the substituted tree per row).
            "path_sum": sized("path_sum", d.path_sum.substituted, True, d.path_sum.local),
            "path_sum_local": sized("path_sum_local", d.path_sum.local),
            "path_sum_how": d.path_sum.how,
            "paths_listed": len(d.paths),
            "backprop": sized("backprop", d.backprop.local),
            "backprop_substituted": sized("backprop_substituted", d.backprop.substituted, True, d.backprop.local),
            "deltas": [printed.once("delta", eq, lambda eq=eq: _delta(eq, d.conditional(eq.delta))) for eq in d.backprop.deltas],
            "paths": [_path(path, printer) for path in d.paths],
            "cases": [{"condition": c.condition, "value": expr(c.value)} for c in d.cases()],
            "equal": d.verdict.equal,
            "method": d.verdict.method,
            "proof": d.verdict.proof,
            "decided": d.verdict.decided,
            "verdict": d.verdict.detail,
            "checked": all_checked(d),
            "chains": _chains(d, printed),
            "notes": list(derivation_notes(d)),
            "latex": {
                "direct": sized.latex(printer, "direct"),
                "path_sum": sized.latex(printer, "path_sum"),
                "path_sum_local": sized.latex(printer, "path_sum_local"),
                "backprop": sized.latex(printer, "backprop"),
                "paths": [printer._print(path) for path in d.paths],
                "derivation": printer._print(d),  # the aligned block, as render/latex.py prints it
            },
        }
        # One rule for every format: past the printing limit, substituted forms are given in neuron
        # symbols, others are null; these keys say which.
        out["printed_in_neuron_symbols"] = sized.compacted
        out["not_printed"] = sized.omitted
        return out

    def derivation_at_values(self, at) -> dict:
        """``grad --values``: the derivation with its numbers under ``at_values``."""
        out = self.derivation(at.derivation)
        out["at_values"] = values(at)
        return out

    def batch_at_values(self, b) -> dict:
        """``grad --values`` with a batch: ``at_values`` holds the batch's three results (reduced over samples)
        and ``samples``, each sample's."""
        out = self.derivation(b.derivation)
        each = [{"loss": _number(s.loss), "direct": _number(s.direct), "path_sum": _number(s.path_sum),
                 "backprop": _number(s.backprop), "agree": s.agree} for s in b.samples]
        from .text import batch_form

        def number(n):  # None: a leaf each sample has its own of has no batch value
            return None if n is None else _number(n)

        def text(n):
            return None if n is None else str(n)

        out["at_values"] = {
            "exact": b.exact,
            "reduction": b.reduction,
            "m": len(b.samples),
            "form": batch_form(b),
            "loss": _number(b.loss),
            "direct": number(b.direct),
            "path_sum": number(b.path_sum),
            "backprop": number(b.backprop),
            "agree": b.agree,
            "samples": each,
            "text": {"loss": str(b.loss), "path_sum": text(b.path_sum), "backprop": text(b.backprop), "direct": text(b.direct)},
            "note": b.note or None,
        }
        return out

    def paths(self, listing) -> dict:
        """The ``paths`` command: the weight, how many paths, and each listed path."""
        printer = _printer(listing.network)
        return {"weight": listing.parameter.name, "count": listing.count, "paths": [_path(p, printer) for p in listing.paths]}

    def network(self, net) -> dict:
        """The ``show`` contract: names by role, each neuron's equation, the loss, the outputs nested and expanded."""
        expanded = {n.name: net.expanded_output(n) for n in net.outputs}
        shapes = {} if net.matrix is None else {"shapes": {name: list(shape) for name, shape in net.matrix.shapes}}
        return {
            **shapes,  # a matrix graph's: every matrix's [rows, cols], leaves then nodes
            "summary": net.summary(),
            "layers": list(net.layers),
            "notation": net.notation.name,
            "inputs": [s.name for s in net.inputs],
            "hidden": [n.name for n in net.hidden],
            "outputs": [n.name for n in net.outputs],
            "weights": [s.name for s in net.weights],
            "biases": [s.name for s in net.biases],
            "targets": [s.name for s in net.targets],
            "parameters": [s.name for s in net.parameters],
            "shared": {p.name: [u.name if u is not None else net.loss_symbol.name for u in net.uses[p]] for p in net.shared},
            "equations": {n.name: expr(n.equation) for n in net.neurons},
            "loss": expr(net.loss_local),
            "outputs_nested": {n.name: expr(net.substitution[n.symbol]) for n in net.outputs},
            "outputs_expanded": {name: None if e is None else expr(e) for name, e in expanded.items()},
        }

    def formula(self, f) -> dict:
        """The general equations (text and LaTeX) and, for a parameter, their instance."""
        out = {"notation": f.notation, "general": f.text, "general_latex": f.latex}
        bp = f.instance
        if bp is not None:
            from .text import verified_chains

            _, *chains = verified_chains(f)
            out["weight"] = bp.parameter.name
            out["instance"] = {
                "gradient": bp.gradient_text,
                "deltas": [_delta(eq, f.conditionals.get(eq.delta), c) for eq, c in zip(bp.deltas, chains)],
                "value": expr(bp.local),
            }
        return out

    def steps(self, s) -> dict:
        """The step-by-step derivation: each line's expression and reason, and whether it was checked."""
        return {
            "weight": s.parameter.name,
            "steps": [{"expr": expr(st.expr), "reason": st.reason} for st in s.steps],
            "verified": s.verified,
        }

    def descent(self, r) -> dict:
        """The ``step`` contract: lr, loss before and after, each gradient and updated value."""
        first, last = r.steps[0], r.steps[-1]
        return {
            "lr": float(r.lr),
            "l2": None if getattr(r.network, "l2", None) is None else str(r.network.l2),
            "steps": len(r.steps),
            "exact": r.exact,
            "frozen": list(r.frozen),
            "loss": _number(first.loss),
            "gradients": {k: _number(v) for k, v in first.gradients.items()},
            "updated": {k: _number(v) for k, v in last.updated.items()},
            "loss_after": _number(last.loss_after),
            "losses": [_number(s.loss) for s in r.steps] + [_number(last.loss_after)],
            **({"reduction": r.reduction, "samples": r.samples, "batch_size": r.batch_size or r.samples, "epochs": r.epochs}
               if r.samples else {}),
        }

    def matrix(self, m) -> dict:
        """The ``matrix`` contract: per layer ``W``, ``b``, ``z``, ``a``, ``delta``, ``grad_W``, ``grad_b`` (rows of
        numbers at values, of expression text otherwise; columns as flat lists) and their shapes, then the check."""
        layers = []
        for layer in m.layers:
            layers.append(_layer(layer, _column(layer.z_shown or layer.z), _column(layer.a), _column(layer.fprime),
                                 _column(layer.delta_shown or layer.delta)) | {"rewrite": layer.rewrite})
        return {
            "network": m.network.summary(),
            "notation": m.network.notation.name,
            "at_values": m.at_values,
            "exact": m.exact if m.at_values else None,
            "loss": None if m.loss_value is None else _number(m.loss_value),
            "inputs": _column(m.inputs),
            "grad_a": _column(m.grad_a),
            "layers": layers,
            **_l2(m),
            **_entry_check(m.check),
            "conditional": None if not m.conditionals else {
                "condition": m.conditionals[0].condition,
                "equation": f"{expr(m.conditionals[0].equation[0])} = {expr(m.conditionals[0].equation[1])}",
                "delta": [expr(c.value) for c in m.conditionals], "verified": all(c.verdict.equal for c in m.conditionals)},
        }

    def matrix_gradient(self, g) -> dict:
        """``grad WQ`` on a matrix graph: the issue's contract (parameter, shape, form, chain from the loss back,
        verified; with values at_values in the leaf's shape)."""
        from .matrix_forms import rows_numbers

        out = {"parameter": g.parameter, "shape": list(g.shape), "form": g.form,
               "chain": [{"node": e.name, "form": e.form, "shape": list(e.shape), "verified": e.verified,
                          "method": e.method, "rewrite": e.rewrite} for e in g.chain],
               "verified": g.verified}
        out["entries"] = {"checked": g.entries.checked, "method": g.entries.method, "verified": g.entries.verified,
                          "failed": [name for name, _ in g.entries.failed], "summary": g.entries.summary}
        if g.at_values is not None:
            out["at_values"] = rows_numbers(g.at_values)
            out["chain_at_values"] = {e.name: rows_numbers(e.values) for e in g.chain}
        return out

    def batch_matrix(self, b) -> dict:
        """The ``matrix`` contract over a batch: the same ``layers`` keys, ``z``, ``a``, ``f_prime`` and ``delta`` matrices
        with a column per sample (lists of rows), ``grad_W`` and ``grad_b`` the ``reduction`` over the ``m`` samples."""
        layers = []
        for layer in b.layers:
            layers.append(_layer(layer, _entries(layer.Z), _entries(layer.A), _entries(layer.fprime), _entries(layer.Delta)))
        return {
            "network": b.network.summary(),
            "notation": b.network.notation.name,
            "at_values": True,
            "exact": b.exact,
            "m": b.size,
            "samples": b.size,
            "reduction": b.reduction,
            "loss": _number(b.loss_value),
            "inputs": _entries(b.inputs),
            "grad_a": _entries(b.grad_A),
            "layers": layers,
            **_l2(b),
            **_entry_check(b.check),
        }

    def verdict(self, v) -> dict:
        """A verdict alone, with the keys a ``grad`` object gives it, its forms' names and any counterexample."""
        counter = v.counterexample or {}
        return {"equal": v.equal, "method": v.method, "proof": v.proof, "decided": v.decided, "verdict": v.detail,
                "forms": list(v.forms),
                "counterexample": {"point": dict(counter["point"]), "values": list(counter["values"]),
                                   "difference": counter["difference"]} if counter else None}

    def chain(self, c) -> dict:
        """A chain alone, as the ``chains`` of a ``grad`` object list each."""
        return _chain(c)

    def autograd(self, c) -> dict:
        """``autograd``: entries, all_agree, first_disagreement (see renderers/autograd.py)."""
        from .autograd import json_object

        return json_object(c, expr)

    def check(self, c) -> dict:
        """The ``check`` contract: ``parameter``, ``answer``, ``expected``, ``correct``, ``correct_where``, ``diagnosis``,
        ``counterexample``, ``verdict``; with steps, ``steps`` and ``first_wrong_line``; ``readings`` where a partial
        was read as a local partial that differs from the total derivative."""
        cx = c.counterexample
        out = {
            "parameter": c.parameter.name,
            "answer": expr(c.answer),
            "expected": expr(c.expected),
            "correct": c.correct,
            "correct_where": c.correct_where,
            "diagnosis": [_finding(f) for f in c.diagnosis],
            "counterexample": None if cx is None else {"values": {k: _number(v) for k, v in cx.values.items()},
                                                       "answer_value": _number(cx.answer), "expected_value": _number(cx.expected)},
            "verdict": c.sentence,
        }
        if c.readings:
            out["readings"] = [{"partial": r.text, "read_as": r.read_as, "local": expr(r.local), "total": expr(r.total),
                                "through": r.through.name} for r in c.readings]
        if c.steps is not None:
            out["steps"] = [{"line": s.line, "text": s.text, "equal_to_previous": s.equal_to_previous,
                             "equal_to_derivative": s.equal_to_derivative} for s in c.steps]
            out["first_wrong_line"] = c.first_wrong_line
        return out

    def hessian(self, h) -> dict:
        """The ``hessian P Q`` contract (see :func:`derivchain.renderers.hessian.json_object`)."""
        return hessian_object(h)

    def hessian_matrix(self, m) -> dict:
        """The ``hessian --values`` contract: ``parameters``, ``matrix``, ``gauss_newton``, ``residual``, ``regulariser``
        (lambda*I on the weights with --l2, else null), ``symmetric``, ``eigenvalues``; ``newton_step`` with --newton, ``hessian_vector_product`` with --direction."""
        return hessian_matrix_object(m)

    def hessian_at_values(self, at) -> dict:
        """``hessian P Q --values``: the entry's object with ``at_values``."""
        return hessian_values(at)

    def exercise(self, ex) -> dict:
        """An exercise sheet: the seed, the network and the options that build it, the questions (with ``solutions``,
        each answer and its paths) and the gradient step (with ``solutions``, its numbers)."""
        from .text import exercise_step_question

        shown = ex.solutions
        return {
            "seed": ex.seed,
            "network": ex.network.summary(),
            "options": ex.options,
            "solutions": shown,
            "questions": [{"parameter": d.parameter.name, "question": f"Find {expr(d.lhs)}.",
                           "answer": expr(d.backprop.local) if shown else None,
                           "paths": [p.arrow() for p in d.paths] if shown else None,
                           "verified": d.verdict.equal if shown else None} for d in ex.derivations],
            "step": {"parameter": ex.stepped.name, "question": exercise_step_question(ex),
                     "values": {s.name: _number(v) for s, v in ex.values.items()}, "lr": float(ex.lr),
                     "loss": _number(ex.at.loss) if shown else None, "gradient": _number(ex.at.backprop) if shown else None,
                     "updated": _number(ex.updated) if shown else None},
        }


def _finding(f) -> dict:
    """One finding of a check's diagnosis: ``kind`` and ``detail``, and ``path``, ``found``, ``expected`` where they apply."""
    out = {"kind": f.kind, "detail": f.detail}
    if f.path is not None:
        out["path"] = list(f.path)
    if f.found is not None:
        out["found"] = expr(f.found)
    if f.expected is not None:
        out["expected"] = expr(f.expected)
    return out


# --- hessian P Q (issue 24) ---------------------------------------------------------------------------

def hessian_object(h) -> dict:
    """The ``hessian P Q`` contract: parameters, the three forms, the pairs, their count, the verdict."""
    return {
        "parameters": [h.first.name, h.second.name],
        "network": h.network.summary(),
        "direct": expr(h.direct.local),
        "direct_shown": None if h.direct_shown[0] is None else expr(h.direct_shown[0]),
        "direct_shown_as": None if h.direct_shown[0] is None else "full" if h.direct_shown[1] else "neuron symbols",
        "path_pairs": expr(h.path_pairs.local),
        "path_pairs_how": h.path_pairs.how,
        "backprop": expr(h.backprop.local),
        "backprop_entry": expr(h.backprop.entry),
        "r_equations": [{"lhs": eq.lhs.name, "rhs": expr(eq.rhs)} for eq in (*h.backprop.forward, *h.backprop.deltas)],
        "pairs": [{"first": [s.name for s in pair.first], "second": [s.name for s in pair.second], "meet": pair.meet.name,
                   "term": expr(pair.term)} for pair in h.pairs],
        "pair_count": h.pair_count,
        "equal": h.verdict.equal,
        "method": h.verdict.method,
        "verdict": h.verdict.detail,
        "notes": list(h.notes),
    }


def hessian_values(at) -> dict:
    """``hessian P Q --values``: the entry's object with ``at_values``."""
    out = hessian_object(at.entry)
    out["at_values"] = {"direct": _number(at.direct), "path_pairs": _number(at.path_pairs), "backprop": _number(at.backprop),
                        "exact": at.exact, "agree": at.agree, "samples": at.samples, "reduction": at.reduction,
                        "text": {"direct": str(at.direct), "path_pairs": str(at.path_pairs), "backprop": str(at.backprop)}}
    return out


def hessian_matrix_object(m) -> dict:
    """A full Hessian as JSON: numbers as doubles (null past their range), exact values as text beside them."""
    def rows(matrix):
        return None if matrix is None else [[_number(v) for v in row] for row in matrix]

    names = [p.name for p in m.parameters]
    out = {
        "parameters": names,
        "network": m.network.summary(),
        "matrix": rows(m.matrix),
        "gauss_newton": rows(m.gauss_newton),
        "residual": rows(m.residual),
        "regulariser": rows(m.regulariser),
        "split": m.split or None,
        "symmetric": m.symmetric,
        "eigenvalues": list(m.eigenvalues),
        "gradient": {name: _number(g) for name, g in zip(names, m.gradient)},
        "exact": m.exact,
        "samples": m.samples,
        "reduction": m.reduction,
        "verified": m.verified,
        "detail": m.detail,
        "text": {"matrix": [[str(v) for v in row] for row in m.matrix]},
    }
    if m.newton:
        out["newton_step"] = None if m.newton_step is None else {name: _number(s) for name, s in zip(names, m.newton_step)}
        out["newton_note"] = m.newton_note or None
    if m.hessian_vector_product is not None:
        out["direction"] = {name: str(v) for name, v in m.direction}
        out["hessian_vector_product"] = {p.name: _number(v) for p, v in zip(m.network.parameters, m.hessian_vector_product)}
        out["hessian_vector_product_checked"] = m.hvp_checked
    if m.notes:  # only at a kink (the key is absent elsewhere, as before)
        out["notes"] = list(m.notes)
    return out


class JsonLinesRenderer(JsonRenderer):
    """JSON Lines: each result as one line of JSON; a table as a first line with the network and the deltas,
    then one line per row as each row is derived (in delta form, or with ``table.expand`` its ``grad`` object)."""

    def write(self, obj, out) -> None:
        """The object as one line of JSON."""
        out.write(_json.dumps(obj, ensure_ascii=False) + "\n")

    def table(self, table):
        """``derivchain table --format jsonl``: the head line, then a line per row."""
        yield _json.dumps(table_head(table), ensure_ascii=False) + "\n", None
        for d in table.rows:
            row = table_row(d) if table.expand else delta_row(d)
            yield _json.dumps(row, ensure_ascii=False) + "\n", d
