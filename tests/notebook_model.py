"""The lesson's network written the way a notebook writes it, for comparisons."""

from __future__ import annotations

from torch import nn


class NotebookModel(nn.Module):
    """A module whose `layers` alternate `nn.Linear` and `activation`, built in order."""

    def __init__(self, sizes=(5, 8, 4, 2), activation=nn.ReLU, bias=True):
        super().__init__()
        modules: list[nn.Module] = []
        for k in range(len(sizes) - 1):
            modules.append(nn.Linear(sizes[k], sizes[k + 1], bias=bias))
            if k < len(sizes) - 2:
                modules.append(activation())
        self.layers = nn.Sequential(*modules)

    def forward(self, x):
        return self.layers(x)
