"""Lesson panels: why the shapes, the numbers and the 50:50 come out as they do.

Each panel sits in an expander that reruns the page when opened or closed, so a
closed panel costs nothing. Every number comes from `mlp.lesson`, `mlp.uniformity`
or `mlp.training`.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import pandas as pd
import streamlit as st
import torch

from components import figures, lesson_figures
from components.errors import current_session_id
from components.figures import DEFAULT_STYLE, FigureStyle
from components.links import panel_key
from components.session_weights import (
    reset_label,
    reset_weights,
    stepped_weights,
    steps_text,
    take_step,
    upload_loaded,
)
from mlp.lesson import (
    NEW_SHAPE,
    NO_ACTIVATION,
    SAME_VALUES,
    LayerChange,
    WorkedNeuron,
    changed_fields,
    diff_models,
    layer_activations,
    shape_equation,
    weight_view,
    work_neuron,
)
from mlp.network import MLP, build_model, linear_layers
from mlp.params import count_parameters
from mlp.spec import MLPSpec
from mlp.training import (
    MAX_LEARNING_RATE,
    MIN_LEARNING_RATE,
    LayerGrad,
    compute_gradients,
)
from mlp.uniformity import (
    DEFAULT_NUM_INPUTS,
    DEFAULT_NUM_SEEDS,
    MAX_TEMPERATURE,
    MAX_WEIGHT_SCALE,
    MIN_TEMPERATURE,
    MIN_WEIGHT_SCALE,
    MaxProbSample,
    sample_over_inputs,
    sample_over_seeds,
)
from mlp.values import format_count, format_value

FIGURES_PER_ROW = 2
# Up to this many terms of a neuron's sum are written out; longer sums are shortened.
MAX_WRITTEN_TERMS = 6
MAX_TABLE_ROWS = 10
# Session-state keys of the spec this run shows and of the one shown before it.
SPEC_KEY = "lesson_spec"
PREVIOUS_SPEC_KEY = "lesson_prev_spec"

# Sums on the page add the exact float64 values, not the printed ones.
ROUNDING_NOTE = (
    "The sum adds the exact products. Every number here is rounded to 4 decimals "
    "only for printing, so the printed terms can add up to a sum that differs in "
    "the last digit."
)

# Formula of each activation module, as a student reads it, by class name.
ACTIVATION_FORMULAS = {
    "ReLU": "ReLU(z) = max(z, 0)",
    "Tanh": "Tanh(z) = tanh(z)",
    "Sigmoid": "Sigmoid(z) = 1 / (1 + exp(-z))",
    "GELU": "GELU(z) = z * Phi(z), Phi the standard normal CDF",
    "Identity": "Identity(z) = z",
}


@dataclass(frozen=True)
class LessonContext:
    """Everything a lesson panel reads; nothing in it may be modified."""

    spec: MLPSpec
    model: MLP  # the network the page shows: seeded, or this session's stepped copy
    seeded: MLP  # the cached network of spec, shared by every session
    x: torch.Tensor  # (1, in_features)
    model_for: Callable[[MLPSpec], MLP]  # cached, read-only network of any spec
    style: FigureStyle


logger = logging.getLogger(__name__)

OVERFLOW_NOTE = (
    "This lesson is not drawn: with this input and these weights, float32 overflows in "
    "the forward pass or in its gradients, so its numbers would not be finite. Use "
    "smaller input values, or go back to the seeded weights."
)


def all_finite(values: torch.Tensor | Iterable[float]) -> bool:
    if isinstance(values, torch.Tensor):
        return bool(torch.isfinite(values).all())
    return all(math.isfinite(value) for value in values)


def overflowed(*groups: torch.Tensor | Iterable[float]) -> bool:
    """Return True, after a warning that the lesson stops, when any value is inf or nan."""
    if all(all_finite(group) for group in groups):
        return False
    st.warning(OVERFLOW_NOTE)
    return True


def chart(fig, key: str) -> None:
    st.plotly_chart(fig, key=key, theme=None, config={"displaylogo": False})


def keep_valid_choice(key: str, options: Sequence[int]) -> None:
    """Reset a selectbox's stored value to the first option when it is no longer offered."""
    if st.session_state.get(key) not in options:
        st.session_state[key] = options[0]


def layer_label(model: MLP, linear_pos: int) -> str:
    layer_idx, linear = linear_layers(model)[linear_pos]
    return f"layers[{layer_idx}]: Linear({linear.in_features} -> {linear.out_features})"


def count_noun(count: int, noun: str) -> str:
    """Write a count with its noun in the singular or plural: `1 value`, `5 values`."""
    return f"{format_count(count)} {noun if count == 1 else noun + 's'}"


def track_spec_change(spec: MLPSpec) -> None:
    """Remember the spec shown before this one, for the 'what changed' panel."""
    if st.session_state.get(SPEC_KEY) != spec:
        st.session_state[PREVIOUS_SPEC_KEY] = st.session_state.get(SPEC_KEY)
        st.session_state[SPEC_KEY] = spec


# ---------------------------------------------------------------- layout lesson


def layout_panel(ctx: LessonContext) -> None:
    """Draw each Linear's weight as stored, (out, in), or as the math uses it, W.T (in, out)."""
    st.markdown(
        "`nn.Linear(in_features, out_features)` keeps its weight with **one row per "
        "output neuron**: shape `(out_features, in_features)`. The formula uses the "
        "transpose, `y = x @ W.T + b`, so the inner sizes meet: a `(1, in_features)` row "
        "times an `(in_features, out_features)` matrix gives a `(1, out_features)` row. "
        "Turn on the math view of a layer to see `W.T`: the same numbers, with row i of "
        "`W` standing as column i."
    )
    layers = linear_layers(ctx.model)
    for row_start in range(0, len(layers), FIGURES_PER_ROW):
        columns = st.columns(FIGURES_PER_ROW)
        for offset, (layer_idx, linear) in enumerate(
            layers[row_start : row_start + FIGURES_PER_ROW]
        ):
            with columns[offset]:
                layout_card(ctx, row_start + offset, layer_idx, linear)


def layout_card(
    ctx: LessonContext, linear_pos: int, layer_idx: int, linear: torch.nn.Linear
) -> None:
    """Draw one layer's view toggle, its shape equation and its heatmap."""
    in_features, out_features = linear.in_features, linear.out_features
    has_bias = linear.bias is not None
    transposed = st.toggle(
        f"layers[{layer_idx}]: math view W.T", key=f"lesson_transpose_{linear_pos}"
    )
    formula = "x @ W.T + b" if has_bias else "x @ W.T"
    st.code(
        f"{formula}\n{shape_equation(in_features, out_features, has_bias)}",
        language="text",
    )
    matrix = weight_view(linear, transposed).numpy()
    if transposed:
        fig = lesson_figures.matrix_heatmap(
            matrix,
            row_title=f"row j: in_features ({in_features})",
            col_title=f"column i: out_features ({out_features})",
            title=f"layers[{layer_idx}].weight.T {tuple(matrix.shape)}",
            hover_name=f"layers[{layer_idx}].weight.T",
            style=ctx.style,
        )
        st.caption(
            f"W.T has shape ({in_features}, {out_features}): column i holds the weights "
            f"into output neuron i, lined up with the {count_noun(in_features, 'value')} of "
            "the input."
        )
    else:
        fig = figures.weight_heatmap(matrix, None, layer_idx, style=ctx.style)
        lesson_figures.plain_exponents(fig)
        st.caption(
            f"As stored: weight has shape ({out_features}, {in_features}), row i holds "
            "the weights into output neuron i."
        )
    chart(fig, key=f"lesson_layout_{linear_pos}")


# ---------------------------------------------------------------- one neuron, worked


def pick_neuron_from_heatmap() -> None:
    """Chart callback: a click on a heatmap cell picks that cell's row as the neuron."""
    state = st.session_state.get("lesson_neuron_heatmap")
    points = [] if state is None else state.selection.points
    if not points or not isinstance(points[0], dict) or "y" not in points[0]:
        return
    row = points[0]["y"]
    # The selection is JSON from the client, so anything but a whole number is ignored.
    # A row outside the layer is reset by keep_valid_choice when the panel draws.
    if isinstance(row, bool) or not isinstance(row, (int, float)):
        logger.warning(
            "ignored heatmap selection: session_id=%s row=%.40r",
            current_session_id(),
            row,
        )
        return
    if not math.isfinite(row) or row != int(row):
        logger.warning(
            "ignored heatmap selection: session_id=%s row=%r", current_session_id(), row
        )
        return
    st.session_state["lesson_neuron_index"] = int(row)


def neuron_panel(ctx: LessonContext) -> None:
    """Compute output neuron i of one Linear term by term and show it beside the forward pass."""
    st.markdown(
        "A neuron takes **row i** of its layer's weight, multiplies it element by "
        "element with the layer's input, adds the products up and adds `bias[i]`. That "
        "sum is the **pre-activation**. The activation then turns it into the neuron's "
        "**output**, which the next layer receives. Every number below is read from the "
        "network on this page."
    )
    layers = linear_layers(ctx.model)
    positions = list(range(len(layers)))
    keep_valid_choice("lesson_neuron_layer", positions)
    left, right = st.columns(2)
    linear_pos = left.selectbox(
        "Layer",
        positions,
        format_func=lambda pos: layer_label(ctx.model, pos),
        key="lesson_neuron_layer",
    )
    layer_idx, linear = layers[linear_pos]
    neurons = list(range(linear.out_features))
    keep_valid_choice("lesson_neuron_index", neurons)
    neuron = right.selectbox(
        "Output neuron i (a row of weight; or click a heatmap cell)",
        neurons,
        key="lesson_neuron_index",
    )
    worked = work_neuron(ctx.model, ctx.x, linear_pos, neuron)

    heatmap_col, steps_col = st.columns(2)
    with heatmap_col:
        weight = linear.weight.detach().numpy()  # (out_features, in_features)
        bias = None if linear.bias is None else linear.bias.detach().numpy()
        fig = figures.weight_heatmap(weight, bias, layer_idx, style=ctx.style)
        lesson_figures.plain_exponents(fig)
        lesson_figures.highlight_row(fig, neuron, *weight.shape)
        clickable = lesson_figures.add_row_picker(fig, weight, layer_idx)
        st.plotly_chart(
            fig,
            key="lesson_neuron_heatmap",
            theme=None,
            config={"displaylogo": False},
            on_select=pick_neuron_from_heatmap,
            selection_mode="points",
        )
        if not clickable:
            st.caption("This heatmap is too large to click on: pick the neuron above.")
    values = [worked.pre_activation, worked.post_activation, worked.forward_pre]
    if overflowed(worked.products, worked.layer_input, values):
        return
    with steps_col:
        st.markdown(worked_steps(worked, linear_pos))
    chart(
        lesson_figures.products_bars(worked.products, layer_idx, neuron, ctx.style),
        key="lesson_neuron_products",
    )
    table = terms_table(worked)
    # A fixed height with a scroll bar once the table is long; short tables fit exactly.
    height = "auto" if len(table) <= MAX_TABLE_ROWS else 400
    st.dataframe(table, hide_index=True, width="stretch", height=height)


def input_name(linear_pos: int, layer_idx: int) -> str:
    """Name the input of the Linear at `linear_pos`: x, or the previous activation's output."""
    return "x" if linear_pos == 0 else f"the output of layers[{layer_idx - 1}]"


def signed_terms(terms: Sequence[float]) -> list[str]:
    """Write the terms of a sum as by hand: `0.1151`, `+ 0.0478`, `- 0.0246`, ..."""
    written = []
    for position, term in enumerate(terms):
        text = format_value(term)
        if position == 0:
            written.append(text)
        elif text.startswith("-"):
            written.append(f"- {text[1:]}")
        else:
            written.append(f"+ {text}")
    return written


def written_sum(terms: Sequence[float]) -> str:
    """Join the terms into one sum, shortened in the middle when there are many."""
    shown = signed_terms(terms)
    if len(shown) > MAX_WRITTEN_TERMS:
        hidden = len(shown) - MAX_WRITTEN_TERMS + 1
        shown = [
            *shown[: MAX_WRITTEN_TERMS - 2],
            f"... ({hidden} more terms)",
            shown[-1],
        ]
    return " ".join(shown)


def worked_steps(worked: WorkedNeuron, linear_pos: int) -> str:
    """Write the computation of one neuron as markdown, one step per line."""
    i = worked.neuron
    count = len(worked.products)
    dot = format_value(worked.dot)
    pre = format_value(worked.pre_activation)
    lines = [
        f"**Input:** {input_name(linear_pos, worked.layer_idx)}, {count_noun(count, 'value')}.",
        f"**1. Products** weight[{i}, j] * input[j], one per j: {written_sum(worked.products)}",
        f"**2. Sum** of the {count_noun(count, 'product')}: **{dot}**. {ROUNDING_NOTE}",
    ]

    if worked.bias is None:
        lines.append(f"**3. No bias** (bias=False): pre-activation z = **{pre}**")
    else:
        bias_term = signed_terms([worked.dot, worked.bias])[1]
        lines.append(
            f"**3. Plus bias[{i}]:** z = {dot} {bias_term} = **{pre}**, the pre-activation"
        )

    lines.append(activation_step(worked))
    lines.append(forward_check(worked))
    return "\n\n".join(lines)


def activation_step(worked: WorkedNeuron) -> str:
    """Write step 4: the activation applied to z, or none after the last Linear."""
    post = format_value(worked.post_activation)
    if worked.activation == NO_ACTIVATION:
        return f"**4. No activation** after the last Linear: z is logit {worked.neuron}, **{post}**"
    formula = ACTIVATION_FORMULAS.get(worked.activation, worked.activation)
    return f"**4. Activation** layers[{worked.layer_idx + 1}], {formula}: output **{post}**"


def forward_check(worked: WorkedNeuron) -> str:
    """Compare the hand computation with the forward pass of the whole network."""
    gap = max(
        abs(worked.pre_activation - worked.forward_pre),
        abs(worked.post_activation - worked.forward_post),
    )
    return (
        f"**Forward pass** of the whole network: pre-activation "
        f"{format_value(worked.forward_pre)}, output {format_value(worked.forward_post)}. "
        f"The largest difference, {gap:.1e}, is float32 rounding."
    )


def terms_table(worked: WorkedNeuron) -> pd.DataFrame:
    """Tabulate, per input feature j, the weight, the input value and their product."""
    i = worked.neuron
    return pd.DataFrame(
        {
            "j": range(len(worked.products)),
            f"weight[{i}, j]": [format_value(v) for v in worked.weight_row],
            "input[j]": [format_value(v) for v in worked.layer_input],
            "product": [format_value(v) for v in worked.products],
        }
    )


# ---------------------------------------------------------------- activations


def activations_panel(ctx: LessonContext) -> None:
    """Draw every layer's values before and after its activation, inactive ReLUs marked."""
    st.markdown(
        "Light bars are each neuron's value **before** the activation, dark bars the "
        "value **after** it. ReLU keeps positive values and turns negative ones into "
        "exactly 0. A neuron whose output is 0 is **inactive** for this input (marked "
        "with a red x): it passes nothing on, and in an SGD step on this input the "
        "weights into it and out of it get a gradient of 0."
    )
    stats = layer_activations(ctx.model, ctx.x)
    if overflowed(*(layer.pre for layer in stats), *(layer.post for layer in stats)):
        return
    rows = []
    for layer in stats:
        counted = layer.counts_inactive
        rows.append(
            {
                "layer": f"layers[{layer.layer_idx}]",
                "activation": layer.activation,
                "neurons": format_count(len(layer.pre)),
                "inactive (output exactly 0)": (
                    format_count(layer.num_inactive) if counted else "not counted"
                ),
            }
        )
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    for row_start in range(0, len(stats), FIGURES_PER_ROW):
        columns = st.columns(FIGURES_PER_ROW)
        for offset, layer in enumerate(stats[row_start : row_start + FIGURES_PER_ROW]):
            title = activation_title(layer.layer_idx, layer.activation)
            if layer.counts_inactive:
                title += f": {layer.num_inactive} of {len(layer.pre)} inactive"
            post = None if layer.activation == NO_ACTIVATION else layer.post
            fig = lesson_figures.activation_bars(
                layer.pre, post, layer.inactive, title, ctx.style
            )
            with columns[offset]:
                chart(fig, key=f"lesson_activations_{layer.layer_idx}")


def activation_title(layer_idx: int, activation: str) -> str:
    if activation == NO_ACTIVATION:
        return f"layers[{layer_idx}] logits (no activation)"
    return f"layers[{layer_idx}] -> layers[{layer_idx + 1}] {activation}"


# ---------------------------------------------------------------- the 50:50 lab


@functools.lru_cache(maxsize=64)
def lab_samples(
    spec: MLPSpec, x_values: tuple[float, ...], weight_scale: float, temperature: float
) -> tuple[MaxProbSample, MaxProbSample]:
    """Draw both lab samples for the seeded network of `spec`, cached across sessions.

    The network is built fresh from `spec`, so the lab ignores SGD steps. The samples
    depend only on these arguments, and nothing modifies them afterwards.
    """
    x = torch.tensor([x_values], dtype=torch.float32)  # (1, in_features)
    over_inputs = sample_over_inputs(
        build_model(spec), spec, DEFAULT_NUM_INPUTS, weight_scale, temperature
    )
    over_seeds = sample_over_seeds(
        spec, x, DEFAULT_NUM_SEEDS, weight_scale, temperature
    )
    return over_inputs, over_seeds


def lab_panel(ctx: LessonContext) -> None:
    """Draw histograms of the largest softmax probability over random inputs and seeds."""
    spec = ctx.spec
    st.markdown(lab_explanation(spec))
    weight_scale, temperature = lab_knobs()

    x_values = tuple(ctx.x[0].tolist())
    over_inputs, over_seeds = lab_samples(spec, x_values, weight_scale, temperature)
    left, right = st.columns(2)
    with left:
        title = (
            f"{format_count(over_inputs.num_used)} inputs randn(1, {spec.in_features}), "
            f"seed {spec.seed}"
        )
        lab_histogram(over_inputs, title, "inputs", ctx.style, "lesson_lab_inputs")
    with right:
        title = f"seeds 0 to {over_seeds.num_used - 1}, the input x above"
        lab_histogram(over_seeds, title, "seeds", ctx.style, "lesson_lab_seeds")

    st.markdown(lab_knobs_text(weight_scale, spec))
    st.dataframe(init_bounds_table(spec), hide_index=True, width="stretch")


def lab_knobs() -> tuple[float, float]:
    """Draw the weight-scale and temperature sliders and return their values."""
    left, right = st.columns(2)
    weight_scale = left.slider(
        "Weight scale: multiplies every weight and bias (0 to 10)",
        MIN_WEIGHT_SCALE,
        MAX_WEIGHT_SCALE,
        1.0,
        0.1,
        key="lesson_lab_scale",
    )
    temperature = right.slider(
        f"Softmax temperature T: probs = softmax(logits / T) ({MIN_TEMPERATURE:g} to {MAX_TEMPERATURE:g})",
        MIN_TEMPERATURE,
        MAX_TEMPERATURE,
        1.0,
        0.05,
        key="lesson_lab_temperature",
    )
    return float(weight_scale), float(temperature)


def lab_histogram(
    sample: MaxProbSample, title: str, unit: str, style: FigureStyle, key: str
) -> None:
    """Draw one histogram with its median, its spread and any cap on the draws."""
    fig = lesson_figures.max_prob_histogram(
        sample.max_probs.numpy(), sample.out_features, title, style
    )
    chart(fig, key=key)
    st.markdown(
        f"Median largest probability **{format_value(sample.median)}** (dotted line), "
        f"mean {format_value(sample.mean)}. "
        f"{sample.share_above(0.1):.0%} of the {unit} land more than 0.1 above "
        f"1/{sample.out_features}. Mean gap between the two largest logits: "
        f"{format_value(sample.mean_top_gap)}."
    )
    if sample.capped:
        st.caption(
            f"Only {format_count(sample.num_used)} of {format_count(sample.num_requested)} "
            f"{unit} were drawn: this architecture is large, and the lab caps its work "
            "to stay interactive."
        )


def lab_explanation(spec: MLPSpec) -> str:
    """Explain why fresh logits are small, with the current architecture's numbers."""
    last_in, _ = spec.linear_shapes()[-1]
    last_bound = format_value(spec.init_bound(spec.num_linear - 1))
    uniform = format_value(1 / spec.out_features)
    return (
        "**Why an untrained network is unsure.** PyTorch fills each `Linear` with random "
        "values between `-1/sqrt(in_features)` and `+1/sqrt(in_features)` (the weight "
        "through `kaiming_uniform_(a=sqrt(5))`, the bias directly). A neuron adds up "
        "`in_features` products, so a layer with more inputs gets smaller weights, and "
        "its sums come out about 0.6 times as spread out as its inputs, whatever the "
        "width. Layer after layer the values stay small, so the logits are small and "
        "close together, and the softmax of nearly equal logits is nearly uniform: about "
        f"1/{spec.out_features} = {uniform} per class.\n\n"
        "**The honest version:** that holds on average, not for every seed and input. The "
        f"output layer has in_features = {last_in}, so its biases alone lie between "
        f"-{last_bound} and {last_bound}, and they can tilt one network toward a class "
        "for every input. The histogram over seeds shows that spread."
    )


def lab_knobs_text(weight_scale: float, spec: MLPSpec) -> str:
    """Explain in words what the scale and temperature sliders do."""
    text = (
        "**Weight scale** multiplies every weight and bias before the forward pass, here "
        "only (the network on the page keeps its weights). At 0 every logit is exactly 0, "
        f"so every class gets exactly 1/{spec.out_features}. Larger scales make the logits "
        "larger and further apart, and the largest probability moves toward 1. "
        "**Temperature** divides the logits before the softmax: above 1 it pulls the "
        "probabilities toward uniform, below 1 it pushes them apart. Neither changes "
        "which class is largest."
    )
    if weight_scale == 0:
        text += " Scale 0 is on: both histograms are a single bar at 1/out_features."
    text += (
        " Both histograms use freshly initialized networks: SGD steps and uploaded "
        "weights play no part here."
    )
    return text


def init_bounds_table(spec: MLPSpec) -> pd.DataFrame:
    """Tabulate per Linear its in_features and the default init bound 1 / sqrt(in_features)."""
    summary = count_parameters(spec)
    return pd.DataFrame(
        {
            "layer": [layer.name for layer in summary.layers],
            "in_features": [
                format_count(layer.in_features) for layer in summary.layers
            ],
            "init bound 1/sqrt(in_features)": [
                f"1/sqrt({layer.in_features}) = {format_value(spec.init_bound(k))}"
                for k, layer in enumerate(summary.layers)
            ],
        }
    )


# ---------------------------------------------------------------- what changed


def changes_panel(ctx: LessonContext) -> None:
    """Show which Linear layers got new weights after the last control change, and why."""
    previous = st.session_state.get(PREVIOUS_SPEC_KEY)
    if previous is None:
        st.markdown(
            "Move a control in the sidebar: this panel then compares the network before "
            "and after the change, layer by layer, with freshly seeded weights."
        )
        st.markdown(STREAM_TEXT)
        return
    fields = changed_fields(previous, ctx.spec)
    st.markdown("**Last change:** " + "; ".join(f"`{line}`" for line in fields))
    # Both sides freshly seeded, so SGD steps and uploaded weights play no part.
    changes = diff_models(ctx.model_for(previous), ctx.model_for(ctx.spec))
    st.dataframe(changes_table(changes), hide_index=True, width="stretch")
    st.markdown(change_reason(previous, ctx.spec, changes))
    st.markdown(STREAM_TEXT)


STREAM_TEXT = (
    "**Why later layers change too.** After `torch.manual_seed(seed)`, building the "
    "network draws every layer's weight, then its bias, from one random stream, in the "
    "order the layers are built: `layers[0]` first, then `layers[2]`, and so on. So a "
    "layer's values depend on how many numbers the layers before it used. Widen the "
    "first hidden layer and `layers[0]` uses more numbers, so every later layer starts at "
    "a different place in the same stream and gets new values, even one whose shape "
    "stayed the same. An activation has no parameters and draws nothing, and a new seed "
    "starts a different stream, so every value changes."
)


def changes_table(changes: list[LayerChange]) -> pd.DataFrame:
    """Tabulate per Linear position the shapes before and after, and what happened."""
    rows = []
    for change in changes:
        diff = "" if change.max_abs_diff is None else format_value(change.max_abs_diff)
        overlap = (
            f"{format_count(change.overlap_equal)} of {format_count(change.overlap_size)}"
            if change.overlap_size
            else ""
        )
        rows.append(
            {
                "layer": f"layers[{change.layer_idx}]",
                "weight before": str(change.old_shape or "none"),
                "weight after": str(change.new_shape or "none"),
                "weights": f"CHANGED: {change.status}"
                if change.changed
                else "same values",
                "largest |change|": diff,
                "equal weights in shared block": overlap,
                "values drawn before it": (
                    f"{format_count(change.values_before_old)} -> "
                    f"{format_count(change.values_before_new)}"
                ),
            }
        )
    return pd.DataFrame(rows)


def change_reason(old: MLPSpec, new: MLPSpec, changes: list[LayerChange]) -> str:
    """Explain in one paragraph why these layers changed."""
    if old.seed != new.seed:
        return "The seed changed, so the stream of random numbers is a different one."
    if all(change.status == SAME_VALUES for change in changes):
        return (
            "No weight changed: this control does not change how many numbers any layer "
            "draws (an activation has no parameters)."
        )
    first = next(change for change in changes if change.changed)
    text = (
        f"The first layer that changed is `layers[{first.layer_idx}]`; every layer after "
        "it draws from a different place in the stream."
    )
    kept_rows = [
        c
        for c in changes
        if c.status == NEW_SHAPE and c.overlap_equal == c.overlap_size
    ]
    if kept_rows:
        names = ", ".join(f"`layers[{c.layer_idx}]`" for c in kept_rows)
        text += (
            f" In {names} the shared block kept its values: the weight fills row by row "
            "from the same starting point, so only rows added at the bottom are new."
        )
    return text


# ---------------------------------------------------------------- gradients and one step


def gradients_panel(ctx: LessonContext) -> None:
    """Draw dL/dW for a chosen target class, and offer one SGD step on this session's network."""
    spec = ctx.spec
    classes = list(range(spec.out_features))
    keep_valid_choice("lesson_target", classes)
    st.session_state.setdefault("lesson_lr", 0.5)
    left, right = st.columns(2)
    target = left.selectbox("Target class t", classes, key="lesson_target")
    right.number_input(
        f"Learning rate lr ({MIN_LEARNING_RATE:g} to {MAX_LEARNING_RATE:g})",
        min_value=MIN_LEARNING_RATE,
        max_value=MAX_LEARNING_RATE,
        step=0.05,
        format="%.4f",
        key="lesson_lr",
    )

    result = compute_gradients(ctx.model, ctx.x, target)
    grads = result.as_params().values()
    if overflowed([result.loss], result.probs, *grads):
        step_buttons(ctx)  # the reset button stays, to get back to finite weights
        return
    target_prob = result.probs[0, target].item()
    st.markdown(gradient_explanation(result.loss, target_prob, target))
    step_buttons(ctx)
    show_last_step(ctx)
    gradient_grid(result.grads, ctx.style)

    num_params = count_parameters(spec).num_params
    st.markdown(no_grad_note(num_params, result.backward_seconds))
    st.code(STEP_CODE.format(target=target), language="python")


def gradient_grid(grads: Sequence[LayerGrad], style: FigureStyle) -> None:
    """Draw one gradient heatmap per Linear, FIGURES_PER_ROW to a row."""
    for row_start in range(0, len(grads), FIGURES_PER_ROW):
        columns = st.columns(FIGURES_PER_ROW)
        for offset, layer in enumerate(grads[row_start : row_start + FIGURES_PER_ROW]):
            fig = gradient_heatmap(
                layer.weight_grad, layer.bias_grad, layer.layer_idx, style
            )
            with columns[offset]:
                chart(fig, key=f"lesson_grad_{layer.layer_idx}")
                if layer.bias_grad is not None:
                    size = layer.bias_grad.shape[0]
                    st.caption(f"bias.grad ({size},) is the narrow column at right.")


def gradient_heatmap(
    weight_grad: torch.Tensor,
    bias_grad: torch.Tensor | None,
    layer_idx: int,
    style: FigureStyle,
):
    """Draw weight.grad in the weight's own (out_features, in_features) layout, bias.grad beside it."""
    grad = weight_grad.numpy()
    bias = None if bias_grad is None else bias_grad.numpy()
    fig = figures.weight_heatmap(
        grad, bias, layer_idx, style=style, param_name="weight.grad"
    )
    # The title leaves out bias.grad so it fits a half-width column in projector type.
    # A caption under the chart names the bias column instead.
    fig.update_layout(
        title={"text": f"layers[{layer_idx}].weight.grad {tuple(grad.shape)}"}
    )
    lesson_figures.gradient_hover(fig)
    return lesson_figures.plain_exponents(fig)


def step_buttons(ctx: LessonContext) -> None:
    left, right, _ = st.columns([1, 1, 1])
    left.button(
        "Take one SGD step",
        key="lesson_sgd_step",
        type="primary",
        on_click=take_step,
        args=(ctx.spec, ctx.seeded, tuple(ctx.x[0].tolist())),
        width="stretch",
    )
    right.button(
        reset_label(),
        key="lesson_sgd_reset",
        on_click=reset_weights,
        width="stretch",
    )


def show_last_step(ctx: LessonContext) -> None:
    """Show the softmax and loss before and after this session's last step, if any."""
    state = stepped_weights(ctx.spec)
    if state is None:
        base = "uploaded" if upload_loaded() else "seeded"
        st.caption(
            f"No step taken yet: the gradients are those of the {base} network. A step "
            "changes only this browser session's copy of the network."
        )
        return
    last = state.last
    st.markdown(
        f"**After {steps_text(state.steps)}.** Last step toward class {last.target} with "
        f"lr {last.lr:g}: loss {format_value(last.loss_before)} -> "
        f"{format_value(last.loss_after)}. The gradients below are those of the stepped "
        "network, so the next step starts from here."
    )
    fig = lesson_figures.before_after_bars(
        last.probs_before, last.probs_after, last.target, ctx.style
    )
    chart(fig, key="lesson_before_after")


def gradient_explanation(loss: float, target_prob: float, target: int) -> str:
    """Explain the loss value and how to read the gradient heatmaps."""
    return (
        f"Cross-entropy for target class {target} is `-log(probs[{target}])` = "
        f"-log({format_value(target_prob)}) = **{format_value(loss)}**: small when the "
        "network already gives that class a high probability. `loss.backward()` fills "
        "each parameter's `.grad` with dL/dparameter, in the parameter's own layout: "
        "`layers[k].weight.grad` has the weight's shape `(out_features, in_features)`. A "
        "positive entry means a larger weight would give a larger loss. One SGD step moves "
        "every parameter against its gradient: `param - lr * param.grad`. A row of zeros "
        "belongs to a neuron that is inactive for this input (ReLU output 0), and a column "
        "of zeros to an input that is 0, such as an inactive neuron of the layer before."
    )


def no_grad_note(num_params: int, backward_seconds: float) -> str:
    """Explain torch.no_grad() and what recording gradients costs, with the measured time."""
    return (
        "The rest of the page runs its forward pass inside `with torch.no_grad():`. "
        "The context manager `torch.no_grad()` stops autograd from recording "
        "operations, which saves time and memory where no gradients are needed. Here the "
        "loss needs them, so autograd records the forward pass. Setting "
        "`requires_grad=True` on the parameters only tells autograd to record the "
        "operations that use them, and that is cheap at this size: `loss.backward()` "
        f"for the {count_noun(num_params, 'parameter')} took "
        f"{backward_seconds * 1000:.2f} ms on this server."
    )


STEP_CODE = """\
import torch.nn.functional as F

loss = F.cross_entropy(model(x), torch.tensor([{target}]))
loss.backward()                     # fills p.grad for every parameter p
with torch.no_grad():
    for p in model.parameters():
        p -= lr * p.grad            # one SGD step
        p.grad = None
"""


# ---------------------------------------------------------------- composition

# (name in the link's `panels` list, expander title, panel function)
LESSONS: tuple[tuple[str, str, Callable[[LessonContext], None]], ...] = (
    ("layout", "Layout: W as stored and W.T in the math", layout_panel),
    ("neuron", "One neuron, worked by hand", neuron_panel),
    ("activations", "Activations: which neurons are on", activations_panel),
    ("lab", "The 50:50 lab: why an untrained network is unsure", lab_panel),
    ("changes", "What changed after the last control move", changes_panel),
    ("gradients", "Gradients and one SGD step", gradients_panel),
)


def lesson_panels(
    spec: MLPSpec,
    model: MLP,
    seeded: MLP,
    x: torch.Tensor,
    model_for: Callable[[MLPSpec], MLP],
    style: FigureStyle = DEFAULT_STYLE,
) -> None:
    """Draw every lesson in its own expander; a closed expander runs nothing."""
    track_spec_change(spec)
    ctx = LessonContext(spec, model, seeded, x, model_for, style)
    st.header("Lessons")
    st.caption("Open a lesson to see why the numbers above come out as they do.")
    for name, title, panel in LESSONS:
        expander = st.expander(title, key=panel_key(name), on_change="rerun")
        if expander.open:
            with expander:
                panel(ctx)
