"""Layout, worked-neuron, activation and diff numbers, checked against torch itself."""

from __future__ import annotations

import random

import pytest
import torch

from mlp import MLPSpec, build_model, default_input, linear_layers, run_forward
from mlp.lesson import (
    NEW_LAYER,
    NEW_SHAPE,
    NEW_VALUES,
    NO_ACTIVATION,
    REMOVED,
    SAME_VALUES,
    changed_fields,
    diff_models,
    layer_activations,
    shape_equation,
    weight_view,
    work_neuron,
)

ACTIVATION_KEYS = ["relu", "tanh", "sigmoid", "gelu", "identity"]


def random_spec(case: int) -> MLPSpec:
    rng = random.Random(1000 + case)
    return MLPSpec(
        in_features=rng.randint(1, 40),
        hidden_widths=tuple(rng.randint(1, 24) for _ in range(rng.randint(0, 4))),
        out_features=rng.randint(2, 16),
        activation=ACTIVATION_KEYS[case % len(ACTIVATION_KEYS)],
        bias=case % 4 != 3,
        seed=rng.randint(0, 2**32 - 1),
    )


def spec_and_input(spec: MLPSpec):
    return build_model(spec), default_input(spec.in_features, spec.seed)


def test_shape_equation_defaults():
    equations = [shape_equation(i, o, bias=True) for i, o in MLPSpec().linear_shapes()]
    assert equations == [
        "(1, 5) @ (5, 8) + (8,) -> (1, 8)",
        "(1, 8) @ (8, 4) + (4,) -> (1, 4)",
        "(1, 4) @ (4, 2) + (2,) -> (1, 2)",
    ]


def test_shape_equation_without_bias():
    assert shape_equation(5, 8, bias=False) == "(1, 5) @ (5, 8) -> (1, 8)"
    assert (
        shape_equation(3, 2, bias=True, batch_size=4)
        == "(4, 3) @ (3, 2) + (2,) -> (4, 2)"
    )


def test_shape_equation_matches_torch_shapes():
    spec = MLPSpec(in_features=7, hidden_widths=(3, 11))
    model, x = spec_and_input(spec)
    h = x
    for _, linear in linear_layers(model):
        weight_t = weight_view(linear, transposed=True)
        y = h @ weight_t + linear.bias.detach()
        expected = (
            f"{tuple(h.shape)} @ {tuple(weight_t.shape)} + "
            f"({linear.out_features},) -> {tuple(y.shape)}"
        )
        assert shape_equation(linear.in_features, linear.out_features, True) == expected
        h = torch.relu(y)


def test_transposed_view_holds_weight_t():
    model = build_model(MLPSpec())
    for _, linear in linear_layers(model):
        stored = weight_view(linear, transposed=False)
        math_view = weight_view(linear, transposed=True)
        assert tuple(stored.shape) == (linear.out_features, linear.in_features)
        assert tuple(math_view.shape) == (linear.in_features, linear.out_features)
        assert torch.equal(stored, linear.weight.detach())
        assert torch.equal(math_view, linear.weight.detach().T)


def test_transposed_view_is_a_copy():
    model = build_model(MLPSpec())
    linear = model.layers[0]
    before = linear.weight.detach().clone()
    weight_view(linear, transposed=True).fill_(7.0)
    weight_view(linear, transposed=False).fill_(7.0)
    assert torch.equal(linear.weight.detach(), before)


def test_worked_neuron_golden_first_row():
    model, x = spec_and_input(MLPSpec())
    worked = work_neuron(model, x, linear_pos=0, neuron=0)
    assert [round(v, 4) for v in worked.weight_row] == [
        0.3419,
        0.3712,
        -0.1048,
        0.4108,
        -0.0980,
    ]
    assert [round(v, 4) for v in worked.layer_input] == [
        0.3367,
        0.1288,
        0.2345,
        0.2303,
        -1.1229,
    ]
    for product, w, v in zip(
        worked.products, worked.weight_row, worked.layer_input, strict=True
    ):
        assert product == w * v
    assert worked.dot == pytest.approx(sum(worked.products), abs=1e-12)
    assert worked.bias == model.layers[0].bias[0].item()
    assert worked.pre_activation == pytest.approx(worked.dot + worked.bias, abs=1e-12)
    assert worked.activation == "ReLU"
    assert worked.post_activation == max(worked.pre_activation, 0.0)


@pytest.mark.parametrize("case", range(12))
def test_worked_neuron_equals_forward_pass(case):
    spec = MLPSpec() if case == 0 else random_spec(case)
    model, x = spec_and_input(spec)
    result = run_forward(model, x)
    for linear_pos, (layer_idx, linear) in enumerate(linear_layers(model)):
        for neuron in range(linear.out_features):
            worked = work_neuron(model, x, linear_pos, neuron)
            forward_pre = float(result.pre_activations[linear_pos][0, neuron])
            forward_post = float(result.post_activations[linear_pos][0, neuron])
            assert worked.layer_idx == layer_idx
            assert worked.forward_pre == forward_pre
            assert abs(worked.pre_activation - forward_pre) <= 1e-6, (layer_idx, neuron)
            assert abs(worked.post_activation - forward_post) <= 1e-6, (
                layer_idx,
                neuron,
            )
            assert worked.weight_row == tuple(
                linear.weight.detach()[neuron].double().tolist()
            )


def test_worked_neuron_last_layer_is_logit():
    model, x = spec_and_input(MLPSpec())
    worked = work_neuron(model, x, linear_pos=2, neuron=1)
    assert worked.activation == NO_ACTIVATION
    assert worked.post_activation == worked.pre_activation
    assert round(worked.pre_activation, 4) == 0.3704


def test_worked_neuron_without_bias():
    model, x = spec_and_input(MLPSpec(bias=False))
    worked = work_neuron(model, x, linear_pos=1, neuron=2)
    assert worked.bias is None
    assert worked.pre_activation == worked.dot


@pytest.mark.parametrize(
    ("linear_pos", "neuron", "message"),
    [(3, 0, "linear_pos"), (-1, 0, "linear_pos"), (0, 8, "neuron"), (2, -1, "neuron")],
)
def test_worked_neuron_rejects_bad_index(linear_pos, neuron, message):
    model, x = spec_and_input(MLPSpec())
    with pytest.raises(ValueError, match=message):
        work_neuron(model, x, linear_pos, neuron)


def test_activations_count_zero_relu_outputs():
    model, x = spec_and_input(MLPSpec())
    stats = layer_activations(model, x)
    result = run_forward(model, x)
    assert [layer.layer_idx for layer in stats] == [0, 2, 4]
    assert [layer.activation for layer in stats] == ["ReLU", "ReLU", NO_ACTIVATION]
    for linear_pos, layer in enumerate(stats[:2]):
        pre = result.pre_activations[linear_pos][0]
        assert layer.num_inactive == int((torch.relu(pre) == 0).sum())
        assert layer.inactive == tuple((pre <= 0).tolist())
    assert [layer.num_inactive for layer in stats] == [0, 3, 0]
    assert not stats[2].counts_inactive


def test_activations_pre_and_post_values():
    model, x = spec_and_input(MLPSpec(activation="tanh"))
    stats = layer_activations(model, x)
    for layer in stats[:-1]:
        assert layer.activation == "Tanh"
        assert not layer.counts_inactive
        assert layer.num_inactive == 0
        for pre, post in zip(layer.pre, layer.post, strict=True):
            assert post == pytest.approx(torch.tanh(torch.tensor(pre)).item(), abs=1e-6)


def test_diff_wider_first_layer():
    old = build_model(MLPSpec())
    new = build_model(MLPSpec(hidden_widths=(10, 4)))
    changes = diff_models(old, new)
    assert [c.status for c in changes] == [NEW_SHAPE, NEW_SHAPE, NEW_VALUES]
    assert [c.changed for c in changes] == [True, True, True]
    # The weight fills row by row, so the first 8 rows are the same draws.
    assert (changes[0].overlap_equal, changes[0].overlap_size) == (40, 40)
    assert torch.equal(new.layers[0].weight[:8], old.layers[0].weight)
    assert changes[2].old_shape == changes[2].new_shape == (2, 4)
    expected = max(
        (old.layers[4].weight - new.layers[4].weight).abs().max().item(),
        (old.layers[4].bias - new.layers[4].bias).abs().max().item(),
    )
    assert changes[2].max_abs_diff == expected
    assert expected > 0
    assert [c.values_before_old for c in changes] == [0, 48, 84]
    assert [c.values_before_new for c in changes] == [0, 60, 104]


def test_diff_activation_changes_no_weight():
    changes = diff_models(
        build_model(MLPSpec()), build_model(MLPSpec(activation="gelu"))
    )
    assert [c.status for c in changes] == [SAME_VALUES] * 3
    assert all(c.max_abs_diff == 0.0 for c in changes)
    assert not any(c.changed for c in changes)


def test_diff_new_seed_changes_every_layer():
    changes = diff_models(build_model(MLPSpec()), build_model(MLPSpec(seed=43)))
    assert [c.status for c in changes] == [NEW_VALUES] * 3


def test_diff_layer_count_change():
    three = build_model(MLPSpec())
    two = build_model(MLPSpec(hidden_widths=(8,)))
    removed = diff_models(three, two)
    assert [c.status for c in removed] == [SAME_VALUES, NEW_SHAPE, REMOVED]
    assert removed[2].new_shape is None
    added = diff_models(two, three)
    assert [c.status for c in added] == [SAME_VALUES, NEW_SHAPE, NEW_LAYER]
    assert added[2].layer_idx == 4


def test_changed_fields_lists_differences():
    old = MLPSpec()
    new = MLPSpec(hidden_widths=(10, 4), seed=7)
    assert changed_fields(old, new) == [
        "hidden_widths: (8, 4) -> (10, 4)",
        "seed: 42 -> 7",
    ]
    assert changed_fields(old, old) == []
