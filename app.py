"""MLP Explorer: a PyTorch multilayer perceptron, its weights and its outputs."""

from __future__ import annotations

import logging

import streamlit as st

from components.controls import init_control_state, sidebar_controls
from components.downloads import code_panel, downloads_panel, export_weights
from components.errors import configure_logging, run_page
from components.input_editor import input_editor
from components.lesson_panels import lesson_panels
from components.links import link_warnings, load_link, sync_link
from components.panels import (
    heatmaps_panel,
    outputs_panel,
    params_panel,
    repr_panel,
    summary_metrics,
)
from components.process_setup import configure_process
from components.session_weights import session_model, stepped_weights, weights_notice
from components.upload import (
    LOADED_KEY,
    upload_controls,
    upload_messages,
    uploaded_network,
)
from components.view import (
    teacher_mode,
    teacher_notice,
    torch_version_note,
    view_controls,
)
from mlp import ACTIVATIONS, MLP, MLPSpec, build_model, count_parameters, run_forward

logger = logging.getLogger("mlp_explorer")


@st.cache_resource(max_entries=64, show_spinner=False)
def cached_model(spec: MLPSpec) -> MLP:
    """Network for `spec`, shared by every session and therefore never modified."""
    model = build_model(spec)
    for param in model.parameters():
        param.requires_grad_(True)
    return model


def main() -> None:
    st.set_page_config(page_title="MLP Explorer", layout="wide")
    link = load_link()
    teacher_notice()
    init_control_state(link.spec)
    spec = sidebar_controls(
        teacher=teacher_mode(), locked=st.session_state.get(LOADED_KEY) is not None
    )
    view = view_controls()
    if not view.teacher:
        upload_controls(spec)
    # Uploaded weights replace the seeded network for this session only.
    uploaded = uploaded_network(spec)
    if uploaded is not None:
        spec = uploaded.spec
    sync_link(
        spec,
        view,
        custom_weights=uploaded is not None or stepped_weights(spec) is not None,
    )

    st.title("MLP Explorer")
    link_warnings()
    upload_messages(uploaded)
    st.caption(
        f"A torch.nn.Sequential of Linear and {ACTIVATIONS[spec.activation]} layers."
    )
    torch_version_note()
    seeded = cached_model(spec) if uploaded is None else uploaded.model
    # This session's SGD-stepped copy when it took a step, else the shared seeded network.
    model = session_model(spec, seeded)
    weights_notice(spec)
    summary = count_parameters(spec)

    metrics_area = st.container()
    x = input_editor(spec)
    result = run_forward(model, x)
    with metrics_area:
        summary_metrics(result, summary)
    outputs_panel(result, spec, view.style, show_tables=view.tables)
    heatmaps_panel(
        model,
        spec,
        view.style,
        show_tables=view.tables,
        per_row=view.heatmaps_per_row,
    )
    params_panel(summary, view.style)
    repr_panel(model, summary)
    code_panel(spec, x[0].tolist(), *export_weights(model, seeded, uploaded))
    downloads_panel(model)
    lesson_panels(spec, model, seeded, x, cached_model, view.style)


configure_logging()
configure_process()
run_page(main)
