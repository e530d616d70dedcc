"""Values that round to zero read 0.0000 in the browser, in bar labels and hover text.

Hover text is formatted by plotly.js with d3-format, not by the server. Inputs of 1e-9
without bias give logits of about -1.5e-10 and 1.3e-10, so the negative one would print
as -0.0000 if the browser kept its sign. Runs in about 5 s on 2 cores.
"""

from __future__ import annotations

import pytest
import torch
from page_helpers import IDLE_APP, chart_by_title
from playwright.sync_api import expect

from mlp import MLPSpec, build_model, run_forward

pytestmark = pytest.mark.browser

TINY = 1e-9
QUERY = "/?bias=0&x=" + ",".join([f"{TINY:g}"] * 5)


def test_tiny_negative_logit_hover_reads_zero(chromium, streamlit_server):
    logits = run_forward(build_model(MLPSpec(bias=False)), torch.full((1, 5), TINY))
    assert logits.logits[0, 0].item() < 0  # the case this test is about

    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(streamlit_server.url + QUERY)
        page.get_by_test_id("stMetricValue").first.wait_for()
        page.locator(IDLE_APP).wait_for()
        chart = chart_by_title(page, "logits")
        chart.scroll_into_view_if_needed()
        expect(chart.locator(".bartext")).to_have_text(["0.0000", "0.0000"])

        bars = chart.locator(".bars .point path")
        expect(bars).to_have_count(2)
        for class_idx in range(2):
            box = bars.nth(class_idx).bounding_box()
            assert box is not None
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            expect(page.locator(".hoverlayer .hovertext")).to_have_text(
                f"class {class_idx}: 0.0000"
            )
    finally:
        context.close()
