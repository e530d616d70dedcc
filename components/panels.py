"""Page sections that draw the network, its parameter counts and its outputs."""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd
import streamlit as st
import torch
from torch import nn

from components import figures, tables
from components.figure_cache import cached_figure
from components.figures import DEFAULT_STYLE, FigureStyle
from mlp.forward import ForwardResult
from mlp.network import MLP, linear_layers
from mlp.params import ParamSummary
from mlp.spec import MLPSpec
from mlp.values import format_count, format_value

HEATMAPS_PER_ROW = 3


def chart(fig, key: str) -> None:
    """Show a plotly figure with the colours it sets, not the theme's.

    The toolbar's camera button saves the chart as `<key>.png` at twice its size.
    """
    config = {
        "displaylogo": False,
        "toImageButtonOptions": {"format": "png", "filename": key, "scale": 2},
    }
    st.plotly_chart(fig, key=key, theme=None, config=config)


def summary_metrics(result: ForwardResult, summary: ParamSummary) -> None:
    """Headline numbers: the parameter total, the logits and the softmax."""
    logits = result.logits[0].tolist()
    probs = result.probs[0].tolist()
    cols = st.columns([1, 2, 2])
    cols[0].metric("Parameters", format_count(summary.num_params))
    cols[1].metric(
        "logits",
        " / ".join(format_value(v) for v in logits[:4])
        + (" ..." if len(logits) > 4 else ""),
    )
    cols[2].metric(
        "softmax",
        " / ".join(format_value(p) for p in probs[:4])
        + (" ..." if len(probs) > 4 else ""),
    )


def outputs_panel(
    result: ForwardResult,
    spec: MLPSpec,
    style: FigureStyle = DEFAULT_STYLE,
    show_tables: bool = False,
) -> None:
    """Logits and softmax bars for the current input, with the uniform 1 / out_features line."""
    logits = result.logits[0].tolist()
    probs = result.probs[0].tolist()
    if not all(torch.isfinite(result.logits[0])):
        st.error(
            "The logits overflowed float32 for this input and these weights, so no "
            "softmax can be drawn. Use smaller input values, or go back to the seeded "
            "weights if the page shows uploaded or trained ones."
        )
        return
    st.subheader("Outputs")
    st.caption(
        "logits = model(x); probs = torch.softmax(logits, dim=1), which sum to 1."
    )
    left, right = st.columns(2)
    with left:
        logits_fig = cached_figure(
            ("output_bars", tuple(logits), style),
            partial(figures.output_bars, logits, "logits", style=style),
        )
        chart(logits_fig, key="logits_chart")
    with right:
        uniform = 1.0 / spec.out_features
        softmax_fig = cached_figure(
            ("softmax_bars", tuple(probs), uniform, style),
            partial(
                figures.output_bars,
                probs,
                "softmax(logits)",
                reference=uniform,
                value_range=(0.0, 1.1),
                style=style,
            ),
        )
        chart(softmax_fig, key="softmax_chart")
    if show_tables:
        st.dataframe(tables.outputs_table(logits, probs))


def heatmaps_panel(
    model: MLP,
    spec: MLPSpec,
    style: FigureStyle = DEFAULT_STYLE,
    show_tables: bool = False,
    per_row: int = HEATMAPS_PER_ROW,
) -> None:
    """Draw one heatmap per Linear in the stored (out_features, in_features) layout."""
    st.subheader("Weights as stored: weight has shape (out_features, in_features)")
    st.caption(
        "nn.Linear(in_features, out_features) stores weight as (out_features, in_features) "
        "and computes y = x @ W.T + b. Row i holds the weights into output neuron i; "
        f"column j the weights from input feature j. {style.sign_legend} "
        "Each heatmap's colours span its own largest |value|, so read values from "
        "the colour key above it or by hovering a cell."
    )
    layers = linear_layers(model)
    for row_start in range(0, len(layers), per_row):
        row = layers[row_start : row_start + per_row]
        columns = st.columns(heatmap_column_widths(row, per_row))
        # One height per row of figures, so their captions line up.
        height = max(
            figures.heatmap_height(
                min(linear.out_features, figures.MAX_HEATMAP_CELLS), style
            )
            for _, linear in row
        )
        for offset, (layer_idx, linear) in enumerate(row):
            weight = linear.weight.detach().numpy()  # (out_features, in_features)
            bias = None if linear.bias is None else linear.bias.detach().numpy()
            with columns[offset]:
                fig = cached_figure(
                    ("weight_heatmap", layer_idx, style, height),
                    partial(
                        figures.weight_heatmap,
                        weight,
                        bias,
                        layer_idx,
                        style=style,
                        height=height,
                    ),
                    [p for p in (linear.weight, linear.bias) if p is not None],
                )
                chart(fig, key=f"heatmap_{layer_idx}")
                caption = f"layers[{layer_idx}]: weight {tuple(weight.shape)}"
                if bias is not None:
                    caption += f", bias ({bias.shape[0]},)"
                if max(weight.shape) > figures.MAX_HEATMAP_CELLS:
                    caption += (
                        f". Drawn as block means: more than {figures.MAX_HEATMAP_CELLS} rows or "
                        "columns would make the page slow."
                    )
                st.caption(caption)
                if show_tables:
                    weight_table(weight, bias)


def heatmap_column_widths(row: list[tuple[int, nn.Linear]], per_row: int) -> list[int]:
    """Return relative column widths that give wide matrices more room.

    Each width is in_features, capped at 24 so one wide layer cannot squeeze its
    neighbours, plus room for the bias column and the axis labels. Empty slots in a
    short last row get the average width.
    """
    widths = [min(linear.in_features, 24) + 8 for _, linear in row]
    average = sum(widths) // len(widths)
    return widths + [average] * (per_row - len(widths))


def weight_table(weight: np.ndarray, bias: np.ndarray | None) -> None:
    """Show a Linear's weight and bias as numbers, saying so when only a corner fits."""
    st.dataframe(tables.weight_table(weight, bias))
    out_features, in_features = weight.shape
    rows, columns = tables.table_shape(out_features, in_features)
    if (rows, columns) != (out_features, in_features):
        st.caption(
            f"First {rows} of {out_features} rows and {columns} of {in_features} "
            "columns, to keep the page fast. The CSV files under Download the weights "
            "have every value."
        )


def params_table(summary: ParamSummary) -> pd.DataFrame:
    """Return the breakdown as a table of strings, with a total row."""
    rows = [
        {
            "layer": layer.name,
            "weight shape": str(layer.weight_shape),
            "weights": format_count(layer.num_weights),
            "biases": format_count(layer.num_biases),
            "Param #": format_count(layer.num_params),
            "formula (out x in + out)": layer.formula,
        }
        for layer in summary.layers
    ]
    rows.append(
        {
            "layer": "Total",
            "weight shape": "",
            "weights": format_count(sum(layer.num_weights for layer in summary.layers)),
            "biases": format_count(sum(layer.num_biases for layer in summary.layers)),
            "Param #": format_count(summary.num_params),
            "formula (out x in + out)": " + ".join(
                format_count(layer.num_params) for layer in summary.layers
            )
            + f" = {format_count(summary.num_params)}",
        }
    )
    return pd.DataFrame(rows)


def params_panel(summary: ParamSummary, style: FigureStyle = DEFAULT_STYLE) -> None:
    """Parameter counts per Linear as a table and a bar chart."""
    st.subheader("Parameters: out_features x in_features weights + out_features biases")
    st.dataframe(params_table(summary), hide_index=True, width="stretch")
    st.caption(
        f"Total parameters: {format_count(summary.num_params)}; trainable (requires_grad=True): "
        f"{format_count(summary.trainable_params)}. Same as sum(p.numel() for p in model.parameters())."
    )
    params_fig = cached_figure(
        ("param_bar_chart", summary, style),
        partial(figures.param_bar_chart, summary, style=style),
    )
    chart(params_fig, key="params_chart")


def repr_panel(model: MLP, summary: ParamSummary) -> None:
    """Show the module's printed repr, as a notebook cell prints it."""
    st.subheader("print(model)")
    st.code(repr(model), language="text")
    st.caption(f"Total parameters: {format_count(summary.num_params)}")
