"""Process-wide settings for a server on which many sessions share a few CPU cores."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable

import plotly.io as pio
import torch

logger = logging.getLogger(__name__)

# One intra-op thread per script run. Streamlit runs each session's script in its own
# thread, so a class of 40 already has more runnable threads than a 2-core server has
# cores. torch's default pool of one thread per core would add more threads competing
# for the same cores. The largest matmul here, one row times a 1024 x 512 weight, is
# far too small to gain from being split across threads.
TORCH_THREADS = 1

# Importing Streamlit 1.67 makes its "streamlit" template plotly's default, and every
# figure then carries about 3.4 KB of template (colour scales and trace defaults) in
# each rerun's payload. The page draws charts with theme=None and sets every colour
# it uses, so the empty "none" template looks the same and sends almost nothing.
PLOTLY_TEMPLATE = "none"


def configure_torch_threads(threads: int = TORCH_THREADS) -> None:
    """Set torch's intra-op thread count for the whole process, once."""
    if torch.get_num_threads() == threads:
        return
    torch.set_num_threads(threads)  # process-wide: threads started later use it too
    logger.info("torch intra-op threads set to %d", threads)


def configure_plotly_template(template: str = PLOTLY_TEMPLATE) -> None:
    """Make `template` the default of every plotly figure built from now on."""
    if pio.templates.default != template:
        pio.templates.default = template


# plotly.io.to_json escapes every "/" as the 6 characters \u002f, so that its output
# can sit inside an HTML <script> tag. Base64 float32 data is about 5% slashes (63,
# the all-ones 6-bit group, is common in float exponent bytes), so the escape made the
# nine heatmaps of the largest network 37 KiB (5%) larger. Streamlit 1.67 sends the
# chart JSON inside a protobuf to JSON.parse and never into HTML, and "<" stays
# escaped, so a "</script>" cannot form even where the JSON does reach HTML.
# An escape \u002f starts after an even number of backslashes; after an odd number,
# the text is a literal backslash followed by "u002f".
ESCAPED_SLASH = re.compile(r"(?<!\\)((?:\\\\)*)\\u002f")


def unescape_slashes(to_json: Callable[..., str]) -> Callable[..., str]:
    """Wrap plotly's `to_json` so that its output keeps "/" as one character."""
    if getattr(to_json, "keeps_slashes", False):
        return to_json

    @functools.wraps(to_json)
    def to_json_keeping_slashes(*args: object, **kwargs: object) -> str:
        return ESCAPED_SLASH.sub(r"\1/", to_json(*args, **kwargs))

    to_json_keeping_slashes.keeps_slashes = True  # type: ignore[attr-defined]
    return to_json_keeping_slashes


def configure_plotly_json() -> None:
    """Make plotly.io.to_json, which st.plotly_chart calls, keep "/" unescaped."""
    pio.to_json = unescape_slashes(pio.to_json)


def configure_process() -> None:
    """Apply the settings above; cheap to call on every rerun, as app.py does."""
    configure_torch_threads()
    configure_plotly_template()
    configure_plotly_json()
