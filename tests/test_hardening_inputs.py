"""Typed input values driven through app.py with AppTest and Hypothesis.

Each Hypothesis test reuses one AppTest and types one value per example, so every
example also checks that the page recovers from the one before. Example counts
(derandomized, no database): x[i] fields 80, x_all text area 40, plus the explicit
tables below. One rerun costs about 0.1 s, so the file runs in about 7 s on 2 cores.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, example, given
from hypothesis import strategies as st
from hypothesis_settings import ci_settings
from pagecheck import RANGE_TEXT, assert_page_valid, new_app, warning_texts

from mlp.values import MAX_ABS_INPUT, quote_text

FIELD = 2  # the x[i] field typed into
AREA_FEATURES = 20  # more than 16 features, so the page shows the x_all text area

# (typed text, accepted value or None when the page must reject it)
FIELD_CASES = [
    ("abc", None),
    ("", None),
    ("   ", None),
    ("nan", None),
    ("NaN", None),
    ("inf", None),
    ("-inf", None),
    ("Infinity", None),
    ("1e308", None),
    ("1e39", None),
    ("-1e39", None),
    ("1" * 25, None),
    ("-" + "9" * 25, None),
    ("4_2", None),
    ("0x10", None),
    ("1,5", None),
    ("١٢", None),  # Arabic-Indic digits, which float() would accept
    ("１２", None),  # full-width digits
    ("²", None),
    ("Ⅻ", None),
    ("é", None),
    ("1e6000", None),
    ("[link](http://example.invalid)", None),
    ("![image](http://example.invalid/p.png)", None),
    ("`code` $x$ :red[text]", None),
    ("\u202e1", None),  # a right-to-left override before a digit
    ("1000000.5", None),
    ("-0.0", 0.0),
    ("0", 0.0),
    ("1e3", 1000.0),
    ("-1e6", -MAX_ABS_INPUT),
    ("1e6", MAX_ABS_INPUT),
    (" 2.5 ", 2.5),
    ("1e-320", 1e-320),
    ("0." + "0" * 60 + "1", 1e-61),  # 63 characters, just under the field's limit
]


# Health checks these tests knowingly trip.
SUPPRESSED = (HealthCheck.too_slow, HealthCheck.function_scoped_fixture)


@pytest.fixture(scope="module")
def field_app():
    return new_app()


@pytest.fixture(scope="module")
def area_app():
    at = new_app()
    at.number_input(key="in_features").set_value(AREA_FEATURES).run()
    assert_page_valid(at)
    return at


def quoted_forms(text: str) -> list[str]:
    """How a rejection message quotes the typed text."""
    return [quote_text(text.strip())]


def type_into_field(at, text: str) -> tuple[float, ...]:
    """Type `text` into x[FIELD]; return the input vector from before."""
    before = at.session_state["x_values"]
    at.text_input(key=f"x_{FIELD}").input(text).run()
    assert_page_valid(at)
    return before


def assert_field_rejected(at, text: str, before: tuple[float, ...]) -> None:
    warnings = [w for w in warning_texts(at) if f"x[{FIELD}]" in w]
    assert len(warnings) == 1, warning_texts(at)
    assert RANGE_TEXT in warnings[0], warnings[0]
    if text.strip():
        assert any(q in warnings[0] for q in quoted_forms(text)), warnings[0]
    assert at.session_state["x_values"] == before


def assert_field_accepted(at, expected: float) -> None:
    assert not [w for w in warning_texts(at) if f"x[{FIELD}]" in w], warning_texts(at)
    value = at.session_state["x_values"][FIELD]
    assert value == expected
    assert math.copysign(1.0, value) == 1.0 or value != 0.0, "stored -0.0"


@pytest.mark.parametrize(("text", "expected"), FIELD_CASES)
def test_field_case_table(field_app, text, expected):
    before = type_into_field(field_app, text)
    if expected is None:
        assert_field_rejected(field_app, text, before)
    else:
        assert_field_accepted(field_app, expected)


def is_plain_decimal(text: str) -> bool:
    """Independent oracle: ASCII digits, at most one point, an optional exponent."""
    body = text.strip()
    if not body or not body.isascii():
        return False
    mantissa, _, exponent = body.lower().partition("e")
    if exponent and not exponent.lstrip("+-").isdigit():
        return False
    if exponent.count("+") + exponent.count("-") > 1 or exponent[1:].strip(
        "0123456789"
    ):
        return False
    digits = mantissa.lstrip("+-")
    if len(mantissa) - len(digits) > 1 or digits.count(".") > 1:
        return False
    return any(c.isdigit() for c in digits) and digits.replace(".", "").isdigit()


number_like = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**30), 10**30).map(str),
    st.from_regex(r"[ +\-]?[0-9_.,eE+\-]{0,12}", fullmatch=True),
)
typed_text = st.one_of(number_like, st.text(max_size=30))


@ci_settings(80, *SUPPRESSED)
@given(typed_text)
@example("nan")
@example("-0.0")
@example("4_2")
@example("1e39")
def test_field_any_text(field_app, text):
    before = type_into_field(field_app, text)
    stripped = text.strip()
    accept = is_plain_decimal(stripped) and abs(float(stripped)) <= MAX_ABS_INPUT
    if accept:
        assert_field_accepted(field_app, float(stripped) + 0.0)
    else:
        assert_field_rejected(field_app, text, before)


separators = st.sampled_from([",", " ", ", ", "\n", " ,\t"])
tokens = st.lists(
    st.one_of(
        st.floats(-MAX_ABS_INPUT, MAX_ABS_INPUT).map(repr),
        st.sampled_from(["nan", "inf", "1e39", "4_2", "١", "abc", "1e3", "-0.0"]),
    ),
    min_size=0,
    max_size=AREA_FEATURES + 3,
)


@ci_settings(40, *SUPPRESSED)
@given(tokens, separators)
@example(["0.5"] * AREA_FEATURES, ", ")
@example(["0.5"] * (AREA_FEATURES - 1), ", ")
@example(["0.5"] * (AREA_FEATURES + 1), " ")
@example([], ", ")
@example(["1e3"] * (AREA_FEATURES - 1) + ["1e39"], ", ")
@example(["-0.0"] * AREA_FEATURES, ",")
def test_area_any_vector(area_app, items, separator):
    at = area_app
    before = at.session_state["x_values"]
    at.text_area(key="x_all").input(separator.join(items)).run()
    assert_page_valid(at)
    valid = len(items) == AREA_FEATURES and all(
        is_plain_decimal(item) and abs(float(item)) <= MAX_ABS_INPUT for item in items
    )
    if valid:
        assert not warning_texts(at)
        assert at.session_state["x_values"] == tuple(float(i) + 0.0 for i in items)
        return
    warnings = warning_texts(at)
    assert len(warnings) == 1, warnings
    assert at.session_state["x_values"] == before
    if len(items) != AREA_FEATURES:
        assert f"expected {AREA_FEATURES} values, got {len(items)}" in warnings[0]
    else:
        assert RANGE_TEXT in warnings[0], warnings[0]


def test_area_count_message_has_separators():
    at = new_app()
    at.number_input(key="in_features").set_value(1024).run()
    at.text_area(key="x_all").input(", ".join(["0"] * 1500)).run()
    assert_page_valid(at)
    warnings = warning_texts(at)
    assert len(warnings) == 1, warnings
    assert "expected 1,024 values, got 1,500" in warnings[0]
