"""Initializers: the distributions torch documents, reproducible from an explicit rng."""

import math

import numpy as np
import pytest

import autograd_lite as al
import nn
from nn import init

SHAPE = (300, 400)  # fan_in 400, fan_out 300: enough samples for 2-3% statistics


def fresh(shape=SHAPE, dtype=np.float64):
    return nn.Parameter(np.zeros(shape, dtype))


def test_uniform_and_normal_fill_in_place_and_return_the_tensor():
    t = fresh()
    assert init.uniform_(t, -2.0, 3.0, rng=0) is t
    assert t.data.min() >= -2.0 and t.data.max() < 3.0
    np.testing.assert_allclose(t.data.mean(), 0.5, atol=0.02)
    init.normal_(t, 1.0, 0.5, rng=0)
    np.testing.assert_allclose([t.data.mean(), t.data.std()], [1.0, 0.5], rtol=0.02)


def test_constants():
    t = fresh((2, 3))
    np.testing.assert_array_equal(init.ones_(t).data, 1.0)
    np.testing.assert_array_equal(init.zeros_(t).data, 0.0)
    np.testing.assert_array_equal(init.constant_(t, 0.25).data, 0.25)


@pytest.mark.parametrize(
    ("fill", "std"),
    [
        (lambda t: init.xavier_uniform_(t, rng=1), math.sqrt(2 / 700)),
        (lambda t: init.xavier_normal_(t, gain=2.0, rng=1), 2 * math.sqrt(2 / 700)),
        (lambda t: init.kaiming_uniform_(t, rng=1), math.sqrt(2 / 400)),
        (
            lambda t: init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu", rng=1),
            math.sqrt(2 / 300),
        ),
        (lambda t: init.kaiming_uniform_(t, a=math.sqrt(5), rng=1), 1 / math.sqrt(3 * 400)),
    ],
    ids=["xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal", "torch_default"],
)
def test_scaled_initializers_have_the_documented_std(fill, std):
    t = fill(fresh())
    np.testing.assert_allclose(t.data.std(), std, rtol=0.02)
    np.testing.assert_allclose(t.data.mean(), 0, atol=0.02 * std)


def test_uniform_bounds_of_xavier_and_kaiming():
    xavier = init.xavier_uniform_(fresh(), rng=0).data
    bound = math.sqrt(6 / 700)
    assert np.abs(xavier).max() <= bound < 1.01 * np.abs(xavier).max()
    kaiming = init.kaiming_uniform_(fresh(), a=math.sqrt(5), rng=0).data
    assert np.abs(kaiming).max() <= 1 / math.sqrt(400)


def test_conv_weights_count_the_kernel_in_the_fans():
    w = fresh((16, 4, 3, 3))
    assert init.fan_in_and_fan_out(w) == (36, 144)
    with pytest.raises(ValueError, match=r"at least 2 dimensions, got shape \(5,\)"):
        init.fan_in_and_fan_out(fresh((5,)))


def test_same_seed_same_values_generator_advances_and_manual_seed_governs_the_default():
    a = init.normal_(fresh((3, 4)), rng=42).data.copy()
    np.testing.assert_array_equal(init.normal_(fresh((3, 4)), rng=42).data, a)
    rng = np.random.default_rng(42)
    first = init.normal_(fresh((3, 4)), rng=rng).data.copy()
    second = init.normal_(fresh((3, 4)), rng=rng).data
    np.testing.assert_array_equal(first, a)
    assert not np.array_equal(first, second)
    al.manual_seed(1)
    x = init.uniform_(fresh((2, 2))).data.copy()
    al.manual_seed(1)
    np.testing.assert_array_equal(init.uniform_(fresh((2, 2))).data, x)


def test_float32_tensor_gets_the_same_draws_rounded():
    t32 = init.xavier_normal_(fresh((4, 5), np.float32), rng=3)
    t64 = init.xavier_normal_(fresh((4, 5)), rng=3)
    assert t32.dtype == np.float32
    np.testing.assert_allclose(t32.data, t64.data, rtol=1e-6)


def test_calculate_gain_table():
    assert init.calculate_gain("sigmoid") == 1.0
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01**2)))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    with pytest.raises(ValueError, match="unknown nonlinearity 'swish'"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="mode must be 'fan_in' or 'fan_out'"):
        init.kaiming_normal_(fresh(), mode="fan_avg")
