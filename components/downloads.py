"""The code panel and the weight downloads.

Files other than the script are produced only when their button is clicked: Streamlit
calls the `data` callable then, on its own thread, so a rerun never serializes them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial

import streamlit as st
import torch

from components.links import panel_key
from components.upload import UploadedNetwork
from mlp.export import (
    NOTEBOOK_FILE_NAME,
    SCRIPT_FILE_NAME,
    WEIGHTS_FILE_NAME,
    embeds_weights,
    export_notebook,
    export_script,
)
from mlp.files import (
    csv_zip,
    state_dict_of,
    state_dict_pt,
    state_dict_safetensors,
    tensor_csv,
)
from mlp.network import MLP
from mlp.spec import MLPSpec

SAFETENSORS_FILE_NAME = "mlp_state_dict.safetensors"
CSV_ZIP_FILE_NAME = "mlp_weights_csv.zip"
CSV_BUTTONS_PER_ROW = 4
# Session-state keys of the two expanders, True when open. The code panel's key is
# the one a link's `panels=code` opens.
CODE_PANEL_KEY = panel_key("code")
DOWNLOADS_PANEL_KEY = "downloads_panel_open"


def code_panel(
    spec: MLPSpec,
    x_values: Sequence[float],
    weights: Mapping[str, torch.Tensor] | None = None,
    source: str | None = None,
) -> None:
    """Show the script that rebuilds this network and offer it as .py and .ipynb."""
    expander = st.expander(
        "Python code for this network", key=CODE_PANEL_KEY, on_change="rerun"
    )
    if not expander.open:
        return  # a closed panel builds nothing, so a rerun stays cheap
    script = export_script(spec, x_values, weights, source)
    with expander:
        if weights is None:
            origin = f"rebuilds the weights with torch.manual_seed({spec.seed})"
        elif embeds_weights(weights):
            origin = (
                "writes these weights out as tensor literals, since no seed gives them"
            )
        else:
            origin = (
                f"reads these weights from {WEIGHTS_FILE_NAME}, which the weight "
                "downloads below provide"
            )
        st.caption(
            f"Plain Python and PyTorch: the script {origin} and prints the logits and the "
            f"softmax shown above. The page's numbers come from torch {torch.__version__}; "
            "PyTorch does not promise the same random numbers across releases."
        )
        st.code(script, language="python")
        left, right, _ = st.columns([1, 1, 2])
        left.download_button(
            f"Download {SCRIPT_FILE_NAME}",
            data=script,
            file_name=SCRIPT_FILE_NAME,
            mime="text/x-python",
            on_click="ignore",
            key="download_script",
        )
        right.download_button(
            f"Download {NOTEBOOK_FILE_NAME}",
            data=partial(export_notebook, spec, tuple(x_values), weights, source),
            file_name=NOTEBOOK_FILE_NAME,
            mime="application/x-ipynb+json",
            on_click="ignore",
            key="download_notebook",
        )


def export_weights(
    model: MLP, base: MLP, uploaded: UploadedNetwork | None
) -> tuple[dict[str, torch.Tensor] | None, str | None]:
    """Return the weights and their origin for `code_panel`, or (None, None) if seeded.

    `base` is the network before this session's SGD steps: the seeded one or the
    uploaded one. A `model` other than `base` carries stepped weights.
    """
    if model is not base:
        origin = "the uploaded file" if uploaded else "the seeded network"
        return state_dict_of(model), f"SGD steps taken on the page from {origin}"
    if uploaded is not None:
        return uploaded.weights, uploaded.source
    return None, None


def downloads_panel(model: MLP) -> None:
    """Offer the state_dict as .pt and .safetensors, and each weight and bias as CSV."""
    expander = st.expander(
        "Download the weights", key=DOWNLOADS_PANEL_KEY, on_change="rerun"
    )
    if not expander.open:
        return
    with expander:
        st.caption(
            "The state_dict has the keys model.state_dict() gives: layers.0.weight, "
            "layers.0.bias, and so on. Load it with "
            f"model.load_state_dict(torch.load('{WEIGHTS_FILE_NAME}', weights_only=True))."
        )
        binary = "application/octet-stream"
        files = [
            ("state_dict (.pt)", state_dict_pt, WEIGHTS_FILE_NAME, binary),
            (
                "state_dict (.safetensors)",
                state_dict_safetensors,
                SAFETENSORS_FILE_NAME,
                binary,
            ),
            (
                "Every tensor as CSV (.zip)",
                csv_zip,
                CSV_ZIP_FILE_NAME,
                "application/zip",
            ),
        ]
        keys = ["download_pt", "download_safetensors", "download_csv_zip"]
        for column, key, (label, make_bytes, file_name, mime) in zip(
            st.columns(len(files)), keys, files, strict=True
        ):
            # The bytes are made only when the button is clicked.
            column.download_button(
                label,
                data=partial(make_bytes, model),
                file_name=file_name,
                mime=mime,
                on_click="ignore",
                key=key,
            )
        csv_buttons(model)


def csv_buttons(model: MLP) -> None:
    """Draw one CSV download button per weight and bias."""
    st.caption(
        "A weight CSV has one row per output neuron (out_features rows) and one column "
        "per input feature (in_features columns), with a header; a bias CSV has one row "
        "per output neuron. Values are exact float32."
    )
    items = list(model.state_dict().items())
    for row_start in range(0, len(items), CSV_BUTTONS_PER_ROW):
        columns = st.columns(CSV_BUTTONS_PER_ROW)
        row = items[row_start : row_start + CSV_BUTTONS_PER_ROW]
        for column, (key, tensor) in zip(columns, row, strict=False):
            column.download_button(
                f"{key}.csv {tuple(tensor.shape)}",
                data=partial(tensor_csv, tensor),
                file_name=f"{key}.csv",
                mime="text/csv",
                on_click="ignore",
                key=f"download_{key}",
            )
