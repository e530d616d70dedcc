"""A bounded, process-wide cache of built plotly figures, shared by every session.

Building a figure is the largest part of a rerun, because plotly validates every
property in Python. Yet most reruns draw figures that were drawn before: every
session at the defaults shows the same heatmaps, and a slider moved back shows the
network it showed a moment ago. A cached figure is shared between sessions, so
callers pass it straight to `st.plotly_chart`, which only reads it, and never
modify it.

Cached figures are also frozen: `st.plotly_chart` calls `figure.to_dict()` on every
rerun, and plotly's `to_dict` deep-copies the whole figure and re-encodes its arrays
each time, which costs more than the rest of sending a chart.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence

import plotly.graph_objects as go
import torch

logger = logging.getLogger(__name__)

# A figure of a 128 x 128 pooled heatmap contains about 70 KB of arrays, so 256 entries
# stay under about 20 MB; 256 is nine heatmaps for each of 28 networks.
MAX_FIGURES = 256

TensorToken = tuple[int, int]


class FrozenFigure(go.Figure):
    """A finished figure whose `to_dict()` returns one dict computed when it was frozen.

    `st.plotly_chart` (Streamlit 1.67) only reads that dict: it encodes it as JSON
    and looks up the layout's width and height.
    """

    _frozen_dict: dict

    def to_dict(self) -> dict:
        return self._frozen_dict


def freeze(figure: go.Figure) -> FrozenFigure:
    """Turn `figure` itself into a FrozenFigure; it must not be modified afterwards."""
    frozen_dict = figure.to_dict()
    # Changing the class keeps the built figure, where constructing a new FrozenFigure
    # from it would run plotly's validation of every property a second time.
    figure.__class__ = FrozenFigure
    figure._frozen_dict = frozen_dict
    return figure


def tensor_token(tensor: torch.Tensor) -> TensorToken:
    """Identity and in-place version of `tensor`.

    torch increments `_version` on every in-place change (an optimizer step,
    `copy_`, `load_state_dict`), so a changed tensor gets a new token.
    NOTE: writes through `.data` or through a NumPy view bypass the version counter.
    Code that changes shown weights must use in-place torch ops or new tensors.
    """
    return (id(tensor), tensor._version)


class FigureCache:
    """Least-recently-used figures keyed by a hashable key and the tensors drawn.

    An entry keeps weak references to its tensors and matches only while they are
    the same live objects. A new tensor that reuses a freed one's id therefore never
    gets the old figure, and cached figures never keep a network alive.
    """

    def __init__(self, max_entries: int = MAX_FIGURES) -> None:
        self.max_entries = max_entries
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[
            Hashable, tuple[tuple[weakref.ref[torch.Tensor], ...], go.Figure]
        ] = OrderedDict()
        self._lock = threading.Lock()  # script runs of many sessions share the cache

    def get(
        self,
        key: Hashable,
        build: Callable[[], go.Figure],
        tensors: Sequence[torch.Tensor] = (),
    ) -> go.Figure:
        """Return the figure cached for `key` and `tensors`, building it on a miss."""
        full_key = (key, tuple(tensor_token(t) for t in tensors))
        with self._lock:
            entry = self._entries.get(full_key)
            if entry is not None and all(
                ref() is tensor for ref, tensor in zip(entry[0], tensors, strict=True)
            ):
                self._entries.move_to_end(full_key)
                self.hits += 1
                return entry[1]
        # Built outside the lock: two sessions may build the same figure at once, and
        # the second simply replaces the first's equal entry.
        figure = freeze(build())
        refs = tuple(weakref.ref(t) for t in tensors)
        with self._lock:
            self._entries[full_key] = (refs, figure)
            self._entries.move_to_end(full_key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
            self.misses += 1
        return figure

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


FIGURES = FigureCache()


def cached_figure(
    key: Hashable,
    build: Callable[[], go.Figure],
    tensors: Sequence[torch.Tensor] = (),
) -> go.Figure:
    """The shared figure for `key` and `tensors`; the caller must not modify it."""
    return FIGURES.get(key, build, tensors)
