"""Tables of the numbers each chart draws, for readers who cannot use the chart."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

# A weight table shows at most this many rows and weight columns. Streamlit sends a
# table as Arrow, about 320 bytes per column plus 8 per cell, so a 128 x 65 table is
# about 80 kB and the 9 tables of the largest network stay under 1 MB.
MAX_TABLE_ROWS = 128
MAX_TABLE_COLUMNS = 64
DECIMALS = 4


def rounded(values: np.ndarray) -> np.ndarray:
    """Round to the page's 4 decimals as float64, with -0.0 turned into 0.0."""
    return np.round(np.asarray(values, dtype=np.float64), DECIMALS) + 0.0


def table_shape(out_features: int, in_features: int) -> tuple[int, int]:
    """Rows and weight columns a table shows: all of them, up to the caps."""
    return min(out_features, MAX_TABLE_ROWS), min(in_features, MAX_TABLE_COLUMNS)


def weight_table(weight: np.ndarray, bias: np.ndarray | None) -> pd.DataFrame:
    """A Linear's weight in its (out_features, in_features) layout, bias as the last column.

    Rows are output neurons i and columns input features j, as in `weight[i, j]`.
    Only the first rows and columns that `table_shape` allows are included.
    """
    rows, columns = table_shape(*weight.shape)  # weight is (out_features, in_features)
    frame = pd.DataFrame(
        rounded(weight[:rows, :columns]),
        index=pd.RangeIndex(rows, name="i"),
        columns=[f"j={j}" for j in range(columns)],
    )
    if bias is not None:
        frame["bias"] = rounded(bias[:rows])
    return frame


def outputs_table(logits: Sequence[float], probs: Sequence[float]) -> pd.DataFrame:
    """One row per class: its logit and its softmax probability."""
    return pd.DataFrame(
        {"logit": rounded(np.asarray(logits)), "softmax": rounded(np.asarray(probs))},
        index=pd.RangeIndex(len(logits), name="class"),
    )
