"""Shape and indexing primitives. Each is linear, so each VJP is its adjoint op:
reshape <-> reshape, transpose <-> transpose, broadcast_to <-> sum_to, getitem <-> scatter_add,
pad <-> slicing, concatenate <-> slicing. Composites (expand_dims, squeeze, flatten, stack,
swapaxes) are reshapes and transposes with no gradient code of their own.
"""

from __future__ import annotations

import math

import numpy as np

from ..engine import primitive
from ..errors import shape_of, user_location


@primitive
def reshape(x, *, shape):
    """Same elements, new shape (numpy order).

    y = x.reshape(shape);  dx = g.reshape(x.shape)
    """
    return x.reshape(shape)


@reshape.defvjp
def _reshape_vjp(g, out, x, *, shape):
    return reshape(g, shape=x.shape)


@primitive
def transpose(x, *, axes=None):
    """Permute axes (reverse them by default).

    y = x.transpose(axes);  dx = g.transpose(argsort(axes))
    """
    return x.transpose(axes)


@transpose.defvjp
def _transpose_vjp(g, out, x, *, axes=None):
    if axes is None:
        return transpose(g)
    # g.ndim, not x.ndim: a rule that never reads x lets the node drop x's array. atleast_1d:
    # numpy also takes a lone int as a 1-D array's axes.
    return transpose(g, axes=tuple(np.argsort([a % g.ndim for a in np.atleast_1d(axes)])))


@primitive
def broadcast_to(x, *, shape):
    """Repeat x along broadcast axes.

    y = broadcast_to(x, shape);  dx = sum_to(g, x.shape)
    """
    # A writable copy rather than np.broadcast_to's view: several times faster on the small
    # arrays that dominate backward passes, and safe to hand to code that writes in place.
    # The copy would also drop leading size-1 axes, which broadcasting never does: refused.
    if x.ndim > len(shape):
        raise ValueError(f"cannot broadcast shape {x.shape} to {tuple(shape)}: it has more axes")
    out = np.empty(shape, dtype=x.dtype)
    out[...] = x
    return out


@broadcast_to.defvjp
def _broadcast_to_vjp(g, out, x, *, shape):
    return sum_to(g, shape=x.shape)


@primitive
def sum_to(x, *, shape):
    """Sum x down to `shape` over the axes broadcasting added: how every gradient gets
    back to its input's shape.

    y = sum_to(x, shape);  dx = broadcast_to(g, x.shape)
    """
    lead = x.ndim - len(shape)
    tail = x.shape[lead:]
    if tail == shape:  # only leading axes were added (a bias): no reshape needed
        if lead == 1:  # a batch axis: an int axis skips parsing a tuple (~2k instructions)
            return np.add.reduce(x, axis=0)
        return np.add.reduce(x, axis=tuple(range(lead))) if lead else x
    if lead < 0 or any(n not in (1, m) for n, m in zip(shape, tail)):
        raise ValueError(f"cannot sum shape {x.shape} to {shape}: it is not broadcast from it")
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and tail[i] != 1
    )
    # keepdims gives the shape at once (a fresh array rather than a reshaped view) when no
    # leading axis was added.
    summed = np.add.reduce(x, axis=axes, keepdims=True)
    return summed.reshape(shape) if lead else summed


@sum_to.defvjp
def _sum_to_vjp(g, out, x, *, shape):
    return broadcast_to(g, shape=x.shape)


@primitive
def getitem(x, *, index):
    """Basic or advanced numpy indexing.

    y = x[index];  dx = scatter_add(g, x.shape, index)
    """
    return x[index]


@getitem.defvjp
def _getitem_vjp(g, out, x, *, index):
    return scatter_add(g, shape=x.shape, index=index)


def _is_basic(index) -> bool:
    """Basic indices (ints, slices, None, ...) never repeat an element, so `=` suffices."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, int | np.integer | slice | type(None) | type(Ellipsis)) for i in parts)


@primitive
def scatter_add(x, *, shape, index):
    """Zeros of `shape` with x added at `index`; repeated indices add up (np.add.at).

    y = zeros(shape); y[index] += x;  dx = g[index]
    """
    out = np.zeros(shape, dtype=x.dtype)
    if _is_basic(index):
        # Assignment would also drop leading size-1 axes of x, which indexing never adds.
        if np.ndim(x) > out[index].ndim:
            raise ValueError(
                f"values of shape {np.shape(x)} do not fit index {index!r} of shape {shape}"
            )
        out[index] = x
    else:
        np.add.at(out, index, x)
    return out


@scatter_add.defvjp
def _scatter_add_vjp(g, out, x, *, shape, index):
    return getitem(g, index=index)


@primitive
def concatenate(*xs, axis=0):
    """Join along an existing axis.

    y = concatenate(xs, axis);  dxs = the matching slices of g
    """
    return np.concatenate(xs, axis=axis)


@concatenate.defvjp
def _concatenate_vjp(i, g, out, *xs, axis=0):
    if axis is None:  # numpy's axis=None joins the flattened inputs
        start = sum(x.size for x in xs[:i])
        return reshape(getitem(g, index=slice(start, start + xs[i].size)), shape=xs[i].shape)
    axis %= g.ndim
    start = sum(x.shape[axis] for x in xs[:i])
    return getitem(g, index=(*(slice(None),) * axis, slice(start, start + xs[i].shape[axis])))


def _pad_pairs(pad_width, ndim: int) -> list[tuple[int, int]]:
    return [tuple(p) for p in np.broadcast_to(np.asarray(pad_width, dtype=int), (ndim, 2))]


@primitive
def pad(x, *, pad_width, value=0.0):
    """Constant padding, numpy's pad_width forms (int, (before, after), or one pair per axis).

    y = pad(x, pad_width, value);  dx = g[inner slice]
    """
    return np.pad(x, pad_width, constant_values=value)


@pad.defvjp
def _pad_vjp(g, out, x, *, pad_width, value=0.0):
    pairs = _pad_pairs(pad_width, x.ndim)
    return getitem(g, index=tuple(slice(a, n + a) for (a, _), n in zip(pairs, x.shape)))


# ---------------------------------------------------------------- composites (no gradient code)
def _norm_axes(op: str, axis, ndim: int, x) -> tuple[int, ...]:
    """`axis` (one or several) as sorted non-negative axes of an `ndim`-dimensional array.

    Composites are not ops themselves, so they name the op and the user's line themselves.
    """
    axes = axis if isinstance(axis, tuple | list) else (axis,)
    for a in axes:
        if isinstance(a, bool) or not isinstance(a, int | np.integer):
            raise TypeError(
                f"{op}: axis must be an int or a tuple of ints, got {axis!r} ({user_location()})"
            )
        if not -ndim <= a < ndim:
            raise np.exceptions.AxisError(
                f"{op}: axis {a} is out of bounds for {ndim} dimensions; input shape "
                f"{shape_of(x)} ({user_location()})"
            )
    return tuple(sorted(a % ndim for a in axes))


def expand_dims(x, axis):
    """Insert size-1 axes at `axis` (positions in the result), as numpy does."""
    n_new = len(axis) if isinstance(axis, tuple | list) else 1
    shape = list(x.shape)
    for a in _norm_axes("expand_dims", axis, x.ndim + n_new, x):
        shape.insert(a, 1)
    return reshape(x, shape=tuple(shape))


def squeeze(x, axis=None):
    """Drop size-1 axes (all of them by default)."""
    if axis is None:
        return reshape(x, shape=tuple(n for n in x.shape if n != 1))
    axes = _norm_axes("squeeze", axis, x.ndim, x)
    for a in axes:
        if x.shape[a] != 1:
            raise ValueError(
                f"squeeze: axis {a} has size {x.shape[a]}, not 1 (shape {x.shape}) "
                f"({user_location()})"
            )
    return reshape(x, shape=tuple(n for i, n in enumerate(x.shape) if i not in axes))


def flatten(x, start_dim=0, end_dim=-1):
    """Merge axes start_dim..end_dim into one (torch's flatten; the default gives 1-D)."""
    if x.ndim == 0:
        return reshape(x, shape=(1,))
    for axis in (start_dim, end_dim):
        if isinstance(axis, bool) or not isinstance(axis, int | np.integer):
            raise TypeError(
                f"flatten: start_dim and end_dim must be ints, got {axis!r} ({user_location()})"
            )
    start, end = (_norm_axes("flatten", axis, x.ndim, x)[0] for axis in (start_dim, end_dim))
    if start > end:
        raise ValueError(
            f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for shape {x.shape} "
            f"({user_location()})"
        )
    merged = math.prod(x.shape[start : end + 1])  # math.prod: np.prod costs ~6 us a call
    return reshape(x, shape=(*x.shape[:start], merged, *x.shape[end + 1 :]))


def stack(xs, axis=0):
    """Join along a new axis."""
    if isinstance(axis, bool) or not isinstance(axis, int | np.integer):
        raise TypeError(f"stack: axis must be an int, got {axis!r} ({user_location()})")
    shapes = [np.shape(x) for x in xs]
    if len(set(shapes)) > 1:
        raise ValueError(
            f"stack: all inputs must have the same shape, got {', '.join(map(str, shapes))} "
            f"({user_location()})"
        )
    return concatenate(*(expand_dims(x, axis) for x in xs), axis=axis)


def swapaxes(x, a: int, b: int):
    """Exchange two axes."""
    a, b = (_norm_axes("swapaxes", axis, x.ndim, x)[0] for axis in (a, b))
    axes = list(range(x.ndim))
    axes[a], axes[b] = axes[b], axes[a]
    return transpose(x, axes=tuple(axes))
