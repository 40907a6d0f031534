"""Linear (y = x W^T + b) and the shape helper Flatten."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from autograd_lite import Tensor, ops
from autograd_lite.creation import generator

from . import functional as F
from . import init
from ._checks import as_input, float_dtype, integer, positive_int
from .module import Module
from .parameter import Parameter


class Linear(Module):
    """y = x W^T + b, with weight W of shape (out_features, in_features) as in torch.

    Initialized as torch does: W ~ U(-1/sqrt(in), 1/sqrt(in)) (kaiming_uniform with a=sqrt(5))
    and b ~ U(-1/sqrt(in), 1/sqrt(in)), drawn from `rng` (a Generator, a seed, or None for the
    generator `autograd_lite.manual_seed` sets).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        rng: np.random.Generator | int | None = None,
        dtype: Any = np.float64,
    ) -> None:
        super().__init__()
        self.in_features = positive_int(in_features, "in_features", "Linear")
        self.out_features = positive_int(out_features, "out_features", "Linear")
        dtype = float_dtype(dtype, "Linear")
        self.weight = Parameter(np.empty((out_features, in_features), dtype))
        self.bias = Parameter(np.empty(out_features, dtype)) if bias else None
        self.reset_parameters(rng)

    def reset_parameters(self, rng: np.random.Generator | int | None = None) -> None:
        """Draw fresh weights and bias with torch's default initialization."""
        rng = generator(rng)
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), rng=rng)
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features)
            init.uniform_(self.bias, -bound, bound, rng=rng)

    def forward(self, x: Any) -> Tensor:
        return F._linear(x, self.weight, self.bias, self)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


class Flatten(Module):
    """Merge axes start_dim..end_dim into one; the default keeps the batch axis:
    (N, C, H, W) -> (N, C*H*W)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = integer(start_dim, "start_dim", "Flatten")
        self.end_dim = integer(end_dim, "end_dim", "Flatten")

    def forward(self, x: Any) -> Tensor:
        return ops.flatten(as_input(x, self), self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
