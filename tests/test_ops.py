"""Every primitive's gradient, checked against finite differences; composites and indexing.

The primitives come from `autograd_lite.REGISTRY`, their input domains from op_domains.py, so a
new op is checked as soon as it has a domain entry (and a meta-test fails until it has one).
"""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from op_domains import DOMAINS, Case, arrays, axes

import autograd_lite as al
from autograd_lite import REGISTRY, Tensor, gradcheck, gradgradcheck, gradients, ops
from autograd_lite.testing.strategies import (
    broadcastable_shapes,
    conv_params,
    matmul_shapes,
    shapes,
    tensors,
)


def _ours(op) -> bool:
    """Primitives of the library itself (a test or a user may register others)."""
    return op.__module__.split(".")[0] in ("autograd_lite", "nn")


def _is_differentiable(value) -> bool:
    return isinstance(value, np.ndarray) and value.dtype.kind == "f"


def _call(name: str, case: Case):
    op = REGISTRY[name]
    return lambda *inputs: op(*inputs, **case.params)


# ---------------------------------------------------------------- the registry is covered
def test_every_registered_primitive_has_a_test_domain():
    missing = sorted(name for name, op in REGISTRY.items() if _ours(op) and name not in DOMAINS)
    assert not missing, f"primitives without a test domain in tests/op_domains.py: {missing}"


def test_every_test_domain_names_a_registered_primitive():
    assert not set(DOMAINS) - set(REGISTRY)


# ---------------------------------------------------------------- every primitive, every order
@pytest.mark.parametrize("name", sorted(DOMAINS))
@given(data=st.data())
def test_primitive_gradient_matches_finite_differences(name, data):
    case = data.draw(DOMAINS[name].cases(np.float64), label="case")
    gradcheck(_call(name, case), case.inputs)


@pytest.mark.parametrize("name", sorted(n for n, d in DOMAINS.items() if d.second_order))
@given(data=st.data())
def test_primitive_second_derivative_matches_finite_differences(name, data):
    case = data.draw(DOMAINS[name].cases(np.float64), label="case")
    gradgradcheck(_call(name, case), case.inputs)


def _forward_backward(name: str, case: Case, dtype, cotangent_seed: int):
    """Output and input gradients of the op at `case` with float inputs cast to `dtype`."""
    inputs = [
        Tensor(x.astype(dtype), requires_grad=True) if _is_differentiable(x) else x
        for x in case.inputs
    ]
    out = REGISTRY[name](*inputs, **case.params)
    cotangent = np.random.default_rng(cotangent_seed).standard_normal(out.shape)
    variables = [x for x in inputs if isinstance(x, Tensor)]
    return out, gradients(out, variables, grad_outputs=cotangent.astype(out.dtype))


@pytest.mark.parametrize("name", sorted(DOMAINS))
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_float32_in_float32_out_and_close_to_float64(name, data, seed):
    case = data.draw(DOMAINS[name].cases(np.float32), label="case")
    out32, grads32 = _forward_backward(name, case, np.float32, seed)
    out64, grads64 = _forward_backward(name, case, np.float64, seed)
    if DOMAINS[name].keeps_dtype:
        assert out32.dtype == np.float32
    np.testing.assert_allclose(out32.data, out64.data, rtol=1e-5, atol=1e-5 * _scale(out64.data))
    for g32, g64 in zip(grads32, grads64):
        assert g32.dtype == np.float32
        np.testing.assert_allclose(g32, g64, rtol=1e-4, atol=1e-4 * _scale(g64))


def _scale(a: np.ndarray) -> float:
    return max(1.0, float(np.abs(a).max(initial=0.0)))


# ---------------------------------------------------------------- hand-computed, for the reader
def test_sigmoid_gradient_at_zero_is_a_quarter():
    x = al.tensor(0.0, requires_grad=True)
    al.sigmoid(x).backward()
    assert x.grad == 0.25  # s(0) * (1 - s(0)) = 1/2 * 1/2


def test_power_rule_and_exponential_rule():
    x, y = al.tensor(3.0, requires_grad=True), al.tensor(3.0, requires_grad=True)
    (x**2 + 2.0**y).backward()
    assert x.grad == pytest.approx(6.0)  # d/dx x² = 2x
    assert y.grad == pytest.approx(8 * np.log(2))  # d/dy 2^y = 2^y ln 2


def test_kinks_take_torch_conventions():
    x = al.tensor([0.0, 0.0, 0.0], requires_grad=True)
    (al.relu(x[0]) + al.abs(x[1]) + al.leaky_relu(x[2], 0.1)).backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 0.1])


def test_tied_extremes_share_the_gradient():
    x = al.tensor([1.0, 3.0, 3.0], requires_grad=True)
    y = al.tensor([2.0, 3.0, 0.0], requires_grad=True)
    (x.max() + al.maximum(x, y).sum()).backward()
    np.testing.assert_array_equal(x.grad, [0.0, 1.0, 1.5])  # max: 1/2 each; maximum: 1/2 at the tie
    np.testing.assert_array_equal(y.grad, [1.0, 0.5, 0.0])


def test_clip_passes_the_gradient_inside_the_bounds_inclusive():
    x = al.tensor([-2.0, -1.0, 0.0, 1.0, 2.0], requires_grad=True)
    x.clip(-1.0, 1.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 1.0, 1.0, 1.0, 0.0])


def test_zeroth_power_has_zero_gradient_at_zero_not_nan():
    x = al.tensor([0.0, 2.0], requires_grad=True)
    (x**0).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0])
    assert al.grad(al.grad(lambda t: t**1))(0.0) == 0.0  # d/dx of 1 * x**0


def test_pow_exponent_gradient_at_zero_base_is_zero_not_nan():
    x = al.tensor([0.0, 2.0])
    y = al.tensor([2.0, 2.0], requires_grad=True)
    (x**y).sum().backward()
    np.testing.assert_allclose(y.grad, [0.0, 4 * np.log(2)])


def test_transpose_gradient_applies_the_inverse_permutation():
    x = al.zeros(2, 3, 4, requires_grad=True)
    weights = np.arange(24.0).reshape(4, 2, 3)
    (x.permute(2, 0, 1) * weights).sum().backward()  # y[k, i, j] = x[i, j, k]
    np.testing.assert_array_equal(x.grad, weights.transpose(1, 2, 0))


def test_sum_to_sums_the_broadcast_axes_and_refuses_other_shapes():
    g = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(ops.sum_to(g, shape=(3, 1)), g.sum(axis=(0, 2))[:, None])
    np.testing.assert_array_equal(ops.sum_to(g, shape=(1, 3, 1)), g.sum(axis=(0, 2), keepdims=True))
    for shape in [(1, 3, 2), (4, 3), (2, 2, 3, 4)]:  # the last two used to slip through
        with pytest.raises(ValueError, match=re.escape(f"cannot sum shape (2, 3, 4) to {shape}")):
            ops.sum_to(g, shape=shape)


# ---------------------------------------------------------------- indexing
def test_repeated_indices_accumulate():
    x = al.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[[0, 0, 2, 0]].sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 0.0, 1.0])


def test_repeated_index_pairs_accumulate_in_2d():
    x = al.zeros(2, 3, requires_grad=True)
    w = np.array([1.0, 10.0, 100.0])
    (x[np.array([0, 0, 1]), np.array([1, 1, 2])] * w).sum().backward()
    np.testing.assert_array_equal(x.grad, [[0.0, 11.0, 0.0], [0.0, 0.0, 100.0]])


def test_tensor_indices_and_masks_select_like_numpy():
    data = np.arange(12.0).reshape(3, 4)
    x = al.tensor(data, requires_grad=True)
    labels = al.tensor([2, 0, 2])
    picked = x[np.arange(3), labels]
    np.testing.assert_array_equal(picked.data, data[np.arange(3), [2, 0, 2]])
    masked = x[x > 5.0]
    np.testing.assert_array_equal(masked.data, data[data > 5.0])
    (picked.sum() + masked.sum()).backward()
    expected = (data > 5.0).astype(float)
    expected[[0, 1, 2], [2, 0, 2]] += 1.0
    np.testing.assert_array_equal(x.grad, expected)


# ---------------------------------------------------------------- composites (no gradient code)
@given(tensors(shape=shapes(min_dims=1)), st.data())
def test_mean_and_var_match_numpy_and_gradcheck(x, data):
    axis = data.draw(axes(x.ndim))
    keepdims, ddof = data.draw(st.booleans()), data.draw(st.integers(0, 1))
    count = x.size if axis is None else int(np.prod([x.shape[a] for a in np.atleast_1d(axis)]))
    np.testing.assert_allclose(
        al.mean(x, axis, keepdims).data, np.mean(x.data, axis, keepdims=keepdims)
    )
    if count > ddof:
        expected = np.var(x.data, axis, ddof=ddof, keepdims=keepdims)
        np.testing.assert_allclose(x.var(axis, ddof, keepdims).data, expected, atol=1e-12)
        gradcheck(lambda t: t.var(axis, ddof, keepdims), [x])
    gradcheck(lambda t: t.mean(axis, keepdims), [x])


@given(tensors(shape=shapes(min_dims=1)), st.data())
def test_softmax_is_a_distribution_and_gradchecks(x, data):
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    p = al.softmax(x, axis)
    np.testing.assert_allclose(p.data.sum(axis), 1.0)
    np.testing.assert_allclose(np.log(p.data), al.log_softmax(x, axis).data, atol=1e-12)
    gradcheck(lambda t: al.softmax(t, axis), [x])


def test_softmax_and_log_softmax_are_finite_at_extremes():
    x = al.tensor([[1000.0, 0.0, -1000.0]], requires_grad=True)
    (al.log_softmax(x) * al.tensor([[1.0, 0.0, 0.0]])).sum().backward()
    np.testing.assert_allclose(al.softmax(x).data, [[1.0, 0.0, 0.0]])
    np.testing.assert_allclose(x.grad, [[0.0, 0.0, 0.0]], atol=1e-300)


@given(st.lists(tensors(shape=(2, 3)), min_size=1, max_size=3), st.integers(-3, 2))
def test_stack_matches_numpy_and_gradchecks(xs, axis):
    np.testing.assert_array_equal(al.stack(xs, axis).data, np.stack([x.data for x in xs], axis))
    gradcheck(lambda *ts: al.stack(ts, axis), xs)


@given(tensors(shape=shapes(min_dims=1, max_dims=4, max_side=3)), st.data())
def test_flatten_matches_torch_semantics(x, data):
    start = data.draw(st.integers(0, x.ndim - 1))
    end = data.draw(st.integers(start, x.ndim - 1))
    expected = (*x.shape[:start], int(np.prod(x.shape[start : end + 1])), *x.shape[end + 1 :])
    assert x.flatten(start, end).shape == expected
    assert al.flatten(x).shape == (x.size,)
    gradcheck(lambda t: t.flatten(start, end), [x])


@given(tensors(shape=shapes(max_side=2)), st.data())
def test_squeeze_and_expand_dims_match_numpy(x, data):
    np.testing.assert_array_equal(x.squeeze().data, np.squeeze(x.data))
    ones = tuple(i for i, n in enumerate(x.shape) if n == 1)
    if ones:
        axis = data.draw(st.sampled_from(ones))
        np.testing.assert_array_equal(x.squeeze(axis).data, np.squeeze(x.data, axis))
    new_axis = data.draw(st.integers(-x.ndim - 1, x.ndim))
    assert x.expand_dims(new_axis).shape == np.expand_dims(x.data, new_axis).shape
    gradcheck(lambda t: al.expand_dims(t, new_axis).squeeze(), [x])


@given(tensors(shape=shapes(min_dims=2)), st.data())
def test_swapaxes_matches_numpy(x, data):
    a, b = (data.draw(st.integers(-x.ndim, x.ndim - 1)) for _ in range(2))
    np.testing.assert_array_equal(ops.swapaxes(x, a, b).data, np.swapaxes(x.data, a, b))
    gradcheck(lambda t: ops.swapaxes(t, a, b), [x])


def test_squeeze_of_a_non_unit_axis_names_the_shape():
    with pytest.raises(ValueError, match=r"squeeze: axis 1 has size 3, not 1 \(shape \(1, 3\)\)"):
        al.zeros(1, 3).squeeze(1)


# ---------------------------------------------------------------- linear ops are adjoint pairs
@given(data=st.data())
def test_unfold_and_fold_are_adjoint(data):
    """<unfold(x), y> = <x, fold(y)>: fold is exactly the transpose of unfold."""
    case = data.draw(DOMAINS["unfold"].cases(np.float64))
    (x,) = case.inputs
    windows = ops.unfold(x, **case.params)
    y = data.draw(arrays(np.float64, "real", windows.shape))
    folded = ops.fold(y, shape=x.shape, **case.params)
    assert np.sum(windows * y) == pytest.approx(np.sum(x * folded))


@pytest.mark.parametrize(
    ("side", "kernel", "stride", "dilation"),
    [(6, 2, 2, 1), (7, 2, 2, 1), (7, 2, 3, 1), (7, 2, 3, 2), (6, 3, 1, 1), (9, 2, 1, 2)],
    ids=["tiled", "tiled-but-one", "gaps", "dilated-gaps", "overlapping", "dilated-overlap"],
)
def test_fold_adds_every_window_back_whether_windows_tile_skip_or_overlap(
    side, kernel, stride, dilation
):
    params = {"kernel_size": (kernel,), "stride": (stride,), "dilation": (dilation,)}
    n_out = (side - dilation * (kernel - 1) - 1) // stride + 1
    y = np.arange(2.0 * n_out * kernel).reshape(2, n_out, kernel) + 1
    expected = np.zeros((2, side))
    for o in range(n_out):  # window by window, the definition
        for k in range(kernel):
            expected[:, o * stride + k * dilation] += y[:, o, k]
    np.testing.assert_array_equal(ops.fold(y, shape=(2, side), **params), expected)


def test_unfold_gradient_is_laid_out_as_its_input():
    # A conv output is a (C, N, H, W) array seen as (N, C, H, W); pooling's gradient must come
    # back in that layout, or the reshape to the conv's matmul copies it.
    w = al.tensor(np.ones(1), requires_grad=True)
    x = al.tensor(np.arange(96.0).reshape(3, 2, 4, 4)).transpose(1, 0, 2, 3) * w
    seen = []
    x.register_hook(seen.append)
    ops.unfold(x, kernel_size=(2, 2), stride=(2, 2), dilation=(1, 1)).sum().backward()
    assert seen[0].strides == x.data.strides
    np.testing.assert_array_equal(seen[0], np.ones(x.shape))


@given(data=st.data())
def test_getitem_and_scatter_add_are_adjoint(data):
    case = data.draw(DOMAINS["scatter_add"].cases(np.float64))
    (y,) = case.inputs
    x = data.draw(arrays(np.float64, "real", case.params["shape"]))
    picked = ops.getitem(x, index=case.params["index"])
    assert np.sum(picked * y) == pytest.approx(np.sum(x * ops.scatter_add(y, **case.params)))


@given(data=st.data())
def test_nll_loss_and_its_backward_are_adjoint(data):
    case = data.draw(DOMAINS["nll_loss_backward"].cases(np.float64))
    (g,) = case.inputs
    assume(case.params["target"].size or case.params["reduction"] != "mean")  # NaN: no adjoint
    x = data.draw(arrays(np.float64, "real", case.params["shape"]))
    picked = ops.nll_loss(x, target=case.params["target"], reduction=case.params["reduction"])
    assert np.sum(picked * g) == pytest.approx(np.sum(x * ops.nll_loss_backward(g, **case.params)))


# ---------------------------------------------------------------- the strategies keep promises
@pytest.mark.parametrize(
    "domain, inside",
    [
        ("real", lambda x: np.abs(x) <= 2.0),
        ("positive", lambda x: (x >= 0.25) & (x <= 2.0)),
        ("away_from_kinks", lambda x: (np.abs(x) >= 0.25) & (np.abs(x) <= 2.0)),
        ("unit_interval", lambda x: (x >= 0.05 - 1e-7) & (x <= 0.95 + 1e-7)),  # float32 rounding
    ],
)
@given(dtype=st.sampled_from([np.float32, np.float64]), data=st.data())
def test_tensors_stay_in_their_domain(domain, inside, dtype, data):
    x = data.draw(tensors(domain=domain, dtype=dtype, bound=2.0))
    assert x.dtype == dtype
    assert np.all(inside(x.data))


@given(tensors(domain="distinct"))
def test_distinct_values_are_at_least_a_tenth_apart(x):
    values = np.sort(x.data.ravel())
    assert np.all(np.diff(values) > 0.099)


@given(st.integers(1, 4).flatmap(lambda n: st.tuples(st.just(n), broadcastable_shapes(n))))
def test_broadcastable_shapes_broadcast(n_and_shapes):
    n, drawn = n_and_shapes
    assert len(drawn) == n
    np.broadcast_shapes(*drawn)


@given(matmul_shapes())
def test_matmul_shapes_are_valid_for_numpy(pair):
    a, b = pair
    np.matmul(np.ones(a), np.ones(b))


@given(conv_params())
def test_conv_params_fit(p):
    padded = np.pad(np.ones(p.input_shape), [(0, 0), (0, 0), *((q, q) for q in p.padding)])
    windows = al.unfold(padded, p.kernel_size, p.stride, p.dilation)
    assert windows.shape == (*p.input_shape[:2], *p.output_size, *p.kernel_size)
    assert all(1 <= n <= 3 for n in p.output_size)
    assert all(2 * q < d * (k - 1) + 1 for q, k, d in zip(p.padding, p.kernel_size, p.dilation))


def test_the_testing_kit_needs_hypothesis_only_for_strategies():
    code = (
        "import sys, autograd_lite.testing as kit; assert 'hypothesis' not in sys.modules; "
        "kit.tensors; assert 'hypothesis' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parent.parent)


def test_transpose_takes_a_lone_int_as_a_1d_arrays_axes_as_numpy_does():
    x = al.tensor([0.0, 1.0, 2.0], requires_grad=True)
    y = al.ops.transpose(x, axes=0)  # np.ones(3).transpose(0) is allowed
    (y * al.tensor([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 2.0, 3.0])
