"""The page's URL query string: parse it into a `QueryState` and write it back.

Keys, their values and their defaults:

| key       | value                                               | default        |
| --------- | --------------------------------------------------- | -------------- |
| inputs    | in_features, 1 to 1024                              | 5              |
| widths    | hidden widths separated by commas, 0 to 8 of them,  | 8,4            |
|           | each 1 to 512; an empty value means no hidden layer |                |
| outputs   | out_features, 2 to 16                               | 2              |
| act       | relu, tanh, sigmoid, gelu or identity               | relu           |
| bias      | 1 or 0                                              | 1              |
| seed      | 0 to 4294967295 (2**32 - 1)                         | 42             |
| x         | exactly `inputs` values separated by commas         | seeded randn   |
| panels    | open lesson panels, names from `PANELS`             | none           |
| teacher   | 1 or 0: hide the controls a lesson does not need    | 0              |
| projector | 1 or 0: large type and the projector colour scale   | 0              |
| tables    | 1 or 0: a table of numbers under every chart        | 0              |

Parsing rules. `parse_query` never raises (a Hypothesis test feeds it arbitrary text).
Each invalid key adds one message to `QueryState.warnings`, and that key alone falls
back to its default.

- A repeated key takes its last value, as `st.query_params[key]` does.
- Keys are case-sensitive. Unknown keys are ignored without a warning, so links that
  other tools extend (for example with tracking parameters) still open.
- Whitespace around a value and around each comma-separated item is ignored.
- Whole numbers are ASCII digits with an optional sign: `+8` means 8, and `-8` is a
  negative number, which every integer key rejects as out of range. Exponents (`1e3`),
  decimal points (`8.0`), underscores (`4_2`) and non-ASCII digits (`٨`) are not whole
  numbers. Integers longer than 20 digits, such as a 25-digit one, are out of range.
  A literal `+` in a URL decodes to a space, so `?seed=+8` arrives here as " 8".
- `widths=` (empty) means zero hidden layers. An empty item (`8,,4` or `8,4,`), more
  than 8 items or any invalid item rejects the whole `widths` value.
- `act` is case-insensitive (`ReLU` means relu).
- Flags (`bias`, `teacher`, `projector`, `tables`) take 1, 0, true or false in any
  case. An empty value, as in `?projector` or `?projector=`, means on.
- `x` items are parsed with `mlp.values.parse_float`; a wrong count or an invalid item
  keeps the seeded input. Values are rounded to float32, the dtype of the input tensor.
- `panels` names outside `PANELS` are dropped with one warning; the known ones stay.

`to_query` writes the canonical form: `inputs`, `widths`, `outputs`, `act` and `seed`
always, so a link states its network in full; `bias=0` only when bias is off; `x` only
when an input vector is set; `panels` only when one is open; each flag only when on, as
`=1`. Keys come in the order of the table above.
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TypeVar

from mlp.spec import (
    ACTIVATIONS,
    DEFAULT_SPEC,
    MAX_HIDDEN_LAYERS,
    MAX_IN_FEATURES,
    MAX_OUT_FEATURES,
    MAX_SEED,
    MAX_WIDTH,
    MIN_IN_FEATURES,
    MIN_OUT_FEATURES,
    MIN_SEED,
    MIN_WIDTH,
    MLPSpec,
)
from mlp.values import MAX_ABS_INPUT, parse_float, quote_text

# Lesson panels a link can open, in the order `to_query` writes them.
PANELS: tuple[str, ...] = (
    "layout",  # stored weight (out, in) against its transpose
    "neuron",  # one neuron's products, sum and bias worked out
    "activations",  # pre- and post-activation values per layer
    "lab",  # the 50:50 lab: largest softmax probability over inputs and seeds
    "changes",  # which layers' weights changed after a control moved
    "gradients",  # dL/dW heatmaps and one SGD step
    "code",  # a script that rebuilds this network
)

FLAG_KEYS: tuple[str, ...] = ("teacher", "projector", "tables")
_TRUE = frozenset({"1", "true", ""})
_FALSE = frozenset({"0", "false"})
_INTEGER = re.compile(r"[+-]?[0-9]+")
# Longer digit strings are out of every range; checking length first also keeps
# int() away from Python's limit on converting very long strings.
_MAX_DIGITS = 20
# Characters of a bad value quoted in a warning.
_QUOTE_CHARS = 40

T = TypeVar("T")


@dataclass(frozen=True)
class QueryState:
    """Everything a link stores: the network, the input, the open panels and the view.

    `x_values` is None for the seeded input `torch.randn(1, in_features)`. Values are
    rounded to float32 on construction, so a state equals its own parsed link.
    """

    spec: MLPSpec = DEFAULT_SPEC
    x_values: tuple[float, ...] | None = None
    panels: tuple[str, ...] = ()
    teacher: bool = False
    projector: bool = False
    tables: bool = False
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown = [name for name in self.panels if name not in PANELS]
        if unknown:
            raise ValueError(f"panels must be names from {PANELS}, got {unknown}")
        # One canonical order, so two states with the same open panels are equal.
        ordered = tuple(name for name in PANELS if name in self.panels)
        object.__setattr__(self, "panels", ordered)
        if self.x_values is not None:
            object.__setattr__(self, "x_values", self._checked_x(self.x_values))

    def _checked_x(self, values: tuple[float, ...]) -> tuple[float, ...]:
        if len(values) != self.spec.in_features:
            raise ValueError(
                f"x_values must have in_features={self.spec.in_features} values, "
                f"got {len(values)}"
            )
        for i, value in enumerate(values):
            if not math.isfinite(value) or abs(value) > MAX_ABS_INPUT:
                raise ValueError(
                    f"x_values[{i}] must be within +-{MAX_ABS_INPUT:g}, got {value}"
                )
        return tuple(to_float32(value) + 0.0 for value in values)


def to_float32(value: float) -> float:
    """Round `value` to the nearest float32, returned as a Python float."""
    return float(struct.unpack("f", struct.pack("f", value))[0])


def format_float32(value: float) -> str:
    """Return the shortest decimal that reads back as the same float32, e.g. 0.33669037."""
    target = to_float32(value)
    text = f"{target:.9g}"  # 9 significant digits always identify a float32
    for digits in range(1, 9):
        candidate = f"{target:.{digits}g}"
        if to_float32(float(candidate)) == target:
            text = candidate
            break
    # "1e+06" would need %2B in a URL; "1e6" means the same.
    return re.sub(r"e([+-]?)0*(\d)", lambda m: f"e{m[1].strip('+')}{m[2]}", text)


def quote(text: str) -> str:
    """Format a bad value for a warning: quoted, escaped, cut and in a Markdown code span.

    A link's values are chosen by whoever wrote the link, and the page renders
    warnings as Markdown, so an unquoted `![a](http://host/p.png)` would load an image.
    """
    return quote_text(text, _QUOTE_CHARS)


def parse_int(text: str, low: int, high: int) -> int:
    """Parse an optionally signed run of ASCII digits within [low, high], or raise ValueError."""
    stripped = text.strip()
    if not _INTEGER.fullmatch(stripped):
        raise ValueError("is not a whole number")
    if len(stripped.lstrip("+-")) > _MAX_DIGITS:
        raise ValueError("is out of range")
    value = int(stripped)
    if not low <= value <= high:
        raise ValueError("is out of range")
    return value


def parse_widths(text: str) -> tuple[int, ...]:
    """Parse comma-separated hidden widths; an empty value means no hidden layer."""
    stripped = text.strip()
    if not stripped:
        return ()
    items = stripped.split(",")
    if len(items) > MAX_HIDDEN_LAYERS:
        raise ValueError(f"has {len(items):,} items")
    widths = []
    for i, item in enumerate(items):
        if not item.strip():
            raise ValueError(f"has an empty item at position {i + 1}")
        try:
            widths.append(parse_int(item, MIN_WIDTH, MAX_WIDTH))
        except ValueError as err:
            raise ValueError(
                f"has item {i + 1} {quote(item.strip())}, which {err}"
            ) from None
    return tuple(widths)


def parse_activation(text: str) -> str:
    """Parse an activation key of `ACTIVATIONS`, in any case."""
    key = text.strip().lower()
    if key not in ACTIVATIONS:
        raise ValueError("is not an activation")
    return key


def parse_flag(text: str) -> bool:
    """Parse 1, 0, true or false in any case; an empty value means on."""
    key = text.strip().lower()
    if key in _TRUE:
        return True
    if key in _FALSE:
        return False
    raise ValueError("is not 1, 0, true or false")


def parse_x(text: str, in_features: int) -> tuple[float, ...]:
    """Parse exactly `in_features` comma-separated input values."""
    items = text.split(",") if text.strip() else []
    if len(items) != in_features:
        raise ValueError(f"has {len(items):,} values instead of {in_features:,}")
    values = []
    for i, item in enumerate(items):
        try:
            values.append(parse_float(item, f"x[{i}]"))
        except ValueError:
            raise ValueError(
                f"has x[{i}] = {quote(item.strip())}, which is not a valid number"
            ) from None
    return tuple(values)


def parse_panels(text: str) -> tuple[tuple[str, ...], list[str]]:
    """Split panel names into known ones, in `PANELS` order, and unknown ones."""
    names = [item.strip().lower() for item in text.split(",") if item.strip()]
    known = tuple(name for name in PANELS if name in names)
    unknown = [name for name in names if name not in PANELS]
    return known, unknown


def last_value(params: Mapping[str, str | list[str]], key: str) -> str | None:
    """The value of `key`, the last one when the key repeats, or None when absent."""
    if key not in params:
        return None
    value = params[key]
    if isinstance(value, str):
        return value
    if not isinstance(value, (list, tuple)):
        return str(value)  # only a malformed mapping gets here
    return str(value[-1]) if value else None


class _Reader:
    """Read keys one by one, collecting one warning per invalid key."""

    def __init__(self, params: Mapping[str, str | list[str]]) -> None:
        self.params = params
        self.warnings: list[str] = []

    def read(
        self,
        key: str,
        parse: Callable[[str], T],
        default: T,
        allowed: str,
        default_text: str,
    ) -> T:
        """Parse `key` with `parse`; on ValueError warn and return `default`."""
        text = last_value(self.params, key)
        if text is None:
            return default
        try:
            return parse(text)
        except ValueError as err:
            self.warnings.append(
                f"URL parameter {key}={quote(text)} {err}, so the page uses "
                f"{default_text}. Allowed: {allowed}."
            )
            return default


def read_spec(reader: _Reader) -> MLPSpec:
    """Read the architecture keys into a spec, each invalid one at its default."""
    default = DEFAULT_SPEC
    in_features = reader.read(
        "inputs",
        lambda t: parse_int(t, MIN_IN_FEATURES, MAX_IN_FEATURES),
        default.in_features,
        f"a whole number from {MIN_IN_FEATURES} to {MAX_IN_FEATURES}",
        f"the default, {default.in_features}",
    )
    widths = reader.read(
        "widths",
        parse_widths,
        default.hidden_widths,
        f"0 to {MAX_HIDDEN_LAYERS} whole numbers from {MIN_WIDTH} to {MAX_WIDTH} "
        "separated by commas, such as 8,4, or an empty value for no hidden layer",
        f"the default, {','.join(map(str, default.hidden_widths))}",
    )
    out_features = reader.read(
        "outputs",
        lambda t: parse_int(t, MIN_OUT_FEATURES, MAX_OUT_FEATURES),
        default.out_features,
        f"a whole number from {MIN_OUT_FEATURES} to {MAX_OUT_FEATURES}",
        f"the default, {default.out_features}",
    )
    activation = reader.read(
        "act",
        parse_activation,
        default.activation,
        ", ".join(ACTIVATIONS),
        f"the default, {default.activation}",
    )
    bias = reader.read(
        "bias", parse_flag, default.bias, "1 or 0", f"the default, {int(default.bias)}"
    )
    seed = reader.read(
        "seed",
        lambda t: parse_int(t, MIN_SEED, MAX_SEED),
        default.seed,
        f"a whole number from {MIN_SEED} to {MAX_SEED}",
        f"the default, {default.seed}",
    )
    return MLPSpec(in_features, widths, out_features, activation, bias, seed)


def read_panels(reader: _Reader) -> tuple[str, ...]:
    """Read `panels`, warning once about every unknown name."""
    text = last_value(reader.params, "panels")
    if text is None:
        return ()
    known, unknown = parse_panels(text)
    if unknown:
        names = ", ".join(quote(name) for name in unknown)
        reader.warnings.append(
            f"URL parameter panels={quote(text)} names unknown panels {names}, "
            f"so the page opens only the known ones. Allowed: {', '.join(PANELS)}."
        )
    return known


def parse_query(params: Mapping[str, str | list[str]]) -> QueryState:
    """Parse URL query parameters into a state, as the module docstring describes.

    Never raises: every invalid key adds one warning and falls back to its default.
    """
    reader = _Reader(params)
    spec = read_spec(reader)
    limit = format_float32(MAX_ABS_INPUT)
    x_values = reader.read(
        "x",
        lambda t: parse_x(t, spec.in_features),
        None,
        f"{spec.in_features} numbers from -{limit} to {limit} separated by commas",
        f"torch.randn(1, {spec.in_features}) drawn after "
        f"torch.manual_seed({spec.seed})",
    )
    panels = read_panels(reader)
    flags = {
        key: reader.read(key, parse_flag, False, "1, 0, true or false", f"{key}=0")
        for key in FLAG_KEYS
    }
    state = QueryState(spec=spec, x_values=x_values, panels=panels, **flags)
    return replace(state, warnings=tuple(reader.warnings))


def to_query(state: QueryState) -> dict[str, str]:
    """Write the canonical query parameters of `state`, in a fixed key order."""
    spec = state.spec
    query = {
        "inputs": str(spec.in_features),
        "widths": ",".join(str(width) for width in spec.hidden_widths),
        "outputs": str(spec.out_features),
        "act": spec.activation,
    }
    if not spec.bias:
        query["bias"] = "0"
    query["seed"] = str(spec.seed)
    if state.x_values is not None:
        query["x"] = ",".join(format_float32(value) for value in state.x_values)
    if state.panels:
        query["panels"] = ",".join(state.panels)
    for key in FLAG_KEYS:
        if getattr(state, key):
            query[key] = "1"
    return query
