"""Optimizer: the base class. It holds parameter groups and per-parameter state, and updates
each parameter's `.data` in place with plain numpy, so nothing is recorded on the tape."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

import numpy as np

from autograd_lite import Tensor, enable_grad
from autograd_lite.dtypes import REAL

from .._checks import input_error, number

ParamsArg = Iterable[Tensor] | Iterable[dict[str, Any]]

# How torch's optimizers name a hyperparameter in "Invalid ...: value" (others: "<name> value").
_TORCH_LABELS = {"lr": "learning rate", "eps": "epsilon value"}


class Optimizer:
    """`params` is an iterable of parameters, or of dicts {'params': [...], 'lr': ...} that
    override the defaults per group, as in torch. Subclasses define `_update`; every scalar
    they use is a Python float, so float32 parameters and their state stay float32."""

    limits: ClassVar[dict[str, tuple[float, float]]] = {
        "lr": (0, math.inf),
        "weight_decay": (0, math.inf),
    }
    """The interval [low, high] each numeric hyperparameter must lie in (subclasses extend it);
    NaN and infinities are refused, since one would turn every parameter into NaN."""

    def __init__(self, params: ParamsArg, defaults: dict[str, Any]) -> None:
        if isinstance(params, Tensor):
            raise TypeError(
                f"{type(self).__name__}: params must be an iterable of Tensors or dicts, got a "
                "single Tensor; pass [tensor] or model.parameters()"
            )
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        self.defaults = dict(defaults)
        self.param_groups: list[dict[str, Any]] = []
        self.state: dict[Tensor, dict[str, Any]] = {}
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group: dict[str, Any]) -> None:
        """Add parameters with their own hyperparameters (missing ones take the defaults)."""
        who = type(self).__name__
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        for p in params:
            if not isinstance(p, Tensor):
                raise input_error(
                    f"{who}: can only optimize Tensors, got {type(p).__name__}", TypeError
                )
            if p.data.dtype.kind != "f":
                raise input_error(f"{who}: can only optimize floating tensors, got {p.dtype}")
            if not p.is_leaf:
                raise input_error(
                    f"{who}: can't optimize a non-leaf Tensor (made by {p.op}); optimize the "
                    "leaves it was computed from"
                )
        known = {id(p) for g in self.param_groups for p in g["params"]}
        if len({id(p) for p in params}) < len(params) or known & {id(p) for p in params}:
            raise input_error(f"{who}: some parameters appear more than once")
        merged = {**self.defaults, **group, "params": params}
        self._check(merged)
        self.param_groups.append(merged)

    def _check(self, group: dict[str, Any]) -> None:
        """Raise ValueError (TypeError for a non-number) for an invalid hyperparameter in
        `group`, in torch's words: "Invalid learning rate: nan"."""
        who = type(self).__name__
        for name, (low, high) in self.limits.items():
            if name in group:
                label = _TORCH_LABELS.get(name, f"{name} value")
                number(group[name], name, who, low, high, label=label)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset gradients: to None (default, as torch), or fill the arrays with zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad = np.zeros_like(p.data)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient. `closure` (optional) recomputes and
        returns the loss, which step returns."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        updates = []
        for k, group in enumerate(self.param_groups):
            for i, p in enumerate(group["params"]):
                grad = p.grad
                if grad is None:
                    continue
                if type(grad) is not np.ndarray:  # a Tensor after backward(create_graph=True)
                    grad = np.asarray(grad.data if isinstance(grad, Tensor) else grad)
                # Checked before any update: numpy would broadcast a gradient of another shape
                # into a wrong update, or fail halfway through the parameters.
                if grad.shape != p.data.shape or grad.dtype.kind not in REAL:
                    raise input_error(
                        f"{type(self).__name__}.step: parameter {i} of group {k} has shape "
                        f"{p.data.shape}, but its .grad has shape {grad.shape} and dtype "
                        f"{grad.dtype}; nothing was updated"
                    )
                if grad.dtype != p.data.dtype:  # backward gives the parameter's; a user may not
                    grad = grad.astype(p.data.dtype)
                updates.append((p, grad, group))
        for p, grad, group in updates:
            state = self.state.get(p)
            if state is None:
                state = self.state[p] = {}
            self._update(p.data, grad, state, group)
        return loss

    def _update(
        self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]
    ) -> None:
        raise NotImplementedError(f"{type(self).__name__} does not define _update()")

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """{'state': {index: {name: value}}, 'param_groups': [{hyperparameters, 'params':
        [index, ...]}]}: parameters by position, arrays copied (torch's layout)."""
        groups, state, index = [], {}, 0
        for group in self.param_groups:
            saved = {k: v for k, v in group.items() if k != "params"}
            saved["params"] = list(range(index, index + len(group["params"])))
            for i, p in enumerate(group["params"], start=index):
                if p in self.state:
                    state[i] = {k: _copy(v) for k, v in self.state[p].items()}
            index += len(group["params"])
            groups.append(saved)
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyperparameters and state saved by `state_dict()`; everything is checked
        first (group sizes, hyperparameters, array shapes and dtypes), so on error the
        optimizer is unchanged."""
        who = f"{type(self).__name__}.load_state_dict"
        if not (isinstance(state_dict, Mapping) and {"state", "param_groups"} <= state_dict.keys()):
            raise input_error(
                f"{who}: expected what state_dict() returns, a dict with 'state' and "
                f"'param_groups', got {type(state_dict).__name__}",
                TypeError,
            )
        saved_groups = list(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise input_error(
                f"{who}: the state has {len(saved_groups)} parameter groups, the optimizer "
                f"{len(self.param_groups)}"
            )
        by_index = {}
        for k, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(group["params"]) != len(saved["params"]):
                raise input_error(
                    f"{who}: group {k} has {len(saved['params'])} parameters in the state, "
                    f"{len(group['params'])} in the optimizer"
                )
            self._check({**group, **saved, "params": group["params"]})
            by_index.update(zip(saved["params"], group["params"]))
        new_state = {}
        for i, entry in state_dict["state"].items():
            if i not in by_index:
                raise input_error(f"{who}: the state names parameter {i}, which no group holds")
            p = by_index[i]
            for name, value in entry.items():
                if isinstance(value, np.ndarray) and (
                    value.shape != p.shape or value.dtype.kind not in REAL
                ):
                    raise input_error(
                        f"{who}: {name!r} of parameter {i} has shape {value.shape} and dtype "
                        f"{value.dtype}, the parameter {p.shape} and {p.dtype}"
                    )
            new_state[p] = {
                name: value.astype(p.dtype) if isinstance(value, np.ndarray) else value
                for name, value in entry.items()
            }
        for group, saved in zip(self.param_groups, saved_groups):
            group.update({k: v for k, v in saved.items() if k != "params"})
        self.state = new_state

    def __repr__(self) -> str:
        lines = [type(self).__name__ + " ("]
        for k, group in enumerate(self.param_groups):
            settings = ", ".join(f"{name}={v}" for name, v in group.items() if name != "params")
            lines.append(f"  group {k}: {len(group['params'])} tensors, {settings}")
        return "\n".join([*lines, ")"])


def _copy(value: Any) -> Any:
    return np.array(value) if isinstance(value, np.ndarray) else value
