"""A small CNN: one 1-channel 4x4 image per sample, Conv2d(1, 2, 3) then ReLU, flattened into Linear(8, 2), MSELoss.

    derivchain autograd --torch examples/torch/cnn.py:build
"""

import torch
from torch import nn


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, kernel_size=3)
        self.fc = nn.Linear(2 * 2 * 2, 2)

    def forward(self, x):
        return self.fc(torch.flatten(torch.relu(self.conv(x)), 1))


def build():
    torch.manual_seed(1)
    model = SmallCNN().double()
    x = torch.randn(1, 1, 4, 4, dtype=torch.float64)
    return model, x, nn.MSELoss(), torch.randn(1, 2, dtype=torch.float64)
