"""A tied autoencoder: the decoder is the encoder's weight transposed (one parameter used twice), MSELoss to the input.

    derivchain autograd --torch examples/torch/autoencoder.py:build
    derivchain paths "enc.weight[0,1]" --torch examples/torch/autoencoder.py:build
"""

import torch
import torch.nn.functional as F
from torch import nn


class TiedAutoencoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(3, 2)
        self.dec_bias = nn.Parameter(torch.zeros(3))

    def forward(self, x):
        code = torch.sigmoid(self.enc(x))
        return F.linear(code, self.enc.weight.t(), self.dec_bias)  # the same weight, transposed


def build():
    torch.manual_seed(2)
    model = TiedAutoencoder().double()
    x = torch.randn(2, 3, dtype=torch.float64)
    return model, x, nn.MSELoss(), x
