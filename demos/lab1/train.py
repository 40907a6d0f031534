"""One training run: the network a configuration names, full-batch (or mini-batch) training
with the lab's squared-error loss, and what the run measured."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

import autograd_lite as al
import nn
from nn.activations import activation as make_activation

from .datasets import Dataset, Seeds

OPTIMIZERS = ("gd", "momentum", "adagrad", "rmsprop", "adam")
INITS = ("normal", "xavier_normal", "kaiming_normal")
CURVE_POINTS = 200


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a network and its training, except the seeds.

    The default is the report's network: 2-4-4-1, sigmoid everywhere, N(0, 1) weights and zero
    biases, full-batch gradient descent with lr 0.1 on L = 1/(2m) sum (p - y)^2.
    `conv_kernel` set puts a Conv1d(1, hidden[0], conv_kernel) in front: the point (x1, x2) read
    as a 1-channel signal of length 2.
    """

    hidden: tuple[int, ...] = (4, 4)
    activation: str | None = "sigmoid"
    output_activation: str | None = "sigmoid"
    init: str = "normal"
    optimizer: str = "gd"
    lr: float = 0.1
    momentum: float = 0.9
    epochs: int = 50_000
    batch_size: int | None = None
    conv_kernel: int | None = None

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"RunConfig: optimizer must be one of {', '.join(OPTIMIZERS)}, "
                f"got {self.optimizer!r}"
            )
        if self.init not in INITS:
            raise ValueError(
                f"RunConfig: init must be one of {', '.join(INITS)}, got {self.init!r}"
            )
        if self.conv_kernel is not None and (
            self.init != "normal" or self.conv_kernel not in (1, 2)
        ):
            raise ValueError(
                "RunConfig: the convolutional variant takes conv_kernel 1 or 2 and init='normal', "
                f"got conv_kernel={self.conv_kernel}, init={self.init!r}"
            )
        if self.epochs < 1 or (self.batch_size is not None and self.batch_size < 1):
            raise ValueError(
                f"RunConfig: epochs and batch_size must be positive, got epochs={self.epochs}, "
                f"batch_size={self.batch_size}"
            )

    @property
    def is_linear_classifier(self) -> bool:
        """True when the decision boundary is a line whatever the weights: no hidden activation
        (the layers compose to one affine map), or a width-1 layer (every later function is
        monotone in one projection w.x + b, as every activation here is monotone). Such a model
        cannot exceed 16/21 on XOR-easy. A k = 1 conv layer gives two features per channel, so
        its width does not count."""
        widths = self.hidden[1:] if self.conv_kernel == 1 else self.hidden
        return self.activation is None or 1 in widths

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class ConvNet(nn.Module):
    """The convolutional variant: x (N, 2) -> (N, 1, 2) -> Conv1d(1, C, k) -> flatten ->
    activation -> MLP. With k = 2 the kernel covers the whole signal, so the conv layer is a
    Linear(2, C) in disguise; with k = 1 one weight pair per channel is shared by x1 and x2."""

    def __init__(self, config: RunConfig, rng: np.random.Generator) -> None:
        super().__init__()
        channels, *rest = config.hidden
        kernel = config.conv_kernel
        positions = 2 - kernel + 1
        self.conv = nn.Conv1d(1, channels, kernel_size=kernel, rng=rng)
        nn.init.normal_(self.conv.weight, rng=rng)
        nn.init.zeros_(self.conv.bias)
        self.activation = make_activation(config.activation)
        self.mlp = nn.MLP(
            [channels * positions, *rest, 1],
            activation=config.activation,
            output_activation=config.output_activation,
            init="normal",
            rng=rng,
        )

    def forward(self, x: Any) -> al.Tensor:
        signal = al.tensor(x).reshape(-1, 1, 2)
        features = self.conv(signal).flatten(1)
        return self.mlp(self.activation(features))


def build_model(config: RunConfig, init_seed: int) -> nn.Module:
    """The network `config` describes, initialized from `init_seed` alone."""
    rng = np.random.default_rng(init_seed)
    if config.conv_kernel is not None:
        return ConvNet(config, rng)
    return nn.MLP(
        [2, *config.hidden, 1],
        activation=config.activation,
        output_activation=config.output_activation,
        init=config.init,
        rng=rng,
    )


def build_optimizer(config: RunConfig, params: Any) -> nn.optim.Optimizer:
    """Plain gradient descent ('gd') is SGD on the full batch; 'momentum' adds heavy-ball
    momentum; the adaptive ones use torch's defaults apart from the learning rate."""
    if config.optimizer in ("gd", "momentum"):
        momentum = config.momentum if config.optimizer == "momentum" else 0.0
        return nn.optim.SGD(params, lr=config.lr, momentum=momentum)
    optimizer = {"adagrad": nn.optim.Adagrad, "rmsprop": nn.optim.RMSprop, "adam": nn.optim.Adam}
    return optimizer[config.optimizer](params, lr=config.lr)


_mse = nn.MSELoss()


def half_squared_error(p: al.Tensor, y: np.ndarray) -> al.Tensor:
    """The report's loss, L = 1/(2m) sum (p - y)^2, so dL/dp = (p - y)/m: exactly the gradient
    its hand-written backprop used, so a learning rate means the same step here as there."""
    return 0.5 * _mse(p, y)


def predict(model: nn.Module, x: np.ndarray) -> np.ndarray:
    """The network's outputs for x, as an (n, 1) ndarray, with no graph recorded."""
    with al.no_grad():
        return np.asarray(model(x).data)


def accuracy(p: np.ndarray, y: np.ndarray) -> float:
    """Share of points whose output, rounded at 0.5, equals the label."""
    return float(np.mean((p > 0.5) == (y > 0.5)))


@dataclass
class History:
    """What one run measured. `curve` holds the loss at `curve_epochs` (at most CURVE_POINTS
    of them, always including the first and the last epoch run)."""

    losses: np.ndarray
    first_perfect: int | None
    diverged_at: int | None
    curve_epochs: list[int] = field(default_factory=list)
    curve: list[float] = field(default_factory=list)

    @property
    def final_loss(self) -> float:
        return float(self.losses[-1])


def train(
    model: nn.Module,
    data: Dataset,
    config: RunConfig,
    seeds: Seeds,
    on_epoch: Callable[[int, float], None] | None = None,
) -> History:
    """Train `model` on `data` for config.epochs epochs; stop early only if the loss overflows.

    Each epoch is one gradient step on the full batch, or, with config.batch_size, one pass
    over mini-batches in an order drawn from seeds.shuffle. The loss and the accuracy recorded
    for an epoch are those of the full batch as the epoch began (free with full batches).
    `on_epoch(epoch, loss)` is called after every epoch (progress bars, logging).
    """
    optimizer = build_optimizer(config, model.parameters())
    shuffle = np.random.default_rng(seeds.shuffle)
    n = len(data.x)
    batch = n if config.batch_size is None else min(config.batch_size, n)
    x = al.tensor(data.x)
    losses = np.empty(config.epochs)
    first_perfect = diverged_at = None
    # Overflow is expected in the no-activation experiments: it is what the report saw as NaN.
    with np.errstate(over="ignore", invalid="ignore"):
        for epoch in range(config.epochs):
            if batch == n:
                p, loss_value = _step(model, optimizer, x, data.y)
            else:
                p = predict(model, data.x)
                loss_value = float(half_squared_error(al.tensor(p), data.y))
                for chunk in np.array_split(shuffle.permutation(n), math.ceil(n / batch)):
                    _step(model, optimizer, data.x[chunk], data.y[chunk])
            losses[epoch] = loss_value
            if on_epoch is not None:
                on_epoch(epoch, loss_value)
            if not math.isfinite(loss_value):
                diverged_at = epoch
                losses = losses[: epoch + 1]
                break
            if first_perfect is None and accuracy(p, data.y) == 1.0:
                first_perfect = epoch
    epochs = _curve_epochs(len(losses))
    return History(losses, first_perfect, diverged_at, epochs, [float(losses[e]) for e in epochs])


def _step(
    model: nn.Module, optimizer: nn.optim.Optimizer, x: Any, y: np.ndarray
) -> tuple[np.ndarray, float]:
    """One gradient step; returns the outputs and the loss it was taken from."""
    optimizer.zero_grad()
    p = model(x)
    loss = half_squared_error(p, y)
    loss.backward()
    optimizer.step()
    return p.data, float(loss.data)


def _curve_epochs(epochs: int) -> list[int]:
    """Evenly spaced epochs, and as many spaced evenly on a log scale, so that a curve reads
    well against the epoch on either scale."""
    even = np.linspace(0, epochs - 1, min(CURVE_POINTS // 2, epochs))
    geometric = np.geomspace(1, epochs, min(CURVE_POINTS // 2, epochs)) - 1
    return sorted({int(e) for e in np.concatenate([even, geometric]).round()})
