"""Adagrad (torch's formulas)."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from .optimizer import Optimizer, ParamsArg


class Adagrad(Optimizer):
    """Per-coordinate learning rates from the sum of squared gradients.

    g = grad + weight_decay * p;   t = t + 1;   clr = lr / (1 + (t - 1) lr_decay)
    s = s + g^2   (s starts at initial_accumulator_value)
    p = p - clr * g / (sqrt(s) + eps)
    """

    limits: ClassVar[dict[str, tuple[float, float]]] = {
        **Optimizer.limits,
        "lr_decay": (0, math.inf),
        "initial_accumulator_value": (0, math.inf),
        "eps": (0, math.inf),
    }

    def __init__(
        self,
        params: ParamsArg,
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
    ) -> None:
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            eps=eps,
        )
        super().__init__(params, defaults)

    def _update(
        self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        if not state:
            state["step"] = 0
            state["sum"] = np.full_like(param, group["initial_accumulator_value"])
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * param
        state["step"] += 1
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        total = state["sum"]
        total += grad * grad
        denom = np.sqrt(total)
        denom += group["eps"]
        param -= clr * (grad / denom)
