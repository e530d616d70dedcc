"""Cross-entropy gradients and one plain SGD step, always on a private copy of a network."""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from mlp.forward import softmax
from mlp.network import MLP, linear_layers

MIN_LEARNING_RATE, MAX_LEARNING_RATE = 1e-4, 10.0

Params = dict[
    str, torch.Tensor
]  # parameter name -> tensor, as model.state_dict() names them


@dataclass(frozen=True)
class LayerGrad:
    """Gradients of the loss for one Linear, in the parameters' own layouts."""

    layer_idx: int
    weight_grad: torch.Tensor  # (out_features, in_features), as weight is stored
    bias_grad: torch.Tensor | None  # (out_features,)


@dataclass(frozen=True)
class GradientResult:
    """Loss and gradients of `F.cross_entropy(model(x), target)` for one input row."""

    target: int
    loss: float
    probs: torch.Tensor  # (1, out_features), softmax of the logits the loss saw
    grads: tuple[LayerGrad, ...]
    backward_seconds: float  # wall time of loss.backward()

    def as_params(self) -> Params:
        """Return the gradients keyed by parameter name, e.g. `layers.0.weight`."""
        named: Params = {}
        for layer in self.grads:
            named[f"layers.{layer.layer_idx}.weight"] = layer.weight_grad
            if layer.bias_grad is not None:
                named[f"layers.{layer.layer_idx}.bias"] = layer.bias_grad
        return named


def copy_params(model: MLP) -> Params:
    """Return detached clones of every parameter, so later changes never reach `model`."""
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def private_copy(model: MLP, params: Params | None = None) -> MLP:
    """Return a deep copy of `model`, with `params` loaded into it when given.

    The copy shares no storage with `model`, so a backward pass or a step on it leaves
    a cached, shared network untouched.
    """
    twin = copy.deepcopy(model)
    if params is not None:
        twin.load_state_dict(params, strict=True)
    return twin


def check_target(model: MLP, target: int) -> None:
    out_features = linear_layers(model)[-1][1].out_features
    if not 0 <= target < out_features:
        raise ValueError(
            f"target class must be from 0 to {out_features - 1}, got {target}"
        )


def grad_of(param: torch.Tensor) -> torch.Tensor:
    """Return a clone of `param.grad`, which every parameter has after the backward pass."""
    if param.grad is None:
        raise RuntimeError("a parameter got no gradient; it must feed the logits")
    return param.grad.detach().clone()


def compute_gradients(model: MLP, x: torch.Tensor, target: int) -> GradientResult:
    """Run cross-entropy for class `target` on input `x` (1, in_features) and backpropagate.

    The forward and backward passes run on a private copy of `model`, whose
    parameters have `requires_grad=True`. Each gradient is that copy's `param.grad`.
    """
    check_target(model, target)
    twin = private_copy(model)
    for param in twin.parameters():
        param.requires_grad_(True)
        param.grad = None
    logits = twin(x)  # (1, out_features)
    loss = F.cross_entropy(logits, torch.tensor([target]))
    start = time.perf_counter()
    loss.backward()
    backward_seconds = time.perf_counter() - start

    grads = []
    for layer_idx, linear in linear_layers(twin):
        bias_grad = None if linear.bias is None else grad_of(linear.bias)
        grads.append(LayerGrad(layer_idx, grad_of(linear.weight), bias_grad))
    probs = softmax(logits.detach())
    return GradientResult(target, loss.item(), probs, tuple(grads), backward_seconds)


def check_learning_rate(lr: float) -> None:
    if not (math.isfinite(lr) and MIN_LEARNING_RATE <= lr <= MAX_LEARNING_RATE):
        raise ValueError(
            f"learning rate must be from {MIN_LEARNING_RATE:g} to {MAX_LEARNING_RATE:g}, got {lr}"
        )


def sgd_step(params: Params, grads: Params, lr: float) -> Params:
    """Return new parameters `param - lr * grad`, leaving `params` unchanged."""
    check_learning_rate(lr)
    if set(params) != set(grads):
        raise ValueError(
            f"params and grads must name the same tensors, got {sorted(params)} and {sorted(grads)}"
        )
    with torch.no_grad():
        return {name: params[name] - lr * grads[name] for name in params}


def check_finite_step(stepped: Params, logits_after: torch.Tensor, lr: float) -> None:
    """Raise ValueError when a step leaves a parameter or the logits inf or nan.

    Large inputs and a large lr can push float32 past its range within one or two
    steps. A network with such values would only show nan, so the step is rejected.
    """
    bad = [name for name, tensor in stepped.items() if not torch.isfinite(tensor).all()]
    if bad or not torch.isfinite(logits_after).all():
        where = ", ".join(bad) if bad else "the logits"
        raise ValueError(
            f"this SGD step with lr {lr:g} would overflow float32 in {where}; "
            "the network keeps its weights. Use a smaller learning rate or smaller "
            "input values, or reset to the weights the steps started from"
        )


@dataclass(frozen=True)
class StepRecord:
    """One SGD step: what it used and the loss and softmax before and after it."""

    target: int
    lr: float
    loss_before: float
    loss_after: float
    probs_before: tuple[float, ...]
    probs_after: tuple[float, ...]


def take_sgd_step(
    model: MLP, x: torch.Tensor, target: int, lr: float
) -> tuple[Params, StepRecord]:
    """Return the parameters after one SGD step on `x` toward `target`, and its record.

    `model` is read only: the gradients come from a private copy, and the new
    parameters are fresh tensors. Raises ValueError when the step would leave a
    parameter or the logits non-finite.
    """
    check_learning_rate(lr)
    before = compute_gradients(model, x, target)
    stepped = sgd_step(copy_params(model), before.as_params(), lr)
    # A private copy, not torch.func.functional_call on `model`: functional_call swaps
    # the module's parameters while it runs, which other sessions sharing `model`
    # would see.
    twin = private_copy(model, stepped)
    with torch.no_grad():
        logits_after = twin(x)  # (1, out_features)
        loss_after = F.cross_entropy(logits_after, torch.tensor([target]))
    check_finite_step(stepped, logits_after, lr)
    record = StepRecord(
        target=target,
        lr=lr,
        loss_before=before.loss,
        loss_after=float(loss_after),
        probs_before=tuple(before.probs[0].tolist()),
        probs_after=tuple(softmax(logits_after)[0].tolist()),
    )
    return stepped, record
