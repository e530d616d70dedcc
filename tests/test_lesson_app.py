"""Lesson panels through AppTest: every panel draws, and SGD steps stay in one session."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from components.lesson_panels import LESSONS, worked_steps
from components.links import panel_key
from mlp import MLPSpec, build_model
from mlp.lesson import work_neuron
from mlp.values import format_value

APP = str(Path(__file__).resolve().parent.parent / "app.py")
GOLDEN_SOFTMAX = "0.5025 / 0.4975"


def assert_clean(app: AppTest) -> None:
    """Fail on an uncaught exception and on the page's own error message."""
    assert not app.exception
    # The page catches errors in its own code and shows them with st.error.
    assert not [e.value for e in app.error]


def new_session(*open_panels: str) -> AppTest:
    """A fresh browser session of the app with the named lesson panels open."""
    app = AppTest.from_file(APP, default_timeout=60)
    for name in open_panels:
        app.session_state[panel_key(name)] = True
    app.run()
    assert_clean(app)
    return app


def metric_values(app: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in app.metric}


def markdown_text(app: AppTest) -> str:
    return "\n".join(str(m.value) for m in app.markdown)


def plotly_specs(app: AppTest) -> dict[str, dict]:
    """Each plotly chart's figure JSON, by the key it was drawn with."""
    specs = {}
    for chart in app.get("plotly_chart"):
        key = chart.proto.id.rsplit("-", 1)[-1]
        specs[key] = json.loads(chart.proto.spec)
    return specs


def trace_z(trace: dict) -> np.ndarray:
    """The z matrix of a heatmap trace, plain lists or plotly's typed-array form."""
    z = trace["z"]
    if isinstance(z, dict):
        flat = np.frombuffer(base64.b64decode(z["bdata"]), dtype=np.dtype(z["dtype"]))
        if "shape" not in z:
            return flat
        shape = [int(side) for side in str(z["shape"]).split(",")]  # e.g. "5, 8"
        return flat.reshape(shape)
    return np.asarray(z, dtype=np.float32)


def test_closed_lessons_draw_nothing():
    app = new_session()
    assert [e.label for e in app.expander if e.label in {t for _, t, _ in LESSONS}] == [
        title for _, title, _ in LESSONS
    ]
    assert not any(key.startswith("lesson_") for key in plotly_specs(app))
    assert "Median largest probability" not in markdown_text(app)


def test_every_lesson_draws_at_defaults():
    app = new_session(*(name for name, _, _ in LESSONS))
    text = markdown_text(app)
    assert metric_values(app)["softmax"] == GOLDEN_SOFTMAX
    # Worked neuron 0 of layers[0]: 0.3430 + 0.1202 = 0.4632 at the defaults.
    assert "z = 0.3430 + 0.1202 = **0.4632**" in text
    assert "Median largest probability" in text
    assert "-log(0.5025) = **0.6881**" in text
    assert "`loss.backward()` for the 94 parameters took" in text
    assert "The context manager `torch.no_grad()` stops autograd" in text
    assert "torch_no_grad" not in text
    assert "**Input:** x, 5 values." in text
    assert "**2. Sum** of the 5 products:" in text
    charts = plotly_specs(app)
    for key in ("lesson_layout_0", "lesson_neuron_heatmap", "lesson_activations_2"):
        assert key in charts
    assert {"lesson_lab_inputs", "lesson_lab_seeds", "lesson_grad_0"} <= set(charts)
    assert any("(1, 5) @ (5, 8) + (8,) -> (1, 8)" in c.value for c in app.code)


def test_layout_toggle_shows_transpose():
    app = new_session("layout")
    app.toggle(key="lesson_transpose_0").set_value(True).run()
    assert_clean(app)
    figure = plotly_specs(app)["lesson_layout_0"]
    weight = build_model(MLPSpec()).layers[0].weight.detach().numpy()
    z = trace_z(figure["data"][0])
    assert z.shape == (5, 8)
    assert np.array_equal(z, weight.T)


def test_neuron_choice_updates_worked_sum():
    app = new_session("neuron")
    app.selectbox(key="lesson_neuron_layer").set_value(2).run()
    app.selectbox(key="lesson_neuron_index").set_value(1).run()
    assert_clean(app)
    text = markdown_text(app)
    assert "z is logit 1, **0.3704**" in text


def test_step_stays_in_its_session():
    first = new_session("gradients")
    first.selectbox(key="lesson_target").set_value(1).run()
    first.button(key="lesson_sgd_step").click().run()
    assert_clean(first)
    stepped = metric_values(first)["softmax"]
    assert stepped != GOLDEN_SOFTMAX
    assert float(stepped.split(" / ")[1]) > 0.4975
    assert any("1 SGD step" in w.value for w in first.warning)
    assert "**After 1 SGD step.**" in markdown_text(first)

    # A second browser session reads the same cached network and must see seed 42.
    second = new_session()
    assert metric_values(second)["softmax"] == GOLDEN_SOFTMAX
    seeded = build_model(MLPSpec())
    charts = plotly_specs(second)
    for layer_idx in (0, 2, 4):
        weight = seeded.layers[layer_idx].weight.detach().numpy()
        z = trace_z(charts[f"heatmap_{layer_idx}"]["data"][0])
        assert np.array_equal(z.reshape(weight.shape), weight), layer_idx
    assert not any("SGD step" in w.value for w in second.warning)

    # The first session's heatmap shows its own stepped weights.
    first_z = trace_z(plotly_specs(first)["heatmap_4"]["data"][0])
    assert not np.array_equal(
        first_z.reshape(2, 4), seeded.layers[4].weight.detach().numpy()
    )

    first.button(key="lesson_sgd_reset").click().run()
    assert metric_values(first)["softmax"] == GOLDEN_SOFTMAX


def test_steps_accumulate_then_discard_on_seed_change():
    app = new_session("gradients")
    app.button(key="lesson_sgd_step").click().run()
    after_one = metric_values(app)["softmax"]
    app.button(key="lesson_sgd_step").click().run()
    assert_clean(app)
    after_two = metric_values(app)["softmax"]
    assert float(after_two.split(" / ")[0]) > float(after_one.split(" / ")[0])
    assert any("2 SGD step" in w.value for w in app.warning)
    assert "**After 2 SGD steps.**" in markdown_text(app)

    app.number_input(key="seed").set_value(43).run()
    assert_clean(app)
    assert not any("SGD step" in w.value for w in app.warning)
    assert any("discarded" in i.value for i in app.info)
    app.number_input(key="seed").set_value(42).run()
    assert metric_values(app)["softmax"] == GOLDEN_SOFTMAX


def changes_table(app: AppTest):
    """The 'what changed' table: the one dataframe with a 'weight before' column."""
    tables = [d.value for d in app.dataframe if "weight before" in d.value.columns]
    assert len(tables) == 1
    return tables[0]


def test_changes_panel_names_layers():
    app = new_session("changes")
    assert "Move a control" in markdown_text(app)
    app.slider(key="width_0").set_value(10).run()
    assert_clean(app)
    assert "hidden_widths: (8, 4) -> (10, 4)" in markdown_text(app)
    table = changes_table(app)
    assert list(table["weights"]) == [
        "CHANGED: new shape",
        "CHANGED: new shape",
        "CHANGED: new values",
    ]
    assert list(table["equal weights in shared block"])[0] == "40 of 40"

    app.selectbox(key="activation").set_value("tanh").run()
    table = changes_table(app)
    assert list(table["weights"]) == ["same values"] * 3


@pytest.mark.parametrize("scale", [0.0, 6.0])
def test_lab_scale_slider(scale):
    app = new_session("lab")
    app.slider(key="lesson_lab_scale").set_value(scale).run()
    assert_clean(app)
    text = markdown_text(app)
    if scale == 0.0:
        assert text.count("Median largest probability **0.5000**") == 2
    else:
        assert "Median largest probability **0.5" not in text


def test_step_shows_one_banner():
    app = new_session("gradients")
    app.button(key="lesson_sgd_step").click().run()
    assert_clean(app)
    banners = [a.value for a in (*app.main.warning, *app.main.info)]
    assert len(banners) == 1, banners
    expected = "after 1 SGD step from the seeded weights of torch.manual_seed(42)"
    assert expected in banners[0]
    assert "links to this page, still show the seeded weights" in banners[0]
    assert not app.sidebar.warning
    captions = " ".join(c.value for c in app.sidebar.caption)
    assert "A link stores the architecture and the seed, not weights" in captions
    assert app.button(key="lesson_reset_top").label == "Reset to seeded weights"
    assert app.button(key="lesson_sgd_reset").label == "Reset to seeded weights"


def test_worked_steps_single_input():
    spec = MLPSpec(in_features=1, hidden_widths=(3,))
    model = build_model(spec)
    worked = work_neuron(model, torch.ones(1, 1), linear_pos=0, neuron=0)
    text = worked_steps(worked, linear_pos=0)
    assert "**Input:** x, 1 value." in text
    assert "**2. Sum** of the 1 product:" in text


def test_worked_sum_notes_rounding():
    app = new_session("neuron")
    x = torch.tensor([app.session_state["x_values"]], dtype=torch.float32)
    worked = work_neuron(build_model(MLPSpec()), x, linear_pos=0, neuron=0)
    printed_terms = sum(float(format_value(p)) for p in worked.products)
    # At the defaults the printed products add up to one less in the last digit.
    assert format_value(printed_terms) != format_value(worked.dot)

    text = markdown_text(app)
    step = f"**2. Sum** of the 5 products: **{format_value(worked.dot)}**."
    assert step in text
    assert "The sum adds the exact products." in text
    assert "rounded to 4 decimals only for printing" in text
