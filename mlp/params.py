"""Parameter counts per Linear layer, computed from the spec alone."""

from __future__ import annotations

from dataclasses import dataclass

from mlp.spec import MLPSpec


@dataclass(frozen=True)
class LayerParams:
    """Parameter count of one `nn.Linear`, named as `model.layers[layer_idx]`."""

    layer_idx: int  # index in the Sequential, so activations count too
    in_features: int
    out_features: int
    num_weights: int
    num_biases: int

    @property
    def name(self) -> str:
        return f"layers.{self.layer_idx}"

    @property
    def weight_shape(self) -> tuple[int, int]:
        return (self.out_features, self.in_features)  # as stored by nn.Linear

    @property
    def num_params(self) -> int:
        return self.num_weights + self.num_biases

    @property
    def formula(self) -> str:
        """The count written out, e.g. `8 x 5 + 8 = 48`."""
        product = f"{self.out_features:,} x {self.in_features:,}"
        if self.num_biases:
            return f"{product} + {self.num_biases:,} = {self.num_params:,}"
        return f"{product} = {self.num_params:,}"


@dataclass(frozen=True)
class ParamSummary:
    """All Linear layers' counts and the totals, as torchinfo reports them."""

    layers: tuple[LayerParams, ...]

    @property
    def num_params(self) -> int:
        return sum(layer.num_params for layer in self.layers)

    @property
    def trainable_params(self) -> int:
        # Every parameter of a freshly built nn.Linear has requires_grad=True.
        return self.num_params


def count_parameters(spec: MLPSpec) -> ParamSummary:
    """Return the per-layer parameter breakdown of the network `spec` describes."""
    layers = []
    for linear_idx, (in_features, out_features) in enumerate(spec.linear_shapes()):
        layers.append(
            LayerParams(
                layer_idx=2 * linear_idx,  # Linear, activation, Linear, ...
                in_features=in_features,
                out_features=out_features,
                num_weights=out_features * in_features,
                num_biases=out_features if spec.bias else 0,
            )
        )
    return ParamSummary(tuple(layers))
