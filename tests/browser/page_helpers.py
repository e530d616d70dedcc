"""Locators and waits for the Streamlit page, shared by the browser fixtures and tests."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Locator, Page, expect

# Streamlit 1.67 sets these attributes on the app root; "notRunning" means the last
# script run has finished and its elements are on the page.
IDLE_APP = (
    '[data-testid="stApp"]'
    '[data-test-script-state="notRunning"]'
    '[data-test-connection-state="CONNECTED"]'
)
# Tallest viewport a full-page screenshot asks for, so a runaway page cannot exhaust memory.
MAX_SCREENSHOT_HEIGHT = 12_000


def wait_for_idle(page: Page) -> None:
    """Wait until the current script run has finished and the status widget is gone.

    A rerun may not have started yet when this is called, so callers first wait for
    a change they expect on the page and then call this.
    """
    page.locator(IDLE_APP).wait_for()
    page.get_by_test_id("stStatusWidget").wait_for(state="hidden")


def chart_by_title(page: Page, title: str, exact: bool = True) -> Locator:
    """Plotly chart whose title is `title`, or starts with it when `exact` is False."""
    pattern = "^" + re.escape(title) + ("$" if exact else "")
    return page.get_by_test_id("stPlotlyChart").filter(
        has=page.locator(".gtitle", has_text=re.compile(pattern))
    )


def heatmap_charts(page: Page) -> Locator:
    """Plotly charts that contain at least one drawn heatmap image."""
    return page.get_by_test_id("stPlotlyChart").filter(
        has=page.locator(".heatmaplayer image")
    )


def bar_labels(page: Page, title: str) -> Locator:
    """Value labels drawn on the bars of the chart titled `title`."""
    return chart_by_title(page, title).locator(".bartext")


def metric_value(page: Page, label: str) -> Locator:
    """Value of the `st.metric` whose label is `label`."""
    metric = page.get_by_test_id("stMetric").filter(
        has=page.get_by_test_id("stMetricLabel").filter(
            has_text=re.compile(f"^{label}$")
        )
    )
    return metric.get_by_test_id("stMetricValue")


def tick_labels(chart: Locator, axis: str) -> list[str]:
    """Tick labels of the first subplot's `axis` ("x" or "y"), in drawn order."""
    return [
        text.text_content() or "" for text in chart.locator(f".{axis}tick text").all()
    ]


def assert_page_healthy(page: Page, console_errors: list[str]) -> None:
    """Fail if Streamlit shows an exception or the browser logged an error."""
    expect(page.get_by_test_id("stException")).to_have_count(0)
    assert console_errors == [], f"browser console errors: {console_errors}"


def save_full_page_screenshot(page: Page, path: Path) -> None:
    """Save the whole page as a PNG.

    Streamlit scrolls inside its main and sidebar containers, not the document, so a
    plain full-page screenshot shows one viewport. The viewport is first made as tall
    as the taller container, keeping its width so charts keep their layout.
    """
    height = page.evaluate(
        """() => Math.max(
            document.documentElement.scrollHeight,
            ...[...document.querySelectorAll(
                '[data-testid="stMain"], [data-testid="stSidebarContent"]'
            )].map((element) => element.scrollHeight),
        )"""
    )
    width = (page.viewport_size or {"width": 1280})["width"]
    page.set_viewport_size(
        {"width": width, "height": min(int(height), MAX_SCREENSHOT_HEIGHT)}
    )
    # Streamlit and plotly re-layout on the resize event; give them a moment to paint.
    page.wait_for_timeout(500)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
