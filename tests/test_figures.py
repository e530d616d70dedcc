"""Pure figure builders, checked on the figure objects they return."""

from __future__ import annotations

import numpy as np
import pytest

from components import figures
from mlp import MLPSpec, build_model, count_parameters


def test_heatmap_cells_equal_weight():
    model = build_model(MLPSpec())
    weight = model.layers[0].weight.detach().numpy()
    bias = model.layers[0].bias.detach().numpy()
    fig = figures.weight_heatmap(weight, bias, layer_idx=0)
    z = np.asarray(fig.data[0].z)
    assert z.shape == (8, 5)
    for i in range(8):
        for j in range(5):
            assert z[i][j] == weight[i, j]
    assert np.array_equal(np.asarray(fig.data[1].z).ravel(), bias)


def test_heatmap_row_zero_on_top():
    fig = figures.weight_heatmap(
        np.arange(6, dtype=np.float32).reshape(3, 2), None, layer_idx=0
    )
    assert fig.layout.yaxis.autorange == "reversed"
    assert list(fig.data[0].y) == [0, 1, 2]
    assert "out_features" in fig.layout.yaxis.title.text
    assert "in_features" in fig.layout.xaxis.title.text


def test_heatmap_colors_centred_at_zero():
    weight = np.array([[0.5, -0.2], [0.0, 0.1]], dtype=np.float32)
    fig = figures.weight_heatmap(
        weight, np.array([0.9, -0.3], dtype=np.float32), layer_idx=2
    )
    for trace in fig.data:
        assert trace.zmid == 0.0
        assert trace.zmin == pytest.approx(-0.9)
        assert trace.zmax == pytest.approx(0.9)
    assert "layers[2].weight[%{y}, %{x}]" in fig.data[0].hovertemplate
    assert "%{z:.4f}" in fig.data[0].hovertemplate
    assert "layers[2].bias[%{y}]" in fig.data[1].hovertemplate


def test_heatmap_pools_large_matrix():
    weight = np.random.default_rng(0).standard_normal((512, 1024)).astype(np.float32)
    fig = figures.weight_heatmap(weight, None, layer_idx=0)
    z = np.asarray(fig.data[0].z)
    assert z.shape == (128, 128)
    assert z[0, 0] == pytest.approx(weight[:4, :8].mean(), abs=1e-6)
    assert list(fig.data[0].y[:2]) == [0, 4]
    assert "mean of block" in fig.data[0].hovertemplate


def test_pool_handles_ragged_sides():
    weight = np.ones((130, 3), dtype=np.float32)
    pooled, row_block, col_block = figures.pool_matrix(weight, 128)
    assert (row_block, col_block) == (2, 1)
    assert pooled.shape == (65, 3)
    assert np.all(pooled == 1.0)


def test_output_bars_labels_and_reference():
    fig = figures.output_bars([0.50254, 0.49746], "softmax", reference=0.5)
    assert list(fig.data[0].text) == ["0.5025", "0.4975"]
    assert fig.layout.shapes[0].y0 == 0.5


def test_output_bars_no_negative_zero_label():
    fig = figures.output_bars([-0.00001, 1.0], "logits")
    assert list(fig.data[0].text) == ["0.0000", "1.0000"]


def test_param_bar_chart_totals():
    summary = count_parameters(MLPSpec())
    fig = figures.param_bar_chart(summary)
    weights, biases = fig.data
    assert list(weights.y) == [40, 32, 8]
    assert list(biases.y) == [8, 4, 2]
    assert list(biases.text) == ["48", "36", "10"]
    assert "94" in fig.layout.title.text
