"""Conv1d/Conv2d and pooling: forward against naive loops, gradients against finite
differences on hypothesis-drawn shapes, strides, paddings and dilations; clear errors."""

import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import autograd_lite as al
import nn
import nn.functional as F


def naive_conv(x, w, b, stride, padding, dilation):
    """Cross-correlation by explicit loops over every output element (the definition)."""
    d = w.ndim - 2
    x = np.pad(x, [(0, 0), (0, 0), *padding])
    kernel = w.shape[2:]
    out_size = [
        (n - dil * (k - 1) - 1) // s + 1
        for n, k, s, dil in zip(x.shape[2:], kernel, stride, dilation)
    ]
    y = np.zeros((x.shape[0], w.shape[0], *out_size))
    for n, o in itertools.product(range(x.shape[0]), range(w.shape[0])):
        for pos in itertools.product(*(range(m) for m in out_size)):
            total = 0.0 if b is None else b[o]
            for c in range(x.shape[1]):
                for k in itertools.product(*(range(m) for m in kernel)):
                    src = tuple(p * s + ki * dil for p, s, ki, dil in zip(pos, stride, k, dilation))
                    total += w[(o, c, *k)] * x[(n, c, *src)]
            y[(n, o, *pos)] = total
    assert len(pos) == d
    return y


def naive_pool(x, kernel, stride, padding, dilation, reduce):
    fill = -np.inf if reduce == "max" else 0.0
    d = len(kernel)
    x = np.pad(x, [(0, 0)] * (x.ndim - d) + [(p, p) for p in padding], constant_values=fill)
    out_size = [
        (n - dil * (k - 1) - 1) // s + 1
        for n, k, s, dil in zip(x.shape[-d:], kernel, stride, dilation)
    ]
    y = np.zeros((*x.shape[:-d], *out_size))
    for pos in itertools.product(*(range(m) for m in out_size)):
        window = [
            x[(..., *(p * s + ki * dil for p, s, ki, dil in zip(pos, stride, k, dilation)))]
            for k in itertools.product(*(range(m) for m in kernel))
        ]
        y[(..., *pos)] = np.max(window, 0) if reduce == "max" else np.mean(window, 0)
    return y


@st.composite
def conv_cases(draw):
    d = draw(st.sampled_from([1, 2]))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(d))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(d))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(d))
    padding = tuple(draw(st.integers(0, 2)) for _ in range(d))
    spatial = tuple(
        max(1, dil * (k - 1) + 1 - 2 * p + draw(st.integers(0, 3)))
        for k, dil, p in zip(kernel, dilation, padding)
    )
    n, c_in, c_out = draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 3))
    bias = draw(st.booleans())
    seed = draw(st.integers(0, 2**16))
    return d, kernel, stride, dilation, padding, spatial, n, c_in, c_out, bias, seed


@given(conv_cases())
def test_conv_forward_matches_naive_loops_and_gradcheck(case):
    d, kernel, stride, dilation, padding, spatial, n, c_in, c_out, bias, seed = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c_in, *spatial))
    w = rng.standard_normal((c_out, c_in, *kernel))
    b = rng.standard_normal(c_out) if bias else None
    conv = F.conv1d if d == 1 else F.conv2d
    out = conv(x, al.tensor(w), b, stride, padding, dilation)
    expected = naive_conv(x, w, b, stride, [(p, p) for p in padding], dilation)
    np.testing.assert_allclose(out.data, expected, rtol=1e-10, atol=1e-12)
    if bias:
        al.gradcheck(lambda x, w, b: conv(x, w, b, stride, padding, dilation), [x, w, b])
    else:
        al.gradcheck(lambda x, w: conv(x, w, None, stride, padding, dilation), [x, w])


def test_conv2d_layer_layout_and_output_shape_follow_torch():
    conv = nn.Conv2d(3, 8, (3, 5), stride=(2, 1), padding=(1, 2), dilation=(1, 2), rng=0)
    assert conv.weight.shape == (8, 3, 3, 5) and conv.bias.shape == (8,)
    out = conv(np.zeros((4, 3, 11, 12)))
    # H: (11 + 2 - 2 - 1)//2 + 1 = 6;  W: (12 + 4 - 8 - 1)//1 + 1 = 8
    assert out.shape == (4, 8, 6, 8)
    assert repr(conv) == (
        "Conv2d(3, 8, kernel_size=(3, 5), stride=(2, 1), padding=(1, 2), dilation=(1, 2))"
    )
    assert repr(nn.Conv1d(1, 2, 3, bias=False)) == (
        "Conv1d(1, 2, kernel_size=(3,), stride=(1,), bias=False)"
    )


@pytest.mark.parametrize(("kernel", "dilation"), [(3, 1), (4, 1), (2, 3), ((3, 2), (1, 2))])
def test_conv_same_padding_keeps_the_size_and_valid_pads_nothing(kernel, dilation):
    x = np.random.default_rng(0).standard_normal((2, 2, 7, 6))
    conv = nn.Conv2d(2, 3, kernel, padding="same", dilation=dilation, rng=0)
    out = conv(x)
    assert out.shape == (2, 3, 7, 6)
    ks = (kernel, kernel) if isinstance(kernel, int) else kernel
    ds = (dilation, dilation) if isinstance(dilation, int) else dilation
    totals = [dil * (k - 1) for k, dil in zip(ks, ds)]
    pads = [(t // 2, t - t // 2) for t in totals]  # torch puts the odd element after
    expected = naive_conv(x, conv.weight.data, conv.bias.data, (1, 1), pads, ds)
    np.testing.assert_allclose(out.data, expected, rtol=1e-10, atol=1e-12)
    valid = nn.Conv2d(2, 3, 3, padding="valid", rng=0)
    assert valid(x).shape == (2, 3, 5, 4)


def test_conv_default_init_bound_is_one_over_sqrt_fan_in():
    conv = nn.Conv2d(4, 16, 3, rng=0)
    bound = 1 / math.sqrt(4 * 9)
    assert np.abs(conv.weight.data).max() <= bound < 1.06 * np.abs(conv.weight.data).max()
    assert np.abs(conv.bias.data).max() <= bound
    np.testing.assert_array_equal(conv.weight.data, nn.Conv2d(4, 16, 3, rng=0).weight.data)


def test_conv_float32_stays_float32():
    conv = nn.Conv1d(2, 3, 3, padding=1, rng=0, dtype=np.float32)
    out = conv(np.ones((2, 2, 5), np.float32))
    out.sum().backward()
    assert out.dtype == np.float32 and conv.weight.grad.dtype == np.float32


def test_conv_input_errors_name_the_layer_and_shapes():
    conv = nn.Conv2d(1, 8, 3)
    with pytest.raises(ValueError) as info:
        conv(np.zeros((1, 28, 28)))
    line = info.traceback[0].lineno + 1  # the user's line, where conv(...) was called
    assert str(info.value) == (
        "Conv2d(1, 8, kernel_size=(3, 3), stride=(1, 1)): expected a 4-D input "
        "(N, C, H, W), got shape (1, 28, 28); add a batch axis for a single example: x[None] "
        f"(test_nn_conv.py:{line})"
    )
    with pytest.raises(ValueError, match=r"input of shape \(2, 3, 8, 8\) has 3 channels"):
        conv(np.zeros((2, 3, 8, 8)))
    with pytest.raises(ValueError, match=r"spatial size \(2, 5\) is smaller than the kernel"):
        conv(np.zeros((2, 1, 2, 5)))
    with pytest.raises(ValueError, match=r"expected a 3-D input \(N, C, L\)"):
        nn.Conv1d(1, 1, 2)(np.zeros((5, 1, 3, 3)))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(kernel_size=0), r"kernel_size must be an int or 2 ints, all positive"),
        (dict(kernel_size=(3, 3, 3)), r"kernel_size must be an int or 2 ints"),
        (dict(kernel_size=3, stride=0), r"stride must be an int or 2 ints, all positive"),
        (dict(kernel_size=3, padding=-1), r"padding must be an int or 2 ints, all integers >= 0"),
        (dict(kernel_size=3, dilation=(1, 0)), r"dilation must be"),
        (dict(kernel_size=3, padding="full"), r"padding must be an int, 2 ints, 'valid' or"),
        (dict(kernel_size=3, stride=2, padding="same"), r"padding='same' needs stride 1"),
    ],
)
def test_conv_rejects_bad_hyperparameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        nn.Conv2d(1, 2, **kwargs)


def test_conv_functional_checks_the_weight():
    with pytest.raises(ValueError, match=r"conv2d: weight must be 4-D"):
        F.conv2d(np.zeros((1, 1, 4, 4)), al.tensor(np.zeros((1, 3, 3))))


# ---------------------------------------------------------------- pooling
@st.composite
def pool_cases(draw):
    d = draw(st.sampled_from([1, 2]))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(d))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(d))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(d))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    spatial = tuple(
        max(1, dil * (k - 1) + 1 - 2 * p + draw(st.integers(0, 3)))
        for k, dil, p in zip(kernel, dilation, padding)
    )
    batch = draw(st.sampled_from([(1, 2), (2,), (2, 1)]))
    return d, kernel, stride, dilation, padding, (*batch, *spatial), draw(st.integers(0, 2**16))


@given(pool_cases(), st.sampled_from(["max", "mean"]))
def test_pool_forward_matches_naive_loops_and_gradcheck(case, reduce):
    d, kernel, stride, dilation, padding, shape, seed = case
    # Distinct values: the max is unique in every window, so the gradient is defined.
    x = np.random.default_rng(seed).permutation(np.prod(shape)).reshape(shape) / 7.0
    if reduce == "mean":
        dilation = (1,) * d  # average pooling has no dilation, as in torch

    def f(x):
        if reduce == "max":
            return (F.max_pool1d, F.max_pool2d)[d - 1](x, kernel, stride, padding, dilation)
        return (F.avg_pool1d, F.avg_pool2d)[d - 1](x, kernel, stride, padding)

    expected = naive_pool(x, kernel, stride, padding, dilation, reduce)
    np.testing.assert_allclose(f(al.tensor(x)).data, expected, rtol=1e-12)
    al.gradcheck(f, [x])


def test_max_pool_layer_shapes_defaults_and_ties():
    pool = nn.MaxPool2d(2)
    assert (pool.kernel_size, pool.stride) == ((2, 2), (2, 2))
    x = al.tensor(np.arange(2 * 3 * 6 * 7.0).reshape(2, 3, 6, 7), requires_grad=True)
    out = pool(x)
    assert out.shape == (2, 3, 3, 3)
    np.testing.assert_array_equal(out.data, x.data[:, :, 1:6:2, 1:6:2])
    tie = al.tensor(np.ones((1, 1, 2, 2)), requires_grad=True)
    nn.MaxPool2d(2)(tie).sum().backward()
    # The first of tied maxima (in window order) takes the whole gradient, as in torch.
    np.testing.assert_array_equal(tie.grad, [[[[1.0, 0.0], [0.0, 0.0]]]])
    assert (
        repr(pool)
        == "MaxPool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0), dilation=(1, 1))"
    )
    assert repr(nn.AvgPool1d(3, 1)) == "AvgPool1d(kernel_size=(3,), stride=(1,), padding=(0,))"


def test_max_pool_gradient_goes_to_the_first_maximum_of_each_window_and_adds_up():
    # Overlapping windows (stride 1) of 0 0 1 1 0: windows [0 0], [0 1], [1 1], [1 0]
    # send their gradients to positions 0, 2, 2 and 3 (the first 1 wins the tie).
    x = al.tensor([[[0.0, 0.0, 1.0, 1.0, 0.0]]], requires_grad=True)
    F.max_pool1d(x, 2, stride=1).backward(np.array([[[1.0, 10.0, 100.0, 1000.0]]]))
    np.testing.assert_array_equal(x.grad, [[[1.0, 0.0, 110.0, 1000.0, 0.0]]])


def test_max_pool_keeps_the_input_layout_and_float32():
    # A convolution's output is a (C, N, H, W) array seen as (N, C, H, W): the pooling
    # gradient comes back in that layout, so nothing on the way back copies it.
    w = al.tensor(np.ones(1, np.float32), requires_grad=True)
    x = al.tensor(np.arange(96, dtype=np.float32).reshape(3, 2, 4, 4)).transpose(1, 0, 2, 3) * w
    seen = []
    x.register_hook(seen.append)
    out = F.max_pool2d(x, 2)
    assert out.dtype == np.float32
    out.sum().backward()
    assert seen[0].dtype == np.float32
    assert seen[0].strides == x.data.strides
    np.testing.assert_array_equal(seen[0], np.tile([[0.0, 0.0], [0.0, 1.0]], (2, 3, 2, 2)))


@given(pool_cases())
def test_max_pool_second_derivative(case):
    d, kernel, stride, dilation, padding, shape, seed = case
    x = np.random.default_rng(seed).permutation(np.prod(shape)).reshape(shape) / 7.0
    pool = (F.max_pool1d, F.max_pool2d)[d - 1]

    def f(t):
        y = pool(t, kernel, stride, padding, dilation)
        # A dilated window can hold padding only (its maximum is -inf): square the others.
        return al.where(np.isfinite(y.data), y, 0.0) ** 2

    al.gradgradcheck(f, [x])


def test_pool_float32_and_errors():
    x = np.ones((2, 3, 4), np.float32)
    assert nn.AvgPool1d(2)(al.tensor(x)).dtype == np.float32
    assert nn.MaxPool1d(2, padding=1)(al.tensor(x)).dtype == np.float32
    with pytest.raises(ValueError, match=r"MaxPool2d\(kernel_size=\(2, 2\).*expected a 4-D input"):
        nn.MaxPool2d(2)(np.zeros(5))
    with pytest.raises(ValueError, match=r"padding .* must be at most half of kernel_size"):
        nn.MaxPool2d(2, padding=2)
    with pytest.raises(ValueError, match="kernel_size must be an int or 1 ints, all positive"):
        F.max_pool1d(x, 0)
    with pytest.raises(ValueError, match="is smaller than the kernel's span"):
        nn.AvgPool2d(3)(np.zeros((1, 1, 2, 5)))


def test_small_cnn_trains_on_a_toy_problem():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 1, 6, 6))
    y = (x[:, 0, :3].sum((1, 2)) > x[:, 0, 3:].sum((1, 2))).astype(np.int64)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1, rng=0),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(36, 2, rng=1),
    )
    optimizer = nn.optim.Adam(model.parameters(), lr=0.02)
    loss_fn = nn.CrossEntropyLoss()
    first = None
    for _ in range(60):
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        first = first if first is not None else loss.item()
    assert loss.item() < 0.2 * first
