"""JSON tables: in delta form one object (network, deltas, rows); expanded, each row the ``grad`` object of its
parameter, though a table prints shared pieces once."""

from __future__ import annotations

import json

import pytest

from derivchain.verification.derivation import Table, derive
from derivchain.model.network import dense
from derivchain.renderers import render
from derivchain.renderers.shown import shown
from derivchain.renderers.latex import _fractions, _group, visible_width

NETWORKS = [
    dict(layers="2,3,2,1", activation="sigmoid", loss="abs", bias=True),
    dict(layers="2,2,2", activation="tanh", loss="squared"),
    # The output delta's chain carries a named rewrite: an \intertext in align*, a line of its own
    # inside the aligned block JSON gives.
    dict(layers="2,2,1", activation="sigmoid", output_activation="sigmoid", loss="cross-entropy"),
]


@pytest.mark.parametrize("spec", NETWORKS, ids=lambda s: f"{s['layers']}-{s['loss']}")
def test_table_rows_are_the_grad_objects_of_their_parameters(spec):
    net = dense(**spec)
    rows = json.loads(render(Table(net, max_paths=3, expand=True), "json"))
    assert [r["weight"] for r in rows] == [p.name for p in net.parameters]
    for row in rows:
        # A fresh network: nothing printed for the table is reused, every piece is printed anew.
        alone = dense(**spec)
        assert row == json.loads(render(derive(alone, row["weight"], max_paths=3), "json")), row["weight"]


@pytest.mark.parametrize("spec", NETWORKS, ids=lambda s: f"{s['layers']}-{s['loss']}")
def test_table_text_is_json_dumps_of_its_rows_byte_for_byte(spec):
    # The rows' shared parts (deltas, chains) are written once and their text reused: the bytes must
    # be exactly json.dumps(indent=2) of each row, set in one step as an element of the array.
    from derivchain.renderers.json import table_rows

    table = Table(dense(**spec), max_paths=3, expand=True)
    expected = "[" + ",".join("\n  " + json.dumps(row, indent=2, ensure_ascii=False).replace("\n", "\n  ")
                              for _, row in table_rows(Table(dense(**spec), max_paths=3, expand=True))) + "\n]\n"
    assert render(table, "json") == expected


def test_delta_lines_printed_once_keep_each_blocks_own_layout():
    net = dense("2,2,1", activation="sigmoid", output_activation="sigmoid", loss="cross-entropy")
    d = derive(net, "W1")
    first = render(d, "latex")
    block = json.loads(render(d, "json"))["latex"]["derivation"]
    assert r"\intertext" in first and r"\intertext" not in block and r"\text{Sigmoid + cross-entropy: the sigmoid's }\mathrm{Out}" in block
    assert render(d, "latex") == first  # printed again from the printer's lines, the same


def _group_by_characters(tex: str, start: int) -> int:
    depth = 0
    for i in range(start, len(tex)):
        depth += {"{": 1, "}": -1}.get(tex[i], 0)
        if depth == 0:
            return i + 1
    return len(tex)


@pytest.mark.parametrize("tex", ["", "a", "{a}", "{a{b}c}d", "}{", "{{", r"\frac{a}{bc}", r"\frac{x", r"\frac{\frac{a}{b}}{c} + \frac{dd}{e}",
                                 r"\left(\frac{W_{1}}{1 + e^{- X_{1}}}\right) \frac{a}"])
def test_visible_width_walks_brace_groups_as_characters_did(tex):
    for start in range(len(tex) + 2):
        assert _group(tex, start) == _group_by_characters(tex, start)
    assert visible_width(tex) == visible_width(tex)  # remembered: the same answer again


def test_visible_width_counts_a_fraction_as_its_wider_part():
    assert _fractions(r"\frac{\frac{a}{b}}{c} + \frac{dd}{e}") == "{{a}} + {dd}"
    assert visible_width(r"\frac{\frac{a}{b}}{c} + \frac{dd}{e}") == 6
    assert visible_width(r"\left(\frac{W_{1}}{1 + e^{- X_{1}}}\right)") == len("(1 + e- X1)")


@pytest.mark.parametrize("spec", NETWORKS + [dict(layers="3,4,4,1", activation="tanh", loss="abs", bias=True)],
                         ids=lambda s: f"{s['layers']}-{s['activation']}")
def test_direct_compacted_in_one_walk_is_the_canonical_compact_form(spec):
    from derivchain.symbolic.walk import canonical, intern

    net = dense(**spec)
    for d in Table(net).rows:
        table: dict = {}  # interned, equal trees are the same object: compared without writing them out
        one_walk = intern(shown(d).direct_compact, table)
        assert one_walk is intern(canonical(net.compact(d.direct.value)), table), d.parameter


@pytest.mark.parametrize("fmt", ["text", "latex", "json"])
def test_a_second_equal_network_in_the_same_session_prints_the_same(fmt):
    # The printers' and verifier's memos outlive a network and are keyed by identity: an equal network
    # built afresh (a second table in a notebook) is printed and verified anew, to the same bytes.
    spec = dict(layers="3,3,3,1", activation="sigmoid", loss="abs")
    first = render(Table(dense(**spec)), fmt)
    assert render(Table(dense(**spec)), fmt) == first


@pytest.mark.parametrize("spec", NETWORKS, ids=lambda s: f"{s['layers']}-{s['loss']}")
def test_a_delta_table_is_one_object_whose_rows_are_the_verified_delta_forms(spec):
    from derivchain.renderers.text import expr

    net = dense(**spec)
    text = render(Table(net), "json")
    table = json.loads(text)
    assert text == json.dumps(table, indent=2, ensure_ascii=False) + "\n"  # streamed, the bytes json.dumps writes
    assert list(table) == ["network", "methods", "deltas", "rows"] and table["network"] == net.summary()
    from derivchain.verification.compare import METHODS

    assert table["methods"] == METHODS  # each method's meaning once; a row names its method
    assert [d["delta"] for d in table["deltas"]] == [f"delta_{n.name}" for n in sorted(net.neurons, key=lambda n: -n.layer)]
    assert all(set(d) == {"delta", "rhs", "verified"} and d["verified"] for d in table["deltas"])
    assert [r["parameter"] for r in table["rows"]] == [p.name for p in net.parameters]
    for row in table["rows"]:
        d = derive(dense(**spec), row["parameter"])
        assert list(row) == ["parameter", "path_count", "gradient", "equal", "method", "verdict"]
        # The printed gradient is the first form of the entry chain the verifier checked, and says so.
        assert row["gradient"] == expr(d.entry_chain.forms[0]) and d.entry_chain.verified and row["equal"]
        # The verdict in short, as the other formats print it (the whole sentence is the grad object's).
        assert (row["path_count"], row["method"], row["verdict"]) == (d.path_count, d.verdict.method, "equal")


def test_jsonl_streams_the_head_then_a_line_per_row():
    net = dense("2,2,1", activation="sigmoid", loss="half-squared")
    lines = render(Table(net), "jsonl").splitlines()
    whole = json.loads(render(Table(net), "json"))
    assert json.loads(lines[0]) == {"network": whole["network"], "methods": whole["methods"], "deltas": whole["deltas"]}
    assert [json.loads(l) for l in lines[1:]] == whole["rows"]
    expanded = render(Table(net, expand=True), "jsonl").splitlines()
    assert [json.loads(l) for l in expanded[1:]] == json.loads(render(Table(net, expand=True), "json"))


def test_a_row_whose_delta_form_was_not_shown_equal_says_so_in_every_format():
    # A row prints its delta form only as the verifier checked it: a failed link is NOT shown, never "equal".
    from dataclasses import replace

    net = dense("2,2,1", activation="sigmoid", loss="half-squared")
    d = derive(net, "W1")
    chain = d.entry_chain
    failed = replace(chain, links=tuple(replace(v, equal=False) for v in chain.links))
    d.__dict__["entry_chain"] = failed  # the cached chain, as if its link had failed
    from derivchain.renderers.json import delta_row
    from derivchain.renderers.text import TextRenderer
    from derivchain.renderers.markdown import MarkdownRenderer
    from derivchain.renderers.latex import LatexRenderer

    assert delta_row(d)["equal"] is False
    assert delta_row(d)["verdict"] == "NOT shown: " + failed.links[0].detail
    line = next(iter(TextRenderer().table_row(d)))
    assert "NOT shown" in line.text and line.style == "red"
    assert "NOT shown" in MarkdownRenderer().table_row(d) and "NOT shown" in LatexRenderer().table_row(d)
    assert "equal" in MarkdownRenderer().table_row(d, expand=True)  # expanded, the row is the three forms' verdict
    from types import SimpleNamespace

    from derivchain.renderers.latex import printer_for, table_lines

    shown = table_lines(SimpleNamespace(expand=False, deltas=(), rows=[d]), printer_for(d.network))  # a notebook's table
    assert "NOT shown" in shown[-1] and "equal" not in shown[-1]


def test_a_row_not_equal_keeps_its_whole_verdict_sentence():
    # The short verdict is for rows shown equal; a row that is not keeps what only it has (the counterexample).
    from dataclasses import replace

    from derivchain.renderers.json import delta_row

    d = derive(dense("2,2,1", activation="sigmoid", loss="half-squared"), "W1")
    wrong = replace(d.verdict, equal=False, detail="backprop != direct: at a random point direct = 1, backprop = 2")
    row = delta_row(replace(d, verdict=wrong))
    assert (row["equal"], row["verdict"]) == (False, wrong.detail)


def test_a_delta_equation_not_shown_equal_is_marked_and_the_note_says_so():
    from dataclasses import replace

    from derivchain.renderers.latex import delta_rows_note
    from derivchain.renderers.text import delta_lines

    table = Table(dense("2,2,1", activation="sigmoid", loss="half-squared"))
    deltas = list(table.deltas)
    assert "(each equation verified)" in delta_rows_note(deltas)
    deltas[1] = replace(deltas[1], links=tuple(replace(v, equal=False) for v in deltas[1].links))
    assert "(NOT every equation verified)" in delta_rows_note(deltas)
    lines = list(delta_lines(deltas))
    assert "NOT every equation verified" in lines[0].text and lines[2].text.endswith("[NOT verified]") and lines[2].style == "red"
