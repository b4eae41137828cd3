"""Benchmark for issue 24's targets: second derivatives (not part of the test suite).

    .venv/bin/python benchmarks/hessian_cases.py            # both cases, median of 3
    .venv/bin/python benchmarks/hessian_cases.py --repeat 1

H1: `hessian W1 W2` on a 16-16-16-16-1 sigmoid network (half-squared loss): derived three ways and
    verified, printed as text. Target: at most 5 s.
H2: the full Hessian at numbers of a 4-8-8-1 sigmoid network with biases (121 parameters, 7,381 distinct
    entries), computed two ways, compared entry by entry, symmetry checked, eigenvalues, Newton step.
    Target: at most 30 s.
D6, D8, D12: `hessian W1 W3` on a 4-wide sigmoid network with 6, 8 and 12 hidden layers (2 inputs): deep and
    narrow, where the direct second derivative once grew 6-10x per two layers (D12 ran past 10 minutes).

Each run is a fresh `derivchain` process (wall time, includes the start); the values are drawn from a fixed seed.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "derivchain"]


def values_file(folder: Path) -> Path:
    """Numbers for every leaf of the 4-8-8-1 network with biases, drawn from seed 24."""
    sys.path.insert(0, str(ROOT))
    from derivchain import api

    net = api.network(layers="4,8,8,1", activation="sigmoid", loss="half-squared", bias=True)
    rng = random.Random(24)
    values = {s.name: round(rng.uniform(-1, 1), 3) for s in net.leaves}
    path = folder / "values_4881.json"
    path.write_text(json.dumps(values))
    return path


def timed(args: list[str]) -> tuple[float, int]:
    start = time.perf_counter()
    done = subprocess.run(CLI + args, cwd=ROOT, capture_output=True, text=True)
    return time.perf_counter() - start, done.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        values = values_file(Path(folder))
        cases = {
            "H1 hessian W1 W2, 16-16-16-16-1 sigmoid (target 5 s)":
                ["hessian", "W1", "W2", "--layers", "16,16,16,16,1", "--activation", "sigmoid", "--loss", "half-squared"],
            "H2 full Hessian at numbers, 4-8-8-1 sigmoid, 121 parameters (target 30 s)":
                ["hessian", "--layers", "4,8,8,1", "--activation", "sigmoid", "--loss", "half-squared", "--bias",
                 "--values", str(values), "--newton", "--format", "json"],
        }
        for hidden in (6, 8, 12):
            layers = ",".join(["2"] + ["4"] * hidden + ["1"])
            cases[f"D{hidden} hessian W1 W3, 4 wide, {hidden} hidden layers"] = [
                "hessian", "W1", "W3", "--layers", layers, "--activation", "sigmoid", "--loss", "half-squared"]
        for name, args in cases.items():
            runs = [timed(args) for _ in range(options.repeat)]
            codes = sorted({code for _, code in runs})
            print(f"{name}: median {statistics.median(t for t, _ in runs):.2f} s over {len(runs)} (exit codes {codes})")


if __name__ == "__main__":
    main()
