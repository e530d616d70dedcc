"""Pure PyTorch core of MLP Explorer: spec, network, parameter counts, forward pass."""

from mlp.forward import ForwardResult, run_forward, softmax
from mlp.network import MLP, build_model, default_input, linear_layers
from mlp.params import LayerParams, ParamSummary, count_parameters
from mlp.spec import ACTIVATIONS, DEFAULT_SPEC, PRESETS, MLPSpec

__all__ = [
    "ACTIVATIONS",
    "DEFAULT_SPEC",
    "MLP",
    "PRESETS",
    "ForwardResult",
    "LayerParams",
    "MLPSpec",
    "ParamSummary",
    "build_model",
    "count_parameters",
    "default_input",
    "linear_layers",
    "run_forward",
    "softmax",
]
