"""Benchmark: checking one answer (issue 22), after start-up, on the worked example and on larger networks.

    .venv/bin/python benchmarks/check_cases.py             # every case, median of 5 fresh processes
    .venv/bin/python benchmarks/check_cases.py --repeat 3 --cases W1,W2

Each measurement runs in a fresh subprocess: the import and the network are built first (the start-up,
reported on its own), then one ``dc.check`` is timed (reading the answer, deriving and verifying the
derivative, and for a wrong answer the diagnosis and the counterexample; the first also loads the modules
it needs), then the same check on a new network object (what a grader pays per answer). Not part of the
test suite.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

S = "*sign(Out - Y)"
#: name -> (network options for api.network, parameter, answer, what it is).
CASES = {
    "W1": ({}, "W7", "W13*H1" + S, "worked example, dLoss/dW7, correct"),
    "W2": ({}, "W7", "W13*H1", "worked example, dLoss/dW7, the learner's (case)"),
    "W3": ({}, "W1", "W13*W7*X1" + S, "worked example, dLoss/dW1, a path left out"),
    "W4": ({}, "W1", "W13*W7*X2" + S, "worked example, dLoss/dW1, two mistakes"),
    "W5": ({}, "W1", "X1*X2*W13", "worked example, dLoss/dW1, unknown (whole search)"),
    "L1": ({"layers": "2,3,3,3,1", "activation": "sigmoid", "loss": "half-squared"}, "W1", "X1*X2*W13",
           "2-3-3-3-1 sigmoid, 9 paths, unknown (search bounded)"),
    "L2": ({"layers": "3,4,4,4,1", "activation": "tanh", "loss": "half-squared"}, "W1", "X1*X2*W13",
           "3-4-4-4-1 tanh, 16 paths, unknown (search bounded)"),
}

CHILD = r'''
import json, sys, time
start = time.perf_counter()
import derivchain as dc
from derivchain import api
options, parameter, answer = json.loads(sys.argv[1])
net = api.network(**options)
ready = time.perf_counter()
c = dc.check(net, parameter, answer)
done = time.perf_counter()
again = api.network(**options)  # a new network object: nothing remembered from the first check
c = dc.check(again, parameter, answer)
second = time.perf_counter() - done
print(json.dumps({"startup": ready - start, "check": done - ready, "second": second, "kinds": [f.kind for f in c.diagnosis],
                  "correct": c.correct}))
'''


def measure(case: str, repeat: int) -> dict:
    options, parameter, answer, _ = CASES[case]
    runs = []
    for _ in range(repeat):
        done = subprocess.run([sys.executable, "-c", CHILD, json.dumps([options, parameter, answer])], capture_output=True,
                              text=True, check=True)
        runs.append(json.loads(done.stdout))
    return {"startup": statistics.median(r["startup"] for r in runs), "check": statistics.median(r["check"] for r in runs),
            "second": statistics.median(r["second"] for r in runs),
            "result": "correct" if runs[0]["correct"] else ", ".join(runs[0]["kinds"])}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    rows = []
    for case in args.cases.split(","):
        m = measure(case, args.repeat)
        rows.append(f"| {case} | {CASES[case][3]} | `{CASES[case][2]}` | {m['result']} | {m['startup']:.2f} s | {m['check']:.2f} s | {m['second']:.2f} s |")
        print(rows[-1], flush=True)
    print("\n| case | what | answer | found | start-up | first check | next check |\n| --- | --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
