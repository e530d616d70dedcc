"""Links, teacher mode, projector mode and tables, driven through AppTest."""

from __future__ import annotations

import json
from pathlib import Path

import plotly.graph_objects as go
import torch
from streamlit.testing.v1 import AppTest

from mlp import MLPSpec, build_model, count_parameters, default_input, run_forward
from mlp.values import format_value

APP = str(Path(__file__).resolve().parent.parent / "app.py")
DEFAULT_QUERY = {
    "inputs": "5",
    "widths": "8,4",
    "outputs": "2",
    "act": "relu",
    "seed": "42",
}


def open_link(params: dict[str, str | list[str]]) -> AppTest:
    """Run the app once as a browser opening a URL with these query parameters."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update(params)
    at.run()
    assert not at.exception
    return at


def metric_values(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def expected_metrics(spec: MLPSpec, x: list[float] | None = None) -> dict[str, str]:
    """Parameters, logits and softmax as the page prints them, from real torch."""
    tensor = default_input(spec.in_features, spec.seed)
    if x is not None:
        tensor = torch.tensor([x], dtype=torch.float32)  # (1, in_features)
    result = run_forward(build_model(spec), tensor)
    return {
        "Parameters": f"{count_parameters(spec).num_params:,}",
        "logits": " / ".join(format_value(v) for v in result.logits[0].tolist()),
        "softmax": " / ".join(format_value(v) for v in result.probs[0].tolist()),
    }


def chart_specs(at: AppTest) -> list[dict]:
    return [json.loads(node.proto.spec) for node in at.get("plotly_chart")]


def test_link_sets_widths_and_seed():
    at = open_link({"widths": "16,4", "seed": "7"})
    spec = MLPSpec(hidden_widths=(16, 4), seed=7)
    assert metric_values(at) == expected_metrics(spec)
    assert metric_values(at)["Parameters"] == "174"  # 96 + 68 + 10
    assert at.number_input(key="seed").value == 7
    assert at.slider(key="width_0").value == 16
    assert not at.warning


def test_bad_value_warns_once_keeps_others():
    at = open_link({"widths": "16,4", "seed": "1e3"})
    warnings = [w.value for w in at.warning]
    assert len(warnings) == 1
    assert 'seed=`"1e3"`' in warnings[0]
    assert "0 to 4294967295" in warnings[0]
    assert at.number_input(key="seed").value == 42
    assert metric_values(at)["Parameters"] == "174"
    assert at.query_params == {**DEFAULT_QUERY, "widths": "16,4"}


def test_warning_stays_until_view_changes():
    at = open_link({"seed": "-5"})
    at.run()
    assert len(at.warning) == 1
    at.slider(key="width_0").set_value(10).run()
    assert not at.warning


def test_url_rewritten_to_canonical():
    at = open_link(
        {"act": "TANH", "seed": ["3", " +007 "], "widths": " 8 , 4 ", "zzz": "1"}
    )
    assert at.query_params == {**DEFAULT_QUERY, "act": "tanh", "seed": "7"}
    assert not at.warning


def test_empty_url_gets_canonical_query():
    at = open_link({})
    assert at.query_params == DEFAULT_QUERY
    assert metric_values(at)["softmax"] == "0.5025 / 0.4975"
    link = at.sidebar.code[0].value
    assert link == "?inputs=5&widths=8,4&outputs=2&act=relu&seed=42"


def test_changed_view_reopens_identically():
    at = open_link({})
    at.slider(key="n_hidden").set_value(3).run()
    at.slider(key="width_2").set_value(5).run()
    at.number_input(key="seed").set_value(123).run()
    at.text_input(key="x_1").input("-0.75").run()
    assert not at.exception
    assert at.query_params["widths"] == "8,4,5"
    assert at.query_params["x"].split(",")[1] == "-0.75"

    fresh = open_link(dict(at.query_params))
    assert metric_values(fresh) == metric_values(at)
    assert fresh.query_params == at.query_params
    assert fresh.session_state["x_values"][1] == -0.75
    assert fresh.session_state["x_values"] == at.session_state["x_values"]


def test_input_in_link_only_once_edited():
    at = open_link({})
    assert "x" not in at.query_params
    at.text_input(key="x_0").input("3").run()
    assert at.query_params["x"].startswith("3,0.1288094,")
    at.button[1].click().run()  # reset to the seeded input
    assert "x" not in at.query_params


def test_link_input_vector_used():
    x = [1.0, -2.0, 0.5, 0.0, 3.25]
    at = open_link({"x": "1,-2,0.5,0,3.25"})
    assert metric_values(at) == expected_metrics(MLPSpec(), x)
    assert at.text_input(key="x_4").value == "3.2500"
    assert at.query_params["x"] == "1,-2,0.5,0,3.25"


def test_teacher_mode_hides_controls():
    at = open_link({"teacher": "1", "seed": "7", "bias": "0"})
    sidebar_keys = {getattr(node, "key", None) for node in at.sidebar}
    assert "preset" not in sidebar_keys
    assert "bias" not in sidebar_keys
    assert "seed" not in sidebar_keys
    assert "in_features" in sidebar_keys
    assert not at.sidebar.get("file_uploader")
    assert "width_0" in sidebar_keys
    assert any("Teacher mode" in info.value for info in at.sidebar.info)
    # Seed and bias stay as the link set them after another control moves.
    at.slider(key="width_0").set_value(6).run()
    spec = MLPSpec(hidden_widths=(6, 4), bias=False, seed=7)
    assert metric_values(at) == expected_metrics(spec)
    assert at.query_params["teacher"] == "1"
    assert at.query_params["bias"] == "0"


def test_projector_switches_figure_style():
    plain = chart_specs(open_link({}))
    at = open_link({"projector": "1"})
    projector = chart_specs(at)
    assert at.toggle(key="projector").value is True
    assert plain[0]["layout"]["font"]["size"] == 15
    assert projector[0]["layout"]["font"]["size"] == 22
    assert projector[0]["layout"]["hoverlabel"]["font"]["size"] == 26
    heatmap = projector[2]["data"][0]
    assert heatmap["type"] == "heatmap"
    puor = [list(stop) for stop in go.Heatmap(colorscale="PuOr").colorscale]
    assert heatmap["colorscale"] == puor
    assert plain[2]["data"][0]["colorscale"] != puor


def test_projector_caption_names_colours():
    captions = " ".join(c.value for c in open_link({"projector": "1"}).caption)
    assert "Orange is negative, purple positive, white zero." in captions
    captions = " ".join(c.value for c in open_link({}).caption)
    assert "Red is negative, blue positive, white zero." in captions


def test_projector_toggle_writes_link():
    at = open_link({})
    at.toggle(key="projector").set_value(True).run()
    assert at.query_params["projector"] == "1"
    assert chart_specs(at)[0]["layout"]["font"]["size"] == 22


def test_tables_show_chart_numbers():
    at = open_link({"tables": "1"})
    frames = [node.value for node in at.dataframe]
    outputs = frames[0]
    assert list(outputs.columns) == ["logit", "softmax"]
    assert list(outputs["softmax"]) == [0.5025, 0.4975]
    first_weight = frames[1]
    assert first_weight.shape == (8, 6)  # 5 weight columns and the bias
    assert list(first_weight.iloc[0])[:5] == [0.3419, 0.3712, -0.1048, 0.4108, -0.098]


def test_panels_kept_in_link():
    at = open_link({"panels": "code,nope"})
    assert at.session_state["panel_code"] is True
    assert at.query_params["panels"] == "code"
    assert len(at.warning) == 1
    # The open code panel shows the script that rebuilds this network.
    assert any("torch.manual_seed(42)" in block.value for block in at.code)


def test_link_opens_lesson_panel():
    at = open_link({"panels": "layout"})
    assert at.session_state["panel_layout"] is True
    assert at.query_params["panels"] == "layout"
    at.session_state["panel_neuron"] = True
    at.run()
    assert at.query_params["panels"] == "layout,neuron"


def test_torch_version_named():
    at = open_link({})
    captions = " ".join(c.value for c in at.caption)
    assert f"torch {torch.__version__}" in captions
    assert "does not promise the same random numbers" in captions
