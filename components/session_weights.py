"""This browser session's own network after SGD steps, kept in `st.session_state`.

The cached network of a spec is shared by every session, so a step never touches it: the
stepped network is a private deep copy stored under SGD_STATE_KEY, tied to the spec it
was built for. Changing the architecture or the seed discards it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import streamlit as st
import torch

from mlp.network import MLP
from mlp.spec import MLPSpec
from mlp.training import StepRecord, private_copy, take_sgd_step
from mlp.values import format_value

logger = logging.getLogger(__name__)

SGD_STATE_KEY = "lesson_sgd"
# Number of discarded steps, stored for one run so the page can report the discard.
DISCARDED_KEY = "lesson_sgd_discarded"
# The message of a rejected step, stored for one run so the page can show it.
STEP_ERROR_KEY = "lesson_sgd_error"


@dataclass(frozen=True)
class SessionWeights:
    """A private copy of the network of `spec` after `steps` SGD steps."""

    spec: MLPSpec
    model: MLP  # never the cached model: a deep copy with the stepped parameters
    steps: int
    last: StepRecord


def stepped_weights(spec: MLPSpec) -> SessionWeights | None:
    """Return this session's stepped network for `spec`, discarding one for another spec."""
    state = st.session_state.get(SGD_STATE_KEY)
    if state is None:
        return None
    if state.spec != spec:
        logger.info("discarding %d SGD steps: spec changed to %s", state.steps, spec)
        del st.session_state[SGD_STATE_KEY]
        st.session_state[DISCARDED_KEY] = state.steps
        return None
    return state


def session_model(spec: MLPSpec, seeded: MLP) -> MLP:
    """Return the network this session shows: its stepped copy if any, else `seeded`."""
    state = stepped_weights(spec)
    return seeded if state is None else state.model


def take_step(spec: MLPSpec, seeded: MLP, x_values: tuple[float, ...]) -> None:
    """Take one SGD step on this session's network with the chosen target and lr.

    The step button calls it before the rerun, so the rerun shows the new weights.
    """
    state = stepped_weights(spec)
    base = seeded if state is None else state.model
    target = int(st.session_state["lesson_target"])
    lr = float(st.session_state["lesson_lr"])
    x = torch.tensor([x_values], dtype=torch.float32)  # (1, in_features)
    try:
        params, record = take_sgd_step(base, x, target, lr)
    except ValueError as err:
        logger.info("SGD step rejected: %s", err)
        st.session_state[STEP_ERROR_KEY] = f"The step was rejected: {err}."
        return
    steps = 1 if state is None else state.steps + 1
    st.session_state[SGD_STATE_KEY] = SessionWeights(
        spec, private_copy(seeded, params), steps, record
    )


def reset_weights() -> None:
    """Forget the stepped network, so the seeded weights show again (a button callback)."""
    st.session_state.pop(SGD_STATE_KEY, None)


def weights_notice(spec: MLPSpec) -> None:
    """Show which weights the page draws when they are not the seeded ones."""
    rejected = st.session_state.pop(STEP_ERROR_KEY, None)
    if rejected:
        st.warning(rejected)
    discarded = st.session_state.pop(DISCARDED_KEY, None)
    if discarded:
        st.info(
            f"The architecture or the seed changed, so the {discarded} SGD step(s) taken "
            "in this session were discarded. The page shows freshly seeded weights."
        )
    state = stepped_weights(spec)
    if state is None:
        return
    last = state.last
    left, right = st.columns([4, 1])
    left.warning(
        f"This page shows this session's network after {state.steps} SGD step(s), "
        f"not the weights of torch.manual_seed({spec.seed}). Last step: target class "
        f"{last.target}, lr {last.lr:g}, loss {format_value(last.loss_before)} -> "
        f"{format_value(last.loss_after)}. Other sessions still see the seeded weights."
    )
    right.button(
        "Reset to seeded weights",
        key="lesson_reset_top",
        on_click=reset_weights,
        width="stretch",
    )
