"""Checks shared by the layers: arguments fail at construction with a clear message, and bad
data fails at call time naming the layer, the shapes and the user's line."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from autograd_lite import Tensor
from autograd_lite.errors import user_location

Array = Any  # a Tensor, an ndarray, or anything np.asarray accepts
IntOrTuple = int | Sequence[int]


def input_error(message: str) -> ValueError:
    """Bad data at call time: the message ends with the user's line that made the call, since
    the traceback's last lines are inside nn (the same convention as the core's op errors)."""
    return ValueError(f"{message} ({user_location()})")


def array_of(x: Array) -> np.ndarray:
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def as_input(x: Array) -> Tensor | np.ndarray:
    """Tensors and ndarrays pass through; lists and scalars become arrays."""
    return x if isinstance(x, Tensor | np.ndarray) else np.asarray(x)


def positive_int(value: object, what: str, who: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
        raise ValueError(f"{who}: {what} must be a positive integer, got {value!r}")
    return int(value)


def int_tuple(value: int | Sequence[int], n: int, what: str, who: str, minimum: int) -> tuple:
    """`value` as n ints, each >= minimum; an int stands for the same value on every axis."""
    if isinstance(value, int | np.integer):
        values = (value,) * n
    else:
        values = tuple(value) if isinstance(value, Sequence) else ()
    if len(values) != n or not all(
        isinstance(v, int | np.integer) and not isinstance(v, bool) and v >= minimum for v in values
    ):
        bound = "positive integers" if minimum == 1 else f"integers >= {minimum}"
        raise ValueError(f"{who}: {what} must be an int or {n} ints, all {bound}, got {value!r}")
    return tuple(int(v) for v in values)


REDUCTIONS = ("mean", "sum", "none")


def reduction(value: str, who: str) -> str:
    if value not in REDUCTIONS:
        raise ValueError(f"{who}: reduction must be 'mean', 'sum' or 'none', got {value!r}")
    return value


def spatial_names(d: int) -> str:
    return "L" if d == 1 else "H, W"


def check_window_fits(shape: tuple, pads: tuple, kernel: Sequence[int], dilation, who) -> None:
    d = len(kernel)
    padded = tuple(n + a + b for n, (a, b) in zip(shape[-d:], pads))
    span = tuple(dil * (k - 1) + 1 for k, dil in zip(kernel, dilation))
    if any(n < s for n, s in zip(padded, span)):
        with_padding = f" ({padded} after padding)" if padded != tuple(shape[-d:]) else ""
        raise input_error(
            f"{who}: input of shape {tuple(shape)} is too small: its spatial size "
            f"{tuple(shape[-d:])}{with_padding} is smaller than the kernel's span {span}"
        )
