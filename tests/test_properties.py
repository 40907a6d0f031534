"""Properties of the tape's gradients, over hypothesis-drawn networks and inputs:
tape = the lab's closed-form equations, algebraic laws, stability at the extremes, dtypes."""

import itertools

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import autograd_lite as al
import nn
from autograd_lite import Tensor, engine, gradients, ops
from autograd_lite.engine import primitive
from autograd_lite.testing import closed_form as cf
from autograd_lite.testing.assertions import (
    assert_gradients_match,
    numeric_gradient,
    tape_gradient,
)
from autograd_lite.testing.strategies import (
    broadcastable_shapes,
    conv_params,
    matmul_shapes,
    shapes,
    tensors,
)
from nn import functional as F


def assert_equal_to(actual, expected, tol: float = 1e-10) -> None:
    """Equal to `tol` relative to the largest expected element: rounding differences grow with
    a gradient's scale, not with each element's own size."""
    assert actual.shape == np.shape(expected)
    scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=tol * scale)


# ---------------------------------------------------------------- tape = the report's equations
# For each loss: the model's output activation, the tape's loss on m rows (scaled as the report
# scales it), and the closed form's output activation and loss. For "mse" the output activation
# is drawn, the same for both.
HEADS = {
    "mse": (None, lambda out, y, m: F.mse_loss(out, y, reduction="sum") / (2 * m), None, "mse"),
    "bce": (
        "sigmoid",
        lambda out, y, m: F.binary_cross_entropy(out, y, reduction="sum") / m,
        "sigmoid",
        "bce",
    ),
    "bce_with_logits": (
        None,
        lambda out, y, m: F.binary_cross_entropy_with_logits(out, y, reduction="sum") / m,
        "sigmoid",
        "bce",
    ),
    "cross_entropy": (
        None,
        lambda out, y, m: F.cross_entropy(out, y, reduction="sum") / m,
        "softmax",
        "cross_entropy",
    ),
}
HIDDEN = sorted(cf.ACTIVATIONS)


@given(
    sizes=st.lists(st.integers(1, 16), min_size=2, max_size=5),
    batch=st.integers(1, 64),
    seed=st.integers(0, 2**32 - 1),
    scale=st.floats(0.01, 5.0),
    activation=st.sampled_from(HIDDEN),
    mse_output=st.sampled_from(HIDDEN),
    head=st.sampled_from(sorted(HEADS)),
    init=st.sampled_from([None, "normal"]),
)
def test_mlp_tape_gradients_equal_the_closed_form(
    sizes, batch, seed, scale, activation, mse_output, head, init
):
    """nn.MLP + loss.backward() gives, to 1e-10, what the report's equations give, for every
    hidden activation and loss; sigmoid + mse with widths [2, 4, 4, 1] is the lab's network."""
    model_output, tape_loss, output_activation, loss_name = HEADS[head]
    if head == "mse":
        model_output = output_activation = mse_output
    rng = np.random.default_rng(seed)
    model = nn.MLP(sizes, activation, model_output, init=init, rng=rng)
    X = scale * rng.standard_normal((batch, sizes[0]))
    k = sizes[-1]
    if head == "mse":
        y = rng.random((batch, k))
    elif head == "cross_entropy":
        y = rng.integers(0, k, batch)  # class labels, as CrossEntropyLoss takes them
    else:
        y = rng.integers(0, 2, (batch, k)).astype(np.float64)
    params = dict(model.named_parameters())
    layers = [
        cf.from_torch_layout(params[f"layers.{i}.weight"].data, params[f"layers.{i}.bias"].data)
        for i in range(len(sizes) - 1)
    ]
    if head == "bce":
        # BCELoss takes probabilities: far out on the sigmoid's tails log(1 - p) cancels, and
        # ops.sigmoid loses relative precision below -20 (see
        # test_sigmoid_keeps_relative_precision_in_the_negative_tail), so the loss *value* loses
        # digits there (its gradient does not). BCEWithLogitsLoss has no such limit.
        z, _ = cf.mlp_forward(X, layers, activation, "identity")
        assume(np.abs(z[-1]).max() < 15)

    loss = tape_loss(model(X), y, batch)
    loss.backward()
    expected_loss, grads = cf.mlp_backprop(X, y, layers, activation, output_activation, loss_name)

    assert loss.item() == pytest.approx(expected_loss, rel=1e-10, abs=1e-12)
    for i, (dW, db) in enumerate(grads):
        weight_grad, bias_grad = cf.to_torch_layout(dW, db)
        assert_equal_to(params[f"layers.{i}.weight"].grad, weight_grad)
        assert_equal_to(params[f"layers.{i}.bias"].grad, bias_grad)


@given(
    lead=st.integers(1, 64),
    n_in=st.integers(1, 16),
    n_out=st.integers(1, 16),
    seed=st.integers(0, 2**32 - 1),
)
def test_linear_tape_gradients_equal_the_closed_form(lead, n_in, n_out, seed):
    rng = np.random.default_rng(seed)
    layer = nn.Linear(n_in, n_out, rng=rng)
    x = Tensor(rng.standard_normal((lead, n_in)), requires_grad=True)
    G = rng.standard_normal((lead, n_out))
    y = layer(x)
    dx, dweight, dbias = gradients(y, [x, layer.weight, layer.bias], grad_outputs=G)
    W, b = cf.from_torch_layout(layer.weight.data, layer.bias.data)
    assert_equal_to(y.data, x.data @ W + b)
    expected_dx, dW, db = cf.linear_backward(x.data, W, G)
    assert_equal_to(dx, expected_dx)
    assert_equal_to(dweight, cf.to_torch_layout(dW, db)[0])
    assert_equal_to(dbias, db)


@given(params=conv_params(), seed=st.integers(0, 2**32 - 1))
def test_conv_tape_gradients_equal_the_closed_form(params, seed):
    """nn.functional.conv1d/conv2d (im2col on the tape) = full correlation with the flipped
    kernel (input) and correlation of the input with the output gradient (weight)."""
    rng = np.random.default_rng(seed)
    x = Tensor(rng.standard_normal(params.input_shape), requires_grad=True)
    w = Tensor(rng.standard_normal(params.weight_shape), requires_grad=True)
    b = Tensor(rng.standard_normal(params.out_channels), requires_grad=True)
    conv = F.conv1d if params.dims == 1 else F.conv2d
    args = (params.stride, params.padding, params.dilation)
    y = conv(x, w, b, *args)
    assert_equal_to(y.data, cf.conv_forward(x.data, w.data, b.data, *args))
    G = rng.standard_normal(y.shape)
    expected = cf.conv_backward(x.data, w.data, G, *args)
    for actual, closed in zip(gradients(y, [x, w, b], grad_outputs=G), expected):
        assert_equal_to(actual, closed)


# ---------------------------------------------------------------- algebraic laws
@given(tensors(shape=shapes(max_dims=4)))
def test_grad_of_sum_is_ones(x):
    (g,) = tape_gradient(al.sum, x)
    np.testing.assert_array_equal(g, np.ones(x.shape))


SMOOTH = {
    "sin": al.sin,
    "tanh": al.tanh,
    "sigmoid": al.sigmoid,
    "softplus": al.softplus,
    "square": lambda x: x * x,
    "exp": al.exp,
    "log_softmax": lambda x: al.log_softmax(x, axis=-1),
}
smooth_names = st.sampled_from(sorted(SMOOTH))


@given(
    x=tensors(shape=shapes(min_dims=1)),
    f=smooth_names,
    g=smooth_names,
    a=st.floats(-3, 3),
    b=st.floats(-3, 3),
    seed=st.integers(0, 2**16),
)
def test_gradient_is_linear(x, f, g, a, b, seed):
    """grad(a f + b g) = a grad f + b grad g, along any output direction u."""
    u = np.random.default_rng(seed).standard_normal(x.shape)
    (combined,) = tape_gradient(lambda t: a * SMOOTH[f](t) + b * SMOOTH[g](t), x, grad_output=u)
    (df,) = tape_gradient(SMOOTH[f], x, grad_output=u)
    (dg,) = tape_gradient(SMOOTH[g], x, grad_output=u)
    assert_equal_to(combined, a * df + b * dg)


@given(x=tensors(shape=shapes(min_dims=1)), f=smooth_names, g=smooth_names, seed=st.integers(0, 99))
def test_chain_rule_through_composition(x, f, g, seed):
    """The VJP of f∘g is g's VJP applied to f's: u^T J_{f∘g}(x) = (u^T J_f(g(x))) J_g(x)."""
    u = np.random.default_rng(seed).standard_normal(x.shape)
    (composed,) = tape_gradient(lambda t: SMOOTH[f](SMOOTH[g](t)), x, grad_output=u)
    inner = SMOOTH[g](x)
    (through_f,) = tape_gradient(SMOOTH[f], inner, grad_output=u)
    (expected,) = tape_gradient(SMOOTH[g], x, grad_output=through_f)
    assert_equal_to(composed, expected)


def sum_over_broadcast_axes(g: np.ndarray, shape: tuple) -> np.ndarray:
    """numpy's broadcasting undone by hand: sum the added leading axes, then the stretched ones."""
    g = g.sum(axis=tuple(range(g.ndim - len(shape))))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    return g.sum(axis=stretched, keepdims=True)


BINARY = {"add": ops.add, "sub": ops.sub, "mul": ops.mul, "div": ops.div, "maximum": ops.maximum}


@given(data=st.data(), pair=broadcastable_shapes(2), op=st.sampled_from(sorted(BINARY)))
def test_gradient_of_a_broadcast_input_is_summed_over_the_broadcast_axes(data, pair, op):
    """x broadcast against y gets the gradient its broadcast copy would get, summed back."""
    x = data.draw(tensors(shape=pair[0]), label="x")
    y = data.draw(tensors(shape=pair[1], domain="positive"), label="y")
    out_shape = np.broadcast_shapes(pair[0], pair[1])
    u = np.random.default_rng(0).standard_normal(out_shape)
    f = BINARY[op]
    (dx, dy) = tape_gradient(f, x, y, grad_output=u)
    copy = Tensor(np.broadcast_to(x.data, out_shape).copy())
    ycopy = Tensor(np.broadcast_to(y.data, out_shape).copy())
    (dx_copy, dy_copy) = tape_gradient(f, copy, ycopy, grad_output=u)
    assert_equal_to(dx, sum_over_broadcast_axes(dx_copy, pair[0]))
    assert_equal_to(dy, sum_over_broadcast_axes(dy_copy, pair[1]))


@given(data=st.data(), pair=matmul_shapes(), seed=st.integers(0, 2**32 - 1))
def test_batched_matmul_gradient_is_summed_over_the_broadcast_batch_axes(data, pair, seed):
    """A stack of matrices broadcast against another stack (or a single matrix) gets the
    gradient of its broadcast copy, summed over the batch axes it was stretched along."""
    assume(len(pair[0]) >= 2 and len(pair[1]) >= 2)  # vectors have no batch axes to broadcast
    a = data.draw(tensors(shape=pair[0]), label="a")
    b = data.draw(tensors(shape=pair[1]), label="b")
    batch = np.broadcast_shapes(pair[0][:-2], pair[1][:-2])
    u = np.random.default_rng(seed).standard_normal((*batch, pair[0][-2], pair[1][-1]))
    da, db = tape_gradient(al.matmul, a, b, grad_output=u)
    copies = [Tensor(np.broadcast_to(t.data, batch + t.shape[-2:]).copy()) for t in (a, b)]
    da_copy, db_copy = tape_gradient(al.matmul, *copies, grad_output=u)
    assert_equal_to(da, sum_over_broadcast_axes(da_copy, pair[0]))
    assert_equal_to(db, sum_over_broadcast_axes(db_copy, pair[1]))


# The same function as one op and as several: the gradients must not care how it is split.
SPLITS = {
    "sigmoid": (al.sigmoid, lambda x: 1 / (1 + al.exp(-x))),
    "softplus": (al.softplus, lambda x: al.log(1 + al.exp(x))),
    "tanh": (al.tanh, lambda x: (al.exp(2 * x) - 1) / (al.exp(2 * x) + 1)),
    "softmax": (
        lambda x: al.softmax(x, axis=-1),
        lambda x: al.exp(x) / al.sum(al.exp(x), axis=-1, keepdims=True),
    ),
    "log_softmax": (
        lambda x: al.log_softmax(x, axis=-1),
        lambda x: x - al.log(al.sum(al.exp(x), axis=-1, keepdims=True)),
    ),
    "logsumexp": (
        lambda x: al.logsumexp(x, axis=-1),
        lambda x: al.log(al.sum(al.exp(x), axis=-1)),
    ),
    "mean": (al.mean, lambda x: al.sum(x) / x.size),
    "var": (al.var, lambda x: al.mean((x - al.mean(x)) ** 2)),
    "relu": (al.relu, lambda x: al.where(x.data > 0, x, 0.0)),
    "matmul": (
        lambda x: x @ x.T,
        lambda x: al.sum(al.expand_dims(x, 1) * al.expand_dims(x, 0), axis=-1),
    ),
}


@pytest.mark.parametrize("name", sorted(SPLITS))
@given(
    x=tensors(shape=shapes(min_dims=2, max_dims=2), domain="away_from_kinks"),
    seed=st.integers(0, 2**32 - 1),
)
def test_gradient_does_not_depend_on_how_the_computation_is_split(name, x, seed):
    one_op, several = SPLITS[name]
    u = np.random.default_rng(seed).standard_normal(one_op(x).shape)
    assert_equal_to(several(x).data, one_op(x).data)
    (expected,) = tape_gradient(several, x, grad_output=u)
    (actual,) = tape_gradient(one_op, x, grad_output=u)
    assert_equal_to(actual, expected)


# ---------------------------------------------------------------- stability at the extremes
def stable_sigmoid(x: np.ndarray) -> np.ndarray:
    """sigmoid without overflow: exp(-|x|) <= 1."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


EXTREMES = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0])


def _naive(f, x: np.ndarray):
    """Value and gradient of a naive formula, numpy's overflow warnings silenced."""
    with np.errstate(all="ignore"):
        t = Tensor(x, requires_grad=True)
        out = f(t)
        (g,) = gradients(out, [t], grad_outputs=np.ones(out.shape))
    return out.data, g


def test_sigmoid_at_the_extremes():
    x = Tensor(EXTREMES, requires_grad=True)
    y = al.sigmoid(x)
    y.sum().backward()
    assert y.data[0] == 0.0 and y.data[2] == 0.5 and y.data[-1] == 1.0
    np.testing.assert_allclose(y.data, stable_sigmoid(EXTREMES), rtol=1e-15, atol=1e-16)
    derivative = stable_sigmoid(EXTREMES) * stable_sigmoid(-EXTREMES)
    np.testing.assert_allclose(x.grad, derivative, rtol=1e-15, atol=1e-16)
    assert x.grad[0] == x.grad[-1] == 0.0
    _, naive_grad = _naive(lambda t: 1 / (1 + al.exp(-t)), EXTREMES)
    assert not np.isfinite(naive_grad[0])  # exp(1000) = inf, and its VJP gives 0 * inf = nan


def test_softplus_at_the_extremes():
    x = Tensor(EXTREMES, requires_grad=True)
    y = al.softplus(x)
    y.sum().backward()
    np.testing.assert_allclose(y.data, np.logaddexp(0, EXTREMES))
    assert y.data[-1] == 1000.0 and y.data[0] == 0.0
    np.testing.assert_array_equal(x.grad[[0, -1]], [0.0, 1.0])
    naive, _ = _naive(lambda t: al.log(1 + al.exp(t)), EXTREMES)
    assert naive[-1] == np.inf


def test_log_softmax_at_the_extremes():
    """Logits 2000 apart: the log-probabilities are exact, the gradient is u - softmax * sum(u)
    with softmax = (1, 0, 0) in the limit; exp(1000) overflows the naive formula."""
    x = Tensor(np.array([[1000.0, 0.0, -1000.0]]), requires_grad=True)
    u = np.array([[0.5, -2.0, 1.0]])
    y = al.log_softmax(x, axis=-1)
    (g,) = gradients(y, [x], grad_outputs=u)
    np.testing.assert_array_equal(y.data, [[0.0, -1000.0, -2000.0]])
    np.testing.assert_array_equal(g, u - np.array([[1.0, 0.0, 0.0]]) * u.sum())
    naive, naive_grad = _naive(
        lambda t: al.log(al.exp(t) / al.sum(al.exp(t), axis=-1, keepdims=True)), x.data
    )
    assert not np.isfinite(naive).all() and not np.isfinite(naive_grad).all()


@pytest.mark.parametrize("target", [0.0, 1.0])
def test_bce_with_logits_at_the_extremes(target):
    """l = softplus(z) - y z: 0 or 1000 exactly at z = +-1000, gradient sigmoid(z) - y in
    {-1, 0, 1}; the naive -log(sigmoid(z)) is log(0) = -inf there."""
    z = Tensor(np.array([-1000.0, 1000.0]), requires_grad=True)
    y = np.full(2, target)
    loss = F.binary_cross_entropy_with_logits(z, y, reduction="none")
    loss.sum().backward()
    np.testing.assert_array_equal(loss.data, [1000.0 * target, 1000.0 * (1 - target)])
    np.testing.assert_array_equal(z.grad, np.array([0.0, 1.0]) - target)
    naive, _ = _naive(
        lambda t: -(y * al.log(1 / (1 + al.exp(-t))) + (1 - y) * al.log(1 - 1 / (1 + al.exp(-t)))),
        z.data,
    )
    assert not np.isfinite(naive).all()


@given(x=st.lists(st.floats(-1000, 1000), min_size=1, max_size=8).map(np.array))
def test_stable_ops_are_finite_with_correct_gradients_anywhere_in_range(x):
    t = Tensor(x, requires_grad=True)
    s = stable_sigmoid(x)
    for op, value, derivative in [
        (al.sigmoid, s, s * stable_sigmoid(-x)),
        (al.softplus, np.logaddexp(0, x), s),
    ]:
        y = op(t)
        (g,) = gradients(y, [t], grad_outputs=np.ones(x.shape))
        assert np.isfinite(y.data).all() and np.isfinite(g).all()
        np.testing.assert_allclose(y.data, value, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(g, derivative, rtol=1e-9, atol=1e-15)
    lsm = al.log_softmax(t, axis=-1)
    (g,) = gradients(lsm, [t], grad_outputs=np.ones(x.shape))
    assert np.isfinite(lsm.data).all() and np.isfinite(g).all()
    np.testing.assert_allclose(np.exp(lsm.data).sum(), 1.0, rtol=1e-12)


def test_sigmoid_keeps_relative_precision_in_the_negative_tail():
    """sigmoid(-40) = 4.2e-18 is representable; BCELoss on it should be 40 with gradient -1,
    not clamped at 100 with gradient 0."""
    x = np.array([-30.0, -40.0, -100.0, -700.0])
    np.testing.assert_allclose(al.sigmoid(x), stable_sigmoid(x), rtol=1e-12)


# ---------------------------------------------------------------- dtypes
@given(
    sizes=st.lists(st.integers(1, 8), min_size=2, max_size=4),
    batch=st.integers(1, 16),
    activation=st.sampled_from(["sigmoid", "tanh"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_float32_gradients_are_float32_and_close_to_float64(sizes, batch, activation, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((batch, sizes[0]))
    y = rng.random((batch, sizes[-1]))
    model64 = nn.MLP(sizes, activation, "sigmoid", rng=seed)
    model32 = nn.MLP(sizes, activation, "sigmoid", rng=seed, dtype=np.float32)
    for p32, p64 in zip(model32.parameters(), model64.parameters()):
        p32.data[...] = p64.data  # the float64 weights, rounded: the same network in float32
    for model, dtype in ((model64, np.float64), (model32, np.float32)):
        loss = F.mse_loss(model(X.astype(dtype)), y.astype(dtype), reduction="sum") / (2 * batch)
        assert loss.dtype == dtype
        loss.backward()
    for (name, p32), p64 in zip(model32.named_parameters(), model64.parameters()):
        assert p32.grad.dtype == np.float32, name
        assert_equal_to(p32.grad.astype(np.float64), p64.grad, tol=1e-5)


@given(x=tensors(shape=shapes(min_dims=1)), f=smooth_names, seed=st.integers(0, 99))
def test_float32_op_gradients_are_float32_and_close_to_float64(x, f, seed):
    u = np.random.default_rng(seed).standard_normal(x.shape)
    grads = {}
    for dtype in (np.float64, np.float32):
        t = Tensor(x.data.astype(dtype), requires_grad=True)
        out = SMOOTH[f](t)
        assert out.dtype == dtype
        (grads[dtype],) = gradients(out, [t], grad_outputs=u.astype(dtype))
    assert grads[np.float32].dtype == np.float32
    assert_equal_to(grads[np.float32].astype(np.float64), grads[np.float64], tol=1e-5)


# ---------------------------------------------------------------- the kit on a user's op
@pytest.fixture
def scratch_registry(monkeypatch):
    """Ops defined by a test stay out of the registry the meta-test in test_ops enumerates."""
    monkeypatch.setattr(engine, "REGISTRY", dict(engine.REGISTRY))


def swish_derivative(x: np.ndarray) -> np.ndarray:
    """d/dx x sigmoid(x) = s + x s (1 - s), s = sigmoid(x): the closed form, in numpy."""
    s = stable_sigmoid(x)
    return s * (1 + x * (1 - s))


def test_a_new_op_is_verified_in_ten_lines(scratch_registry):
    """The README's example, line for line: a user's op, its VJP, and one call that checks
    the tape against finite differences and the closed form."""

    @primitive
    def swish(x):
        """y = x*sigmoid(x);  dx = g*(y + sigmoid(x)*(1-y))"""
        return x * al.sigmoid(x)

    @swish.defvjp
    def _(g, out, x):
        s = al.sigmoid(x)
        return g * (out + s * (1 - out))

    assert_gradients_match(swish, al.randn(4, 3, rng=0), reference=swish_derivative)
    with pytest.raises(al.GradcheckError):  # and the same check does fail a wrong closed form
        assert_gradients_match(swish, al.randn(4, 3, rng=0), reference=stable_sigmoid)


@given(x=tensors(shape=shapes(min_dims=1, max_dims=2)), seed=st.integers(0, 2**32 - 1))
def test_a_reference_receives_the_grad_output(x, seed):
    """Along ones the softmax's gradient is zero; a random grad_output u tests every direction,
    and the closed form J^T u = p * (u - sum(p * u)) gets u to compute with."""
    u = np.random.default_rng(seed).standard_normal(x.shape)

    def softmax_vjp(x, grad_output):
        p = cf.softmax(x)
        return p * (grad_output - np.sum(p * grad_output, axis=-1, keepdims=True))

    def softmax(t):
        return al.softmax(t, axis=-1)

    assert_gradients_match(softmax, x, grad_output=u, reference=softmax_vjp)
    (along_ones,) = tape_gradient(softmax, x)
    np.testing.assert_allclose(along_ones, 0.0, atol=1e-12)


@pytest.fixture
def wrong_cube(scratch_registry):
    @primitive
    def cube(x):
        """y = x**3;  dx = g*2*x**2 (wrong on purpose: should be 3)"""
        return x**3

    cube.defvjp(lambda g, out, x: 2 * g * x * x)
    return cube


def test_a_wrong_vjp_is_reported_side_by_side(wrong_cube):
    x = np.array([1.0, 2.0])
    with pytest.raises(al.GradcheckError) as failure:
        assert_gradients_match(wrong_cube, x, reference=lambda x: 3 * x**2)
    message = str(failure.value)
    assert "differs at 2 of 2 elements" in message
    assert "numeric and reference agree: the tape's gradient (the VJP) looks wrong" in message
    header, worst = message.splitlines()[1:3]
    assert header.split() == ["input", "element", "tape", "numeric", "reference", "differs", "from"]
    # The worst element first: x = 2, tape 2*4 = 8 against 3*4 = 12.
    assert worst.split()[:3] == ["#0", "[1]", "8"] and worst.split()[4] == "12"


def test_a_nan_tape_gradient_is_reported_not_passed(scratch_registry):
    @primitive
    def square(x):
        """y = x**2;  dx = NaN (wrong on purpose)"""
        return x * x

    square.defvjp(lambda g, out, x: g * np.nan)
    with pytest.raises(al.GradcheckError, match="differs at 2 of 2 elements"):
        assert_gradients_match(square, np.array([1.0, 2.0]), reference=lambda x: 2 * x)


def test_a_wrong_reference_is_blamed_on_the_reference():
    with pytest.raises(al.GradcheckError, match="tape and numeric agree: the reference looks"):
        assert_gradients_match(lambda x: x**3, np.array([1.0, 2.0]), reference=lambda x: 2 * x**2)


def test_integer_inputs_pass_unchanged_and_get_no_gradient():
    """Labels are data: the gradient tuple has one entry per floating input."""
    logits, labels = np.random.default_rng(0).standard_normal((3, 4)), np.array([0, 3, 1])

    def loss(z, y):
        return F.cross_entropy(z, y, reduction="sum") / 3

    def closed(z, y):
        return cf.output_delta(cf.softmax(z), y, "softmax", "cross_entropy") / 3

    assert_gradients_match(loss, logits, labels, reference=closed)
    (tape,) = tape_gradient(loss, logits, labels)
    (numeric,) = numeric_gradient(loss, logits, labels)
    np.testing.assert_allclose(tape, numeric, atol=1e-8)


def test_grad_output_must_match_the_output_shape():
    with pytest.raises(ValueError, match=r"grad_output has shape \(3,\) but the output"):
        assert_gradients_match(al.tanh, np.ones(2), grad_output=np.ones(3))


def test_the_lab_network_passes_against_the_report():
    """The three-way check on the report's own network: tape, finite differences, equations."""
    rng = np.random.default_rng(1)
    X, y = rng.random((5, 2)), rng.integers(0, 2, (5, 1)).astype(np.float64)
    sizes = (2, 4, 4, 1)
    params = list(
        itertools.chain.from_iterable(
            (rng.standard_normal((a, b)), rng.standard_normal(b))
            for a, b in itertools.pairwise(sizes)
        )
    )

    def loss(W1, b1, W2, b2, W3, b3):
        a3 = al.sigmoid(al.sigmoid(al.sigmoid(X @ W1 + b1) @ W2 + b2) @ W3 + b3)
        return al.sum((a3 - y) ** 2) / (2 * len(X))

    def report(*params):
        r = cf.lab_backprop(X, y, *params)
        return r.dW1, r.db1, r.dW2, r.db2, r.dW3, r.db3

    assert_gradients_match(loss, *params, reference=report, atol=1e-8, rtol=1e-6)
