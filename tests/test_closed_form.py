"""The closed-form reference, checked without the tape: against finite differences of its own
numpy forward pass, and against examples small enough to compute by hand. Last, the demo that
prints it next to the tape's gradients."""

import itertools
import re

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from autograd_lite.testing import closed_form as cf
from autograd_lite.testing.strategies import conv_params
from demos import closed_form as demo


def finite_differences(loss, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """d loss() / dx by central differences; `loss` reads x, which is perturbed in place."""
    g = np.empty_like(x)
    for j in range(x.size):
        original = x.flat[j]
        x.flat[j] = original + eps
        plus = loss()
        x.flat[j] = original - eps
        minus = loss()
        x.flat[j] = original
        g.flat[j] = (plus - minus) / (2 * eps)
    return g


def random_layers(rng: np.random.Generator, sizes) -> list[cf.Layer]:
    """Weights N(0, 1/in) (activations stay of order 1) and N(0, 1) biases, in the report's
    layout: W of shape (in, out)."""
    return [
        (rng.standard_normal((a, b)) / np.sqrt(a), rng.standard_normal(b))
        for a, b in itertools.pairwise(sizes)
    ]


def assert_close(actual, expected, rtol: float = 1e-6) -> None:
    """Equal up to rtol times the largest expected element (finite differences lose digits
    on the small elements of a gradient, not on its scale)."""
    scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=rtol * scale)


# ---------------------------------------------------------------- examples by hand
def test_lab_backprop_on_a_network_computed_by_hand():
    """A 1-1-1-1 network whose every pre-activation is 0, so every sigmoid is exactly 1/2:
    x = 3, y = 1, W1 = 0, b1 = 0, W2 = W3 = 2, b2 = b3 = -1 (z2 = z3 = 1/2 * 2 - 1 = 0).
      a1 = a2 = a3 = 1/2;  L = (1/2)(1/2 - 1)^2 = 1/8
      output_delta  = (1/2 - 1) * 1/2 * 1/2 = -1/8;    dW3 = a2 * -1/8 = -1/16,  db3 = -1/8
      hidden2_error = -1/8 * W3 = -1/4;  hidden2_delta = -1/4 * 1/4 = -1/16
                                                       dW2 = -1/32,  db2 = -1/16
      hidden1_error = -1/16 * W2 = -1/8; hidden1_delta = -1/8 * 1/4 = -1/32
                                                       dW1 = x * -1/32 = -3/32,  db1 = -1/32
    Every number is a power-of-two fraction, so the floats are exact.
    """
    one = np.ones((1, 1))
    r = cf.lab_backprop(3 * one, one, 0 * one, [0.0], 2 * one, [-1.0], 2 * one, [-1.0])
    assert r.loss == 1 / 8
    assert (r.a1, r.a2, r.a3) == (0.5, 0.5, 0.5)
    assert (r.output_delta, r.hidden2_error, r.hidden2_delta) == (-1 / 8, -1 / 4, -1 / 16)
    assert (r.hidden1_error, r.hidden1_delta) == (-1 / 8, -1 / 32)
    assert (r.dW3, r.db3, r.dW2, r.db2, r.dW1, r.db1) == (
        -1 / 16, -1 / 8, -1 / 32, -1 / 16, -3 / 32, -1 / 32,
    )  # fmt: skip


def test_softmax_cross_entropy_delta_by_hand():
    """Equal logits give p = (1/2, 1/2); with label 0, p - onehot = (-1/2, 1/2), L = log 2."""
    delta = cf.output_delta(cf.softmax(np.zeros((1, 2))), np.array([0]), "softmax", "cross_entropy")
    np.testing.assert_array_equal(delta, [[-0.5, 0.5]])
    assert cf.loss_value(np.zeros((1, 2)), np.array([0]), "softmax", "cross_entropy") == np.log(2)


@given(z=st.lists(st.floats(-8, 8), min_size=3, max_size=3), label=st.integers(0, 2))
def test_loss_values_are_the_textbook_formulas(z, label):
    """The stable forms (softplus(z) - y z, logsumexp(z) - z[label]) equal the formulas they
    replace wherever those do not overflow."""
    z, y = np.array([z]), np.array([[1.0, 0.0, 1.0]])
    a = cf.sigmoid(z)
    bce = -np.sum(y * np.log(a) + (1 - y) * np.log(1 - a))
    assert cf.loss_value(z, y, "sigmoid", "bce") == pytest.approx(bce, rel=1e-9)
    p = cf.softmax(z)
    ce = -np.log(p[0, label])
    assert cf.loss_value(z, np.array([label]), "softmax", "cross_entropy") == pytest.approx(ce)
    mse = np.sum((np.tanh(z) - y) ** 2) / 2
    assert cf.loss_value(z, y, "tanh", "mse") == pytest.approx(mse, rel=1e-14)


def test_bce_delta_is_output_minus_target():
    a, y = np.array([[0.25, 0.75]]), np.array([[1.0, 0.0]])
    np.testing.assert_array_equal(cf.output_delta(a, y, "sigmoid", "bce"), [[-0.75, 0.75]])


def test_conv1d_by_hand():
    """x = [1, 2, 3], kernel [1, -1]: y = [1 - 2, 2 - 3] = [-1, -1]. With G = [1, 1]:
    dweight[k] = sum_i G[i] x[i + k] = [1 + 2, 2 + 3] = [3, 5];
    dx = full correlation of G with the flipped kernel [-1, 1]: [1, 1 - 1, -1] = [1, 0, -1]."""
    x, w = np.array([[[1.0, 2.0, 3.0]]]), np.array([[[1.0, -1.0]]])
    np.testing.assert_array_equal(cf.conv_forward(x, w, np.array([0.5])), [[[-0.5, -0.5]]])
    dx, dw, db = cf.conv_backward(x, w, np.ones((1, 1, 2)))
    np.testing.assert_array_equal(dx, [[[1.0, 0.0, -1.0]]])
    np.testing.assert_array_equal(dw, [[[3.0, 5.0]]])
    np.testing.assert_array_equal(db, [2.0])


def test_strided_conv1d_by_hand():
    """Stride 2 over x = [1, 2, 3, 4, 5] with kernel [1, 1]: y = [1 + 2, 3 + 4] = [3, 7] (x[4]
    is never read). G = [1, 10]: dx = [1, 1, 10, 10, 0]; dweight = [1*1 + 10*3, 1*2 + 10*4]."""
    x, w = np.arange(1.0, 6.0).reshape(1, 1, 5), np.ones((1, 1, 2))
    np.testing.assert_array_equal(cf.conv_forward(x, w, stride=2), [[[3.0, 7.0]]])
    dx, dw, _ = cf.conv_backward(x, w, np.array([[[1.0, 10.0]]]), stride=2)
    np.testing.assert_array_equal(dx, [[[1.0, 1.0, 10.0, 10.0, 0.0]]])
    np.testing.assert_array_equal(dw, [[[31.0, 42.0]]])


def test_layout_conversion_is_a_transpose():
    weight, bias = np.arange(6.0).reshape(2, 3), np.array([1.0, 2.0])  # nn.Linear(3, 2)
    W, b = cf.from_torch_layout(weight, bias)
    assert W.shape == (3, 2)
    np.testing.assert_array_equal(np.ones((1, 3)) @ W + b, np.ones((1, 3)) @ weight.T + bias)
    back, _ = cf.to_torch_layout(W, b)
    np.testing.assert_array_equal(back, weight)


@pytest.mark.parametrize(
    ("output_activation", "loss"),
    [("sigmoid", "cross_entropy"), ("tanh", "bce"), ("softmax", "mse"), ("sigmoid", "hinge")],
)
def test_a_loss_with_the_wrong_output_activation_is_refused(output_activation, loss):
    layers = [(np.ones((2, 2)), np.zeros(2))]
    with pytest.raises(ValueError, match="closed_form"):
        cf.mlp_backprop(
            np.ones((1, 2)), np.zeros((1, 2)), layers, "sigmoid", output_activation, loss
        )


# ---------------------------------------------------------------- against finite differences
def _network(data, sizes, loss, output_activation):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    m = data.draw(st.integers(1, 8), label="batch")
    X = rng.standard_normal((m, sizes[0]))
    k = sizes[-1]
    if loss == "cross_entropy":
        y = rng.integers(0, k, m)
    elif loss == "bce":
        y = rng.integers(0, 2, (m, k)).astype(float)
    else:
        y = rng.random((m, k))
    layers = random_layers(rng, sizes)
    return X, y, layers


@given(
    data=st.data(),
    sizes=st.lists(st.integers(1, 5), min_size=2, max_size=4),
    activation=st.sampled_from(sorted(cf.ACTIVATIONS)),
    head=st.sampled_from(
        [("mse", a) for a in sorted(cf.ACTIVATIONS)]
        + [("bce", "sigmoid"), ("cross_entropy", "softmax")]
    ),
)
def test_mlp_backprop_matches_finite_differences(data, sizes, activation, head):
    loss, output_activation = head
    X, y, layers = _network(data, sizes, loss, output_activation)

    def value():
        z, _ = cf.mlp_forward(X, layers, activation, output_activation)
        return cf.loss_value(z[-1], y, output_activation, loss)

    # A relu kink within eps of a pre-activation would make the difference quotient meaningless.
    z, _ = cf.mlp_forward(X, layers, activation, output_activation)
    assume(all(np.abs(z_l).min() > 1e-4 for z_l in z))
    _, grads = cf.mlp_backprop(X, y, layers, activation, output_activation, loss)
    for (W, b), (dW, db) in zip(layers, grads):
        assert_close(dW, finite_differences(value, W))
        assert_close(db, finite_differences(value, b))


@given(
    sizes=st.tuples(*[st.integers(1, 6)] * 4), batch=st.integers(1, 16), seed=st.integers(0, 2**16)
)
def test_lab_backprop_is_mlp_backprop_for_the_report_network(sizes, batch, seed):
    rng = np.random.default_rng(seed)
    X, y = rng.standard_normal((batch, sizes[0])), rng.random((batch, sizes[3]))
    layers = random_layers(rng, sizes)
    lab = cf.lab_backprop(X, y, *(p for layer in layers for p in layer))
    loss, grads = cf.mlp_backprop(X, y, layers)
    assert lab.loss == pytest.approx(loss, rel=1e-14)
    report = [(lab.dW1, lab.db1), (lab.dW2, lab.db2), (lab.dW3, lab.db3)]
    for expected, actual in zip(grads, report):
        np.testing.assert_allclose(actual[0], expected[0], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(actual[1], expected[1], rtol=1e-12, atol=1e-15)


@given(
    shape=st.tuples(st.integers(1, 3), st.integers(1, 4), st.integers(1, 4)),
    seed=st.integers(0, 2**16),
)
def test_linear_backward_matches_finite_differences(shape, seed):
    """x of shape (batch..., in) with a leading batch axis of its own: dW sums over all of them."""
    rng = np.random.default_rng(seed)
    lead, n_in, n_out = shape
    x, W, b = (
        rng.standard_normal((lead, 2, n_in)),
        rng.standard_normal((n_in, n_out)),
        rng.standard_normal(n_out),
    )
    G = rng.standard_normal((lead, 2, n_out))

    def value():
        return np.sum(G * (x @ W + b))

    dx, dW, db = cf.linear_backward(x, W, G)
    assert_close(dx, finite_differences(value, x))
    assert_close(dW, finite_differences(value, W))
    assert_close(db, finite_differences(value, b))


def naive_conv(x, weight, bias, stride, padding, dilation):
    """The definition, one output element at a time."""
    d = weight.ndim - 2
    x = np.pad(x, ((0, 0), (0, 0), *((p, p) for p in padding)))
    kernel = weight.shape[2:]
    out_size = [
        (n - dil * (k - 1) - 1) // s + 1
        for n, k, s, dil in zip(x.shape[2:], kernel, stride, dilation)
    ]
    y = np.zeros((x.shape[0], weight.shape[0], *out_size))
    for n, o, *i in itertools.product(*map(range, y.shape)):
        for c, *k in itertools.product(*map(range, weight.shape[1:])):
            at = tuple(i[a] * stride[a] + k[a] * dilation[a] for a in range(d))
            y[(n, o, *i)] += weight[(o, c, *k)] * x[(n, c, *at)]
    return y + bias.reshape((-1,) + (1,) * d)


@given(params=conv_params(), seed=st.integers(0, 2**16))
def test_conv_forward_is_the_definition(params, seed):
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal(params.input_shape), rng.standard_normal(params.weight_shape)
    b = rng.standard_normal(params.out_channels)
    args = (params.stride, params.padding, params.dilation)
    np.testing.assert_allclose(
        cf.conv_forward(x, w, b, *args), naive_conv(x, w, b, *args), atol=1e-12
    )


@given(params=conv_params(), seed=st.integers(0, 2**16))
def test_conv_backward_matches_finite_differences(params, seed):
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal(params.input_shape), rng.standard_normal(params.weight_shape)
    b = rng.standard_normal(params.out_channels)
    args = (params.stride, params.padding, params.dilation)
    G = rng.standard_normal((params.batch, params.out_channels, *params.output_size))

    def value():
        return np.sum(G * cf.conv_forward(x, w, b, *args))

    dx, dw, db = cf.conv_backward(x, w, G, *args)
    assert_close(dx, finite_differences(value, x))
    assert_close(dw, finite_differences(value, w))
    assert_close(db, finite_differences(value, b))


@pytest.mark.parametrize("data", ["xor_easy", "linear"])
def test_the_demo_shows_tape_report_and_numeric_agreeing(data, capsys):
    demo.main(["--data", data, "--seed", "1"])
    out = capsys.readouterr().out
    report = [float(v) for v in re.findall(r"max \|tape - report\| = (\S+)", out)]
    numeric = [float(v) for v in re.findall(r"max \|tape - numeric\| = (\S+)", out)]
    assert len(report) == len(numeric) == 6  # W1, b1, W2, b2, W3, b3
    assert max(report) < 1e-15 and max(numeric) < 1e-8
    steps = re.findall(r"^  (\S+) +(\w+): (d\w) = .* (\S+)$", out, flags=re.MULTILINE)
    assert [s[0] for s in steps] == [
        "e",
        "a3",
        "z3",
        "b3",
        "W3",
        "a2",
        "z2",
        "b2",
        "W2",
        "a1",
        "z1",
        "b1",
        "W1",
    ]
    assert max(float(s[3]) for s in steps) < 1e-15
    assert "agree on all 37 parameters" in out
