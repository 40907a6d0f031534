"""Layers as functions (`import nn.functional as F`), written with autograd_lite ops only:
nothing in nn has gradient code; the tape differentiates it.

Linear, the activations and dropout are defined here; convolution, pooling, batch norm and
the losses live next to their layers and are gathered here under torch's names. The layer
classes call the private `_name(..., who)` forms, so an error names the layer
(`Linear(in_features=2, ...): ...`); the public functions name themselves (`linear: ...`).
"""

from __future__ import annotations

import numpy as np

from autograd_lite import Tensor, ops
from autograd_lite.creation import generator
from autograd_lite.replay import not_replayable

from ._checks import Array, array_of, as_input, input_error, number
from .conv import conv1d, conv2d
from .losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    mse_loss,
    nll_loss,
)
from .normalization import batch_norm
from .pooling import avg_pool1d, avg_pool2d, max_pool1d, max_pool2d

__all__ = [
    "linear", "sigmoid", "tanh", "relu", "leaky_relu", "softplus", "softmax", "log_softmax",
    "dropout", "conv1d", "conv2d", "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d",
    "batch_norm", "mse_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
    "cross_entropy", "nll_loss",
]  # fmt: skip


def linear(x: Array, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x W^T + b, with W of shape (out_features, in_features) as in torch."""
    return _linear(x, weight, bias, "linear")


def _linear(x: Array, weight: Tensor, bias: Tensor | None, who: object) -> Tensor:
    x = as_input(x, who)
    shape = x.shape
    expected = weight.shape[1]
    if not shape or shape[-1] != expected:
        found = "is a scalar" if not shape else f"has {shape[-1]} features in its last axis"
        raise input_error(f"{who}: input of shape {shape} {found}, expected {expected}")
    return ops.linear(x, weight, bias)


def sigmoid(x: Array) -> Tensor:
    """y = 1 / (1 + exp(-x))"""
    return ops.sigmoid(x)


def tanh(x: Array) -> Tensor:
    return ops.tanh(x)


def relu(x: Array) -> Tensor:
    """y = max(x, 0)"""
    return ops.relu(x)


def leaky_relu(x: Array, negative_slope: float = 0.01) -> Tensor:
    """y = x if x > 0 else negative_slope * x"""
    return ops.leaky_relu(x, negative_slope=negative_slope)


def softplus(x: Array, beta: float = 1.0) -> Tensor:
    """y = log(1 + exp(beta x)) / beta, finite for every input."""
    if beta == 1:
        return ops.softplus(x)
    return ops.softplus(x * beta) / beta


def softmax(x: Array, dim: int = -1) -> Tensor:
    """y = exp(x) / sum(exp(x)) along `dim`."""
    return ops.softmax(x, axis=dim)


def log_softmax(x: Array, dim: int = -1) -> Tensor:
    """y = x - logsumexp(x) along `dim` (stable; use it rather than log(softmax(x)))."""
    return ops.log_softmax(x, axis=dim)


def dropout(
    x: Array,
    p: float = 0.5,
    training: bool = True,
    rng: np.random.Generator | int | None = None,
) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p) (when training)."""
    number(p, "p", "dropout", 0, 1)
    if not training or p == 0:
        return x
    not_replayable("dropout in training mode draws a new random mask on every call")
    data = array_of(x)
    dtype = data.dtype if data.dtype.kind == "f" else np.dtype(np.float64)
    mask = (generator(rng).random(data.shape) >= p).astype(dtype)
    if p < 1:
        mask *= 1 / (1 - p)
    return ops.mul(x, mask)
