"""The 50:50 lab: samples of the largest softmax probability, checked on the numbers."""

from __future__ import annotations

import pytest
import torch

from mlp import MLPSpec, build_model, count_parameters, default_input, linear_layers
from mlp.network import make_generator
from mlp.uniformity import (
    MAX_SEED_LAB_VALUES,
    MIN_SEEDS,
    sample_over_inputs,
    sample_over_seeds,
    sample_params,
    seeds_within_cap,
)

DEFAULT = MLPSpec()
LARGEST = MLPSpec(in_features=1024, hidden_widths=(512,) * 8, out_features=16)


@pytest.fixture(scope="module")
def default_model():
    return build_model(DEFAULT)


@pytest.fixture(scope="module")
def default_x():
    return default_input(DEFAULT.in_features, DEFAULT.seed)


def test_inputs_cluster_near_half_at_defaults(default_model):
    sample = sample_over_inputs(default_model, DEFAULT)
    assert sample.num_used == 2000
    assert not sample.capped
    assert abs(sample.median - 0.5) <= 0.05
    assert abs(sample.mean - 0.5) <= 0.05
    assert float(sample.max_probs.min()) >= 0.5
    assert float(sample.max_probs.max()) <= 1.0


def test_seeds_cluster_near_half_at_defaults(default_x):
    sample = sample_over_seeds(DEFAULT, default_x)
    assert sample.num_used == 200
    # Wider than over inputs: the output layer's bias, drawn from +-1/sqrt(4) = +-0.5,
    # tilts each seed's network as a whole, so the median is about 0.56, not 0.51.
    assert abs(sample.median - 0.5) <= 0.1
    assert float(sample.max_probs.min()) >= 0.5
    assert float((sample.max_probs < 0.75).double().mean()) >= 0.9


@pytest.mark.parametrize("out_features", [2, 3, 10])
def test_scale_zero_gives_exact_uniform(out_features):
    spec = MLPSpec(out_features=out_features, activation="sigmoid")
    x = default_input(spec.in_features, spec.seed)
    uniform = torch.tensor(1.0 / out_features, dtype=torch.float32)
    for sample in (
        sample_over_inputs(build_model(spec), spec, num_inputs=300, weight_scale=0.0),
        sample_over_seeds(spec, x, num_seeds=20, weight_scale=0.0),
    ):
        assert torch.count_nonzero(sample.logits) == 0
        assert torch.all(sample.max_probs == uniform)
        assert sample.median == pytest.approx(1.0 / out_features, abs=1e-7)


def test_larger_scale_spreads(default_model, default_x):
    scales = [0.0, 1.0, 3.0, 10.0]
    input_means = [
        sample_over_inputs(default_model, DEFAULT, weight_scale=s).mean for s in scales
    ]
    seed_means = [
        sample_over_seeds(DEFAULT, default_x, weight_scale=s).mean for s in scales
    ]
    for means in (input_means, seed_means):
        assert means[0] == 0.5
        assert means == sorted(means)
        assert len(set(means)) == len(means)
    assert seed_means[-1] > 0.9


def test_temperature_flattens_without_reordering(default_model):
    sharp = sample_over_inputs(
        default_model, DEFAULT, weight_scale=3.0, temperature=0.5
    )
    plain = sample_over_inputs(default_model, DEFAULT, weight_scale=3.0)
    flat = sample_over_inputs(default_model, DEFAULT, weight_scale=3.0, temperature=5.0)
    assert sharp.mean > plain.mean > flat.mean
    assert torch.equal(sharp.logits, flat.logits)


def test_input_sample_logits_equal_model(default_model):
    sample = sample_over_inputs(default_model, DEFAULT, num_inputs=500, input_seed=3)
    x = torch.randn(500, 5, generator=make_generator(3))
    with torch.no_grad():
        expected = default_model(x)
    assert torch.allclose(sample.logits, expected, atol=1e-6)
    probs = torch.softmax(expected, dim=1)
    assert torch.allclose(sample.max_probs, probs.max(dim=1).values, atol=1e-6)


def test_seed_sample_rows_equal_built_models(default_x):
    sample = sample_over_seeds(DEFAULT, default_x, num_seeds=12, first_seed=40)
    for row, seed in enumerate(range(40, 52)):
        model = build_model(MLPSpec(seed=seed))
        with torch.no_grad():
            expected = model(default_x)[0]
        assert torch.allclose(sample.logits[row], expected, atol=1e-6), seed


@pytest.mark.parametrize(
    "spec",
    [
        DEFAULT,
        MLPSpec(bias=False, seed=7),
        MLPSpec(
            in_features=33, hidden_widths=(17, 5, 9), out_features=3, seed=2**32 - 1
        ),
        MLPSpec(hidden_widths=(), seed=0),
    ],
)
def test_sampled_params_equal_build_model(spec):
    params = sample_params(spec, spec.seed)
    layers = linear_layers(build_model(spec))
    assert len(params) == len(layers)
    for (weight, bias), (_, linear) in zip(params, layers, strict=True):
        assert torch.equal(weight, linear.weight.detach())
        if spec.bias:
            assert torch.equal(bias, linear.bias.detach())
        else:
            assert bias is None


def test_lab_leaves_global_rng_alone(default_model, default_x):
    torch.manual_seed(5)
    before = torch.get_rng_state()
    sample_over_inputs(default_model, DEFAULT, num_inputs=100)
    sample_over_seeds(DEFAULT, default_x, num_seeds=10)
    assert torch.equal(torch.get_rng_state(), before)


def test_lab_leaves_model_alone(default_model):
    before = {k: v.clone() for k, v in default_model.state_dict().items()}
    sample_over_inputs(default_model, DEFAULT, num_inputs=100, weight_scale=7.0)
    for key, value in default_model.state_dict().items():
        assert torch.equal(value, before[key])


def test_largest_architecture_is_capped():
    num_params = count_parameters(LARGEST).num_params
    used = seeds_within_cap(LARGEST, 200)
    assert used == max(MIN_SEEDS, MAX_SEED_LAB_VALUES // num_params)
    assert MIN_SEEDS <= used < 200
    sample = sample_over_seeds(LARGEST, default_input(LARGEST.in_features, 1))
    assert sample.capped
    assert sample.num_used == used
    assert sample.num_requested == 200


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"weight_scale": -0.1}, "weight_scale"),
        ({"weight_scale": 10.5}, "weight_scale"),
        ({"temperature": 0.0}, "temperature"),
        ({"temperature": float("nan")}, "temperature"),
    ],
)
def test_lab_rejects_bad_knobs(default_model, kwargs, message):
    with pytest.raises(ValueError, match=message):
        sample_over_inputs(default_model, DEFAULT, num_inputs=10, **kwargs)
