"""An MLP classifier: 4 features, hidden layers of 5 and 3 (ReLU, Tanh), 3 classes, CrossEntropyLoss on a batch of 2.

    derivchain autograd --torch examples/torch/mlp.py:build
    derivchain grad "0.weight[1,0]" --torch examples/torch/mlp.py:build
"""

import torch
from torch import nn


def build():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3), nn.Tanh(), nn.Linear(3, 3)).double()
    x = torch.randn(2, 4, dtype=torch.float64)
    target = torch.tensor([2, 0])  # class indices: CrossEntropyLoss takes the logits and averages over the batch
    return model, x, nn.CrossEntropyLoss(), target
