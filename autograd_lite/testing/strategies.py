"""Hypothesis strategies for testing gradients: tensors in an op's domain, and shapes that fit.

Every strategy keeps sizes small (a few elements per axis, at most a few axes) so a full
numerical Jacobian stays cheap. Use them with `gradcheck`:

>>> from hypothesis import given
>>> import autograd_lite as al
>>> from autograd_lite.testing.strategies import tensors
>>> @given(tensors(domain="positive"))
... def test_log(x):
...     al.gradcheck(al.log, [x])
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ..tensor import Tensor

VALUE_DOMAINS = ("real", "positive", "away_from_kinks", "unit_interval", "distinct")
"""The value domains `tensors` can draw from; see `tensors` for what each means."""

Shape = tuple[int, ...]


def shapes(*, min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4):
    """Array shapes with min_dims..max_dims axes of min_side..max_side elements each."""
    return hnp.array_shapes(
        min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    )


def _elements(domain: str, bound: float) -> st.SearchStrategy[float]:
    away = st.floats(0.25, bound)
    return {
        "real": st.floats(-bound, bound),
        "positive": away,
        "away_from_kinks": st.one_of(away, away.map(lambda v: -v)),
        "unit_interval": st.floats(0.05, 0.95),
    }[domain]


@st.composite
def _distinct(draw, shape: Shape, dtype: np.dtype, bound: float) -> np.ndarray:
    """Pairwise at least 0.1 apart: a shuffled grid, shifted as a whole."""
    size = int(np.prod(shape))
    order = np.array(draw(st.permutations(range(size))), dtype=np.float64)
    shift = draw(st.floats(-bound / 2, bound / 2))
    return ((order - (size - 1) / 2) * 0.1 + shift).reshape(shape).astype(dtype)


@st.composite
def tensors(
    draw,
    shape: Shape | st.SearchStrategy[Shape] | None = None,
    dtype: np.dtype | type | str = np.float64,
    domain: str = "real",
    *,
    bound: float = 3.0,
    requires_grad: bool = False,
) -> Any:
    """A Tensor of `shape` (a tuple, a strategy of shapes, or None for a small random shape).

    Values by `domain`, all within [-bound, bound]:
      "real"             any value in [-bound, bound] (0.0 and the bounds included)
      "positive"         in [0.25, bound]: log, sqrt, a pow base, a divisor
      "away_from_kinks"  |x| in [0.25, bound]: relu, abs, leaky_relu (kink at 0)
      "unit_interval"    in [0.05, 0.95]: probabilities, away from 0 and 1
      "distinct"         pairwise at least 0.1 apart, no ties: max, min, sort
    The margins are far wider than the finite-difference step, so a numerical gradient
    never straddles a kink or a pole.
    """
    if domain not in VALUE_DOMAINS:
        raise ValueError(f"tensors: domain must be one of {VALUE_DOMAINS}, got {domain!r}")
    if shape is None:
        shape = shapes()
    if isinstance(shape, st.SearchStrategy):
        shape = draw(shape)
    dtype = np.dtype(dtype)
    if domain == "distinct":
        data = draw(_distinct(tuple(shape), dtype, bound))
    else:
        # Drawn in float64 and rounded, so the same bounds serve every dtype.
        data = draw(hnp.arrays(np.float64, shape, elements=_elements(domain, bound)))
        data = data.astype(dtype)
    return Tensor(data, requires_grad=requires_grad)


@st.composite
def broadcastable_shapes(
    draw, n: int, *, min_dims: int = 0, max_dims: int = 3, max_side: int = 4
) -> tuple[Shape, ...]:
    """`n` shapes that broadcast together (numpy rules: size-1 axes stretch, missing leading
    axes are added); np.broadcast_shapes(*result) is the shape of their elementwise result."""
    drawn = draw(
        hnp.mutually_broadcastable_shapes(
            num_shapes=n, min_dims=min_dims, max_dims=max_dims, max_side=max_side
        )
    )
    return tuple(drawn.input_shapes)


@st.composite
def matmul_shapes(draw, *, max_batch_dims: int = 2, max_side: int = 4) -> tuple[Shape, Shape]:
    """Shapes (a, b) valid for `a @ b`, covering numpy's cases: vector @ vector,
    vector @ matrix, matrix @ vector, matrix @ matrix, and stacks of matrices whose batch axes
    broadcast against each other (or against a vector / single matrix on the other side)."""
    side = st.integers(1, max_side)
    n, k, m = draw(side), draw(side), draw(side)
    batch_a, batch_b = draw(broadcastable_shapes(2, max_dims=max_batch_dims, max_side=3))
    left = draw(st.sampled_from(["vector", "matrix", "batched"]))
    right = draw(st.sampled_from(["vector", "matrix", "batched"]))
    a = {"vector": (k,), "matrix": (n, k), "batched": (*batch_a, n, k)}[left]
    b = {"vector": (k,), "matrix": (k, m), "batched": (*batch_b, k, m)}[right]
    return a, b


class ConvParams(NamedTuple):
    """One convolution's configuration; every field is per spatial axis where it is a tuple."""

    batch: int
    in_channels: int
    out_channels: int
    kernel_size: Shape
    stride: Shape
    padding: Shape
    dilation: Shape
    input_size: Shape

    @property
    def dims(self) -> int:
        return len(self.kernel_size)

    @property
    def input_shape(self) -> Shape:
        """(batch, in_channels, *input_size), the layout of nn.Conv1d/Conv2d."""
        return (self.batch, self.in_channels, *self.input_size)

    @property
    def weight_shape(self) -> Shape:
        """(out_channels, in_channels, *kernel_size)."""
        return (self.out_channels, self.in_channels, *self.kernel_size)

    @property
    def output_size(self) -> Shape:
        """floor((n + 2p - d(k-1) - 1) / s) + 1 per spatial axis, always >= 1 here."""
        return tuple(
            (n + 2 * p - d * (k - 1) - 1) // s + 1
            for n, k, s, p, d in zip(
                self.input_size, self.kernel_size, self.stride, self.padding, self.dilation
            )
        )


@st.composite
def conv_params(
    draw,
    dims: int | None = None,
    *,
    max_batch: int = 2,
    max_channels: int = 3,
    max_kernel: int = 3,
    max_stride: int = 2,
    max_padding: int = 1,
    max_dilation: int = 2,
    max_output: int = 3,
) -> ConvParams:
    """A convolution that fits: `dims` spatial axes (1 or 2 if None), channels, kernel, stride,
    dilation, padding (at most max_padding and less than half the dilated kernel, so no window
    lies wholly in the padding), and an input size for which the output has 1..max_output
    positions on every axis."""
    dims = draw(st.integers(1, 2)) if dims is None else dims

    def per_axis(low: int, high: int) -> Shape:
        return tuple(draw(st.integers(low, high)) for _ in range(dims))

    kernel, stride, dilation = (
        per_axis(1, max_kernel),
        per_axis(1, max_stride),
        per_axis(1, max_dilation),
    )
    padding, size = [], []
    for k, s, d in zip(kernel, stride, dilation):
        span = d * (k - 1) + 1
        # Less than half the dilated kernel, so no window lies wholly in the padding
        # (the bound torch's pooling layers enforce too).
        p = draw(st.integers(0, min(max_padding, (span - 1) // 2)))
        padding.append(p)
        # From the smallest input that fits one window to the largest giving max_output.
        size.append(span - 2 * p + draw(st.integers(0, (max_output - 1) * s + s - 1)))
    return ConvParams(
        batch=draw(st.integers(1, max_batch)),
        in_channels=draw(st.integers(1, max_channels)),
        out_channels=draw(st.integers(1, max_channels)),
        kernel_size=kernel,
        stride=stride,
        padding=tuple(padding),
        dilation=dilation,
        input_size=tuple(size),
    )


__all__ = [
    "VALUE_DOMAINS", "ConvParams", "broadcastable_shapes", "conv_params", "matmul_shapes", "shapes",
    "tensors",
]  # fmt: skip
