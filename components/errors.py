"""Unexpected errors: the full record goes to the server log, a short reference to the page."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from components.upload_limits import install_upload_limits
from components.widget_guard import install_widget_guard, show_rejected_values

APP_LOGGER = "mlp_explorer"
# Loggers of this project that get a stderr handler when the server has configured none.
PROJECT_LOGGERS = (APP_LOGGER, "mlp", "components")
LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"

# Streamlit 1.67 logs exceptions that escape the page (callbacks included) here.
STREAMLIT_ERROR_LOGGER = "streamlit.error_util"

logger = logging.getLogger(APP_LOGGER)


class SessionIdFilter(logging.Filter):
    """Append the running session's id to each record, so a log line names its session."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "session_id=" not in str(record.msg):
            record.msg = f"{record.msg} (session_id={current_session_id()})"
        return True


def configure_logging() -> None:
    """Give the project's loggers a stderr handler with time and level, once per process.

    `streamlit run` configures only its own loggers, so without this the records of
    `mlp` and `components` reach stderr as bare messages through Python's fallback
    handler. Records still propagate, so pytest's caplog captures them too. Streamlit's
    record of an exception that escapes the page gets the session id appended.
    """
    for name in PROJECT_LOGGERS:
        project_logger = logging.getLogger(name)
        if project_logger.handlers:
            continue
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        project_logger.addHandler(handler)
        project_logger.setLevel(logging.INFO)
    streamlit_errors = logging.getLogger(STREAMLIT_ERROR_LOGGER)
    if not any(isinstance(f, SessionIdFilter) for f in streamlit_errors.filters):
        streamlit_errors.addFilter(SessionIdFilter())


def current_session_id() -> str:
    """Return the Streamlit session id of the running script, or "none" outside one."""
    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else "none"


def reset_session() -> None:
    """Forget this session's controls and inputs, so the next run starts from the defaults."""
    st.session_state.clear()
    # The next run reads its state from the URL again, so the link must go too.
    st.query_params.clear()


def run_page(page: Callable[[], None]) -> None:
    """Run `page`; on an unexpected exception log it with the session id and show a reference.

    Streamlit's own rerun and stop signals derive from BaseException and pass through.
    The page shows no traceback: the log has it, under the same reference. Widget
    values the server rejected during the run are listed at the top of the page.
    """
    install_widget_guard()
    install_upload_limits()
    notices = st.container()
    try:
        page()
    except Exception:
        reference = secrets.token_hex(4)
        logger.exception(
            "page run failed: session_id=%s reference=%s",
            current_session_id(),
            reference,
        )
        st.error(
            f"The page could not be drawn because of an internal error (reference {reference}). "
            "Reset the controls below, or reload the page; the server log records the error "
            "under this reference."
        )
        st.button("Reset controls to the defaults", on_click=reset_session)
    with notices:
        show_rejected_values()
