"""A custom autograd.Function with a deliberately wrong backward: cube(u) = u**3, whose backward forgets the 3.
derivchain derives from the forward; autograd runs the hand-written backward; `derivchain autograd` names the
first entry where they differ and prints its sum over paths.

    derivchain autograd --torch examples/torch/wrong_backward.py:build   # exit 1
"""

import torch
from torch import nn


class Cube(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u):
        ctx.save_for_backward(u)
        return u ** 3

    @staticmethod
    def backward(ctx, grad):
        (u,) = ctx.saved_tensors
        return grad * u ** 2  # wrong: d(u**3)/du = 3 u**2


class WithCube(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 1)

    def forward(self, x):
        return Cube.apply(self.fc(x))


def build():
    torch.manual_seed(3)
    model = WithCube().double()
    x = torch.randn(2, 2, dtype=torch.float64)
    return model, x, nn.MSELoss(), torch.randn(2, 1, dtype=torch.float64)
