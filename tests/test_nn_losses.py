"""Losses against their numpy formulas, every reduction, stability at the edges, gradients
against finite differences, and clear errors for targets of the wrong shape or dtype."""

import functools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import autograd_lite as al
import nn
import nn.functional as F


def reduce(loss, reduction):
    return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]


def log_softmax(z, axis=1):
    z = z - z.max(axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis, keepdims=True))


REDUCTIONS = ["mean", "sum", "none"]


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_matches_formula(reduction):
    rng = np.random.default_rng(0)
    p, y = rng.standard_normal((5, 2)), rng.standard_normal((5, 2))
    out = nn.MSELoss(reduction)(al.tensor(p), y)
    np.testing.assert_allclose(out.data, reduce((p - y) ** 2, reduction), rtol=1e-13)
    al.gradcheck(lambda p: F.mse_loss(p, y, reduction), [p])


def test_mse_gradient_is_two_over_n_times_the_error():
    p = al.tensor([[0.5], [0.2]], requires_grad=True)
    nn.MSELoss()(p, [[1.0], [0.0]]).backward()
    np.testing.assert_allclose(p.grad, [[-0.5], [0.2]])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_matches_formula(reduction):
    rng = np.random.default_rng(1)
    p, y = rng.uniform(0.05, 0.95, (6, 1)), rng.integers(0, 2, (6, 1)).astype(float)
    expected = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    np.testing.assert_allclose(
        nn.BCELoss(reduction=reduction)(al.tensor(p), y).data,
        reduce(expected, reduction),
        rtol=1e-12,
    )
    al.gradcheck(lambda p: F.binary_cross_entropy(p, y, reduction=reduction), [p])
    y_soft = rng.random((6, 1))
    al.gradcheck(lambda p, y: F.binary_cross_entropy(p, y, reduction=reduction), [p, y_soft])


def test_bce_clamps_logs_at_minus_100_with_finite_gradients():
    p = al.tensor([0.0, 1.0, 0.0, 1.0], requires_grad=True)
    y = np.array([1.0, 0.0, 0.0, 1.0])
    loss = nn.BCELoss(reduction="none")(p, y)
    np.testing.assert_array_equal(loss.data, [100.0, 100.0, 0.0, 0.0])
    loss.sum().backward()
    assert np.all(np.isfinite(p.grad))


def test_bce_weight_scales_each_element():
    p, y, w = np.array([0.3, 0.6]), np.array([1.0, 0.0]), np.array([2.0, 0.5])
    out = F.binary_cross_entropy(al.tensor(p), y, weight=w, reduction="none")
    np.testing.assert_allclose(out.data, -w * (y * np.log(p) + (1 - y) * np.log(1 - p)))


def test_bce_rejects_values_outside_0_1():
    with pytest.raises(ValueError, match=r"BCELoss: input must hold probabilities in \[0, 1\]"):
        nn.BCELoss()(al.tensor([0.5, 1.5]), [1.0, 0.0])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_matches_formula_and_bce_of_sigmoid(reduction):
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((4, 3)) * 3, rng.random((4, 3))
    p = 1 / (1 + np.exp(-x))
    expected = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    out = nn.BCEWithLogitsLoss(reduction=reduction)(al.tensor(x), y)
    np.testing.assert_allclose(out.data, reduce(expected, reduction), rtol=1e-10)
    al.gradcheck(lambda x, y: F.binary_cross_entropy_with_logits(x, y, None, reduction), [x, y])


def test_bce_with_logits_is_stable_for_huge_logits():
    x = al.tensor([1000.0, -1000.0, 1000.0, -1000.0], requires_grad=True)
    y = np.array([1.0, 0.0, 0.0, 1.0])
    loss = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    np.testing.assert_allclose(loss.data, [0.0, 0.0, 1000.0, 1000.0])
    loss.sum().backward()
    np.testing.assert_allclose(x.grad, [0.0, 0.0, 1.0, -1.0])  # sigmoid(x) - y


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_matches_formula(reduction):
    rng = np.random.default_rng(3)
    z, t = rng.standard_normal((5, 4)), rng.integers(0, 4, 5)
    expected = -log_softmax(z)[np.arange(5), t]
    out = nn.CrossEntropyLoss(reduction)(al.tensor(z), t)
    np.testing.assert_allclose(out.data, reduce(expected, reduction), rtol=1e-12)
    al.gradcheck(lambda z: F.cross_entropy(z, t, reduction), [z])


def test_cross_entropy_gradient_is_softmax_minus_one_hot_over_n():
    z = al.tensor([[1.0, 2.0, 0.5], [0.0, 0.0, 3.0]], requires_grad=True)
    t = np.array([1, 0])
    nn.CrossEntropyLoss()(z, t).backward()
    p = np.exp(log_softmax(z.data))
    np.testing.assert_allclose(z.grad, (p - np.eye(3)[t]) / 2, rtol=1e-12)


@given(
    extra=st.lists(st.integers(1, 3), max_size=2),
    classes=st.integers(1, 4),
    n=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_cross_entropy_and_nll_on_spatial_outputs(extra, classes, n, seed):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, classes, *extra)) * 5
    t = rng.integers(0, classes, (n, *extra))
    picked = np.take_along_axis(log_softmax(z), t[:, None], axis=1)[:, 0]
    np.testing.assert_allclose(
        F.cross_entropy(al.tensor(z), t).data, -picked.mean(), rtol=1e-12, atol=1e-14
    )
    np.testing.assert_allclose(
        F.nll_loss(al.tensor(log_softmax(z)), t, "none").data, -picked, rtol=1e-12, atol=1e-14
    )
    al.gradcheck(lambda z: F.cross_entropy(z, t, "sum"), [z])


def test_cross_entropy_unbatched_and_stability():
    z = al.tensor([1000.0, 0.0, -1000.0], requires_grad=True)
    loss = F.cross_entropy(z, np.int64(1))
    np.testing.assert_allclose(loss.data, 1000.0)
    loss.backward()
    np.testing.assert_allclose(z.grad, [1.0, -1.0, 0.0], atol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_matches_formula(reduction):
    rng = np.random.default_rng(4)
    lp, t = log_softmax(rng.standard_normal((6, 3))), rng.integers(0, 3, 6)
    out = nn.NLLLoss(reduction)(al.tensor(lp), t)
    np.testing.assert_allclose(out.data, reduce(-lp[np.arange(6), t], reduction), rtol=1e-13)
    al.gradcheck(lambda lp: F.nll_loss(lp, t, reduction), [lp])


def test_log_softmax_then_nll_equals_cross_entropy():
    z, t = np.random.default_rng(5).standard_normal((4, 5)), np.array([0, 4, 2, 2])
    a = nn.NLLLoss()(nn.LogSoftmax(dim=1)(al.tensor(z)), t)
    np.testing.assert_allclose(a.data, nn.CrossEntropyLoss()(al.tensor(z), t).data, rtol=1e-14)


def test_cross_entropy_records_log_softmax_then_nll_loss_as_torch_does():
    # torch's graph: LogSoftmaxBackward0 -> NllLossBackward0; the pick and the mean are one
    # node, whose gradient puts -1/n at the targets without np.add.at.
    z, t = np.random.default_rng(6).standard_normal((4, 3)), np.array([2, 0, 1, 1])
    with al.Tape() as tape:
        loss = nn.CrossEntropyLoss()(al.tensor(z, requires_grad=True), t)
    assert [out.op for out in tape] == ["log_softmax", "nll_loss"]
    loss.backward()
    for reduction in REDUCTIONS:  # and its gradient is differentiable again
        al.gradgradcheck(functools.partial(F.cross_entropy, target=t, reduction=reduction), [z])


def test_regression_target_shape_must_match_exactly():
    with pytest.raises(ValueError) as info:
        nn.MSELoss()(al.tensor(np.zeros((100, 1))), np.zeros(100))
    message = str(info.value)
    assert message.startswith("MSELoss: input of shape (100, 1) and target of shape (100,) differ")
    assert "target.reshape(100, 1)" in message
    with pytest.raises(ValueError, match="BCEWithLogitsLoss: input of shape"):
        nn.BCEWithLogitsLoss()(al.tensor(np.zeros((4, 1))), np.zeros((1, 4)))
    with pytest.raises(TypeError, match=r"MSELoss: target has dtype <U1 \(strings\)"):
        nn.MSELoss()(al.tensor(np.zeros(2)), np.array(["a", "b"]))


def test_integer_regression_targets_are_accepted_as_numbers():
    loss = nn.MSELoss()(al.tensor(np.array([[0.5], [0.5]], np.float32)), np.array([[1], [0]]))
    np.testing.assert_allclose(loss.data, 0.25)
    assert loss.dtype == np.float32  # the target takes the input's dtype


@pytest.mark.parametrize("loss", [nn.CrossEntropyLoss(), nn.NLLLoss()])
def test_class_target_errors(loss):
    name = type(loss).__name__
    z = al.tensor(np.zeros((4, 3)))
    with pytest.raises(
        ValueError, match=rf"{name}: target must hold integer class indices .*float64"
    ):
        loss(z, np.zeros(4))
    with pytest.raises(ValueError, match=r"one-hot or probability targets: pass target.argmax"):
        loss(z, np.eye(3)[[0, 1, 2, 0]])
    with pytest.raises(ValueError, match=r"needs a target of shape \(4,\), got \(4, 1\)"):
        loss(z, np.zeros((4, 1), np.int64))
    with pytest.raises(ValueError, match=r"target holds class 3, outside \[0, 3\)"):
        loss(z, np.array([0, 1, 3, 0]))
    with pytest.raises(ValueError, match=r"target holds class -1"):
        loss(z, np.array([0, -1, 2, 0]))


def test_bad_reduction_is_rejected_at_construction():
    with pytest.raises(ValueError, match="MSELoss: reduction must be 'mean', 'sum' or 'none'"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(ValueError, match="cross_entropy: reduction must be"):
        F.cross_entropy(np.zeros((1, 2)), np.zeros(1, np.int64), reduction="total")


@pytest.mark.parametrize(
    ("loss", "target"),
    [
        (nn.MSELoss(), np.ones((3, 2))),
        (nn.BCELoss(), np.ones((3, 2))),
        (nn.BCEWithLogitsLoss(), np.ones((3, 2))),
        (nn.CrossEntropyLoss(), np.array([0, 1, 1])),
        (nn.NLLLoss(), np.array([0, 1, 1])),
    ],
    ids=lambda v: type(v).__name__,
)
def test_losses_keep_float32(loss, target):
    x = al.tensor(np.full((3, 2), -0.5 if isinstance(loss, nn.NLLLoss) else 0.5, np.float32))
    x.requires_grad_()
    out = loss(x, target)
    out.backward()
    assert out.dtype == np.float32 and x.grad.dtype == np.float32


def test_loss_reprs():
    assert repr(nn.MSELoss()) == "MSELoss()"
    assert repr(nn.CrossEntropyLoss(reduction="sum")) == "CrossEntropyLoss(reduction='sum')"
