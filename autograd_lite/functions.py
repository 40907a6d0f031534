"""The ops with numpy's call signatures (positional `axis`, `shape`, a list for concatenate).

Primitives take their parameters by keyword only, which keeps the engine simple; these thin
functions are what users call, as `autograd_lite.sum(x, 0)` or `autograd_lite.reshape(x, (2, 3))`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import ops
from .errors import user_location
from .tensor import ArrayLike, Axis, Tensor


def _ints(value: int | Sequence[int], who: str, what: str, n: int = 1) -> tuple[int, ...]:
    """`value` as a tuple of ints, as numpy's shape and axes arguments take it: an int stands
    for itself (repeated n times); anything but ints is a TypeError naming `who`."""
    values = (value,) * n if isinstance(value, int | np.integer) else value
    if not (
        isinstance(values, Sequence | np.ndarray)
        and all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in values)
    ):
        raise TypeError(
            f"{who}: {what} must be an int or a sequence of ints, got {value!r} ({user_location()})"
        )
    return tuple(int(v) for v in values)


def sum(x: ArrayLike, axis: Axis = None, keepdims: bool = False) -> Tensor:
    return ops.sum(x, axis=axis, keepdims=keepdims)


def max(x: ArrayLike, axis: Axis = None, keepdims: bool = False) -> Tensor:
    return ops.max(x, axis=axis, keepdims=keepdims)


def min(x: ArrayLike, axis: Axis = None, keepdims: bool = False) -> Tensor:
    return ops.min(x, axis=axis, keepdims=keepdims)


def logsumexp(x: ArrayLike, axis: Axis = None, keepdims: bool = False) -> Tensor:
    return ops.logsumexp(x, axis=axis, keepdims=keepdims)


def log_softmax(x: ArrayLike, axis: int = -1) -> Tensor:
    return ops.log_softmax(x, axis=axis)


def leaky_relu(x: ArrayLike, negative_slope: float = 0.01) -> Tensor:
    return ops.leaky_relu(x, negative_slope=negative_slope)


def clip(x: ArrayLike, min: float | None = None, max: float | None = None) -> Tensor:
    return ops.clip(x, min=min, max=max)


def reshape(x: ArrayLike, shape: int | Sequence[int]) -> Tensor:
    return ops.reshape(x, shape=_ints(shape, "reshape", "shape"))


def transpose(x: ArrayLike, axes: int | Sequence[int] | None = None) -> Tensor:
    return ops.transpose(x, axes=None if axes is None else _ints(axes, "transpose", "axes"))


def broadcast_to(x: ArrayLike, shape: int | Sequence[int]) -> Tensor:
    return ops.broadcast_to(x, shape=_ints(shape, "broadcast_to", "shape"))


def concatenate(tensors: Sequence[ArrayLike], axis: int = 0) -> Tensor:
    return ops.concatenate(*tensors, axis=axis)


def pad(x: ArrayLike, pad_width, value: float = 0.0) -> Tensor:
    """Constant padding; `pad_width` as in np.pad: int, (before, after), or a pair per axis."""
    return ops.pad(x, pad_width=pad_width, value=value)


def unfold(
    x: ArrayLike,
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int] = 1,
    dilation: int | Sequence[int] = 1,
    spatial_dims: int | None = None,
) -> Tensor:
    """Sliding windows over the last `spatial_dims` axes (default: as many as kernel_size has;
    1 for an int): shape (..., *spatial) -> (..., *out, *kernel). No copy is made."""
    kernel_size = _ints(kernel_size, "unfold", "kernel_size", spatial_dims or 1)
    d = spatial_dims or len(kernel_size)
    return ops.unfold(
        x,
        kernel_size=kernel_size,
        stride=_ints(stride, "unfold", "stride", d),
        dilation=_ints(dilation, "unfold", "dilation", d),
    )
