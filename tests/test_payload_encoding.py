"""What a heatmap sends to the browser: float32 typed arrays, not JSON number lists.

st.plotly_chart (Streamlit 1.67) sends `plotly.io.to_json(figure.to_dict())`. plotly 7
encodes a NumPy float32 array there as base64 with `"dtype": "f4"`, 1.33 bytes per
byte of data, where a list of decimal numbers takes about 4 times that.
"""

from __future__ import annotations

import json

import numpy as np
import plotly.io as pio
import pytest
import torch

from components import figures
from components.figure_cache import FigureCache, FrozenFigure
from components.process_setup import PLOTLY_TEMPLATE, unescape_slashes


def sent_traces(figure) -> list[dict]:
    """The traces as the browser receives them."""
    return json.loads(pio.to_json(figure.to_dict(), validate=False))["data"]


@pytest.mark.parametrize("shape", [(8, 5), (512, 1024)])
def test_heatmap_sends_float32_base64(shape):
    weight = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    bias = np.zeros(shape[0], dtype=np.float32)
    for trace in sent_traces(figures.weight_heatmap(weight, bias, layer_idx=0)):
        assert trace["z"]["dtype"] == "f4"
        assert isinstance(trace["z"]["bdata"], str)


@pytest.fixture
def app_plotly_settings(monkeypatch):
    """The plotly template and JSON encoding that app.py sets, undone after the test."""
    monkeypatch.setattr(pio.templates, "default", PLOTLY_TEMPLATE)
    monkeypatch.setattr(pio, "to_json", unescape_slashes(pio.to_json))


def test_heatmap_payload_near_base64_size(app_plotly_settings):
    weight = np.random.default_rng(1).standard_normal((128, 128)).astype(np.float32)
    sent = pio.to_json(
        figures.weight_heatmap(weight, None, 0).to_dict(), validate=False
    )
    # base64 of 64 KiB of float32 is 85.3 KiB, 1.33x, and the layout adds about 2.5 KB.
    # The escaped slashes and the "streamlit" template would make it 1.84x.
    assert len(sent) < 1.4 * weight.nbytes


@pytest.mark.parametrize(
    "value",
    ["x/y", "\\u002f", "\\/", "</script>", "a\\\\u002f/b", "/" * 3],
)
def test_unescaped_json_decodes_to_same_value(value):
    to_json = unescape_slashes(pio.to_json)
    sent = to_json({"text": value}, validate=False)
    assert json.loads(sent) == {"text": value}
    assert "</" not in sent  # "<" stays escaped, so no closing tag can form


def test_unescape_slashes_wraps_once():
    once = unescape_slashes(pio.to_json)
    assert unescape_slashes(once) is once


def test_cached_figure_sends_same_json():
    linear = torch.nn.Linear(5, 8)
    weight = linear.weight.detach().numpy()
    bias = linear.bias.detach().numpy()
    expected = pio.to_json(figures.weight_heatmap(weight, bias, 0).to_dict())
    cache = FigureCache()
    cached = cache.get(
        ("weight_heatmap", 0),
        lambda: figures.weight_heatmap(weight, bias, 0),
        [linear.weight, linear.bias],
    )
    assert isinstance(cached, FrozenFigure)
    assert pio.to_json(cached.to_dict()) == expected


def test_cache_rebuilds_after_inplace_change():
    linear = torch.nn.Linear(3, 2)
    cache = FigureCache()
    builds = []

    def build():
        builds.append(linear.weight.detach().clone())
        return figures.weight_heatmap(linear.weight.detach().numpy(), None, 0)

    first = cache.get("heatmap", build, [linear.weight])
    again = cache.get("heatmap", build, [linear.weight])
    with torch.no_grad():
        linear.weight.add_(1.0)  # in place: bumps the tensor's version counter
    changed = cache.get("heatmap", build, [linear.weight])
    assert again is first
    assert changed is not first
    assert len(builds) == 2
    assert cache.hits == 1
    assert cache.misses == 2


def test_cache_misses_for_another_tensor():
    cache = FigureCache()
    one, other = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    first = cache.get("heatmap", lambda: figures.output_bars([0.1], "a"), [one.weight])
    second = cache.get(
        "heatmap", lambda: figures.output_bars([0.2], "b"), [other.weight]
    )
    assert first is not second
    assert cache.misses == 2


def test_cache_keeps_at_most_max_entries():
    cache = FigureCache(max_entries=2)
    for i in range(3):
        cache.get(("bars", i), lambda i=i: figures.output_bars([float(i)], "x"))
    cache.get(("bars", 0), lambda: figures.output_bars([0.0], "x"))
    # ("bars", 0) was the least recently used entry, so the third insert evicted it.
    assert cache.misses == 4
