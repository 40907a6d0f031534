"""Dropout: randomly zero activations while training, reproducibly."""

from __future__ import annotations

from typing import Any

import numpy as np

from autograd_lite import Tensor
from autograd_lite.creation import generator

from . import functional as F
from ._checks import as_input, number
from .module import Module


class Dropout(Module):
    """While training, zero each element with probability p and scale the rest by 1/(1-p),
    so the expected output equals the input; in eval mode, the identity.

    The masks come from `rng` (a Generator, a seed, or None for autograd_lite's generator),
    kept by the layer, so a seeded model drops the same units on every run.
    """

    def __init__(self, p: float = 0.5, *, rng: np.random.Generator | int | None = None) -> None:
        super().__init__()
        self.p = number(p, "p", "Dropout", 0, 1)
        self.rng = generator(rng)

    def forward(self, x: Any) -> Tensor:
        return F.dropout(as_input(x, self), self.p, self.training, self.rng)

    def extra_repr(self) -> str:
        return f"p={self.p}"
