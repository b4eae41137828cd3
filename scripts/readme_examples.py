"""Refresh (or, with --check, compare) the examples of README.md and every docs/*.md from the tool itself.

Three kinds of example are run, each in a fresh process, as from the repository root:

* a ```text block whose lines start with ``$ derivchain ...``: each command is run again (stdout and
  stderr, as a terminal session shows them) and its output replaced;
* a ```text block that starts with ``>>> ``: a Python session, run line by line in a fresh
  interpreter as the interactive prompt runs it, and its output replaced;
* a ```python block: run whole in a fresh interpreter; any exception fails. A line ending in
  ``# -> EXPECTED`` is compared: EXPECTED is the repr of the line's expression, or for a ``print(...)``
  call what it printed; ``...`` in EXPECTED stands for any text. Refreshing rewrites a wrong EXPECTED.

Every example runs with PYTHONHASHSEED=0 and NO_COLOR=1 in a new temporary folder that holds a link
to each top-level entry of the repository (``examples/`` and the rest), so relative paths read as from
the root and the files an example writes (``--out notes.html``) are thrown away with the folder.

    .venv/bin/python scripts/readme_examples.py           # rewrite README.md and docs/*.md
    .venv/bin/python scripts/readme_examples.py --check   # exit 1 if any example differs or fails
    .venv/bin/python scripts/readme_examples.py --check docs/matrix.md   # only the pages named
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```[ \t]*$", re.S | re.M)
PROMPT, MORE = ">>> ", "... "
EXPECT = "# -> "
ENV = {"NO_COLOR": "1", "PYTHONHASHSEED": "0"}


def pages() -> list[Path]:
    """The pages whose examples are checked: the README and every page of the user and developer guide."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@dataclass(frozen=True)
class Example:
    """One fenced block of a page that is run: where it is, its kind and its text (without the fences)."""

    page: Path
    line: int  # the line of the block's first text line (after the opening fence), counted from 1
    kind: str  # "shell", "session" or "python"
    text: str

    @property
    def where(self) -> str:
        return f"{shown(self.page)}:{self.line}"


def shown(page: Path) -> str:
    """The page's name as a reader knows it: relative to the repository root (when it is inside it)."""
    return str(page.relative_to(ROOT)) if page.is_relative_to(ROOT) else str(page)


@dataclass(frozen=True)
class Outcome:
    """What running an example gave: the block's new text, and a failure that refreshing cannot fix."""

    text: str
    failure: str = ""


#: PyTorch (the cross-check extra) is not installed: examples that trace a model are not run.
NO_TORCH = __import__("importlib.util").util.find_spec("torch") is None


def needs_torch(body: str) -> bool:
    """An example that traces a PyTorch model (``--torch``, ``dc.from_torch``, ``import torch``)."""
    return any(word in body for word in ("--torch", "from_torch", "dc.api.autograd", "compare_autograd")) \
        or re.search(r"^\s*(import|from) torch\b", body, re.M) is not None


def examples(page: Path, text: str) -> list[tuple[re.Match, Example]]:
    """Every block of ``text`` that is run, with its match (to replace it)."""
    found = []
    for m in FENCE.finditer(text):
        lang, body = m.group(1), m.group(2)
        line = text.count("\n", 0, m.start(2)) + 1
        if NO_TORCH and needs_torch(body):
            continue  # PyTorch is optional (the cross-check extra): its examples run where it is installed
        if lang == "text" and body.startswith("$ derivchain"):
            found.append((m, Example(page, line, "shell", body)))
        elif lang == "text" and body.startswith(PROMPT):
            found.append((m, Example(page, line, "session", body)))
        elif lang == "python":
            found.append((m, Example(page, line, "python", body)))
    return found


@contextmanager
def root_copy():
    """A fresh folder that reads like the repository root: a link to each of its top-level entries."""
    with tempfile.TemporaryDirectory(prefix="derivchain-docs-") as work:
        for entry in ROOT.iterdir():
            if not entry.name.startswith(".") and not entry.name.endswith(".egg-info"):
                os.symlink(entry, Path(work) / entry.name)
        yield Path(work)


def _env() -> dict[str, str]:
    env = {**os.environ, **ENV}
    env.pop("FORCE_COLOR", None)
    return env


# --- shell sessions: `$ derivchain ...` ----------------------------------------------------------------


def run_command(command: str, cwd: Path) -> str:
    """What a session shows for ``command`` (derivchain run from ``cwd``, no colour)."""
    args = shlex.split(command.replace("\\\n", " "))
    exe = Path(sys.executable).parent / "derivchain"
    done = subprocess.run([str(exe), *args[1:]], cwd=cwd, capture_output=True, text=True, env=_env())
    return done.stdout + done.stderr


def run_shell(example: Example) -> Outcome:
    """The block with each command's output replaced by what the tool prints now."""
    out, lines, i = [], example.text.splitlines(keepends=True), 0
    with root_copy() as cwd:
        while i < len(lines):
            if not lines[i].startswith("$ derivchain"):
                i += 1
                continue
            command = lines[i]
            while command.rstrip("\n").endswith("\\") and i + 1 < len(lines):
                i += 1
                command += lines[i]
            out.append(command)
            out.append(run_command(command[2:].rstrip("\n"), cwd))
            i += 1
            while i < len(lines) and not lines[i].startswith("$ derivchain"):
                i += 1
    return Outcome("".join(out))


# --- Python: blocks and sessions, each in a fresh interpreter ---------------------------------------------

# Runs in the child interpreter: argv = mode ("python" or "session"), the page's name, the block's first
# line, the block's file, the file for the results. Code is compiled under the page's name and with its
# line numbers, so a traceback points at the page.
DRIVER = r'''
import ast, contextlib, io, json, sys, tokenize
mode, page, first, source_file, result_file = sys.argv[1:6]
source = open(source_file).read()
namespace = {"__name__": "__main__"}
results = []


class Tee(io.TextIOBase):
    """Standard output that is also kept, so what a print() printed can be compared."""

    def __init__(self, real):
        self.real, self.kept = real, io.StringIO()

    def write(self, s):
        self.kept.write(s)
        return self.real.write(s)

    def flush(self):
        self.real.flush()


def padded(code, line):
    # Blank lines before the code: its line numbers are the page's.
    return "\n" * (line - 1) + code


if mode == "python":
    first = int(first)
    comments = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT and tok.string.startswith("# -> "):
            comments[tok.start[0]] = tok.string[len("# -> "):]
    tree = ast.parse(padded(source, first), page)
    claimed = set()
    for stmt in tree.body:
        line = stmt.end_lineno - first + 1
        expected = comments.get(line)
        if expected is None or not isinstance(stmt, ast.Expr):
            exec(compile(ast.Module([stmt], []), page, "exec"), namespace)
            continue
        claimed.add(line)
        call = stmt.value
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "print":
            tee = Tee(sys.stdout)
            with contextlib.redirect_stdout(tee):
                exec(compile(ast.Module([stmt], []), page, "exec"), namespace)
            actual = tee.kept.getvalue().rstrip("\n")
        else:
            actual = repr(eval(compile(ast.Expression(call), page, "eval"), namespace))
        results.append({"line": line, "expected": expected, "actual": actual})
    for line in sorted(set(comments) - claimed):
        results.append({"line": line, "expected": comments[line], "actual": None})
else:
    transcript, chunks = [], []
    for text_line in source.splitlines():
        if text_line.startswith(">>> "):
            chunks.append([text_line[4:]])
        elif text_line.startswith("... ") or text_line == "...":
            if chunks:
                chunks[-1].append(text_line[4:])
    for chunk in chunks:
        code = "\n".join(chunk) + "\n"
        transcript.append(">>> " + chunk[0] + "\n" + "".join("... " + more + "\n" for more in chunk[1:]))
        kept = io.StringIO()
        with contextlib.redirect_stdout(kept):
            exec(compile(code, page, "single"), namespace)
        transcript.append(kept.getvalue())
    results = {"transcript": "".join(transcript)}
with open(result_file, "w") as f:
    json.dump(results, f)
'''


def matches(expected: str, actual: str) -> bool:
    """``actual`` is what ``expected`` says, ``...`` standing for any text."""
    pattern = ".*?".join(re.escape(part) for part in expected.split("..."))
    return re.fullmatch(pattern, actual, re.S) is not None


def run_python(example: Example) -> tuple[dict | list | None, str]:
    """The driver's results for a Python block or session, or the failure (its traceback)."""
    with root_copy() as cwd:
        source, results = cwd / ".example.py", cwd / ".results.json"
        source.write_text(example.text)
        name = shown(example.page)
        done = subprocess.run([sys.executable, "-c", DRIVER, example.kind, name, str(example.line), str(source), str(results)],
                              cwd=cwd, capture_output=True, text=True, env=_env())
        if done.returncode != 0 or not results.exists():
            return None, (done.stderr or done.stdout).strip()
        return json.loads(results.read_text()), ""


def check_python(example: Example) -> Outcome:
    """The block with each wrong ``# -> EXPECTED`` replaced by what the line gives now."""
    results, failure = run_python(example)
    if results is None:
        return Outcome(example.text, failure)
    lines = example.text.splitlines(keepends=True)
    problems = []
    for r in results:
        where = f"line {example.line + r['line'] - 1}"
        if r["actual"] is None:
            problems.append(f"{where}: '# -> {r['expected']}' follows no expression on its own line")
        elif not matches(r["expected"], r["actual"]):
            if "\n" in r["actual"]:
                problems.append(f"{where}: prints several lines; show them as a >>> session instead:\n{r['actual']}")
                continue
            text = lines[r["line"] - 1]
            at = text.rindex(EXPECT)
            lines[r["line"] - 1] = text[:at] + EXPECT + r["actual"] + "\n"
    return Outcome("".join(lines), "\n".join(problems))


def run_session(example: Example) -> Outcome:
    """The session with each prompt's output replaced by what Python prints now."""
    results, failure = run_python(example)
    if results is None:
        return Outcome(example.text, failure)
    return Outcome(results["transcript"])


RUN = {"shell": run_shell, "session": run_session, "python": check_python}

#: Pictures in the pages that the tool draws: file -> the command that draws it (``--out`` added).
PICTURES = {"docs/worked-example-W1.svg": "derivchain draw W1"}


def drawn(command: str, name: str) -> bytes:
    """What ``command --out name`` writes now."""
    with root_copy() as cwd:
        out = cwd / ".picture" / Path(name).name
        out.parent.mkdir()
        exe = Path(sys.executable).parent / "derivchain"
        done = subprocess.run([str(exe), *shlex.split(command)[1:], "--out", str(out)], cwd=cwd, capture_output=True,
                              text=True, env=_env())
        if done.returncode != 0:
            raise SystemExit(f"{command} --out {name} failed: {done.stdout}{done.stderr}")
        return out.read_bytes()


def pictures(check: bool) -> int:
    """How many pictures differ from what the tool draws (refreshed unless ``check``)."""
    differ = 0
    for name, command in PICTURES.items():
        target, now = ROOT / name, drawn(command, name)
        if target.exists() and target.read_bytes() == now:
            continue
        differ += 1
        if check:
            print(f"{name} differs from what `{command}` draws now")
        else:
            target.write_bytes(now)
            print(f"refreshed {name}")
    return differ


def main(argv: list[str]) -> int:
    check = "--check" in argv
    named = [ROOT / a for a in argv if not a.startswith("--")]
    todo = named or pages()
    failed = differ = 0
    for page in todo:
        text = page.read_text()
        found = examples(page, text)
        with ThreadPoolExecutor(2) as pool:  # two at a time: the machines have two cores
            outcomes = list(pool.map(lambda pair: RUN[pair[1].kind](pair[1]), found))
        pieces, at = [], 0
        for (m, example), outcome in zip(found, outcomes):
            if outcome.failure:
                failed += 1
                print(f"{example.where}: {example.kind} example fails:\n{outcome.failure}\n")
            if outcome.text != example.text:
                differ += 1
                if check:
                    print(f"{example.where}: {example.kind} example differs from what the tool prints now")
            pieces.append(text[at:m.start(2)] + outcome.text)
            at = m.end(2)
        new = "".join(pieces) + text[at:]
        if not check and new != text:
            page.write_text(new)
            print(f"refreshed {shown(page)}")
    if not named:
        differ += pictures(check)
    if check and differ:
        print("some examples differ from what the tool prints; run scripts/readme_examples.py to refresh them")
    return 1 if failed or (check and differ) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
