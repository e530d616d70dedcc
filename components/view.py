"""Reading aids: teacher mode, projector mode, tables under charts, the torch version."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st
import torch

from components.figures import DEFAULT_STYLE, PROJECTOR_STYLE, FigureStyle
from components.panels import HEATMAPS_PER_ROW

TEACHER_KEY = "teacher"
PROJECTOR_KEY = "projector"
TABLES_KEY = "tables"

PROJECTOR_HEATMAPS_PER_ROW = 2

# Controls that teacher mode hides. The link fixes their values for the whole class.
TEACHER_HIDDEN = ("preset menu", "bias switch", "seed input", "weights upload")

# Metric values wrap instead of ending in "..." when a narrow window (1024 px, or
# three or more classes) leaves too little room for "0.3806 / 0.3704". The smaller
# top padding brings the numbers into the first screen of a 1280x720 projector.
BASE_CSS = """
<style>
[data-testid="stMetricValue"] div, [data-testid="stMetricValue"] p {
  white-space: normal; overflow: visible; text-overflow: clip; }
[data-testid="stMetricValue"] { font-size: 1.9rem; }
[data-testid="stMainBlockContainer"] { padding-top: 2.5rem; }
</style>
"""

# Larger type for a projector. Only sizes change, never colours, so the rules read the
# same in the light and the dark theme. Selectors are Streamlit's data-testid values.
PROJECTOR_CSS = """
<style>
[data-testid="stMainBlockContainer"] { padding-top: 2.5rem; }
[data-testid="stMarkdown"] p, [data-testid="stMarkdown"] li { font-size: 1.35rem; }
[data-testid="stCaptionContainer"], [data-testid="stCaptionContainer"] p { font-size: 1.15rem; }
[data-testid="stWidgetLabel"] p { font-size: 1.2rem; }
[data-testid="stSliderThumbValue"] p, [data-testid="stSliderTickBarMin"],
[data-testid="stSliderTickBarMax"] { font-size: 1.1rem; }
[data-testid="stMetricLabel"] p { font-size: 1.4rem; }
[data-testid="stMetricValue"], [data-testid="stMetricValue"] p { font-size: 2.8rem; }
[data-testid="stTextInput"] input, [data-testid="stNumberInput"] input { font-size: 1.3rem; }
[data-testid="stCode"] code { font-size: 1.1rem; }
[data-testid^="stBaseButton"] p { font-size: 1.1rem; }
[data-testid="stExpander"] summary p { font-size: 1.3rem; }
[data-testid="stSelectbox"] [data-baseweb="select"] { font-size: 1.2rem; }
[data-testid="stHeading"] h1 { font-size: 3rem; }
[data-testid="stHeading"] h2, [data-testid="stHeading"] h3 { font-size: 2rem; }
[data-testid="stAlert"] p { font-size: 1.25rem; }
</style>
"""


@dataclass(frozen=True)
class ViewOptions:
    """The reading aids this session chose."""

    teacher: bool = False
    projector: bool = False
    tables: bool = False

    @property
    def style(self) -> FigureStyle:
        """Figure style: large type and the purple-orange scale on a projector."""
        return PROJECTOR_STYLE if self.projector else DEFAULT_STYLE

    @property
    def heatmaps_per_row(self) -> int:
        """Heatmaps side by side: fewer on a projector, where large type needs room."""
        return PROJECTOR_HEATMAPS_PER_ROW if self.projector else HEATMAPS_PER_ROW


def teacher_mode() -> bool:
    """True when the link opened this session in teacher mode."""
    return bool(st.session_state.get(TEACHER_KEY, False))


def teacher_notice() -> None:
    """Say at the top of the sidebar which controls teacher mode hides, and how to undo it."""
    if teacher_mode():
        st.sidebar.info(
            f"Teacher mode: the {', the '.join(TEACHER_HIDDEN[:-1])} and the "
            f"{TEACHER_HIDDEN[-1]} are hidden, and this link fixes their values. "
            "Remove teacher=1 from the address to show them."
        )


def view_controls() -> ViewOptions:
    """Draw the View section of the sidebar and return the options chosen."""
    bar = st.sidebar
    bar.header("View")
    projector = bar.toggle(
        "Projector mode",
        key=PROJECTOR_KEY,
        help="Large type, larger hover labels and a purple-orange colour scale "
        "that reads with every common form of colour blindness.",
    )
    tables = bar.toggle(
        "Show charts as tables",
        key=TABLES_KEY,
        help="Print the numbers of each chart in a table under it.",
    )
    options = ViewOptions(teacher=teacher_mode(), projector=projector, tables=tables)
    st.html(BASE_CSS)
    if options.projector:
        st.html(PROJECTOR_CSS)
    return options


def torch_version_note() -> None:
    """Name the torch version behind the numbers, which another version may not repeat."""
    st.caption(
        f"Weights, inputs and outputs computed with torch {torch.__version__} on CPU. "
        "PyTorch does not promise the same random numbers across releases, so another "
        "version may draw other weights and inputs for the same seed."
    )
