"""Reductions: primitives (sum, max, min, logsumexp, log_softmax) and composites built on them.

A reduction's VJP first restores the reduced axes as size-1 axes (`_keep`), then broadcasts.
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np

from ..engine import primitive
from ..errors import user_location
from .elementwise import exp
from .shape import broadcast_to, reshape


def _axes(axis, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, tuple) else (axis,)
    # numpy lets axis=0 or -1 stand for "no axis" on a 0-d array (np.sum(x, axis=0) is x).
    return tuple(a % ndim for a in axes) if ndim else ()


def _keep(g, shape: tuple[int, ...], axis, keepdims: bool):
    """`g` as it would be with keepdims=True: reduced axes back as size 1, ready to broadcast."""
    if keepdims or axis is None:  # a full reduction's scalar broadcasts as it is
        return g
    axes = _axes(axis, len(shape))
    return reshape(g, shape=tuple(1 if i in axes else n for i, n in enumerate(shape)))


@primitive
def sum(x, *, axis=None, keepdims=False):
    """Sum over `axis` (all axes by default).

    y = sum(x);  dx = broadcast(g)
    """
    # The ufunc's own reduce is what x.sum() runs, after ~0.3 us of Python in numpy's wrapper
    # (the same holds for max and min below).
    return np.add.reduce(x, axis=axis, keepdims=keepdims)


@sum.defvjp
def _sum_vjp(g, out, x, *, axis=None, keepdims=False):
    return broadcast_to(_keep(g, x.shape, axis, keepdims), shape=x.shape)


def _extremum_vjp(g, out, x, axis, keepdims):
    # Ties share the gradient equally (torch's amax/amin rule), so the VJP stays symmetric.
    # Which elements hit the extremum is a constant of the graph: a plain boolean array,
    # counted straight into the gradient's dtype (no float copy of the mask).
    hit = np.asarray(x == _keep(out, x.shape, axis, keepdims))
    count = hit.sum(axis=axis, keepdims=True, dtype=x.dtype)
    return hit * (_keep(g, x.shape, axis, keepdims) / count)


@primitive
def max(x, *, axis=None, keepdims=False):
    """Maximum over `axis`; tied maxima share the gradient.

    y = max(x);  dx = g*[x==y]/count(x==y)
    """
    return np.maximum.reduce(x, axis=axis, keepdims=keepdims)


@max.defvjp
def _max_vjp(g, out, x, *, axis=None, keepdims=False):
    return _extremum_vjp(g, out, x, axis, keepdims)


@primitive
def min(x, *, axis=None, keepdims=False):
    """Minimum over `axis`; tied minima share the gradient.

    y = min(x);  dx = g*[x==y]/count(x==y)
    """
    return np.minimum.reduce(x, axis=axis, keepdims=keepdims)


@min.defvjp
def _min_vjp(g, out, x, *, axis=None, keepdims=False):
    return _extremum_vjp(g, out, x, axis, keepdims)


@primitive
def logsumexp(x, *, axis=None, keepdims=False):
    """log(sum(exp(x))), shifted by the maximum so exp never overflows.

    y = log(sum(exp(x)));  dx = g*exp(x-y)
    """
    if x.dtype.kind in "biu":  # in exp's float dtype: x - max would wrap around for uint8
        x = x.astype(np.result_type(x.dtype, np.float16))
    # initial: the maximum of an empty axis is -inf, so its logsumexp is -inf, as in torch.
    shift = np.maximum.reduce(x, axis=axis, keepdims=True, initial=-np.inf)
    shift = np.where(np.isfinite(shift), shift, 0)  # all -inf: keep the answer -inf, not nan
    total = np.add.reduce(np.exp(x - shift), axis=axis, keepdims=True)
    out = np.log(total) + shift
    return out if keepdims else np.squeeze(out, axis=axis)


@logsumexp.defvjp
def _logsumexp_vjp(g, out, x, *, axis=None, keepdims=False):
    return _keep(g, x.shape, axis, keepdims) * exp(x - _keep(out, x.shape, axis, keepdims))


@primitive
def log_softmax(x, *, axis=-1):
    """Log of softmax, computed stably as (x - m) - log(sum(exp(x - m))), m = max(x).

    y = x - logsumexp(x);  dx = g - exp(y)*sum(g)
    """
    if x.dtype.kind in "biu":  # in exp's float dtype: x - max would wrap around for uint8
        x = x.astype(np.result_type(x.dtype, np.float16))
    # Started at the lowest finite number, the maximum of an all -inf (or empty) slice is
    # finite, so that slice stays -inf when shifted (its answer is NaN either way); a slice
    # holding +inf gives NaN throughout, as torch's log_softmax does.
    shift = np.maximum.reduce(x, axis=axis, keepdims=True, initial=np.finfo(x.dtype).min)
    shifted = x - shift
    return shifted - np.log(np.add.reduce(np.exp(shifted), axis=axis, keepdims=True))


@log_softmax.defvjp
def _log_softmax_vjp(g, out, x, *, axis=-1):
    return g - exp(out) * sum(g, axis=axis, keepdims=True)


# ---------------------------------------------------------------- composites (no gradient code)
def _count(shape: tuple[int, ...], axis) -> int:
    n = 1
    for a in _axes(axis, len(shape)):
        n *= shape[a]
    return n


def mean(x, axis=None, keepdims=False):
    """Mean over `axis`: sum / count (a Python int, so float32 stays float32)."""
    return sum(x, axis=axis, keepdims=keepdims) / _count(x.shape, axis)


def var(x, axis=None, ddof=0, keepdims=False):
    """Variance over `axis` with numpy's `ddof` (0: population variance, 1: sample variance).

    As numpy, no more values than ddof gives NaN or inf, never a negative variance.
    """
    if isinstance(ddof, bool) or not isinstance(ddof, Real) or not math.isfinite(ddof):
        raise TypeError(f"var: ddof must be a finite number, got {ddof!r} ({user_location()})")
    centered = x - mean(x, axis=axis, keepdims=True)
    dof = _count(x.shape, axis) - ddof
    return sum(centered * centered, axis=axis, keepdims=keepdims) / (dof if dof > 0 else 0)


def softmax(x, axis=-1):
    """exp(log_softmax(x)): stable for any input, and its gradient comes for free."""
    return exp(log_softmax(x, axis=axis))
