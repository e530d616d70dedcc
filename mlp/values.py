"""Parsing typed numbers and printing values and counts the way the page shows them."""

from __future__ import annotations

import json
import math
import operator
import re
import unicodedata

# float32 overflows past this; a typed input beyond it cannot be a tensor entry.
FLOAT32_MAX = 3.4028234663852886e38
# Inputs past this magnitude can overflow inside a deep network, so they are rejected.
MAX_ABS_INPUT = 1e6

# Characters of typed or linked text quoted in a message.
QUOTE_CHARS = 40
# Unicode categories written as escapes when quoted: controls, format characters such
# as bidirectional overrides, line and paragraph separators, private and unassigned.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Co", "Cs", "Cn"})

# Plain decimal notation with an optional exponent, ASCII only: no "nan", "inf",
# "4_2" or non-ASCII digits, which Python's float() would otherwise accept.
_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


def quote_text(text: str, max_chars: int = QUOTE_CHARS) -> str:
    """Quote typed or linked text for a page message: cut, escaped, in a code span.

    The page renders messages as Markdown, where `[a](http://host)` would become a
    link and `![a](http://host/p.png)` an image; inside a code span text stays
    literal. Control and invisible format characters, such as a right-to-left
    override, are written as escapes so they cannot reorder the message.
    """
    shown = text if len(text) <= max_chars else text[:max_chars] + "..."
    body = json.dumps(shown, ensure_ascii=False)
    body = "".join(
        f"\\u{ord(c):04x}" if unicodedata.category(c) in _HIDDEN_CATEGORIES else c
        for c in body
    )
    # A fence longer than any run of backticks inside; the JSON quotes pad the ends.
    fence = "`" * (max((len(run) for run in re.findall("`+", body)), default=0) + 1)
    return f"{fence}{body}{fence}"


def parse_float(text: str, name: str, limit: float = MAX_ABS_INPUT) -> float:
    """Parse `text` as a finite number within +-limit, or raise ValueError naming `name`."""
    stripped = text.strip()
    if not stripped:
        raise ValueError(
            f"{name} is empty: type a number from {format_limit(-limit)} to {format_limit(limit)}"
        )
    if not _NUMBER.fullmatch(stripped):
        raise ValueError(
            f"{name}: {quote_text(stripped)} is not a number; type a decimal from {format_limit(-limit)} "
            f"to {format_limit(limit)}, such as 0.25 or -1.5e-2"
        )
    value = float(stripped)
    if not math.isfinite(value) or abs(value) > limit:
        raise ValueError(
            f"{name}: {quote_text(stripped)} is out of range; use a number from {format_limit(-limit)} to {format_limit(limit)}"
        )
    return value + 0.0  # turn -0.0 into 0.0


# Printed in place of inf, -inf and nan, so no page shows "nan" where a number belongs.
NOT_FINITE = "not finite"


# From this magnitude on, values print in scientific notation, as torch prints them:
# fixed decimals would give 1e35 thirty-six digits. Every valid input stays below it.
SCIENTIFIC_FROM = 1e7


def format_limit(value: float) -> str:
    """Format a bound as people write it: 1e6 and -1e6, not 1e+06."""
    text = f"{value:g}"
    mantissa, _, exponent = text.partition("e")
    if not exponent:
        return text
    return f"{mantissa}e{int(exponent)}"


def format_value(value: float, decimals: int = 4) -> str:
    """Format to fixed decimals, printing values that round to zero as 0.0000, not -0.0000.

    Magnitudes of SCIENTIFIC_FROM or more print as e.g. -1.6805e+35, and inf or nan as
    NOT_FINITE.
    """
    if not math.isfinite(value):
        return NOT_FINITE
    if abs(value) >= SCIENTIFIC_FROM:
        return f"{value:.{decimals}e}"
    text = f"{value:.{decimals}f}"
    if text.startswith("-") and float(text) == 0.0:
        return text[1:]
    return text


def format_count(count: int) -> str:
    """Format an integer count with thousands separators, e.g. 13,002.

    `operator.index` accepts Python and NumPy integers and raises TypeError for a float,
    which would otherwise print as 13,002.0.
    """
    return f"{operator.index(count):,}"
