"""Tables that stand in for charts: layout, rounding and the size caps."""

from __future__ import annotations

import numpy as np

from components import tables
from mlp import MLPSpec, build_model


def test_weight_table_matches_layer():
    layer = build_model(MLPSpec()).layers[0]
    weight = layer.weight.detach().numpy()  # (8, 5)
    bias = layer.bias.detach().numpy()
    frame = tables.weight_table(weight, bias)
    assert frame.shape == (8, 6)
    assert list(frame.columns) == ["j=0", "j=1", "j=2", "j=3", "j=4", "bias"]
    assert frame.index.name == "i"
    for i in range(8):
        for j in range(5):
            assert frame.iloc[i, j] == round(float(weight[i, j]), 4)
        assert frame.loc[i, "bias"] == round(float(bias[i]), 4)


def test_weight_table_without_bias():
    frame = tables.weight_table(np.ones((2, 3), dtype=np.float32), None)
    assert list(frame.columns) == ["j=0", "j=1", "j=2"]


def test_weight_table_capped_corner():
    weight = np.arange(512 * 1024, dtype=np.float32).reshape(512, 1024)
    frame = tables.weight_table(weight, np.zeros(512, dtype=np.float32))
    rows, columns = tables.MAX_TABLE_ROWS, tables.MAX_TABLE_COLUMNS
    assert frame.shape == (rows, columns + 1)
    assert frame.iloc[rows - 1, columns - 1] == weight[rows - 1, columns - 1]


def test_table_has_no_negative_zero():
    frame = tables.outputs_table([-0.00001, 1.0], [0.3, 0.7])
    assert str(frame["logit"][0]) == "0.0"
    assert list(frame["softmax"]) == [0.3, 0.7]
    assert frame.index.name == "class"
