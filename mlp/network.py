"""Build the network a notebook would build, without touching the global RNG."""

from __future__ import annotations

import logging
import math

import torch
from torch import nn

from mlp.spec import ACTIVATIONS, MLPSpec

logger = logging.getLogger(__name__)


class MLP(nn.Module):
    """A multilayer perceptron whose `layers` is an `nn.Sequential`, as in the lesson."""

    def __init__(self, layers: nn.Sequential) -> None:
        super().__init__()
        self.layers = layers

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)  # logits


def make_generator(seed: int) -> torch.Generator:
    """Return a private CPU generator seeded as `torch.manual_seed(seed)` seeds the global one."""
    generator = torch.Generator(device="cpu")
    generator.manual_seed(seed)
    return generator


def init_linear_(linear: nn.Linear, generator: torch.Generator) -> None:
    """Initialize `linear` as `nn.Linear.reset_parameters` does, drawing from `generator`.

    The draws are the same calls in the same order as PyTorch's own init, so the result
    is bit-identical to seeding the global RNG and constructing the layer.
    """
    nn.init.kaiming_uniform_(linear.weight, a=math.sqrt(5), generator=generator)
    if linear.bias is not None:
        bound = 1.0 / math.sqrt(linear.in_features)
        nn.init.uniform_(linear.bias, -bound, bound, generator=generator)


def make_activation(name: str) -> nn.Module:
    """Return a fresh activation module for a key of `ACTIVATIONS`."""
    return getattr(nn, ACTIVATIONS[name])()


def build_model(spec: MLPSpec) -> MLP:
    """Build the network of `spec` with the weights of `torch.manual_seed(spec.seed)`.

    The result equals, bit for bit, a notebook that calls `torch.manual_seed(seed)` and
    then constructs `Linear` and activation modules in order. A private generator is
    used, so concurrent builds on several threads never share random state.
    """
    generator = make_generator(spec.seed)
    modules: list[nn.Module] = []
    for linear_idx, (in_features, out_features) in enumerate(spec.linear_shapes()):
        # skip_init allocates without running the default init on the global RNG.
        linear = nn.utils.skip_init(
            nn.Linear, in_features, out_features, bias=spec.bias
        )
        with torch.no_grad():
            init_linear_(linear, generator)
        modules.append(linear)
        if linear_idx < spec.num_linear - 1:
            modules.append(make_activation(spec.activation))

    model = MLP(nn.Sequential(*modules))
    model.eval()
    logger.debug("built %s", spec)
    return model


def linear_layers(model: nn.Module) -> list[tuple[int, nn.Linear]]:
    """(index in `model.layers`, module) of each Linear, in forward order."""
    return [(idx, m) for idx, m in enumerate(model.layers) if isinstance(m, nn.Linear)]


def default_input(in_features: int, seed: int) -> torch.Tensor:
    """Return `torch.randn(1, in_features)` as drawn right after `torch.manual_seed(seed)`."""
    return torch.randn(
        1, in_features, generator=make_generator(seed)
    )  # (1, in_features)
