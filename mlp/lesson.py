"""Numbers behind the lesson panels: layouts, one neuron by hand, activations, changes."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from mlp.forward import run_forward
from mlp.network import MLP, linear_layers
from mlp.spec import MLPSpec

# Name shown for the missing activation after the last Linear, whose output is the logits.
NO_ACTIVATION = "none (logits)"


def shape_equation(
    in_features: int, out_features: int, bias: bool, batch_size: int = 1
) -> str:
    """Write `y = x @ W.T + b` in shapes, e.g. `(1, 5) @ (5, 8) + (8,) -> (1, 8)`."""
    text = f"({batch_size}, {in_features}) @ ({in_features}, {out_features})"
    if bias:
        text += f" + ({out_features},)"
    return text + f" -> ({batch_size}, {out_features})"


def weight_view(linear: nn.Linear, transposed: bool) -> torch.Tensor:
    """Return a detached copy of `weight` as stored, or of `weight.T` as the math uses it."""
    weight = linear.weight.detach()  # (out_features, in_features)
    view = (
        weight.T if transposed else weight
    )  # (in_features, out_features) when transposed
    return view.clone()


def activation_name(model: MLP, layer_idx: int) -> str:
    """Return the class name of the activation module after `model.layers[layer_idx]`."""
    next_idx = layer_idx + 1
    if next_idx < len(model.layers) and not isinstance(
        model.layers[next_idx], nn.Linear
    ):
        return type(model.layers[next_idx]).__name__
    return NO_ACTIVATION


def check_linear_pos(model: MLP, linear_pos: int) -> tuple[int, nn.Linear]:
    """Return (layer_idx, module) of the Linear at `linear_pos`, or raise ValueError."""
    layers = linear_layers(model)
    if not 0 <= linear_pos < len(layers):
        raise ValueError(
            f"linear_pos must be from 0 to {len(layers) - 1} (one per Linear), got {linear_pos}"
        )
    return layers[linear_pos]


@dataclass(frozen=True)
class WorkedNeuron:
    """One output neuron of one Linear, computed term by term beside the forward pass.

    The hand computation runs in float64 on the float32 values, so every product is
    exact and the sum carries no float32 rounding of its own.
    """

    layer_idx: int  # index of the Linear in model.layers
    neuron: int  # row of weight, so output feature `neuron`
    activation: str  # class name of the next module, or NO_ACTIVATION
    weight_row: tuple[float, ...]  # weight[neuron, :], (in_features,)
    layer_input: tuple[float, ...]  # the input this Linear receives, (in_features,)
    products: tuple[float, ...]  # weight_row[j] * layer_input[j]
    dot: float  # sum of products
    bias: float | None
    pre_activation: float  # dot + bias
    post_activation: float  # activation(pre_activation)
    forward_pre: float  # the same value from the forward pass
    forward_post: float


def work_neuron(
    model: MLP, x: torch.Tensor, linear_pos: int, neuron: int
) -> WorkedNeuron:
    """Compute output `neuron` of the Linear at `linear_pos` by hand for input `x`."""
    layer_idx, linear = check_linear_pos(model, linear_pos)
    if not 0 <= neuron < linear.out_features:
        raise ValueError(
            f"neuron must be from 0 to {linear.out_features - 1} for layers[{layer_idx}] "
            f"with out_features={linear.out_features}, got {neuron}"
        )

    result = run_forward(model, x)
    layer_input = result.layer_inputs[linear_pos][0].double()  # (in_features,)
    row = linear.weight.detach()[neuron].double()  # (in_features,)
    products = row * layer_input
    dot = products.sum()
    bias = None if linear.bias is None else float(linear.bias.detach()[neuron])
    pre = dot + (bias or 0.0)
    name = activation_name(model, layer_idx)
    post = pre if name == NO_ACTIVATION else model.layers[layer_idx + 1](pre)

    return WorkedNeuron(
        layer_idx=layer_idx,
        neuron=neuron,
        activation=name,
        weight_row=tuple(row.tolist()),
        layer_input=tuple(layer_input.tolist()),
        products=tuple(products.tolist()),
        dot=float(dot),
        bias=bias,
        pre_activation=float(pre),
        post_activation=float(post),
        forward_pre=float(result.pre_activations[linear_pos][0, neuron]),
        forward_post=float(result.post_activations[linear_pos][0, neuron]),
    )


@dataclass(frozen=True)
class LayerActivations:
    """Pre- and post-activation values of one Linear for the current input."""

    layer_idx: int
    activation: str  # class name of the next module, or NO_ACTIVATION
    pre: tuple[float, ...]  # x @ W.T + b, (out_features,)
    post: tuple[float, ...]  # after the activation, (out_features,)

    @property
    def counts_inactive(self) -> bool:
        """True for ReLU, where an output of exactly 0 means the neuron is off."""
        return self.activation == "ReLU"

    @property
    def inactive(self) -> tuple[bool, ...]:
        """Per neuron: True when a ReLU output is exactly 0."""
        if not self.counts_inactive:
            return tuple(False for _ in self.post)
        return tuple(value == 0.0 for value in self.post)

    @property
    def num_inactive(self) -> int:
        return sum(self.inactive)


def layer_activations(model: MLP, x: torch.Tensor) -> list[LayerActivations]:
    """Return every Linear's pre- and post-activation values for input `x`."""
    result = run_forward(model, x)
    stats = []
    for linear_pos, (layer_idx, _) in enumerate(linear_layers(model)):
        stats.append(
            LayerActivations(
                layer_idx=layer_idx,
                activation=activation_name(model, layer_idx),
                pre=tuple(result.pre_activations[linear_pos][0].tolist()),
                post=tuple(result.post_activations[linear_pos][0].tolist()),
            )
        )
    return stats


# Outcomes of comparing one Linear of two networks.
NEW_LAYER = "new layer"
REMOVED = "removed"
NEW_SHAPE = "new shape"
NEW_VALUES = "new values"
SAME_VALUES = "same values"


@dataclass(frozen=True)
class LayerChange:
    """Difference between the Linear layers at one position of an old and a new network."""

    linear_pos: int
    layer_idx: int  # index in model.layers of the new network, or the old when removed
    old_shape: tuple[int, int] | None  # weight (out_features, in_features)
    new_shape: tuple[int, int] | None
    status: str  # one of NEW_LAYER, REMOVED, NEW_SHAPE, NEW_VALUES, SAME_VALUES
    max_abs_diff: float | None  # over weight and bias, when the shapes match
    # Equal entries, and all entries, in the weight block both shapes share.
    overlap_equal: int
    overlap_size: int
    # Parameters initialized before this layer, in the old and in the new network.
    values_before_old: int
    values_before_new: int

    @property
    def changed(self) -> bool:
        return self.status != SAME_VALUES


def changed_fields(old: MLPSpec, new: MLPSpec) -> list[str]:
    """List the spec fields that differ, each written `name: old -> new`."""
    names = ("in_features", "hidden_widths", "out_features", "activation", "bias")
    lines = [
        f"{name}: {getattr(old, name)} -> {getattr(new, name)}"
        for name in (*names, "seed")
        if getattr(old, name) != getattr(new, name)
    ]
    return lines


def linear_params(linear: nn.Linear) -> list[torch.Tensor]:
    params = [linear.weight.detach()]
    if linear.bias is not None:
        params.append(linear.bias.detach())
    return params


def compare_linears(
    old: nn.Linear | None, new: nn.Linear | None
) -> tuple[str, float | None]:
    """Return the status and, for equal shapes, the largest absolute change."""
    if old is None:
        return NEW_LAYER, None
    if new is None:
        return REMOVED, None
    old_params, new_params = linear_params(old), linear_params(new)
    shapes_match = [p.shape for p in old_params] == [p.shape for p in new_params]
    if not shapes_match:
        return NEW_SHAPE, None
    diff = max(
        float((a - b).abs().max()) for a, b in zip(old_params, new_params, strict=True)
    )
    return (NEW_VALUES if diff > 0 else SAME_VALUES), diff


def weight_overlap(old: nn.Linear | None, new: nn.Linear | None) -> tuple[int, int]:
    """Count equal entries in the top-left weight block both layers have, and its size."""
    if old is None or new is None:
        return 0, 0
    rows = min(old.out_features, new.out_features)
    cols = min(old.in_features, new.in_features)
    old_block = old.weight.detach()[:rows, :cols]
    new_block = new.weight.detach()[:rows, :cols]
    return int((old_block == new_block).sum()), rows * cols


def layer_at(
    layers: list[tuple[int, nn.Linear]], linear_pos: int
) -> tuple[int, nn.Linear] | None:
    return layers[linear_pos] if linear_pos < len(layers) else None


def count_values(linear: nn.Linear | None) -> int:
    return 0 if linear is None else sum(p.numel() for p in linear_params(linear))


def diff_models(old_model: MLP, new_model: MLP) -> list[LayerChange]:
    """Compare two networks Linear by Linear, in forward order."""
    old_layers = linear_layers(old_model)
    new_layers = linear_layers(new_model)
    changes = []
    before_old = before_new = 0
    for linear_pos in range(max(len(old_layers), len(new_layers))):
        old_entry = layer_at(old_layers, linear_pos)
        new_entry = layer_at(new_layers, linear_pos)
        old = None if old_entry is None else old_entry[1]
        new = None if new_entry is None else new_entry[1]
        layer_idx = (new_entry or old_entry or (0, None))[0]
        status, diff = compare_linears(old, new)
        overlap_equal, overlap_size = weight_overlap(old, new)
        changes.append(
            LayerChange(
                linear_pos=linear_pos,
                layer_idx=layer_idx,
                old_shape=None if old is None else tuple(old.weight.shape),
                new_shape=None if new is None else tuple(new.weight.shape),
                status=status,
                max_abs_diff=diff,
                overlap_equal=overlap_equal,
                overlap_size=overlap_size,
                values_before_old=before_old,
                values_before_new=before_new,
            )
        )
        before_old += count_values(old)
        before_new += count_values(new)
    return changes
