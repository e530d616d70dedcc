"""Read an uploaded state_dict of Linear layers and infer the MLP it describes.

Tensors are read only by `torch.load(..., weights_only=True)` for `.pt`/`.pth` and
by `safetensors.torch.load` for `.safetensors`; neither runs code from the file. Before
torch.load, `zipfile` reads the archive's directory to check its unpacked size. Every check failure raises ValueError with a message that names the file,
key, shape or value and the fix.
"""

from __future__ import annotations

import io
import logging
import math
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass

import safetensors
import safetensors.torch
import torch

from mlp.network import MLP, build_model
from mlp.spec import (
    MAX_HIDDEN_LAYERS,
    MAX_IN_FEATURES,
    MAX_OUT_FEATURES,
    MAX_WIDTH,
    MIN_IN_FEATURES,
    MIN_OUT_FEATURES,
    MIN_WIDTH,
    MLPSpec,
)

logger = logging.getLogger(__name__)

# Same limit as server.maxUploadSize in .streamlit/config.toml. The largest network
# the bounds allow (1024-512 x 8-16) is about 2.4 million float32 values, 9.5 MB.
MAX_FILE_MB = 20
MAX_FILE_BYTES = MAX_FILE_MB * 1024 * 1024
TORCH_SUFFIXES = (".pt", ".pth")
SAFETENSORS_SUFFIX = ".safetensors"
UPLOAD_TYPES = ("pt", "pth", "safetensors")

# `layers.K.weight` is what `model.state_dict()` returns for a module whose
# Sequential is `self.layers`; `K.weight` is what an nn.Sequential's own returns.
_KEY = re.compile(r"(?P<prefix>layers\.)?(?P<index>[0-9]+)\.(?P<kind>weight|bias)")
_BLOCKED_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")
SAVE_HINT = "save it with torch.save(model.state_dict(), path)"


@dataclass(frozen=True, eq=False)
class LoadedModel:
    """An uploaded MLP: its file name, the inferred layer sizes and its weights."""

    filename: str
    layer_sizes: tuple[int, ...]  # (in_features, *hidden_widths, out_features)
    bias: bool
    # Keys `layers.K.weight` / `layers.K.bias` whatever form the file used, float32.
    state_dict: dict[str, torch.Tensor]
    source_dtype: torch.dtype

    @property
    def in_features(self) -> int:
        return self.layer_sizes[0]

    @property
    def hidden_widths(self) -> tuple[int, ...]:
        return self.layer_sizes[1:-1]

    @property
    def out_features(self) -> int:
        return self.layer_sizes[-1]

    def to_spec(self, activation: str, seed: int) -> MLPSpec:
        """Spec of this architecture; the seed does not affect the uploaded weights."""
        return MLPSpec(
            in_features=self.in_features,
            hidden_widths=self.hidden_widths,
            out_features=self.out_features,
            activation=activation,
            bias=self.bias,
            seed=seed,
        )


def build_loaded_model(loaded: LoadedModel, activation: str, seed: int) -> MLP:
    """Build a fresh `MLP` of the uploaded architecture holding the uploaded weights."""
    model = build_model(loaded.to_spec(activation, seed))
    with torch.no_grad():
        model.load_state_dict(loaded.state_dict, strict=True)
    return model


def load_state_dict(data: bytes, filename: str) -> LoadedModel:
    """Read, check and return the uploaded state_dict in `data`, or raise ValueError."""
    check_file(data, filename)
    if filename.lower().endswith(SAFETENSORS_SUFFIX):
        tensors = read_safetensors(data, filename)
    else:
        tensors = read_torch(data, filename)
    return check_state_dict(tensors, filename)


def check_file(data: bytes, filename: str) -> None:
    """Check the extension and the size before any reader sees the bytes."""
    suffixes = (*TORCH_SUFFIXES, SAFETENSORS_SUFFIX)
    if not filename.lower().endswith(suffixes):
        raise ValueError(
            f"{filename}: the file type is not supported; upload a state_dict saved as "
            f"{', '.join(suffixes)}"
        )
    if not data:
        raise ValueError(
            f"{filename} is empty (0 bytes); upload a state_dict file, {SAVE_HINT}"
        )
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(
            f"{filename} is {len(data) / 2**20:.1f} MB, larger than the {MAX_FILE_MB} MB "
            "limit; the largest network MLP Explorer shows needs less than 10 MB in float32"
        )


def read_safetensors(data: bytes, filename: str) -> dict[str, torch.Tensor]:
    """Parse a .safetensors file; the format holds only tensors and a JSON header."""
    try:
        return safetensors.torch.load(data)
    except safetensors.SafetensorError as err:
        raise ValueError(
            f"{filename} is not a valid .safetensors file ({err}); save it with "
            "safetensors.torch.save_file(model.state_dict(), path)"
        ) from err


def read_torch(data: bytes, filename: str) -> dict[str, torch.Tensor]:
    """Parse a .pt/.pth file with the weights-only unpickler, which builds no objects."""
    check_zip_size(data, filename)
    try:
        loaded = torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
    # torch.load raises UnpicklingError, RuntimeError, EOFError and others on bytes it
    # cannot read; each of them means the same thing for an upload.
    except Exception as err:
        raise ValueError(torch_load_message(err, filename)) from err
    return check_mapping(loaded, filename)


def check_zip_size(data: bytes, filename: str) -> None:
    """Reject a torch zip archive whose entries unpack past the size limit.

    torch.save stores entries uncompressed, but a crafted archive can deflate them,
    so the unpacked size is checked as well as the file size.
    """
    buffer = io.BytesIO(data)
    if not zipfile.is_zipfile(buffer):
        return
    try:
        with zipfile.ZipFile(buffer) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError) as err:
        raise ValueError(
            f"{filename} is a damaged zip archive ({err}); {SAVE_HINT}"
        ) from err
    if unpacked > MAX_FILE_BYTES:
        raise ValueError(
            f"{filename} unpacks to {unpacked / 2**20:.1f} MB, larger than the "
            f"{MAX_FILE_MB} MB limit; {SAVE_HINT}"
        )


def torch_load_message(err: Exception, filename: str) -> str:
    """Message for a .pt file that torch.load(weights_only=True) could not read."""
    blocked = _BLOCKED_GLOBAL.search(str(err))
    if blocked:
        return (
            f"{filename} contains a Python object ({blocked.group(1)}), not only "
            "tensors, so it was not loaded: MLP Explorer never unpickles objects. "
            f"Upload a state_dict instead: {SAVE_HINT}"
        )
    logger.debug("torch.load rejected %s: %s: %s", filename, type(err).__name__, err)
    return (
        f"{filename} is not a PyTorch file that torch.load(weights_only=True) can read "
        f"({type(err).__name__}); {SAVE_HINT}"
    )


def check_mapping(loaded: object, filename: str) -> dict[str, torch.Tensor]:
    """Check that a torch.load result is a flat dict of tensors, as a state_dict is."""
    if not isinstance(loaded, Mapping):
        raise ValueError(
            f"{filename} contains a {type(loaded).__name__}, not a state_dict; {SAVE_HINT}"
        )
    tensors: dict[str, torch.Tensor] = {}
    for key, value in loaded.items():
        if isinstance(value, Mapping):
            raise ValueError(
                f"{filename}: key {key!r} contains a dict, not a tensor. If the file is a "
                f"training checkpoint, save only the model's part: "
                f"torch.save(checkpoint[{key!r}], path)"
            )
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise ValueError(
                f"{filename}: key {key!r} contains a {type(value).__name__}, not a "
                f"tensor; {SAVE_HINT}"
            )
        tensors[key] = value
    return tensors


def check_state_dict(tensors: dict[str, torch.Tensor], filename: str) -> LoadedModel:
    """Infer the architecture from the keys and shapes, then check every value."""
    if not tensors:
        raise ValueError(f"{filename} contains no tensors; {SAVE_HINT}")
    prefix, layers = group_linear_keys(tensors, filename)
    check_indices(sorted(layers), filename)
    bias = check_bias_presence(layers, prefix, filename)
    sizes = check_shapes(layers, prefix, filename)
    # Shapes are checked before any value is read: a crafted tensor can have a huge
    # shape with zero strides over a tiny storage, and copying it would use the memory.
    state_dict: dict[str, torch.Tensor] = {}
    for index in sorted(layers):
        # Weight first, as state_dict() orders them.
        for kind, tensor in sorted(layers[index].items(), reverse=True):
            file_key = f"{prefix}{index}.{kind}"
            state_dict[f"layers.{index}.{kind}"] = to_float32(
                tensor, file_key, filename
            )
    source_dtype = next(iter(tensors.values())).dtype
    logger.info("loaded %s: layer sizes %s, bias=%s", filename, sizes, bias)
    return LoadedModel(filename, sizes, bias, state_dict, source_dtype)


def group_linear_keys(
    tensors: Mapping[str, torch.Tensor], filename: str
) -> tuple[str, dict[int, dict[str, torch.Tensor]]]:
    """Map each Sequential index to its `weight` and `bias`, and reject any other key.

    Also returns the key prefix the file uses: "layers." or "".
    """
    prefixes: set[str] = set()
    layers: dict[int, dict[str, torch.Tensor]] = {}
    for key, tensor in tensors.items():
        match = _KEY.fullmatch(key)
        if match is None:
            raise ValueError(
                f"{filename}: key {key!r} is not the weight or bias of a Linear layer. "
                "MLP Explorer loads only Linear layers, with keys such as layers.0.weight "
                "and layers.0.bias (a module whose Sequential is self.layers) or 0.weight "
                "and 0.bias (an nn.Sequential); rename the keys or remove the other layers"
            )
        prefixes.add(match["prefix"] or "")
        layers.setdefault(int(match["index"]), {})[match["kind"]] = tensor
    if len(prefixes) > 1:
        raise ValueError(
            f"{filename} mixes keys with and without the 'layers.' prefix; use one form "
            "for every key"
        )
    return prefixes.pop(), layers


def check_indices(indices: list[int], filename: str) -> None:
    """Require Linear layers at Sequential indices 0, 2, 4, ... with activations between."""
    expected = [2 * k for k in range(len(indices))]
    if indices != expected:
        raise ValueError(
            f"{filename} has Linear layers at Sequential indices "
            f"{', '.join(map(str, indices))}; MLP Explorer expects Linear, activation, "
            f"Linear, ... so Linear layers at {', '.join(map(str, expected))}. Remove "
            "other modules (Dropout, BatchNorm) from the Sequential before saving"
        )
    if len(indices) > MAX_HIDDEN_LAYERS + 1:
        raise ValueError(
            f"{filename} has {len(indices)} Linear layers; MLP Explorer shows at most "
            f"{MAX_HIDDEN_LAYERS + 1} ({MAX_HIDDEN_LAYERS} hidden layers and the output layer)"
        )


def check_bias_presence(
    layers: Mapping[int, Mapping[str, torch.Tensor]], prefix: str, filename: str
) -> bool:
    """Require a weight in every layer and a bias in all of them or in none."""
    for index, entry in sorted(layers.items()):
        if "weight" not in entry:
            raise ValueError(
                f"{filename}: {prefix}{index}.weight is missing but {prefix}{index}.bias "
                "exists; a Linear layer needs its weight"
            )
    with_bias = [index for index, entry in sorted(layers.items()) if "bias" in entry]
    without_bias = [index for index in sorted(layers) if index not in with_bias]
    if with_bias and without_bias:
        raise ValueError(
            f"{filename}: {prefix}{without_bias[0]}.bias is missing but "
            f"{prefix}{with_bias[0]}.bias exists; MLP Explorer shows networks with "
            "bias=True in every Linear or in none"
        )
    return bool(with_bias)


def check_shapes(
    layers: Mapping[int, Mapping[str, torch.Tensor]], prefix: str, filename: str
) -> tuple[int, ...]:
    """Check each weight and bias shape and the chain between layers; return the sizes."""
    sizes: list[int] = []
    ordered = sorted(layers.items())
    for position, (index, entry) in enumerate(ordered):
        weight = entry["weight"]
        key = f"{prefix}{index}.weight"
        check_tensor_kind(weight, key, filename)
        if weight.dim() != 2:
            raise ValueError(
                f"{filename}: {key} has shape {tuple(weight.shape)}; a Linear weight is "
                "2-D (out_features, in_features), so this is not a Linear layer (Conv "
                "weights are 3-D to 5-D). Only Linear layers can be loaded"
            )
        out_features, in_features = weight.shape
        if position == 0:
            check_size(
                in_features,
                "in_features",
                key,
                filename,
                MIN_IN_FEATURES,
                MAX_IN_FEATURES,
            )
            sizes.append(in_features)
        elif in_features != sizes[-1]:
            previous = f"{prefix}{ordered[position - 1][0]}.weight"
            raise ValueError(
                f"{filename}: shapes do not chain: {previous} has out_features "
                f"{sizes[-1]} but {key} has shape {tuple(weight.shape)}, so in_features "
                f"{in_features}; the next Linear's in_features must equal the previous "
                "out_features"
            )
        if position == len(ordered) - 1:
            check_size(
                out_features,
                "out_features",
                key,
                filename,
                MIN_OUT_FEATURES,
                MAX_OUT_FEATURES,
            )
        else:
            check_size(
                out_features, "hidden width", key, filename, MIN_WIDTH, MAX_WIDTH
            )
        sizes.append(out_features)
        if "bias" in entry:
            check_bias_shape(
                entry["bias"], out_features, f"{prefix}{index}.bias", filename
            )
    return tuple(sizes)


def check_tensor_kind(tensor: torch.Tensor, key: str, filename: str) -> None:
    """Require a dense floating-point tensor."""
    if tensor.layout != torch.strided:
        raise ValueError(
            f"{filename}: {key} is a {tensor.layout} tensor; save dense tensors "
            "(tensor.to_dense())"
        )
    if not torch.is_floating_point(tensor):
        raise ValueError(
            f"{filename}: {key} has dtype {tensor.dtype}; weights must be floating point "
            "(float32, float64, float16 or bfloat16)"
        )


def check_size(
    size: int, name: str, key: str, filename: str, low: int, high: int
) -> None:
    if not low <= size <= high:
        raise ValueError(
            f"{filename}: {key} gives {name} = {size}; MLP Explorer shows {name} from "
            f"{low} to {high}"
        )


def check_bias_shape(
    bias: torch.Tensor, out_features: int, key: str, filename: str
) -> None:
    check_tensor_kind(bias, key, filename)
    if tuple(bias.shape) != (out_features,):
        raise ValueError(
            f"{filename}: {key} has shape {tuple(bias.shape)}; the bias of a Linear with "
            f"out_features {out_features} has shape ({out_features},)"
        )


def to_float32(tensor: torch.Tensor, key: str, filename: str) -> torch.Tensor:
    """Copy `tensor` to a contiguous float32 tensor and require every value finite."""
    # The page computes in float32, as nn.Linear does by default.
    converted = tensor.detach().to(torch.float32).contiguous().clone()
    finite = torch.isfinite(converted)
    if bool(finite.all()):
        return converted
    position = tuple(int(i) for i in (~finite).nonzero()[0].tolist())
    original = tensor[position].item()
    if math.isfinite(original):
        problem = f"is {original}, outside the float32 range"
    else:
        problem = f"is {original}"
    raise ValueError(
        f"{filename}: {key}{list(position)} {problem}; every weight and bias must be "
        "a finite float32 number. Fix or retrain the model and save it again"
    )
