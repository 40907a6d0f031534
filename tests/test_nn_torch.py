"""PyTorch as an oracle: with weights copied across, layers, losses and optimizers give the
same outputs and gradients. Skipped when torch is not installed."""

import numpy as np
import pytest

import autograd_lite as al
import nn
import nn.functional as F

torch = pytest.importorskip("torch")
tF = torch.nn.functional


@pytest.fixture(autouse=True)
def torch_float64():
    """torch layers made inside a test default to float64, like ours; restored afterwards."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def both(array, requires_grad=True):
    """The same float64 values as (autograd_lite Tensor, torch tensor)."""
    array = np.asarray(array, dtype=np.float64)
    return (
        al.tensor(array, requires_grad=requires_grad),
        torch.tensor(array, requires_grad=requires_grad),
    )


def close(ours, theirs, rtol=1e-10, atol=1e-12):
    ours = ours.data if isinstance(ours, al.Tensor) else ours
    np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=rtol, atol=atol)


def copy_weights(ours: nn.Module, theirs) -> None:
    with torch.no_grad():
        for (name, p), (tname, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
            assert p.shape == tuple(tp.shape), (name, tname)
            tp.copy_(torch.from_numpy(p.data))


def check_module(ours, theirs, x):
    copy_weights(ours, theirs)
    xa, xt = both(x)
    ya, yt = ours(xa), theirs(xt)
    close(ya, yt)
    g = np.random.default_rng(99).standard_normal(ya.shape)
    ya.backward(g)
    yt.backward(torch.from_numpy(g))
    close(xa.grad, xt.grad)
    for p, tp in zip(ours.parameters(), theirs.parameters()):
        close(p.grad, tp.grad)


RNG = np.random.default_rng(0)


def test_linear_and_lab_mlp_match_torch():
    check_module(nn.Linear(3, 2, rng=0), torch.nn.Linear(3, 2), RNG.standard_normal((4, 3)))
    check_module(nn.Linear(3, 2, rng=0), torch.nn.Linear(3, 2), RNG.standard_normal((2, 5, 3)))
    ours = nn.MLP([2, 4, 4, 1], activation="sigmoid", output_activation="sigmoid", rng=0)
    theirs = torch.nn.Sequential(
        torch.nn.Linear(2, 4), torch.nn.Sigmoid(), torch.nn.Linear(4, 4), torch.nn.Sigmoid(),
        torch.nn.Linear(4, 1), torch.nn.Sigmoid(),
    )  # fmt: skip
    check_module(ours, theirs, RNG.random((10, 2)))


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (lambda: nn.Conv1d(2, 3, 3, rng=0), lambda: torch.nn.Conv1d(2, 3, 3)),
        (
            lambda: nn.Conv1d(2, 3, 2, stride=2, padding=1, dilation=2, rng=0),
            lambda: torch.nn.Conv1d(2, 3, 2, stride=2, padding=1, dilation=2),
        ),
        (
            lambda: nn.Conv1d(1, 2, 4, padding="same", rng=0),
            lambda: torch.nn.Conv1d(1, 2, 4, padding="same"),
        ),
    ],
)
def test_conv1d_matches_torch(ours, theirs):
    check_module(ours(), theirs(), RNG.standard_normal((2, ours().in_channels, 9)))


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((1, 8, 3), {}),
        ((2, 4, (3, 2)), dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2))),
        ((3, 2, 3), dict(padding="same", dilation=2, bias=False)),
        ((2, 3, 2), dict(stride=3, padding=2)),
    ],
)
def test_conv2d_matches_torch(args, kwargs):
    x = RNG.standard_normal((2, args[0], 7, 8))
    check_module(nn.Conv2d(*args, **kwargs, rng=0), torch.nn.Conv2d(*args, **kwargs), x)


@pytest.mark.parametrize(
    ("ours", "theirs", "shape"),
    [
        (nn.MaxPool2d(2), torch.nn.MaxPool2d(2), (2, 3, 6, 7)),
        (nn.MaxPool2d(3, 2, 1, 2), torch.nn.MaxPool2d(3, 2, 1, 2), (2, 2, 9, 8)),
        (nn.MaxPool1d(3, 1, 1), torch.nn.MaxPool1d(3, 1, 1), (2, 3, 8)),
        (nn.AvgPool2d((2, 3), 1, (1, 1)), torch.nn.AvgPool2d((2, 3), 1, (1, 1)), (2, 2, 5, 6)),
        (nn.AvgPool1d(2), torch.nn.AvgPool1d(2), (3, 2, 7)),
    ],
    ids=repr,
)
def test_pooling_matches_torch(ours, theirs, shape):
    x = RNG.permutation(np.prod(shape)).reshape(shape) / 10.0  # no ties inside a window
    check_module(ours, theirs, x)


@pytest.mark.parametrize(
    ("ours", "theirs", "shape"),
    [
        (nn.MaxPool2d(2), torch.nn.MaxPool2d(2), (2, 3, 6, 7)),
        (nn.MaxPool2d(3, 1, 1), torch.nn.MaxPool2d(3, 1, 1), (2, 2, 5, 6)),
        (nn.MaxPool2d((2, 3), 1, 1, 2), torch.nn.MaxPool2d((2, 3), 1, 1, 2), (1, 2, 7, 8)),
        (nn.MaxPool1d(3, 2, 1), torch.nn.MaxPool1d(3, 2, 1), (2, 3, 9)),
    ],
    ids=repr,
)
def test_max_pooling_ties_match_torch(ours, theirs, shape):
    """Small integers tie in most windows, as ReLU zeros do: torch's gradient goes to the
    first maximum of each window, and so does ours."""
    check_module(ours, theirs, RNG.integers(0, 3, shape))


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5)])
def test_batchnorm_matches_torch_in_train_and_eval(shape):
    ours, theirs = nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor([1.5, 0.5, -1.0]))
        theirs.bias.copy_(torch.tensor([0.1, 0.2, 0.3]))
    for _ in range(2):
        check_module(ours, theirs, RNG.standard_normal(shape) * 2 + 1)
    close(ours.running_mean, theirs.running_mean)
    close(ours.running_var, theirs.running_var)
    ours.eval()
    theirs.eval()
    check_module(ours, theirs, RNG.standard_normal(shape))


def test_activations_match_torch():
    x = RNG.standard_normal((3, 5)) * 3
    pairs = [
        (nn.Sigmoid(), torch.nn.Sigmoid()),
        (nn.Tanh(), torch.nn.Tanh()),
        (nn.ReLU(), torch.nn.ReLU()),
        (nn.LeakyReLU(0.2), torch.nn.LeakyReLU(0.2)),
        (nn.Softplus(beta=2.0), torch.nn.Softplus(beta=2.0)),
        (nn.Softmax(dim=1), torch.nn.Softmax(dim=1)),
        (nn.LogSoftmax(dim=0), torch.nn.LogSoftmax(dim=0)),
    ]
    for ours, theirs in pairs:
        check_module(ours, theirs, x)


def check_loss(ours_fn, theirs_fn, x, target, grad_target=False):
    xa, xt = both(x)
    ta, tt = both(target, requires_grad=grad_target)
    if target.dtype.kind == "i":
        ta, tt = target, torch.from_numpy(target)
    la, lt = ours_fn(xa, ta), theirs_fn(xt, tt)
    close(la, lt)
    g = np.ones(la.shape)
    la.backward(g)
    lt.backward(torch.from_numpy(g))
    close(xa.grad, xt.grad)
    if grad_target:
        close(ta.grad, tt.grad)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_losses_match_torch(reduction):
    x = RNG.standard_normal((6, 3))
    p = RNG.uniform(0.01, 0.99, (6, 3))
    y = RNG.random((6, 3))
    labels = RNG.integers(0, 3, 6)
    check_loss(nn.MSELoss(reduction), torch.nn.MSELoss(reduction=reduction), x, y, True)
    check_loss(nn.BCELoss(reduction=reduction), torch.nn.BCELoss(reduction=reduction), p, y, True)
    check_loss(
        nn.BCEWithLogitsLoss(reduction=reduction),
        torch.nn.BCEWithLogitsLoss(reduction=reduction),
        x * 10,
        y,
        True,
    )
    check_loss(
        nn.CrossEntropyLoss(reduction), torch.nn.CrossEntropyLoss(reduction=reduction), x, labels
    )
    check_loss(nn.NLLLoss(reduction), torch.nn.NLLLoss(reduction=reduction), x - 3, labels)
    spatial_labels = RNG.integers(0, 3, (2, 4, 5))
    check_loss(
        lambda a, t: F.cross_entropy(a, t, reduction),
        lambda a, t: tF.cross_entropy(a, t, reduction=reduction),
        RNG.standard_normal((2, 3, 4, 5)),
        spatial_labels,
    )


def test_bce_clamping_matches_torch_at_0_and_1():
    p = np.array([0.0, 1.0, 0.0, 1.0, 0.5])
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0])
    close(F.binary_cross_entropy(al.tensor(p), y, reduction="none"),
          tF.binary_cross_entropy(torch.tensor(p), torch.tensor(y), reduction="none"))  # fmt: skip


OPTIMIZER_PAIRS = {
    "Adam": (lambda ps: nn.optim.Adam(ps, lr=0.01), lambda ps: torch.optim.Adam(ps, lr=0.01)),
    "Adam-amsgrad-wd": (
        lambda ps: nn.optim.Adam(ps, lr=0.01, weight_decay=0.1, amsgrad=True),
        lambda ps: torch.optim.Adam(ps, lr=0.01, weight_decay=0.1, amsgrad=True),
    ),
    "AdamW": (lambda ps: nn.optim.AdamW(ps, lr=0.01), lambda ps: torch.optim.AdamW(ps, lr=0.01)),
    "SGD-nesterov": (
        lambda ps: nn.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
        lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
    ),
    "SGD-dampening": (
        lambda ps: nn.optim.SGD(ps, lr=0.05, momentum=0.5, dampening=0.5),
        lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.5, dampening=0.5),
    ),
    "Adagrad": (
        lambda ps: nn.optim.Adagrad(ps, lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1),
        lambda ps: torch.optim.Adagrad(ps, lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1),
    ),
    "RMSprop-centered-momentum": (
        lambda ps: nn.optim.RMSprop(ps, lr=0.01, momentum=0.9, centered=True, weight_decay=0.1),
        lambda ps: torch.optim.RMSprop(ps, lr=0.01, momentum=0.9, centered=True, weight_decay=0.1),
    ),
}


@pytest.mark.parametrize("pair", OPTIMIZER_PAIRS.values(), ids=OPTIMIZER_PAIRS.keys())
def test_twenty_optimizer_steps_match_torch(pair):
    make_ours, make_theirs = pair
    rng = np.random.default_rng(1)
    x, y = rng.random((16, 2)), rng.integers(0, 2, (16, 1)).astype(float)
    ours = nn.MLP([2, 4, 4, 1], activation="sigmoid", output_activation="sigmoid", rng=0)
    theirs = torch.nn.Sequential(
        torch.nn.Linear(2, 4), torch.nn.Sigmoid(), torch.nn.Linear(4, 4), torch.nn.Sigmoid(),
        torch.nn.Linear(4, 1), torch.nn.Sigmoid(),
    )  # fmt: skip
    copy_weights(ours, theirs)
    opt_ours, opt_theirs = make_ours(ours.parameters()), make_theirs(theirs.parameters())
    loss_ours, loss_theirs = nn.BCELoss(), torch.nn.BCELoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(20):
        opt_ours.zero_grad()
        loss_ours(ours(x), y).backward()
        opt_ours.step()
        opt_theirs.zero_grad()
        loss_theirs(theirs(xt), yt).backward()
        opt_theirs.step()
    for p, tp in zip(ours.parameters(), theirs.parameters()):
        close(p, tp, rtol=1e-9, atol=1e-11)


def test_schedules_match_torch():
    for ours_cls, theirs_cls, kwargs in [
        (nn.optim.lr_scheduler.StepLR, torch.optim.lr_scheduler.StepLR, dict(step_size=3)),
        (
            nn.optim.lr_scheduler.CosineAnnealingLR,
            torch.optim.lr_scheduler.CosineAnnealingLR,
            dict(T_max=5, eta_min=0.01),
        ),
    ]:
        opt_ours = nn.optim.SGD([nn.Parameter([1.0])], lr=0.5)
        opt_theirs = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.5)
        ours, theirs = ours_cls(opt_ours, **kwargs), theirs_cls(opt_theirs, **kwargs)
        for _ in range(12):
            opt_ours.step()
            opt_theirs.step()
            ours.step()
            theirs.step()
            np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-12)
