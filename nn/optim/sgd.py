"""SGD with momentum, dampening, Nesterov momentum and weight decay (torch's formulas)."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from .._checks import input_error
from .optimizer import Optimizer, ParamsArg


class SGD(Optimizer):
    """Stochastic gradient descent.

    g = grad + weight_decay * p
    b = g (first step), else b = momentum * b + (1 - dampening) * g      (if momentum)
    g = g + momentum * b (nesterov), else g = b                          (if momentum)
    p = p - lr * g
    """

    limits: ClassVar[dict[str, tuple[float, float]]] = {
        **Optimizer.limits,
        "momentum": (0, math.inf),
        "dampening": (-math.inf, math.inf),
    }

    def __init__(
        self,
        params: ParamsArg,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
        )
        super().__init__(params, defaults)

    def _check(self, group: dict[str, Any]) -> None:
        super()._check(group)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise input_error("SGD: Nesterov momentum requires a momentum and zero dampening")

    def _update(
        self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        momentum, weight_decay = group["momentum"], group["weight_decay"]
        if weight_decay:
            grad = grad + weight_decay * param
        if momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(grad, dtype=param.dtype)
            else:
                buf *= momentum
                buf += (1 - group["dampening"]) * grad
            grad = grad + momentum * buf if group["nesterov"] else buf
        param -= group["lr"] * grad
