"""The mistakes learners make in a chain-rule derivation, as data: each a kind, a way to change a
derivation written path by path, and the words that describe the change.

A :class:`Sketch` is dLoss/dleaf as a learner writes it: one :class:`Term` per path, each the product
of its :class:`Part` s (dLoss/dOut, each node's activation derivative f'(z), each edge's dz/dx), times
a constant. :func:`sketch` builds the true one from the paths (:mod:`derivchain.engines.paths`), with
the activation derivatives of :mod:`derivchain.model.activations` and the loss's own derivative. Each
entry of :data:`MISTAKES` turns a sketch into wrong ones, each with the :class:`Finding` that names
what was changed; :func:`changes` runs the table in order, simplest first. Which changed sketch an
answer is, and whether it is at all, is the verifier's to say (:mod:`derivchain.verification.check`).
"""

from __future__ import annotations

from dataclasses import field
from functools import cached_property
from fractions import Fraction
from typing import Callable, Iterator

import sympy as sp

from ..record import record
from ..symbolic.build import add, mul
from ..model.activations import get_activation
from ..model.network import Network
from .paths import count_paths, iter_paths

#: Most paths a derivative may have for the diagnosis to change it path by path.
MAX_PATHS = 64
#: Most other factors tried in place of one factor (the same node's other inputs, the source's other edges).
MAX_ALTERNATIVES = 12
#: Most other parameters whose paths are tried as an extra term.
MAX_NEIGHBOURS = 6


@record(repr=False)
class Part:
    """One factor of a path's term: ``role`` ``loss`` (dLoss/dOut), ``activation`` (the node's f'(z)) or
    ``edge`` (d(node's z)/d(source): a weight, a source's value, 1 for a bias), and its value in neuron symbols."""

    role: str
    node: sp.Symbol  # the node the factor belongs to (the loss symbol for dLoss/d...)
    source: sp.Symbol | None  # what it differentiates by (an edge's source; the output for the loss)
    value: sp.Expr

    def __repr__(self) -> str:
        return f"Part({self.role} {self.node}/{self.source} = {self.value})"


@record(repr=False)
class Term:
    """One path's term: its nodes (the leaf first, the loss last), its parts, and how often it is counted
    (-1: its sign flipped, 2: counted twice); ``extra``: a path of another leaf, added by mistake."""

    nodes: tuple[sp.Symbol, ...]
    parts: tuple[Part, ...]
    count: int = 1
    extra: bool = False

    @cached_property  # a term is shared by the many changed sketches made from one, and its words name its value
    def product(self) -> sp.Expr:
        """The product of the parts (without ``count``)."""
        return mul(*(p.value for p in self.parts))

    @cached_property
    def value(self) -> sp.Expr:
        """The term as it counts in the sum."""
        return self.product if self.count == 1 else self.count * self.product

    @cached_property
    def text(self) -> str:
        """The value as text (printed once: the words of a finding are made for every changed sketch)."""
        return str(self.value)

    @property
    def names(self) -> tuple[str, ...]:
        """The path's node names, the leaf first."""
        return tuple(s.name for s in self.nodes)

    @property
    def arrow(self) -> str:
        """``W1 -> H1 -> H4 -> Out -> Loss``."""
        return " -> ".join(self.names)

    def __repr__(self) -> str:
        return f"Term({self.arrow}{'' if self.count == 1 else f' x{self.count}'})"


@record(repr=False)
class Sketch:
    """dLoss/dleaf written path by path: ``scale`` times the sum of the terms."""

    terms: tuple[Term, ...]
    scale: Fraction = Fraction(1)

    @property
    def value(self) -> sp.Expr:
        """The sketch as one expression in neuron symbols."""
        total = add(*(t.value for t in self.terms)) if self.terms else sp.S.Zero
        return total if self.scale == 1 else sp.Rational(self.scale.numerator, self.scale.denominator) * total

    def __repr__(self) -> str:
        return f"Sketch({len(self.terms)} terms{'' if self.scale == 1 else f', x{self.scale}'})"


@record(repr=False)
class Finding:
    """One mistake found: its ``kind`` (see :data:`KINDS`), what it is in words, and where it applies the
    path (node names, the leaf first), what was found and what was expected; ``where``: for a ``case``,
    the condition under which the answer holds (``Out - Y > 0``)."""

    kind: str
    detail: str
    path: tuple[str, ...] | None = None
    found: sp.Expr | None = None
    expected: sp.Expr | None = None
    where: str | None = None

    def __repr__(self) -> str:
        return f"Finding({self.kind}: {self.detail})"


@record(repr=False)
class Setting:
    """What the changes need besides a sketch: the network, the leaf, the paths of nearby parameters
    (candidate extra terms) and ``ratio(sketch)``, the constant the answer is of the sketch (or None)."""

    network: Network
    leaf: sp.Symbol
    ratio: Callable[[Sketch], Fraction | None] = field(default=lambda s: None, compare=False)
    neighbours: tuple[Term, ...] = ()


Change = Iterator[tuple[Sketch, Finding]]


@record
class Mistake:
    """One class of mistake: its kind, what it is in words, and how it changes a sketch."""

    kind: str
    what: str
    change: Callable[[Sketch, Setting], Change]
    ratio: bool = False  # read off the answer (a constant factor): tried last in a combination


# --- the true sketch -------------------------------------------------------------------------------------------


def terms(network: Network, leaf: sp.Symbol, extra: bool = False) -> tuple[Term, ...]:
    """Every path of ``leaf`` as a term, its factors split into parts (loss, activation, edge)."""
    loss = network.loss_symbol
    out = []
    for path in iter_paths(network, leaf):
        parts = []
        for f in path.factors:
            if f.numerator == loss:
                parts.append(Part("loss", loss, f.denominator, f.value))
                continue
            node = network.neuron_by_symbol[f.numerator]
            d = node.derivative()
            if d == 1:
                parts.append(Part("edge", node.symbol, f.denominator, f.value))
            else:
                parts += [Part("activation", node.symbol, None, d), Part("edge", node.symbol, f.denominator, node.inner_partial(f.denominator))]
        out.append(Term(path.nodes, tuple(parts), 1, extra))
    return tuple(out)


def sketch(network: Network, leaf: sp.Symbol) -> Sketch | None:
    """dLoss/dleaf path by path (None past :data:`MAX_PATHS` paths)."""
    if count_paths(network, leaf) > MAX_PATHS:
        return None
    return Sketch(terms(network, leaf))


def neighbours(network: Network, leaf: sp.Symbol) -> tuple[Term, ...]:
    """The paths of the parameters next to ``leaf`` (read by the same node, or on another edge from the same
    source): what a learner may add by mistake."""
    near: list[sp.Symbol] = []
    params = set(network.parameters)
    for use in network.uses.get(leaf, ()):
        if use is None:
            continue
        near += [r for r in use.reads if r in params]
        for src in (s for s, w in use.sources if w == leaf):
            near += [w for n in network.neurons for s, w in n.sources if s == src and w in params]
    chosen = [p for p in dict.fromkeys(near) if p != leaf][:MAX_NEIGHBOURS]
    found: list[Term] = []
    for p in chosen:
        if count_paths(network, p) <= 4:
            found += terms(network, p, extra=True)
    return tuple(found)


# --- changing a sketch -----------------------------------------------------------------------------------------


def _same(p: Part, q: Part) -> bool:
    # The fields compared directly: a record's own equality is the diagnosis's hot spot (thousands of sketches).
    return p is q or (p.role == q.role and p.node == q.node and p.source == q.source and p.value == q.value)


def _replace(s: Sketch, old: Part, new: sp.Expr | None, only: int | None = None) -> Sketch:
    """``s`` with the part ``old`` set to ``new`` (None: left out) in every term (or term ``only``)."""
    changed = []
    made = None if new is None else Part(old.role, old.node, old.source, new)  # one object, shared by the terms
    for i, t in enumerate(s.terms):
        if (only is None or i == only) and any(_same(p, old) for p in t.parts):
            parts = tuple(p for p in t.parts if not _same(p, old)) if made is None else tuple(
                made if _same(p, old) else p for p in t.parts)
            t = Term(t.nodes, parts, t.count, t.extra)
        changed.append(t)
    return Sketch(tuple(changed), s.scale)


def _text(x) -> str:
    """``x`` as text (a symbol's name without the printer: the findings' words are made for every candidate)."""
    return x.name if isinstance(x, sp.Symbol) else str(x)


def _parts(s: Sketch, role: str) -> list[tuple[Part, list[int]]]:
    """Each distinct part of ``role``, in order of first appearance, with the terms it is in."""
    seen: dict[Part, list[int]] = {}
    for i, t in enumerate(s.terms):
        if t.extra:
            continue
        for p in t.parts:
            if p.role == role:
                seen.setdefault(p, []).append(i)
    return list(seen.items())


def _edge(p: Part) -> str:
    return f"{_text(p.source)} -> {_text(p.node)}"


def _where(s: Sketch, at: list[int]) -> tuple[str, tuple[str, ...] | None]:
    """`` on the path P`` for one term, `` on every path through it (n paths)`` for several."""
    if len(at) == 1:
        return f" on the path {s.terms[at[0]].arrow}", s.terms[at[0]].names
    return f" on every path through it ({len(at)} paths)", None


def _case(s: Sketch, st: Setting) -> Change:
    # The kink of |u|: its derivative sign(u) left out (right only where u > 0) or taken as -1 (where u < 0).
    signs: dict[sp.Expr, None] = {}
    for p, _ in _parts(s, "loss"):
        for a in sorted(p.value.atoms(sp.sign), key=sp.default_sort_key):
            signs.setdefault(a)
    for a in signs:
        u = a.args[0]
        for v in (1, -1):
            changed = Sketch(tuple(Term(t.nodes, tuple(Part(p.role, p.node, p.source, p.value.xreplace({a: sp.Integer(v)})) if p.role == "loss" else p
                                                       for p in t.parts), t.count, t.extra) for t in s.terms), s.scale)
            cond = f"{u} {'>' if v > 0 else '<'} 0"
            how = f"{a}, the derivative of |{u}|, is left out" if v > 0 else f"{a} is taken as -1"
            yield changed, Finding("case", f"right only where {cond}: {how}", None, sp.Integer(v), a, cond)
    rule = st.network.loss.conditional
    if rule is not None:  # softmax + cross-entropy: dLoss/dOut_k = softmax_k - Y_k holds for one-hot targets only
        words, _, textbook = rule
        outs, ys = [o.symbol for o in st.network.outputs], list(st.network.targets)
        index = {o: k for k, o in enumerate(outs)}
        changed = s
        for p, _ in _parts(s, "loss"):
            if p.source in index:
                changed = _replace(changed, p, textbook(outs, ys, index[p.source]))
        cond = f"{sp.Add(*ys)} = 1 ({words})"
        yield changed, Finding("case", f"right only where {cond}: dLoss/dOut_k written softmax_k(Out) - Y_k, which needs "
                               f"targets that sum to 1", None, None, None, cond)


def _sign(s: Sketch, st: Setting) -> Change:
    # The whole answer's sign, or one path's.
    if st.ratio(s) == -1:
        yield Sketch(s.terms, -s.scale), Finding("sign", "the sign is flipped: the answer is minus the derivative "
                                                 "(Y - Out written for Out - Y, or a minus lost)", None, sp.Integer(-1), sp.Integer(1))
    real = [i for i, t in enumerate(s.terms) if not t.extra]
    if len(real) > 1:
        for i in real:
            t = s.terms[i]
            flipped = Term(t.nodes, t.parts, -t.count, t.extra)
            yield Sketch(s.terms[:i] + (flipped,) + s.terms[i + 1:], s.scale), Finding(
                "sign", f"the term of the path {t.arrow} has the wrong sign", t.names, -t.value, t.value)


#: What a constant factor most often comes from.
_SCALE_HINTS = {Fraction(2): " (2 from differentiating a square where the loss is half-squared, or a mean's 1/m left out)",
                Fraction(1, 2): " (the 2 of d(u**2)/du = 2u left out, as for a half-squared loss)"}


def _scale(s: Sketch, st: Setting) -> Change:
    c = st.ratio(s)
    if c is None or c in (0, 1, -1):
        return
    hint = _SCALE_HINTS.get(c, " (a constant factor: a 2 from a square, a mean's 1/m applied twice or never)")
    value = sp.Rational(c.numerator, c.denominator)
    yield Sketch(s.terms, s.scale * c), Finding("scale", f"the answer is {value} times the derivative{hint}", None, value, sp.Integer(1))


def _missing_factor(s: Sketch, st: Setting) -> Change:
    # A weight, a source's value or dLoss/dOut left out, on every path through it or on one.
    for role in ("loss", "edge"):
        for p, at in _parts(s, role):
            if p.value == 1 or (role == "loss" and isinstance(p.value, sp.sign)):  # a lone sign(u) is a case
                continue
            what = f"dLoss/d{_text(p.source)} = {_text(p.value)}" if role == "loss" else f"{_text(p.value)} (of the edge {_edge(p)})"
            where, path = _where(s, at)
            yield _replace(s, p, None), Finding("missing_factor", f"the factor {what} is left out{where}", path, sp.Integer(1), p.value)
            if len(at) > 1:
                for i in at:
                    yield _replace(s, p, None, i), Finding("missing_factor", f"the factor {what} is left out on the path "
                                                           f"{s.terms[i].arrow}", s.terms[i].names, sp.Integer(1), p.value)


#: Activations whose derivative rules learners mix up with one another's.
MIXED_UP = ("sigmoid", "tanh")


def _activation(s: Sketch, st: Setting) -> Change:
    # f'(z) at a node: left out, the function in its place, taken at the wrong point or neuron, counted twice.
    net = st.network
    for p, at in _parts(s, "activation"):
        node = net.neuron_by_symbol[p.node]
        act, z, o = node.activation, node.preactivation, node.symbol
        variants = [(sp.Integer(1), "left out"), (o, f"written as {o} itself (f(z) in place of f'(z))"),
                    (act.derivative(o, act.function(o)), f"taken at {o} (f'({o}) in place of f'(z))"),
                    (act.derivative(z, z), f"written in z (the rule's {o} replaced by z = {z})"),
                    (p.value * p.value, "counted twice")]
        for other in net.neurons:
            if other is not node and other.layer == node.layer and other.derivative() != 1:
                variants.append((other.derivative(), f"taken at {other.symbol} instead"))
        # another activation's rule (sigmoid's o*(1 - o) in a tanh network), or tanh's 1 - o**2 squared wrong
        for name in MIXED_UP:
            if name != act.name:
                variants.append((get_activation(name).derivative(z, o), f"written as {name}'s derivative"))
        if p.value == 1 - o**2:
            variants.append(((1 - o)**2, f"written (1 - {o})**2 for 1 - {o}**2"))
        if isinstance(p.value, sp.Heaviside):  # relu': its value at 0 is 0 (as in PyTorch); heaviside(u) alone is 1/2 there
            half = sp.Rational(1, 2)
            variants += [(sp.Heaviside(p.value.args[0], half), "given the value 1/2 at 0 (heaviside(u) alone), where it is 0"),
                         (sp.Heaviside(o, half), f"written heaviside({o}): 1/2 wherever {o} = 0, where it is 0")]
        where, path = _where(s, at)
        seen = {p.value}
        for value, how in variants:
            if value in seen:
                continue
            seen.add(value)
            changed = _replace(s, p, None if value == 1 else value)
            yield changed, Finding("activation_derivative", f"the activation's derivative at {o}, {p.value}, is {how}{where}", path,
                                   value, p.value)


def _alternatives(net: Network, p: Part) -> list[sp.Expr]:
    """What a learner may write for the edge factor ``p``: the node's other inputs and weights, the
    source itself, the source's weights into other nodes."""
    node = net.neuron_by_symbol[p.node]
    out = [r for r in node.reads if r != p.value]
    out += [c for n, c in net.successors.get(p.source, ()) if n is not node and isinstance(c, sp.Symbol)]
    if p.source not in out and isinstance(p.source, sp.Symbol):
        out.append(p.source)
    return list(dict.fromkeys(x for x in out if x != p.value))[:MAX_ALTERNATIVES]


def _wrong_factor(s: Sketch, st: Setting) -> Change:
    # A factor taken from the wrong edge: another weight, another input, the source for the weight; and
    # dLoss/dOut of |u| written as another loss's (u of the half-square, 2u of the square) in place of sign(u).
    for p, at in _parts(s, "loss"):
        for a in sorted(p.value.atoms(sp.sign), key=sp.default_sort_key):
            u = a.args[0]
            where, path = _where(s, at)
            for alt, loss in ((u, "half-squared"), (sp.Mul(2, u, evaluate=False), "squared")):
                value = p.value.xreplace({a: alt})
                yield _replace(s, p, value), Finding(
                    "wrong_factor", f"dLoss/d{_text(p.source)} = {_text(p.value)} is written {_text(value)}, the {loss} loss's "
                    f"derivative in place of |{u}|'s{where}", path, value, p.value)
    for p, at in _parts(s, "edge"):
        if not isinstance(p.value, sp.Symbol) and p.value != 1:  # a weight, an input, or a bias's 1
            continue
        where, path = _where(s, at)
        alternatives = [(alt, _text(alt)) for alt in _alternatives(st.network, p)]
        head = f"the factor {_text(p.value)} of the edge {_edge(p)} is written"
        for alt, said in alternatives:
            yield _replace(s, p, alt), Finding("wrong_factor", f"{head} {said}{where}", path, alt, p.value)
        if len(at) > 1:
            for i in at:
                for alt, said in alternatives:
                    yield _replace(s, p, alt, i), Finding("wrong_factor", f"{head} {said} on the path {s.terms[i].arrow}",
                                                          s.terms[i].names, alt, p.value)


def _missing_path(s: Sketch, st: Setting) -> Change:
    # One path left out; or a node that feeds several counted through one only (overwritten, not summed).
    real = [i for i, t in enumerate(s.terms) if not t.extra]
    for i in real:
        t = s.terms[i]
        yield Sketch(s.terms[:i] + s.terms[i + 1:], s.scale), Finding("missing_path", f"the path {t.arrow} is left out", t.names,
                                                                       sp.Integer(0), t.value)
    seen: set = set()
    depth = max((len(s.terms[i].nodes) for i in real), default=0)
    for k in range(depth - 1):
        groups: dict[tuple, dict[sp.Symbol, list[int]]] = {}
        for i in real:
            nodes = s.terms[i].nodes
            if len(nodes) > k + 1:
                groups.setdefault(nodes[:k + 1], {}).setdefault(nodes[k + 1], []).append(i)
        for prefix, branches in groups.items():
            if len(branches) < 2:
                continue
            u, fed = prefix[-1], ", ".join(str(v) for v in branches)
            for v, at in branches.items():
                for dropped, how in ((at, f"its contribution through {v} is left out"),
                                     ([i for w, a in branches.items() if w != v for i in a], f"only its contribution through {v} is counted")):
                    key = tuple(sorted(dropped))
                    if len(dropped) < 2 or key in seen:
                        continue
                    seen.add(key)
                    kept = tuple(t for i, t in enumerate(s.terms) if i not in dropped)
                    missing = add(*(s.terms[i].value for i in dropped))
                    yield Sketch(kept, s.scale), Finding(
                        "missing_path", f"{u} feeds {fed}, but {how} ({len(dropped)} paths): a reused node's contributions "
                        "overwritten instead of summed", None, sp.Integer(0), missing)


def _extra_term(s: Sketch, st: Setting) -> Change:
    # A path counted twice, or a path of a nearby parameter added.
    for i, t in enumerate(s.terms):
        if t.extra or t.count != 1:
            continue
        twice = Term(t.nodes, t.parts, 2, False)
        yield Sketch(s.terms[:i] + (twice,) + s.terms[i + 1:], s.scale), Finding(
            "extra_term", f"the path {t.arrow} is counted twice", t.names, 2 * t.value, t.value)
    present = {t.nodes for t in s.terms}
    for t in st.neighbours:
        if t.nodes in present:
            continue
        yield Sketch(s.terms + (t,), s.scale), Finding(
            "extra_term", f"an extra term {t.text}: the path {t.arrow} starts at {t.nodes[0]}, not at {st.leaf}", t.names, t.value,
            sp.Integer(0))


#: The mistakes, simplest first: the order in which explanations are tried (a combination of two after every single one).
MISTAKES: tuple[Mistake, ...] = (
    Mistake("case", "a kink's sign dropped or fixed (|u|'s sign(u): right on one side only), or a form that needs one-hot "
            "targets", _case),
    Mistake("sign", "the sign flipped, of the whole answer or of one path's term", _sign, ratio=True),
    Mistake("scale", "a constant factor off (2 from a square against a half-square, 1/m applied twice or never)", _scale, ratio=True),
    Mistake("missing_factor", "a factor of a path left out (a weight, an input, dLoss/dOut)", _missing_factor),
    Mistake("activation_derivative", "an activation's derivative left out, wrong, taken at the wrong point or counted twice",
            _activation),
    Mistake("wrong_factor", "a factor taken from the wrong edge (another weight or input, the source for the weight)", _wrong_factor),
    Mistake("missing_path", "a path left out, or a reused node's contributions overwritten instead of summed", _missing_path),
    Mistake("extra_term", "a term too many: a path counted twice, or a path of another parameter", _extra_term),
)

#: Every kind a diagnosis names, in order: the mistakes', then ``unknown`` (wrong, but none of them).
KINDS: tuple[str, ...] = tuple(m.kind for m in MISTAKES) + ("unknown",)

_RANK = {m.kind: i for i, m in enumerate(MISTAKES)}


def rank(kind: str) -> int:
    """A kind's place in :data:`MISTAKES` (``unknown`` last)."""
    return _RANK.get(kind, len(MISTAKES))


def changes(s: Sketch, st: Setting, after: str | None = None) -> Change:
    """Every change of ``s`` by each mistake, simplest first; ``after``: the kind of a change already made,
    so that a combination is tried in one order only (the constant factors, read off the answer, always)."""
    start = rank(after) if after is not None else 0
    for i, m in enumerate(MISTAKES):
        if i >= start or m.ratio:
            yield from m.change(s, st)
