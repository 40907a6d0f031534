"""What numpy computes for each primitive in `autograd_lite.REGISTRY`, written independently of
the library: the oracle of the bad-input sweep (test_bad_inputs.py).

One entry per primitive, called as the primitive is (positional arrays, keyword parameters),
on plain numpy values; a meta-test fails when a primitive has no entry. Where an op is one
numpy call the entry is that call; the ops with logic of their own (unfold, fold, max_pool,
max_unpool, sum_to, logsumexp, log_softmax, scatter_add, nll_loss) are computed another way:
sliding_window_view, explicit loops over windows, a sum over axes found by comparing shapes.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def _unfold(x, *, kernel_size, stride, dilation):
    d = len(kernel_size)
    if not (
        d and len(stride) == len(dilation) == d and min((*kernel_size, *stride, *dilation)) >= 1
    ):
        raise ValueError("window parameters must be positive, one per axis")
    axes = tuple(range(x.ndim - d, x.ndim))
    span = tuple(dl * (k - 1) + 1 for k, dl in zip(kernel_size, dilation))
    windows = sliding_window_view(x, span, axis=axes)
    starts = tuple(slice(None, None, s) for s in stride)
    taps = tuple(slice(None, None, dl) for dl in dilation)
    return windows[(Ellipsis, *starts, *taps)]


def _fold(x, *, shape, kernel_size, stride, dilation, order=None):
    d = len(kernel_size)
    out = x.shape[-2 * d : -d]
    result = np.zeros(shape, dtype=x.dtype)
    for o in itertools.product(*(range(n) for n in out)):
        for k in itertools.product(*(range(n) for n in kernel_size)):
            at = tuple(oi * s + ki * dl for oi, ki, s, dl in zip(o, k, stride, dilation))
            result[(Ellipsis, *at)] += x[(Ellipsis, *o, *k)]
    return result


def _max_pool(x, *, kernel_size, stride, dilation):
    windows = _unfold(x, kernel_size=kernel_size, stride=stride, dilation=dilation)
    return windows.max(axis=tuple(range(-len(kernel_size), 0)))


def _max_unpool(dy, *, x, y, kernel_size, stride, dilation):
    """Window by window, as the math line reads: dy times [the first element (in window
    order) equal to the max], so a NaN dy reaches its whole window, as relu's g*(x>0) does."""
    d = len(kernel_size)
    if y.shape != dy.shape or x.shape[:-d] != y.shape[:-d]:
        raise ValueError("dy, x and y do not match")
    windows = _unfold(x, kernel_size=kernel_size, stride=stride, dilation=dilation)
    if windows.shape[:-d] != y.shape:
        raise ValueError("y is not the pooled x")
    result = np.zeros(x.shape, dtype=dy.dtype)
    for lead in itertools.product(*(range(n) for n in y.shape[:-d])):
        for o in itertools.product(*(range(n) for n in y.shape[-d:])):
            won = False
            for k in itertools.product(*(range(n) for n in kernel_size)):
                first = not won and windows[(*lead, *o, *k)] == y[(*lead, *o)]
                won = won or first
                at = tuple(oi * s + ki * dl for oi, ki, s, dl in zip(o, k, stride, dilation))
                result[(*lead, *at)] += dy[(*lead, *o)] * first
    return result


def _sum_to(x, *, shape):
    shape = tuple(shape)
    if shape == x.shape:  # nothing to sum: x itself, not numpy's promoted copy of a sum
        return x
    lead = x.ndim - len(shape)
    if lead < 0:
        raise ValueError("more axes than the array")
    summed = x.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, (n, m) in enumerate(zip(shape, summed.shape)) if n != m)
    if any(shape[i] != 1 for i in axes):
        raise ValueError("not broadcast from it")
    return summed.sum(axis=axes, keepdims=True)


def _logsumexp(x, *, axis=None, keepdims=False):
    """scipy.special.logsumexp's method, in exp's dtype (so uint8 does not wrap around), and
    -inf over an empty axis as in torch."""
    x = x.astype(np.exp(np.zeros(1, x.dtype)).dtype) if x.dtype.kind in "biu" else x
    top = np.max(x, axis=axis, keepdims=True, initial=-np.inf)
    top = np.where(np.isfinite(top), top, 0)
    out = np.log(np.sum(np.exp(x - top), axis=axis, keepdims=True)) + top
    return out if keepdims else np.squeeze(out, axis=axis)


def _log_softmax(x, *, axis=-1):
    """torch's log_softmax formula: (x - m) - log(sum(exp(x - m))) with m = max(x), kept at
    0 only for an all -inf slice, so a slice holding +inf is NaN throughout."""
    x = x.astype(np.exp(np.zeros(1, x.dtype)).dtype) if x.dtype.kind in "biu" else x
    top = np.max(x, axis=axis, keepdims=True, initial=-np.inf)
    shifted = x - np.where(top == -np.inf, 0, top)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def _scatter_add(x, *, shape, index):
    out = np.zeros(shape, dtype=x.dtype)
    np.add.at(out, index, x)
    return out


def _nll_loss(x, *, target, reduction="mean"):
    """-x at each target class, picked with take_along_axis (classes on axis 1, or 0 for 1-D)."""
    if reduction not in ("mean", "sum", "none") or np.asarray(target).dtype.kind not in "iu":
        raise ValueError("reduction must be mean, sum or none; target integer class indices")
    axis = 1 if x.ndim >= 2 else 0
    if target.shape != x.shape[:axis] + x.shape[axis + 1 :] or (target < 0).any():
        raise ValueError("target must be x's shape without its class axis, of classes in x")
    picked = -np.take_along_axis(x, np.expand_dims(target, axis), axis=axis).squeeze(axis)
    if reduction == "none":
        return picked
    total = np.add.reduce(picked, axis=None)
    if reduction == "sum":
        return total
    return total / picked.size if picked.size else total * np.nan


def _nll_loss_backward(g, *, target, shape, reduction="mean"):
    """-g (/n for the mean) put at each target class with put_along_axis, zeros elsewhere."""
    axis = 1 if len(shape) >= 2 else 0
    negated = -np.asarray(g)
    dx = np.zeros(shape, dtype=negated.dtype)
    mean = reduction == "mean" and target.size
    values = np.broadcast_to(negated / target.size if mean else negated, target.shape)
    np.put_along_axis(dx, np.expand_dims(target, axis), np.expand_dims(values, axis), axis=axis)
    return dx


def _pow(x, y):
    return x**y  # not np.power: for bool ** int the operator and the ufunc pick other dtypes


def _linear(x, w, b):
    y = np.matmul(x, np.swapaxes(w, -1, -2))
    return y if b is None else y + b


REFERENCES: dict[str, Callable] = {
    # elementwise
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": np.true_divide,
    "neg": np.negative,
    "pow": _pow,
    "exp": np.exp,
    "log": np.log,
    "sqrt": np.sqrt,
    "sign": np.sign,
    "abs": np.absolute,
    "sin": np.sin,
    "cos": np.cos,
    "tanh": np.tanh,
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "relu": lambda x: np.maximum(x, 0),
    "leaky_relu": lambda x, *, negative_slope=0.01: np.where(x > 0, x, x * negative_slope),
    "softplus": lambda x: np.logaddexp(0, x),
    "maximum": np.maximum,
    "minimum": np.minimum,
    "where": np.where,
    "clip": lambda x, *, min=None, max=None: np.clip(x, min, max),
    "astype": lambda x, *, dtype: x.astype(dtype),
    # reductions
    "sum": np.sum,
    "max": np.max,
    "min": np.min,
    "logsumexp": _logsumexp,
    "log_softmax": _log_softmax,
    "nll_loss": _nll_loss,
    "nll_loss_backward": _nll_loss_backward,
    # linear algebra
    "matmul": np.matmul,
    "linear": _linear,
    # shape and indexing
    "reshape": lambda x, *, shape: np.reshape(x, shape),
    "transpose": lambda x, *, axes=None: np.transpose(x, axes),
    "broadcast_to": lambda x, *, shape: np.broadcast_to(x, shape),
    "sum_to": _sum_to,
    "getitem": lambda x, *, index: x[index],
    "scatter_add": _scatter_add,
    "concatenate": lambda *xs, axis=0: np.concatenate(xs, axis=axis),
    "pad": lambda x, *, pad_width, value=0.0: np.pad(x, pad_width, constant_values=value),
    # windows
    "unfold": _unfold,
    "fold": _fold,
    "max_pool": _max_pool,
    "max_unpool": _max_unpool,
}
