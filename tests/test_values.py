"""Parsing typed numbers and printing values."""

from __future__ import annotations

import pytest

from mlp.values import format_count, format_value, parse_float


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", 1.0),
        (" 2.5 ", 2.5),
        ("-0.0", 0.0),
        ("1e3", 1000.0),
        (".5", 0.5),
        ("5.", 5.0),
        ("+3", 3.0),
    ],
)
def test_parse_float_accepts(text, expected):
    assert parse_float(text, "x[0]") == expected


def test_parse_negative_zero_is_positive():
    assert str(parse_float("-0.0", "x[0]")) == "0.0"


@pytest.mark.parametrize(
    "text", ["abc", "nan", "inf", "-inf", "4_2", "١٢", "0x10", "1,5", "--1", "1e", ""]
)
def test_parse_float_rejects_with_field_name(text):
    with pytest.raises(ValueError, match=r"x\[3\]"):
        parse_float(text, "x[3]")


@pytest.mark.parametrize("text", ["1e308", "1e39", "2000000", "-1e7"])
def test_parse_float_rejects_out_of_range(text):
    with pytest.raises(ValueError, match="out of range"):
        parse_float(text, "x[0]")


def test_format_value_has_no_negative_zero():
    assert format_value(-0.00001) == "0.0000"
    assert format_value(-0.0) == "0.0000"
    assert format_value(-0.00005001) == "-0.0001"
    assert format_value(0.38061) == "0.3806"


def test_format_count_separators():
    assert format_count(13002) == "13,002"
    assert format_count(94) == "94"
