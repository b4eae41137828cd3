"""The README and the guide in docs/ hold together: the README stays an on-ramp (at most 300 lines, the
Quick start's commands as CI runs them), every link resolves, every page is reachable, every TOML and
JSON block parses, the tasks table's commands run, and the examples check (scripts/readme_examples.py,
run by tests/test_readme.py) fails when an example is wrong."""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = [README, *sorted(DOCS.glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```[ \t]*$", re.S | re.M)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
SCRIPT = ROOT / "scripts" / "readme_examples.py"


def _examples_module():
    spec = importlib.util.spec_from_file_location("readme_examples", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("readme_examples", module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def prose(text: str) -> str:
    """The page without its fenced blocks (a `# comment` in a code block is not a heading)."""
    return FENCE.sub("", text)


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    found, seen = set(), {}
    for line in prose(page.read_text()).splitlines():
        m = re.match(r"#{1,6} (.+)", line)
        if m:
            base = slug(m.group(1))
            n = seen.get(base, 0)
            seen[base] = n + 1
            found.add(base if n == 0 else f"{base}-{n}")
    return found


def links(page: Path) -> list[str]:
    return [target for target in LINK.findall(prose(page.read_text())) if not re.match(r"[a-z]+:", target)]


def test_the_readme_is_an_on_ramp_of_at_most_300_lines():
    assert len(README.read_text().splitlines()) <= 300


def test_the_readme_quick_start_is_what_ci_runs():
    # .ci/run runs the README's second Quick start command verbatim: the two must stay byte-identical.
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line and not line.startswith(("#", "set ", "cd "))]
    blocks = [body for lang, body in FENCE.findall(README.read_text()) if lang == "sh"]
    assert ci[-1] + "\n" in blocks
    assert "sh scripts/setup.sh && .venv/bin/derivchain grad W1\n" in blocks


def test_the_readme_says_how_to_run_derivchain_after_the_quick_start():
    text = README.read_text()
    assert ". .venv/bin/activate" in text and ".venv/bin/derivchain" in text


def test_every_page_the_readme_links_to_exists():
    linked = [t.split("#")[0] for t in links(README) if t.startswith("docs/")]
    assert "docs/README.md" in linked
    assert {f"docs/{p.name}" for p in DOCS.glob("*.md")} <= set(linked) | {"docs/README.md"}, "a docs page the README does not name"
    for target in linked:
        assert (ROOT / target).is_file(), target


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    for target in links(page):
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        assert dest.exists(), f"{page.name}: {target}: no such file"
        if anchor:
            assert dest.suffix == ".md" and anchor in anchors(dest), f"{page.name}: {target}: no such heading"


def test_every_docs_page_is_in_the_index():
    listed = {t.split("#")[0] for t in links(DOCS / "README.md")}
    assert {p.name for p in DOCS.glob("*.md") if p.name != "README.md"} <= listed


def test_the_link_check_can_fail(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Title\n\nSee [a](missing.md), [b](#title) and [c](#nowhere).\n```sh\n# not a heading [x](gone.md)\n```\n")
    assert links(page) == ["missing.md", "#title", "#nowhere"]
    assert anchors(page) == {"title"}
    assert slug("A web page: `--out notes.html`") == "a-web-page---out-noteshtml"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_toml_and_json_block_parses(page):
    for lang, body in FENCE.findall(page.read_text()):
        if lang == "toml":
            tomllib.loads(body)
        elif lang == "json":
            json.loads(body)


def _tasks_table() -> list[tuple[str, str]]:
    """(shell, Python) of each row of the README's tasks table."""
    text = README.read_text()
    start = text.index("| task | shell | Python")
    rows = []
    for line in text[start:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        rows.append((cells[1].strip("`"), cells[2].strip("`")))
    return rows


def test_the_tasks_table_covers_every_command():
    from derivchain import api

    rows = _tasks_table()
    commands = {shlex.split(shell)[1] for shell, _ in rows}
    assert set(api.TASKS) <= commands


def test_every_python_cell_of_the_tasks_table_is_run_below_it():
    # The block after the table runs each cell as written; readme_examples.py runs that block.
    text = README.read_text()
    after = text[text.index("| task | shell | Python"):]
    block = next(body for lang, body in FENCE.findall(after) if lang == "python")
    for _, python in _tasks_table():
        assert python in block, python


def test_every_shell_cell_of_the_tasks_table_runs():
    module = _examples_module()
    exe = Path(sys.executable).parent / "derivchain"
    with module.root_copy() as cwd:
        for shell, _ in _tasks_table():
            if module.NO_TORCH and module.needs_torch(shell):
                continue  # PyTorch is optional (the cross-check extra)
            done = subprocess.run([str(exe), *shlex.split(shell)[1:]], cwd=cwd, capture_output=True, text=True,
                                  env=module._env())
            assert done.returncode == 0, (shell, done.stdout[-500:], done.stderr[-500:])


# --- the examples check itself: it fails on a wrong example, and refreshing fixes what it can ----------


def _check(page: Path, refresh: bool = False) -> subprocess.CompletedProcess:
    args = [sys.executable, str(SCRIPT), str(page)] + ([] if refresh else ["--check"])
    return subprocess.run(args, capture_output=True, text=True)


def test_a_wrong_python_expectation_fails_and_is_refreshed(tmp_path):
    page = tmp_path / "page.md"
    page.write_text('```python\nimport derivchain as dc\n\ndc.derive(dc.default_network(), "W7")   # -> Derivation(wrong)\n'
                    'len("abc")   # -> 3\nprint("a", "b")   # -> a ...\n```\n')
    done = _check(page)
    assert done.returncode == 1 and "differs" in done.stdout
    assert _check(page, refresh=True).returncode == 0
    assert "# -> Derivation(dLoss/dW7: 1 path, equal)\n" in page.read_text()
    assert "# -> a ...\n" in page.read_text()  # a matching expectation is kept as written
    assert _check(page).returncode == 0


def test_a_python_example_that_raises_fails_with_its_page_and_line(tmp_path):
    page = tmp_path / "page.md"
    page.write_text('Text.\n\n```python\nimport derivchain as dc\ndc.derive(dc.default_network(), "W99")\n```\n')
    for refresh in (False, True):
        done = _check(page, refresh)
        assert done.returncode == 1
        assert f'File "{page}", line 5' in done.stdout and "unknown weight 'W99'" in done.stdout


def test_an_expectation_on_a_statement_fails(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("```python\nx = 1   # -> 1\n```\n")
    done = _check(page)
    assert done.returncode == 1 and "follows no expression" in done.stdout


def test_a_session_and_a_shell_example_are_compared_and_refreshed(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("```text\n>>> 1 + 1\n3\n>>> print('x')\nx\n```\n\n```text\n$ derivchain paths W7\nwrong\n```\n")
    done = _check(page)
    assert done.returncode == 1 and done.stdout.count("differs") == 2
    assert _check(page, refresh=True).returncode == 0
    text = page.read_text()
    assert ">>> 1 + 1\n2\n>>> print('x')\nx\n" in text
    assert "$ derivchain paths W7\n1 path from W7 to the loss\n" in text
    assert _check(page).returncode == 0
