"""Sidebar controls that return one validated `MLPSpec`."""

from __future__ import annotations

import logging

import streamlit as st

from mlp.spec import (
    ACTIVATIONS,
    DEFAULT_SPEC,
    MAX_HIDDEN_LAYERS,
    MAX_IN_FEATURES,
    MAX_OUT_FEATURES,
    MAX_SEED,
    MAX_WIDTH,
    MIN_HIDDEN_LAYERS,
    MIN_IN_FEATURES,
    MIN_OUT_FEATURES,
    MIN_SEED,
    MIN_WIDTH,
    PRESETS,
    MLPSpec,
)

logger = logging.getLogger(__name__)

# Width a hidden layer gets when the layer count grows past the ones already set.
NEW_WIDTH = 8
# Last width of every hidden-layer slider, kept while a slider is not drawn.
WIDTH_MEMORY_KEY = "width_memory"
# How many width sliders the previous run drew.
WIDTHS_SHOWN_KEY = "widths_shown"


def width_key(i: int) -> str:
    return f"width_{i}"


def spec_to_state(spec: MLPSpec) -> dict[str, object]:
    """Widget values, by key, that show `spec`."""
    state: dict[str, object] = {
        "in_features": spec.in_features,
        "n_hidden": len(spec.hidden_widths),
        "out_features": spec.out_features,
        "activation": spec.activation,
        "bias": spec.bias,
        "seed": spec.seed,
    }
    for i in range(MAX_HIDDEN_LAYERS):
        state[width_key(i)] = (
            spec.hidden_widths[i] if i < len(spec.hidden_widths) else NEW_WIDTH
        )
    return state


def init_control_state(spec: MLPSpec = DEFAULT_SPEC) -> None:
    """Give each control its starting value, once per session."""
    for key, value in spec_to_state(spec).items():
        st.session_state.setdefault(key, value)


def architecture_name(spec: MLPSpec) -> str:
    """Name of the preset with the architecture of `spec`, or the layer sizes."""
    for name, preset in PRESETS.items():
        if same_architecture(preset, spec):
            return name
    return "-".join(str(size) for size in spec.layer_sizes)


def apply_preset() -> None:
    """Callback of the preset menu: copy the chosen preset into the controls.

    The menu then goes back to its placeholder, so choosing the same preset again
    after editing a control applies it again.
    """
    name = st.session_state.get("preset")
    if name in PRESETS:
        for key, value in spec_to_state(PRESETS[name]).items():
            st.session_state[key] = value
        forget_width_sliders()
    st.session_state["preset"] = None


def clamp_int(key: str, low: int, high: int, default: int) -> int:
    """Read an int control's value and force it into [low, high].

    Widget limits are enforced in the browser only, so a value that arrives some other
    way is checked here again.
    """
    value = st.session_state.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        value = default
    clamped = int(min(max(int(value), low), high))
    if clamped != value:
        logger.warning(
            "control %s=%r is outside [%d, %d]; using %d",
            key,
            value,
            low,
            high,
            clamped,
        )
        st.session_state[key] = clamped
    return clamped


def restore_width_sliders(n_hidden: int) -> None:
    """Give each width slider that reappears its remembered width.

    Streamlit drops a widget's state while the widget is not drawn. After quick
    changes of the layer count, the browser could then show a reappearing slider at
    its minimum while the server used another width. Assigning the value through
    session state makes the browser take the server's value.
    """
    memory = st.session_state.get(WIDTH_MEMORY_KEY)
    num_shown = st.session_state.get(WIDTHS_SHOWN_KEY)
    if memory is None or num_shown is None:
        return
    for i in range(num_shown, n_hidden):
        st.session_state[width_key(i)] = memory[i]


def remember_widths(widths: list[int]) -> None:
    """Store the drawn widths, so sliders hidden by a smaller layer count come back."""
    memory = list(
        st.session_state.get(WIDTH_MEMORY_KEY, [NEW_WIDTH] * MAX_HIDDEN_LAYERS)
    )
    memory[: len(widths)] = widths
    st.session_state[WIDTH_MEMORY_KEY] = tuple(memory)
    st.session_state[WIDTHS_SHOWN_KEY] = len(widths)


def forget_width_sliders() -> None:
    """Drop the remembered widths after a preset or link sets every slider."""
    st.session_state.pop(WIDTH_MEMORY_KEY, None)
    st.session_state.pop(WIDTHS_SHOWN_KEY, None)


def sidebar_controls(teacher: bool = False, locked: bool = False) -> MLPSpec:
    """Draw the architecture controls in the sidebar and return the chosen spec.

    In teacher mode the preset menu, the bias switch and the seed input are not drawn,
    so bias and seed keep the values the link put in session state. `locked`
    disables the architecture controls while uploaded weights fix the architecture.
    """
    bar = st.sidebar
    bar.header("Architecture")
    if locked:
        bar.info(
            "The uploaded weights fix the architecture. Go back to the seeded "
            "network to change it."
        )
    if not teacher:
        bar.selectbox(
            "Preset",
            list(PRESETS),
            index=None,
            placeholder="Load a preset",
            key="preset",
            on_change=apply_preset,
            disabled=locked,
        )

    clamp_int("in_features", MIN_IN_FEATURES, MAX_IN_FEATURES, DEFAULT_SPEC.in_features)
    bar.number_input(
        f"Input features, in_features ({MIN_IN_FEATURES} to {MAX_IN_FEATURES})",
        min_value=MIN_IN_FEATURES,
        max_value=MAX_IN_FEATURES,
        step=1,
        key="in_features",
        disabled=locked,
    )
    clamp_int(
        "n_hidden",
        MIN_HIDDEN_LAYERS,
        MAX_HIDDEN_LAYERS,
        len(DEFAULT_SPEC.hidden_widths),
    )
    n_hidden = bar.slider(
        "Hidden layers",
        MIN_HIDDEN_LAYERS,
        MAX_HIDDEN_LAYERS,
        key="n_hidden",
        disabled=locked,
    )
    restore_width_sliders(n_hidden)
    widths = []
    for i in range(n_hidden):
        clamp_int(width_key(i), MIN_WIDTH, MAX_WIDTH, NEW_WIDTH)
        widths.append(
            bar.slider(
                f"Hidden layer {i + 1} width (out_features)",
                MIN_WIDTH,
                MAX_WIDTH,
                key=width_key(i),
                disabled=locked,
            )
        )
    remember_widths(widths)
    clamp_int(
        "out_features", MIN_OUT_FEATURES, MAX_OUT_FEATURES, DEFAULT_SPEC.out_features
    )
    bar.slider(
        "Output classes, out_features",
        MIN_OUT_FEATURES,
        MAX_OUT_FEATURES,
        key="out_features",
        disabled=locked,
    )
    if st.session_state.get("activation") not in ACTIVATIONS:
        st.session_state["activation"] = DEFAULT_SPEC.activation
    bar.selectbox(
        "Activation",
        list(ACTIVATIONS),
        format_func=ACTIVATIONS.__getitem__,
        key="activation",
        disabled=locked,
    )
    clamp_int("seed", MIN_SEED, MAX_SEED, DEFAULT_SPEC.seed)
    if teacher:
        bar.caption(
            f"bias={st.session_state['bias']}, "
            f"torch.manual_seed({st.session_state['seed']}), fixed by the link."
        )
    else:
        bar.toggle("bias=True in every Linear", key="bias", disabled=locked)
        bar.number_input(
            f"Seed, torch.manual_seed ({MIN_SEED} to {MAX_SEED:,})",
            min_value=MIN_SEED,
            max_value=MAX_SEED,
            step=1,
            key="seed",
        )

    spec = MLPSpec(
        in_features=int(st.session_state["in_features"]),
        hidden_widths=tuple(int(w) for w in widths),
        out_features=int(st.session_state["out_features"]),
        activation=st.session_state["activation"],
        bias=bool(st.session_state["bias"]),
        seed=int(st.session_state["seed"]),
    )
    bar.caption(f"Architecture: {architecture_name(spec)}")
    return spec


def same_architecture(a: MLPSpec, b: MLPSpec) -> bool:
    """True when two specs differ at most in their seed."""
    return (a.in_features, a.hidden_widths, a.out_features, a.activation, a.bias) == (
        b.in_features,
        b.hidden_widths,
        b.out_features,
        b.activation,
        b.bias,
    )
