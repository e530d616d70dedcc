"""A real `streamlit run` server driven over its websocket by raw protocol clients.

The clients send what no browser widget would: out-of-range numbers, NaN, values of
the wrong type, unknown options, cache clears and floods of reruns. One server is
started for the module; the file runs in about 30 s on 2 cores.
"""

from __future__ import annotations

import math
import threading
import time
import tomllib
from urllib.parse import urlencode

import pytest
import torch
from streamlit.proto.BackMsg_pb2 import BackMsg
from ws_client import (
    ROOT,
    PageRun,
    StreamlitClient,
    rss_bytes,
    streamlit_server,
    upload_file,
    xsrf_token,
)

from components.upload_limits import MAX_FILES_PER_SESSION
from mlp import MLPSpec, build_model, default_input, run_forward
from mlp.loading import MAX_FILE_BYTES
from mlp.query import PANELS
from mlp.spec import MAX_HIDDEN_LAYERS, MAX_IN_FEATURES, MAX_OUT_FEATURES, MAX_WIDTH
from mlp.training import private_copy, take_sgd_step
from mlp.values import format_value

CONFIG = ROOT / ".streamlit" / "config.toml"
DEFAULT_METRICS = {
    "Parameters": "94",
    "logits": "0.3806 / 0.3704",
    "softmax": "0.5025 / 0.4975",
}
# Flood bounds: the attacking client stops after this many messages or seconds.
FLOOD_MESSAGES = 400
FLOOD_SECONDS = 5.0
# A rerun of the victim may wait behind the attacker's, but never this long.
VICTIM_RERUN_LIMIT_S = 10.0


@pytest.fixture(scope="module")
def server():
    log_dir = ROOT / "test-artifacts"
    log_dir.mkdir(exist_ok=True)
    with streamlit_server(log_dir / "hardening-server.log") as running:
        yield running


@pytest.fixture
def client(server):
    with StreamlitClient(server) as connected:
        page = connected.run()
        assert_healthy(page)
        yield connected


def assert_healthy(page: PageRun) -> None:
    assert page.finished == "FINISHED_SUCCESSFULLY", page.finished
    assert page.exceptions == [], [(e.type, e.message) for e in page.exceptions]
    assert page.errors == [], page.errors


def expected_metrics(spec: MLPSpec, x_values: list[float]) -> dict[str, str]:
    """The three metrics the page must show, computed by torch directly."""
    result = run_forward(build_model(spec), torch.tensor([x_values]))
    num_params = sum(o * i + (o if spec.bias else 0) for i, o in spec.linear_shapes())
    return {
        "Parameters": f"{num_params:,}",
        "logits": " / ".join(format_value(v) for v in result.logits[0].tolist()[:4])
        + (" ..." if spec.out_features > 4 else ""),
        "softmax": " / ".join(format_value(v) for v in result.probs[0].tolist()[:4])
        + (" ..." if spec.out_features > 4 else ""),
    }


# (widget key, WidgetState value field and value, text the warning must contain)
TAMPERED = [
    ("in_features", {"int_value": 5000}, "1 to 1,024"),
    ("in_features", {"int_value": 0}, "1 to 1,024"),
    ("in_features", {"double_value": math.nan}, "1 to 1,024"),
    ("in_features", {"double_value": math.inf}, "1 to 1,024"),
    ("in_features", {"double_value": 5.5}, "whole number"),
    ("in_features", {"string_value": "7"}, "1 to 1,024"),
    ("seed", {"int_value": -1}, "0 to 4,294,967,295"),
    ("seed", {"int_value": 2**32}, "0 to 4,294,967,295"),
    ("seed", {"double_value": 1e39}, "0 to 4,294,967,295"),
    ("n_hidden", {"double_array_value": [9]}, "0 to 8"),
    ("n_hidden", {"double_array_value": [-1]}, "0 to 8"),
    ("n_hidden", {"double_value": 3}, "list of numbers"),
    ("n_hidden", {"double_array_value": [1, 2]}, "0 to 8"),
    ("width_0", {"double_array_value": [0]}, "1 to 512"),
    ("width_0", {"double_array_value": [513]}, "1 to 512"),
    ("width_0", {"double_array_value": [math.nan]}, "1 to 512"),
    ("out_features", {"double_array_value": [1]}, "2 to 16"),
    ("out_features", {"double_array_value": [17]}, "2 to 16"),
    ("out_features", {"string_value": "x"}, "list of numbers"),
    ("activation", {"string_value": "Softplus"}, "not one of the options"),
    ("activation", {"string_value": "relu"}, "not one of the options"),
    ("activation", {"int_value": 99}, "expects a str"),
    ("activation", {"double_array_value": [0]}, "expects a str"),
    ("bias", {"string_value": "yes"}, "expects a bool"),
    ("preset", {"string_value": "Huge 1024-4096-16"}, "not one of the options"),
    ("x_0", {"double_value": 1e39}, "expects a str"),
    ("x_0", {"double_array_value": [1, 2]}, "expects a str"),
]


@pytest.mark.parametrize(("key", "value", "allowed"), TAMPERED)
def test_tampered_widget_value_rejected(client, key, value, allowed):
    page = client.run([client.state(key, **value)])
    assert_healthy(page)
    warnings = [w for w in page.warnings if f"sent for {key} was rejected" in w]
    assert len(warnings) == 1, page.warnings
    assert allowed in warnings[0]
    assert page.metrics == DEFAULT_METRICS  # the control kept its last valid value

    settled = client.run()
    assert_healthy(settled)
    assert settled.metrics == DEFAULT_METRICS
    assert not [w for w in settled.warnings if "was rejected" in w]


@pytest.fixture
def lesson_client(server):
    """A session with every lesson open, so their widgets exist."""
    with StreamlitClient(server) as connected:
        page = connected.run(query_string="panels=" + ",".join(PANELS))
        assert_healthy(page)
        yield connected


def selection(row: str) -> dict[str, str]:
    """A plotly chart selection as the browser sends it, with `row` as raw JSON."""
    points = '[{"y": ' + row + "}]"
    return {"string_value": '{"selection": {"points": ' + points + "}}"}


# (widget key, value sent, text the rejection must contain, or None: silently ignored)
LESSON_TAMPERED = [
    ("lesson_lr", {"double_value": 1e9}, "0.0001 to 10"),
    ("lesson_lr", {"double_value": math.nan}, "0.0001 to 10"),
    ("lesson_lab_scale", {"double_array_value": [100]}, "0 to 10"),
    (
        "lesson_lab_temperature",
        {"double_array_value": [0]},
        "outside the allowed range",
    ),
    ("lesson_target", {"string_value": "99"}, "not one of the options"),
    ("lesson_neuron_layer", {"string_value": "7"}, "not one of the options"),
    ("lesson_neuron_index", {"string_value": "-1"}, "not one of the options"),
    ("projector", {"int_value": 5}, "expects a bool"),
    ("upload_activation", {"string_value": "Softplus"}, "not one of the options"),
    ("lesson_sgd_step", {"string_value": "go"}, "expects a bool"),
    ("lesson_neuron_heatmap", {"json_value": "{}"}, "cannot be read"),
    ("lesson_neuron_heatmap", {"string_value": "not json"}, "cannot be read"),
    ("lesson_neuron_heatmap", {"string_value": '{"selection": 5}'}, "cannot be read"),
    ("lesson_neuron_heatmap", selection('"abc"'), None),
    ("lesson_neuron_heatmap", selection("NaN"), None),
    ("lesson_neuron_heatmap", selection("[1]"), None),
    ("lesson_neuron_heatmap", selection("1e9"), None),
    ("lesson_neuron_heatmap", selection("-3"), None),
]


@pytest.mark.parametrize(("key", "value", "allowed"), LESSON_TAMPERED)
def test_tampered_lesson_value_rejected(lesson_client, key, value, allowed):
    page = lesson_client.run([lesson_client.state(key, **value)])
    assert_healthy(page)
    rejected = [w for w in page.warnings if f"sent for {key} was rejected" in w]
    if allowed is None:
        assert rejected == []
    else:
        assert len(rejected) == 1, page.warnings
        assert allowed in rejected[0]
    assert page.metrics == DEFAULT_METRICS
    assert_healthy(lesson_client.run())


@pytest.mark.parametrize(
    ("key", "value"),
    [("x_1", {"string_value": "nan"}), ("x_1", {"string_value": "1" * 25})],
)
def test_tampered_text_gets_app_message(client, key, value):
    page = client.run([client.state(key, **value)])
    assert_healthy(page)
    assert any("x[1]" in w and "1e6" in w for w in page.warnings), page.warnings
    assert page.metrics == DEFAULT_METRICS


@pytest.mark.parametrize(
    ("field", "value"),
    [("page_script_hash", "no-such-page"), ("page_name", "../../etc/passwd")],
)
def test_unknown_page_runs_main_page(client, field, value):
    msg = BackMsg()
    setattr(msg.rerun_script, field, value)
    client.send(msg)
    page = client.collect_run()
    assert_healthy(page)
    assert page.metrics == DEFAULT_METRICS


def test_unknown_fragment_ignored(client):
    msg = BackMsg()
    msg.rerun_script.fragment_id = "no-such-fragment"
    client.send(msg)
    page = client.run()  # the fragment run never starts; the next full run works
    assert_healthy(page)
    assert page.metrics == DEFAULT_METRICS


def test_valid_values_accepted_over_websocket(client):
    page = client.run(
        [
            client.state("in_features", int_value=7),
            client.state("n_hidden", double_array_value=[1]),
            client.state("width_0", double_array_value=[16]),
            client.state("activation", string_value="Tanh"),
            client.state("bias", bool_value=False),
            client.state("seed", int_value=123),
        ]
    )
    assert_healthy(page)
    assert not [w for w in page.warnings if "was rejected" in w], page.warnings
    spec = MLPSpec(7, (16,), 2, "tanh", False, 123)
    x_values = default_input(7, 123)[0].tolist()
    assert page.metrics == expected_metrics(spec, x_values)


def set_session(
    client: StreamlitClient, seed: int, index: int, text: str
) -> list[float]:
    """Give the session its own seed and one typed input; return its input vector."""
    assert_healthy(client.run([client.state("seed", int_value=seed)]))
    assert_healthy(client.run([client.state(f"x_{index}", string_value=text)]))
    x_values = default_input(5, seed)[0].tolist()
    x_values[index] = float(text)
    return x_values


def test_two_live_sessions_isolated(server):
    with StreamlitClient(server) as a, StreamlitClient(server) as b:
        assert_healthy(a.run())
        assert_healthy(b.run())
        x_a = set_session(a, seed=1, index=0, text="3.5")
        x_b = set_session(b, seed=2, index=4, text="-250")
        for _ in range(3):  # interleaved reruns must not mix the two states
            page_b = b.run()
            page_a = a.run()
            assert page_a.metrics == expected_metrics(MLPSpec(seed=1), x_a)
            assert page_b.metrics == expected_metrics(MLPSpec(seed=2), x_b)


def stepped_metrics(spec: MLPSpec, x_values: list[float]) -> dict[str, str]:
    """The metrics after one SGD step toward class 0 with lr 0.5, the page's defaults."""
    model = build_model(spec)
    x = torch.tensor([x_values])
    params, _ = take_sgd_step(model, x, target=0, lr=0.5)
    result = run_forward(private_copy(model, params), x)
    metrics = expected_metrics(spec, x_values)
    metrics["logits"] = " / ".join(format_value(v) for v in result.logits[0].tolist())
    metrics["softmax"] = " / ".join(format_value(v) for v in result.probs[0].tolist())
    return metrics


def test_sgd_step_isolated_between_live_sessions(server):
    with StreamlitClient(server) as a, StreamlitClient(server) as b:
        assert_healthy(a.run(query_string="panels=gradients"))
        assert_healthy(b.run())
        stepped = a.run([a.state("lesson_sgd_step", trigger_value=True)])
        assert_healthy(stepped)

        x_values = default_input(5, 42)[0].tolist()
        assert stepped.metrics == stepped_metrics(MLPSpec(), x_values)
        assert stepped.metrics != DEFAULT_METRICS

        assert b.run().metrics == DEFAULT_METRICS  # B still has the seeded network
        assert a.run().metrics == stepped.metrics  # A keeps its stepped copy
        with StreamlitClient(server) as c:
            assert c.run().metrics == DEFAULT_METRICS


def flood(server, stop: threading.Event, sent: list[int]) -> None:
    """Send cache clears and reruns with a changing seed, without reading replies."""
    deadline = time.monotonic() + FLOOD_SECONDS
    with StreamlitClient(server) as attacker:
        attacker.run()
        for i in range(FLOOD_MESSAGES // 2):
            if stop.is_set() or time.monotonic() > deadline:
                break
            attacker.clear_cache()
            attacker.request_rerun([attacker.state("seed", int_value=1000 + i)])
            sent.append(2)
            time.sleep(0.01)


def test_flood_and_cache_clears_spare_other_session(server):
    with StreamlitClient(server) as victim:
        assert_healthy(victim.run(query_string="panels=gradients"))
        x_values = set_session(victim, seed=7, index=2, text="0.75")
        step = victim.run([victim.state("lesson_sgd_step", trigger_value=True)])
        assert_healthy(step)
        expected = stepped_metrics(MLPSpec(seed=7), x_values)
        assert step.metrics == expected

        stop, sent = threading.Event(), []
        attacker = threading.Thread(target=flood, args=(server, stop, sent))
        attacker.start()
        try:
            durations = []
            for _ in range(5):
                started = time.monotonic()
                page = victim.run(timeout=VICTIM_RERUN_LIMIT_S)
                durations.append(time.monotonic() - started)
                assert_healthy(page)
                assert page.metrics == expected
        finally:
            stop.set()
            attacker.join(timeout=FLOOD_SECONDS + 30)
        assert sum(sent) > 20, "the flood sent too little to test anything"
        assert max(durations) < VICTIM_RERUN_LIMIT_S, durations

        after = victim.run()
        assert_healthy(after)
        assert after.metrics == expected


def test_new_session_after_flood_gets_defaults(server):
    with StreamlitClient(server) as late:
        page = late.run()
        assert_healthy(page)
        assert page.metrics == DEFAULT_METRICS


def test_rejections_logged_with_session_id(server, client):
    client.run([client.state("seed", int_value=-5)])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        lines = [
            line
            for line in server.log_text().splitlines()
            if "rejected widget value" in line and "widget=seed value=-5" in line
        ]
        if lines:
            break
        time.sleep(0.1)
    assert len(lines) == 1, lines
    assert "session_id=" in lines[0]
    assert "session_id=none" not in lines[0]


def test_upload_over_size_cap_rejected(server, client):
    token = xsrf_token(server)
    status = upload_file(
        server, client.session_id, "big", b"\0" * (MAX_FILE_BYTES + 2**20), token
    )
    assert status in (413, None)  # None: closed after the 413, before the body went
    assert upload_file(server, client.session_id, "small", b"\0" * 1024, token) == 204
    assert_healthy(client.run())


UPLOAD_COUNT = 12
UPLOAD_BYTES = 8 * 2**20


def test_uploads_per_session_capped(server, client):
    """Many uploads under new file ids keep at most two files in the server's memory."""
    token = xsrf_token(server)
    before = rss_bytes(server.process.pid)
    for i in range(UPLOAD_COUNT):
        data = bytes([i]) * UPLOAD_BYTES
        assert upload_file(server, client.session_id, f"file{i}", data, token) == 204
    growth = rss_bytes(server.process.pid) - before
    # Without the cap the server keeps all 96 MiB; with it, two files and some slack.
    assert growth < (MAX_FILES_PER_SESSION + 3) * UPLOAD_BYTES, growth / 2**20
    evictions = [
        line
        for line in server.log_text().splitlines()
        if "upload store over its cap" in line and client.session_id in line
    ]
    assert len(evictions) == UPLOAD_COUNT - MAX_FILES_PER_SESSION
    assert_healthy(client.run())


def test_largest_page_fits_message_limit(server):
    """The largest network with every lesson and table open stays far below the cap."""
    limit = tomllib.loads(CONFIG.read_text(encoding="utf-8"))["server"][
        "maxMessageSize"
    ]
    query = urlencode(
        {
            "inputs": MAX_IN_FEATURES,
            "widths": ",".join([str(MAX_WIDTH)] * MAX_HIDDEN_LAYERS),
            "outputs": MAX_OUT_FEATURES,
            "panels": ",".join(PANELS),
            "tables": 1,
        }
    )
    with StreamlitClient(server) as largest:
        page = largest.run(query_string=query, timeout=120)
        assert_healthy(page)
        assert page.metrics["Parameters"] == "2,371,600"
        # Measured 0.09 MB for the largest message; a tenth of the cap leaves room.
        assert page.max_frame_bytes < limit * 2**20 / 10, page.max_frame_bytes
