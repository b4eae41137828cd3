"""The one memo layer: every cache derivchain keeps is a :class:`Memo` of a :class:`Kind` declared here.

Speed comes from remembering work (a neuron's delta is shared by every weight into it), and memory
from forgetting it. So each memo says how it is keyed, how much it keeps, and who owns it:

* Memos about one network belong to it (``network.memos``): they die with the network and
  everything derived from it, never outliving their inputs.
* Memos a walk needs but whose callers do not name a network (canonical forms, the verifier's
  constants, a printer's pieces) are taken from the *current owner*: the network a derivation,
  verification or rendering is working for (:func:`owner`). Outside any owner each call gets fresh
  memos of its own, so nothing is shared between unrelated calls and every function is re-entrant.

Key styles: ``value`` (keys compared by equality, as a dict) and ``identity`` (the key is
``id(obj)`` and the value is kept as ``(obj, answer)``, so the id stays the object's own; equal
trees of two networks are then never compared node by node). Hot walks use a memo as the dict it
is; :meth:`Memo.lookup` also counts hits and misses for :func:`statistics`.
"""

from __future__ import annotations

import gc
import sys
import weakref
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True, eq=False)  # compared and hashed as itself: each kind is declared once (a fast dict key)
class Kind:
    """A kind of memo: its name, its key style, and the entries it keeps before it starts again."""

    name: str
    key: str = "value"  # "value" or "identity" (see the module)
    bound: int | None = None  # None: as many as its owner produces (one per neuron, per parameter, ...)
    holds: str = ""  # what it remembers, in words
    owner: str = "network"  # "network": held by an owner (a network, a derivation); "process": facts about types

    def __post_init__(self):
        if self.key not in ("value", "identity"):
            raise ValueError(f"memo {self.name}: key style {self.key!r} is not 'value' or 'identity'")
        if self.owner not in ("network", "process"):
            raise ValueError(f"memo {self.name}: owner {self.owner!r} is not 'network' or 'process'")


class Memo(dict):
    """A dict that knows its :class:`Kind`: bounded (emptied once past its bound, at :meth:`room`) and counted."""

    __slots__ = ("kind", "hits", "misses", "clears")

    def __init__(self, kind: Kind):
        super().__init__()
        self.kind, self.hits, self.misses, self.clears = kind, 0, 0, 0

    def room(self) -> "Memo":
        """This memo, emptied first if it holds more than its bound (call before a walk that fills it)."""
        if self.kind.bound is not None and len(self) > self.kind.bound:
            self.clear()
            self.clears += 1
        return self

    def lookup(self, key, compute: Callable[[], object]):
        """The value for ``key`` (an object, for identity memos), computing and keeping it on a miss."""
        if self.kind.key == "identity":
            hit = dict.get(self, id(key))
            if hit is not None:
                self.hits += 1
                return hit[1]
            self.misses += 1
            value = compute()
            self.room()[id(key)] = (key, value)
            return value
        hit = dict.get(self, key, _MISSING)
        if hit is not _MISSING:
            self.hits += 1
            return hit
        self.misses += 1
        value = compute()
        self.room()[key] = value
        return value

    def __repr__(self) -> str:
        return f"Memo({self.kind.name}: {len(self)} entries, {self.hits} hits, {self.misses} misses)"


_MISSING = object()


class Memos:
    """The memos one owner holds (a network's), one per kind, created when first asked for."""

    __slots__ = ("_by_kind", "__weakref__")

    def __init__(self):
        self._by_kind: dict[Kind, Memo] = {}

    def __getitem__(self, kind: Kind) -> Memo:
        memo = self._by_kind.get(kind)
        if memo is None:
            if DECLARED.get(kind.name) is not kind:
                raise KeyError(f"memo kind {kind.name!r} is not declared in derivchain.memo")
            memo = self._by_kind[kind] = Memo(kind)
        return memo

    def __len__(self) -> int:
        return sum(len(m) for m in self._by_kind.values())

    def clear(self) -> None:
        """Forget everything (the owner keeps working, more slowly)."""
        self._by_kind.clear()

    def value(self, kind: Kind, compute: Callable[[], object]):
        """The one value of a single-valued kind (a network's delta equations), computed once."""
        return self[kind].lookup(None, compute)

    def statistics(self) -> dict[str, dict[str, int]]:
        """Kind name -> entries, hits, misses and clears, for each memo in use."""
        return {k.name: {"entries": len(m), "hits": m.hits, "misses": m.misses, "clears": m.clears}
                for k, m in sorted(self._by_kind.items(), key=lambda item: item[0].name)}

    def __repr__(self) -> str:
        return f"Memos({len(self._by_kind)} kinds, {len(self)} entries)"


# --- the current owner ------------------------------------------------------------------------------

_OWNER: ContextVar[Memos | None] = ContextVar("derivchain_memo_owner", default=None)


@contextmanager
def owner(memos: Memos | None, switch: bool = True):
    """Within this block, memos not named by their callers are ``memos``' (a network's); nested blocks for
    the same owner cost nothing, and the previous owner is back afterwards (re-entrant, thread- and task-safe).
    ``switch``: work moves to this owner (see :func:`_switch_to`)."""
    if memos is None or _OWNER.get() is memos:
        yield memos
        return
    if switch:
        _switch_to(memos)
    token = _OWNER.set(memos)
    try:
        yield memos
    finally:
        _OWNER.reset(token)


@contextmanager
def scratch():
    """Within this block, fresh memos when no owner is current (a call outside any network's work)."""
    if _OWNER.get() is not None:
        yield _OWNER.get()
        return
    with owner(Memos(), switch=False) as memos:
        yield memos


_LAST_OWNER: list = [None]  # a weak reference to the memos work last moved to


def _switch_to(memos: Memos) -> None:
    """When work moves to another owner (a second network in one session), SymPy's own cache is emptied:
    it is keyed by value, so every expression the new network builds would be looked up among the previous
    network's equal but distinct trees, compared node by node written out (a second 20-20-20-20-1 table in a
    notebook took 12 times the first). Its entries describe the previous network, as its memos do."""
    last = _LAST_OWNER[0]
    if last is not None and last() is memos:
        return
    if last is not None:
        clear_sympy_cache()
    _LAST_OWNER[0] = weakref.ref(memos, _forgotten)


def _forgotten(_ref) -> None:
    # The memos work last moved to are gone (their network was deleted): so is what SymPy cached for it.
    if _LAST_OWNER[0] is _ref:
        _LAST_OWNER[0] = None
        clear_sympy_cache()


def clear_sympy_cache() -> None:
    """Empty SymPy's cache (when SymPy is loaded: the memo layer itself needs no SymPy)."""
    modules = getattr(sys, "modules", None)  # None while the interpreter shuts down
    cache = modules.get("sympy.core.cache") if modules else None
    if cache is not None:
        cache.clear_cache()


def of(owner) -> Memos:
    """The memos ``owner`` holds (a network, a derivation), kept with it: they die when it does."""
    memos = owner.__dict__.get("_memos")
    if memos is None:
        memos = owner.__dict__["_memos"] = Memos()
    return memos


@contextmanager
def working_for(owner_object):
    """Within this block, memos not named by their callers are ``owner_object``'s (see :func:`owner`)."""
    with owner(of(owner_object)) as memos:
        yield memos


def process(kind: Kind) -> Memo:
    """The process-wide memo of ``kind``: facts about SymPy's types and plain numbers, not about any network."""
    if kind.owner != "process":
        raise ValueError(f"memo kind {kind.name!r} belongs to a network, not to the process")
    memo = _PROCESS.get(kind)
    if memo is None:
        memo = _PROCESS[kind] = Memo(kind)
    return memo.room()


_PROCESS: dict[Kind, Memo] = {}


# --- the garbage collector during bulk work ----------------------------------------------------------

#: Steps of bulk work (a table's rows) between two collections of the young objects.
COLLECT_EVERY = 256


class _Bulk:
    """Whether bulk work holds the collector (and how deep), and its steps so far: process state, as the collector is."""

    depth = 0
    steps = 0


@contextmanager
def bulk_work():
    """Within this block (a table's rows, every entry of a model), Python's cyclic garbage collector runs
    only at :func:`step`, every COLLECT_EVERY steps, over the young objects, and what survives is set aside
    (``gc.freeze``) so no later collection scans it again; afterwards all is as before.

    Why: the memos such work fills are millions of long-lived nodes, and the automatic collector scans
    every one of them again each time the heap grows by a quarter while collecting almost nothing (SymPy
    trees hold no cycles): a third of a 64-64-64-64-1 table's time. Left alone when nested, or when the
    process manages the collector itself (disabled, or objects already frozen)."""
    if _Bulk.depth or not gc.isenabled() or gc.get_freeze_count():
        yield
        return
    gc.disable()
    _Bulk.depth, _Bulk.steps = 1, 0
    try:
        yield
    finally:
        _Bulk.depth = 0
        gc.unfreeze()
        gc.enable()


def step() -> None:
    """One step of bulk work done: every COLLECT_EVERY steps, the young objects' cycles collected and the
    survivors set aside (nothing outside :func:`bulk_work`)."""
    if _Bulk.depth:
        _Bulk.steps += 1
        if _Bulk.steps % COLLECT_EVERY == 0:
            gc.collect(1)
            gc.freeze()


def statistics() -> dict[str, dict[str, int]]:
    """The current owner's memos' statistics, and the process-wide ones' (kind name -> counts)."""
    memos = _OWNER.get()
    out = {} if memos is None else memos.statistics()
    out.update({k.name: {"entries": len(m), "hits": m.hits, "misses": m.misses, "clears": m.clears}
                for k, m in _PROCESS.items()})
    return out


def current(kind: Kind) -> Memo:
    """The current owner's memo of ``kind``; outside any owner, a new empty one (nothing is kept)."""
    memos = _OWNER.get()
    return Memo(kind) if memos is None else memos[kind]


# --- the declared kinds: every memo derivchain keeps --------------------------------------------------

DECLARED: dict[str, Kind] = {}


def declare(name: str, key: str = "value", bound: int | None = None, holds: str = "", owner: str = "network") -> Kind:
    """Declare a kind of memo (once per name; a name declared twice is a mistake)."""
    if name in DECLARED:
        raise ValueError(f"memo kind {name!r} is declared twice")
    kind = DECLARED[name] = Kind(name, key, bound, holds, owner)
    return kind


#: Entries a memo of rebuilt nodes keeps before it starts again: the nodes of every weight's derivative
#: would otherwise stay alive for a whole table.
NODES = 200_000

# The network model (network.memos).
INTERN = declare("intern", "value", None, "each subtree -> the network's one copy of it")
INTERN_DONE = declare("intern done", "identity", None, "the subtrees already made the network's own")
SUBSTITUTE = declare("substitute", "identity", NODES, "node -> the node with every neuron substituted")
COMPACT = declare("compact", "identity", NODES, "node -> the node with whole neurons as their symbols")
COMPACT_CANONICAL = declare("compact canonical", "identity", NODES, "node -> compacted and in canonical form")
SIZES = declare("sizes", "value", None, "the substituted loss's node sizes (id -> nodes written out)")
PARTIALS = declare("partials", "value", None, "an expression node's local partials (symbol -> d(expr)/d(symbol))")

# The symbolic toolkit and the verifier: the current owner's (a network's), or a call's own.
FUNCTION_DERIVATIVES = declare("function derivatives", "identity", NODES, "(function node, argument) -> f'")
CANONICAL = declare("canonical", "identity", 100_000, "node -> its canonical form")
CONSTANTS = declare("constants", "identity", 2_000_000, "node -> the numbers in it")
MODULAR = declare("modular values", "value", None, "seed -> (node id -> its values mod p); the 8 latest seeds")

# Facts about SymPy's types and plain numbers: the process's.
POSTPROCESSED = declare("postprocessed", "value", 1_000, "(Add or Mul, an argument's type) -> whether SymPy postprocesses it",
                        owner="process")
PRIMES = declare("primes", "value", 10_000, "seed -> its 62-bit prime", owner="process")
CHANCES = declare("chance exponents", "value", 10_000, "(degree, prime, precision) -> the false-agreement exponent",
                  owner="process")

# The engines (network.memos).
DELTAS = declare("deltas", "value", None, "the delta equations, from the outputs back")
DELTAS_NEEDED = declare("deltas needed", "value", None, "the uses of a leaf -> the delta equations below them")
PATH_COUNTS = declare("path counts", "value", None, "each node -> the number of paths from it to the loss")
EDGE_FACTORS = declare("edge factors", "value", None, "(node, source) -> the edge's factor on a path")
SUFFIX_SUMS = declare("suffix sums", "value", None, "each node -> the sum over the paths from it to the loss")
PATH_RESTS = declare("path rests", "value", None, "a path's nodes after its leaf -> the product of its shared tail")
DIRECT_TERMS = declare("direct terms", "value", None, "a neuron's z -> which of its terms each parameter reads")
DIRECT_BY_NODE = declare("direct by node", "value", None, "z's bit -> dLoss/dz by direct differentiation")
DEPENDENCY_MASKS = declare("dependency masks", "value", None, "which leaves and z's each node of the loss contains")
DIRECT_THROUGH = declare("direct through", "value", None, "neuron -> whether its weights reach the loss through its z only")
DIRECT_OWN_BITS = declare("direct own bits", "value", None, "neuron -> the bits of the parameters only it reads")
DOMINATORS = declare("dominators", "value", None, "the loss's nodes' immediate dominators and leaf occurrences, by identity")

# Second derivatives (network.memos).
CURVATURES = declare("curvatures", "value", None, "node -> its activation's second derivative f''(z)")
SECOND_PARTIALS = declare("second partials", "value", None, "(node or loss, a, b) -> d2(node)/(da db)")
PREFIX_COUNTS = declare("prefix counts", "value", None, "leaf -> the number of paths from it to each node")
PREFIX_SUMS = declare("prefix sums", "value", None, "leaf -> the sum over the paths from it to each node")
SECOND_NOTES = declare("second notes", "value", None, "the conventions of second derivatives at kinks")

# Verified derivations (network.memos).
DELTA_VALUES = declare("delta values", "value", None, "each delta symbol -> its value in neuron symbols")
DELTA_VALUES_REPLACED = declare("delta values replaced", "identity", NODES, "node -> with the deltas replaced by their values")
DELTA_CHAINS = declare("delta chains", "value", None, "delta -> its verified chain")
LOSS_CHAINS = declare("loss chains", "value", None, "the verified chains of dLoss/dOut")
CONDITIONAL_DELTAS = declare("conditional deltas", "value", None, "delta -> its textbook form under a condition")
CASES = declare("cases", "value", None, "(sign node, side) -> the nodes replaced for that side of the kink")
READS_SIGN = declare("reads sign", "identity", NODES, "node -> whether a sign(...) is in it")

# What the renderers show (network.memos, or the derivation's own).
SHOWN = declare("shown", "value", None, "what is printed of a derivation (kept with the derivation)")
NOTED = declare("noted", "value", None, "the network's conventions at non-differentiable points")
NEURON_SIZES = declare("neuron sizes", "value", None, "(which form, z's bit) -> (its size capped, the limit asked)")
NEURON_COMPACT = declare("neuron compact", "value", None, "z's bit -> dLoss/dz compacted")
NEURON_CHECKS = declare("neuron checks", "value", None, "z's bit -> the check of dLoss/dz compacted")
PRINTERS = declare("printers", "value", None, "(format, settings) -> the network's printer, whose memos serve every row")
ORDERED_TERMS = declare("ordered terms", "value", 5_000, "(id of a sum, order) -> (the sum, its terms in printing order)")
POWERS = declare("powers", "value", 100_000, "id of a factor -> (the factor, its base, its exponent)")
SORT_KEYS = declare("sort keys", "identity", 100_000, "expression -> its default_sort_key")
LAST_SIZES = declare("last sizes", "value", 256, "id -> (expression, its size capped, the limit asked)")
FORM_SIZES = declare("form sizes", "value", 50_000, "(id, limit) -> (expression, its size capped at limit)")
LATEX_WIDTHS = declare("latex widths", "value", 20_000, "LaTeX -> the characters it shows")
LATEX_BALANCED = declare("latex balanced", "value", 20_000, "LaTeX -> whether its braces nest")
LATEX_PIECES = declare("latex pieces", "value", 200_000, "a line piece -> (its width, the brackets it leaves open)")
LATEX_LATER = declare("latex later lines", "value", 16, "(pieces, brackets open, width) -> the lines after the first")

# A printer's own memos (each printer is a network's: see PRINTERS).
PRINTED = declare("printed", "value", 100_000, "a subexpression (or its id) -> its printed form")
PRINTED_FACTORS = declare("printed factors", "value", 100_000, "a factor (or its id) -> its part of a product")
PRINTED_LINES = declare("printed lines", "value", 100_000, "(id of a chain, setting) -> (the chain, its aligned lines)")
PRINTED_NAMES = declare("printed names", "value", 100_000, "a name -> its MathML")
PRINTED_WIDTHS = declare("printed widths", "value", 100_000, "a MathML node -> its width")
HOLDS_MOD = declare("holds mod", "identity", 200_000, "node -> whether a Mod is in it")
JSON_MADE = declare("json made", "value", 100_000, "id of a shared JSON part -> [the part, {level: its text}]")
