"""Save what every command prints (and writes) on a fixed set of networks, to compare two versions byte for byte.

    .venv/bin/python scripts/snapshot.py /tmp/before          # save stdout, stderr, exit code and files
    .venv/bin/python scripts/snapshot.py /tmp/after
    .venv/bin/python scripts/snapshot.py --compare /tmp/before /tmp/after

A refactoring that keeps every contract keeps these bytes. Each run is a subprocess of the installed
``derivchain`` (PYTHONHASHSEED varied per run: the output must not depend on it), two at a time.
Not part of the test suite: it takes a few minutes.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

NETWORKS = {
    "default": "",
    "sigmoid": "--layers 2,2,1 --activation sigmoid --output-activation sigmoid --loss cross-entropy",
    "tanh": "--layers 3,5,5,5,1 --activation tanh",
    "relu_bias": "--layers 2,3,1 --activation relu --loss half-squared --bias",
    "softmax": "--layers 2,2,3 --activation tanh --loss softmax",
    "classifier": "--network examples/classifier.json",
    "layered": "--layers 2,2,2,1 --notation layered --activation sigmoid --loss squared",
    "l2": "--layers 2,2,1 --loss half-squared --l2 0.1",
    "custom": "--layers 2,2,1 --activation 'x**2/2' --loss '(Out - Y)**4/4'",
    "wide": "--layers 8,8,8,1 --activation sigmoid",
    "two_outputs": "--network examples/two_outputs.toml",
    "skip": "--network examples/skip.toml",
    "rnn": "--network examples/rnn.toml",
    "conv1d": "--network examples/conv1d.toml",
    "course": "--network examples/course_graph.toml",
    "tied": "--network examples/tied_autoencoder.toml",
    "rnn_built": "--network rnn:steps=3,hidden=2",
}

FORMATS = ("text", "latex", "markdown", "json")


def commands() -> dict[str, str]:
    """name -> the command line (after ``derivchain``)."""
    out: dict[str, str] = {}
    for net, opts in NETWORKS.items():
        first = "$(first)"
        for fmt in FORMATS:
            out[f"{net}.grad.{fmt}"] = f"grad {first} {opts} --format {fmt}"
            out[f"{net}.show.{fmt}"] = f"show {opts} --format {fmt}"
            out[f"{net}.paths.{fmt}"] = f"paths {first} {opts} --format {fmt}"
            out[f"{net}.steps.{fmt}"] = f"steps {first} {opts} --format {fmt}"
            if net != "wide" or fmt != "json":
                out[f"{net}.table.{fmt}"] = f"table {opts} --format {fmt}"
            out[f"{net}.formula.{fmt}"] = f"formula {opts} --format {fmt}"
        out[f"{net}.export.tex"] = f"export {opts} --out notes.tex"
        out[f"{net}.export.md"] = f"export {opts} --out notes.md"
        out[f"{net}.export.html"] = f"export {opts} --out notes.html"
        out[f"{net}.export.brief"] = f"export {opts} --brief --out brief.tex"
        out[f"{net}.draw.svg"] = f"draw {first} {opts} --out pic.svg"
        out[f"{net}.draw.tex"] = f"draw {opts} --out pic.tex"
    for fmt in FORMATS:
        out[f"matrix.sigmoid.{fmt}"] = f"matrix --layers 2,2,1 --activation sigmoid --loss half-squared --format {fmt}"
        out[f"matrix.batch.{fmt}"] = ("matrix --layers 2,2,1 --activation relu --loss half-squared --bias "
                                      f"--values examples/matrix_batch_values.json --format {fmt}")
        out[f"matrix.published.{fmt}"] = ("matrix --layers 2,2,2 --activation sigmoid --output-activation sigmoid "
                                          f"--loss half-squared --bias --values examples/published_step_values.json --format {fmt}")
        out[f"values.batch.{fmt}"] = ("grad W1 --layers 2,1 --loss half-squared --l2 0.1 "
                                      f"--values examples/batch_values.json --format {fmt}")
        out[f"values.set.{fmt}"] = ("grad W1 --set X1=1 --set X2=2 --set Y=3 " + " ".join(f"--set W{i}={i}/7" for i in range(1, 15))
                                    + f" --format {fmt}")
        out[f"step.published.{fmt}"] = ("step --layers 2,2,2 --activation sigmoid --output-activation sigmoid --loss half-squared "
                                        f"--bias --values examples/published_step_values.json --lr 0.5 --format {fmt}")
        out[f"step.batch.{fmt}"] = (f"step --layers 2,1 --loss half-squared --values examples/batch_values.json "
                                    f"--set W1=1 --steps 3 --batch-size 2 --format {fmt}")
        out[f"formula.w.{fmt}"] = f"formula w2_1_2 --layers 2,2,2,1 --notation layered --activation sigmoid --format {fmt}"
    out["export.pdfless.snippet"] = "export W1 W7 --snippet --out snip.tex"
    errors = ["grad W99", "grad W1 --format xml", "grad W1 --layers 2,,1", "grad W1 --layers 0,1", "table --layers 2,1000,1000,1",
              "grad W1 --activation 'foo(x)'", "grad W1 --loss '__import__(\"os\")'", "grad W1 --network missing.toml",
              "export --out notes.txt", "draw --out x.png", "step", "grad W1 --max-paths -1", "grad W1 --limit nope=3",
              "--version", "--help", "grad --help", "grad W1 --set W1=abc", ""]
    for i, e in enumerate(errors):
        out[f"error.{i:02d}"] = e
    return out


def run_one(name: str, line: str, out: Path, exe: str, seed: int, first: dict[str, str]) -> None:
    net = name.split(".")[0]
    line = line.replace("$(first)", first.get(net, "W1"))
    with tempfile.TemporaryDirectory() as work:
        for item in ("examples",):
            os.symlink(ROOT / item, Path(work) / item)
        env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "100", "PYTHONHASHSEED": str(seed)}
        env.pop("FORCE_COLOR", None)
        done = subprocess.run([exe, *shlex.split(line)], cwd=work, capture_output=True, env=env, timeout=600)
        target = out / name
        target.mkdir(parents=True, exist_ok=True)
        (target / "command").write_text(line + "\n")
        (target / "stdout").write_bytes(done.stdout)
        (target / "stderr").write_bytes(done.stderr)
        (target / "rc").write_text(f"{done.returncode}\n")
        for path in sorted(Path(work).rglob("*")):
            if path.is_file() and not path.is_symlink() and "examples" not in path.parts:
                rel = path.relative_to(work)
                dest = target / "files" / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, dest)


def firsts(exe: str) -> dict[str, str]:
    """Each network's first parameter, read from `table --format json` ... cheaper: from `show --format json`."""
    import json

    found = {}
    for net, opts in NETWORKS.items():
        done = subprocess.run([exe, "show", *shlex.split(opts), "--format", "json"], cwd=ROOT, capture_output=True, text=True)
        data = json.loads(done.stdout)
        params = data.get("parameters") or []
        found[net] = params[0] if params else "W1"
    return found


def save(out: Path, jobs: int) -> None:
    exe = str(Path(sys.executable).parent / "derivchain")
    if out.exists():
        sys.exit(f"{out} exists: give a new directory")
    out.mkdir(parents=True)
    first = firsts(exe)
    todo = commands()
    with ThreadPoolExecutor(jobs) as pool:
        futures = [pool.submit(run_one, name, line, out, exe, i % 7 + 1, first) for i, (name, line) in enumerate(sorted(todo.items()))]
        for f in futures:
            f.result()
    print(f"saved {len(todo)} runs in {out}")


def digest(path: Path) -> dict[str, str]:
    return {str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(path.rglob("*")) if p.is_file()}


def compare(a: Path, b: Path) -> int:
    da, db = digest(a), digest(b)
    differ = sorted(k for k in set(da) | set(db) if da.get(k) != db.get(k))
    for k in differ:
        print(f"differs: {k}" if k in da and k in db else f"only in {'first' if k in da else 'second'}: {k}")
    runs = len({k.split("/")[0] for k in da})
    print(f"{len(da)} files in {runs} runs compared; {len(differ)} differ")
    return 1 if differ else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="+", type=Path)
    parser.add_argument("--compare", action="store_true")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    if args.compare:
        return compare(*args.dirs)
    save(args.dirs[0], args.jobs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
