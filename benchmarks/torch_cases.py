"""Time issue 25's benchmark case: an MLP 16-32-32-4 (ReLU) with CrossEntropyLoss on a batch of 8, traced from
PyTorch, then every parameter entry's gradient at the model's values beside autograd's. Target: 30 s.
Two ways: every entry derived three ways and verified (``derivchain autograd``), and by backpropagation alone
with autograd as the check (``--fast``). Each in a fresh network, after a warm-up import.

    .venv/bin/python benchmarks/torch_cases.py
"""

from __future__ import annotations

import os
import sys
import time

import derivchain as dc
from derivchain.model.torch_model import need_torch

TARGET = 30.0


def case():
    torch = need_torch()
    from torch import nn

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 4)).double()
    x = torch.randn(8, 16, dtype=torch.float64)
    return model, x, nn.CrossEntropyLoss(), torch.randint(0, 4, (8,))


def main() -> int:
    model, x, loss, target = case()
    worst = 0.0
    for three_ways in (False, True):
        start = time.perf_counter()
        net = dc.from_torch(model, x, loss=loss, target=target)
        traced = time.perf_counter() - start
        result = dc.compare_autograd(net, model, x, loss, target, three_ways=three_ways)
        total = time.perf_counter() - start
        label = "three ways, every entry" if three_ways else "--fast (backprop + autograd)"
        print(f"MLP 16-32-32-4, CE, batch 8, {label:<30} trace {traced:5.2f} s, total {total:7.2f} s, "
              f"{len(result.entries)} entries, {'all agree' if result.all_agree else 'DISAGREE'}", flush=True)
        if three_ways:  # the target is for every entry three ways (--fast is faster still)
            worst = total
    print(f"load average {os.getloadavg()[0]:.2f}; target {TARGET:.0f} s: {'met' if worst <= TARGET else 'NOT met'}")
    return 0 if worst <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
