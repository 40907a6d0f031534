"""The dtype policy, in one place: what a Tensor may hold, and what may require gradients.

As in PyTorch, a tensor holds numbers: bool, integers, floats or complex numbers. Object,
string and bytes arrays are refused (numpy would keep them and fail later, or compute on
Python objects one by one). Only floating-point tensors require gradients: the gradient rules
are written for real numbers, so complex values are data, never differentiated.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import user_location

NUMBERS = "biufc"
"""numpy dtype kinds a Tensor holds: bool, signed and unsigned integers, floats, complex."""

REAL = "biuf"
"""The kinds layers and losses compute with: numbers without an imaginary part."""

_WHAT_KIND_HOLDS = {
    "O": "Python objects",
    "U": "strings",
    "T": "strings",
    "S": "bytes",
    "V": "raw bytes",
    "M": "dates",
    "m": "time spans",
    "c": "complex numbers",
    "i": "integers",
    "u": "integers",
    "b": "booleans",
}


_EXPECTED = {
    NUMBERS: "numbers (bool, int, float or complex)",
    REAL: "real numbers (bool, int or float)",
    "f": "floating-point numbers",
}


def require_numbers(dtype: np.dtype, who: Any, what: str, kinds: str = NUMBERS) -> None:
    """TypeError naming `who`, `what` and the dtype unless `dtype` is of one of `kinds`
    (NUMBERS, REAL or "f")."""
    if dtype.kind in kinds:
        return
    holds = _WHAT_KIND_HOLDS.get(dtype.kind, "numbers")
    raise TypeError(
        f"{who}: {what} has dtype {dtype} ({holds}); expected {_EXPECTED[kinds]} "
        f"({user_location()})"
    )


def require_differentiable(dtype: np.dtype, who: Any) -> None:
    """TypeError unless a tensor of `dtype` can require gradients (a floating-point dtype)."""
    if dtype.kind == "f":
        return
    hint = (
        "gradients of complex numbers are not supported, so complex values can only be constants"
        if dtype.kind == "c"
        else "pass floats or dtype=np.float64"
    )
    raise TypeError(
        f"{who}: only floating-point tensors can require gradients, got dtype {dtype}; {hint} "
        f"({user_location()})"
    )
