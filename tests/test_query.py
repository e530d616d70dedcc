"""The URL query parser and writer: a table of cases and a Hypothesis round trip."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlp.query import (
    PANELS,
    QueryState,
    format_float32,
    parse_query,
    to_float32,
    to_query,
)
from mlp.spec import ACTIVATIONS, DEFAULT_SPEC, MLPSpec

# Each case: query parameters, the spec fields they mean, and the keys warned about.
SPEC_CASES = [
    # Absent keys take the defaults, silently.
    ({}, {}, []),
    ({"widths": "16,4", "seed": "7"}, {"hidden_widths": (16, 4), "seed": 7}, []),
    # An empty widths value means zero hidden layers.
    ({"widths": ""}, {"hidden_widths": ()}, []),
    ({"widths": "  "}, {"hidden_widths": ()}, []),
    # Empty items reject the whole widths value.
    ({"widths": "8,,4"}, {}, ["widths"]),
    ({"widths": "8,4,"}, {}, ["widths"]),
    ({"widths": ","}, {}, ["widths"]),
    # Whitespace around values and items is ignored.
    ({"widths": " 8 , 4 ", "seed": " 7 "}, {"hidden_widths": (8, 4), "seed": 7}, []),
    # A plus sign is allowed, a minus sign makes the number negative.
    ({"widths": "+8", "seed": "+7"}, {"hidden_widths": (8,), "seed": 7}, []),
    ({"widths": "-8"}, {}, ["widths"]),
    ({"seed": "-8"}, {}, ["seed"]),
    ({"seed": "-0"}, {"seed": 0}, []),
    # Exponents, decimals, underscores and non-ASCII digits are not whole numbers.
    ({"widths": "1e3"}, {}, ["widths"]),
    ({"seed": "1e3"}, {}, ["seed"]),
    ({"seed": "7.0"}, {}, ["seed"]),
    ({"seed": "4_2"}, {}, ["seed"]),
    ({"inputs": "٨"}, {}, ["inputs"]),
    ({"widths": "٨,4"}, {}, ["widths"]),
    ({"seed": "0x10"}, {}, ["seed"]),
    ({"seed": ""}, {}, ["seed"]),
    # Leading zeros are digits like any other.
    ({"seed": "007"}, {"seed": 7}, []),
    # Range ends, and one past them.
    ({"seed": "0"}, {"seed": 0}, []),
    ({"seed": str(2**32 - 1)}, {"seed": 2**32 - 1}, []),
    ({"seed": str(2**32)}, {}, ["seed"]),
    ({"seed": "1" * 25}, {}, ["seed"]),
    ({"seed": "9" * 5000}, {}, ["seed"]),
    (
        {"inputs": "1024", "outputs": "16"},
        {"in_features": 1024, "out_features": 16},
        [],
    ),
    ({"inputs": "0"}, {}, ["inputs"]),
    ({"inputs": "1025"}, {}, ["inputs"]),
    ({"outputs": "1"}, {}, ["outputs"]),
    ({"widths": "512"}, {"hidden_widths": (512,)}, []),
    ({"widths": "513"}, {}, ["widths"]),
    ({"widths": "0"}, {}, ["widths"]),
    ({"widths": ",".join(["2"] * 8)}, {"hidden_widths": (2,) * 8}, []),
    ({"widths": ",".join(["2"] * 9)}, {}, ["widths"]),
    # A repeated key takes its last value.
    ({"seed": ["1", "7"]}, {"seed": 7}, []),
    ({"seed": ["bad", "7"]}, {"seed": 7}, []),
    ({"seed": ["7", "bad"]}, {}, ["seed"]),
    ({"seed": []}, {}, []),
    # Activation names in any case.
    ({"act": "ReLU"}, {"activation": "relu"}, []),
    ({"act": " GELU "}, {"activation": "gelu"}, []),
    ({"act": "softplus"}, {}, ["act"]),
    # Flags.
    ({"bias": "0"}, {"bias": False}, []),
    ({"bias": "False"}, {"bias": False}, []),
    ({"bias": "1"}, {"bias": True}, []),
    ({"bias": "2"}, {}, ["bias"]),
    # Every bad key warns once and falls back alone.
    (
        {"inputs": "x", "widths": "8,,4", "outputs": "99", "seed": "1e3", "act": "?"},
        {},
        ["inputs", "widths", "outputs", "act", "seed"],
    ),
    ({"seed": "bad", "widths": "16"}, {"hidden_widths": (16,)}, ["seed"]),
    # Unknown and differently cased keys are ignored without a warning.
    ({"utm_source": "mail", "Seed": "7"}, {}, []),
]


@pytest.mark.parametrize(("params", "fields", "warned"), SPEC_CASES)
def test_parse_spec_cases(params, fields, warned):
    state = parse_query(params)
    assert state.spec == MLPSpec(**fields)
    assert len(state.warnings) == len(warned)
    for key, warning in zip(warned, state.warnings, strict=True):
        assert warning.startswith(f"URL parameter {key}=")


def test_warning_names_value_range_and_default():
    (warning,) = parse_query({"seed": "1e3"}).warnings
    assert 'seed=`"1e3"`' in warning
    assert "0 to 4294967295" in warning
    assert "the default, 42" in warning


def test_warning_quotes_long_value_cut():
    (warning,) = parse_query({"seed": "1" * 60}).warnings
    assert "1" * 40 + '..."' in warning
    assert "1" * 41 not in warning


def test_widths_warning_names_item():
    (warning,) = parse_query({"widths": "8,,4"}).warnings
    assert "empty item at position 2" in warning
    (warning,) = parse_query({"widths": "8,600"}).warnings
    assert 'item 2 `"600"`' in warning
    assert "1 to 512" in warning


@pytest.mark.parametrize(
    ("text", "meaning"),
    [
        ("1", True),
        ("0", False),
        ("true", True),
        ("FALSE", False),
        ("", True),  # a bare ?projector
        (" 1 ", True),
    ],
)
def test_flag_values(text, meaning):
    state = parse_query({"projector": text, "teacher": text, "tables": text})
    assert (state.projector, state.teacher, state.tables) == (meaning,) * 3
    assert state.warnings == ()


def test_bad_flag_warns_and_stays_off():
    state = parse_query({"teacher": "yes", "projector": "1"})
    assert state.teacher is False
    assert state.projector is True
    (warning,) = state.warnings
    assert warning.startswith('URL parameter teacher=`"yes"`')


def test_x_parsed_and_rounded_to_float32():
    state = parse_query({"inputs": "3", "x": " 0.1, -2 ,1e-3"})
    assert state.warnings == ()
    assert state.x_values == (to_float32(0.1), -2.0, to_float32(1e-3))


def test_x_negative_zero_is_zero():
    state = parse_query({"inputs": "1", "x": "-0.0"})
    assert str(state.x_values[0]) == "0.0"


@pytest.mark.parametrize(
    ("x", "reason"),
    [
        ("1,2,3,4", "4 values instead of 5"),
        ("1,2,3,4,5,6", "6 values instead of 5"),
        ("", "0 values instead of 5"),
        ("1,2,,4,5", 'x[2] = `""`'),
        ("1,abc,3,4,5", 'x[1] = `"abc"`'),
        ("1,nan,3,4,5", 'x[1] = `"nan"`'),
        ("1,2,inf,4,5", 'x[2] = `"inf"`'),
        ("1,2,3,1e39,5", 'x[3] = `"1e39"`'),
        ("1,2,3,4,2e6", 'x[4] = `"2e6"`'),
        ("1,2,3,4,4_2", 'x[4] = `"4_2"`'),
        ("١,2,3,4,5", 'x[0] = `"١"`'),
    ],
)
def test_bad_x_keeps_seeded_input(x, reason):
    state = parse_query({"x": x, "seed": "7"})
    assert state.x_values is None
    assert state.spec.seed == 7
    (warning,) = state.warnings
    assert reason in warning
    assert "torch.manual_seed(7)" in warning


def test_x_counted_against_parsed_inputs():
    assert parse_query({"inputs": "2", "x": "1,2"}).x_values == (1.0, 2.0)
    # An invalid inputs falls back to 5, so two values no longer fit.
    state = parse_query({"inputs": "two", "x": "1,2"})
    assert state.x_values is None
    assert len(state.warnings) == 2


def test_panels_known_kept_unknown_warned():
    state = parse_query({"panels": "code, Layout,bogus,code,"})
    assert state.panels == ("layout", "code")
    (warning,) = state.warnings
    assert '"bogus"' in warning
    for name in PANELS:
        assert name in warning


def test_panels_empty_means_none():
    assert parse_query({"panels": ""}).panels == ()


def test_canonical_defaults():
    assert to_query(QueryState()) == {
        "inputs": "5",
        "widths": "8,4",
        "outputs": "2",
        "act": "relu",
        "seed": "42",
    }


def test_canonical_every_key_in_order():
    state = QueryState(
        spec=MLPSpec(in_features=2, hidden_widths=(), bias=False, seed=0),
        x_values=(0.5, -1e-7),
        panels=("code", "layout"),
        teacher=True,
        projector=True,
        tables=True,
    )
    query = to_query(state)
    assert list(query) == [
        "inputs",
        "widths",
        "outputs",
        "act",
        "bias",
        "seed",
        "x",
        "panels",
        "teacher",
        "projector",
        "tables",
    ]
    assert query["widths"] == ""
    assert query["bias"] == "0"
    assert query["x"] == "0.5,-1e-7"
    assert query["panels"] == "layout,code"


def test_canonical_rewrites_messy_link():
    messy = {"seed": ["3", " +007 "], "act": "TANH", "widths": " 8 , 4 ", "zzz": "1"}
    assert to_query(parse_query(messy)) == {
        "inputs": "5",
        "widths": "8,4",
        "outputs": "2",
        "act": "tanh",
        "seed": "7",
    }


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.1, "0.1"),
        (0.33669036626815796, "0.33669037"),
        (1e6, "1e6"),
        (-2.5e-7, "-2.5e-7"),
        (0.0, "0"),
        (123456.0, "123456"),
    ],
)
def test_format_float32_shortest(value, text):
    assert format_float32(value) == text
    assert to_float32(float(text)) == to_float32(value)


def test_state_rejects_wrong_x_count():
    with pytest.raises(ValueError, match="in_features=5"):
        QueryState(x_values=(1.0, 2.0))


def test_state_rejects_unknown_panel():
    with pytest.raises(ValueError, match="bogus"):
        QueryState(panels=("bogus",))


def specs() -> st.SearchStrategy[MLPSpec]:
    return st.builds(
        MLPSpec,
        in_features=st.integers(1, 24),
        hidden_widths=st.lists(st.integers(1, 512), max_size=8).map(tuple),
        out_features=st.integers(2, 16),
        activation=st.sampled_from(list(ACTIVATIONS)),
        bias=st.booleans(),
        seed=st.integers(0, 2**32 - 1),
    )


@st.composite
def states(draw: st.DrawFn) -> QueryState:
    spec = draw(specs())
    floats = st.floats(-1e6, 1e6, width=32, allow_nan=False)
    x_values = draw(
        st.none()
        | st.lists(floats, min_size=spec.in_features, max_size=spec.in_features)
    )
    return QueryState(
        spec=spec,
        x_values=None if x_values is None else tuple(x_values),
        panels=tuple(draw(st.lists(st.sampled_from(PANELS), unique=True))),
        teacher=draw(st.booleans()),
        projector=draw(st.booleans()),
        tables=draw(st.booleans()),
    )


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(states())
def test_round_trip(state):
    query = to_query(state)
    assert parse_query(query) == state
    assert parse_query(query).warnings == ()


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(
    st.dictionaries(
        st.sampled_from(
            ["inputs", "widths", "outputs", "act", "bias", "seed", "x", "panels"]
            + ["teacher", "projector", "tables", "other"]
        ),
        st.text(max_size=30) | st.lists(st.text(max_size=12), max_size=3),
    )
)
def test_parse_never_raises(params):
    state = parse_query(params)
    assert isinstance(state.spec, MLPSpec)
    assert len(state.warnings) <= len(params)
    # Whatever came in, the canonical form reads back without warnings.
    assert parse_query(to_query(state)) == QueryState(
        spec=state.spec,
        x_values=state.x_values,
        panels=state.panels,
        teacher=state.teacher,
        projector=state.projector,
        tables=state.tables,
    )


def test_default_spec_is_parse_default():
    assert parse_query({}).spec == DEFAULT_SPEC
