"""RMSprop (torch's formulas, including momentum and the centered variant)."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from .optimizer import Optimizer, ParamsArg


class RMSprop(Optimizer):
    """Divide the gradient by a running root mean square.

    g = grad + weight_decay * p
    s = alpha s + (1 - alpha) g^2;   a = alpha a + (1 - alpha) g   (a: centered only)
    d = sqrt(s - a^2) + eps (centered), else sqrt(s) + eps
    b = momentum b + g / d;  p = p - lr * b   (momentum > 0),  else p = p - lr * g / d
    """

    limits: ClassVar[dict[str, tuple[float, float]]] = {
        **Optimizer.limits, "eps": (0, math.inf), "momentum": (0, math.inf), "alpha": (0, 1),
    }  # fmt: skip

    def __init__(
        self,
        params: ParamsArg,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            alpha=alpha,
            eps=eps,
            weight_decay=weight_decay,
            momentum=momentum,
            centered=centered,
        )
        super().__init__(params, defaults)

    def _update(
        self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        alpha, momentum = group["alpha"], group["momentum"]
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(param)
            if momentum > 0:
                state["momentum_buffer"] = np.zeros_like(param)
            if group["centered"]:
                state["grad_avg"] = np.zeros_like(param)
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * param
        state["step"] += 1
        square_avg = state["square_avg"]
        square_avg *= alpha
        square_avg += (1 - alpha) * (grad * grad)
        if group["centered"]:
            grad_avg = state["grad_avg"]
            grad_avg *= alpha
            grad_avg += (1 - alpha) * grad
            denom = np.sqrt(square_avg - grad_avg * grad_avg)
        else:
            denom = np.sqrt(square_avg)
        denom += group["eps"]
        if momentum > 0:
            buf = state["momentum_buffer"]
            buf *= momentum
            buf += grad / denom
            param -= group["lr"] * buf
        else:
            param -= group["lr"] * (grad / denom)
