"""The memo layer: declared kinds, bounds, key styles, owners, and memory that goes with its network."""

from __future__ import annotations

import ast
import gc
import io
import threading
import tracemalloc
from pathlib import Path

import pytest

from derivchain import memo

PACKAGE = Path(__file__).resolve().parents[1] / "derivchain"


def test_a_memo_counts_and_keeps_within_its_bound():
    kind = memo.Kind("test bound", bound=3)
    m = memo.Memo(kind)
    calls = []
    for key in (1, 2, 1, 3, 4, 1):
        m.lookup(key, lambda k=key: calls.append(k) or k * 10)
    assert (m.hits, m.misses) == (2, 4) and calls == [1, 2, 3, 4]
    m[5] = 50
    assert len(m) == 5 and len(m.room()) == 0 and m.clears == 1  # past its bound, emptied before the next walk


def test_identity_keys_keep_their_object_and_never_compare_values():
    class Loud:
        def __eq__(self, other):
            raise AssertionError("compared by value")

        __hash__ = object.__hash__

    m = memo.Memo(memo.Kind("test identity", key="identity"))
    a, b = Loud(), Loud()
    assert m.lookup(a, lambda: "a") == "a" and m.lookup(b, lambda: "b") == "b" and m.lookup(a, lambda: "again") == "a"
    assert m[id(a)][0] is a  # the key object kept beside its value, so its id stays its own


def test_kinds_are_declared_once_and_memos_only_of_declared_kinds():
    with pytest.raises(ValueError):
        memo.declare("intern")
    with pytest.raises(ValueError):
        memo.Kind("bad", key="name")
    with pytest.raises(KeyError):
        memo.Memos()[memo.Kind("undeclared")]
    with pytest.raises(ValueError):
        memo.process(memo.DELTAS)  # a network's kind is never process-wide


def test_every_cache_goes_through_the_memo_layer():
    # No module keeps a dict at module level that it fills as it works (constant tables are fine): every
    # cache is a Memo of a declared kind, so its bound, key style and owner are stated in one place.
    filled = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "memo.py":
            continue
        tree = ast.parse(path.read_text())
        module_dicts = {t.id for n in tree.body if isinstance(n, (ast.Assign, ast.AnnAssign))
                        for t in (n.targets if isinstance(n, ast.Assign) else [n.target]) if isinstance(t, ast.Name)
                        and isinstance(n.value, ast.Dict) and not n.value.keys}
        for node in ast.walk(tree):
            target = node.targets[0] if isinstance(node, ast.Assign) else None
            if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name) and target.value.id in module_dicts:
                filled.append(f"{path.name}: {target.value.id}")
    assert not filled, filled


def test_owners_nest_and_restore():
    a, b = memo.Memos(), memo.Memos()
    assert memo.current(memo.CANONICAL) is not memo.current(memo.CANONICAL)  # no owner: nothing kept
    with memo.owner(a):
        assert memo.current(memo.CANONICAL) is a[memo.CANONICAL]
        with memo.owner(b):
            assert memo.current(memo.CANONICAL) is b[memo.CANONICAL]
        assert memo.current(memo.CANONICAL) is a[memo.CANONICAL]
    with memo.scratch() as s:
        assert memo.current(memo.CANONICAL) is s[memo.CANONICAL]


def test_owners_are_per_thread():
    a = memo.Memos()
    seen = []
    with memo.owner(a):
        t = threading.Thread(target=lambda: seen.append(memo.current(memo.CANONICAL)))
        t.start()
        t.join()
    assert seen and seen[0] is not a[memo.CANONICAL]


def test_verify_is_re_entrant():
    # A verification started inside another (a custom check calling verify) keeps its own scratch.
    import sympy as sp

    from derivchain.verification.compare import verify

    x, y = sp.symbols("x y", real=True)
    outer = verify({"a": (x + y) ** 2, "b": x**2 + 2 * x * y + y**2})
    inner_first = verify({"a": sp.tanh(x) * 2, "b": 2 * sp.tanh(x)})
    with memo.owner(memo.Memos()):
        again = verify({"a": (x + y) ** 2, "b": x**2 + 2 * x * y + y**2})
        wrong = verify({"a": sp.tanh(x) + x, "b": sp.tanh(x)})
    assert outer.equal and inner_first.equal and again.equal and not wrong.equal


def test_a_networks_memos_live_and_die_with_it():
    import derivchain as dc
    from derivchain.renderers import emit

    net = dc.dense("2,3,3,1", activation="sigmoid", loss="half-squared")
    emit(dc.api.table(net), "text", io.StringIO())
    stats = net.memos.statistics()
    assert stats["deltas"]["entries"] == 1 and stats["intern"]["entries"] > 0
    assert sum(s["hits"] for s in stats.values()) > 0
    other = dc.dense("2,3,3,1", activation="sigmoid", loss="half-squared")
    assert len(other.memos) == 0  # an equal network starts with nothing of the first's


def test_deleting_a_network_frees_what_was_derived_from_it():
    # Not a timing: the memory traced while a table's network is alive, and what is left once it is gone.
    import derivchain as dc
    from derivchain.renderers import emit

    def work():
        net = dc.dense("3,5,5,1", activation="sigmoid", loss="half-squared")
        for fmt in ("text", "latex", "json"):
            emit(dc.api.table(net), fmt, io.StringIO())
        return net

    work()  # first use of every printer and rule outside the measurement
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        net = work()
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - base
        del net
        gc.collect()
        left = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert held > 500_000
    assert left < 0.05 * held, (left, held)


def test_bulk_work_holds_the_collector_and_gives_it_back():
    # Within bulk work the automatic collector is off and what survives a step's collection is frozen (not
    # scanned again); afterwards the collector is on and nothing stays frozen. Nested blocks, and a process
    # that manages the collector itself, are left alone.
    assert gc.isenabled() and gc.get_freeze_count() == 0
    with memo.bulk_work():
        assert not gc.isenabled()
        with memo.bulk_work():  # nested: the outer block keeps the collector
            assert not gc.isenabled()
        assert not gc.isenabled()
        for _ in range(memo.COLLECT_EVERY - 1):
            memo.step()
        assert gc.get_freeze_count() == 0
        memo.step()
        assert gc.get_freeze_count() > 0
    assert gc.isenabled() and gc.get_freeze_count() == 0
    memo.step()  # outside bulk work: nothing
    gc.disable()
    try:
        with memo.bulk_work():
            for _ in range(memo.COLLECT_EVERY):
                memo.step()
            assert gc.get_freeze_count() == 0
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_tables_rows_are_worked_out_in_bulk(monkeypatch):
    # Table.rows holds the collector while it works (a third of a large table's time was the automatic
    # collector scanning the memos again and again) and steps once a row.
    from derivchain.model.network import dense
    from derivchain.verification.derivation import Table

    seen = []
    monkeypatch.setattr(memo, "step", lambda: seen.append(gc.isenabled()))
    rows = list(Table(dense("2,2,1", activation="sigmoid", loss="half-squared")).rows)
    assert len(seen) == len(rows) == 6 and not any(seen) and gc.isenabled()


def test_a_table_leaves_no_cycles_of_its_own_for_the_collector():
    # The walks' recursive closures referred to themselves (and to their memos of derivatives): every call
    # left a cycle only the collector could free, holding the memo meanwhile. They are broken on return.
    from derivchain.model.network import dense
    from derivchain.verification.derivation import Table

    net = dense("3,4,4,1", activation="sigmoid", loss="half-squared")
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for _ in Table(net).rows:
            pass
        gc.collect()
        ours = [o.__qualname__ for o in gc.garbage if callable(o) and getattr(o, "__module__", "").startswith("derivchain")]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert ours == []
