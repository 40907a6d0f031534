"""Activation functions as modules, so a model can hold them (and MLP can take one by name)."""

from __future__ import annotations

from typing import Any

from autograd_lite import Tensor, ops

from . import functional as F
from ._checks import as_input, input_error, integer, number
from .module import Module


class Identity(Module):
    """y = x: the "no activation" choice, as a module."""

    def forward(self, x: Any) -> Any:
        return x


class Sigmoid(Module):
    """y = 1 / (1 + exp(-x));  dy/dx = y (1 - y)"""

    def forward(self, x: Any) -> Tensor:
        return ops.sigmoid(as_input(x, self))


class Tanh(Module):
    """y = tanh(x);  dy/dx = 1 - y^2"""

    def forward(self, x: Any) -> Tensor:
        return ops.tanh(as_input(x, self))


class ReLU(Module):
    """y = max(x, 0);  dy/dx = [x > 0]"""

    def forward(self, x: Any) -> Tensor:
        return ops.relu(as_input(x, self))


class LeakyReLU(Module):
    """y = x if x > 0 else negative_slope * x"""

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = number(negative_slope, "negative_slope", "LeakyReLU")

    def forward(self, x: Any) -> Tensor:
        return ops.leaky_relu(as_input(x, self), negative_slope=self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Softplus(Module):
    """y = log(1 + exp(beta x)) / beta, a smooth ReLU;  dy/dx = sigmoid(beta x)"""

    def __init__(self, beta: float = 1.0) -> None:
        super().__init__()
        self.beta = number(beta, "beta", "Softplus", nonzero=True)

    def forward(self, x: Any) -> Tensor:
        return F.softplus(as_input(x, self), self.beta)

    def extra_repr(self) -> str:
        return f"beta={self.beta}"


class Softmax(Module):
    """y = exp(x) / sum(exp(x)) along `dim`."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = integer(dim, "dim", "Softmax")

    def forward(self, x: Any) -> Tensor:
        return ops.softmax(_with_dim(x, self), axis=self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """y = x - logsumexp(x) along `dim` (stable)."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = integer(dim, "dim", "LogSoftmax")

    def forward(self, x: Any) -> Tensor:
        return ops.log_softmax(_with_dim(x, self), axis=self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


def _with_dim(x: Any, layer: Softmax | LogSoftmax) -> Any:
    """The input of a layer that normalizes along `layer.dim`, which it must have."""
    x = as_input(x, layer)
    if not -x.ndim <= layer.dim < x.ndim:
        raise input_error(f"{layer}: input of shape {x.shape} has no axis dim={layer.dim}")
    return x


ACTIVATIONS: dict[str | None, type[Module]] = {
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "softplus": Softplus,
    "identity": Identity,
    None: Identity,
}
"""The activations `MLP` accepts by name (None means no activation)."""


def activation(spec: str | Module | None, who: str = "activation") -> Module:
    """A module for `spec`: a name from ACTIVATIONS, None (identity), or a Module as given."""
    if isinstance(spec, Module):
        return spec
    if isinstance(spec, str | None) and spec in ACTIVATIONS:
        return ACTIVATIONS[spec]()
    names = ", ".join(repr(k) for k in ACTIVATIONS)
    raise input_error(f"{who} must be one of {names} or a Module, got {spec!r}")
