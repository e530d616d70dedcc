"""Server-side checks of the widget values a client sends, before Streamlit stores them.

A widget's limits and its value type are enforced by the browser only. Over the
websocket a client can send any `WidgetState`: a double where an int is expected, NaN,
a list to a selectbox, a number outside a slider's range. Streamlit 1.67 resets an
out-of-range number to the widget's default without a message. A value of the wrong
type makes its deserializer raise, and because the stored value is read again on every
later rerun, one such message breaks the session for good. The guard rejects these
values instead: the widget keeps its last valid value, the server logs the rejection
with the session id, and the page names the value and the allowed range.

NOTE: this wraps `WStates.__getitem__`, an internal of Streamlit 1.67.0 (pinned in
requirements.txt); tests/test_hardening_server.py fails if an upgrade changes it.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import streamlit as st
from streamlit.elements.widgets.number_input import NumberInputSerde
from streamlit.elements.widgets.slider import SliderSerde
from streamlit.runtime.scriptrunner import get_script_run_ctx
from streamlit.runtime.state.common import (
    unpack_widget_state_value,
    user_key_from_element_id,
)
from streamlit.runtime.state.session_state import Serialized, Value, WStates

from mlp.values import QUOTE_CHARS, quote_text

logger = logging.getLogger(__name__)

# Sessions whose rejections wait to be shown; a client that disconnects before its
# next run must not make this grow without bound.
MAX_PENDING_SESSIONS = 1000
MAX_PENDING_PER_SESSION = 20
# Rejections logged one by one per session; later ones are only counted.
LOGGED_PER_SESSION = 50


@dataclass(frozen=True)
class RejectedValue:
    """A widget value a client sent that the server did not accept."""

    widget: str  # the widget's key, or its element id when it has none
    value: str  # repr of the value sent, shortened
    reason: str


_pending: OrderedDict[str, list[RejectedValue]] = OrderedDict()
_rejection_counts: OrderedDict[str, int] = OrderedDict()
_pending_lock = threading.Lock()


def _session_id() -> str | None:
    ctx = get_script_run_ctx()
    return None if ctx is None else ctx.session_id


def _quote(raw: Any) -> str:
    if isinstance(raw, str):
        return quote_text(raw, QUOTE_CHARS)  # Markdown in it stays literal
    if isinstance(raw, Iterable) and not isinstance(raw, bytes):
        raw = list(raw)
    text = repr(raw)
    return text if len(text) <= QUOTE_CHARS else text[: QUOTE_CHARS - 3] + "..."


def _format_bound(bound: Any) -> str:
    return f"{bound:,}" if isinstance(bound, int) else f"{bound:g}"


# The Python type a widget's deserializer expects from the client, by serde class name.
# Number inputs and sliders are checked in _range_problem instead.
EXPECTED_TYPES: dict[str, tuple[type, ...]] = {
    "SelectboxSerde": (str,),
    "RadioSerde": (str,),
    "CheckboxSerde": (bool,),
    "TextInputSerde": (str,),
    "TextAreaSerde": (str,),
    "ButtonSerde": (bool,),
}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _range_problem(serde: Any, raw: Any) -> str | None:
    """Why `raw` is no value of a number input or a slider, or None when it is one."""
    if isinstance(serde, NumberInputSerde):
        values, expected_len = [raw], 1
    elif isinstance(serde, SliderSerde):
        if isinstance(raw, (str, bytes)) or not isinstance(raw, Iterable):
            return "a slider expects a list of numbers"
        values, expected_len = list(raw), 1 if serde.single_value else 2
    else:
        return None
    low, high = serde.min_value, serde.max_value
    allowed = f"a number from {_format_bound(low)} to {_format_bound(high)}"
    if len(values) != expected_len:
        return f"expected {expected_len} value(s), each {allowed}"
    for value in values:
        if not _is_number(value) or not math.isfinite(value):
            return f"it is not {allowed}"
        if isinstance(low, int) and value != int(value):
            return f"it is not a whole number; send {allowed}"
        if not low <= value <= high:
            return f"it is outside the allowed range; send {allowed}"
    return None


def _option_problem(serde: Any, raw: Any) -> str | None:
    """Why `raw` names no option of a selectbox or radio, or None when it names one.

    NOTE: a selectbox built with accept_new_options=True would need its new strings
    let through; no control of this app uses that argument.
    """
    options = getattr(serde, "formatted_option_to_option_index", None)
    if options is None or not isinstance(raw, str) or raw in options:
        return None
    return "it is not one of the options"


def _check(states: WStates, widget_id: str, wstate: Serialized) -> str | None:
    """Return why the serialized value must be rejected, or None to accept it."""
    metadata = states.widget_metadata.get(widget_id)
    if metadata is None or wstate.value.WhichOneof("value") is None:
        return None  # Streamlit ignores unregistered widgets and reads None as cleared
    try:
        raw = unpack_widget_state_value(wstate.value)
    except ValueError as err:  # json_value that is not JSON
        return f"it cannot be read ({type(err).__name__})"
    serde = getattr(metadata.deserializer, "__self__", None)
    expected = EXPECTED_TYPES.get(type(serde).__name__)
    if expected is not None and not isinstance(raw, expected):
        names = " or ".join(t.__name__ for t in expected)
        return f"the widget expects a {names}, got a {type(raw).__name__}"
    problem = _range_problem(serde, raw) or _option_problem(serde, raw)
    if problem is not None:
        return problem
    try:
        metadata.deserializer(raw)
    except (ArithmeticError, TypeError, ValueError, KeyError, IndexError) as err:
        return f"it cannot be read ({type(err).__name__})"
    return None


def _record(rejected: RejectedValue) -> None:
    """Queue `rejected` for the session's page and log it, at most LOGGED_PER_SESSION times."""
    session_id = _session_id() or "none"
    with _pending_lock:
        count = _rejection_counts.get(session_id, 0) + 1
        _rejection_counts[session_id] = count
        _rejection_counts.move_to_end(session_id)
        queue = _pending.setdefault(session_id, [])
        if len(queue) < MAX_PENDING_PER_SESSION:
            queue.append(rejected)
        _pending.move_to_end(session_id)
        for tracked in (_pending, _rejection_counts):
            while len(tracked) > MAX_PENDING_SESSIONS:
                tracked.popitem(last=False)
    if count <= LOGGED_PER_SESSION:
        logger.warning(
            "rejected widget value: session_id=%s widget=%s value=%s reason=%s",
            session_id,
            rejected.widget,
            rejected.value,
            rejected.reason,
        )
    elif count % LOGGED_PER_SESSION == 0:
        # A client flooding bad values must not flood the log as well.
        logger.warning(
            "rejected widget values: session_id=%s count=%d, only the first %d logged",
            session_id,
            count,
            LOGGED_PER_SESSION,
        )


@dataclass(frozen=True, slots=True)
class _Rejected(Serialized):
    """A client-sent value the guard rejected; kept in place until the run ends."""


def _quote_state(wstate: Serialized) -> str:
    try:
        return _quote(unpack_widget_state_value(wstate.value))
    except ValueError:
        return _quote(wstate.value.json_value)


_NO_VALUE = object()


def _previous_value(widget_id: str) -> Any:
    """The widget's value from the previous run, or _NO_VALUE when it had none."""
    ctx = get_script_run_ctx()
    state = getattr(getattr(ctx, "session_state", None), "_state", None)
    old_state = getattr(state, "_old_state", {})
    return old_state.get(widget_id, _NO_VALUE)


def _guarded_getitem(self: WStates, k: str) -> Any:
    wstate = self.states.get(k)
    if isinstance(wstate, _Rejected):
        raise KeyError(k)
    if isinstance(wstate, Serialized):
        reason = _check(self, k, wstate)
        if reason is not None:
            widget = user_key_from_element_id(k) or k
            _record(RejectedValue(widget, _quote_state(wstate), reason))
            # Entries are replaced, never deleted, since Streamlit may be iterating over
            # them. The previous value stays, so the widget reads as unchanged and fires
            # no callback: a rejected button press must not run its on_click.
            previous = _previous_value(k)
            if previous is not _NO_VALUE:
                self.states[k] = Value(previous)
                return previous
            self.states[k] = _Rejected(wstate.value)
            raise KeyError(k)
    return _original_getitem(self, k)


_original_getitem = WStates.__getitem__


def install_widget_guard() -> None:
    """Check every client-sent widget value of every session; safe to call on each run."""
    if WStates.__getitem__ is not _guarded_getitem:
        WStates.__getitem__ = _guarded_getitem  # type: ignore[method-assign]


def pop_rejected_values() -> list[RejectedValue]:
    """Return and forget the rejections recorded for the running session."""
    with _pending_lock:
        return _pending.pop(_session_id() or "none", [])


def show_rejected_values() -> None:
    """Warn about each widget value this session sent that the server rejected."""
    for rejected in pop_rejected_values():
        st.warning(
            f"The value {rejected.value} sent for {rejected.widget} was rejected: "
            f"{rejected.reason}. The control keeps its last valid value."
        )
