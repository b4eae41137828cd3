"""Time the matrix graph cases of issue 23, each in a fresh process: `grad WQ --values` on a scaled attention of 8
tokens in 16 dimensions (768 parameter entries; target 10 s, 1 GB) and `table` of the 3-token, 4-dimension example
(target 10 s). Prints wall and CPU seconds, peak memory and the verdict line.

    .venv/bin/python benchmarks/attention_cases.py
"""

from __future__ import annotations

import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def values(tokens: int, dim: int) -> dict:
    """Deterministic values: each matrix of the attention builder, entries in [-0.5, 0.5] in steps of 0.01."""
    rng = random.Random(7)
    grid = lambda r, c: [[rng.randint(-50, 50) / 100 for _ in range(c)] for _ in range(r)]  # noqa: E731
    return {"X": grid(tokens, dim), "WQ": grid(dim, dim), "WK": grid(dim, dim), "WV": grid(dim, dim), "T": grid(tokens, dim)}


def timed(label: str, args: list[str]) -> None:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", "import sys; from derivchain.cli import main; main(sys.argv[1:])", *args],
                       capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    verdict = next((l for l in r.stdout.splitlines() if l.startswith(("Verified", "NOT verified"))), f"exit {r.returncode}")
    print(f"{label:<44} {wall:6.1f} s wall {cpu:6.1f} s CPU {after.ru_maxrss / 1024:6.0f} MB peak  {verdict[:150]}")


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "values.json"
        path.write_text(json.dumps(values(8, 16)))
        timed("grad WQ --values, attention 8 tokens x 16", ["grad", "WQ", "--network", "attention:tokens=8,dim=16",
                                                             "--values", str(path)])
    timed("table, examples/attention.toml (48 entries)", ["table", "--network", "examples/attention.toml"])


if __name__ == "__main__":
    main()
