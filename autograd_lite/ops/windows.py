"""Sliding windows: the one primitive convolution and pooling are built from.

`unfold` exposes every window of the last d axes as extra axes of a strided view (no copy);
`fold` is its adjoint, adding each window back where it came from. Both loop over the
kernel's positions only (e.g. 9 for 3x3), never over output positions or the batch.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np

from ..engine import primitive


def window_axes(ndim: int, kernel_size, stride, dilation, per_axis: int) -> int:
    """d, the number of window axes, once the parameters are known to give one positive int
    per axis and the input to have `per_axis` axes per window axis (unfold 1, fold 2): a
    shorter tuple would be zipped away silently, and a stride of 0 divides by zero."""
    d = len(kernel_size)
    if not (
        d >= 1
        and len(stride) == len(dilation) == d
        and per_axis * d <= ndim
        and all(
            isinstance(v, int | np.integer) and v >= 1 for v in (*kernel_size, *stride, *dilation)
        )
    ):
        raise ValueError(
            f"kernel_size {kernel_size!r}, stride {stride!r} and dilation {dilation!r} must "
            f"each hold one positive int per window axis, for an input of {ndim} dimensions "
            f"({per_axis} per window axis)"
        )
    return d


def window_count(spatial, kernel_size, stride, dilation) -> tuple[int, ...]:
    """How many windows fit along each spatial axis; a kernel wider than the input is an error."""
    out = tuple(
        (n - d * (k - 1) - 1) // s + 1 for n, k, s, d in zip(spatial, kernel_size, stride, dilation)
    )
    if any(n <= 0 for n in out):
        span = tuple(dil * (k - 1) + 1 for k, dil in zip(kernel_size, dilation))
        raise ValueError(
            f"kernel_size {tuple(kernel_size)} with dilation {tuple(dilation)} spans {span}, "
            f"larger than the input's spatial shape {tuple(spatial)}"
        )
    return out


def window_slices(out_size, kernel_size, stride, dilation) -> tuple[tuple[tuple, tuple], ...]:
    """Per kernel position k: (k, the index of the elements at k in every window), each a
    strided slice of the input, so an op can work on K slabs instead of window by window."""
    return _window_slices(*(tuple(a) for a in (out_size, kernel_size, stride, dilation)))


@functools.lru_cache(maxsize=256)  # a layer asks for the same geometry every step, forward and back
def _window_slices(out_size, kernel_size, stride, dilation) -> tuple[tuple[tuple, tuple], ...]:
    return tuple(
        (
            k,
            (
                Ellipsis,
                *(
                    slice(ki * dil, ki * dil + s * (o - 1) + 1, s)
                    for ki, dil, s, o in zip(k, dilation, stride, out_size)
                ),
            ),
        )
        for k in itertools.product(*(range(n) for n in kernel_size))
    )


def scatter_target(shape, out_size, kernel_size, stride, dilation, dtype, order=None):
    """The array windows are added back into, laid out with the axes `order` names outermost
    first (default C order), and whether its windows are disjoint (each kernel position can
    then be written, not added).

    Windows no closer than their span never share an element; if they also tile the input
    (pooling 26x26 by 2x2), every element is written once and the zero fill can go: half the
    memory traffic of the general case.
    """
    d = len(kernel_size)
    disjoint = all(s >= dil * (k - 1) + 1 for k, s, dil in zip(kernel_size, stride, dilation))
    tiled = disjoint and all(
        dil == 1 and s == k and o * k == n
        for k, s, dil, o, n in zip(kernel_size, stride, dilation, out_size, shape[-d:])
    )
    make = np.empty if tiled else np.zeros
    return empty_like_order(shape, dtype, order, make), disjoint


def empty_like_order(shape, dtype, order=None, make=np.empty) -> np.ndarray:
    """A new array of `shape`, laid out with the axes `order` names outermost first (as
    memory_order gives; None: C order), from `make` (np.empty or np.zeros)."""
    if order is None:
        return make(shape, dtype=dtype)
    inverse = [0] * len(order)  # argsort of a permutation, without numpy's call overhead
    for position, axis in enumerate(order):
        inverse[axis] = position
    return make([shape[axis] for axis in order], dtype=dtype).transpose(inverse)


@primitive
def unfold(x, *, kernel_size, stride, dilation):
    """All windows of the last len(kernel_size) axes: (..., *spatial) -> (..., *out, *kernel).

    y[..., o, k] = x[..., o*stride + k*dilation];  dx = fold(g)
    """
    d = window_axes(x.ndim, kernel_size, stride, dilation, 1)
    out = window_count(x.shape[-d:], kernel_size, stride, dilation)
    steps = x.strides[-d:]
    return np.lib.stride_tricks.as_strided(
        x,
        shape=x.shape[:-d] + out + tuple(kernel_size),
        strides=x.strides[:-d]
        + tuple(st * s for st, s in zip(steps, stride))
        + tuple(st * dil for st, dil in zip(steps, dilation)),
        writeable=False,  # windows overlap: writing through the view would corrupt x
    )


@unfold.defvjp
def _unfold_vjp(g, out, x, *, kernel_size, stride, dilation):
    # The gradient is laid out as x is: a transposed input (a convolution's output, which is
    # a (C, N, ...) array seen as (N, C, ...)) then gets a gradient that transposes back to a
    # contiguous array, and the reshapes on the way back to the matmul copy nothing.
    return fold(
        g,
        shape=x.shape,
        kernel_size=kernel_size,
        stride=stride,
        dilation=dilation,
        order=memory_order(np.asarray(x)),
    )


def memory_order(a: np.ndarray) -> tuple[int, ...] | None:
    """a's axes from the largest stride to the smallest; None when that is C order."""
    order = tuple(sorted(range(a.ndim), key=lambda axis: -abs(a.strides[axis])))
    return None if order == tuple(range(a.ndim)) else order


@primitive
def fold(x, *, shape, kernel_size, stride, dilation, order=None):
    """Adjoint of unfold: add every window back into an array of `shape`; overlaps add up.
    `order` lays the result out in memory with those axes outermost first (default C order).

    y = fold(x);  dx = unfold(g)
    """
    d = window_axes(x.ndim, kernel_size, stride, dilation, 2)
    out_size = x.shape[-2 * d : -d]
    expected = (*window_count(shape[-d:], kernel_size, stride, dilation), *kernel_size)
    if x.shape[-2 * d :] != expected or len(shape) != x.ndim - d:
        raise ValueError(
            f"windows of shape {x.shape} do not come from unfolding shape {tuple(shape)}: "
            f"expected (..., {', '.join(map(str, expected))})"
        )
    if order is not None and sorted(order) != list(range(len(shape))):
        raise ValueError(f"order {order!r} is not an order of the {len(shape)} axes of {shape}")
    geometry = (out_size, kernel_size, stride, dilation)
    result, disjoint = scatter_target(shape, *geometry, x.dtype, order)
    for k, window in window_slices(*geometry):
        if disjoint:
            result[window] = x[(Ellipsis, *k)]
        else:
            result[window] += x[(Ellipsis, *k)]
    return result


@fold.defvjp
def _fold_vjp(g, out, x, *, shape, kernel_size, stride, dilation, order=None):
    return unfold(g, kernel_size=kernel_size, stride=stride, dilation=dilation)
