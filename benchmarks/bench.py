"""Benchmark: derivchain against the plain SymPy way, in one run, as ratios.

    .venv/bin/python benchmarks/bench.py            # all cases, every format, 60 s cap, median of 3
    .venv/bin/python benchmarks/bench.py --cases B1,B3 --formats latex --repeat 1 --cap 20
    .venv/bin/python benchmarks/bench.py --cases S1,D1 --grad --skip-plain   # also `grad W1` in every format

Each case derives the whole weight set three ways, verifies and renders it as `derivchain table
--format F` does, for every format F (the first, LaTeX by default, is compared with plain SymPy; each
other row is also given as a ratio to the LaTeX row of the same case). Every measurement
runs in a fresh subprocess (so caches do not carry over and peak memory is per run) with a time
cap; a run that hits the cap is reported as "no result in N s". The last lines are a Markdown
table for the README (with each output's size and its ratio to the LaTeX output's). Not part of the test suite.
BENCH_EXPAND=1 in the environment renders the tables as `derivchain table --expand` does (each gradient
written out in neuron symbols, as every table was before issue 26).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

CASES = {
    "B1": ("2,3,2,1", "identity", "abs"),
    "B2": ("4,4,4,1", "identity", "abs"),
    "B3": ("2,3,2,1", "sigmoid", "abs"),
    "B4": ("3,5,5,5,1", "tanh", "abs"),
    "B5": ("8,16,16,1", "sigmoid", "half-squared"),
    "B6": ("16,16,16,16,1", "sigmoid", "half-squared"),
    # Graphs with shared weights (issue 11): every parameter derived three ways and verified.
    "G1": ("rnn:steps=10,hidden=4", "", ""),
    "G2": ("rnn:steps=50,hidden=4", "", ""),
    "G3": ("conv1d:length=64,kernel=5", "", ""),
    # Issue 14: the next scale and depth (width 4, 12 hidden layers).
    "S1": ("8,8,8,1", "sigmoid", "abs"),
    "S2": ("32,32,32,32,1", "sigmoid", "half-squared"),
    "S3": ("128,128,1", "sigmoid", "half-squared"),
    "D1": ("4,4,4,4,4,4,4,4,4,4,4,4,4,1", "sigmoid", "half-squared"),
    # Issue 26: 12,352 weights, every row printed (in delta form) in every format.
    "S4": ("64,64,64,64,1", "sigmoid", "half-squared"),
}

FORMATS = ("text", "latex", "markdown", "json", "html", "jsonl")

# A built graph or a dense network, in both scripts (depth limit raised for the 50-step RNN).
BUILD = r'''
from derivchain.limits import raised
from derivchain.model.network import dense
def build(layers, act, loss):
    if ":" in layers:
        from derivchain.model.builders import build as built
        with raised(layers=80):
            return built(layers)
    return dense(layers, activation=act, loss=loss)
'''


# The plain way, as a user would write it: expand Out, diff the loss, multiply out each path,
# simplify the difference, latex both. On a graph with shared weights (too many paths to list) the
# plain way is SymPy's diff of the substituted loss and its LaTeX, for every parameter, nothing checked.
PLAIN = BUILD + r'''
import sys, time, json, resource
import sympy as sp
from derivchain.engines.paths import iter_paths
layers, act, loss = sys.argv[1:4]
net = build(layers, act, loss)
start = time.perf_counter()
full = {}
graph = ":" in layers
for n in net.neurons:
    full[n.symbol] = n.equation.xreplace(full) if graph else sp.expand(n.equation.xreplace(full))
if graph:
    L = net.loss_local.xreplace(full)
    for w in net.parameters:
        sp.latex(sp.diff(L, w))
    print(json.dumps({"seconds": time.perf_counter() - start,
                      "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
    raise SystemExit
out = full[net.outputs[0].symbol]
L = net.loss.formula([out], list(net.targets))
for w in net.weights:
    d = sp.diff(L, w)
    total = 0
    for path in iter_paths(net, w):
        total += sp.expand(sp.Mul(*(f.value for f in path.factors)).xreplace(full))
    assert sp.simplify(d - total) == 0
    sp.latex(d); sp.latex(total)
print(json.dumps({"seconds": time.perf_counter() - start,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
'''

# derivchain: every parameter derived three ways and verified, rendered by `derivchain table --format
# FORMAT`'s own renderer (LaTeX: each gradient in neuron symbols, path count, verdict; JSON: the whole
# `grad` object of every parameter; the sum over paths taken by suffix, as no path is listed); then,
# for LaTeX on dense cases, timed apart, the full LaTeX derivation of every weight.
OURS = BUILD + r'''
import io, os, sys, time, json, resource
from derivchain.verification.derivation import Table
from derivchain.renderers import emit
from derivchain.renderers.latex import latex
layers, act, loss, fmt = sys.argv[1:5]
start = time.perf_counter()
net = build(layers, act, loss)
verdicts, ds = [], []
full = fmt == "latex" and ":" not in layers and len(net.parameters) <= 1000
def row(d):
    verdicts.append(d.verdict.equal)
    if full:
        ds.append(d)
class Counted:
    """A sink that counts what is written (the output's size) and keeps none of it."""
    size = 0
    def write(self, s):
        self.size += len(s.encode("utf-8"))
    def flush(self):
        pass
out = Counted()
# Exactly `derivchain table --format FORMAT` writing to a file: the output streams out, so peak memory
# is the program's, not the output's (a 32-32-32-32-1 JSON table was about 1 GB of text before issue 26).
table = Table(net, expand=True) if os.environ.get("BENCH_EXPAND") else Table(net)
emit(table, fmt, out, on_row=row)
seconds = time.perf_counter() - start
start = time.perf_counter()
for d in ds:  # dense cases: the full LaTeX derivation of every weight, timed apart
    latex(d)
print(json.dumps({"seconds": seconds, "full_latex": time.perf_counter() - start if full else None, "equal": all(verdicts),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "bytes": out.size}))
'''

# `derivchain grad W1 --format FORMAT`, in process (derivation and rendering, not the cold start).
GRAD = BUILD + r'''
import io, os, sys, time, json, resource
from derivchain.verification.derivation import derive
from derivchain.renderers import emit
layers, act, loss, fmt = sys.argv[1:5]
start = time.perf_counter()
net = build(layers, act, loss)
d = derive(net, net.parameters[0])
emit(d, fmt, open(os.devnull, "w"))
print(json.dumps({"seconds": time.perf_counter() - start, "equal": d.verdict.equal,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
'''


def run(code: str, args: list[str], cap: float) -> dict | None:
    """Run ``code`` in a fresh interpreter; its JSON result, or None if it hit the cap."""
    try:
        done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=cap)
    except subprocess.TimeoutExpired:
        return None
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def median_run(code, args, cap, repeat):
    results = []
    for _ in range(repeat):
        r = run(code, args, cap)
        if r is None:
            return None
        results.append(r)
    return {
        "seconds": statistics.median(r["seconds"] for r in results),
        "full_latex": None if results[0].get("full_latex") is None else statistics.median(r["full_latex"] for r in results),
        "peak_mb": max(r["peak_mb"] for r in results),
        "equal": all(r.get("equal", True) for r in results),
        "bytes": results[0].get("bytes"),
    }


def cold_cli(repeat: int) -> tuple[float, float, float]:
    """Median wall time of a cold `derivchain grad W1`, of the bare imports it cannot avoid, and of those
    imports plus SymPy's first sum (``x + 1`` imports sympy.tensor, combinatorics and more: every SymPy
    computation pays it). Runs alternate, so load on the machine falls on all three alike."""
    exe = os.path.join(os.path.dirname(sys.executable), "derivchain")
    # Cold means a new process, as a user's: compiled modules (.pyc) are written and used as on any
    # install, even where the environment says not to write them.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    commands = ([exe, "grad", "W1"], [sys.executable, "-c", "import sympy, typer, rich"],
                [sys.executable, "-c", "import sympy, typer, rich; sympy.Symbol('x') + 1"])
    for cmd in commands:  # warm-up: writes the .pyc files
        subprocess.run(cmd, capture_output=True, check=True, env=env)
    times: list[list[float]] = [[] for _ in commands]
    for _ in range(repeat):
        for cmd, into in zip(commands, times):
            t = time.perf_counter()
            subprocess.run(cmd, capture_output=True, check=True, env=env)
            into.append(time.perf_counter() - t)
    cli, floor, first_sum = (statistics.median(t) for t in times)
    return cli, floor, first_sum


def matrix_batch(repeat: int) -> tuple[float, str]:
    """Median wall time of a cold `derivchain matrix --values FILE` on 8-8-8-1 sigmoid with biases and a batch of
    64 samples (random values, seeded), and its verification line (issue 26's target: at most 2 s)."""
    import random
    import tempfile

    from derivchain.model.network import dense

    net = dense("8,8,8,1", activation="sigmoid", loss="half-squared", bias=True)
    rng = random.Random(26)
    values = {s.name: rng.uniform(-0.5, 0.5) for s in net.parameters}
    values["samples"] = [{s.name: rng.uniform(-1, 1) for s in net.inputs + net.targets} for _ in range(64)]
    exe = os.path.join(os.path.dirname(sys.executable), "derivchain")
    with tempfile.TemporaryDirectory() as work:
        path = os.path.join(work, "batch.json")
        with open(path, "w") as f:
            json.dump(values, f)
        cmd = [exe, "matrix", "--layers", "8,8,8,1", "--activation", "sigmoid", "--loss", "half-squared", "--bias", "--values", path]
        times, line = [], ""
        for _ in range(repeat):
            start = time.perf_counter()
            done = subprocess.run(cmd, capture_output=True, text=True, check=True)
            times.append(time.perf_counter() - start)
            line = next(l for l in done.stdout.splitlines() if l.startswith("Verified"))
    return statistics.median(times), line.split(" (")[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--cap", type=float, default=60.0, help="seconds before a run is given up")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-plain", action="store_true", help="measure derivchain only")
    parser.add_argument("--formats", default="latex,text,markdown,json,html,jsonl", help="comma-separated formats to render the "
                        "table in: text,latex,markdown,json,html,jsonl (each a row; the first is compared with plain SymPy)")
    parser.add_argument("--grad", action="store_true", help="also time `grad W1` (first parameter) in each format")
    parser.add_argument("--skip-cold", action="store_true", help="do not measure the cold CLI nor the batch matrix form")
    opts = parser.parse_args()
    formats = opts.formats.split(",")
    for f in formats:
        if f not in FORMATS:
            parser.error(f"unknown format {f!r}; one of {', '.join(FORMATS)}")

    rows = []
    for name in opts.cases.split(","):
        layers, act, loss = CASES[name]
        args = [layers, act, loss]
        plain = None
        for i, fmt in enumerate(formats):
            ours = median_run(OURS, args + [fmt], opts.cap, opts.repeat)
            if i == 0 and not opts.skip_plain:
                plain = median_run(PLAIN, args, opts.cap, 1 if ours is None else opts.repeat)
            rows.append((name, layers, act, loss, f"table, {fmt}", plain if i == 0 else None, ours))
            print(name, layers, act, loss, fmt, "plain:", plain if i == 0 else "-", "derivchain:", ours, flush=True)
        if opts.grad:
            for fmt in formats:
                ours = median_run(GRAD, args + [fmt], opts.cap, opts.repeat)
                rows.append((name, layers, act, loss, f"grad W1, {fmt}", None, ours))
                print(name, layers, "grad", fmt, "derivchain:", ours, flush=True)

    cli = floor = batch = None
    if not opts.skip_cold:
        cli, floor, first_sum = cold_cli(max(opts.repeat, 5))
        print(f"cold `derivchain grad W1`: {cli:.2f} s; bare import of sympy+typer+rich: {floor:.2f} s; ratio {cli / floor:.2f}; "
              f"the imports and SymPy's first sum: {first_sum:.2f} s ({first_sum / floor:.2f}x of the bare imports)")
        batch, verified = matrix_batch(max(opts.repeat, 3))
        print(f"cold `derivchain matrix --values` 8-8-8-1 sigmoid, biases, a batch of 64: {batch:.2f} s; {verified}")

    def fmt_time(r, plain=False):
        if plain and opts.skip_plain:
            return "not run"
        return f"no result in {opts.cap:.0f} s" if r is None else f"{r['seconds']:.2f} s"

    # Each row beside the LaTeX rendering of the same case and command, measured in this run (the
    # issue's "every format as fast as the fastest": JSON at most 2x LaTeX).
    latex_of = {(r[0], r[4].split(",")[0]): r[6] for r in rows if r[4].endswith(", latex") and r[6] is not None}

    def vs_latex(name, what, ours):
        base = latex_of.get((name, what.split(",")[0]))
        if ours is None or base is None or what.endswith(", latex"):
            return "-"
        return f"{ours['seconds'] / base['seconds']:.1f}x"

    print()
    def vs_latex_bytes(name, what, ours):
        base = latex_of.get((name, what.split(",")[0]))
        if ours is None or base is None or what.endswith(", latex") or not ours.get("bytes") or not base.get("bytes"):
            return "-"
        return f"{ours['bytes'] / base['bytes']:.1f}x"

    def size(r):
        return "-" if r is None or r.get("bytes") is None else f"{r['bytes'] / 1e6:.1f} MB"

    print("| case | network | rendered | plain SymPy | derivchain | speed-up | / LaTeX | output | bytes / LaTeX | peak memory | verdicts | + full LaTeX of every derivation |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, layers, act, loss, what, plain, ours in rows:
        first = what == f"table, {formats[0]}"
        if ours is None or opts.skip_plain or not first:
            speed = "-"
        elif plain is None:
            speed = f"> {opts.cap / ours['seconds']:.0f}x"
        else:
            speed = f"{plain['seconds'] / ours['seconds']:.0f}x"
        memory = "-" if ours is None else f"{ours['peak_mb']:.0f} MB"
        verdict = "-" if ours is None else ("all equal" if ours["equal"] else "NOT all equal")
        net = f"`{layers}`" if ":" in layers else f"{layers.replace(',', '-')} {act}/{loss}"
        full = "-" if ours is None or ours.get("full_latex") is None else f"{ours['full_latex']:.2f} s"
        shown_plain = fmt_time(plain, True) if first else "-"
        print(f"| {name} | {net} | {what} | {shown_plain} | {fmt_time(ours)} | {speed} | {vs_latex(name, what, ours)} "
              f"| {size(ours)} | {vs_latex_bytes(name, what, ours)} | {memory} | {verdict} | {full} |")
    if cli is not None:
        print(f"| cold CLI | `derivchain grad W1` | text | import floor {floor:.2f} s (+ first sum {first_sum:.2f} s) "
              f"| {cli:.2f} s | {cli / floor:.2f}x of floor | | | | | | |")
    if batch is not None:
        print(f"| cold CLI | 8-8-8-1 sigmoid, biases, `matrix --values` batch of 64 | text | - | {batch:.2f} s | | | | | | | |")


if __name__ == "__main__":
    main()
