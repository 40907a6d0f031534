"""Adam and AdamW (torch's formulas, including amsgrad)."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from .._checks import input_error, number
from .optimizer import Optimizer, ParamsArg


class Adam(Optimizer):
    """Adam: moment estimates with bias correction.

    g = grad + weight_decay * p           (AdamW instead: p = p * (1 - lr * weight_decay))
    m = beta1 m + (1 - beta1) g;   v = beta2 v + (1 - beta2) g^2;   t = t + 1
    v_max = max(v_max, v) (amsgrad: used in place of v below)
    p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
    """

    limits: ClassVar[dict[str, tuple[float, float]]] = {**Optimizer.limits, "eps": (0, math.inf)}

    decoupled_weight_decay = False

    def __init__(
        self,
        params: ParamsArg,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
    ) -> None:
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)
        super().__init__(params, defaults)

    def _check(self, group: dict[str, Any]) -> None:
        super()._check(group)
        who, betas = type(self).__name__, group["betas"]
        if not isinstance(betas, tuple | list) or len(betas) != 2:
            raise input_error(f"{who}: betas must be a pair (beta1, beta2), got {betas!r}")
        for i, beta in enumerate(betas):
            number(
                beta, f"betas[{i}]", who, 0, 1, high_open=True, label=f"beta parameter at index {i}"
            )

    def _update(
        self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        lr, weight_decay = group["lr"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(param)
            state["exp_avg_sq"] = np.zeros_like(param)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(param)
        if weight_decay:
            if self.decoupled_weight_decay:
                param *= 1 - lr * weight_decay
            else:
                grad = grad + weight_decay * param
        state["step"] += 1
        step = state["step"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m *= beta1
        m += (1 - beta1) * grad
        v *= beta2
        v += (1 - beta2) * (grad * grad)
        if group["amsgrad"]:
            v = np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
        denom = np.sqrt(v)
        denom /= math.sqrt(1 - beta2**step)
        denom += group["eps"]
        param -= (lr / (1 - beta1**step)) * (m / denom)


class AdamW(Adam):
    """Adam with decoupled weight decay: p = p * (1 - lr * weight_decay) before the Adam step
    (default weight_decay 1e-2), instead of adding weight_decay * p to the gradient."""

    decoupled_weight_decay = True

    def __init__(
        self,
        params: ParamsArg,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)
