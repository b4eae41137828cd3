"""The README and every docs/ page show what the tool prints: every `$ derivchain ...` example, `>>>`
session and Python block is run again and compared (scripts/readme_examples.py --check)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_examples_match_the_tool():
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "readme_examples.py"), "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
