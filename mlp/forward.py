"""The forward pass, keeping every intermediate value a lesson wants to show."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class ForwardResult:
    """Values of one forward pass of a batch of one row vector."""

    x: torch.Tensor  # (1, in_features)
    pre_activations: tuple[
        torch.Tensor, ...
    ]  # per Linear: x @ W.T + b, (1, out_features)
    post_activations: tuple[torch.Tensor, ...]  # per Linear: after its activation
    logits: torch.Tensor  # (1, out_features)
    probs: torch.Tensor  # (1, out_features), softmax(logits / temperature)

    @property
    def layer_inputs(self) -> tuple[torch.Tensor, ...]:
        """The input each Linear receives: x, then each hidden post-activation."""
        return (self.x, *self.post_activations[:-1])


def softmax(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Return softmax over dim 1; torch subtracts the row maximum, so large logits stay finite."""
    if not temperature > 0:
        raise ValueError(f"temperature must be greater than 0, got {temperature}")
    return torch.softmax(logits / temperature, dim=1)


def run_forward(
    model: nn.Module, x: torch.Tensor, temperature: float = 1.0
) -> ForwardResult:
    """Run `model.layers` on `x` under `torch.no_grad()`, recording each Linear's output.

    The last Linear has no activation after it, so its post-activation is its
    pre-activation, which is the logits.
    """
    pre: list[torch.Tensor] = []
    post: list[torch.Tensor] = []
    h = x
    with torch.no_grad():
        for module in model.layers:
            h = module(h)
            if isinstance(module, nn.Linear):
                pre.append(h)
                post.append(h)
            else:
                post[-1] = h
        logits = h
        probs = softmax(logits, temperature)
    return ForwardResult(x, tuple(pre), tuple(post), logits, probs)
