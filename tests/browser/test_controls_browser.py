"""Sidebar controls in a real browser: what the sliders show matches the network."""

from __future__ import annotations

import pytest
from page_helpers import assert_page_healthy, metric_value, wait_for_idle
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def slider_values(page: Page) -> dict[str, str]:
    """Label and displayed value of every slider in the sidebar."""
    texts = page.get_by_test_id("stSlider").all_inner_texts()
    values = {}
    for text in texts:
        lines = [line for line in text.splitlines() if line.strip()]
        values[lines[0]] = lines[1]
    return values


def test_quick_layer_changes_keep_widths(page: Page, console_errors: list[str]):
    """Hidden layers 2 -> 0 -> 2 with no pause between key presses.

    A width slider that disappears and comes back must show the width the network
    uses. Before the widths were remembered, the browser showed layer 2 at width 1
    while the server built it with width 4.
    """
    layers = page.get_by_test_id("stSlider").filter(has_text="Hidden layers")
    thumb = layers.get_by_role("slider")
    thumb.focus()
    for key in ("ArrowLeft", "ArrowLeft", "ArrowRight", "ArrowRight"):
        thumb.press(key)
        page.wait_for_timeout(0)
    page.wait_for_timeout(1500)
    wait_for_idle(page)

    expect(metric_value(page, "Parameters")).to_have_text("94")
    values = slider_values(page)
    assert values["Hidden layers"] == "2"
    assert values["Hidden layer 1 width (out_features)"] == "8"
    assert values["Hidden layer 2 width (out_features)"] == "4"
    assert "widths=8%2C4" in page.evaluate("() => location.search")
    assert_page_healthy(page, console_errors)
