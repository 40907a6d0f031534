"""The ops with numpy's call signatures (positional `axis`, `shape`, a list for concatenate).

Primitives take their parameters by keyword only, which keeps the engine simple; these thin
functions are what users call, as `autograd_lite.sum(x, 0)` or `autograd_lite.reshape(x, (2, 3))`.
"""

from __future__ import annotations

from collections.abc import Sequence

from . import ops
from .tensor import ArrayLike, Axis, Tensor


def _tuple(value: int | Sequence[int], n: int) -> tuple[int, ...]:
    return (value,) * n if isinstance(value, int) else tuple(value)


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


def reshape(x: ArrayLike, shape: Sequence[int]) -> Tensor:
    return ops.reshape(x, shape=tuple(shape))


def transpose(x: ArrayLike, axes: Sequence[int] | None = None) -> Tensor:
    return ops.transpose(x, axes=None if axes is None else tuple(axes))


def broadcast_to(x: ArrayLike, shape: Sequence[int]) -> Tensor:
    return ops.broadcast_to(x, shape=tuple(shape))


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
    d = spatial_dims or (1 if isinstance(kernel_size, int) else len(kernel_size))
    return ops.unfold(
        x,
        kernel_size=_tuple(kernel_size, d),
        stride=_tuple(stride, d),
        dilation=_tuple(dilation, d),
    )
