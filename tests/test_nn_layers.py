"""Linear, MLP, activations, Flatten, Dropout and BatchNorm1d: forward against numpy,
gradients against finite differences, and clear errors before any state changes."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import autograd_lite as al
import nn
import nn.functional as F


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


# ---------------------------------------------------------------- Linear
def test_linear_layout_and_forward_match_torch_convention():
    layer = nn.Linear(3, 2, rng=0)
    assert layer.weight.shape == (2, 3) and layer.bias.shape == (2,)
    x = np.arange(12.0).reshape(4, 3)
    np.testing.assert_allclose(layer(x).data, x @ layer.weight.data.T + layer.bias.data, rtol=1e-13)
    assert repr(layer) == "Linear(in_features=3, out_features=2, bias=True)"


@given(
    batch=st.lists(st.integers(1, 3), max_size=2),
    n_in=st.integers(1, 4),
    n_out=st.integers(1, 4),
    bias=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_linear_forward_and_gradients_any_batch_shape(batch, n_in, n_out, bias, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((*batch, n_in))
    w = rng.standard_normal((n_out, n_in))
    b = rng.standard_normal(n_out) if bias else None
    expected = x @ w.T + (b if bias else 0)
    np.testing.assert_allclose(F.linear(x, al.tensor(w), b).data, expected, rtol=1e-12, atol=1e-12)
    if bias:
        al.gradcheck(lambda x, w, b: F.linear(x, w, b), [x, w, b])
    else:
        al.gradcheck(lambda x, w: F.linear(x, w), [x, w])


def test_linear_default_init_is_torch_kaiming_uniform_bound():
    layer = nn.Linear(50, 40, rng=0)
    bound = 1 / math.sqrt(50)
    assert np.abs(layer.weight.data).max() <= bound
    assert np.abs(layer.weight.data).max() > 0.95 * bound
    assert np.abs(layer.bias.data).max() <= bound
    np.testing.assert_allclose(layer.weight.data.std(), bound / math.sqrt(3), rtol=0.05)


def test_linear_is_reproducible_from_a_seed_and_a_generator():
    a, b = nn.Linear(3, 2, rng=7), nn.Linear(3, 2, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    assert not np.array_equal(a.weight.data, nn.Linear(3, 2, rng=8).weight.data)
    al.manual_seed(3)
    c = nn.Linear(3, 2)
    al.manual_seed(3)
    np.testing.assert_array_equal(c.weight.data, nn.Linear(3, 2).weight.data)


def test_linear_wrong_feature_count_names_layer_and_shapes():
    layer = nn.Linear(2, 4)
    with pytest.raises(ValueError) as info:
        layer(np.zeros((100, 3)))
    line = info.traceback[0].lineno + 1  # the user's line, where layer(...) was called
    assert str(info.value) == (
        "Linear(in_features=2, out_features=4, bias=True): input of shape (100, 3) has 3 "
        f"features in its last axis, expected 2 (test_nn_layers.py:{line})"
    )
    with pytest.raises(ValueError, match=r"input of shape \(\) is a scalar, expected 2"):
        layer(al.tensor(1.0))


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_linear_rejects_bad_sizes(bad):
    with pytest.raises(ValueError, match="in_features must be a positive integer"):
        nn.Linear(bad, 3)


def test_linear_float32_stays_float32():
    layer = nn.Linear(3, 2, rng=0, dtype=np.float32)
    out = layer(np.ones((4, 3), np.float32))
    out.sum().backward()
    assert out.dtype == np.float32
    assert layer.weight.grad.dtype == np.float32 and layer.bias.grad.dtype == np.float32


def test_linear_weight_gradient_is_laid_out_like_the_weight():
    layer = nn.Linear(5, 3, rng=0)
    layer(np.ones((4, 5))).sum().backward()
    assert layer.weight.grad.flags.c_contiguous


# ---------------------------------------------------------------- MLP
def lab_forward(model, x):
    a = x
    for layer in model.layers:
        a = sigmoid(a @ layer.weight.data.T + layer.bias.data)
    return a


def test_mlp_is_the_lab_network():
    model = nn.MLP([2, 4, 4, 1], activation="sigmoid", output_activation="sigmoid", rng=0)
    assert [n for n, _ in model.named_parameters()] == [
        f"layers.{i}.{kind}" for i in range(3) for kind in ("weight", "bias")
    ]
    assert [layer.weight.shape for layer in model.layers] == [(4, 2), (4, 4), (1, 4)]
    x = np.random.default_rng(1).random((10, 2))
    np.testing.assert_allclose(model(x).data, lab_forward(model, x), rtol=1e-12)
    assert "(0): Linear(in_features=2, out_features=4, bias=True)" in repr(model)


@pytest.mark.parametrize(
    ("name", "f"),
    [
        ("sigmoid", sigmoid),
        ("tanh", np.tanh),
        ("relu", lambda z: np.maximum(z, 0)),
        ("leaky_relu", lambda z: np.where(z > 0, z, 0.01 * z)),
        ("softplus", lambda z: np.log1p(np.exp(z))),
        ("identity", lambda z: z),
        (None, lambda z: z),
    ],
)
def test_mlp_activation_names(name, f):
    model = nn.MLP([3, 5, 2], activation=name, rng=0)
    x = np.random.default_rng(2).standard_normal((4, 3))
    h = f(x @ model.layers[0].weight.data.T + model.layers[0].bias.data)
    expected = h @ model.layers[1].weight.data.T + model.layers[1].bias.data
    np.testing.assert_allclose(model(x).data, expected, rtol=1e-12, atol=1e-14)


def test_mlp_accepts_activation_modules_and_rejects_unknown_names():
    model = nn.MLP([2, 3, 1], activation=nn.LeakyReLU(0.2), output_activation=nn.Sigmoid())
    assert isinstance(model.activation, nn.LeakyReLU) and model.activation.negative_slope == 0.2
    with pytest.raises(ValueError, match=r"activation must be one of 'sigmoid'.*got 'swish'"):
        nn.MLP([2, 1], activation="swish")
    with pytest.raises(ValueError, match="at least an input and an output size"):
        nn.MLP([2])
    with pytest.raises(ValueError, match=r"sizes\[1\] must be a positive integer"):
        nn.MLP([2, 0, 1])


def test_mlp_normal_init_is_the_labs_and_reproducible():
    a = nn.MLP([2, 4, 4, 1], init="normal", rng=5)
    b = nn.MLP([2, 4, 4, 1], init="normal", rng=5)
    weights = np.concatenate([layer.weight.data.ravel() for layer in a.layers])
    assert all(np.all(layer.bias.data == 0) for layer in a.layers)
    assert weights.std() > 0.5  # N(0, 1), not the 1/sqrt(fan_in) default
    for la, lb in zip(a.layers, b.layers):
        np.testing.assert_array_equal(la.weight.data, lb.weight.data)


@pytest.mark.parametrize(
    ("init", "activation", "expected_std"),
    [
        ("xavier_normal", "tanh", 5 / 3 * math.sqrt(2 / (400 + 300))),
        ("xavier_uniform", "sigmoid", math.sqrt(2 / (400 + 300))),
        ("kaiming_normal", "relu", math.sqrt(2 / 400)),
        ("kaiming_uniform", "leaky_relu", math.sqrt(2 / (1 + 0.01**2) / 400)),
    ],
)
def test_mlp_scaled_inits_use_the_activation_gain(init, activation, expected_std):
    model = nn.MLP([400, 300, 1], activation=activation, init=init, rng=0)
    np.testing.assert_allclose(model.layers[0].weight.data.std(), expected_std, rtol=0.03)
    assert np.all(model.layers[0].bias.data == 0)


def test_mlp_callable_init_and_bad_init():
    model = nn.MLP([2, 3, 1], init=lambda w, rng: nn.init.constant_(w, 0.5))
    assert np.all(model.layers[1].weight.data == 0.5)
    with pytest.raises(ValueError, match="init must be None, one of 'normal'"):
        nn.MLP([2, 1], init="glorot")


def test_mlp_float32_forward_backward_stays_float32():
    model = nn.MLP([2, 4, 1], activation="tanh", rng=0, dtype=np.float32)
    out = model(np.ones((3, 2), np.float32))
    nn.MSELoss()(out, np.zeros((3, 1))).backward()
    assert out.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in model.parameters())


# ---------------------------------------------------------------- activations
ACTIVATION_CASES = [
    (nn.Sigmoid(), sigmoid),
    (nn.Tanh(), np.tanh),
    (nn.ReLU(), lambda z: np.maximum(z, 0)),
    (nn.LeakyReLU(0.1), lambda z: np.where(z > 0, z, 0.1 * z)),
    (nn.Softplus(), lambda z: np.log1p(np.exp(z))),
    (nn.Softplus(beta=2.0), lambda z: np.log1p(np.exp(2 * z)) / 2),
    (nn.Identity(), lambda z: z),
    (nn.Softmax(dim=1), lambda z: np.exp(z) / np.exp(z).sum(1, keepdims=True)),
    (nn.LogSoftmax(dim=1), lambda z: z - np.log(np.exp(z).sum(1, keepdims=True))),
    (nn.Softmax(dim=0), lambda z: np.exp(z) / np.exp(z).sum(0, keepdims=True)),
]


@pytest.mark.parametrize(("module", "reference"), ACTIVATION_CASES, ids=repr)
def test_activation_modules_match_numpy_and_gradcheck(module, reference):
    x = np.random.default_rng(0).standard_normal((3, 4)) + 0.05  # away from relu's kink
    np.testing.assert_allclose(module(al.tensor(x)).data, reference(x), rtol=1e-12, atol=1e-14)
    al.gradcheck(module, [x])


def test_activation_reprs():
    assert repr(nn.LeakyReLU(0.2)) == "LeakyReLU(negative_slope=0.2)"
    assert repr(nn.Softmax(dim=1)) == "Softmax(dim=1)"


def test_flatten_keeps_the_batch_axis():
    x = al.tensor(np.arange(24.0).reshape(2, 3, 4), requires_grad=True)
    out = nn.Flatten()(x)
    assert out.shape == (2, 12)
    assert nn.Flatten(0, 1)(x).shape == (6, 4)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, np.ones((2, 3, 4)))


# ---------------------------------------------------------------- Dropout
def test_dropout_is_seeded_scaled_and_off_in_eval():
    x = al.tensor(np.ones((200, 50)))
    a, b = nn.Dropout(0.3, rng=1), nn.Dropout(0.3, rng=1)
    out = a(x).data
    np.testing.assert_array_equal(out, b(x).data)
    assert set(np.unique(out)) == {0.0, 1 / 0.7}
    assert abs((out == 0).mean() - 0.3) < 0.02
    assert a.eval()(x) is x
    assert repr(a) == "Dropout(p=0.3)"


def test_dropout_gradient_is_the_mask():
    layer = nn.Dropout(0.5, rng=0)
    x = al.tensor(np.ones((4, 6)), requires_grad=True)
    out = layer(x)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, out.data)


def test_dropout_edges_and_dtype():
    x = np.ones((3, 4), np.float32)
    assert nn.Dropout(0.0)(x) is x
    assert np.all(nn.Dropout(1.0, rng=0)(al.tensor(x)).data == 0)
    assert nn.Dropout(0.5, rng=0)(al.tensor(x)).dtype == np.float32
    with pytest.raises(ValueError, match=r"Dropout: p must be a finite number in \[0, 1\]"):
        nn.Dropout(1.5)


# ---------------------------------------------------------------- BatchNorm1d
@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5)])
def test_batchnorm_training_normalizes_and_updates_running_stats(shape):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape) * 3 + 2
    bn = nn.BatchNorm1d(3)
    bn.weight.data[:] = [1.0, 2.0, 0.5]
    bn.bias.data[:] = [0.0, -1.0, 1.0]
    axes = (0,) if len(shape) == 2 else (0, 2)
    keep = (1, 3) if len(shape) == 2 else (1, 3, 1)
    mean, var = x.mean(axes), x.var(axes)
    expected = (x - mean.reshape(keep)) / np.sqrt(var.reshape(keep) + 1e-5)
    expected = expected * bn.weight.data.reshape(keep) + bn.bias.data.reshape(keep)
    np.testing.assert_allclose(bn(x).data, expected, rtol=1e-10)
    n = x.size // 3
    np.testing.assert_allclose(bn.running_mean, 0.1 * mean, rtol=1e-12)
    np.testing.assert_allclose(bn.running_var, 0.9 + 0.1 * var * n / (n - 1), rtol=1e-12)
    assert int(bn.num_batches_tracked) == 1
    bn.eval()
    rm, rv = bn.running_mean.reshape(keep), bn.running_var.reshape(keep)
    expected_eval = (x - rm) / np.sqrt(rv + 1e-5) * bn.weight.data.reshape(
        keep
    ) + bn.bias.data.reshape(keep)
    np.testing.assert_allclose(bn(x).data, expected_eval, rtol=1e-10)
    assert int(bn.num_batches_tracked) == 1


def test_batchnorm_cumulative_average_with_momentum_none():
    bn = nn.BatchNorm1d(2, momentum=None)
    batches = [np.random.default_rng(i).standard_normal((5, 2)) for i in range(3)]
    for x in batches:
        bn(x)
    np.testing.assert_allclose(bn.running_mean, np.mean([x.mean(0) for x in batches], 0))


@given(
    shape=st.sampled_from([(3, 2), (2, 2, 3), (4, 1)]),
    training=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_batchnorm_gradcheck(shape, training, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    channels = shape[1]
    w, b = rng.standard_normal(channels), rng.standard_normal(channels)
    running_mean, running_var = rng.standard_normal(channels), rng.random(channels) + 0.5

    def f(x, w, b):
        # Fresh copies: the finite differences must not see buffers a previous call updated.
        return F.batch_norm(x, running_mean.copy(), running_var.copy(), w, b, training)

    al.gradcheck(f, [x, w, b])


def test_batchnorm_errors_leave_state_unchanged():
    bn = nn.BatchNorm1d(3)
    for bad in (np.zeros((4, 2)), np.zeros((2, 3, 4, 5)), np.zeros((1, 3))):
        with pytest.raises(ValueError, match=r"BatchNorm1d\(3, .*\): "):
            bn(bad)
    assert int(bn.num_batches_tracked) == 0 and np.all(bn.running_mean == 0)
    with pytest.raises(ValueError, match="more than one value per channel"):
        bn(np.zeros((1, 3)))
    bn.eval()(np.zeros((1, 3)))  # a single example is fine with running statistics
    with pytest.raises(ValueError, match="BatchNorm1d: eps must be a finite number > 0, got 0"):
        nn.BatchNorm1d(3, eps=0)


def test_batchnorm_float32_and_no_running_stats():
    bn = nn.BatchNorm1d(2, dtype=np.float32, affine=False, track_running_stats=False)
    assert list(bn.parameters()) == [] and list(bn.named_buffers()) == []
    out = bn.eval()(al.tensor(np.random.default_rng(0).standard_normal((6, 2)), dtype=np.float32))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data.mean(0), 0, atol=1e-6)
