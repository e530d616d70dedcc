"""The 50:50 lab: how far from uniform the softmax of a freshly initialized network lands.

Two samples of the largest softmax probability, `probs.max(dim=1)`: one over many random
inputs to one network, one over many seeds for one input. Every weight and bias can be
multiplied by a scale and the logits divided by a temperature first, so the lab shows
when the outputs stop being near `1 / out_features`.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from mlp.forward import softmax
from mlp.network import MLP, make_activation, make_generator
from mlp.params import count_parameters
from mlp.spec import MLPSpec

logger = logging.getLogger(__name__)

DEFAULT_NUM_INPUTS = 2000
DEFAULT_NUM_SEEDS = 200
MIN_WEIGHT_SCALE, MAX_WEIGHT_SCALE = 0.0, 10.0
MIN_TEMPERATURE, MAX_TEMPERATURE = 0.05, 20.0

# Work caps, so the largest architecture (1024 inputs, eight hidden layers of 512) stays
# interactive. Sampling 2.4 million float32 values with a CPU generator took about
# 10 ms on a 2-core test machine, so 40 million values cost roughly 0.2 s.
MAX_SEED_LAB_VALUES = 40_000_000
MIN_SEEDS = 10
# Multiply-adds of one batched forward pass; 2,000 inputs through the largest network
# need about 4.7e9, so this cap only bites if the architecture bounds grow.
MAX_INPUT_LAB_MACS = 6_000_000_000
MIN_INPUTS = 100


@dataclass(frozen=True)
class MaxProbSample:
    """Largest softmax probability per draw, and how many draws the work cap allowed."""

    max_probs: torch.Tensor  # (num_used,), each from 1 / out_features to 1
    logits: torch.Tensor  # (num_used, out_features)
    num_requested: int
    out_features: int

    @property
    def num_used(self) -> int:
        return int(self.max_probs.numel())

    @property
    def capped(self) -> bool:
        return self.num_used < self.num_requested

    @property
    def uniform(self) -> float:
        return 1.0 / self.out_features

    @property
    def median(self) -> float:
        return float(self.max_probs.median())

    @property
    def mean(self) -> float:
        return float(self.max_probs.mean())

    @property
    def mean_top_gap(self) -> float:
        """Mean gap between the largest and the second-largest logit of each draw.

        A gap of 0 gives the largest class exactly the uniform share; for two classes
        the largest probability is sigmoid(gap / temperature).
        """
        top_two = self.logits.topk(2, dim=1).values  # (num_used, 2)
        return float((top_two[:, 0] - top_two[:, 1]).mean())

    def share_above(self, margin: float) -> float:
        """Fraction of draws whose largest probability exceeds uniform by more than `margin`."""
        return float((self.max_probs > self.uniform + margin).double().mean())


def check_knobs(weight_scale: float, temperature: float) -> None:
    """Raise ValueError when the scale or the temperature is outside the lab's range."""
    if not MIN_WEIGHT_SCALE <= weight_scale <= MAX_WEIGHT_SCALE:
        raise ValueError(
            f"weight_scale must be from {MIN_WEIGHT_SCALE:g} to {MAX_WEIGHT_SCALE:g}, got {weight_scale}"
        )
    if not MIN_TEMPERATURE <= temperature <= MAX_TEMPERATURE:
        raise ValueError(
            f"temperature must be from {MIN_TEMPERATURE:g} to {MAX_TEMPERATURE:g}, got {temperature}"
        )


def scaled_forward(
    layers: list[tuple[torch.Tensor, torch.Tensor | None]],
    activation: nn.Module,
    x: torch.Tensor,
    weight_scale: float,
) -> torch.Tensor:
    """Return the logits of `x` with every weight and bias multiplied by `weight_scale`.

    The parameters are never modified: each Linear runs as `F.linear` on scaled copies.
    """
    h = x  # (batch, in_features)
    for linear_pos, (weight, bias) in enumerate(layers):
        scaled_bias = None if bias is None else bias * weight_scale
        h = F.linear(h, weight * weight_scale, scaled_bias)
        if linear_pos < len(layers) - 1:
            h = activation(h)
    return h  # (batch, out_features)


def model_params(model: MLP) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
    """Return the detached (weight, bias) of each Linear."""
    return [
        (m.weight.detach(), None if m.bias is None else m.bias.detach())
        for m in model.layers
        if isinstance(m, nn.Linear)
    ]


def activation_module(model: MLP) -> nn.Module:
    """Return the model's activation module, or Identity when it has no hidden layer."""
    for module in model.layers:
        if not isinstance(module, nn.Linear):
            return module
    return nn.Identity()


def macs_per_input(spec: MLPSpec) -> int:
    """Count the multiply-adds of one input row through every Linear."""
    return sum(i * o for i, o in spec.linear_shapes())


def inputs_within_cap(spec: MLPSpec, num_inputs: int) -> int:
    """Return how many inputs the MAX_INPUT_LAB_MACS cap allows, at least MIN_INPUTS."""
    allowed = MAX_INPUT_LAB_MACS // max(1, macs_per_input(spec))
    return int(min(num_inputs, max(MIN_INPUTS, allowed)))


def sample_over_inputs(
    model: MLP,
    spec: MLPSpec,
    num_inputs: int = DEFAULT_NUM_INPUTS,
    weight_scale: float = 1.0,
    temperature: float = 1.0,
    input_seed: int = 0,
) -> MaxProbSample:
    """Sample the largest softmax probability of `model` over random inputs.

    The inputs are `torch.randn(num_inputs, in_features)` from a private generator seeded
    with `input_seed`, so the global RNG is untouched and a rerun draws the same inputs.
    """
    check_knobs(weight_scale, temperature)
    used = inputs_within_cap(spec, num_inputs)
    if used < num_inputs:
        logger.info(
            "input lab capped at %d of %d inputs for %s", used, num_inputs, spec
        )
    generator = make_generator(input_seed)
    x = torch.randn(used, spec.in_features, generator=generator)  # (used, in_features)
    with torch.no_grad():
        logits = scaled_forward(
            model_params(model), activation_module(model), x, weight_scale
        )
        probs = softmax(logits, temperature)
    return MaxProbSample(probs.max(dim=1).values, logits, num_inputs, spec.out_features)


def sample_linear_params(
    in_features: int, out_features: int, bias: bool, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Draw one Linear's weight and bias as `nn.Linear.reset_parameters` would.

    Same calls in the same order as `mlp.network.init_linear_`, on bare tensors, so the
    values equal `build_model` bit for bit without building modules.
    """
    weight = torch.empty(out_features, in_features)  # (out_features, in_features)
    nn.init.kaiming_uniform_(weight, a=math.sqrt(5), generator=generator)
    if not bias:
        return weight, None
    bound = 1.0 / math.sqrt(in_features)
    bias_values = torch.empty(out_features)
    nn.init.uniform_(bias_values, -bound, bound, generator=generator)
    return weight, bias_values


def sample_params(
    spec: MLPSpec, seed: int
) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
    """Draw the (weight, bias) of each Linear of `spec` under `seed`, as `build_model` does."""
    generator = make_generator(seed)
    return [
        sample_linear_params(in_features, out_features, spec.bias, generator)
        for in_features, out_features in spec.linear_shapes()
    ]


def seeds_within_cap(spec: MLPSpec, num_seeds: int) -> int:
    """Return how many seeds the MAX_SEED_LAB_VALUES cap allows, at least MIN_SEEDS."""
    allowed = MAX_SEED_LAB_VALUES // count_parameters(spec).num_params
    return int(min(num_seeds, max(MIN_SEEDS, allowed)))


def sample_over_seeds(
    spec: MLPSpec,
    x: torch.Tensor,
    num_seeds: int = DEFAULT_NUM_SEEDS,
    weight_scale: float = 1.0,
    temperature: float = 1.0,
    first_seed: int = 0,
) -> MaxProbSample:
    """Sample the largest softmax probability for input `x` (1, in_features) over seeds.

    Seeds `first_seed`, `first_seed + 1`, ... each give a freshly initialized network
    of `spec`.
    """
    check_knobs(weight_scale, temperature)
    used = seeds_within_cap(spec, num_seeds)
    if used < num_seeds:
        logger.info("seed lab capped at %d of %d seeds for %s", used, num_seeds, spec)
    activation = make_activation(spec.activation)
    rows = []
    with torch.no_grad():
        for seed in range(first_seed, first_seed + used):
            params = sample_params(spec, seed)
            rows.append(scaled_forward(params, activation, x, weight_scale))
        logits = torch.cat(rows)  # (used, out_features)
        probs = softmax(logits, temperature)
    return MaxProbSample(probs.max(dim=1).values, logits, num_seeds, spec.out_features)
