"""Matrix product, with numpy's matmul rules for 1-D operands and batch broadcasting."""

from __future__ import annotations

from ..engine import primitive
from .shape import expand_dims, swapaxes


@primitive
def matmul(x, y):
    """Matrix product x @ y.

    z = x @ y;  dx = g @ y^T,  dy = x^T @ g
    """
    try:
        return x @ y
    except ValueError:
        if x.ndim and y.ndim and x.shape[-1] != y.shape[-2 if y.ndim > 1 else 0]:
            inner = y.shape[-2 if y.ndim > 1 else 0]
            raise ValueError(
                f"shapes {x.shape} and {y.shape} do not align: {x.shape[-1]} != {inner}"
            ) from None
        raise


@matmul.defvjp
def _matmul_vjp(g, out, x, y):
    if x.ndim == 1 and y.ndim == 1:
        return g * y, g * x
    # A 1-D operand acts as a matrix with a size-1 axis; the engine sums that axis away again.
    if x.ndim == 1:
        x, g = expand_dims(x, 0), expand_dims(g, -2)
    if y.ndim == 1:
        y, g = expand_dims(y, -1), expand_dims(g, -1)
    return g @ swapaxes(y, -1, -2), swapaxes(x, -1, -2) @ g
