"""File contents for downloads: the state_dict as .pt and .safetensors, tensors as CSV."""

from __future__ import annotations

import csv
import io
import zipfile

import safetensors.torch
import torch
from torch import nn


def exact_float(value: float) -> str:
    """Text that reads back as the float32 `value`, a float32 widened to a Python float.

    The float64 repr round-trips exactly, and a float32 widened to float64 rounds back
    to the same float32, so parsing the text gives the same bits, -0.0 included.
    """
    return repr(float(value))


def state_dict_of(model: nn.Module) -> dict[str, torch.Tensor]:
    """Detached, contiguous copies of `model.state_dict()`, keys such as layers.0.weight."""
    return {
        key: tensor.detach().clone().contiguous()
        for key, tensor in model.state_dict().items()
    }


def state_dict_pt(model: nn.Module) -> bytes:
    """Bytes of `torch.save(model.state_dict(), path)`; torch.load(weights_only=True) reads them."""
    buffer = io.BytesIO()
    torch.save(state_dict_of(model), buffer)
    return buffer.getvalue()


def state_dict_safetensors(model: nn.Module) -> bytes:
    """Bytes of the state_dict in the safetensors format, which contains tensors only."""
    return safetensors.torch.save(state_dict_of(model))


def tensor_csv(tensor: torch.Tensor) -> str:
    """Write a weight as CSV with one row per output neuron, or a bias as one column.

    A weight of shape (out_features, in_features) gets a header `out_index,in_0,...`
    and rows that start with their output index, so pandas reads it with
    `pd.read_csv(path, index_col=0)`.
    """
    values = tensor.detach().to(torch.float32)
    if values.dim() == 1:
        values = values.unsqueeze(1)  # (out_features, 1)
        header = ["out_index", "bias"]
    else:
        header = ["out_index", *(f"in_{j}" for j in range(values.shape[1]))]
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    for out_index, row in enumerate(values.tolist()):
        writer.writerow([out_index, *(exact_float(v) for v in row)])
    return text.getvalue()


def csv_zip(model: nn.Module) -> bytes:
    """Pack one CSV per weight and bias into a zip, named like `layers.0.weight.csv`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for key, tensor in model.state_dict().items():
            archive.writestr(f"{key}.csv", tensor_csv(tensor))
    return buffer.getvalue()
