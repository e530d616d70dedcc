"""Lesson figure builders, checked on the figure objects they return."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from components import figures, lesson_figures
from components.figures import DEFAULT_STYLE, PROJECTOR_STYLE
from components.lesson_panels import gradient_heatmap
from mlp import MLPSpec, build_model
from mlp.training import LayerGrad, compute_gradients


def test_transposed_heatmap_cells_equal_weight_t():
    weight = build_model(MLPSpec()).layers[0].weight.detach().numpy()  # (8, 5)
    fig = lesson_figures.matrix_heatmap(
        weight.T, "row j: in_features (5)", "column i: out_features (8)", "W.T", "W.T"
    )
    z = np.asarray(fig.data[0].z)
    assert z.shape == (5, 8)
    assert np.array_equal(z, weight.T)
    assert fig.layout.yaxis.autorange == "reversed"
    assert fig.layout.yaxis.title.text == "row j: in_features (5)"
    assert fig.layout.xaxis.title.text == "column i: out_features (8)"
    assert fig.data[0].zmid == 0.0
    assert fig.data[0].zmax == pytest.approx(float(np.abs(weight).max()))


def test_matrix_heatmap_pools_large_matrix():
    matrix = np.arange(300 * 2, dtype=np.float32).reshape(300, 2)
    fig = lesson_figures.matrix_heatmap(matrix, "rows", "cols", "big", "m")
    z = np.asarray(fig.data[0].z)
    assert z.shape == (100, 2)
    assert z[0, 0] == pytest.approx(matrix[:3, 0].mean())
    assert "mean of block" in fig.data[0].hovertemplate


def test_highlight_row_frames_that_row():
    fig = lesson_figures.matrix_heatmap(np.zeros((8, 5)), "r", "c", "t", "w")
    lesson_figures.highlight_row(fig, row=3, num_rows=8, num_cols=5)
    shape = fig.layout.shapes[-1]
    assert (shape.y0, shape.y1) == (2.5, 3.5)
    assert (shape.x0, shape.x1) == (-0.5, 4.5)


def test_highlight_row_on_pooled_heatmap():
    fig = lesson_figures.matrix_heatmap(np.zeros((512, 4)), "r", "c", "t", "w")
    lesson_figures.highlight_row(fig, row=10, num_rows=512, num_cols=4)
    shape = fig.layout.shapes[-1]
    # 512 rows pool into blocks of 4; row 10 sits in the block starting at row 8.
    assert (shape.y0, shape.y1) == (6.0, 10.0)


def test_row_picker_covers_every_cell():
    weight = np.arange(40, dtype=np.float32).reshape(8, 5)
    fig = figures.weight_heatmap(weight, None, layer_idx=0)
    assert lesson_figures.add_row_picker(fig, weight, layer_idx=0)
    picker = fig.data[-1]
    assert len(picker.x) == 40
    assert list(picker.y[:5]) == [0] * 5
    assert list(picker.x[:5]) == [0, 1, 2, 3, 4]
    assert picker.customdata[7] == weight[1, 2]
    assert picker.marker.opacity == 0.0
    assert fig.layout.clickmode == "event+select"


def test_row_picker_skips_large_heatmap():
    weight = np.zeros((64, 64), dtype=np.float32)
    fig = figures.weight_heatmap(weight, None, layer_idx=0)
    traces_before = len(fig.data)
    assert not lesson_figures.add_row_picker(fig, weight, layer_idx=0)
    assert len(fig.data) == traces_before


def test_products_bars_values_and_labels():
    fig = lesson_figures.products_bars([0.1151, -0.0246, 0.0], layer_idx=0, neuron=3)
    bars = fig.data[0]
    assert list(bars.y) == [0.1151, -0.0246, 0.0]
    assert list(bars.text) == ["0.1151", "-0.0246", "0.0000"]
    assert "weight[3, %{x}]" in bars.hovertemplate


def test_products_bars_unlabelled_when_many():
    fig = lesson_figures.products_bars(list(np.linspace(-1, 1, 40)), 2, 0)
    assert fig.data[0].text is None


def test_activation_bars_mark_inactive():
    fig = lesson_figures.activation_bars(
        pre=[-0.3, 0.2, -0.1],
        post=[0.0, 0.2, 0.0],
        inactive=[True, False, True],
        title="layers[2]",
    )
    before, after, marks = fig.data
    assert list(before.y) == [-0.3, 0.2, -0.1]
    assert list(after.y) == [0.0, 0.2, 0.0]
    assert list(marks.x) == [0, 2]
    assert list(marks.y) == [0.0, 0.0]


def test_activation_bars_logits_one_series():
    fig = lesson_figures.activation_bars([0.38, 0.37], None, [False, False], "logits")
    assert len(fig.data) == 1
    assert fig.data[0].name == "logits"


def test_histogram_counts_every_draw():
    values = np.array([0.5, 0.5, 0.51, 0.73, 1.0])
    fig = lesson_figures.max_prob_histogram(values, out_features=2, title="draws")
    counts = np.asarray(fig.data[0].y)
    assert counts.sum() == 5
    assert counts[0] == 2  # 0.5 itself lands in the first bin
    assert counts[-1] == 1
    lines = {shape.line.dash: shape.x0 for shape in fig.layout.shapes}
    assert lines["dash"] == 0.5
    assert lines["dot"] == pytest.approx(0.51)


def test_histogram_starts_at_uniform():
    fig = lesson_figures.max_prob_histogram(
        np.full(10, 0.1, dtype=np.float32), out_features=10, title="uniform"
    )
    counts = np.asarray(fig.data[0].y)
    assert counts[0] == 10
    assert fig.layout.xaxis.range[0] < 0.1
    assert "1/10" in fig.layout.xaxis.title.text


def test_before_after_bars():
    fig = lesson_figures.before_after_bars(
        [0.5025, 0.4975], [0.3683, 0.6317], target=1, style=PROJECTOR_STYLE
    )
    before, after = fig.data
    assert list(before.y) == [0.5025, 0.4975]
    assert list(after.y) == [0.3683, 0.6317]
    assert list(after.text) == ["0.3683", "0.6317"]
    assert fig.layout.font.size == PROJECTOR_STYLE.font_size
    assert fig.layout.shapes[0].y0 == 0.5


def lesson_figure_samples() -> dict[str, go.Figure]:
    """One figure from each lesson builder."""
    return {
        "matrix": lesson_figures.matrix_heatmap(
            np.full((3, 2), 1e-8), "r", "c", "t", "w"
        ),
        "products": lesson_figures.products_bars([2e-9, -1e-9], 0, 0),
        "activations": lesson_figures.activation_bars(
            [1e-9, -2e-9], [1e-9, 0.0], [False, True], "t"
        ),
        "histogram": lesson_figures.max_prob_histogram(np.array([0.5, 0.7]), 2, "h"),
        "before_after": lesson_figures.before_after_bars([0.5, 0.5], [0.6, 0.4], 0),
    }


@pytest.mark.parametrize("name", list(lesson_figure_samples()))
def test_lesson_figures_use_e_notation(name):
    fig = lesson_figure_samples()[name]
    assert fig.layout.xaxis.exponentformat == "e"
    assert fig.layout.yaxis.exponentformat == "e"
    for trace in fig.data:
        if trace.type == "heatmap":
            assert trace.colorbar.exponentformat == "e"


def test_hover_value_shows_tiny_values():
    assert lesson_figures.hover_value(0.1151) == "0.1151"
    assert lesson_figures.hover_value(0.0) == "0.0000"
    assert lesson_figures.hover_value(-0.0) == "0.0000"
    assert lesson_figures.hover_value(3e-7) == "0.0000 (not zero: 3.000e-07)"
    assert lesson_figures.hover_value(-3e-7) == "0.0000 (not zero: -3.000e-07)"
    assert lesson_figures.hover_value(-0.00004) == "0.0000 (not zero: -4.000e-05)"
    assert lesson_figures.hover_value(0.00006) == "0.0001"
    assert lesson_figures.hover_value(float("nan")) == "not finite"


def test_bar_hovers_read_tiny_values():
    products = lesson_figures.products_bars([2e-9, -0.25], 0, 3).data[0]
    assert list(products.customdata) == ["0.0000 (not zero: 2.000e-09)", "-0.2500"]
    assert "%{customdata}" in products.hovertemplate
    before, after = lesson_figures.before_after_bars([1e-9, 1.0], [0.5, 0.5], 0).data
    assert list(before.customdata) == ["0.0000 (not zero: 1.000e-09)", "1.0000"]
    assert list(after.customdata) == ["0.5000", "0.5000"]


def deep_sigmoid_gradients() -> list[LayerGrad]:
    """Gradients of the deep Sigmoid network, whose first layers get values near 1e-8."""
    spec = MLPSpec(hidden_widths=(8,) * 8, activation="sigmoid")
    torch.manual_seed(spec.seed)
    x = torch.randn(1, spec.in_features)
    return compute_gradients(build_model(spec), x, target=0).grads


def test_gradient_heatmap_reads_tiny_values():
    first = deep_sigmoid_gradients()[0]
    assert float(first.weight_grad.abs().max()) < 1e-4  # the case this test is about
    fig = gradient_heatmap(first.weight_grad, first.bias_grad, 0, DEFAULT_STYLE)
    weight_trace, bias_trace = fig.data
    assert weight_trace.colorbar.exponentformat == "e"
    assert fig.layout.xaxis.exponentformat == "e"
    assert fig.layout.yaxis.exponentformat == "e"
    for trace in (weight_trace, bias_trace):
        assert "%{z:.4g}" in trace.hovertemplate
        assert ".4f" not in trace.hovertemplate


def test_gradient_heatmap_pooled_hover():
    grad = torch.full((300, 2), 1e-9)
    fig = gradient_heatmap(grad, None, 0, DEFAULT_STYLE)
    assert "mean of block" in fig.data[0].hovertemplate
    assert "%{z:.4g}" in fig.data[0].hovertemplate
