"""Checks shared by the layers, losses and optimizers: arguments fail at construction with a
clear message, and bad data fails at call time; each message names the layer (or loss, or
optimizer), the argument and its value or shape, and ends with the user's line."""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Real
from typing import Any

import numpy as np

from autograd_lite import Tensor, ops
from autograd_lite.dtypes import REAL, require_numbers
from autograd_lite.errors import user_location

Array = Any  # a Tensor, an ndarray, or anything np.asarray accepts
IntOrTuple = int | Sequence[int]


def input_error(message: str, kind: type[Exception] = ValueError) -> Exception:
    """A bad argument or bad data: the message ends with the user's line that made the call,
    since the traceback's last lines are inside nn (the same convention as the core's op
    errors)."""
    return kind(f"{message} ({user_location()})")


def array_of(x: Array) -> np.ndarray:
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def as_input(x: Array, who: object) -> Tensor | np.ndarray:
    """A layer's input: real numbers (a string, object or complex array is a TypeError).
    Float Tensors and ndarrays pass through; lists and scalars become arrays; integers and
    booleans become float64, since layers compute in floating point (numpy's integer
    arithmetic would wrap uint8 pixels around in -x, and pad int arrays with -inf)."""
    if not isinstance(x, Tensor | np.ndarray):
        try:
            x = np.asarray(x)
        except ValueError as exc:  # a ragged list
            raise input_error(f"{who}: input is not an array: {exc}") from None
    if x.dtype.kind == "f":
        return x
    require_numbers(x.dtype, who, "input", REAL)
    # An integer Tensor cannot require grad: no graph. The op (not numpy's astype) lets a
    # compiled step convert each new batch, where numpy's copy would be frozen.
    return ops.astype(array_of(x), dtype=np.float64)


def loss_input(x: Array, who: object) -> Tensor:
    """A loss's input, the prediction: a Tensor of real numbers (targets may be arrays),
    integers and booleans as float64, since losses compute in floating point as layers do."""
    if not isinstance(x, Tensor):
        raise input_error(
            f"{who}: input must be a Tensor (the prediction to differentiate), got "
            f"{type(x).__name__} of shape {np.shape(x)}; wrap data in al.tensor(...)",
            TypeError,
        )
    if x.data.dtype.kind == "f":
        return x
    require_numbers(x.data.dtype, who, "input", REAL)
    return Tensor(x.data, dtype=np.float64)  # an integer Tensor cannot require grad: no graph


def float_dtype(dtype: Any, who: object) -> np.dtype:
    """A layer's `dtype` argument checked: parameters are floating point, to be trained."""
    try:
        dtype = np.dtype(dtype)
    except TypeError as exc:
        raise input_error(
            f"{who}: dtype {dtype!r} is not a numpy dtype ({exc})", TypeError
        ) from None
    if dtype.kind != "f":
        raise input_error(
            f"{who}: dtype must be a floating-point dtype (parameters are trained), got {dtype}",
            TypeError,
        )
    return dtype


def positive_int(value: object, what: str, who: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
        raise input_error(f"{who}: {what} must be a positive integer, got {value!r}")
    return int(value)


def number(
    value: Any, what: str, who: object, low: float = -math.inf, high: float = math.inf, *,
    low_open: bool = False, high_open: bool = False, nonzero: bool = False, label: str = "",
) -> Any:  # fmt: skip
    """`value` checked: a finite real number between low and high (each bound included unless
    open), and not 0 if `nonzero`. NaN and infinities are refused: they would spread silently
    through every later step. With a `label`, the message begins as torch's optimizers do:
    "SGD: Invalid learning rate: nan (lr must be a finite number >= 0)"."""
    if isinstance(value, bool) or not isinstance(value, Real):
        expected, kind = "a real number", TypeError
    else:
        below = value <= low if low_open else value < low
        above = value >= high if high_open else value > high
        if math.isfinite(value) and not below and not above and not (nonzero and value == 0):
            return value
        opening, closing = "(" if low_open else "[", ")" if high_open else "]"
        bounds = {
            (True, True): f" in {opening}{low:g}, {high:g}{closing}",
            (True, False): f" {'>' if low_open else '>='} {low:g}",
            (False, True): f" {'<' if high_open else '<='} {high:g}",
            (False, False): "",
        }[low > -math.inf, high < math.inf]
        expected, kind = "a finite number" + bounds + (", not 0" if nonzero else ""), ValueError
    if label:
        raise input_error(f"{who}: Invalid {label}: {value!r} ({what} must be {expected})", kind)
    raise input_error(f"{who}: {what} must be {expected}, got {value!r}", kind)


def integer(value: Any, what: str, who: object) -> int:
    """`value` checked: an int (an axis, which may be negative)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise input_error(f"{who}: {what} must be an integer, got {value!r}", TypeError)
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
        raise input_error(f"{who}: {what} must be an int or {n} ints, all {bound}, got {value!r}")
    return tuple(int(v) for v in values)


REDUCTIONS = ("mean", "sum", "none")


def reduction(value: str, who: str) -> str:
    if not isinstance(value, str) or value not in REDUCTIONS:
        raise input_error(f"{who}: reduction must be 'mean', 'sum' or 'none', got {value!r}")
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
