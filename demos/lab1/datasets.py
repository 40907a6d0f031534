"""The lab's two data sets (the course's definitions) and the seeds that make a run reproducible."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


def generate_linear(
    n: int = 100, rng: np.random.Generator | int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """n points uniform in [0, 1)^2, labelled by the diagonal: y = 0 if x1 > x2 else 1.

    Returns x of shape (n, 2) and y of shape (n, 1), both float64.
    """
    if n < 1:
        raise ValueError(f"generate_linear: n must be a positive number of points, got {n}")
    x = np.random.default_rng(rng).uniform(0.0, 1.0, (n, 2))
    y = (x[:, 0] <= x[:, 1]).astype(np.float64)[:, None]
    return x, y


def generate_xor_easy() -> tuple[np.ndarray, np.ndarray]:
    """21 points on the two diagonals: for i = 0..10, t = 0.1 i, the point (t, t) with label 0,
    then (except at i = 5, the crossing) (t, 1 - t) with label 1, interleaved in that order.

    Returns x of shape (21, 2) and y of shape (21, 1), both float64.
    """
    points, labels = [], []
    for i in range(11):
        t = 0.1 * i
        points.append((t, t))
        labels.append(0.0)
        if i != 5:
            points.append((t, 1.0 - t))
            labels.append(1.0)
    return np.array(points), np.array(labels)[:, None]


DATASETS = ("linear", "xor_easy")

XOR_LINEAR_BOUND = 16 / 21
"""The best accuracy any linear classifier (a half-plane) reaches on XOR-easy: 16 of the 21
points, e.g. the five points (t, 1 - t) with t < 0.5 on one side and the other 16 on the other."""

TEST_POINTS = 1000


@dataclass(frozen=True)
class Seeds:
    """The three independent random streams of one run, so changing one (say the weights'
    initialization) leaves the others (the data, the mini-batch order) as they were."""

    data: int
    init: int
    shuffle: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class Dataset:
    """Training points x (n, 2) and labels y (n, 1); for the linear set also a test set of
    TEST_POINTS fresh points (the ones that follow the training set in the data stream)."""

    name: str
    x: np.ndarray
    y: np.ndarray
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None

    @property
    def majority_rate(self) -> float:
        """The accuracy of a constant prediction of the more frequent label: what a network
        that learned nothing scores."""
        ones = float(self.y.mean())
        return max(ones, 1.0 - ones)


def load(name: str, data_seed: int, n: int = 100) -> Dataset:
    """The data set `name` ('linear' or 'xor_easy'); the linear one is drawn from data_seed."""
    if name == "linear":
        rng = np.random.default_rng(data_seed)
        x, y = generate_linear(n, rng)
        x_test, y_test = generate_linear(TEST_POINTS, rng)
        return Dataset(name, x, y, x_test, y_test)
    if name == "xor_easy":
        return Dataset(name, *generate_xor_easy())
    raise ValueError(f"unknown data set {name!r}; expected one of {', '.join(DATASETS)}")
