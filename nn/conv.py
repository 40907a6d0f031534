"""Convolution as im2col (pad, unfold, one matmul), in torch's layouts: the functions
conv1d / conv2d and the layers Conv1d / Conv2d."""

from __future__ import annotations

import math
from math import prod
from typing import Any

import numpy as np

from autograd_lite import Tensor, ops
from autograd_lite.creation import generator

from . import init
from ._checks import (
    Array,
    IntOrTuple,
    as_input,
    check_window_fits,
    float_dtype,
    input_error,
    int_tuple,
    positive_int,
    spatial_names,
)
from .module import Module
from .parameter import Parameter


def _same_padding(kernel_size: tuple, dilation: tuple) -> tuple:
    # An odd total is split with the extra element after, as torch does.
    totals = [d * (k - 1) for k, d in zip(kernel_size, dilation)]
    return tuple((t // 2, t - t // 2) for t in totals)


def _conv_padding(
    padding: str | IntOrTuple, kernel_size: tuple, stride: tuple, dilation: tuple, who: object
) -> tuple[tuple[int, int], ...]:
    """(before, after) zero padding per spatial axis, from an int, a tuple, 'valid' or 'same'."""
    d = len(kernel_size)
    if padding == "valid":
        return ((0, 0),) * d
    if padding == "same":
        if any(s != 1 for s in stride):
            raise input_error(f"{who}: padding='same' needs stride 1, got stride {stride}")
        return _same_padding(kernel_size, dilation)
    if isinstance(padding, str):
        raise input_error(
            f"{who}: padding must be an int, {d} ints, 'valid' or 'same', got {padding!r}"
        )
    return tuple((p, p) for p in int_tuple(padding, d, "padding", who, minimum=0))


def _conv(
    x: Array,
    weight: Tensor,
    bias: Tensor | None,
    stride: tuple,
    pads: tuple,
    dilation: tuple,
    who: object,
) -> Tensor:
    """Convolution (cross-correlation, as in torch) as im2col: pad, unfold, one matmul."""
    x = as_input(x, who)
    d = weight.ndim - 2
    out_channels, in_channels, *kernel = weight.shape
    if x.ndim != d + 2:
        hint = "; add a batch axis for a single example: x[None]" if x.ndim == d + 1 else ""
        raise input_error(
            f"{who}: expected a {d + 2}-D input (N, C, {spatial_names(d)}), "
            f"got shape {x.shape}{hint}"
        )
    if x.shape[1] != in_channels:
        raise input_error(
            f"{who}: input of shape {x.shape} has {x.shape[1]} channels (axis 1), "
            f"expected {in_channels}"
        )
    check_window_fits(x.shape, pads, kernel, dilation, who)
    if any(before or after for before, after in pads):
        x = ops.pad(x, pad_width=((0, 0), (0, 0), *pads))
    n = x.shape[0]
    cols = ops.unfold(x, kernel_size=tuple(kernel), stride=stride, dilation=dilation)
    out = cols.shape[2 : 2 + d]  # cols: (N, C, *out, *kernel)
    # im2col in the layout (C, *kernel, N, *out): numpy copies it as C*K shifted slabs of the
    # images (~6x faster than gathering window by window into (N*L, C*K)); the product is
    # one (O, C*K) @ (C*K, N*L) matmul, and its (O, N, *out) result is returned as a
    # transposed view in torch's (N, O, *out) order, without another copy.
    kernel_axes = tuple(range(2 + d, 2 + 2 * d))
    cols = ops.transpose(cols, axes=(1, *kernel_axes, 0, *range(2, 2 + d)))
    cols = ops.reshape(cols, shape=(in_channels * prod(kernel), n * prod(out)))
    # W @ cols + b as one `linear` node (x w^T + b, with x = W and w = cols^T), which adds the
    # bias in place: matmul then add would make a second (O, N*L) array.
    weight = ops.reshape(weight, shape=(out_channels, -1))
    if bias is not None:
        bias = ops.reshape(bias, shape=(out_channels, 1))
    y = ops.linear(weight, ops.transpose(cols), bias)
    y = ops.reshape(y, shape=(out_channels, n, *out))
    return ops.transpose(y, axes=(1, 0, *range(2, 2 + d)))


def conv1d(
    x: Array,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntOrTuple = 1,
    padding: str | IntOrTuple = 0,
    dilation: IntOrTuple = 1,
) -> Tensor:
    """1-D convolution: x (N, C_in, L), weight (C_out, C_in, k) -> (N, C_out, L_out)."""
    return _conv_function(x, weight, bias, stride, padding, dilation, 1, "conv1d")


def conv2d(
    x: Array,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntOrTuple = 1,
    padding: str | IntOrTuple = 0,
    dilation: IntOrTuple = 1,
) -> Tensor:
    """2-D convolution: x (N, C_in, H, W), weight (C_out, C_in, kH, kW) -> (N, C_out, H', W')."""
    return _conv_function(x, weight, bias, stride, padding, dilation, 2, "conv2d")


def _conv_function(x, weight, bias, stride, padding, dilation, d: int, who: str) -> Tensor:
    if weight.ndim != d + 2:
        raise input_error(
            f"{who}: weight must be {d + 2}-D (C_out, C_in, *kernel), got shape {weight.shape}"
        )
    stride = int_tuple(stride, d, "stride", who, minimum=1)
    dilation = int_tuple(dilation, d, "dilation", who, minimum=1)
    pads = _conv_padding(padding, tuple(weight.shape[2:]), stride, dilation, who)
    return _conv(x, weight, bias, stride, pads, dilation, who)


class _ConvNd(Module):
    """Shared by Conv1d and Conv2d: weight (out_channels, in_channels, *kernel_size), bias
    (out_channels,), inputs (N, C, *spatial); torch's default initialization."""

    dims = 0

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntOrTuple,
        stride: IntOrTuple = 1,
        padding: str | IntOrTuple = 0,
        dilation: IntOrTuple = 1,
        bias: bool = True,
        *,
        rng: np.random.Generator | int | None = None,
        dtype: Any = np.float64,
    ) -> None:
        super().__init__()
        who, d = type(self).__name__, self.dims
        self.in_channels = positive_int(in_channels, "in_channels", who)
        self.out_channels = positive_int(out_channels, "out_channels", who)
        self.kernel_size = int_tuple(kernel_size, d, "kernel_size", who, minimum=1)
        self.stride = int_tuple(stride, d, "stride", who, minimum=1)
        self.dilation = int_tuple(dilation, d, "dilation", who, minimum=1)
        self._pads = _conv_padding(padding, self.kernel_size, self.stride, self.dilation, who)
        self.padding = padding if isinstance(padding, str) else tuple(p for p, _ in self._pads)
        dtype = float_dtype(dtype, who)
        self.weight = Parameter(np.empty((out_channels, in_channels, *self.kernel_size), dtype))
        self.bias = Parameter(np.empty(out_channels, dtype)) if bias else None
        self.reset_parameters(rng)

    def reset_parameters(self, rng: np.random.Generator | int | None = None) -> None:
        """torch's default: weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
        fan_in = in_channels * prod(kernel_size)."""
        rng = generator(rng)
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), rng=rng)
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_channels * math.prod(self.kernel_size))
            init.uniform_(self.bias, -bound, bound, rng=rng)

    def forward(self, x: Any) -> Tensor:
        return _conv(x, self.weight, self.bias, self.stride, self._pads, self.dilation, self)

    def extra_repr(self) -> str:
        text = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding != "valid" and self.padding != (0,) * self.dims:
            text += f", padding={self.padding!r}"
        if self.dilation != (1,) * self.dims:
            text += f", dilation={self.dilation}"
        if self.bias is None:
            text += ", bias=False"
        return text


class Conv1d(_ConvNd):
    """1-D convolution: (N, C_in, L) -> (N, C_out, L_out), weight (C_out, C_in, k),
    L_out = (L + 2 padding - dilation (k - 1) - 1) // stride + 1. padding may be 'same'
    (stride 1) or 'valid'."""

    dims = 1


class Conv2d(_ConvNd):
    """2-D convolution: (N, C_in, H, W) -> (N, C_out, H_out, W_out), weight
    (C_out, C_in, kH, kW); each output size as for Conv1d. padding may be 'same' (stride 1)
    or 'valid'."""

    dims = 2
