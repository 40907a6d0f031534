"""Error messages a learner can act on: the op, the shapes, and the line of *their* code."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

# Frames inside these folders are ours; the first frame outside them is the user's line.
_PACKAGE_DIRS = tuple(
    str(Path(__file__).resolve().parent.parent / name) for name in ("autograd_lite", "nn")
)


def user_location() -> str:
    """`file.py:LINE` of the innermost frame on the stack that is not inside this library."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(_PACKAGE_DIRS) and not filename.startswith("<frozen"):
            return f"{Path(filename).name}:{frame.f_lineno}"
        frame = frame.f_back
    return "<unknown>"


def shape_of(value: object) -> str:
    """Shape for messages: `(3, 2)` for arrays and tensors, the type name for anything else."""
    shape = getattr(value, "shape", None)
    return str(tuple(shape)) if shape is not None else type(value).__name__


def op_error(op: str, inputs: tuple, exc: Exception) -> Exception:
    """Rewrite an exception raised inside `op` to name the op, the shapes and the user's line."""
    message = str(exc).strip()
    shapes = [shape_of(a) for a in inputs]
    if not all(s in message for s in shapes):  # numpy's own message may already name them all
        message += f"; input shapes {', '.join(shapes)}"
    # AxisError is both an IndexError (torch's "dimension out of range") and a ValueError: keep
    # it, so either `except` catches a bad axis. An arithmetic error (inf into an integer
    # array, a zero step) is a bad value: ValueError.
    kind = next(
        k
        for k in (np.exceptions.AxisError, IndexError, ValueError, TypeError, Exception)
        if isinstance(exc, k)
    )
    if isinstance(exc, ArithmeticError):
        kind = ValueError
    return kind(f"{op}: {message} ({user_location()})")
