"""MLP: a stack of Linear layers with one activation between them (the lab's network)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from autograd_lite import Tensor
from autograd_lite.creation import generator

from . import init as initializers
from ._checks import float_dtype, input_error, positive_int
from .activations import ACTIVATIONS
from .activations import activation as make_activation
from .containers import ModuleList
from .linear import Linear
from .module import Module
from .parameter import Parameter

WeightInit = Callable[[Parameter, np.random.Generator], Any]


class MLP(Module):
    """Fully connected layers of the given sizes: `MLP([2, 4, 4, 1], activation="sigmoid",
    output_activation="sigmoid")` is the lab's 2-4-4-1 network.

    `activation` goes after every hidden layer, `output_activation` after the last one; each is
    a name ('sigmoid', 'tanh', 'relu', 'leaky_relu', 'softplus', 'identity'), None (no
    activation) or a Module. The layers are `layers.0`, `layers.1`, ... (so parameters are named
    `layers.0.weight`, `layers.0.bias`, ...).

    `init` chooses the weights: None for torch's default (see Linear); 'normal' for N(0, 1)
    weights and zero biases (the lab's); 'xavier_uniform', 'xavier_normal', 'kaiming_uniform'
    or 'kaiming_normal' with the gain of the hidden activation and zero biases; or a function
    `init(weight, rng)` that fills each weight in place (biases are zeroed). All draws come from
    `rng` (a Generator, a seed, or None for autograd_lite's generator), layer by layer.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: str | Module | None = "sigmoid",
        output_activation: str | Module | None = None,
        bias: bool = True,
        *,
        init: str | WeightInit | None = None,
        rng: np.random.Generator | int | None = None,
        dtype: Any = np.float64,
    ) -> None:
        super().__init__()
        listed = list(sizes) if isinstance(sizes, Iterable) else []
        if len(listed) < 2:
            raise input_error(
                f"MLP: sizes must list at least an input and an output size, got {sizes!r}"
            )
        sizes = [positive_int(n, f"sizes[{i}]", "MLP") for i, n in enumerate(listed)]
        dtype = float_dtype(dtype, "MLP")
        fill = _weight_init(init, activation)
        rng = generator(rng)
        self.sizes = tuple(sizes)
        self.layers = ModuleList(
            Linear(n_in, n_out, bias, rng=rng, dtype=dtype)
            for n_in, n_out in itertools.pairwise(sizes)
        )
        self.activation = make_activation(activation, "MLP: activation")
        self.output_activation = make_activation(output_activation, "MLP: output_activation")
        if fill is not None:
            for layer in self.layers:
                fill(layer.weight, rng)
                if layer.bias is not None:
                    initializers.zeros_(layer.bias)

    def forward(self, x: Any) -> Tensor:
        *hidden, last = self.layers
        for layer in hidden:
            x = self.activation(layer(x))
        return self.output_activation(last(x))

    def extra_repr(self) -> str:
        return f"sizes={list(self.sizes)}"


def _weight_init(init: str | WeightInit | None, activation: str | Module | None):
    """The weight filler `init` names. The scaled ones use the hidden activation's gain
    (softplus counts as relu, whose smooth version it is; unknown modules count as linear)."""
    if init is None or callable(init):
        return init
    act = make_activation(activation, "MLP: activation")
    name = next((k for k, cls in ACTIVATIONS.items() if k and type(act) is cls), "linear")
    name = {"identity": "linear", "softplus": "relu"}.get(name, name)
    slope = getattr(act, "negative_slope", None)
    gain = initializers.calculate_gain(name, slope)
    fills: dict[str, WeightInit] = {
        "normal": lambda w, rng: initializers.normal_(w, rng=rng),
        "xavier_uniform": lambda w, rng: initializers.xavier_uniform_(w, gain, rng=rng),
        "xavier_normal": lambda w, rng: initializers.xavier_normal_(w, gain, rng=rng),
        "kaiming_uniform": lambda w, rng: initializers.kaiming_uniform_(
            w, slope or 0.0, nonlinearity=name, rng=rng
        ),
        "kaiming_normal": lambda w, rng: initializers.kaiming_normal_(
            w, slope or 0.0, nonlinearity=name, rng=rng
        ),
    }
    if init not in fills:
        raise input_error(
            f"MLP: init must be None, one of {', '.join(map(repr, fills))}, or a function "
            f"init(weight, rng), got {init!r}"
        )
    return fills[init]
