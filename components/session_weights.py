"""This browser session's own network after SGD steps, kept in `st.session_state`.

The cached network of a spec is shared by every session, so a step never touches it: the
stepped network is a private deep copy stored under SGD_STATE_KEY, tied to the spec it
was built for. Changing the architecture or the seed discards it.

The page shows one banner about weights that are not the seeded ones. `weights_notice`
draws it for seeded weights, and `components.upload.upload_messages` draws it while
uploaded weights are loaded, so the two never both draw.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import streamlit as st
import torch

from mlp.network import MLP
from mlp.spec import MLPSpec
from mlp.training import StepRecord, private_copy, take_sgd_step
from mlp.values import format_count, format_value

logger = logging.getLogger(__name__)

SGD_STATE_KEY = "lesson_sgd"
# Number of discarded steps, stored for one run so the page can report the discard.
DISCARDED_KEY = "lesson_sgd_discarded"
# The message of a rejected step, stored for one run so the page can show it.
STEP_ERROR_KEY = "lesson_sgd_error"
# Keys that components.upload sets. They live here because steps start from the
# uploaded weights when there are any, and the banner names what a reset returns to.
LOADED_KEY = "uploaded"  # LoadedModel
UPLOAD_ERROR_KEY = "upload_error"  # message of the last rejected upload

# Banner levels from the least to the most severe. A banner takes its most severe level.
LEVELS = ("info", "warning", "error")


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
    """Forget the stepped network, so the weights the steps started from show again.

    A button callback: those are the uploaded weights when a file is loaded, else the
    seeded ones.
    """
    st.session_state.pop(SGD_STATE_KEY, None)


def upload_loaded() -> bool:
    """Return True while this session shows uploaded weights in place of seeded ones."""
    return st.session_state.get(LOADED_KEY) is not None


def reset_label() -> str:
    """Name the reset button by the weights it returns to."""
    return "Reset to uploaded weights" if upload_loaded() else "Reset to seeded weights"


def steps_text(count: int) -> str:
    """Write a number of SGD steps with the right noun: `1 SGD step`, `2 SGD steps`."""
    noun = "SGD step" if count == 1 else "SGD steps"
    return f"{format_count(count)} {noun}"


def last_step_text(state: SessionWeights) -> str:
    last = state.last
    return (
        f"Last step: target class {last.target}, lr {last.lr:g}, loss "
        f"{format_value(last.loss_before)} -> {format_value(last.loss_after)}."
    )


def rejected_upload_text(error: str, kept: str) -> str:
    return f"The upload was rejected: {error}. The page keeps {kept}."


@dataclass
class Banner:
    """The one message about which weights the page shows, built up part by part."""

    level: str = "info"  # one of LEVELS
    parts: list[str] = field(default_factory=list)
    # (label, key, on_click) of each button drawn beside the message
    buttons: list[tuple[str, str, Callable[[], None]]] = field(default_factory=list)

    def add(self, text: str, level: str = "info") -> None:
        """Append a sentence, raising the banner's level to `level` if it is more severe."""
        self.parts.append(text)
        if LEVELS.index(level) > LEVELS.index(self.level):
            self.level = level

    def draw(self) -> None:
        """Show the message with the buttons in a narrow column at its right, if any."""
        if not self.parts:
            return
        text = " ".join(self.parts)
        if not self.buttons:
            getattr(st, self.level)(text)
            return
        left, right = st.columns([3, 1])
        getattr(left, self.level)(text)
        for label, key, on_click in self.buttons:
            right.button(label, key=key, on_click=on_click, width="stretch")


def add_step_events(banner: Banner, shown_again: str) -> None:
    """Add this run's rejected step and discarded steps, which show only once.

    `shown_again` names the weights the page shows after a discard.
    """
    rejected = st.session_state.pop(STEP_ERROR_KEY, None)
    if rejected:
        banner.add(rejected, "warning")
    discarded = st.session_state.pop(DISCARDED_KEY, None)
    if discarded:
        banner.add(
            "The architecture, the activation or the seed changed, so the page "
            f"discarded the {steps_text(discarded)} taken in this session. It shows "
            f"{shown_again}."
        )


def add_reset_button(banner: Banner) -> None:
    banner.buttons.append((reset_label(), "lesson_reset_top", reset_weights))


def weights_notice(spec: MLPSpec) -> None:
    """Show the banner about seeded weights: steps taken on them and a rejected upload.

    Draws nothing while uploaded weights are loaded, because then
    `components.upload.upload_messages` shows the banner, steps included.
    """
    if upload_loaded():
        return
    state = stepped_weights(spec)  # may discard the steps, which the events then report
    banner = Banner()
    add_step_events(banner, "freshly seeded weights")
    upload_error = st.session_state.get(UPLOAD_ERROR_KEY)
    if upload_error:
        kept_network = "the seeded network" if state is None else "its current network"
        banner.add(rejected_upload_text(upload_error, kept_network), "error")
    if state is not None:
        banner.add(
            f"This page shows this browser session's network after "
            f"{steps_text(state.steps)} from the seeded weights of "
            f"torch.manual_seed({spec.seed}). {last_step_text(state)} Other sessions, "
            "and links to this page, still show the seeded weights.",
            "warning",
        )
        add_reset_button(banner)
    banner.draw()
