"""The input vector editor: one typed value per input feature, checked on the server."""

from __future__ import annotations

import secrets

import streamlit as st
import torch

from mlp.network import default_input, make_generator
from mlp.spec import MLPSpec
from mlp.values import MAX_ABS_INPUT, format_limit, format_value, parse_float

# Up to this many features get one text field each; more share one text area.
MAX_FIELDS = 16
# Typing limits the browser enforces, far above any number's length. Without them a
# pasted megabyte exceeds the websocket message limit and the connection drops
# without a message on the page.
MAX_FIELD_CHARS = 64
MAX_CHARS_PER_VALUE = 40
FIELDS_PER_ROW = 8


def field_key(i: int) -> str:
    return f"x_{i}"


def set_input(values: list[float], edited: bool, seed: int | None) -> None:
    """Store a valid input vector and show it in the fields.

    `seed` records which seed an unedited input came from, so a new seed can redraw it.
    """
    st.session_state["x_values"] = tuple(values)
    st.session_state["x_edited"] = edited
    st.session_state["x_seed"] = seed
    st.session_state["x_errors"] = {}
    for i, value in enumerate(values[:MAX_FIELDS]):
        st.session_state[field_key(i)] = format_value(value)
    st.session_state["x_all"] = ", ".join(format_value(v) for v in values)


def reset_input(in_features: int, seed: int) -> None:
    set_input(
        default_input(in_features, seed).flatten().tolist(), edited=False, seed=seed
    )


def draw_random_input(in_features: int) -> None:
    """Draw `randn(1, in_features)` from a fresh seed; the values themselves are the state."""
    generator = make_generator(secrets.randbelow(2**32))
    values = torch.randn(1, in_features, generator=generator).flatten().tolist()
    set_input(values, edited=True, seed=None)


def on_field_change(i: int) -> None:
    """Parse field x[i]; keep the last valid value and record a message when it is invalid."""
    name = f"x[{i}]"
    errors = dict(st.session_state.get("x_errors", {}))
    try:
        value = parse_float(str(st.session_state[field_key(i)]), name)
    except ValueError as err:
        last = st.session_state["x_values"][i]
        errors[name] = (
            f"{err}. The forward pass keeps the last valid value, {format_value(last)}."
        )
    else:
        values = list(st.session_state["x_values"])
        values[i] = value
        st.session_state["x_values"] = tuple(values)
        st.session_state["x_edited"] = True
        errors.pop(name, None)
    st.session_state["x_errors"] = errors


def parse_vector(text: str, in_features: int) -> list[float]:
    """Parse comma- or space-separated values into exactly `in_features` numbers."""
    items = [item for item in text.replace(",", " ").split()]
    if len(items) != in_features:
        raise ValueError(f"input: expected {in_features:,} values, got {len(items):,}")
    return [parse_float(item, f"x[{i}]") for i, item in enumerate(items)]


def on_area_change(in_features: int) -> None:
    """Parse the text area holding the whole vector; keep the last vector when it is invalid."""
    errors: dict[str, str] = {}
    try:
        values = parse_vector(str(st.session_state["x_all"]), in_features)
    except ValueError as err:
        errors["input"] = f"{err}. The forward pass keeps the last valid input."
    else:
        st.session_state["x_values"] = tuple(values)
        st.session_state["x_edited"] = True
    st.session_state["x_errors"] = errors


def sync_input(spec: MLPSpec) -> None:
    """Redraw the seeded input when in_features changes, or when the seed changes and the
    input was never edited."""
    values = st.session_state.get("x_values")
    stale_seed = (
        not st.session_state.get("x_edited")
        and st.session_state.get("x_seed") != spec.seed
    )
    if values is None or len(values) != spec.in_features or stale_seed:
        reset_input(spec.in_features, spec.seed)


def input_editor(spec: MLPSpec) -> torch.Tensor:
    """Draw the editor and return the current valid input, shape (1, in_features)."""
    sync_input(spec)
    n = spec.in_features
    st.subheader("Input x")
    st.caption(
        f"One row vector of shape (1, {n}). It starts as torch.randn(1, {n}) drawn right after "
        f"torch.manual_seed({spec.seed}). Values from {format_limit(-MAX_ABS_INPUT)} to {format_limit(MAX_ABS_INPUT)}."
    )
    if n <= MAX_FIELDS:
        for row_start in range(0, n, FIELDS_PER_ROW):
            # At least 4 slots, so one or two fields do not stretch across the page.
            columns = st.columns(max(4, min(n, FIELDS_PER_ROW)))
            for i in range(row_start, min(row_start + FIELDS_PER_ROW, n)):
                columns[i - row_start].text_input(
                    f"x[{i}]",
                    key=field_key(i),
                    on_change=on_field_change,
                    args=(i,),
                    max_chars=MAX_FIELD_CHARS,
                )
    else:
        st.text_area(
            f"x: {n} values separated by commas or spaces",
            key="x_all",
            height=120,
            max_chars=MAX_CHARS_PER_VALUE * n,
            on_change=on_area_change,
            args=(n,),
        )

    left, right, _ = st.columns([1, 1, 1])
    left.button(
        "New random input", on_click=draw_random_input, args=(n,), width="stretch"
    )
    right.button(
        "Reset to seeded input",
        on_click=reset_input,
        args=(n, spec.seed),
        width="stretch",
    )

    for message in st.session_state.get("x_errors", {}).values():
        st.warning(message)
    return torch.tensor(
        [st.session_state["x_values"]], dtype=torch.float32
    )  # (1, in_features)
