"""Ways to make tensors, named and ordered as in numpy and torch.

Random tensors take `rng`: an `np.random.Generator`, a seed, or None for the module generator
that `manual_seed` resets, so every run can be reproduced.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .dtypes import NUMBERS, require_numbers
from .errors import user_location
from .tensor import ArrayLike, Tensor, _shape_arg

# Made on first use: importing numpy.random costs ~6 MB of memory that a program without
# random tensors need not pay.
_rng: np.random.Generator | None = None


def manual_seed(seed: int) -> None:
    """Reset the generator used when no `rng` is given."""
    global _rng
    _rng = np.random.default_rng(seed)


def generator(rng: np.random.Generator | int | None = None) -> np.random.Generator:
    """`rng` as a Generator: itself, a new one from a seed, or the module generator for None."""
    global _rng
    if rng is None:
        if _rng is None:
            _rng = np.random.default_rng()
        return _rng
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


def tensor(
    data: ArrayLike, requires_grad: bool = False, dtype=None, name: str | None = None
) -> Tensor:
    """A new leaf tensor holding a copy of `data` (float64 for Python floats, as numpy)."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, name=name)


def _shape(shape: Any, who: str) -> tuple[int, ...]:
    """`shape` (an int or a sequence of ints) checked: whole numbers, none negative."""
    dims = _shape_arg(shape) if isinstance(shape, tuple) else _shape_arg((shape,))
    for n in dims:
        if isinstance(n, bool) or not isinstance(n, int | np.integer):
            raise TypeError(f"{who}: shape must hold integers, got {shape!r} ({user_location()})")
        if n < 0:
            raise ValueError(
                f"{who}: shape {dims} has a negative size; sizes must be >= 0 ({user_location()})"
            )
    return dims


def _dtype(dtype: Any, who: str, kinds: str = NUMBERS) -> np.dtype:
    try:
        dtype = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"{who}: {exc} ({user_location()})") from None
    require_numbers(dtype, who, "the tensor", kinds)
    return dtype


def zeros(*shape: int, dtype=np.float64, requires_grad: bool = False, name=None) -> Tensor:
    data = np.zeros(_shape(shape, "zeros"), _dtype(dtype, "zeros"))
    return Tensor(data, requires_grad=requires_grad, name=name)


def ones(*shape: int, dtype=np.float64, requires_grad: bool = False, name=None) -> Tensor:
    data = np.ones(_shape(shape, "ones"), _dtype(dtype, "ones"))
    return Tensor(data, requires_grad=requires_grad, name=name)


def full(shape, fill_value: float, dtype=np.float64, requires_grad: bool = False) -> Tensor:
    data = np.full(_shape(shape, "full"), fill_value, _dtype(dtype, "full"))
    return Tensor(data, requires_grad=requires_grad)


def arange(start, stop=None, step=1, dtype=None, requires_grad: bool = False) -> Tensor:
    if step == 0:
        raise ValueError(f"arange: step must not be zero, got {step!r} ({user_location()})")
    dtype = None if dtype is None else _dtype(dtype, "arange")
    return Tensor(np.arange(start, stop, step, dtype=dtype), requires_grad=requires_grad)


def randn(
    *shape: int, rng=None, dtype=np.float64, requires_grad: bool = False, name=None
) -> Tensor:
    """Standard normal samples."""
    return _samples("randn", "standard_normal", shape, rng, dtype, requires_grad, name)


def rand(*shape: int, rng=None, dtype=np.float64, requires_grad: bool = False, name=None) -> Tensor:
    """Uniform samples in [0, 1)."""
    return _samples("rand", "random", shape, rng, dtype, requires_grad, name)


def _samples(who: str, method: str, shape, rng, dtype, requires_grad, name) -> Tensor:
    """Samples of a Generator method, in a floating dtype (integers would truncate them)."""
    sizes, dtype = _shape(shape, who), _dtype(dtype, who, "f")
    data = getattr(generator(rng), method)(sizes).astype(dtype, copy=False)
    return Tensor(data, requires_grad=requires_grad, name=name)


def _template(t: ArrayLike, dtype: Any, who: str) -> tuple[np.ndarray, np.dtype]:
    """The array a `*_like` function copies the shape of, and the checked dtype to make: the
    given one, else the template's."""
    array = np.asarray(t.data if isinstance(t, Tensor) else t)
    return array, _dtype(array.dtype if dtype is None else dtype, who)


def zeros_like(t: ArrayLike, dtype=None, requires_grad: bool = False) -> Tensor:
    array, dtype = _template(t, dtype, "zeros_like")
    return Tensor(np.zeros(array.shape, dtype), requires_grad=requires_grad)


def ones_like(t: ArrayLike, dtype=None, requires_grad: bool = False) -> Tensor:
    array, dtype = _template(t, dtype, "ones_like")
    return Tensor(np.ones(array.shape, dtype), requires_grad=requires_grad)


def full_like(t: ArrayLike, fill_value: float, dtype=None, requires_grad: bool = False) -> Tensor:
    array, dtype = _template(t, dtype, "full_like")
    return Tensor(np.full(array.shape, fill_value, dtype), requires_grad=requires_grad)


def _float_dtype_of(array: np.ndarray) -> np.dtype:
    """Random samples are real numbers: an integer or boolean template gives float64, not
    samples truncated to integers."""
    return array.dtype if array.dtype.kind == "f" else np.dtype(np.float64)


def randn_like(t: ArrayLike, rng=None, dtype=None, requires_grad: bool = False) -> Tensor:
    array = np.asarray(t.data if isinstance(t, Tensor) else t)
    dtype = _float_dtype_of(array) if dtype is None else dtype
    return _samples("randn_like", "standard_normal", array.shape, rng, dtype, requires_grad, None)


def rand_like(t: ArrayLike, rng=None, dtype=None, requires_grad: bool = False) -> Tensor:
    array = np.asarray(t.data if isinstance(t, Tensor) else t)
    dtype = _float_dtype_of(array) if dtype is None else dtype
    return _samples("rand_like", "random", array.shape, rng, dtype, requires_grad, None)
