"""Pure plotly figure builders: plain arrays in, `go.Figure` out, no Streamlit."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

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
# Gap between a weight heatmap and its bias column, and the weight's share of the
# width that remains, as fractions of the plot width.
HEATMAP_SPACING = 0.06
WEIGHT_SHARE = 0.82


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
    height: int | None = None,
) -> go.Figure:
    """Draw a Linear's weight in its stored (out_features, in_features) layout, bias beside it.

    Row 0 is on top, as a printed tensor reads. Sides longer than `max_cells` are
    mean-pooled, and the axis ticks then give the first index of each block. The
    colour key runs along the top, so the cells keep the figure's full width.
    `height` overrides the size chosen from the row count, so figures side by side
    can line up.
    """
    out_features, in_features = weight.shape  # (out_features, in_features)
    # Adding 0.0 turns -0.0 into 0.0, so no cell is sent as -0.0.
    shown, row_block, col_block = pool_matrix(
        np.asarray(weight, dtype=np.float32) + 0.0, max_cells
    )
    pooled = row_block > 1 or col_block > 1
    zmax = color_range(weight, bias)
    rows_idx = np.arange(0, out_features, row_block, dtype=np.int32)
    cols_idx = np.arange(0, in_features, col_block, dtype=np.int32)

    has_bias = bias is not None
    what = "mean of block at" if pooled else ""
    traces = [
        go.Heatmap(
            z=shown,
            x=cols_idx,
            y=rows_idx,
            zmin=-zmax,
            zmax=zmax,
            zmid=0.0,
            colorscale=style.colorscale,
            colorbar=colorbar_on_top(style),
            hovertemplate=f"{what}layers[{layer_idx}].{param_name}[%{{y}}, %{{x}}] = %{{z:.4f}}<extra></extra>",
            name=param_name,
            xaxis="x",
            yaxis="y",
        )
    ]
    if has_bias:
        bias_shown, _, _ = pool_matrix(
            np.asarray(bias, dtype=np.float32).reshape(-1, 1) + 0.0, max_cells
        )
        bias_name = (
            "bias" if param_name == "weight" else param_name.replace("weight", "bias")
        )
        traces.append(
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
                xaxis="x2",
                yaxis="y2",
            )
        )

    title = f"layers[{layer_idx}].{param_name} {tuple(weight.shape)}"
    if height is None:
        height = heatmap_height(shown.shape[0], style)
    # Room for the title and the colour key above the cells.
    top = 4 * style.font_size + 24
    layout = matrix_axes_layout(out_features, in_features, pooled, has_bias)
    layout.update(
        # Pinned to the top left of the figure, above the colour key.
        title={
            "text": title,
            "font": {"size": style.font_size},
            "x": 0.0,
            "xref": "paper",
            "xanchor": "left",
            "y": 1.0,
            "yref": "paper",
            "yanchor": "bottom",
            "pad": {"b": 2 * style.font_size + 10},
            "automargin": True,
        },
        height=height,
        margin={"l": 60, "r": 10, "t": top, "b": 60},
        font={"size": style.font_size},
        hoverlabel={"font": {"size": style.font_size + 4}},
    )
    # One construction validates every property once; make_subplots followed by
    # update_* calls validated them again at each step and took about 5 times longer.
    return go.Figure(data=traces, layout=layout)


def matrix_axes_layout(
    out_features: int, in_features: int, pooled: bool, has_bias: bool
) -> dict:
    """Axes of a weight heatmap, with the bias in a narrow column at the right.

    Rows are out_features, row 0 on top; columns are in_features; ticks are integers.
    The domains are those of make_subplots(rows=1, cols=2, shared_yaxes=True,
    column_widths=[0.82, 0.18], horizontal_spacing=0.06).
    """
    weight_end = (1.0 - HEATMAP_SPACING) * WEIGHT_SHARE if has_bias else 1.0
    # automargin widens the margins to fit tick labels and titles at any font size.
    xaxis = {
        "anchor": "y",
        "domain": [0.0, weight_end],
        "title": {"text": f"j: in_features ({in_features})"},
        "tickformat": "d",
        "automargin": True,
    }
    yaxis = {
        "anchor": "x",
        "domain": [0.0, 1.0],
        "autorange": "reversed",
        "tickformat": "d",
        "automargin": True,
        "title": {"text": f"i: out_features ({out_features})"},
    }
    # A tick per row always fits the height; a tick per column fits up to about 10.
    if not pooled and out_features <= 16:
        yaxis["dtick"] = 1
    if not pooled and in_features <= 10:
        xaxis["dtick"] = 1
    layout = {"xaxis": xaxis, "yaxis": yaxis}
    if has_bias:
        layout["xaxis2"] = {
            "anchor": "y2",
            "domain": [weight_end + HEATMAP_SPACING, 1.0],
            "title": {"text": "bias"},
            "showticklabels": False,
            "ticks": "",
        }
        layout["yaxis2"] = {
            "anchor": "x2",
            "domain": [0.0, 1.0],
            "matches": "y",
            "showticklabels": False,
        }
    return layout


def heatmap_height(rows: int, style: FigureStyle = DEFAULT_STYLE) -> int:
    """Figure height in pixels that keeps cells readable without a giant figure.

    Larger type takes room from the cells, so the height grows with the font.
    """
    base = min(520, max(260, 150 + 24 * rows))
    return int(base * style.font_size / DEFAULT_FONT_SIZE)


def colorbar_on_top(style: FigureStyle) -> dict:
    """Return a thin horizontal colour key that sits above the cells."""
    return {
        "orientation": "h",
        "x": 0.0,
        "xanchor": "left",
        "y": 1.0,
        "yanchor": "bottom",
        "yref": "paper",
        "len": 1.0,
        "thickness": max(8, style.font_size // 2),
        "ticks": "outside",
        "tickfont": {"size": style.font_size - 2},
    }


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
    bar = go.Bar(
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
    yaxis: dict = {"range": list(value_range)} if value_range else {}
    # automargin widens the left margin when large type needs it.
    yaxis["automargin"] = True
    layout: dict = {
        "title": {"text": title},
        "height": 300,
        "margin": {"l": 60, "r": 10, "t": 50, "b": 50},
        "font": {"size": style.font_size},
        "hoverlabel": {"font": {"size": style.font_size + 4}},
        "xaxis": {"title": {"text": "class"}, "type": "category", "automargin": True},
        "yaxis": yaxis,
    }
    if reference is not None:
        # The shape and label fig.add_hline(annotation_position="top right") adds,
        # written out: fig.add_hline takes several times longer than the whole figure.
        layout["shapes"] = [
            {
                "type": "line",
                "xref": "x domain",
                "x0": 0,
                "x1": 1,
                "yref": "y",
                "y0": reference,
                "y1": reference,
                "line": {"color": "#e45756", "dash": "dash"},
            }
        ]
        layout["annotations"] = [
            {
                "text": f"1 / out_features = {format_value(reference)}",
                "showarrow": False,
                "xref": "x domain",
                "x": 1,
                "xanchor": "right",
                "yref": "y",
                "y": reference,
                "yanchor": "bottom",
            }
        ]
    return go.Figure(data=[bar], layout=layout)


def param_bar_chart(
    summary: ParamSummary, style: FigureStyle = DEFAULT_STYLE
) -> go.Figure:
    """Stacked bars of weights and biases per Linear, labelled with the layer total."""
    names = [layer.name for layer in summary.layers]
    weights = go.Bar(
        x=names,
        y=[layer.num_weights for layer in summary.layers],
        name="weights (out x in)",
        marker_color=BAR_COLOR,
    )
    biases = go.Bar(
        x=names,
        y=[layer.num_biases for layer in summary.layers],
        name="biases (out)",
        marker_color="#f58518",
        text=[f"{layer.num_params:,}" for layer in summary.layers],
        textposition="outside",
        cliponaxis=False,
    )
    layout = {
        "barmode": "stack",
        "title": {"text": f"Parameters per layer (total {summary.num_params:,})"},
        "height": 300,
        "margin": {"l": 60, "r": 10, "t": 50, "b": 50},
        "font": {"size": style.font_size},
        "hoverlabel": {"font": {"size": style.font_size + 4}},
        "yaxis": {"title": {"text": "Param #"}, "tickformat": ",d", "automargin": True},
        "legend": {"orientation": "h", "y": -0.2},
    }
    return go.Figure(data=[weights, biases], layout=layout)
