"""Loading an uploaded state_dict: the uploader, its activation choice and the banner.

The uploaded weights and the model built from them live in this session's
`st.session_state` only, never in a cache shared with other sessions.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import streamlit as st
import torch

from components.session_weights import (
    LOADED_KEY,
    UPLOAD_ERROR_KEY,
    Banner,
    add_reset_button,
    add_step_events,
    last_step_text,
    rejected_upload_text,
    reset_weights,
    stepped_weights,
    steps_text,
)
from mlp.export import safe_name
from mlp.loading import (
    MAX_FILE_MB,
    UPLOAD_TYPES,
    LoadedModel,
    build_loaded_model,
    load_state_dict,
)
from mlp.network import MLP
from mlp.spec import ACTIVATIONS, MLPSpec

logger = logging.getLogger(__name__)

UPLOAD_KEY = "upload_file"
UPLOAD_ACTIVATION_KEY = "upload_activation"
LOADED_MODEL_KEY = "uploaded_model"  # (activation, MLP) built from LOADED_KEY


@dataclass(frozen=True)
class UploadedNetwork:
    """The uploaded network as the page shows it: spec, model and source weights."""

    spec: MLPSpec
    model: MLP
    loaded: LoadedModel

    @property
    def weights(self) -> dict[str, torch.Tensor]:
        return self.loaded.state_dict

    @property
    def source(self) -> str:
        """Where the weights come from, as the exported code names it."""
        return f"the uploaded file {self.loaded.filename}"


def apply_upload(data: bytes, filename: str) -> bool:
    """Load `data` and show it, or keep the current model and store the error message.

    Returns whether the file loaded.
    """
    try:
        loaded = load_state_dict(data, filename)
    except ValueError as err:
        logger.info("upload of %r rejected: %s", filename, err)
        st.session_state[UPLOAD_ERROR_KEY] = str(err)
        return False
    st.session_state[LOADED_KEY] = loaded
    st.session_state.pop(LOADED_MODEL_KEY, None)
    st.session_state[UPLOAD_ERROR_KEY] = None
    reset_weights()  # SGD steps belong to the network shown before
    return True


def on_upload() -> None:
    """Callback of the file uploader; clearing the uploader keeps the loaded model."""
    uploaded_file = st.session_state.get(UPLOAD_KEY)
    if uploaded_file is None:
        return
    apply_upload(uploaded_file.getvalue(), uploaded_file.name)


def back_to_seeded() -> None:
    """Forget the uploaded weights, so the page shows the seeded network again."""
    for key in (LOADED_KEY, LOADED_MODEL_KEY, UPLOAD_ERROR_KEY):
        st.session_state.pop(key, None)
    reset_weights()  # SGD steps taken on the uploaded weights


def upload_controls(spec: MLPSpec) -> None:
    """Draw the sidebar section with the uploader and the activation for the loaded layers."""
    bar = st.sidebar
    bar.header("Load a model")
    bar.file_uploader(
        f"state_dict of Linear layers (.pt, .pth or .safetensors, up to {MAX_FILE_MB} MB)",
        type=list(UPLOAD_TYPES),
        max_upload_size=MAX_FILE_MB,  # in MiB, the same as the loader's limit
        key=UPLOAD_KEY,
        on_change=on_upload,
        help="Save one from a notebook with torch.save(model.state_dict(), 'model.pt'). "
        ".pt files are read with torch.load(weights_only=True), which builds no Python "
        "objects.",
    )
    st.session_state.setdefault(UPLOAD_ACTIVATION_KEY, spec.activation)
    bar.selectbox(
        "Activation between the loaded Linear layers",
        list(ACTIVATIONS),
        format_func=ACTIVATIONS.__getitem__,
        key=UPLOAD_ACTIVATION_KEY,
        help="A state_dict stores only weights and biases, not the activation modules.",
    )


def uploaded_network(spec: MLPSpec) -> UploadedNetwork | None:
    """Return the network built from the uploaded weights, or None when none are loaded.

    Its spec keeps the page's seed, which does not change the uploaded weights but
    keeps the seeded input of the input editor.
    """
    loaded: LoadedModel | None = st.session_state.get(LOADED_KEY)
    if loaded is None:
        return None
    activation = st.session_state.get(UPLOAD_ACTIVATION_KEY, spec.activation)
    if activation not in ACTIVATIONS:
        activation = spec.activation
    built = st.session_state.get(LOADED_MODEL_KEY)
    if built is None or built[0] != activation:
        built = (activation, build_loaded_model(loaded, activation, spec.seed))
        st.session_state[LOADED_MODEL_KEY] = built
    return UploadedNetwork(loaded.to_spec(activation, spec.seed), built[1], loaded)


def upload_messages(uploaded: UploadedNetwork | None) -> None:
    """Show the one banner about uploaded weights, with any steps or rejected upload.

    Without uploaded weights `components.session_weights.weights_notice` shows a
    rejected upload instead, so nothing is drawn here.
    """
    if uploaded is None:
        return
    state = stepped_weights(uploaded.spec)  # may discard steps, reported just below
    banner = Banner()
    add_step_events(banner, "the uploaded weights")
    error = st.session_state.get(UPLOAD_ERROR_KEY)
    if error:
        banner.add(
            rejected_upload_text(error, "the uploaded model shown before"), "error"
        )
    loaded = uploaded.loaded
    source = f"uploaded weights from {safe_name(loaded.filename)}"
    if state is not None:
        steps = steps_text(state.steps)
        source = f"this browser session's network after {steps} on the {source}"
    banner.add(
        f"Showing {source}: layer sizes {'-'.join(map(str, loaded.layer_sizes))}, "
        f"bias={loaded.bias}."
    )
    if state is not None:
        banner.add(last_step_text(state), "warning")
        add_reset_button(banner)
    if loaded.source_dtype != uploaded.model.layers[0].weight.dtype:
        banner.add(
            f"The file stores {loaded.source_dtype}, which the page converts to float32."
        )
    banner.add(
        "These weights stay in this browser session, so other sessions and links to "
        "this page show seeded weights."
    )
    banner.buttons.append(
        ("Back to the seeded network", "back_to_seeded", back_to_seeded)
    )
    banner.draw()
