"""Benchmark for issue 24's targets: second derivatives (not part of the test suite).

    .venv/bin/python benchmarks/hessian_cases.py            # both cases, median of 3
    .venv/bin/python benchmarks/hessian_cases.py --repeat 1
    .venv/bin/python benchmarks/hessian_cases.py --repeat 1 --sympy     # and the plain SymPy way, as ratios

H1: `hessian W1 W2` on a 16-16-16-16-1 sigmoid network (half-squared loss): derived three ways and
    verified, printed as text. Target: at most 5 s.
H2: the full Hessian at numbers of a 4-8-8-1 sigmoid network with biases (121 parameters, 7,381 distinct
    entries), computed two ways, compared entry by entry, symmetry checked, eigenvalues, Newton step.
    Target: at most 30 s.
D6, D8, D12: `hessian W1 W3` on a 4-wide sigmoid network with 6, 8 and 12 hidden layers (2 inputs): deep and
    narrow, where the direct second derivative once grew 6-10x per two layers (D12 ran past 10 minutes).
W: the Hessian at numbers over W1, W2 of a 48-wide, 6-deep sigmoid network (11,569 edges): ran past 200 s
    before the values were converted lazily.
R: the same at 400 parameters of a 16-wide, 4-deep one: refused up front by the hessian_work limit (it ran 50-80 s).

``--sympy``: each case also the plain SymPy way, in a fresh process with a time limit (``--sympy-seconds``): the
loss with every neuron substituted (derivchain's own expression), ``sympy.diff`` by P and Q, then ``evalf`` at
the values (W, R: at the values, each entry; H2: all 7,381 entries); the ratio is plain SymPy / derivchain.

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


def wide_values(folder: Path, layers: str) -> Path:
    """Numbers for every leaf of a sigmoid network ``layers``, drawn from seed 24."""
    sys.path.insert(0, str(ROOT))
    from derivchain import api

    net = api.network(layers=layers, activation="sigmoid", loss="half-squared")
    rng = random.Random(24)
    path = folder / f"values_{layers.replace(',', '-')}.json"
    path.write_text(json.dumps({s.name: round(rng.uniform(-1, 1), 3) for s in net.leaves}))
    return path


#: The plain SymPy way, run in a fresh process: argv = layers, bias (0/1), values file or "", parameters (comma list).
PLAIN = """
import json, sys, sympy as sp
from derivchain import api
layers, bias, values, params = sys.argv[1], sys.argv[2] == "1", sys.argv[3], sys.argv[4].split(",")
net = api.network(layers=layers, activation="sigmoid", loss="half-squared", bias=bias)
loss = net.substitute(net.loss_local)
symbols = [net.parameter(p) for p in params]
point = {net.parameter(k): sp.Rational(str(v)) for k, v in json.load(open(values)).items()} if values else None
for i, p in enumerate(symbols):
    for q in symbols[i:]:
        d = sp.diff(loss, p, q)
        if point is not None:
            d.evalf(20, subs=point)
"""


def plain_sympy(layers: str, bias: bool, values: str, params: list[str], seconds: float) -> float | None:
    """Seconds the plain SymPy way took, or None past ``seconds``."""
    start = time.perf_counter()
    try:
        subprocess.run([sys.executable, "-c", PLAIN, layers, "1" if bias else "0", values, ",".join(params)], cwd=ROOT,
                       capture_output=True, timeout=seconds, check=True)
    except subprocess.TimeoutExpired:
        return None
    return time.perf_counter() - start


def timed(args: list[str]) -> tuple[float, int]:
    start = time.perf_counter()
    done = subprocess.run(CLI + args, cwd=ROOT, capture_output=True, text=True)
    return time.perf_counter() - start, done.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sympy", action="store_true", help="also time the plain SymPy way and print the ratio")
    parser.add_argument("--sympy-seconds", type=float, default=300)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        values = values_file(Path(folder))
        wide = wide_values(Path(folder), "4,48,48,48,48,48,48,1")
        wide16 = wide_values(Path(folder), "4,16,16,16,16,1")
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
        cases["W full Hessian at numbers over W1, W2, 48-wide, 6 deep (11,569 edges)"] = [
            "hessian", "--layers", "4,48,48,48,48,48,48,1", "--activation", "sigmoid", "--loss", "half-squared",
            "--values", str(wide), "--params", "W1,W2"]
        cases["R full Hessian at numbers over 400 parameters, 16-wide, 4 deep (refused: exit code 2)"] = [
            "hessian", "--layers", "4,16,16,16,16,1", "--activation", "sigmoid", "--loss", "half-squared",
            "--values", str(wide16), "--params", ",".join(f"W{i}" for i in range(1, 401))]
        # The same computations the plain SymPy way: (layers, bias, values, parameters).
        plain = {"H1": ("16,16,16,16,1", False, "", ["W1", "W2"]),
                 "H2": ("4,8,8,1", True, str(values), None),
                 "D6": (",".join(["2"] + ["4"] * 6 + ["1"]), False, "", ["W1", "W3"]),
                 "W": ("4,48,48,48,48,48,48,1", False, str(wide), ["W1", "W2"])}
        for name, args in cases.items():
            runs = [timed(args) for _ in range(options.repeat)]
            codes = sorted({code for _, code in runs})
            ours = statistics.median(t for t, _ in runs)
            line = f"{name}: median {ours:.2f} s over {len(runs)} (exit codes {codes})"
            key = name.split()[0]
            if options.sympy and key in plain:
                layers, bias, vals, params = plain[key]
                if params is None:
                    sys.path.insert(0, str(ROOT))
                    from derivchain import api

                    params = [p.name for p in api.network(layers=layers, activation="sigmoid", loss="half-squared",
                                                          bias=bias).parameters]
                theirs = plain_sympy(layers, bias, vals, params, options.sympy_seconds)
                line += (f"; plain SymPy {theirs:.2f} s, ratio {theirs / ours:.1f}" if theirs is not None else
                         f"; plain SymPy past {options.sympy_seconds:.0f} s, ratio > {options.sympy_seconds / ours:.1f}")
            print(line, flush=True)


if __name__ == "__main__":
    main()
