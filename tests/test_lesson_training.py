"""Cross-entropy gradients and the SGD step, checked against torch's own autograd."""

from __future__ import annotations

import copy

import pytest
import torch
from torch.nn import functional as F

from mlp import MLPSpec, build_model, default_input
from mlp.training import (
    compute_gradients,
    copy_params,
    private_copy,
    sgd_step,
    take_sgd_step,
)

SPECS = [
    MLPSpec(),
    MLPSpec(bias=False, activation="tanh", seed=3),
    MLPSpec(in_features=12, hidden_widths=(7, 5, 6), out_features=4, activation="gelu"),
    MLPSpec(hidden_widths=(), out_features=3, seed=9),
]


def reference_grads(spec: MLPSpec, x: torch.Tensor, target: int) -> dict:
    """param.grad after loss.backward() on an independently built network."""
    model = build_model(spec)
    loss = F.cross_entropy(model(x), torch.tensor([target]))
    loss.backward()
    return {name: p.grad.clone() for name, p in model.named_parameters()}


@pytest.mark.parametrize("spec", SPECS)
def test_gradients_equal_param_grad(spec):
    x = default_input(spec.in_features, spec.seed)
    for target in range(spec.out_features):
        result = compute_gradients(build_model(spec), x, target)
        ours = result.as_params()
        expected = reference_grads(spec, x, target)
        assert set(ours) == set(expected)
        for name, grad in expected.items():
            assert torch.equal(ours[name], grad), (target, name)


def test_gradient_layout_is_weight_layout():
    spec = MLPSpec()
    result = compute_gradients(build_model(spec), default_input(5, 42), target=1)
    assert [tuple(g.weight_grad.shape) for g in result.grads] == [
        (8, 5),
        (4, 8),
        (2, 4),
    ]
    assert [tuple(g.bias_grad.shape) for g in result.grads] == [(8,), (4,), (2,)]
    assert [g.layer_idx for g in result.grads] == [0, 2, 4]


def test_loss_is_minus_log_prob():
    model = build_model(MLPSpec())
    result = compute_gradients(model, default_input(5, 42), target=1)
    assert result.loss == pytest.approx(-torch.log(result.probs[0, 1]).item(), abs=1e-6)
    assert round(result.probs[0, 1].item(), 4) == 0.4975
    # d loss / d logits = probs - one_hot(target), so the last bias gets that gradient.
    expected_bias_grad = result.probs[0] - torch.tensor([0.0, 1.0])
    assert torch.allclose(result.grads[-1].bias_grad, expected_bias_grad, atol=1e-7)


def test_inactive_relu_gives_zero_gradient_columns():
    model = build_model(MLPSpec())
    result = compute_gradients(model, default_input(5, 42), target=0)
    # At the defaults, hidden neurons 0, 1 and 3 of layers[2] output exactly 0.
    last = result.grads[-1].weight_grad  # (2, 4)
    for column in (0, 1, 3):
        assert torch.count_nonzero(last[:, column]) == 0
    assert torch.count_nonzero(last[:, 2]) == 2


def test_gradients_leave_model_untouched():
    model = build_model(MLPSpec())
    before = copy_params(model)
    compute_gradients(model, default_input(5, 42), target=0)
    for name, param in model.named_parameters():
        assert param.grad is None, name
        assert torch.equal(param.detach(), before[name])


def test_sgd_step_equals_param_minus_lr_grad():
    model = build_model(MLPSpec())
    grads = compute_gradients(model, default_input(5, 42), target=1).as_params()
    params = copy_params(model)
    originals = {name: t.clone() for name, t in params.items()}
    stepped = sgd_step(params, grads, lr=0.3)
    for name, param in params.items():
        assert torch.equal(stepped[name], param - 0.3 * grads[name])
        assert torch.equal(param, originals[name])  # inputs are not modified


def test_sgd_step_matches_torch_optim():
    spec = MLPSpec(in_features=6, hidden_widths=(9, 3), out_features=3)
    x = default_input(spec.in_features, 11)
    model = build_model(spec)
    stepped, _ = take_sgd_step(model, x, target=2, lr=0.25)

    reference = copy.deepcopy(model)
    optimizer = torch.optim.SGD(reference.parameters(), lr=0.25)
    F.cross_entropy(reference(x), torch.tensor([2])).backward()
    optimizer.step()
    for name, param in reference.named_parameters():
        assert torch.allclose(stepped[name], param.detach(), atol=1e-7), name


def test_take_step_lowers_loss_and_raises_target():
    model = build_model(MLPSpec())
    x = default_input(5, 42)
    _, record = take_sgd_step(model, x, target=1, lr=0.5)
    assert record.loss_after < record.loss_before
    assert record.probs_after[1] > record.probs_before[1]
    assert sum(record.probs_after) == pytest.approx(1.0, abs=1e-6)
    assert [round(p, 4) for p in record.probs_before] == [0.5025, 0.4975]


def test_take_step_leaves_model_untouched():
    model = build_model(MLPSpec())
    before = copy_params(model)
    stepped, _ = take_sgd_step(model, default_input(5, 42), target=0, lr=1.0)
    for name, param in model.named_parameters():
        assert param.grad is None
        assert torch.equal(param.detach(), before[name])
        assert stepped[name].data_ptr() != param.data_ptr()


def test_take_step_never_runs_shared_model():
    # Another session may run the shared model at the same moment, so a step must not
    # run it with swapped parameters. Deep copies keep the hook, but pass their own
    # module to it, so the shared model's id must never show up.
    model = build_model(MLPSpec())
    called_on = []
    model.register_forward_pre_hook(lambda module, args: called_on.append(id(module)))
    take_sgd_step(model, default_input(5, 42), target=1, lr=0.5)
    assert called_on  # the copies did run
    assert id(model) not in called_on


def test_private_copy_shares_no_storage():
    model = build_model(MLPSpec())
    twin = private_copy(model)
    for (name, a), b in zip(model.named_parameters(), twin.parameters(), strict=True):
        assert a.data_ptr() != b.data_ptr(), name
    with torch.no_grad():
        twin.layers[0].weight.fill_(0.0)
    assert torch.count_nonzero(model.layers[0].weight) == 40


def test_private_copy_loads_params():
    model = build_model(MLPSpec())
    params = {name: torch.full_like(p, 0.5) for name, p in copy_params(model).items()}
    twin = private_copy(model, params)
    assert torch.all(twin.layers[4].bias == 0.5)
    assert not torch.all(model.layers[4].bias == 0.5)


@pytest.mark.parametrize("lr", [0.0, -0.1, 11.0, float("nan"), float("inf")])
def test_sgd_step_rejects_bad_lr(lr):
    params = copy_params(build_model(MLPSpec()))
    with pytest.raises(ValueError, match="learning rate"):
        sgd_step(params, params, lr)


@pytest.mark.parametrize("target", [-1, 2])
def test_gradients_reject_bad_target(target):
    with pytest.raises(ValueError, match="target class"):
        compute_gradients(build_model(MLPSpec()), default_input(5, 42), target)


def test_sgd_step_rejects_mismatched_names():
    params = copy_params(build_model(MLPSpec()))
    grads = dict(params)
    grads.pop("layers.0.bias")
    with pytest.raises(ValueError, match="same tensors"):
        sgd_step(params, grads, 0.1)
