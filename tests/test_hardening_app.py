"""app.py under AppTest: the largest network, internal errors, overflow, two sessions.

Also checks the production settings in .streamlit/config.toml and that concurrent
builds on many threads give bit-identical weights. Runs in about 5 s on 2 cores.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import math
import re
import threading
import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch
from pagecheck import (
    APP,
    assert_messages_inert,
    assert_no_nan_anywhere,
    assert_page_valid,
    chart_specs,
    decode_array,
    new_app,
    warning_texts,
)
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

import mlp
from components import figures, panels
from mlp import MLPSpec, build_model, count_parameters, default_input, run_forward
from mlp.query import PANELS
from mlp.spec import MAX_HIDDEN_LAYERS, MAX_IN_FEATURES, MAX_OUT_FEATURES, MAX_WIDTH
from mlp.training import MAX_LEARNING_RATE, private_copy, take_sgd_step
from mlp.uniformity import MAX_WEIGHT_SCALE, MIN_TEMPERATURE
from mlp.values import format_value

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / ".streamlit" / "config.toml"


def set_architecture(at, in_features: int, widths: list[int], out_features: int):
    at.number_input(key="in_features").set_value(in_features)
    at.slider(key="n_hidden").set_value(len(widths))
    at.slider(key="out_features").set_value(out_features)
    at.run()
    for i, width in enumerate(widths):
        at.slider(key=f"width_{i}").set_value(width)
    at.run()


def test_largest_architecture_pooled_with_notice():
    at = new_app()
    widths = [MAX_WIDTH] * MAX_HIDDEN_LAYERS
    set_architecture(at, MAX_IN_FEATURES, widths, MAX_OUT_FEATURES)
    assert_page_valid(at)

    spec = MLPSpec(MAX_IN_FEATURES, tuple(widths), MAX_OUT_FEATURES)
    expected = sum(o * i + o for i, o in spec.linear_shapes())
    assert expected == 2_371_600
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Parameters"] == "2,371,600"

    heatmaps = [
        decode_array(trace["z"]).shape
        for spec_json in chart_specs(at)
        for trace in spec_json["data"]
        if trace["type"] == "heatmap" and trace["name"] == "weight"
    ]
    assert len(heatmaps) == spec.num_linear
    for shape in heatmaps:
        assert max(shape) <= figures.MAX_HEATMAP_CELLS, shape
    notices = [c.value for c in at.caption if "block means" in c.value]
    assert len(notices) == spec.num_linear  # every layer has a side of 512 or more


def test_internal_error_logged_with_session_id(monkeypatch, caplog):
    seen_sessions: list[str] = []

    def broken_panel(*args, **kwargs):
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        seen_sessions.append(get_script_run_ctx().session_id)
        raise RuntimeError("forced failure in outputs_panel")

    monkeypatch.setattr(panels, "outputs_panel", broken_panel)
    caplog.set_level(logging.ERROR, logger="mlp_explorer")
    at = new_app_unchecked()

    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1, errors
    reference = re.search(r"reference ([0-9a-f]{8})", errors[0]).group(1)
    assert "Traceback" not in errors[0]
    assert "forced failure" not in errors[0]

    records = [r for r in caplog.records if r.name == "mlp_explorer"]
    assert len(records) == 1
    message = records[0].getMessage()
    assert f"session_id={seen_sessions[0]}" in message
    assert f"reference={reference}" in message
    assert records[0].exc_info[0] is RuntimeError


def test_reset_button_after_internal_error(monkeypatch):
    monkeypatch.setattr(panels, "outputs_panel", failing_panel)
    at = new_app_unchecked()
    at.session_state["seed"] = 7
    at.run()
    reset = [b for b in at.button if b.label == "Reset controls to the defaults"]
    assert len(reset) == 1
    reset[0].click().run()
    assert at.session_state["seed"] == 42


def failing_panel(*args, **kwargs):
    raise RuntimeError("forced failure")


def new_app_unchecked():
    from pagecheck import APP
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    return at


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
def test_non_finite_logits_show_message(monkeypatch, bad):
    real_forward = mlp.run_forward

    def overflowing_forward(model, x, temperature=1.0):
        result = real_forward(model, x, temperature)
        logits = torch.tensor([[bad, 0.5]])
        return dataclasses.replace(
            result, logits=logits, probs=torch.softmax(logits, 1)
        )

    monkeypatch.setattr(mlp, "run_forward", overflowing_forward)
    at = new_app_unchecked()
    assert not at.exception
    assert any("overflow" in e.value for e in at.error), [e.value for e in at.error]
    for metric in at.metric:
        assert not re.search(r"\b(nan|inf)\b", metric.value, re.IGNORECASE), metric
    bar_names = [
        trace.get("name")
        for spec_json in chart_specs(at)
        for trace in spec_json["data"]
        if trace["type"] == "bar"
    ]
    assert "logits" not in bar_names
    assert "softmax(logits)" not in bar_names


def expected_metrics(seed: int, x_values: tuple[float, ...]) -> tuple[str, str]:
    """logits and softmax metrics computed by torch directly, for a default architecture."""
    model = build_model(MLPSpec(seed=seed))
    result = run_forward(model, torch.tensor([x_values], dtype=torch.float32))
    logits = " / ".join(format_value(v) for v in result.logits[0].tolist())
    probs = " / ".join(format_value(v) for v in result.probs[0].tolist())
    return logits, probs


def first_weight_shown(at) -> np.ndarray:
    """The z values of the layers[0].weight heatmap on the page."""
    for spec_json in chart_specs(at):
        for trace in spec_json["data"]:
            if (
                trace["type"] == "heatmap"
                and "layers[0].weight" in trace["hovertemplate"]
            ):
                return decode_array(trace["z"])
    raise AssertionError("no layers[0].weight heatmap on the page")


def assert_session_shows(at, seed: int) -> None:
    """The page shows the weights and outputs torch computes for this session's seed."""
    assert_page_valid(at)
    assert at.session_state["seed"] == seed
    metrics = {m.label: m.value for m in at.metric}
    logits, probs = expected_metrics(seed, at.session_state["x_values"])
    assert metrics["logits"] == logits
    assert metrics["softmax"] == probs
    weight = build_model(MLPSpec(seed=seed)).layers[0].weight.detach().numpy()
    assert np.array_equal(first_weight_shown(at), weight)


def test_two_sessions_interleaved_keep_own_state():
    a = new_app()
    b = new_app()
    a.number_input(key="seed").set_value(1).run()
    b.number_input(key="seed").set_value(2).run()
    a.text_input(key="x_0").input("3.5").run()
    b.text_input(key="x_4").input("-250").run()
    b.run()
    a.run()

    assert_session_shows(a, 1)
    assert_session_shows(b, 2)
    assert a.session_state["x_values"][0] == 3.5
    assert b.session_state["x_values"][4] == -250.0
    assert a.session_state["x_values"][4] == default_input(5, 1)[0, 4].item()
    assert b.session_state["x_values"][0] == default_input(5, 2)[0, 0].item()
    assert not warning_texts(a)
    assert not warning_texts(b)


def test_threads_build_bit_identical_weights():
    num_threads, builds_per_thread = 8, 50
    spec_of = {seed: MLPSpec(hidden_widths=(256, 256), seed=seed) for seed in range(64)}
    serial = {seed: build_model(spec).state_dict() for seed, spec in spec_of.items()}
    mismatches: list[tuple[int, int, str]] = []
    barrier = threading.Barrier(num_threads)

    def worker(thread_idx: int) -> None:
        barrier.wait()
        for k in range(builds_per_thread):
            seed = (thread_idx * 13 + k * 7) % len(spec_of)  # threads overlap on seeds
            state = build_model(spec_of[seed]).state_dict()
            for key, tensor in serial[seed].items():
                if not torch.equal(state[key], tensor):
                    mismatches.append((thread_idx, seed, key))
            torch.manual_seed(thread_idx)  # a neighbour touching the global RNG
            torch.rand(64)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(num_threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert mismatches == []


def test_config_production_settings():
    settings = tomllib.loads(CONFIG.read_text(encoding="utf-8"))
    server, client = settings["server"], settings["client"]
    assert server["enableXsrfProtection"] is True
    assert server["fileWatcherType"] == "none"
    assert server["runOnSave"] is False
    assert 1 <= server["maxUploadSize"] <= 32
    assert 1 <= server["maxMessageSize"] <= 16
    assert 1 <= server["maxWidgetStateSize"] <= 4
    assert settings["browser"]["gatherUsageStats"] is False
    assert client["toolbarMode"] == "viewer"
    assert client["showErrorDetails"] == "none"
    assert settings["runner"]["postScriptGC"] is False


def test_config_options_exist_in_streamlit():
    """A misspelt option would be ignored without a word, so every name is checked."""
    settings = tomllib.loads(CONFIG.read_text(encoding="utf-8"))
    known = st_config._config_options_template
    for section, options in settings.items():
        for name in options:
            assert f"{section}.{name}" in known, f"{section}.{name}"


def test_count_parameters_exact_for_largest():
    spec = MLPSpec(MAX_IN_FEATURES, (MAX_WIDTH,) * MAX_HIDDEN_LAYERS, MAX_OUT_FEATURES)
    model_count = sum(p.numel() for p in build_model(spec).parameters())
    assert count_parameters(spec).num_params == model_count
    assert np.int64(model_count) == 2_371_600


def test_sgd_step_rejected_with_message():
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update(
        {
            "panels": "gradients",
            "act": "identity",
            "widths": "512,512,512",
            "x": "1e6,-1e6,1e6,-1e6,1e6",
        }
    )
    at.run()
    at.number_input(key="lesson_lr").set_value(MAX_LEARNING_RATE).run()
    at.button(key="lesson_sgd_step").click().run()
    assert_page_valid(at)
    first = {m.label: m.value for m in at.metric}
    at.button(key="lesson_sgd_step").click().run()
    assert_page_valid(at)
    rejected = [w.value for w in at.warning if "The step was rejected" in w.value]
    assert len(rejected) == 1, [w.value for w in at.warning]
    assert "lr 10" in rejected[0]
    assert {m.label: m.value for m in at.metric} == first  # the weights were kept


def stepped_metrics(seed: int, x_values, lr: float = 0.5) -> tuple[str, str]:
    """logits and softmax metrics after one SGD step toward class 0, computed directly."""
    model = build_model(MLPSpec(seed=seed))
    x = torch.tensor([x_values], dtype=torch.float32)
    params, _ = take_sgd_step(model, x, target=0, lr=lr)
    result = run_forward(private_copy(model, params), x)
    logits = " / ".join(format_value(v) for v in result.logits[0].tolist())
    probs = " / ".join(format_value(v) for v in result.probs[0].tolist())
    return logits, probs


def test_sgd_step_stays_in_its_session():
    a = AppTest.from_file(APP, default_timeout=60)
    a.query_params["panels"] = "gradients"
    a.run()
    b = new_app()
    b.number_input(key="seed").set_value(2).run()
    a.button(key="lesson_sgd_step").click().run()
    b.run()
    assert_page_valid(a)

    metrics_a = {m.label: m.value for m in a.metric}
    assert (metrics_a["logits"], metrics_a["softmax"]) == stepped_metrics(
        42, a.session_state["x_values"]
    )
    assert_session_shows(b, 2)
    # The cached network every session shares still has the seeded weights.
    fresh = build_model(MLPSpec()).state_dict()
    cached = new_app()
    assert_session_shows(cached, 42)
    assert np.array_equal(first_weight_shown(cached), fresh["layers.0.weight"].numpy())


def overflowing_state_dict() -> bytes:
    """Default-network weights times 1e30: finite in float32, but the logits overflow."""
    state = {k: v * 1e30 for k, v in build_model(MLPSpec()).state_dict().items()}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("neuron_layer", [0, 2])
def test_overflowing_upload_every_panel_finite(neuron_layer):
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update({"panels": ",".join(PANELS), "tables": "1"})
    at.session_state["lesson_neuron_layer"] = neuron_layer
    at.run()
    upload = (("huge.pt", overflowing_state_dict(), "application/octet-stream"),)
    at.file_uploader(key="upload_file").set_value(upload[0]).run()

    assert not at.exception, [e.value for e in at.exception]
    assert any("overflowed float32" in e.value for e in at.error)
    assert any("This lesson is not drawn" in w.value for w in at.warning)
    assert_no_nan_anywhere(at)
    assert_messages_inert(at)


def test_lab_at_largest_scale_and_inputs_finite():
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update(
        {
            "panels": "lab",
            "act": "identity",
            "widths": "512,512",
            "x": "1e6,-1e6,1e6,-1e6,1e6",
        }
    )
    at.run()
    at.slider(key="lesson_lab_scale").set_value(MAX_WEIGHT_SCALE)
    at.slider(key="lesson_lab_temperature").set_value(MIN_TEMPERATURE)
    at.run()
    assert_page_valid(at)
    assert_no_nan_anywhere(at)


def test_rejection_log_rate_limited(caplog):
    from components import widget_guard

    caplog.set_level(logging.WARNING, logger="components.widget_guard")
    widget_guard._pending.pop("none", None)
    widget_guard._rejection_counts.pop("none", None)
    for i in range(120):
        widget_guard._record(
            widget_guard.RejectedValue("seed", str(-i), "out of range")
        )
    lines = [
        r.getMessage() for r in caplog.records if r.name == "components.widget_guard"
    ]
    assert len(lines) == widget_guard.LOGGED_PER_SESSION + 1
    assert "count=100" in lines[-1]
    queued = widget_guard.pop_rejected_values()  # outside a session: the "none" queue
    assert len(queued) == widget_guard.MAX_PENDING_PER_SESSION
    assert widget_guard.pop_rejected_values() == []
