"""Links to a view: read the URL once per session, write its canonical form every run."""

from __future__ import annotations

import logging
from urllib.parse import urlencode, urlsplit

import streamlit as st

from components.input_editor import set_input, sync_input
from components.view import PROJECTOR_KEY, TABLES_KEY, TEACHER_KEY, ViewOptions
from mlp.query import PANELS, QueryState, parse_query, to_query
from mlp.spec import MLPSpec

logger = logging.getLogger(__name__)

LOADED_STATE_KEY = "link_state"  # the state parsed from the URL the session opened
WARNINGS_KEY = "link_warnings"  # warnings about the URL the session opened with
LOADED_QUERY_KEY = (
    "link_query"  # canonical query of that URL, to know when to drop them
)


def panel_key(name: str) -> str:
    """Return the session-state key of a lesson panel's expander, True when it is open.

    A lesson panel links itself by drawing
    `st.expander(title, key=panel_key(name), on_change="rerun")` with `name` from
    `mlp.query.PANELS`.
    """
    return f"panel_{name}"


def url_params() -> dict[str, list[str]]:
    """Return the current query parameters, keeping every value of a repeated key."""
    return {key: st.query_params.get_all(key) for key in st.query_params}


def load_link() -> QueryState:
    """Parse the URL on a session's first run and put its state into session state.

    Later runs return the same state without touching session state again, since
    the controls then hold what the user changed.
    """
    if LOADED_STATE_KEY in st.session_state:
        return st.session_state[LOADED_STATE_KEY]
    state = parse_query(url_params())
    for message in state.warnings:
        logger.info("invalid URL parameter: %s", message)
    if state.x_values is not None:
        set_input(list(state.x_values), edited=True, seed=None)
    for name in state.panels:
        st.session_state[panel_key(name)] = True
    st.session_state[TEACHER_KEY] = state.teacher
    st.session_state[PROJECTOR_KEY] = state.projector
    st.session_state[TABLES_KEY] = state.tables
    st.session_state[WARNINGS_KEY] = state.warnings
    st.session_state[LOADED_QUERY_KEY] = to_query(state)
    st.session_state[LOADED_STATE_KEY] = state
    return state


def link_warnings() -> None:
    """Show one warning per invalid URL parameter until the view is changed."""
    for message in st.session_state.get(WARNINGS_KEY, ()):
        st.warning(message)


def current_state(spec: MLPSpec, view: ViewOptions) -> QueryState:
    """Return the state that a link to the current view stores."""
    x_values = None
    if st.session_state.get("x_edited"):
        # An edited input goes into the link. A seeded one follows from the seed.
        x_values = tuple(st.session_state["x_values"])
    return QueryState(
        spec=spec,
        x_values=x_values,
        panels=tuple(name for name in PANELS if st.session_state.get(panel_key(name))),
        teacher=view.teacher,
        projector=view.projector,
        tables=view.tables,
    )


def link_text(query: dict[str, str]) -> str:
    """Return the link to copy: the page address and the query, commas left readable."""
    base = st.context.url or ""  # None outside a browser session, e.g. in AppTest
    if base and not urlsplit(base).path:
        base += "/"
    return f"{base}?{urlencode(query, safe=',')}"


def sync_link(spec: MLPSpec, view: ViewOptions, custom_weights: bool = False) -> None:
    """Write the canonical query to the address bar and show the link to copy.

    The URL is set only when it differs, since each change sends a message to the
    browser. Once the view differs from the opened link, its warnings are dropped.
    Call it before `link_warnings`, so they go in the same run. `custom_weights` is
    True when the page shows uploaded or trained weights, which no link can carry.
    """
    sync_input(spec)  # the input of this spec, before the editor draws it
    query = to_query(current_state(spec, view))
    if url_params() != {key: [value] for key, value in query.items()}:
        st.query_params.from_dict(query)
    if query != st.session_state.get(LOADED_QUERY_KEY):
        st.session_state[WARNINGS_KEY] = ()

    bar = st.sidebar
    bar.header("Link to this view")
    bar.code(link_text(query), language=None, wrap_lines=True)
    caption = (
        "Copy it with the copy button at the top right of the box, which shows "
        "when the pointer is over it. It opens this network, seed, input and view "
        "in any browser."
    )
    if custom_weights:
        # Part of the caption, not a banner: the page's own banner names the weights.
        caption += (
            " A link stores the architecture and the seed, not weights, so it opens "
            "seeded weights in place of the uploaded or SGD-stepped ones on this page."
        )
    bar.caption(caption)
