"""Refresh (or, with --check, compare) the README's example outputs from the tool itself.

Every ```text block whose lines start with ``$ derivchain ...`` is run again (stdout and stderr, as a
terminal session shows them) and its output replaced: the README shows what the tool prints.

    .venv/bin/python scripts/readme_examples.py           # rewrite README.md
    .venv/bin/python scripts/readme_examples.py --check   # exit 1 if any example differs
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"```text\n(\$ derivchain.*?)```", re.S)


def run(command: str) -> str:
    """What a session shows for ``command`` (derivchain run from the repository root, no colour)."""
    args = shlex.split(command.replace("\\\n", " "))
    exe = Path(sys.executable).parent / "derivchain"
    env = {**os.environ, "NO_COLOR": "1", "PYTHONHASHSEED": "0"}
    done = subprocess.run([str(exe), *args[1:]], cwd=ROOT, capture_output=True, text=True, env=env)
    return done.stdout + done.stderr


def refresh(block: str) -> str:
    """The block with each command's output replaced by what the tool prints now."""
    out, lines, i = [], block.splitlines(keepends=True), 0
    while i < len(lines):
        if not lines[i].startswith("$ derivchain"):
            i += 1
            continue
        command = lines[i]
        while command.rstrip("\n").endswith("\\") and i + 1 < len(lines):
            i += 1
            command += lines[i]
        out.append(command)
        out.append(run(command[2:].rstrip("\n")))
        i += 1
        while i < len(lines) and not lines[i].startswith("$ derivchain"):
            i += 1
    return "".join(out)


def main(check: bool) -> int:
    readme = ROOT / "README.md"
    text = readme.read_text()
    new = BLOCK.sub(lambda m: "```text\n" + refresh(m.group(1)) + "```", text)
    if check:
        if new != text:
            print("README examples differ from what the tool prints; run scripts/readme_examples.py")
            return 1
        return 0
    readme.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main("--check" in sys.argv[1:]))
