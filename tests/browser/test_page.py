"""The page as a student sees it: a real `streamlit run` server in headless Chromium.

Expected numbers that are not the documented defaults come from real torch in this
process, with the same spec and input the page uses.
"""

from __future__ import annotations

import io
import itertools
from dataclasses import dataclass

import numpy as np
import plotly.colors
import pytest
from page_helpers import (
    assert_page_healthy,
    bar_labels,
    chart_by_title,
    heatmap_charts,
    metric_value,
    tick_labels,
    wait_for_idle,
)
from PIL import Image
from playwright.sync_api import Locator, Page, expect

from mlp import MLPSpec, build_model, run_forward
from mlp.network import default_input, linear_layers
from mlp.values import format_value

pytestmark = pytest.mark.browser

DEFAULT_SPEC = MLPSpec()
DEFAULT_PROBS = ["0.5025", "0.4975"]
DEFAULT_LOGITS = ["0.3806", "0.3704"]
SOFTMAX_TITLE = "softmax(logits)"
WIDTH_SLIDER = "Hidden layer 1 width (out_features)"
# The page's default diverging scale: red for negative, white at zero, blue for positive.
COLORSCALE = "RdBu"


def expected_probs(first_value: float) -> list[str]:
    """Softmax labels for the seeded default input with x[0] replaced by `first_value`."""
    x = default_input(DEFAULT_SPEC.in_features, DEFAULT_SPEC.seed).clone()
    x[0, 0] = first_value  # (1, in_features)
    result = run_forward(build_model(DEFAULT_SPEC), x)
    return [format_value(p) for p in result.probs[0].tolist()]


def heatmap_chart(page: Page, layer_idx: int) -> Locator:
    return chart_by_title(page, f"layers[{layer_idx}].weight ", exact=False)


def commit_input(page: Page, label: str, text: str, key: str = "Enter") -> None:
    """Type `text` into the input field labelled `label` and commit it with `key`."""
    field = page.get_by_label(label, exact=True)
    field.fill(text)
    field.press(key)


def test_default_page_golden_values(page, console_errors):
    expect(metric_value(page, "softmax")).to_have_text(" / ".join(DEFAULT_PROBS))
    expect(metric_value(page, "Parameters")).to_have_text("94")
    expect(bar_labels(page, SOFTMAX_TITLE)).to_have_text(DEFAULT_PROBS)
    expect(bar_labels(page, "logits")).to_have_text(DEFAULT_LOGITS)
    for title in ("logits", SOFTMAX_TITLE):
        bars = chart_by_title(page, title).locator(".bars .point path")
        expect(bars).to_have_count(DEFAULT_SPEC.out_features)

    linears = linear_layers(build_model(DEFAULT_SPEC))
    expect(heatmap_charts(page)).to_have_count(len(linears))
    for layer_idx, linear in linears:
        chart = heatmap_chart(page, layer_idx)
        expect(chart.locator(".gtitle")).to_contain_text(
            str(tuple(linear.weight.shape))
        )
        # The heatmap trace is drawn as a PNG image: weight first, then the bias column.
        image = chart.locator(".heatmaplayer image").first
        assert (image.get_attribute("href") or "").startswith("data:image/png;base64,")
        box = image.bounding_box()
        assert box is not None
        assert box["width"] > 0
        assert box["height"] > 0
    assert_page_healthy(page, console_errors)


def test_width_slider_keyboard_reshapes(page, console_errors):
    slider = page.get_by_role("slider", name=WIDTH_SLIDER)
    expect(slider).to_have_value("8")
    slider.focus()
    slider.press("ArrowRight")

    # Layer sizes 5 -> 9 -> 4 -> 2. Each Linear has out * in weights and out biases.
    sizes = [5, 9, 4, 2]
    total = sum(out * inp + out for inp, out in itertools.pairwise(sizes))
    assert total == 9 * 5 + 9 + 4 * 9 + 4 + 2 * 4 + 2
    expect(metric_value(page, "Parameters")).to_have_text(str(total))
    # Until the rerun ends, the old chart can still be on the page beside the new one.
    expect(chart_by_title(page, "layers[0].weight (9, 5)", exact=False)).to_have_count(
        1
    )
    expect(chart_by_title(page, "layers[2].weight (4, 9)", exact=False)).to_have_count(
        1
    )
    wait_for_idle(page)
    expect(heatmap_charts(page)).to_have_count(3)

    first = heatmap_chart(page, 0)
    expect(first).to_have_count(1)
    # Rows are out_features and columns in_features, one tick per index.
    assert sorted(tick_labels(first, "y"), key=int) == [str(i) for i in range(9)]
    assert sorted(tick_labels(first, "x"), key=int) == [str(j) for j in range(5)]
    expect(slider).to_have_value("9")
    assert_page_healthy(page, console_errors)


def test_input_value_changes_softmax(page, console_errors):
    expect(page.get_by_label("x[0]", exact=True)).to_have_value("0.3367")
    probs = expected_probs(2.0)
    assert probs != DEFAULT_PROBS

    commit_input(page, "x[0]", "2")
    expect(bar_labels(page, SOFTMAX_TITLE)).to_have_text(probs)
    expect(metric_value(page, "softmax")).to_have_text(" / ".join(probs))
    wait_for_idle(page)
    assert_page_healthy(page, console_errors)


def test_non_number_warns_and_recovers(page, console_errors):
    commit_input(page, "x[0]", "abc")
    warning = page.get_by_test_id("stAlertContentWarning")
    expect(warning).to_have_count(1)
    expect(warning).to_contain_text("x[0]")
    expect(warning).to_contain_text("abc")
    wait_for_idle(page)
    # The forward pass keeps the last valid input.
    expect(bar_labels(page, SOFTMAX_TITLE)).to_have_text(DEFAULT_PROBS)
    assert_page_healthy(page, console_errors)

    probs = expected_probs(1.5)
    commit_input(page, "x[0]", "1.5", key="Tab")
    expect(bar_labels(page, SOFTMAX_TITLE)).to_have_text(probs)
    expect(warning).to_have_count(0)
    wait_for_idle(page)
    assert_page_healthy(page, console_errors)


@dataclass(frozen=True)
class Cell:
    """One weight of a Linear: its position and the colour the scale gives it."""

    row: int
    col: int
    value: float
    expected_rgb: tuple[int, int, int]


def scale_colour(value: float, zmax: float) -> tuple[int, int, int]:
    """Colour of `value` on COLORSCALE over [-zmax, zmax], as plotly interpolates it."""
    position = (value + zmax) / (2 * zmax)
    sampled = plotly.colors.sample_colorscale(COLORSCALE, [position])[0]
    return tuple(round(float(c)) for c in sampled[4:-1].split(","))


def sign_cells(layer_idx: int) -> dict[str, Cell]:
    """The largest positive, largest negative and smallest |w| weight of a default Linear."""
    linear = dict(linear_layers(build_model(DEFAULT_SPEC)))[layer_idx]
    weight = linear.weight.detach().numpy()  # (out_features, in_features)
    zmax = max(
        float(np.abs(weight).max()), float(np.abs(linear.bias.detach().numpy()).max())
    )
    picks = {
        "positive": np.argmax(weight),
        "negative": np.argmin(weight),
        "zero": np.argmin(np.abs(weight)),
    }
    cells = {}
    for name, flat in picks.items():
        row, col = np.unravel_index(flat, weight.shape)
        value = float(weight[row, col])
        cells[name] = Cell(int(row), int(col), value, scale_colour(value, zmax))
    return cells


def drawn_colour(chart: Locator, cell: Cell) -> tuple[int, int, int]:
    """Median colour of a 5x5 patch at the centre of `cell` in a screenshot of `chart`.

    The centre is where the row's y tick label and the column's x tick label point,
    so the lookup follows the drawn axes, not an assumed orientation.
    """
    centre = chart.evaluate(
        """(chart, [row, col]) => {
            const origin = chart.getBoundingClientRect();
            const label = (axis, index) => [...chart.querySelectorAll(`.${axis}tick text`)]
                .find((text) => text.textContent === String(index))
                .getBoundingClientRect();
            const x = label("x", col), y = label("y", row);
            return [x.left + x.width / 2 - origin.left, y.top + y.height / 2 - origin.top];
        }""",
        [cell.row, cell.col],
    )
    image = Image.open(io.BytesIO(chart.screenshot())).convert("RGB")
    cx, cy = round(centre[0]), round(centre[1])
    patch = np.asarray(image.crop((cx - 2, cy - 2, cx + 3, cy + 3))).reshape(-1, 3)
    return tuple(int(c) for c in np.median(patch, axis=0))


def test_heatmap_colours_by_sign(page, console_errors):
    """A positive, a near-zero and a negative weight are drawn in three distinct colours.

    No default weight is exactly 0, so the near-zero cell is the smallest |w| of
    layers[2], -0.0062, which is 1.8 % of its colour range from the middle of the
    scale. The cells' colours are read from a screenshot of the drawn chart and
    compared with RdBu sampled where the weight sits on a range symmetric about 0.
    """
    layer_idx = 2
    cells = sign_cells(layer_idx)
    assert abs(cells["zero"].value) < 0.01
    chart = heatmap_chart(page, layer_idx)
    expect(chart.locator(".heatmaplayer image").first).to_be_visible()
    chart.scroll_into_view_if_needed()
    wait_for_idle(page)
    drawn = {name: drawn_colour(chart, cell) for name, cell in cells.items()}

    for first, second in itertools.combinations(drawn, 2):
        distance = np.linalg.norm(np.subtract(drawn[first], drawn[second]))
        assert distance > 60, f"{first} {drawn[first]} vs {second} {drawn[second]}"
    assert max(drawn["zero"]) - min(drawn["zero"]) <= 16, f"zero not grey: {drawn}"
    assert min(drawn["zero"]) >= 225, f"zero not light: {drawn}"
    assert drawn["negative"][0] > drawn["negative"][2] + 60, (
        f"negative not red: {drawn}"
    )
    assert drawn["positive"][2] > drawn["positive"][0] + 60, (
        f"positive not blue: {drawn}"
    )
    for name, cell in cells.items():
        difference = np.abs(np.subtract(drawn[name], cell.expected_rgb)).max()
        assert difference <= 8, f"{name} {cell}: drawn {drawn[name]}"
    assert_page_healthy(page, console_errors)
