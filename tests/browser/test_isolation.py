"""Two students at once: two browser contexts on one real server never share state.

Each context is its own Streamlit session. The expected numbers come from torch in this
process, built with each session's seed and input. Runs in about 20 s on 2 cores, the server start included.
"""

from __future__ import annotations

import re

import pytest
import torch
from page_helpers import IDLE_APP, assert_page_healthy, metric_value, wait_for_idle
from playwright.sync_api import Page, expect

from mlp import MLPSpec, build_model, default_input, run_forward
from mlp.training import private_copy, take_sgd_step
from mlp.values import format_value

pytestmark = pytest.mark.browser

SEED_LABEL = re.compile(r"^Seed, torch\.manual_seed")


def expected_metric(spec: MLPSpec, x_values: list[float], name: str) -> str:
    """The logits or softmax metric text torch gives for `spec` and `x_values`."""
    result = run_forward(build_model(spec), torch.tensor([x_values]))
    values = result.logits if name == "logits" else result.probs
    return " / ".join(format_value(v) for v in values[0].tolist())


def open_session(
    chromium, server_url: str, console_errors: list[str], query: str = ""
) -> Page:
    context = chromium.new_context(viewport={"width": 1280, "height": 720})
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.on("pageerror", lambda error: console_errors.append(f"uncaught {error}"))
    page.goto(server_url + query)
    page.get_by_test_id("stMetricValue").first.wait_for()
    page.locator(IDLE_APP).wait_for()
    return page


def commit(page: Page, label, text: str) -> None:
    """Type `text` into the field labelled `label`, press Enter, wait for the rerun."""
    before = metric_value(page, "softmax").text_content()
    field = page.get_by_label(label)
    field.fill(text)
    field.press("Enter")
    expect(metric_value(page, "softmax")).not_to_have_text(before or "")
    wait_for_idle(page)


def assert_shows(page: Page, seed: int, x_values: list[float]) -> None:
    spec = MLPSpec(seed=seed)
    for name in ("logits", "softmax"):
        expect(metric_value(page, name)).to_have_text(
            expected_metric(spec, x_values, name)
        )


def stepped_metric(x_values: list[float], name: str) -> str:
    """The metric after one SGD step toward class 0 with lr 0.5, the page's defaults."""
    model = build_model(MLPSpec())
    x = torch.tensor([x_values])
    params, _ = take_sgd_step(model, x, target=0, lr=0.5)
    result = run_forward(private_copy(model, params), x)
    values = result.logits if name == "logits" else result.probs
    return " / ".join(format_value(v) for v in values[0].tolist())


def seeded_input(seed: int, index: int, value: float) -> list[float]:
    x_values = default_input(5, seed)[0].tolist()
    x_values[index] = value
    return x_values


def test_two_browser_sessions_isolated(chromium, streamlit_server):
    errors_a: list[str] = []
    errors_b: list[str] = []
    a = open_session(chromium, streamlit_server.url, errors_a)
    b = open_session(chromium, streamlit_server.url, errors_b)
    try:
        commit(a, SEED_LABEL, "1")
        commit(b, SEED_LABEL, "2")
        commit(a, "x[0]", "3.5")
        commit(b, "x[4]", "-250")
        assert_shows(a, 1, seeded_input(1, 0, 3.5))
        assert_shows(b, 2, seeded_input(2, 4, -250.0))

        # A change in one session reruns only that session.
        commit(a, "x[1]", "-0.5")
        x_a = seeded_input(1, 0, 3.5)
        x_a[1] = -0.5
        assert_shows(a, 1, x_a)
        assert_shows(b, 2, seeded_input(2, 4, -250.0))
        expect(b.get_by_label("x[1]")).to_have_value(
            format_value(default_input(5, 2)[0, 1].item())
        )
        assert_page_healthy(a, errors_a)
        assert_page_healthy(b, errors_b)
    finally:
        a.context.close()
        b.context.close()


def test_sgd_step_in_one_browser_only(chromium, streamlit_server):
    errors_a: list[str] = []
    errors_b: list[str] = []
    a = open_session(chromium, streamlit_server.url, errors_a, "/?panels=gradients")
    b = open_session(chromium, streamlit_server.url, errors_b)
    try:
        before = metric_value(a, "softmax").text_content()
        a.get_by_role("button", name="Take one SGD step").click()
        expect(metric_value(a, "softmax")).not_to_have_text(before or "")
        wait_for_idle(a)
        x_values = default_input(5, 42)[0].tolist()
        for name in ("logits", "softmax"):
            expect(metric_value(a, name)).to_have_text(stepped_metric(x_values, name))

        # B's next rerun still uses the seeded network, shared through the cache.
        commit(b, "x[1]", "0.25")
        assert_shows(b, 42, seeded_input(42, 1, 0.25))
        assert_page_healthy(a, errors_a)
        assert_page_healthy(b, errors_b)
    finally:
        a.context.close()
        b.context.close()
