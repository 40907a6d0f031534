"""Batch normalization: each channel normalized by batch statistics while training and by
running ones after (the function batch_norm and the layer BatchNorm1d)."""

from __future__ import annotations

from typing import Any

import numpy as np

from autograd_lite import Tensor, ops
from autograd_lite.replay import not_replayable

from ._checks import Array, array_of, as_input, float_dtype, input_error, number, positive_int
from .module import Module
from .parameter import Parameter


def batch_norm(
    x: Array,
    running_mean: np.ndarray | None,
    running_var: np.ndarray | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """y = (x - mean) / sqrt(var + eps) * weight + bias, per channel (axis 1) of (N, C[, L]).

    Training uses the batch's statistics (biased variance) and, when running buffers are given,
    updates them in place: r = (1 - momentum) r + momentum s, with the unbiased variance.
    Evaluation uses the running buffers.
    """
    return _batch_norm(
        x, running_mean, running_var, weight, bias, training, momentum, eps, "batch_norm"
    )


def _batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps, who):
    x = as_input(x, who)
    if x.ndim not in (2, 3):
        raise input_error(f"{who}: expected a 2-D (N, C) or 3-D (N, C, L) input, got {x.shape}")
    known = weight if weight is not None else running_mean
    channels = x.shape[1] if known is None else known.shape[0]
    if x.shape[1] != channels:
        raise input_error(
            f"{who}: input of shape {x.shape} has {x.shape[1]} channels (axis 1), "
            f"expected {channels}"
        )
    axes = (0,) if x.ndim == 2 else (0, 2)
    per_channel = (channels,) if x.ndim == 2 else (channels, 1)
    if training or running_mean is None:
        count = x.shape[0] * (x.shape[2] if x.ndim == 3 else 1)
        if count < 2:
            raise input_error(
                f"{who}: batch statistics need more than one value per channel, "
                f"got input of shape {x.shape}"
            )
        mean = ops.mean(x, axis=axes, keepdims=True)
        centered = x - mean
        var = ops.mean(centered * centered, axis=axes, keepdims=True)
        if training and running_mean is not None:
            not_replayable(f"{who} updates its running statistics in training mode")
            running_mean *= 1 - momentum
            running_mean += momentum * array_of(mean).reshape(channels)
            running_var *= 1 - momentum
            running_var += momentum * count / (count - 1) * array_of(var).reshape(channels)
        y = centered / ops.sqrt(var + eps)
    else:
        scale = 1 / np.sqrt(running_var + eps)
        y = (x - running_mean.reshape(per_channel)) * scale.reshape(per_channel)
    if weight is not None:
        y = y * ops.reshape(weight, shape=per_channel)
    if bias is not None:
        y = y + ops.reshape(bias, shape=per_channel)
    return y


class BatchNorm1d(Module):
    """y = (x - mean) / sqrt(var + eps) * weight + bias per channel, for (N, C) or (N, C, L).

    In training mode mean and var are the batch's (var biased), and the buffers running_mean /
    running_var follow them: r = (1 - momentum) r + momentum s (the unbiased variance; with
    momentum=None, a cumulative average). In eval mode the running statistics are used.
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        *,
        dtype: Any = np.float64,
    ) -> None:
        super().__init__()
        self.num_features = positive_int(num_features, "num_features", "BatchNorm1d")
        number(eps, "eps", "BatchNorm1d", 0, low_open=True)
        if momentum is not None:
            number(momentum, "momentum (or None)", "BatchNorm1d", 0, 1)
        self.eps, self.momentum = eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        dtype = float_dtype(dtype, "BatchNorm1d")
        self.weight = Parameter(np.ones(num_features, dtype)) if affine else None
        self.bias = Parameter(np.zeros(num_features, dtype)) if affine else None
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, dtype))
            self.register_buffer("running_var", np.ones(num_features, dtype))
            self.register_buffer("num_batches_tracked", np.zeros((), np.int64))

    def forward(self, x: Any) -> Tensor:
        running_mean = running_var = None
        momentum = 0.0
        updating = self.training and self.track_running_stats
        if self.track_running_stats:
            running_mean, running_var = self.running_mean, self.running_var
            count = int(self.num_batches_tracked) + 1
            momentum = 1 / count if self.momentum is None else self.momentum
        y = _batch_norm(
            x, running_mean, running_var, self.weight, self.bias, self.training, momentum,
            self.eps, self,
        )  # fmt: skip
        if updating:  # counted only once the input passed the checks
            self.num_batches_tracked += 1
        return y

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, track_running_stats={self.track_running_stats}"
        )
