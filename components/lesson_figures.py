"""Pure plotly builders for the lesson panels: plain arrays in, `go.Figure` out."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from components import figures
from components.figures import BAR_COLOR, DEFAULT_STYLE, FigureStyle
from mlp.values import format_value

PRE_COLOR = "#9ecae9"  # light blue: before the activation
POST_COLOR = BAR_COLOR  # the page's bar blue: after it
INACTIVE_COLOR = "#e45756"
AFTER_COLOR = "#f58518"
HIGHLIGHT_COLOR = "#111111"
# 100 bins over [1 / out_features, 1]: 0.005 wide for two classes.
HISTOGRAM_BINS = 100
# Click targets over at most this many heatmap cells: three numbers per marker go to
# the browser, and a 128 x 128 grid would add about 400 KB to a rerun.
MAX_PICKER_CELLS = 2048
# Up to this many bars get a printed value; more would overlap or shrink the text.
MAX_LABELLED_BARS = 8
# Tick labels in e-notation such as 1e-8. Plotly's default, "B" in plotly 7.1, writes
# SI suffixes such as 10n, 2µ or 5k, which students do not read as numbers.
EXPONENT_FORMAT = "e"
# Hover format of gradients: 4 significant digits, so 1.234e-9 does not read 0.0000.
GRADIENT_HOVER_FORMAT = ".4g"


def base_layout(fig: go.Figure, title: str, height: int, style: FigureStyle) -> None:
    """Apply the title, height, margins and font sizes every lesson figure shares."""
    fig.update_layout(
        title={"text": title, "font": {"size": style.font_size}},
        height=height,
        margin={"l": 60, "r": 10, "t": 50, "b": 60},
        font={"size": style.font_size},
        hoverlabel={"font_size": style.font_size + 4},
    )
    # Grow the margins to fit tick labels and axis titles, which projector type widens.
    fig.update_xaxes(automargin=True)
    fig.update_yaxes(automargin=True)
    plain_exponents(fig)


def plain_exponents(fig: go.Figure) -> go.Figure:
    """Label every axis and colour bar of `fig` in e-notation (1e-8), not SI suffixes."""
    fig.update_xaxes(exponentformat=EXPONENT_FORMAT)
    fig.update_yaxes(exponentformat=EXPONENT_FORMAT)
    for trace in fig.data:
        if trace.type == "heatmap" and trace.showscale is not False:
            trace.colorbar.exponentformat = EXPONENT_FORMAT
    return fig


def hover_value(value: float) -> str:
    """Format `value` to 4 decimals as the page does, adding its e-notation when a
    nonzero value such as 3e-7 would otherwise read 0.0000."""
    text = format_value(value)
    if math.isfinite(value) and value != 0 and float(text) == 0:
        text += f" (not zero: {value:.3e})"
    return text


def hover_values(values: Sequence[float]) -> list[str]:
    return [hover_value(v) for v in values]


def matrix_heatmap(
    matrix: np.ndarray,
    row_title: str,
    col_title: str,
    title: str,
    hover_name: str,
    style: FigureStyle = DEFAULT_STYLE,
) -> go.Figure:
    """Draw any 2-D matrix with row 0 on top and a colour scale centred at zero.

    Sides longer than `figures.MAX_HEATMAP_CELLS` are mean-pooled as in
    `figures.weight_heatmap`.
    """
    rows, cols = matrix.shape
    shown, row_block, col_block = figures.pool_matrix(
        np.asarray(matrix, dtype=np.float32)
    )
    pooled = row_block > 1 or col_block > 1
    zmax = figures.color_range(matrix)
    what = "mean of block at " if pooled else ""
    fig = go.Figure(
        go.Heatmap(
            z=shown,
            x=np.arange(0, cols, col_block, dtype=np.int32),
            y=np.arange(0, rows, row_block, dtype=np.int32),
            zmin=-zmax,
            zmax=zmax,
            zmid=0.0,
            colorscale=style.colorscale,
            colorbar={"title": {"text": "value"}, "thickness": 14},
            hovertemplate=f"{what}{hover_name}[%{{y}}, %{{x}}] = %{{z:.4f}}<extra></extra>",
            name=hover_name,
        )
    )
    fig.update_yaxes(autorange="reversed", tickformat="d", title_text=row_title)
    fig.update_xaxes(tickformat="d", title_text=col_title)
    if not pooled and rows <= 16:
        fig.update_yaxes(dtick=1)
    if not pooled and cols <= 16:
        fig.update_xaxes(dtick=1)
    base_layout(fig, title, figures.heatmap_height(shown.shape[0], style), style)
    return fig


def gradient_hover(fig: go.Figure) -> go.Figure:
    """Switch the hover of every heatmap in `fig` from 4 decimals to GRADIENT_HOVER_FORMAT.

    Gradients of deep networks are often far below 0.0001, which 4 decimals print as 0.
    """
    for trace in fig.data:
        if trace.type == "heatmap":
            trace.hovertemplate = trace.hovertemplate.replace(
                "%{z:.4f}", f"%{{z:{GRADIENT_HOVER_FORMAT}}}"
            )
    return fig


def highlight_row(fig: go.Figure, row: int, num_rows: int, num_cols: int) -> None:
    """Draw a thick frame around one row of the heatmap on axes x and y.

    On a pooled heatmap the frame surrounds the block of rows that contains `row`.
    """
    row_block = -(-num_rows // figures.MAX_HEATMAP_CELLS)
    col_block = -(-num_cols // figures.MAX_HEATMAP_CELLS)
    top = (row // row_block) * row_block
    last_col = ((num_cols - 1) // col_block) * col_block
    fig.add_shape(
        type="rect",
        x0=-col_block / 2,
        x1=last_col + col_block / 2,
        y0=top - row_block / 2,
        y1=top + row_block / 2,
        line={"color": HIGHLIGHT_COLOR, "width": 4},
        xref="x",
        yref="y",
    )


def add_row_picker(fig: go.Figure, weight: np.ndarray, layer_idx: int) -> bool:
    """Lay a grid of invisible markers over the weight heatmap on axes x and y.

    Streamlit 1.67 reports no selection for clicks on a `go.Heatmap` trace, but it does
    for scatter points, so a click on a cell selects the marker at its centre and the
    selection carries that cell's row as `y`. The markers take over the hover label,
    so they repeat the cell's value. On a pooled heatmap they sit on each block.
    Returns False, adding nothing, when the grid would exceed MAX_PICKER_CELLS.
    """
    shown, row_block, col_block = figures.pool_matrix(
        np.asarray(weight, dtype=np.float32)
    )
    if shown.size > MAX_PICKER_CELLS:
        return False
    rows = np.arange(0, weight.shape[0], row_block, dtype=np.int32)
    cols = np.arange(0, weight.shape[1], col_block, dtype=np.int32)
    grid_rows, grid_cols = np.meshgrid(rows, cols, indexing="ij")
    what = "mean of block at " if row_block > 1 or col_block > 1 else ""
    fig.add_trace(
        go.Scatter(
            x=grid_cols.ravel(),
            y=grid_rows.ravel(),
            customdata=shown.ravel(),
            mode="markers",
            marker={"size": 12, "opacity": 0.0},
            hoverlabel={"bgcolor": "#333333"},
            hovertemplate=(
                f"{what}layers[{layer_idx}].weight[%{{y}}, %{{x}}] = "
                "%{customdata:.4f}<br>click to pick row %{y}<extra></extra>"
            ),
            showlegend=False,
            name="pick a row",
            xaxis="x",  # the weight's axes, left of the bias column
            yaxis="y",
        )
    )
    fig.update_layout(clickmode="event+select", dragmode=False)
    return True


def value_labels(values: Sequence[float]) -> list[str] | None:
    """Return printed values for a bar chart, or None when there are too many bars."""
    if len(values) > MAX_LABELLED_BARS:
        return None
    return [format_value(v) for v in values]


def products_bars(
    products: Sequence[float],
    layer_idx: int,
    neuron: int,
    style: FigureStyle = DEFAULT_STYLE,
) -> go.Figure:
    """Draw one bar per input feature j: the term weight[neuron, j] * input[j] of the sum."""
    colors = [BAR_COLOR if p >= 0 else INACTIVE_COLOR for p in products]
    fig = go.Figure(
        go.Bar(
            x=list(range(len(products))),
            y=list(products),
            text=value_labels(products),
            textposition="outside",
            textfont={"size": style.font_size},
            constraintext="none",
            cliponaxis=False,
            marker_color=colors,
            customdata=hover_values(products),
            hovertemplate=f"weight[{neuron}, %{{x}}] * input[%{{x}}] = %{{customdata}}<extra></extra>",
            name="products",
        )
    )
    fig.add_hline(y=0.0, line_color="#666666")
    fig.update_xaxes(title_text="input feature j", tickformat="d")
    if len(products) <= 16:
        fig.update_xaxes(dtick=1)
    fig.update_yaxes(title_text="product")
    title = f"layers[{layer_idx}]: weight[{neuron}, j] * input[j], one bar per j"
    base_layout(fig, title, 320, style)
    return fig


def legend_on_top(fig: go.Figure) -> None:
    """Put a horizontal legend between the title and the plot, clear of the x-axis title."""
    fig.update_layout(
        legend={
            "orientation": "h",
            "yanchor": "bottom",
            "y": 1.02,
            "x": 0,
            "xanchor": "left",
        },
        title={"y": 0.98, "yanchor": "top"},
        margin={"t": 110},
    )


def activation_bars(
    pre: Sequence[float],
    post: Sequence[float] | None,
    inactive: Sequence[bool],
    title: str,
    style: FigureStyle = DEFAULT_STYLE,
) -> go.Figure:
    """Draw grouped bars per neuron, before and after the activation, inactive ones marked.

    With `post` None (the logits, which no activation follows) one series is drawn.
    """
    neurons = list(range(len(pre)))
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=neurons,
            y=list(pre),
            name="logits" if post is None else "before activation",
            marker_color=POST_COLOR if post is None else PRE_COLOR,
            customdata=hover_values(pre),
            hovertemplate="neuron %{x}: %{customdata}<extra></extra>",
        )
    )
    if post is not None:
        fig.add_trace(
            go.Bar(
                x=neurons,
                y=list(post),
                name="after activation",
                marker_color=POST_COLOR,
                customdata=hover_values(post),
                hovertemplate="neuron %{x}: after %{customdata}<extra></extra>",
            )
        )
    off = [n for n, flag in zip(neurons, inactive, strict=True) if flag]
    if off:
        fig.add_trace(
            go.Scatter(
                x=off,
                y=[0.0] * len(off),
                mode="markers",
                marker={"symbol": "x", "size": 16, "color": INACTIVE_COLOR},
                name="inactive (0)",
                hovertemplate="neuron %{x} is inactive<extra></extra>",
            )
        )
    fig.add_hline(y=0.0, line_color="#666666")
    axis_title = "class" if post is None else "neuron"
    fig.update_xaxes(title_text=axis_title, tickformat="d")
    if len(neurons) <= 16:
        fig.update_xaxes(dtick=1)
    base_layout(fig, title, 400, style)
    fig.update_layout(barmode="group", showlegend=True)
    legend_on_top(fig)
    return fig


def histogram_counts(
    values: np.ndarray, low: float, bins: int = HISTOGRAM_BINS
) -> tuple[np.ndarray, np.ndarray]:
    """Count `values` in equal bins over [low, 1]; return the counts and the edges."""
    counts, edges = np.histogram(values, bins=bins, range=(low, 1.0))
    return counts, edges


def max_prob_histogram(
    max_probs: np.ndarray,
    out_features: int,
    title: str,
    style: FigureStyle = DEFAULT_STYLE,
) -> go.Figure:
    """Draw a histogram of largest softmax probabilities from 1 / out_features to 1.

    The largest of `out_features` probabilities is never below `1 / out_features`, so the
    bins start there. A dashed line marks it and a dotted line the median.
    """
    uniform = 1.0 / out_features
    # Start a hair below uniform so values equal to it land inside the first bin.
    low = uniform - 1e-6
    counts, edges = histogram_counts(np.asarray(max_probs, dtype=np.float64), low)
    centers = (edges[:-1] + edges[1:]) / 2
    fig = go.Figure(
        go.Bar(
            x=centers,
            y=counts,
            width=np.diff(edges),
            marker_color=BAR_COLOR,
            customdata=np.stack([edges[:-1], edges[1:]], axis=1),
            hovertemplate="%{customdata[0]:.3f} to %{customdata[1]:.3f}: %{y} draws<extra></extra>",
            name="draws",
        )
    )
    fig.add_vline(x=uniform, line_dash="dash", line_color=INACTIVE_COLOR, line_width=3)
    median = float(np.median(max_probs))
    fig.add_vline(x=median, line_dash="dot", line_color="#333333", line_width=2)
    fig.update_xaxes(
        title_text=f"largest softmax probability<br>dashed: 1/{out_features}, dotted: median",
        range=[uniform - 0.02, 1.0],
    )
    fig.update_yaxes(title_text="draws")
    base_layout(fig, title, 360, style)
    fig.update_layout(bargap=0.0, showlegend=False, margin={"b": 90})
    return fig


def before_after_bars(
    before: Sequence[float],
    after: Sequence[float],
    target: int,
    style: FigureStyle = DEFAULT_STYLE,
) -> go.Figure:
    """Draw the softmax per class before and after one SGD step, with the uniform line."""
    classes = [str(k) for k in range(len(before))]
    fig = go.Figure()
    for name, values, color in (
        ("before the step", before, BAR_COLOR),
        ("after the step", after, AFTER_COLOR),
    ):
        fig.add_trace(
            go.Bar(
                x=classes,
                y=list(values),
                name=name,
                marker_color=color,
                text=value_labels(values),
                textposition="outside",
                textfont={"size": style.font_size},
                constraintext="none",
                cliponaxis=False,
                customdata=hover_values(values),
                hovertemplate=f"class %{{x}} {name}: %{{customdata}}<extra></extra>",
            )
        )
    fig.add_hline(y=1.0 / len(before), line_dash="dash", line_color=INACTIVE_COLOR)
    fig.update_xaxes(title_text=f"class (target {target})", type="category")
    fig.update_yaxes(title_text="softmax", range=[0.0, 1.15])
    base_layout(fig, "softmax(logits) before and after the step", 400, style)
    fig.update_layout(barmode="group")
    legend_on_top(fig)
    return fig
