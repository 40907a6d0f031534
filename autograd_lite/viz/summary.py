"""An array in a few numbers: what viz writes on a box or an edge, and what `viz.watch()` keeps
of every value and gradient (the elements themselves only when there are at most 4)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

_SMALL = 4  # arrays with at most this many elements are shown element by element


@dataclass(frozen=True)
class Summary:
    """Shape, dtype and size of an array: rms = sqrt(mean(|a|^2)), max|a|, mean, min and max
    (NaN for a non-numeric or empty array), and its elements when it has at most 4."""

    shape: tuple[int, ...]
    dtype: str
    rms: float
    max_abs: float
    mean: float
    min: float
    max: float
    elements: tuple | None

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def value_text(self) -> str:
        """A value: its elements when at most 4, else mean, min and max."""
        if self.elements is not None:
            return values(np.reshape(np.array(self.elements, dtype=self.dtype), self.shape))
        if np.isnan(self.mean):
            return self.dtype
        return f"mean {self.mean:.3g}  min {self.min:.3g}  max {self.max:.3g}"

    def grad_text(self) -> str:
        """A gradient: its elements when at most 4, else its rms."""
        return self.value_text() if self.elements is not None else f"rms {self.rms:.3g}"


def summarize(a: Any) -> Summary:
    """The Summary of an array (or of a Tensor's data)."""
    a = np.asarray(getattr(a, "data", a))
    elements = tuple(a.ravel().tolist()) if a.size <= _SMALL else None
    nan = float("nan")
    if a.size == 0 or a.dtype.kind not in "biuf":
        return Summary(a.shape, a.dtype.name, nan, nan, nan, nan, nan, elements)
    with np.errstate(all="ignore"):  # inf - inf in a mean is NaN, as it should read
        return Summary(
            a.shape,
            a.dtype.name,
            rms(a),
            float(np.max(np.abs(a))),
            float(np.mean(a)),
            float(np.min(a)),
            float(np.max(a)),
            elements,
        )


def rms(g: np.ndarray) -> float:
    """sqrt(mean(|g|**2)): a gradient's typical size, comparable across shapes (a norm grows
    with the number of elements). Scaled by max|g| first, so huge values do not overflow."""
    if g.size == 1:
        return abs(g.reshape(-1)[0].item())
    size = np.abs(g)
    top = float(np.max(size, initial=0.0))
    if top == 0.0 or not np.isfinite(top):
        return top
    return top * float(np.sqrt(np.mean(np.square(size / top))))


def values(a: Any) -> str:
    """The values themselves, at 4 significant digits, on one line."""
    a = np.asarray(a)
    if a.ndim == 0:
        return _number(a.item())
    text = np.array2string(a, separator=", ", formatter={"all": _number}, threshold=16)
    return " ".join(text.split())


def _number(v: Any) -> str:
    return str(v) if isinstance(v, bool | np.bool_) else f"{v:.4g}"


def shape_text(a: Any) -> str:
    """`(3, 2)`, or `scalar`, for an array, a Tensor or a Summary."""
    shape = a.shape if isinstance(a, Summary) else np.shape(a)
    return "scalar" if shape == () else str(shape)
