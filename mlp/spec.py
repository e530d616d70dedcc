"""The architecture spec: one frozen, validated description of an MLP."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

ACTIVATIONS: dict[str, str] = {
    "relu": "ReLU",
    "tanh": "Tanh",
    "sigmoid": "Sigmoid",
    "gelu": "GELU",
    "identity": "Identity",
}

MIN_IN_FEATURES, MAX_IN_FEATURES = 1, 1024
MIN_HIDDEN_LAYERS, MAX_HIDDEN_LAYERS = 0, 8
MIN_WIDTH, MAX_WIDTH = 1, 512
MIN_OUT_FEATURES, MAX_OUT_FEATURES = 2, 16
MIN_SEED, MAX_SEED = 0, 2**32 - 1


def check_int(name: str, value: object, low: int, high: int) -> int:
    """Return `value` as an int, or raise ValueError naming `name` and the range."""
    if isinstance(value, bool) or not isinstance(value, int):
        # Floats are rejected even when whole: a width of 8.0 is almost always a bug.
        raise ValueError(
            f"{name} must be a whole number from {low} to {high}, got {value!r}"
        )
    if not low <= value <= high:
        raise ValueError(f"{name} must be from {low} to {high}, got {value}")
    return value


@dataclass(frozen=True)
class MLPSpec:
    """Architecture of a fully connected network, plus the seed of its weights.

    Frozen and hashable, so one spec is the cache key of its network and the state
    that a link stores. Every field is checked on construction.
    """

    in_features: int = 5
    hidden_widths: tuple[int, ...] = (8, 4)
    out_features: int = 2
    activation: str = "relu"
    bias: bool = True
    seed: int = 42
    layer_sizes: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_int("in_features", self.in_features, MIN_IN_FEATURES, MAX_IN_FEATURES)
        check_int("out_features", self.out_features, MIN_OUT_FEATURES, MAX_OUT_FEATURES)
        check_int("seed", self.seed, MIN_SEED, MAX_SEED)
        if not isinstance(self.hidden_widths, (tuple, list)):
            raise ValueError(
                f"hidden_widths must be a tuple of whole numbers, got {self.hidden_widths!r}"
            )
        widths = tuple(self.hidden_widths)
        check_int(
            "number of hidden layers", len(widths), MIN_HIDDEN_LAYERS, MAX_HIDDEN_LAYERS
        )
        for i, width in enumerate(widths):
            check_int(f"hidden_widths[{i}]", width, MIN_WIDTH, MAX_WIDTH)
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {', '.join(ACTIVATIONS)}, got {self.activation!r}"
            )
        if not isinstance(self.bias, bool):
            raise ValueError(f"bias must be True or False, got {self.bias!r}")

        # A list would make the spec unhashable, so store the tuple.
        object.__setattr__(self, "hidden_widths", widths)
        sizes = (self.in_features, *widths, self.out_features)
        object.__setattr__(self, "layer_sizes", sizes)

    @property
    def num_linear(self) -> int:
        """Number of `Linear` modules: one per hidden layer plus the output layer."""
        return len(self.hidden_widths) + 1

    def linear_shapes(self) -> list[tuple[int, int]]:
        """(in_features, out_features) of each Linear, in forward order."""
        sizes = self.layer_sizes
        return [(sizes[k], sizes[k + 1]) for k in range(self.num_linear)]

    def init_bound(self, linear_idx: int) -> float:
        """Bound of PyTorch's default uniform init for one Linear: 1 / sqrt(in_features)."""
        in_features, _ = self.linear_shapes()[linear_idx]
        return 1.0 / math.sqrt(in_features)


DEFAULT_SPEC = MLPSpec()

PRESETS: dict[str, MLPSpec] = {
    "Lesson network 5-8-4-2": DEFAULT_SPEC,
    "MNIST-sized 784-16-16-10": MLPSpec(
        in_features=784, hidden_widths=(16, 16), out_features=10
    ),
    "Logistic regression 5-2": MLPSpec(hidden_widths=()),
    "Deep and narrow 4-6-6-6-6-3": MLPSpec(
        in_features=4, hidden_widths=(6, 6, 6, 6), out_features=3
    ),
    "Wide 16-64-2": MLPSpec(in_features=16, hidden_widths=(64,), out_features=2),
}
