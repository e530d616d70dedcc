"""Uploading and downloading weights in headless Chromium against a real server.

Files are written by the test to tmp_path and given to the page's file input. Expected
numbers come from the notebook model in this process, on the input the page draws.
"""

from __future__ import annotations

import io
import os

import pytest
import torch
from page_helpers import (
    assert_page_healthy,
    heatmap_charts,
    metric_value,
    wait_for_idle,
)
from playwright.sync_api import Locator, Page, expect
from torch import nn

from mlp import MLPSpec, build_model
from mlp.network import default_input
from mlp.values import format_value

pytestmark = pytest.mark.browser

GOLDEN_SOFTMAX = "0.5025 / 0.4975"


def notebook_model(sizes: tuple[int, ...]) -> nn.Module:
    """A notebook module with `self.layers`, ReLU between its Linear layers."""
    torch.manual_seed(77)
    modules: list[nn.Module] = []
    for k in range(len(sizes) - 1):
        modules.append(nn.Linear(sizes[k], sizes[k + 1]))
        if k < len(sizes) - 2:
            modules.append(nn.ReLU())
    model = nn.Module()
    model.layers = nn.Sequential(*modules)
    return model


def softmax_text(model: nn.Module, x: torch.Tensor) -> str:
    """The softmax metric the page shows for `model` on input `x`."""
    with torch.no_grad():
        probs = torch.softmax(model.layers(x), dim=1)[0].tolist()
    more = " ..." if len(probs) > 4 else ""
    return " / ".join(format_value(p) for p in probs[:4]) + more


def upload_file(page: Page, path) -> None:
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(path))


def softmax_metric(page: Page) -> Locator:
    return metric_value(page, "softmax")


def test_notebook_state_dict_upload(page, console_errors, tmp_path):
    notebook = notebook_model((6, 10, 7, 3))
    path = tmp_path / "notebook.pt"
    torch.save(notebook.state_dict(), path)

    upload_file(page, path)

    expect(
        page.get_by_text("Showing uploaded weights from notebook.pt")
    ).to_be_visible()
    wait_for_idle(page)
    expect(heatmap_charts(page)).to_have_count(3)
    expected = softmax_text(notebook, default_input(6, 42))
    expect(softmax_metric(page)).to_have_text(expected)

    page.get_by_role("button", name="Back to the seeded network").click()
    expect(softmax_metric(page)).to_have_text(GOLDEN_SOFTMAX)
    wait_for_idle(page)
    assert_page_healthy(page, console_errors)


def test_random_bytes_upload_rejected(page, console_errors, tmp_path):
    path = tmp_path / "noise.pt"
    path.write_bytes(os.urandom(4096))

    upload_file(page, path)

    error = page.get_by_test_id("stAlertContentError")
    expect(error).to_contain_text("noise.pt is not a PyTorch file")
    expect(error).to_contain_text("keeps the seeded network")
    wait_for_idle(page)
    expect(softmax_metric(page)).to_have_text(GOLDEN_SOFTMAX)
    assert_page_healthy(page, console_errors)


def test_state_dict_download_loads(page, console_errors, tmp_path):
    page.get_by_text("Download the weights").click()
    button = page.get_by_role("button", name="state_dict (.pt)")
    with page.expect_download() as download_info:
        button.click()
    path = tmp_path / "downloaded.pt"
    download_info.value.save_as(path)

    loaded = torch.load(io.BytesIO(path.read_bytes()), weights_only=True)
    expected = build_model(MLPSpec()).state_dict()
    assert list(loaded) == list(expected)
    for key, tensor in expected.items():
        assert torch.equal(loaded[key], tensor), key
    assert download_info.value.suggested_filename == "mlp_state_dict.pt"
    assert_page_healthy(page, console_errors)
