"""The PyTorch core against real torch: golden numbers, counts, threads."""

from __future__ import annotations

import random
import threading

import pytest
import torch
from notebook_model import NotebookModel
from torch import nn

from mlp import MLPSpec, build_model, count_parameters, default_input, run_forward
from mlp.network import linear_layers

GOLDEN_ROW_0 = [0.3419, 0.3712, -0.1048, 0.4108, -0.0980]
GOLDEN_ROW_7 = [0.2764, 0.0697, 0.3613, 0.0489, -0.1410]
GOLDEN_X = [0.3367, 0.1288, 0.2345, 0.2303, -1.1229]
GOLDEN_LOGITS = [0.3806, 0.3704]
GOLDEN_PROBS = [0.5025, 0.4975]


def notebook_build(spec: MLPSpec) -> NotebookModel:
    torch.manual_seed(spec.seed)
    activation = getattr(
        nn,
        {
            "relu": "ReLU",
            "tanh": "Tanh",
            "sigmoid": "Sigmoid",
            "gelu": "GELU",
            "identity": "Identity",
        }[spec.activation],
    )
    return NotebookModel(spec.layer_sizes, activation, spec.bias)


def rounded(t: torch.Tensor) -> list[float]:
    return [round(v, 4) for v in t.flatten().tolist()]


def test_golden_weights():
    model = build_model(MLPSpec())
    weight = model.layers[0].weight
    assert tuple(weight.shape) == (8, 5)
    assert rounded(weight[0]) == GOLDEN_ROW_0
    assert rounded(weight[7]) == GOLDEN_ROW_7


def test_golden_input_logits_probs():
    spec = MLPSpec()
    x = default_input(spec.in_features, spec.seed)
    result = run_forward(build_model(spec), x)
    assert rounded(x) == GOLDEN_X
    assert rounded(result.logits) == GOLDEN_LOGITS
    assert rounded(result.probs) == GOLDEN_PROBS
    assert count_parameters(spec).num_params == 94


def test_default_input_matches_global_seed():
    torch.manual_seed(42)
    expected = torch.randn(1, 5)
    assert torch.equal(default_input(5, 42), expected)


def test_golden_breakdown():
    summary = count_parameters(MLPSpec())
    assert [layer.num_params for layer in summary.layers] == [48, 36, 10]
    assert [layer.formula for layer in summary.layers] == [
        "8 x 5 + 8 = 48",
        "4 x 8 + 4 = 36",
        "2 x 4 + 2 = 10",
    ]
    assert [layer.weight_shape for layer in summary.layers] == [(8, 5), (4, 8), (2, 4)]
    assert [layer.name for layer in summary.layers] == [
        "layers.0",
        "layers.2",
        "layers.4",
    ]
    assert summary.trainable_params == 94


def test_repr_matches_notebook():
    expected = """MLP(
  (layers): Sequential(
    (0): Linear(in_features=5, out_features=8, bias=True)
    (1): ReLU()
    (2): Linear(in_features=8, out_features=4, bias=True)
    (3): ReLU()
    (4): Linear(in_features=4, out_features=2, bias=True)
  )
)"""
    assert repr(build_model(MLPSpec())) == expected


def random_spec(rng: random.Random) -> MLPSpec:
    return MLPSpec(
        in_features=rng.randint(1, 64),
        hidden_widths=tuple(rng.randint(1, 48) for _ in range(rng.randint(0, 5))),
        out_features=rng.randint(2, 16),
        activation=rng.choice(["relu", "tanh", "sigmoid", "gelu", "identity"]),
        bias=rng.random() < 0.8,
        seed=rng.randint(0, 2**32 - 1),
    )


@pytest.mark.parametrize("case", range(60))
def test_counts_and_weights_match_torch(case):
    spec = random_spec(random.Random(case))
    model = build_model(spec)
    reference = notebook_build(spec)
    summary = count_parameters(spec)

    assert summary.num_params == sum(p.numel() for p in model.parameters())
    assert summary.trainable_params == sum(
        p.numel() for p in reference.parameters() if p.requires_grad
    )
    assert repr(model.layers) == repr(reference.layers)
    for ours, theirs in zip(
        model.state_dict().values(), reference.state_dict().values(), strict=True
    ):
        assert torch.equal(ours, theirs)


def test_no_bias_spec():
    spec = MLPSpec(bias=False)
    summary = count_parameters(spec)
    assert summary.num_params == 40 + 32 + 8
    assert summary.layers[0].formula == "8 x 5 = 40"
    assert all(linear.bias is None for _, linear in linear_layers(build_model(spec)))


def test_build_leaves_global_rng_alone():
    torch.manual_seed(7)
    before = torch.get_rng_state()
    build_model(MLPSpec(seed=123))
    default_input(5, 123)
    assert torch.equal(torch.get_rng_state(), before)


def test_threads_match_serial_builds():
    specs = [MLPSpec(hidden_widths=(64, 64), seed=seed) for seed in range(16)]
    serial = {spec.seed: build_model(spec).state_dict() for spec in specs}
    results: dict[int, list] = {}
    barrier = threading.Barrier(8)

    def worker(worker_idx: int) -> None:
        barrier.wait()
        for _ in range(5):
            for spec in specs[worker_idx::8]:
                results.setdefault(spec.seed, []).append(build_model(spec).state_dict())
                torch.manual_seed(
                    worker_idx
                )  # a careless neighbour reseeding the global RNG
                torch.rand(100)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert set(results) == set(serial)
    for seed, builds in results.items():
        assert len(builds) == 5
        for state in builds:
            for key, tensor in serial[seed].items():
                assert torch.equal(state[key], tensor), (seed, key)


def test_forward_records_each_layer():
    spec = MLPSpec()
    model = build_model(spec)
    x = default_input(5, 42)
    result = run_forward(model, x)
    assert [tuple(t.shape) for t in result.pre_activations] == [(1, 8), (1, 4), (1, 2)]
    first = model.layers[0]
    assert torch.allclose(result.pre_activations[0], x @ first.weight.T + first.bias)
    assert torch.equal(
        result.post_activations[0], torch.relu(result.pre_activations[0])
    )
    assert torch.equal(result.post_activations[-1], result.logits)
    assert not result.logits.requires_grad


def test_softmax_stable_for_huge_logits():
    from mlp import softmax

    probs = softmax(torch.tensor([[1e30, -1e30, 0.0]]))
    assert torch.isfinite(probs).all()
    assert probs[0, 0].item() == 1.0
    assert probs.sum().item() == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"in_features": 0}, "in_features"),
        ({"in_features": 1025}, "in_features"),
        ({"in_features": 5.0}, "in_features"),
        ({"hidden_widths": (8, 0)}, "hidden_widths[1]"),
        ({"hidden_widths": (513,)}, "hidden_widths[0]"),
        ({"hidden_widths": (4,) * 9}, "number of hidden layers"),
        ({"out_features": 1}, "out_features"),
        ({"out_features": 17}, "out_features"),
        ({"seed": -1}, "seed"),
        ({"seed": 2**32}, "seed"),
        ({"seed": True}, "seed"),
        ({"activation": "softplus"}, "activation"),
        ({"bias": 1}, "bias"),
    ],
)
def test_spec_rejects_bad_values(kwargs, field):
    with pytest.raises(ValueError, match=field.replace("[", r"\[").replace("]", r"\]")):
        MLPSpec(**kwargs)


def test_spec_is_hashable_and_normalizes_lists():
    spec = MLPSpec(hidden_widths=[8, 4])
    assert spec == MLPSpec()
    assert hash(spec) == hash(MLPSpec())
