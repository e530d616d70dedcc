"""Lesson panels in headless Chromium: what AppTest cannot click."""

from __future__ import annotations

import pytest
from page_helpers import (
    assert_page_healthy,
    chart_by_title,
    metric_value,
    wait_for_idle,
)
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

GOLDEN_SOFTMAX = "0.5025 / 0.4975"


def open_lesson(page: Page, title_start: str) -> None:
    """Open the lesson expander whose title starts with `title_start`."""
    expander = page.get_by_test_id("stExpander").filter(has_text=title_start)
    expander.locator("summary").click()
    wait_for_idle(page)


def test_heatmap_click_picks_neuron(page, console_errors):
    open_lesson(page, "One neuron, worked by hand")
    expect(page.get_by_text("weight[0, j] * input[j], one per j")).to_be_visible()

    heatmap = chart_by_title(page, "layers[0].weight (8, 5)").last
    heatmap.scroll_into_view_if_needed()
    cells = heatmap.locator(".nsewdrag").first.bounding_box()
    assert cells is not None
    # Rows 0 to 7 run top to bottom, so the middle of row 5 lies 5.5 / 8 of the way down.
    page.mouse.click(
        cells["x"] + cells["width"] * 0.5, cells["y"] + cells["height"] * 5.5 / 8
    )

    expect(page.get_by_text("weight[5, j] * input[j], one per j")).to_be_visible()
    wait_for_idle(page)
    expect(page.get_by_text("Plus bias[5]:")).to_be_visible()
    assert_page_healthy(page, console_errors)


def test_step_changes_only_this_session(
    page, console_errors, chromium, streamlit_server
):
    open_lesson(page, "Gradients and one SGD step")
    page.get_by_role("button", name="Take one SGD step").click()
    expect(page.get_by_text("After 1 SGD step.")).to_be_visible()
    wait_for_idle(page)
    expect(metric_value(page, "softmax")).not_to_have_text(GOLDEN_SOFTMAX)
    expect(
        page.get_by_text("after 1 SGD step from the seeded weights", exact=False)
    ).to_be_visible()

    # A second browser context is a second Streamlit session on the same server.
    other = chromium.new_context(viewport=page.viewport_size)
    try:
        other_page = other.new_page()
        other_page.goto(streamlit_server.url)
        expect(metric_value(other_page, "softmax")).to_have_text(GOLDEN_SOFTMAX)
        expect(other_page.get_by_text("after 1 SGD step", exact=False)).to_have_count(0)
    finally:
        other.close()

    page.get_by_role("button", name="Reset to seeded weights").first.click()
    expect(metric_value(page, "softmax")).to_have_text(GOLDEN_SOFTMAX)
    assert_page_healthy(page, console_errors)
