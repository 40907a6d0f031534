"""Max pooling as one op: the elementwise maximum of K strided slices of the input, one per
kernel position (4 for 2x2), with no copy of the windows; and its gradient, `max_unpool`,
which writes each window's gradient straight into an array laid out as the input.

Composed from `unfold` and `max`, pooling would copy the windows (K times the output) forward,
and backward build a K x output gradient, then fold it into a third large array: with glibc's
default allocator, each is page-faulted in anew every step.
"""

from __future__ import annotations

import numpy as np

from ..engine import primitive
from .shape import getitem
from .windows import (
    empty_like_order,
    memory_order,
    scatter_target,
    window_axes,
    window_count,
    window_slices,
)


@primitive
def max_pool(x, *, kernel_size, stride, dilation):
    """Maximum over every window of the last len(kernel_size) axes: (..., *spatial) -> (..., *out).
    Of tied maxima, the first in the window gets the gradient, as in torch's max pooling.

    y[o] = max_k x[o*stride + k*dilation];  dx = max_unpool(g, x, y)
    """
    d = window_axes(x.ndim, kernel_size, stride, dilation, 1)
    out_size = window_count(x.shape[-d:], kernel_size, stride, dilation)
    slabs = [x[window] for _, window in window_slices(out_size, kernel_size, stride, dilation)]
    # Laid out in memory as x is, so that each slab and the result are walked in one order.
    out = empty_like_order(x.shape[:-d] + out_size, x.dtype, memory_order(x))
    if len(slabs) == 1:
        out[...] = slabs[0]
    else:
        np.maximum(slabs[0], slabs[1], out=out)
    for slab in slabs[2:]:
        np.maximum(out, slab, out=out)
    return out


@max_pool.defvjp
def _max_pool_vjp(g, out, x, *, kernel_size, stride, dilation):
    # Which elements won is a constant of the graph (as in `max`): plain arrays, passed as
    # parameters, so the gradient is linear in g and has no derivative in x.
    return max_unpool(
        g,
        x=np.asarray(x),
        y=np.asarray(out),
        kernel_size=kernel_size,
        stride=stride,
        dilation=dilation,
    )


def _copy_in_order(a, order):
    """A copy of `a` laid out with the axes `order` names outermost first."""
    copy = empty_like_order(a.shape, a.dtype, order)
    copy[...] = a
    return copy


def _firsts(x, y, slices):
    """Per kernel position: its slice of x, and where it holds the first element (in window
    order) equal to its window's maximum y. One boolean mask at a time, the size of y."""
    taken = None
    for _, window in slices:
        hit = x[window] == y
        first = hit if taken is None else hit > taken  # on booleans: hit and not taken
        taken = first if taken is None else taken | first
        yield window, first


@primitive
def max_unpool(dy, *, x, y, kernel_size, stride, dilation):
    """max_pool's gradient: each window's dy goes to the first element of x (in window order)
    at its maximum y, as torch's max pooling picks one; the result has x's shape and layout.

    dx[o*stride + k*dilation] = dy[o]*[k first with x==y];  ddy = g[o*stride + k*dilation]
    """
    if not (isinstance(x, np.ndarray) and isinstance(y, np.ndarray)):
        raise TypeError(
            f"x and y are the pooled input and its maxima, arrays; got {type(x).__name__} and "
            f"{type(y).__name__}"
        )
    d = window_axes(x.ndim, kernel_size, stride, dilation, 1)
    if y.shape != dy.shape or y.shape != x.shape[:-d] + window_count(
        x.shape[-d:], kernel_size, stride, dilation
    ):
        raise ValueError(
            f"dy of shape {dy.shape} and y of shape {y.shape} are not x of shape {x.shape} "
            f"max-pooled with kernel_size {kernel_size}, stride {stride}, dilation {dilation}"
        )
    geometry = (y.shape[-d:], kernel_size, stride, dilation)
    order = memory_order(x)
    result, disjoint = scatter_target(x.shape, *geometry, dy.dtype, order)
    if memory_order(dy) != order:
        # One copy into x's layout, rather than K products that each walk dy across it.
        dy = _copy_in_order(dy, order)
    for window, first in _firsts(x, y, window_slices(*geometry)):
        if disjoint:
            np.multiply(first, dy, out=result[window])
        else:
            result[window] += first * dy
    return result


@max_unpool.defvjp
def _max_unpool_vjp(g, out, dy, *, x, y, kernel_size, stride, dilation):
    # The adjoint gathers what unpool scatters: per window, g at the element that won.
    slices = window_slices(y.shape[-len(kernel_size) :], kernel_size, stride, dilation)
    return sum(getitem(g, index=window) * first for window, first in _firsts(x, y, slices))
