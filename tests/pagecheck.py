"""Checks that any page state is valid, shared by the hardening tests of app.py."""

from __future__ import annotations

import base64
import json
import math
import re
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

from mlp.values import MAX_ABS_INPUT, NOT_FINITE

APP = str(Path(__file__).resolve().parent.parent / "app.py")
RANGE_TEXT = "-1e6 to 1e6"
NAN_WORDS = re.compile(r"\b(nan|inf|infinity)\b|-0\.0000\b", re.IGNORECASE)


def new_app() -> AppTest:
    """Run app.py once through AppTest and check the first page."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert_page_valid(at)
    return at


def chart_specs(at: AppTest) -> list[dict]:
    """The plotly figure JSON of every chart on the page."""
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def decode_array(value: object) -> np.ndarray:
    """A plotly JSON array as NumPy: a plain list, or plotly's base64 typed array."""
    if isinstance(value, dict):
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        shape = [int(side) for side in str(value.get("shape", flat.size)).split(",")]
        return flat.reshape(shape)
    return np.asarray(value, dtype=np.float64)


def assert_number_list(values: object, where: str) -> None:
    """Every value is a finite number and none is sent as -0.0."""
    assert values is not None, f"{where}: no values"
    array = decode_array(values)
    assert array.dtype.kind in "iuf", f"{where}: {values!r} are not numbers"
    assert np.isfinite(array).all(), f"{where}: {values!r} are not all finite"
    assert not np.signbit(array[array == 0]).any(), f"{where}: -0.0 sent"


def assert_charts_finite(at: AppTest) -> None:
    """Every bar has a finite y value and a label without nan or -0.0000."""
    for spec in chart_specs(at):
        for trace in spec["data"]:
            name = f"{spec['layout'].get('title', {}).get('text')}: {trace.get('name')}"
            if trace["type"] == "bar":
                assert_number_list(trace["y"], name)
                for label in trace.get("text") or []:
                    assert not NAN_WORDS.search(str(label)), f"{name}: label {label!r}"
            if trace["type"] == "heatmap":
                z = decode_array(trace["z"])
                assert np.isfinite(z).all(), f"{name}: heatmap has non-finite cells"


def assert_metrics_finite(at: AppTest) -> None:
    for metric in at.metric:
        assert NOT_FINITE not in metric.value, (metric.label, metric.value)
        assert not NAN_WORDS.search(metric.value), (metric.label, metric.value)


def assert_input_valid(at: AppTest) -> None:
    values = at.session_state["x_values"]
    assert len(values) == int(at.session_state["in_features"])
    for value in values:
        assert math.isfinite(value), values
        assert abs(value) <= MAX_ABS_INPUT, values


def assert_softmax_sums_to_one(at: AppTest) -> None:
    probs = next(
        trace["y"]
        for spec in chart_specs(at)
        for trace in spec["data"]
        if trace.get("name") == "softmax(logits)"
    )
    assert abs(sum(probs) - 1.0) <= 1e-6, probs


CODE_SPAN = re.compile(r"(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.DOTALL)
ACTIVE_MARKDOWN = re.compile(
    r"\]\(|!\[|<[a-z]+[:>/ ]|://|www\.|:[a-z]+\[|\$", re.IGNORECASE
)


def assert_markdown_inert(text: str) -> None:
    """Outside code spans a message has no link, image, HTML, colour directive or math."""
    outside = CODE_SPAN.sub("", text)
    assert not ACTIVE_MARKDOWN.search(outside), text


def assert_messages_inert(at: AppTest) -> None:
    for element in [*at.warning, *at.error, *at.info]:
        assert_markdown_inert(element.value)


def assert_page_valid(at: AppTest) -> None:
    """No exception, a valid input, finite metrics and charts, softmax summing to 1."""
    assert not at.exception, [e.value for e in at.exception]
    assert_messages_inert(at)
    assert_input_valid(at)
    assert_metrics_finite(at)
    assert_charts_finite(at)
    assert_softmax_sums_to_one(at)


def warning_texts(at: AppTest) -> list[str]:
    return [w.value for w in at.warning]


NUMERIC_KEYS = ("x", "y", "z", "customdata")


def chart_arrays(at: AppTest) -> list[tuple[str, np.ndarray]]:
    """Every numeric array of every chart trace, named by chart title and trace."""
    arrays = []
    for spec in chart_specs(at):
        title = spec["layout"].get("title", {}).get("text")
        for trace in spec["data"]:
            for key in NUMERIC_KEYS:
                value = trace.get(key)
                if value is None:
                    continue
                try:
                    array = decode_array(value)
                except (TypeError, ValueError):
                    continue  # category labels
                if array.dtype.kind in "fc":
                    arrays.append((f"{title}: {trace.get('name')}.{key}", array))
    return arrays


def assert_no_nan_anywhere(at: AppTest) -> None:
    """No chart array holds inf or nan, and no text, metric or table prints them."""
    for name, array in chart_arrays(at):
        assert np.isfinite(array).all(), f"{name} has inf or nan"
    texts = [m.value for m in at.metric]
    texts += [e.value for e in [*at.markdown, *at.caption, *at.warning, *at.error]]
    texts += [frame.value.to_string() for frame in [*at.dataframe, *at.table]]
    for text in texts:
        assert not NAN_WORDS.search(text), text
