"""Pure plotly figure builders: plain arrays in, `go.Figure` out, no Streamlit."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from mlp.params import ParamSummary
from mlp.values import format_value

# Diverging scales with a neutral middle, so zero reads as neither sign.
# RdBu is ColorBrewer's and stays readable with red-green colour blindness.
DIVERGING = "RdBu"
PROJECTOR_DIVERGING = "PuOr"
# A heatmap side longer than this is mean-pooled into blocks before it is sent.
MAX_HEATMAP_CELLS = 128

# Colours at the negative and the positive end of each diverging scale, as plotly
# draws them (RdBu runs from red to blue, PuOr from orange to purple).
SIGN_COLORS: dict[str, tuple[str, str]] = {
    DIVERGING: ("red", "blue"),
    PROJECTOR_DIVERGING: ("orange", "purple"),
}

BAR_COLOR = "#4c78a8"
DEFAULT_FONT_SIZE = 15


@dataclass(frozen=True)
class FigureStyle:
    """Look shared by every figure: font size and the diverging colour scale."""

    font_size: int = DEFAULT_FONT_SIZE
    colorscale: str = DIVERGING

    @property
    def sign_legend(self) -> str:
        """The colours of negative, positive and zero values, as a sentence."""
        negative, positive = SIGN_COLORS[self.colorscale]
        return f"{negative.capitalize()} is negative, {positive} positive, white zero."


DEFAULT_STYLE = FigureStyle()
# Large type for a projector, and a purple-orange scale that reads for every common
# form of colour blindness.
PROJECTOR_STYLE = FigureStyle(font_size=22, colorscale=PROJECTOR_DIVERGING)


def pool_matrix(
    matrix: np.ndarray, max_cells: int = MAX_HEATMAP_CELLS
) -> tuple[np.ndarray, int, int]:
    """Mean-pool `matrix` so neither side exceeds `max_cells`; return it and the block sizes."""
    rows, cols = matrix.shape
    row_block = -(-rows // max_cells)  # ceil division
    col_block = -(-cols // max_cells)
    if row_block == 1 and col_block == 1:
        return matrix, 1, 1
    padded_rows = -(-rows // row_block) * row_block
    padded_cols = -(-cols // col_block) * col_block
    padded = np.full((padded_rows, padded_cols), np.nan, dtype=np.float64)
    padded[:rows, :cols] = matrix
    blocks = padded.reshape(
        padded_rows // row_block, row_block, padded_cols // col_block, col_block
    )
    pooled = np.nanmean(blocks, axis=(1, 3)).astype(np.float32)
    return pooled, row_block, col_block


def color_range(*arrays: np.ndarray | None) -> float:
    """Largest absolute value over the arrays, so the colour scale is symmetric about zero."""
    largest = max(
        (float(np.abs(a).max()) for a in arrays if a is not None and a.size),
        default=0.0,
    )
    return largest if largest > 0 else 1.0


def weight_heatmap(
    weight: np.ndarray,
    bias: np.ndarray | None,
    layer_idx: int,
    style: FigureStyle = DEFAULT_STYLE,
    max_cells: int = MAX_HEATMAP_CELLS,
    param_name: str = "weight",
) -> go.Figure:
    """Draw a Linear's weight in its stored (out_features, in_features) layout, bias beside it.

    Row 0 is on top, as a printed tensor reads. Sides longer than `max_cells` are
    mean-pooled, and the axis ticks then give the first index of each block.
    """
    out_features, in_features = weight.shape  # (out_features, in_features)
    shown, row_block, col_block = pool_matrix(
        np.asarray(weight, dtype=np.float32) + 0.0, max_cells  # -0.0 becomes 0.0
    )
    pooled = row_block > 1 or col_block > 1
    zmax = color_range(weight, bias)
    rows_idx = np.arange(0, out_features, row_block, dtype=np.int32)
    cols_idx = np.arange(0, in_features, col_block, dtype=np.int32)

    has_bias = bias is not None
    fig = make_subplots(
        rows=1,
        cols=2 if has_bias else 1,
        shared_yaxes=True,
        horizontal_spacing=0.06,
        column_widths=[0.82, 0.18] if has_bias else None,
    )
    what = "mean of block at" if pooled else ""
    fig.add_trace(
        go.Heatmap(
            z=shown,
            x=cols_idx,
            y=rows_idx,
            zmin=-zmax,
            zmax=zmax,
            zmid=0.0,
            colorscale=style.colorscale,
            colorbar={"title": {"text": "value"}, "thickness": 14},
            hovertemplate=f"{what}layers[{layer_idx}].{param_name}[%{{y}}, %{{x}}] = %{{z:.4f}}<extra></extra>",
            name=param_name,
        ),
        row=1,
        col=1,
    )
    if has_bias:
        bias_shown, _, _ = pool_matrix(
            np.asarray(bias, dtype=np.float32).reshape(-1, 1) + 0.0, max_cells
        )
        bias_name = (
            "bias" if param_name == "weight" else param_name.replace("weight", "bias")
        )
        fig.add_trace(
            go.Heatmap(
                z=bias_shown,
                x=np.zeros(1, dtype=np.int32),
                y=rows_idx,
                zmin=-zmax,
                zmax=zmax,
                zmid=0.0,
                colorscale=style.colorscale,
                showscale=False,
                hovertemplate=f"{what}layers[{layer_idx}].{bias_name}[%{{y}}] = %{{z:.4f}}<extra></extra>",
                name=bias_name,
            ),
            row=1,
            col=2,
        )
        fig.update_xaxes(showticklabels=False, title_text="", row=1, col=2)

    style_matrix_axes(fig, out_features, in_features, pooled)
    title = f"layers[{layer_idx}].{param_name} {tuple(weight.shape)}"
    if has_bias:
        title += f", bias ({out_features},) at right"
    # Larger type takes room from the cells, so the figure grows with the font.
    height = heatmap_height(shown.shape[0]) * style.font_size // DEFAULT_FONT_SIZE
    top = 40 + 2 * (style.font_size - DEFAULT_FONT_SIZE)
    fig.update_layout(
        title={"text": title, "font": {"size": style.font_size}, "automargin": True},
        height=height,
        margin={"l": 60, "r": 10, "t": top, "b": 60},
        font={"size": style.font_size},
        hoverlabel={"font_size": style.font_size + 4},
    )
    return fig


def style_matrix_axes(
    fig: go.Figure, out_features: int, in_features: int, pooled: bool
) -> None:
    """Label axes out_features (rows, 0 on top) and in_features (columns), integer ticks."""
    # automargin widens the margins to fit tick labels and titles at any font size.
    fig.update_yaxes(
        autorange="reversed", tickformat="d", automargin=True, row=1, col=1
    )
    fig.update_yaxes(title_text=f"row i: out_features ({out_features})", row=1, col=1)
    fig.update_xaxes(
        title_text=f"column j: in_features ({in_features})",
        tickformat="d",
        automargin=True,
        row=1,
        col=1,
    )
    if not pooled and out_features <= 16:
        fig.update_yaxes(dtick=1, row=1, col=1)
    if not pooled and in_features <= 16:
        fig.update_xaxes(dtick=1, row=1, col=1)


def heatmap_height(rows: int) -> int:
    """Figure height in pixels that keeps cells readable without a giant figure."""
    return int(min(520, max(240, 90 + 26 * rows)))


def output_bars(
    values: Sequence[float],
    title: str,
    reference: float | None = None,
    value_range: tuple[float, float] | None = None,
    style: FigureStyle = DEFAULT_STYLE,
) -> go.Figure:
    """Bar chart with one bar per class, each labelled with its value to 4 decimals.

    Raises ValueError for a non-finite value: the caller shows a message instead of a bar.
    """
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"{title}: every bar value must be finite, got {list(values)}")
    classes = [str(k) for k in range(len(values))]
    fig = go.Figure(
        go.Bar(
            x=classes,
            y=[v + 0.0 for v in values],  # -0.0 becomes 0.0 in the JSON sent
            text=[format_value(v) for v in values],
            textposition="auto",
            insidetextanchor="end",
            cliponaxis=False,
            marker_color=BAR_COLOR,
            hovertemplate="class %{x}: %{y:.4f}<extra></extra>",
            name=title,
        )
    )
    if reference is not None:
        fig.add_hline(
            y=reference,
            line_dash="dash",
            line_color="#e45756",
            annotation_text=f"1 / out_features = {format_value(reference)}",
            annotation_position="top right",
        )
    fig.update_layout(
        title={"text": title},
        height=300,
        margin={"l": 60, "r": 10, "t": 50, "b": 50},
        font={"size": style.font_size},
        hoverlabel={"font_size": style.font_size + 4},
        xaxis={"title": {"text": "class"}, "type": "category", "automargin": True},
        yaxis={"range": list(value_range)} if value_range else {},
    )
    # automargin widens the left margin when large type needs it.
    fig.update_yaxes(automargin=True)
    return fig


def param_bar_chart(
    summary: ParamSummary, style: FigureStyle = DEFAULT_STYLE
) -> go.Figure:
    """Stacked bars of weights and biases per Linear, labelled with the layer total."""
    names = [layer.name for layer in summary.layers]
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=names,
            y=[layer.num_weights for layer in summary.layers],
            name="weights (out x in)",
            marker_color=BAR_COLOR,
        )
    )
    fig.add_trace(
        go.Bar(
            x=names,
            y=[layer.num_biases for layer in summary.layers],
            name="biases (out)",
            marker_color="#f58518",
            text=[f"{layer.num_params:,}" for layer in summary.layers],
            textposition="outside",
            cliponaxis=False,
        )
    )
    fig.update_layout(
        barmode="stack",
        title={"text": f"Parameters per layer (total {summary.num_params:,})"},
        height=300,
        margin={"l": 60, "r": 10, "t": 50, "b": 50},
        font={"size": style.font_size},
        hoverlabel={"font_size": style.font_size + 4},
        yaxis={"title": {"text": "Param #"}, "tickformat": ",d", "automargin": True},
        legend={"orientation": "h", "y": -0.2},
    )
    return fig
