"""Arbitrary URL query strings driven through app.py with AppTest and Hypothesis.

Each example opens a fresh session with its own query string, since a link is read
once per session. Example counts (derandomized, no database): arbitrary values 40,
plus the explicit table of 45 cases. The file runs in about 7 s on 2 cores.
"""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pagecheck import APP, assert_page_valid, warning_texts
from streamlit.testing.v1 import AppTest

from mlp.query import parse_query
from mlp.spec import (
    DEFAULT_SPEC,
    MAX_IN_FEATURES,
    MAX_OUT_FEATURES,
    MAX_SEED,
    MIN_IN_FEATURES,
    MIN_OUT_FEATURES,
    MIN_SEED,
)

INT_KEYS = {
    "inputs": ("in_features", MIN_IN_FEATURES, MAX_IN_FEATURES),
    "outputs": ("out_features", MIN_OUT_FEATURES, MAX_OUT_FEATURES),
    "seed": ("seed", MIN_SEED, MAX_SEED),
}
DEFAULT_FIELDS = {
    "in_features": DEFAULT_SPEC.in_features,
    "out_features": DEFAULT_SPEC.out_features,
    "seed": DEFAULT_SPEC.seed,
}

# (query parameters, the keys the page must warn about)
CASES = [
    ({"seed": "1e3"}, {"seed"}),
    ({"seed": "4_2"}, {"seed"}),
    ({"seed": "-1"}, {"seed"}),
    ({"seed": str(MAX_SEED + 1)}, {"seed"}),
    ({"seed": "1" * 25}, {"seed"}),
    ({"seed": "٤٢"}, {"seed"}),
    ({"seed": "４２"}, {"seed"}),
    ({"seed": ""}, {"seed"}),
    ({"seed": "nan"}, {"seed"}),
    ({"seed": "inf"}, {"seed"}),
    ({"seed": str(MAX_SEED)}, set()),
    ({"seed": "0"}, set()),
    ({"seed": ["5", "x"]}, {"seed"}),
    ({"seed": ["x", "5"]}, set()),
    ({"inputs": "0"}, {"inputs"}),
    ({"inputs": "1025"}, {"inputs"}),
    ({"inputs": "1e3"}, {"inputs"}),
    ({"inputs": "20"}, set()),
    ({"outputs": "1"}, {"outputs"}),
    ({"outputs": "17"}, {"outputs"}),
    ({"outputs": "-0"}, {"outputs"}),
    ({"widths": "0"}, {"widths"}),
    ({"widths": "-8"}, {"widths"}),
    ({"widths": "513"}, {"widths"}),
    ({"widths": "1e3"}, {"widths"}),
    ({"widths": "8,,4"}, {"widths"}),
    ({"widths": ",".join(["4"] * 9)}, {"widths"}),
    ({"widths": ""}, set()),
    ({"widths": "512,512"}, set()),
    ({"act": "softplus"}, {"act"}),
    ({"act": "ReLU"}, set()),
    ({"bias": "2"}, {"bias"}),
    ({"x": "nan,0,0,0,0"}, {"x"}),
    ({"x": "inf,0,0,0,0"}, {"x"}),
    ({"x": "1e39,0,0,0,0"}, {"x"}),
    ({"x": "1e308,0,0,0,0"}, {"x"}),
    ({"x": "1,2,3"}, {"x"}),
    ({"x": "1,2,3,4,5,6"}, {"x"}),
    ({"x": ""}, {"x"}),
    ({"x": "-0.0,0,0,0,1e6"}, set()),
    ({"x": "4_2,0,0,0,0"}, {"x"}),
    ({"x": "١,0,0,0,0"}, {"x"}),
    ({"inputs": "20", "x": ",".join(["0.5"] * 20)}, set()),
    ({"inputs": "20", "x": ",".join(["0.5"] * 19)}, {"x"}),
    ({"seed": "[link](http://example.invalid)"}, {"seed"}),
]


def open_link(params: dict) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    return at


def last(value):
    return value[-1] if isinstance(value, list) else value


def expected_int(text: str, low: int, high: int) -> int | None:
    """Independent oracle: an optionally signed run of ASCII digits within the range."""
    body = text.strip()
    if not re.fullmatch(r"[+-]?[0-9]{1,25}", body):
        return None
    value = int(body)
    return value if low <= value <= high else None


def assert_link_applied(at: AppTest, params: dict) -> None:
    assert_page_valid(at)
    state = parse_query(params)
    warnings = [w for w in warning_texts(at) if w.startswith("URL parameter")]
    assert len(warnings) == len(state.warnings), (warnings, state.warnings)
    for warning in warnings:
        assert "Allowed:" in warning, warning

    for key, (field, low, high) in INT_KEYS.items():
        shown = int(at.session_state[field])
        assert low <= shown <= high
        if key not in params:
            assert shown == DEFAULT_FIELDS[field]
            continue
        value = expected_int(last(params[key]), low, high)
        warned = [w for w in warnings if w.startswith(f"URL parameter {key}=")]
        if value is None:
            assert shown == DEFAULT_FIELDS[field], (key, params[key])
            assert len(warned) == 1, (key, warnings)
        else:
            assert shown == value
            assert warned == []
    assert at.session_state["n_hidden"] == len(state.spec.hidden_widths)


@pytest.mark.parametrize(("params", "warned"), CASES)
def test_link_case_table(params, warned):
    at = open_link(params)
    assert_link_applied(at, params)
    warnings = [w for w in warning_texts(at) if w.startswith("URL parameter")]
    assert {
        w.split("=", 1)[0].removeprefix("URL parameter ") for w in warnings
    } == warned


def test_link_x_rounded_and_positive_zero():
    at = open_link({"x": "-0.0,0.1,0,0,1e6"})
    assert_page_valid(at)
    x_values = at.session_state["x_values"]
    assert math.copysign(1.0, x_values[0]) == 1.0
    assert x_values[4] == 1e6
    assert at.text_input(key="x_0").value == "0.0000"


keys = st.sampled_from(
    ["inputs", "widths", "outputs", "act", "bias", "seed", "x", "panels", "teacher"]
)
values = st.one_of(
    st.text(max_size=25),
    st.integers(-(10**25), 10**25).map(str),
    st.floats().map(repr),
    st.lists(st.integers(-600, 600).map(str), max_size=10).map(",".join),
    st.lists(st.floats(-2e6, 2e6).map(repr), max_size=7).map(",".join),
)
query_params = st.dictionaries(
    keys, st.one_of(values, st.lists(values, min_size=1, max_size=3)), max_size=5
)


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(query_params)
def test_any_query_string(params):
    at = open_link(params)
    assert_link_applied(at, params)


def test_count_warnings_have_separators():
    (warning,) = parse_query({"inputs": "1024", "x": ",".join(["0"] * 1500)}).warnings
    assert "has 1,500 values instead of 1,024" in warning
