"""What a network's memos cost over a session: memory left after it is deleted, and a second table in one process.

    .venv/bin/python benchmarks/lifetime.py                       # both measurements, default sizes
    .venv/bin/python benchmarks/lifetime.py --memory 4,8,8,1 --tables 32,32,32,32,1

* memory: a network's whole table rendered (text), then the network and everything derived from it
  deleted and garbage collected; the memory traced (tracemalloc) that is still held, as a share of what
  the work held at its end (issue 20's target: under 5%). SymPy's own bounded cache is counted too.
* tables: the same table rendered twice in one process, each on a freshly built equal network (a
  notebook re-running a cell), first one kept alive; each time in seconds (target: within 15%).

Each measurement runs in a fresh subprocess. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

MEMORY = r'''
import gc, io, json, sys, tracemalloc
import derivchain as dc
from derivchain.renderers import emit
layers, activation = sys.argv[1], sys.argv[2]
def work():
    net = dc.dense(layers, activation=activation, loss="half-squared")
    emit(dc.api.table(net), "text", io.StringIO())
    return net
dc.dense("2,2,1")  # imports and first-use setup outside the measurement
emit(dc.api.table(dc.dense("2,2,1")), "text", io.StringIO())
gc.collect()
tracemalloc.start()
base = tracemalloc.get_traced_memory()[0]
net = work()
gc.collect()
held = tracemalloc.get_traced_memory()[0] - base
entries = len(net.memos)
del net
gc.collect()
left = tracemalloc.get_traced_memory()[0] - base
print(json.dumps({"held": held, "left": left, "entries": entries}))
'''

TABLES = r'''
import io, json, sys, time
import derivchain as dc
from derivchain.renderers import emit
layers = sys.argv[1]
times, keep = [], []
for _ in range(2):
    start = time.perf_counter()
    net = dc.dense(layers, activation="sigmoid", loss="half-squared")
    emit(dc.api.table(net), "text", io.StringIO())
    times.append(time.perf_counter() - start)
    keep.append(net)  # the first stays alive, as a notebook's variable does
print(json.dumps({"first": times[0], "second": times[1]}))
'''


def run(code: str, *args: str) -> dict:
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memory", default="4,8,8,1", help="layers of the network whose memory is traced")
    parser.add_argument("--activation", default="sigmoid")
    parser.add_argument("--tables", default="32,32,32,32,1", help="layers of the network whose table is made twice")
    parser.add_argument("--skip-tables", action="store_true")
    args = parser.parse_args()
    m = run(MEMORY, args.memory, args.activation)
    share = m["left"] / m["held"] if m["held"] else 0.0
    print(f"memory: {args.memory} {args.activation} table held {m['held'] / 1e6:.1f} MB ({m['entries']} memo entries); "
          f"after deleting the network: {m['left'] / 1e6:.2f} MB left ({100 * share:.1f}%; target < 5%)")
    if not args.skip_tables:
        t = run(TABLES, args.tables)
        ratio = t["second"] / t["first"]
        print(f"tables: {args.tables} sigmoid text table, first {t['first']:.2f} s, second (fresh equal network, first kept) "
              f"{t['second']:.2f} s: {ratio:.2f}x (target <= 1.15x)")


if __name__ == "__main__":
    main()
