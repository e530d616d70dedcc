"""The page through AppTest: code panel, downloads, chart toolbar and model upload.

Uploads go through AppTest's file_uploader, which calls the same on_change callback
a browser upload does. Expected numbers come from the notebook model in this process.
"""

from __future__ import annotations

import io
import json
import os
import pickle
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest
from torch import nn

from components.downloads import CODE_PANEL_KEY, DOWNLOADS_PANEL_KEY, export_weights
from components.links import panel_key
from mlp import MLPSpec, build_model
from mlp.values import format_value

APP = str(Path(__file__).resolve().parent.parent / "app.py")
GOLDEN_SOFTMAX = "0.5025 / 0.4975"


@pytest.fixture
def at() -> AppTest:
    """The page with the code and downloads panels open."""
    app = AppTest.from_file(APP, default_timeout=60)
    app.session_state[CODE_PANEL_KEY] = True
    app.session_state[DOWNLOADS_PANEL_KEY] = True
    app.run()
    assert not app.exception
    return app


def notebook_model(sizes: tuple[int, ...], activation: type[nn.Module]) -> nn.Module:
    """A notebook's module with `self.layers`, seeded so its weights are not the page's."""
    torch.manual_seed(2024)
    modules: list[nn.Module] = []
    for k in range(len(sizes) - 1):
        modules.append(nn.Linear(sizes[k], sizes[k + 1]))
        if k < len(sizes) - 2:
            modules.append(activation())
    model = nn.Module()
    model.layers = nn.Sequential(*modules)
    return model


def pt_bytes(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def upload(app: AppTest, name: str, data: bytes) -> None:
    app.file_uploader(key="upload_file").set_value(
        (name, data, "application/octet-stream")
    ).run()
    assert not app.exception


def metric_values(app: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in app.metric}


def python_code(app: AppTest) -> str:
    blocks = [c.value for c in app.code if c.proto.language == "python"]
    assert len(blocks) == 1
    return blocks[0]


def page_numbers(model: nn.Module, app: AppTest) -> tuple[str, str]:
    """Logits and softmax of `model` on the page's current input, as the metrics show them."""
    x = torch.tensor([app.session_state["x_values"]], dtype=torch.float32)
    with torch.no_grad():
        logits = model.layers(x)
    probs = torch.softmax(logits, dim=1)
    more = " ..." if logits.shape[1] > 4 else ""
    return (
        " / ".join(format_value(v) for v in logits[0].tolist()[:4]) + more,
        " / ".join(format_value(p) for p in probs[0].tolist()[:4]) + more,
    )


def test_code_panel_shows_seeded_script(at):
    code = python_code(at)
    assert "torch.manual_seed(42)" in code
    assert "torch.nn.Linear(5, 8)," in code
    assert "0.33669036626815796" in code  # x[0] as float32, widened exactly
    labels = [button.label for button in at.get("download_button")]
    assert "Download mlp_explorer.py" in labels
    assert "Download mlp_explorer.ipynb" in labels
    assert "state_dict (.pt)" in labels
    assert "state_dict (.safetensors)" in labels
    assert "Every tensor as CSV (.zip)" in labels
    assert "layers.0.weight.csv (8, 5)" in labels
    assert "layers.4.bias.csv (2,)" in labels


def test_closed_panels_build_nothing():
    app = AppTest.from_file(APP, default_timeout=60)
    app.run()
    assert not app.exception
    assert [c.value for c in app.code if c.proto.language == "python"] == []
    assert len(app.get("download_button")) == 0


def test_charts_offer_png_download(at):
    charts = at.get("plotly_chart")
    assert charts
    for element in charts:
        config = json.loads(element.proto.config)
        options = config["toImageButtonOptions"]
        assert options["format"] == "png"
        assert options["filename"]
        assert "toImage" not in config.get("modeBarButtonsToRemove", [])
    filenames = {
        json.loads(e.proto.config)["toImageButtonOptions"]["filename"] for e in charts
    }
    assert {"heatmap_0", "heatmap_2", "heatmap_4", "softmax_chart"} <= filenames


def test_uploaded_notebook_model_shown(at):
    notebook = notebook_model((6, 10, 7, 5), nn.Tanh)
    at.selectbox(key="upload_activation").set_value("tanh").run()
    upload(at, "trained.pt", pt_bytes(notebook.state_dict()))

    assert [e.value for e in at.error] == []
    banners = [i.value for i in at.main.info if "uploaded weights" in i.value]
    assert len(banners) == 1
    assert "Showing uploaded weights from trained.pt" in banners[0]
    assert "6-10-7-5" in banners[0]
    metrics = metric_values(at)
    assert metrics["Parameters"] == str(sum(p.numel() for p in notebook.parameters()))
    logits, softmax = page_numbers(notebook, at)
    assert metrics["logits"] == logits
    assert metrics["softmax"] == softmax
    heatmap_keys = {
        json.loads(e.proto.config)["toImageButtonOptions"]["filename"]
        for e in at.get("plotly_chart")
    }
    assert {"heatmap_0", "heatmap_2", "heatmap_4"} <= heatmap_keys
    assert "heatmap_6" not in heatmap_keys
    code = python_code(at)
    assert "torch.manual_seed" not in code
    assert "trained.pt" in code
    assert "torch.nn.Tanh()" in code
    assert len(at.text_input) >= 6  # one field per input feature
    assert "uploaded" in at.session_state
    assert "uploaded_model" in at.session_state


def test_activation_choice_applies_to_upload(at):
    notebook = notebook_model((4, 8, 3), nn.ReLU)
    upload(at, "relu.pt", pt_bytes(notebook.state_dict()))
    at.selectbox(key="upload_activation").set_value("sigmoid").run()
    assert not at.exception

    expected = notebook_model((4, 8, 3), nn.Sigmoid)
    _, softmax = page_numbers(expected, at)
    assert metric_values(at)["softmax"] == softmax


def test_bad_uploads_keep_previous_model(at, tmp_path):
    marker = tmp_path / "code_ran"

    class RunsShellCommand:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    nan_state = notebook_model((5, 3, 2), nn.ReLU).state_dict()
    nan_state["layers.0.weight"][0, 0] = float("nan")
    bad_files = {
        "noise.pt": (os.urandom(2048), "not a PyTorch file"),
        "code.pt": (pickle.dumps(RunsShellCommand(), protocol=2), "Python object"),
        "conv.pt": (pt_bytes(nn.Sequential(nn.Conv2d(1, 2, 3)).state_dict()), "2-D"),
        "nan.pt": (pt_bytes(nan_state), "is nan"),
        "chain.pt": (
            pt_bytes({"0.weight": torch.zeros(4, 5), "2.weight": torch.zeros(2, 3)}),
            "shapes do not chain",
        ),
    }
    for name, (data, expected) in bad_files.items():
        upload(at, name, data)
        errors = [e.value for e in at.error]
        assert len(errors) == 1, name
        assert name in errors[0]
        assert expected in errors[0], errors[0]
        assert "keeps the seeded network" in errors[0]
        assert metric_values(at)["softmax"] == GOLDEN_SOFTMAX, name
    assert not marker.exists()

    good = notebook_model((5, 3, 2), nn.ReLU)
    upload(at, "good.pt", pt_bytes(good.state_dict()))
    assert not [e.value for e in at.error]
    softmax_before = metric_values(at)["softmax"]
    upload(at, "noise.pt", os.urandom(2048))
    errors = [e.value for e in at.error]
    assert "keeps the uploaded model shown before" in errors[0]
    assert metric_values(at)["softmax"] == softmax_before


def test_back_to_seeded_restores_golden(at):
    upload(at, "small.pt", pt_bytes(notebook_model((3, 2), nn.ReLU).state_dict()))
    assert metric_values(at)["softmax"] != GOLDEN_SOFTMAX
    at.button(key="back_to_seeded").click().run()
    assert not at.exception
    assert metric_values(at)["softmax"] == GOLDEN_SOFTMAX
    assert "uploaded" not in at.session_state
    assert "torch.manual_seed(42)" in python_code(at)


def test_upload_stays_in_its_session(at):
    upload(at, "mine.pt", pt_bytes(notebook_model((5, 4, 2), nn.ReLU).state_dict()))
    assert metric_values(at)["softmax"] != GOLDEN_SOFTMAX

    other = AppTest.from_file(APP, default_timeout=60)
    other.run()
    assert not other.exception
    assert metric_values(other)["softmax"] == GOLDEN_SOFTMAX
    assert not [i.value for i in other.main.info if "uploaded weights" in i.value]


def test_export_weights_by_origin():
    seeded = build_model(MLPSpec())
    assert export_weights(seeded, seeded, None) == (None, None)

    stepped = build_model(MLPSpec(seed=1))
    weights, source = export_weights(stepped, seeded, None)
    assert source == "SGD steps taken on the page from the seeded network"
    assert list(weights) == list(stepped.state_dict())
    for key, tensor in stepped.state_dict().items():
        assert torch.equal(weights[key], tensor), key


def main_banners(app: AppTest) -> list[str]:
    """Texts of every st.error, st.warning and st.info in the main area."""
    return [a.value for a in (*app.main.error, *app.main.warning, *app.main.info)]


def take_one_step(app: AppTest) -> None:
    """Open the gradients lesson and take one SGD step with its default target and lr."""
    app.session_state[panel_key("gradients")] = True
    app.run()
    app.button(key="lesson_sgd_step").click().run()
    assert not app.exception


def test_rejected_upload_over_upload_one_banner(at):
    upload(at, "good.pt", pt_bytes(notebook_model((5, 3, 2), nn.ReLU).state_dict()))
    upload(at, "noise.pt", os.urandom(2048))
    banners = main_banners(at)
    assert len(banners) == 1, banners
    assert banners == [e.value for e in at.main.error]
    assert "The upload was rejected" in banners[0]
    assert "keeps the uploaded model shown before" in banners[0]
    assert "Showing uploaded weights from good.pt" in banners[0]
    assert not at.sidebar.warning


def test_steps_on_upload_one_banner(at):
    notebook = notebook_model((5, 4, 2), nn.ReLU)
    upload(at, "mine.pt", pt_bytes(notebook.state_dict()))
    uploaded_metrics = page_numbers(notebook, at)
    take_one_step(at)

    banners = main_banners(at)
    assert len(banners) == 1, banners
    assert banners == [w.value for w in at.main.warning]
    assert "after 1 SGD step on the uploaded weights from mine.pt" in banners[0]
    assert "torch.manual_seed" not in banners[0]
    assert not at.sidebar.warning
    captions = " ".join(c.value for c in at.sidebar.caption)
    assert "A link stores the architecture and the seed, not weights" in captions
    assert at.button(key="lesson_reset_top").label == "Reset to uploaded weights"
    assert at.button(key="lesson_sgd_reset").label == "Reset to uploaded weights"
    assert at.button(key="back_to_seeded").label == "Back to the seeded network"

    at.button(key="lesson_reset_top").click().run()
    metrics = metric_values(at)
    assert (metrics["logits"], metrics["softmax"]) == uploaded_metrics
    banners = main_banners(at)
    assert len(banners) == 1, banners
    assert "Showing uploaded weights from mine.pt" in banners[0]
    captions = " ".join(c.value for c in at.main.caption)
    assert "the gradients are those of the uploaded network" in captions


def test_rejected_upload_after_step_one_banner(at):
    take_one_step(at)
    stepped = metric_values(at)["softmax"]
    upload(at, "noise.pt", os.urandom(2048))
    banners = main_banners(at)
    assert len(banners) == 1, banners
    assert banners == [e.value for e in at.main.error]
    assert "The upload was rejected" in banners[0]
    assert "keeps its current network" in banners[0]
    assert "after 1 SGD step from the seeded weights" in banners[0]
    assert metric_values(at)["softmax"] == stepped
