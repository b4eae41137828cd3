"""Time the matrix form's benchmark cases (issue 13): symbolic 8-8-8-1, and 16-16-16-16-1 at values, one sample
and a batch of 64. Each case runs in this process after a warm-up import; prints seconds and what was verified.

    .venv/bin/python benchmarks/matrix_cases.py
"""

from __future__ import annotations

import random
import time
from fractions import Fraction

import derivchain as dc
from derivchain.engines.matrix import batch_matrix_form, matrix_form


def timed(label, make):
    start = time.perf_counter()
    result = make()
    print(f"{label:<48} {time.perf_counter() - start:6.2f} s  {result.check.verified}/{result.check.total} entries verified")


def main() -> None:
    rng = random.Random(1)
    for act in ("tanh", "sigmoid"):
        timed(f"8-8-8-1 {act}, biases, symbolic", lambda: matrix_form(dc.dense("8,8,8,1", activation=act, loss="half-squared", bias=True)))
    for act in ("relu", "sigmoid"):
        net = dc.dense("16,16,16,16,1", activation=act, loss="half-squared", bias=True)
        params = {s.name: Fraction(rng.randint(-50, 50), 100) for s in net.parameters}
        samples = [{s.name: Fraction(rng.randint(-50, 50), 100) for s in net.inputs + net.targets} for _ in range(64)]
        timed(f"16-16-16-16-1 {act}, one sample", lambda: matrix_form(net, {**params, **samples[0]}))
        net = dc.dense("16,16,16,16,1", activation=act, loss="half-squared", bias=True)  # a fresh network: no caches
        timed(f"16-16-16-16-1 {act}, batch of 64", lambda: batch_matrix_form(net, params, samples))


if __name__ == "__main__":
    main()
