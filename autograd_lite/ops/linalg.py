"""Matrix product, with numpy's matmul rules for 1-D operands and batch broadcasting, and the
fused affine map of a dense layer."""

from __future__ import annotations

from math import prod

import numpy as np

from ..engine import primitive
from .shape import expand_dims, reshape, squeeze, swapaxes


@primitive
def matmul(x, y):
    """Matrix product x @ y.

    z = x @ y;  dx = g @ y^T,  dy = x^T @ g
    """
    try:
        return x @ y
    except ValueError:
        if not (x.ndim and y.ndim):  # numpy's own text would read "matmul: matmul: ..."
            raise ValueError(
                f"both operands need at least 1 dimension, got shapes {x.shape} and {y.shape}; "
                "scale by a 0-d value with *"
            ) from None
        if x.shape[-1] != y.shape[-2 if y.ndim > 1 else 0]:
            inner = y.shape[-2 if y.ndim > 1 else 0]
            raise ValueError(
                f"shapes {x.shape} and {y.shape} do not align: {x.shape[-1]} != {inner}"
            ) from None
        # The inner sizes agree, so what is left is the batch axes (all but the last two).
        raise ValueError(
            f"shapes {x.shape} and {y.shape}: batch shapes {x.shape[:-2]} and {y.shape[:-2]} "
            "do not broadcast"
        ) from None


def _as_matrices(g, x, y):
    """A 1-D operand acts as a matrix with a size-1 axis, added here and squeezed away after."""
    if x.ndim == 1:
        x, g = expand_dims(x, 0), expand_dims(g, -2)
    if y.ndim == 1:
        y, g = expand_dims(y, -1), expand_dims(g, -1)
    return g, x, y


def _matmul_vjp_x(g, out, x, y):
    if y.ndim == 2 and x.ndim >= 2:  # the common case, first: no 1-D operand to restore
        return g @ y.T
    if x.ndim == 1 and y.ndim == 1:
        return g * y
    g, _, ym = _as_matrices(g, x, y)
    gx = g @ _mT(ym)
    return squeeze(gx, -2) if x.ndim == 1 else gx


def _matmul_vjp_y(g, out, x, y):
    if x.ndim == 2 and y.ndim >= 2:
        return x.T @ g
    if x.ndim == 1 and y.ndim == 1:
        return g * x
    g, xm, _ = _as_matrices(g, x, y)
    gy = _mT(xm) @ g
    return squeeze(gy, -1) if y.ndim == 1 else gy


matmul.defvjp(_matmul_vjp_x, _matmul_vjp_y)


def _mT(a):
    """Transpose of the last two axes (`.T` for the common 2-D case, which is cheaper)."""
    return a.T if a.ndim == 2 else swapaxes(a, -1, -2)


@primitive
def linear(x, w, b):
    """Affine map x w^T + b with w of shape (out, in), as torch.nn.functional.linear; `b` may
    be None. One node instead of transpose, matmul and add, with the bias added in place, and
    each gradient comes out in its parameter's own layout: dw = g^T x is (out, in) and
    C-ordered for a layer's weight, where the composed form's (x^T g)^T is a transposed view
    that has to be copied before an optimizer can use it.

    y = x @ w^T + b;  dx = g @ w,  dw = g^T @ x,  db = g
    """
    if w.ndim != 2:  # w.T would reverse all of its axes, and x @ w.T mean something else
        raise ValueError(f"the weight must be 2-D (out_features, in_features), got {w.shape}")
    y = x @ w.T
    if b is None:
        return y
    if np.result_type(y, b) == y.dtype:
        try:
            return np.add(y, b, out=y)  # y is fresh: in place saves an output-sized array
        except ValueError:  # b broadcasts y to a larger shape: refused below
            pass
    out = y + b
    if out.shape != y.shape:  # a bias that broadcasts the output is not a bias of this layer
        raise ValueError(
            f"a bias of shape {np.shape(b)} changes the output's shape {y.shape} to {out.shape}; "
            f"it must have shape ({w.shape[0]},)"
        )
    return out


def _linear_vjp_w(g, out, x, w, b):
    # Every leading axis of x is a batch axis: flattened, the sum over the batch is part of
    # one matrix product. The batch size is given, not -1: numpy cannot infer it from an
    # empty array.
    n = prod(x.shape[:-1])
    g, x = reshape(g, shape=(n, w.shape[0])), reshape(x, shape=(n, w.shape[1]))
    layout = np.asarray(w).flags
    if layout.f_contiguous and not layout.c_contiguous:
        # A transposed w (a convolution's im2col, multiplied as W @ cols): its gradient as
        # the same transposed view, which the reshapes back to the input copy nothing.
        return (x.T @ g).T
    return g.T @ x


linear.defvjp(
    lambda g, out, x, w, b: g @ w,
    _linear_vjp_w,
    lambda g, out, x, w, b: g,  # the engine sums it over the batch axes
)
