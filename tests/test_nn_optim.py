"""Optimizers: first steps against the update formulas written out here, convergence on a
quadratic, state_dict round trips, float32, clear errors; the learning-rate schedules."""

import math

import numpy as np
import pytest

import autograd_lite as al
import nn
from nn.optim.lr_scheduler import CosineAnnealingLR, StepLR

P0 = np.array([1.0, -2.0, 0.5])
GRADS = [np.array([0.3, -0.1, 0.2]), np.array([-0.2, 0.4, 0.1]), np.array([0.5, 0.5, -0.3])]


def run(make_optimizer, dtype=np.float64):
    """Three steps with the fixed gradients GRADS; returns the parameter after each step."""
    p = nn.Parameter(P0, dtype=dtype)
    optimizer = make_optimizer([p])
    history = []
    for g in GRADS:
        p.grad = g.astype(dtype)
        optimizer.step()
        history.append(p.data.copy())
    return history


def test_sgd_plain():
    got = run(lambda ps: nn.optim.SGD(ps, lr=0.1))
    p = P0.copy()
    for g, step in zip(GRADS, got):
        p = p - 0.1 * g
        np.testing.assert_allclose(step, p, rtol=1e-14)


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_weight_decay_dampening(nesterov):
    lr, mu, wd = 0.1, 0.9, 0.01
    damp = 0.0 if nesterov else 0.3
    got = run(
        lambda ps: nn.optim.SGD(
            ps, lr=lr, momentum=mu, dampening=damp, weight_decay=wd, nesterov=nesterov
        )
    )
    p, buf = P0.copy(), None
    for g, step in zip(GRADS, got):
        g = g + wd * p
        buf = g.copy() if buf is None else mu * buf + (1 - damp) * g
        p = p - lr * (g + mu * buf if nesterov else buf)
        np.testing.assert_allclose(step, p, rtol=1e-14)


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam(amsgrad):
    lr, b1, b2, eps, wd = 0.01, 0.8, 0.9, 1e-6, 0.1
    got = run(
        lambda ps: nn.optim.Adam(
            ps, lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd, amsgrad=amsgrad
        )
    )
    p, m, v, vmax = P0.copy(), 0.0, 0.0, 0.0
    for t, (g, step) in enumerate(zip(GRADS, got), start=1):
        g = g + wd * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        vmax = np.maximum(vmax, v)
        v_used = vmax if amsgrad else v
        p = p - lr / (1 - b1**t) * m / (np.sqrt(v_used) / np.sqrt(1 - b2**t) + eps)
        np.testing.assert_allclose(step, p, rtol=1e-13)


def test_adam_first_step_moves_every_coordinate_by_lr():
    # With bias correction, Adam's first step is lr * sign(g) (up to eps).
    got = run(lambda ps: nn.optim.Adam(ps, lr=0.01))
    np.testing.assert_allclose(got[0], P0 - 0.01 * np.sign(GRADS[0]), rtol=1e-6)


def test_adamw_decays_the_weights_not_the_gradient():
    lr, b1, b2, eps, wd = 0.01, 0.9, 0.999, 1e-8, 0.5
    got = run(lambda ps: nn.optim.AdamW(ps, lr=lr, weight_decay=wd))
    p, m, v = P0.copy(), 0.0, 0.0
    for t, (g, step) in enumerate(zip(GRADS, got), start=1):
        p = p * (1 - lr * wd)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        p = p - lr / (1 - b1**t) * m / (np.sqrt(v) / np.sqrt(1 - b2**t) + eps)
        np.testing.assert_allclose(step, p, rtol=1e-13)


def test_adagrad():
    lr, decay, wd, init, eps = 0.1, 0.5, 0.01, 0.2, 1e-10
    got = run(
        lambda ps: nn.optim.Adagrad(
            ps, lr=lr, lr_decay=decay, weight_decay=wd, initial_accumulator_value=init, eps=eps
        )
    )
    p, total = P0.copy(), np.full(3, init)
    for t, (g, step) in enumerate(zip(GRADS, got), start=1):
        g = g + wd * p
        total = total + g * g
        p = p - lr / (1 + (t - 1) * decay) * g / (np.sqrt(total) + eps)
        np.testing.assert_allclose(step, p, rtol=1e-14)


@pytest.mark.parametrize(("momentum", "centered"), [(0.0, False), (0.9, False), (0.5, True)])
def test_rmsprop(momentum, centered):
    lr, alpha, eps, wd = 0.01, 0.9, 1e-8, 0.1
    got = run(
        lambda ps: nn.optim.RMSprop(
            ps, lr=lr, alpha=alpha, eps=eps, weight_decay=wd, momentum=momentum, centered=centered
        )
    )
    p, s, a, buf = P0.copy(), 0.0, 0.0, 0.0
    for g, step in zip(GRADS, got):
        g = g + wd * p
        s = alpha * s + (1 - alpha) * g * g
        a = alpha * a + (1 - alpha) * g
        denom = np.sqrt(s - a * a if centered else s) + eps
        if momentum:
            buf = momentum * buf + g / denom
            p = p - lr * buf
        else:
            p = p - lr * g / denom
        np.testing.assert_allclose(step, p, rtol=1e-13)


OPTIMIZERS = {
    "SGD": lambda ps: nn.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1),
    "Adagrad": lambda ps: nn.optim.Adagrad(ps, lr=0.1, weight_decay=0.1),
    "RMSprop": lambda ps: nn.optim.RMSprop(ps, momentum=0.5, centered=True, weight_decay=0.1),
    "Adam": lambda ps: nn.optim.Adam(ps, amsgrad=True, weight_decay=0.1),
    "AdamW": lambda ps: nn.optim.AdamW(ps),
}


@pytest.mark.parametrize("make", OPTIMIZERS.values(), ids=OPTIMIZERS.keys())
def test_float32_parameters_and_state_stay_float32(make):
    p = nn.Parameter(P0, dtype=np.float32)
    optimizer = make([p])
    for g in GRADS:
        p.grad = g.astype(np.float32)
        optimizer.step()
    assert p.dtype == np.float32
    arrays = [v for v in optimizer.state[p].values() if isinstance(v, np.ndarray)]
    assert arrays and all(a.dtype == np.float32 for a in arrays)
    np.testing.assert_allclose(p.data, run(make)[-1], rtol=1e-5)


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: nn.optim.Adam(ps, lr=0.1),
        lambda ps: nn.optim.SGD(ps, lr=0.02, momentum=0.9),
    ],
    ids=["Adam", "SGD-momentum"],
)
def test_converges_on_an_ill_conditioned_quadratic(make):
    # f(x) = 1/2 sum(a (x - c)^2), curvatures 1 and 10: the minimum is c.
    a = np.array([1.0, 10.0])
    c = np.array([3.0, -1.0])
    x = nn.Parameter([0.0, 0.0])
    optimizer = make([x])
    for _ in range(500):
        optimizer.zero_grad()
        d = x - c
        (0.5 * (a * d * d).sum()).backward()
        optimizer.step()
    np.testing.assert_allclose(x.data, c, atol=1e-3)


def test_trains_the_lab_network_through_model_parameters():
    rng = np.random.default_rng(0)
    x = rng.random((40, 2))
    y = (x[:, :1] > x[:, 1:]).astype(float)
    model = nn.MLP([2, 4, 4, 1], activation="sigmoid", output_activation="sigmoid", rng=0)
    optimizer = nn.optim.Adam(model.parameters(), lr=0.05)
    loss_fn = nn.MSELoss()
    for _ in range(300):
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
    assert ((model(x).data > 0.5) == y).mean() >= 0.95


def test_zero_grad_sets_none_or_zeros():
    p = nn.Parameter([1.0, 2.0])
    optimizer = nn.optim.SGD([p], lr=0.1)
    p.grad = np.array([1.0, 1.0])
    optimizer.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(p.grad, [0.0, 0.0])
    optimizer.zero_grad()
    assert p.grad is None
    optimizer.step()  # no gradient: nothing moves
    np.testing.assert_array_equal(p.data, [1.0, 2.0])


def test_step_uses_a_tensor_gradient_and_returns_the_closure_loss():
    p = nn.Parameter([2.0])
    optimizer = nn.optim.SGD([p], lr=0.25)

    def closure():
        optimizer.zero_grad()
        loss = (p * p).sum()
        loss.backward(create_graph=True)  # p.grad is a Tensor
        return loss

    loss = optimizer.step(closure)
    assert loss.item() == 4.0
    np.testing.assert_allclose(p.data, [1.0])


def test_param_groups_override_defaults():
    a, b = nn.Parameter([1.0]), nn.Parameter([1.0])
    optimizer = nn.optim.SGD([{"params": [a]}, {"params": [b], "lr": 1.0}], lr=0.1)
    a.grad = b.grad = np.array([1.0])
    optimizer.step()
    np.testing.assert_allclose([a.item(), b.item()], [0.9, 0.0])
    assert "group 1: 1 tensors, lr=1.0" in repr(optimizer)


def test_state_dict_round_trip_continues_identically():
    def fresh():
        p = nn.Parameter(P0)
        return p, nn.optim.Adam([p], lr=0.1)

    p1, opt1 = fresh()
    for g in GRADS[:2]:
        p1.grad = g
        opt1.step()
    saved = opt1.state_dict()
    assert saved["param_groups"][0]["params"] == [0] and saved["state"][0]["step"] == 2
    p2, opt2 = fresh()
    p2.data[:] = p1.data
    opt2.load_state_dict(saved)
    saved["state"][0]["exp_avg"][:] = 99.0  # a copy: the optimizer does not share it
    p1.grad = p2.grad = GRADS[2]
    opt1.step()
    opt2.step()
    np.testing.assert_array_equal(p1.data, p2.data)


def test_load_state_dict_checks_everything_first():
    p = nn.Parameter(P0)
    optimizer = nn.optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = GRADS[0]
    optimizer.step()
    good = optimizer.state_dict()
    bad = optimizer.state_dict()
    bad["state"][0]["momentum_buffer"] = np.zeros(4)
    bad["param_groups"][0]["lr"] = 5.0
    with pytest.raises(ValueError, match=r"'momentum_buffer' of parameter 0 has shape \(4,\)"):
        optimizer.load_state_dict(bad)
    assert optimizer.param_groups[0]["lr"] == 0.1
    np.testing.assert_array_equal(
        optimizer.state[p]["momentum_buffer"], good["state"][0]["momentum_buffer"]
    )
    two_groups = nn.optim.SGD([{"params": [p]}, {"params": [nn.Parameter([1.0])]}], lr=0.1)
    with pytest.raises(ValueError, match="the state has 1 parameter groups, the optimizer 2"):
        two_groups.load_state_dict(good)


def test_empty_parameter_list_is_an_error_as_in_torch():
    with pytest.raises(ValueError, match=r"^optimizer got an empty parameter list$"):
        nn.optim.Adam([])
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        nn.optim.SGD(nn.Sequential(nn.ReLU()).parameters(), lr=0.1)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda ps: nn.optim.SGD(ps, lr=-1.0), "Invalid learning rate: -1.0"),
        (lambda ps: nn.optim.SGD(ps, lr=0.1, momentum=-0.5), "Invalid momentum value"),
        (lambda ps: nn.optim.SGD(ps, lr=0.1, nesterov=True), "Nesterov momentum requires"),
        (lambda ps: nn.optim.Adam(ps, betas=(0.9, 1.0)), "Invalid beta parameter at index 1"),
        (lambda ps: nn.optim.Adam(ps, eps=-1.0), "Invalid epsilon value"),
        (lambda ps: nn.optim.AdamW(ps, weight_decay=-0.1), "Invalid weight_decay value"),
        (lambda ps: nn.optim.RMSprop(ps, alpha=1.5), "Invalid alpha value"),
        (lambda ps: nn.optim.Adagrad(ps, lr_decay=-1.0), "Invalid lr_decay value"),
        (lambda ps: nn.optim.SGD([ps[0], ps[0]], lr=0.1), "appear more than once"),
        (lambda ps: nn.optim.SGD([ps[0] * 2], lr=0.1), "can't optimize a non-leaf Tensor"),
        (lambda ps: nn.optim.SGD([al.tensor([1, 2])], lr=0.1), "only optimize floating"),
    ],
)
def test_invalid_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make([nn.Parameter([1.0])])


def test_a_single_tensor_is_not_a_parameter_list():
    with pytest.raises(TypeError, match="got a single Tensor; pass \\[tensor\\]"):
        nn.optim.SGD(nn.Parameter([1.0]), lr=0.1)


# ---------------------------------------------------------------- schedules
def test_step_lr():
    optimizer = nn.optim.SGD([nn.Parameter([1.0])], lr=1.0)
    scheduler = StepLR(optimizer, step_size=3, gamma=0.5)
    lrs = []
    for _ in range(8):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert lrs == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25]
    assert scheduler.get_last_lr() == [0.25]  # epoch 8


def test_cosine_annealing_lr():
    optimizer = nn.optim.Adam([nn.Parameter([1.0])], lr=0.1)
    scheduler = CosineAnnealingLR(optimizer, T_max=4, eta_min=0.01)
    lrs = [optimizer.param_groups[0]["lr"]]
    for _ in range(8):
        scheduler.step()
        lrs.append(scheduler.get_last_lr()[0])
    expected = [0.01 + 0.09 * (1 + math.cos(math.pi * t / 4)) / 2 for t in range(9)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-12)
    assert lrs[4] == pytest.approx(0.01) and lrs[8] == pytest.approx(0.1)


def test_scheduler_state_dict_resumes():
    optimizer = nn.optim.SGD([nn.Parameter([1.0])], lr=1.0)
    scheduler = StepLR(optimizer, step_size=2, gamma=0.1)
    for _ in range(3):
        scheduler.step()
    saved = scheduler.state_dict()
    resumed_optimizer = nn.optim.SGD([nn.Parameter([1.0])], lr=1.0)
    resumed = StepLR(resumed_optimizer, step_size=2, gamma=0.1)
    resumed.load_state_dict(saved)
    scheduler.step()
    resumed.step()
    assert resumed.get_last_lr() == scheduler.get_last_lr() == [pytest.approx(0.01)]


def test_scheduler_argument_errors():
    optimizer = nn.optim.SGD([nn.Parameter([1.0])], lr=1.0)
    with pytest.raises(ValueError, match="StepLR: step_size must be a positive integer"):
        StepLR(optimizer, step_size=0)
    with pytest.raises(ValueError, match="T_max must be a positive integer"):
        CosineAnnealingLR(optimizer, T_max=0)
    with pytest.raises(ValueError, match="needs 'initial_lr' in every param group"):
        StepLR(optimizer, step_size=2, last_epoch=5)
