"""Where each primitive in `autograd_lite.REGISTRY` is tested: how to draw valid inputs for it.

One entry per primitive (a meta-test in test_ops.py fails when one is missing). An entry draws a
`Case`: the positional inputs (float arrays are differentiated; bool masks, integer exponents
and the like are constants) and the keyword parameters. Values stay inside the op's domain and
well away from its kinks and poles, so finite differences are meaningful there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from autograd_lite import ops
from autograd_lite.testing.strategies import (
    broadcastable_shapes,
    matmul_shapes,
    shapes,
    tensors,
)


class Case(NamedTuple):
    inputs: tuple
    params: dict


@dataclass(frozen=True)
class Domain:
    """`cases(dtype)` draws Cases; `second_order`: the VJP itself is differentiable, so
    gradgradcheck applies; `keeps_dtype`: the output has the input's dtype."""

    cases: Callable[[np.dtype], st.SearchStrategy[Case]]
    second_order: bool = True
    keeps_dtype: bool = True


def arrays(dtype: np.dtype, domain: str = "real", shape: Any = None) -> st.SearchStrategy:
    return tensors(shape=shape, dtype=dtype, domain=domain).map(np.asarray)


def _grid(dtype: np.dtype, shape: tuple, offset: float) -> st.SearchStrategy:
    """Multiples of 0.2 plus `offset`: two grids with offsets 0 and 0.1 never come within 0.1."""
    elements = st.integers(-15, 15).map(lambda k: 0.2 * k + offset)
    return hnp.arrays(np.float64, shape, elements=elements).map(lambda a: a.astype(dtype))


@st.composite
def axes(draw, ndim: int) -> Any:
    """An `axis` argument: None, one axis (negative ones too), or a tuple of distinct axes."""
    if ndim == 0:
        return draw(st.sampled_from([None, ()]))
    single = st.integers(-ndim, ndim - 1)
    several = st.lists(st.integers(0, ndim - 1), unique=True, max_size=ndim).map(tuple)
    return draw(st.one_of(st.none(), single, several))


# ---------------------------------------------------------------- families
def unary(domain: str = "real", **params: st.SearchStrategy) -> Callable:
    @st.composite
    def cases(draw, dtype):
        x = draw(arrays(dtype, domain))
        return Case((x,), {name: draw(value) for name, value in params.items()})

    return cases


def binary(x_domain: str = "real", y_domain: str = "real") -> Callable:
    @st.composite
    def cases(draw, dtype):
        x_shape, y_shape = draw(broadcastable_shapes(2))
        return Case(
            (draw(arrays(dtype, x_domain, x_shape)), draw(arrays(dtype, y_domain, y_shape))), {}
        )

    return cases


@st.composite
def _extremum_pair(draw, dtype):
    """maximum/minimum: x and y on interleaved grids, so no pair ties (where the gradient
    switches sides)."""
    x_shape, y_shape = draw(broadcastable_shapes(2))
    x, y = draw(_grid(dtype, x_shape, 0.0)), draw(_grid(dtype, y_shape, 0.1))
    return Case((x, y) if draw(st.booleans()) else (y, x), {})


@st.composite
def _pow(draw, dtype):
    """A positive base with a tensor exponent, or any base with a constant integer power
    (a Python int: the engine's x**2 fast path and the x**(n-1) rule)."""
    if draw(st.booleans()):
        x_shape, y_shape = draw(broadcastable_shapes(2))
        return Case(
            (draw(arrays(dtype, "positive", x_shape)), draw(arrays(dtype, "real", y_shape))), {}
        )
    return Case((draw(arrays(dtype)), draw(st.integers(0, 3))), {})


@st.composite
def _where(draw, dtype):
    c_shape, x_shape, y_shape = draw(broadcastable_shapes(3))
    condition = draw(hnp.arrays(np.bool_, c_shape))
    return Case(
        (condition, draw(arrays(dtype, "real", x_shape)), draw(arrays(dtype, "real", y_shape))), {}
    )


@st.composite
def _clip(draw, dtype):
    """Bounds on a 0.5 grid; inputs within 0.1 of a bound are moved 0.2 past it, so none sits on
    a kink (bounds are at least 0.5 apart, so the move never reaches the other one)."""
    low = draw(st.sampled_from([None, -1.0, -0.5, 0.0]))
    high = draw(st.sampled_from([0.5, 1.0] if low is None else [None, 0.5, 1.0]))
    x = draw(arrays(np.float64)).copy()
    for bound in (low, high):
        if bound is not None:
            x[np.abs(x - bound) < 0.1] += 0.2
    return Case((x.astype(dtype),), {"min": low, "max": high})


def reduction(domain: str) -> Callable:
    @st.composite
    def cases(draw, dtype):
        x = draw(arrays(dtype, domain))
        return Case((x,), {"axis": draw(axes(x.ndim)), "keepdims": draw(st.booleans())})

    return cases


@st.composite
def _log_softmax(draw, dtype):
    x = draw(arrays(dtype, "real", shapes(min_dims=1)))
    return Case((x,), {"axis": draw(st.integers(-x.ndim, x.ndim - 1))})


@st.composite
def _matmul(draw, dtype):
    a, b = draw(matmul_shapes())
    return Case((draw(arrays(dtype, "real", a)), draw(arrays(dtype, "real", b))), {})


@st.composite
def _linear(draw, dtype):
    batch = draw(st.lists(st.integers(1, 3), max_size=2).map(tuple))
    n_in, n_out = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    x = draw(arrays(dtype, "real", (*batch, n_in)))
    w = draw(arrays(dtype, "real", (n_out, n_in)))
    b = draw(st.none() | arrays(dtype, "real", (n_out,)))
    return Case((x, w, b), {})


@st.composite
def _reshape(draw, dtype):
    x = draw(arrays(dtype))
    shape = draw(
        st.sampled_from(
            [(x.size,), (-1,), x.shape[::-1], (1, *x.shape), (*x.shape, 1), (x.size, 1)]
        )
    )
    return Case((x,), {"shape": shape})


@st.composite
def _transpose(draw, dtype):
    """Mostly 3-D and 4-D with explicit axes: only there can a permutation differ from its
    inverse (a 3-cycle), which is what a wrong VJP would get backwards."""
    x = draw(arrays(dtype, "real", shapes(min_dims=1, max_dims=4, max_side=3)))
    permutation = draw(st.permutations(range(x.ndim)))
    signs = draw(st.lists(st.booleans(), min_size=x.ndim, max_size=x.ndim))
    axes = tuple(a - x.ndim if negative else a for a, negative in zip(permutation, signs))
    return Case((x,), {"axes": draw(st.sampled_from([axes, axes, axes, None]))})


@st.composite
def _broadcast_to(draw, dtype):
    x_shape, other = draw(broadcastable_shapes(2))
    return Case(
        (draw(arrays(dtype, "real", x_shape)),), {"shape": np.broadcast_shapes(x_shape, other)}
    )


@st.composite
def _sum_to(draw, dtype):
    target, other = draw(broadcastable_shapes(2))
    x = draw(arrays(dtype, "real", np.broadcast_shapes(target, other)))
    return Case((x,), {"shape": target})


@st.composite
def indices(draw, shape: tuple) -> Any:
    """A numpy index into an array of `shape` selecting at least one element: basic (ints,
    slices, None, Ellipsis), integer arrays (repeats allowed and forced in one kind, so
    gradients must accumulate), a boolean mask, or a slice mixed with an integer array."""

    def selects(index: Any) -> bool:
        return np.empty(shape)[index].size > 0

    kinds = ["basic"]
    if shape:
        kinds += ["integer arrays", "repeated", "mask"]
    if len(shape) >= 2:
        kinds.append("mixed")
    kind = draw(st.sampled_from(kinds))
    if kind == "basic":
        return draw(hnp.basic_indices(shape, allow_newaxis=True).filter(selects))
    if kind == "integer arrays":
        return draw(hnp.integer_array_indices(shape, result_shape=shapes(min_dims=1, max_dims=2)))
    rows = st.integers(-shape[0], shape[0] - 1)
    if kind == "repeated":
        picked = draw(st.lists(rows, min_size=1, max_size=4))
        return np.array([*picked, picked[0]])
    if kind == "mask":
        return draw(hnp.arrays(np.bool_, shape).filter(np.any))
    return (
        slice(None),
        np.array(draw(st.lists(st.integers(0, shape[1] - 1), min_size=1, max_size=4))),
    )


@st.composite
def _getitem(draw, dtype):
    x = draw(arrays(dtype))
    return Case((x,), {"index": draw(indices(x.shape))})


@st.composite
def _scatter_add(draw, dtype):
    shape = draw(shapes())
    index = draw(indices(shape))
    x = draw(arrays(dtype, "real", np.empty(shape)[index].shape))
    return Case((x,), {"shape": shape, "index": index})


@st.composite
def _concatenate(draw, dtype):
    shape = draw(shapes(min_dims=1))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    xs = []
    for _ in range(draw(st.integers(1, 3))):
        part = list(shape)
        part[axis] = draw(st.integers(1, 3))
        xs.append(draw(arrays(dtype, "real", tuple(part))))
    return Case(tuple(xs), {"axis": axis})


@st.composite
def _pad(draw, dtype):
    x = draw(arrays(dtype, "real", shapes(min_dims=1)))
    width = st.integers(0, 2)
    pair = st.tuples(width, width)
    pad_width = draw(
        st.one_of(width, pair, st.lists(pair, min_size=x.ndim, max_size=x.ndim).map(tuple))
    )
    return Case((x,), {"pad_width": pad_width, "value": draw(st.floats(-1, 1))})


@st.composite
def windows(draw) -> tuple[tuple[int, ...], tuple[int, ...], dict]:
    """(spatial shape, output positions, unfold parameters) for 1 or 2 window axes."""
    spatial, out, params = [], [], {"kernel_size": [], "stride": [], "dilation": []}
    for _ in range(draw(st.integers(1, 2))):
        k, s, d, n = (draw(st.integers(1, high)) for high in (3, 2, 2, 3))
        spatial.append(d * (k - 1) + 1 + (n - 1) * s + draw(st.integers(0, s - 1)))
        out.append(n)
        for name, value in zip(params, (k, s, d)):
            params[name].append(value)
    return tuple(spatial), tuple(out), {name: tuple(v) for name, v in params.items()}


def windowed(domain: str) -> Callable:
    """An op over the windows of an input drawn from `domain` (max_pool: distinct values, so
    every window has one maximum, which small steps do not change)."""

    @st.composite
    def cases(draw, dtype):
        lead = draw(shapes(max_dims=2, max_side=2))
        spatial, _, params = draw(windows())
        return Case((draw(arrays(dtype, domain, lead + spatial)),), params)

    return cases


@st.composite
def _fold(draw, dtype):
    lead = draw(shapes(max_dims=2, max_side=2))
    spatial, out, params = draw(windows())
    x = draw(arrays(dtype, "real", lead + out + params["kernel_size"]))
    shape = lead + spatial
    order = draw(st.none() | st.permutations(range(len(shape))).map(tuple))
    return Case((x,), {"shape": shape, **params, "order": order})


@st.composite
def _max_unpool(draw, dtype):
    """The gradient of a max_pool: x (ties in most windows: the first wins) and its pooled y
    are constants."""
    lead = draw(shapes(max_dims=2, max_side=2))
    spatial, out, params = draw(windows())
    small_integers = st.integers(-2, 2).map(float)  # ties in most windows
    x = draw(hnp.arrays(np.float64, lead + spatial, elements=small_integers)).astype(dtype)
    y = ops.max_pool(x, **params)
    return Case((draw(arrays(dtype, "real", lead + out)),), {"x": x, "y": y, **params})


@st.composite
def _class_targets(draw, dtype):
    """Log-probabilities of any real values (N, C), (C,) or (N, C, d), integer class targets
    of the shape without the class axis, and a reduction."""
    shape = draw(st.sampled_from([(4, 3), (3,), (2, 3, 2), (1, 1), (2, 1)]))
    axis = 1 if len(shape) >= 2 else 0
    rest = shape[:axis] + shape[axis + 1 :]
    target = draw(hnp.arrays(np.int64, rest, elements=st.integers(0, shape[axis] - 1)))
    reduction = draw(st.sampled_from(["mean", "sum", "none"]))
    return shape, target, reduction


@st.composite
def _nll_loss(draw, dtype):
    shape, target, reduction = draw(_class_targets(dtype))
    return Case((draw(arrays(dtype, "real", shape)),), {"target": target, "reduction": reduction})


@st.composite
def _nll_loss_backward(draw, dtype):
    shape, target, reduction = draw(_class_targets(dtype))
    g = draw(arrays(dtype, "real", target.shape if reduction == "none" else ()))
    return Case((g,), {"target": target, "shape": shape, "reduction": reduction})


@st.composite
def _astype(draw, dtype):
    """Up to float64 from either precision (a float32 target would spoil finite differences)."""
    return Case((draw(arrays(dtype)),), {"dtype": np.dtype(np.float64)})


# ---------------------------------------------------------------- the table
DOMAINS: dict[str, Domain] = {
    # elementwise
    "add": Domain(binary()),
    "sub": Domain(binary()),
    "mul": Domain(binary()),
    "div": Domain(binary("real", "away_from_kinks")),
    "neg": Domain(unary()),
    "pow": Domain(_pow),
    "exp": Domain(unary()),
    "log": Domain(unary("positive")),
    "sqrt": Domain(unary("positive")),
    "sign": Domain(unary("away_from_kinks")),
    "abs": Domain(unary("away_from_kinks")),
    "sin": Domain(unary()),
    "cos": Domain(unary()),
    "tanh": Domain(unary()),
    "sigmoid": Domain(unary()),
    "relu": Domain(unary("away_from_kinks")),
    "leaky_relu": Domain(unary("away_from_kinks", negative_slope=st.floats(0.0, 0.5))),
    "softplus": Domain(unary()),
    "maximum": Domain(_extremum_pair),
    "minimum": Domain(_extremum_pair),
    "where": Domain(_where),
    "clip": Domain(_clip),
    "astype": Domain(_astype, keeps_dtype=False),
    # reductions
    "sum": Domain(reduction("real")),
    "max": Domain(reduction("distinct")),
    "min": Domain(reduction("distinct")),
    "logsumexp": Domain(reduction("real")),
    "log_softmax": Domain(_log_softmax),
    "nll_loss": Domain(_nll_loss),
    "nll_loss_backward": Domain(_nll_loss_backward),
    # linear algebra
    "matmul": Domain(_matmul),
    "linear": Domain(_linear),
    # shape and indexing
    "reshape": Domain(_reshape),
    "transpose": Domain(_transpose),
    "broadcast_to": Domain(_broadcast_to),
    "sum_to": Domain(_sum_to),
    "getitem": Domain(_getitem),
    "scatter_add": Domain(_scatter_add),
    "concatenate": Domain(_concatenate),
    "pad": Domain(_pad),
    # windows
    "unfold": Domain(windowed("real")),
    "fold": Domain(_fold),
    "max_pool": Domain(windowed("distinct")),
    "max_unpool": Domain(_max_unpool),
}
