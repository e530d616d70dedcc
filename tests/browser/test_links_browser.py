"""Links and projector mode in headless Chromium: a copied link reopens the same page."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import VIEWPORT
from page_helpers import (
    IDLE_APP,
    assert_page_healthy,
    chart_by_title,
    metric_value,
    wait_for_idle,
)
from playwright.sync_api import Page, expect

from mlp import MLPSpec, build_model, run_forward
from mlp.network import default_input
from mlp.values import format_value

pytestmark = pytest.mark.browser

WIDTH_SLIDER = "Hidden layer 1 width (out_features)"


def link_box(page: Page) -> str:
    """Return the link shown in the sidebar's code box."""
    code = page.get_by_test_id("stSidebar").get_by_test_id("stCode")
    return (code.text_content() or "").strip()


def open_fresh(page: Page, url: str, errors: list[str]) -> Page:
    """Open `url` in a new browser context, as another student's browser would."""
    context = page.context.browser.new_context(viewport=VIEWPORT)
    fresh = context.new_page()
    fresh.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    fresh.goto(url)
    fresh.get_by_test_id("stMetricValue").first.wait_for()
    fresh.locator(IDLE_APP).wait_for()
    return fresh


def test_copied_link_reopens_identically(page, console_errors):
    slider = page.get_by_role("slider", name=WIDTH_SLIDER)
    slider.focus()
    slider.press("ArrowRight")  # hidden widths 9, 4
    expect(metric_value(page, "Parameters")).to_have_text("104")
    field = page.get_by_label("x[0]", exact=True)
    field.fill("2")
    field.press("Enter")

    x = default_input(5, 42)
    x[0, 0] = 2.0  # (1, in_features)
    result = run_forward(build_model(MLPSpec(hidden_widths=(9, 4))), x)
    softmax = " / ".join(format_value(p) for p in result.probs[0].tolist())
    expect(metric_value(page, "softmax")).to_have_text(softmax)
    wait_for_idle(page)

    link = link_box(page)
    query = parse_qs(urlsplit(link).query)
    assert query["widths"] == ["9,4"]
    assert query["x"][0].startswith("2,")
    # The address bar contains the same query, with commas percent-encoded.
    expect(page).to_have_url(link.replace(",", "%2C"))

    fresh_errors: list[str] = []
    fresh = open_fresh(page, link, fresh_errors)
    try:
        for label in ("Parameters", "logits", "softmax"):
            expect(metric_value(fresh, label)).to_have_text(
                metric_value(page, label).text_content() or ""
            )
        expect(fresh.get_by_label("x[0]", exact=True)).to_have_value("2.0000")
        assert link_box(fresh) == link
        assert_page_healthy(fresh, fresh_errors)
    finally:
        fresh.context.close()
    assert_page_healthy(page, console_errors)


def test_projector_link_enlarges_type(page, console_errors):
    normal_size = metric_value(page, "softmax").evaluate(
        "e => parseFloat(getComputedStyle(e).fontSize)"
    )
    fresh_errors: list[str] = []
    fresh = open_fresh(page, page.url.split("?")[0] + "?projector=1", fresh_errors)
    try:
        expect(fresh.get_by_role("switch", name="Projector mode")).to_be_checked()
        # The page's stylesheets arrive as elements of their own, so the size can
        # change after the metric first draws: wait for it rather than read it once.
        value = metric_value(fresh, "softmax").element_handle()
        fresh.wait_for_function(
            "([e, size]) => parseFloat(getComputedStyle(e).fontSize) >= size",
            arg=[value, 1.2 * normal_size],
        )
        tick = chart_by_title(fresh, "logits").locator(".xtick text").first
        expect(tick).to_have_css("font-size", "22px")
        assert "projector=1" in fresh.url
        assert_page_healthy(fresh, fresh_errors)
    finally:
        fresh.context.close()
    assert_page_healthy(page, console_errors)
