"""Losses as functions (mse_loss, binary_cross_entropy, ...) and as modules (MSELoss, ...):
`loss = nn.MSELoss()(prediction, target)`.

Each checks its target (shape, dtype) before computing anything, and reduces with
reduction='mean' (default), 'sum' or 'none'.
"""

from __future__ import annotations

from math import prod
from typing import Any

import numpy as np

from autograd_lite import Tensor, ops
from autograd_lite.dtypes import REAL, require_numbers
from autograd_lite.ops.nll import classes_outside

from ._checks import Array, array_of, input_error, loss_input
from ._checks import reduction as check_reduction
from .module import Module


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return ops.mean(loss)
    if reduction == "sum":
        return ops.sum(loss)
    return loss


def _float_dtype(x: Array) -> np.dtype:
    dtype = array_of(x).dtype
    return dtype if dtype.kind == "f" else np.dtype(np.float64)


def _constant(value: Array, like: Array) -> Tensor | np.ndarray:
    """A Tensor that requires grad as is; anything else as an array of `like`'s float dtype."""
    if isinstance(value, Tensor) and value.requires_grad:
        return value
    array, dtype = array_of(value), _float_dtype(like)
    # The op, not numpy's astype: a compiled step converts each new target (numpy's copy
    # would be a constant of the trace).
    return array if array.dtype == dtype else ops.astype(array, dtype=dtype)


def _matching_target(x: Array, target: Array, who: object) -> Tensor | np.ndarray:
    """The target of an elementwise loss: same shape as the input, numeric; a constant target
    takes the input's dtype, so a float32 model's loss stays float32."""
    shape = x.shape
    values = array_of(target)
    require_numbers(values.dtype, who, "target", REAL)
    if values.shape != shape:
        hint = ""
        if values.size == prod(shape):
            hint = f"; reshape it to match, e.g. target.reshape{shape}"
        raise input_error(
            f"{who}: input of shape {shape} and target of shape {values.shape} differ; "
            f"they must match exactly (broadcasting would pair every prediction with every "
            f"target){hint}"
        )
    return _constant(target, x)


def mse_loss(input: Array, target: Array, reduction: str = "mean") -> Tensor:
    """Squared error: l = (input - target)^2, then mean (default), sum or none."""
    return _mse_loss(input, target, check_reduction(reduction, "mse_loss"), "mse_loss")


def _mse_loss(input, target, reduction, who) -> Tensor:
    input = loss_input(input, who)
    target = _matching_target(input, target, who)
    return _reduce(ops.pow(ops.sub(input, target), 2), reduction)


_LOG_FLOOR = float(np.exp(-100.0))


def _clamped_log(p: Array) -> Tensor:
    """log(p), clamped below at -100 as torch's BCELoss does: finite at p = 0, with a zero
    gradient there (the inner `where` keeps log's gradient g/p from becoming 0/0 = nan)."""
    safe = array_of(p) > _LOG_FLOOR
    return ops.where(safe, ops.log(ops.where(safe, p, 1.0)), -100.0)


def binary_cross_entropy(
    input: Array, target: Array, weight: Array | None = None, reduction: str = "mean"
) -> Tensor:
    """l = -w (y log p + (1 - y) log(1 - p)) for probabilities p, logs clamped at -100."""
    who = "binary_cross_entropy"
    return _binary_cross_entropy(input, target, weight, check_reduction(reduction, who), who)


def _weighted(loss: Tensor, weight: Array | None, input: Tensor, who: object) -> Tensor:
    """loss * weight; the weight must broadcast to the input's shape (it may not enlarge it)."""
    if weight is None:
        return loss
    w = array_of(weight)
    require_numbers(w.dtype, who, "weight", REAL)
    shape = input.shape
    if w.ndim > len(shape) or any(n not in (1, m) for n, m in zip(w.shape[::-1], shape[::-1])):
        raise input_error(
            f"{who}: weight of shape {w.shape} does not broadcast to the input's shape {shape}"
        )
    return ops.mul(loss, _constant(weight, input))


def _binary_cross_entropy(input, target, weight, reduction, who) -> Tensor:
    input = loss_input(input, who)
    _probabilities(input.data, "input", who)
    y = _matching_target(input, target, who)
    _probabilities(array_of(y), "target", who)
    loss = -(y * _clamped_log(input) + (1 - y) * _clamped_log(1 - input))
    return _reduce(_weighted(loss, weight, input, who), reduction)


def binary_cross_entropy_with_logits(
    input: Array, target: Array, weight: Array | None = None, reduction: str = "mean"
) -> Tensor:
    """Binary cross-entropy of sigmoid(input), stably: l = w (softplus(x) - y x).

    The same value as -(y log sigmoid(x) + (1-y) log(1 - sigmoid(x))), with no log of 0.
    """
    who = "binary_cross_entropy_with_logits"
    return _bce_with_logits(input, target, weight, check_reduction(reduction, who), who)


def _probabilities(p: np.ndarray, what: str, who: object) -> None:
    """As torch's BCELoss: values outside [0, 1], NaN included, are refused."""
    if p.size and not (p.min() >= 0 and p.max() <= 1):
        hint = (
            "apply sigmoid first, or use BCEWithLogitsLoss on the raw scores (more stable)"
            if what == "input"
            else "targets are probabilities of the positive class"
        )
        raise input_error(
            f"{who}: {what} must hold probabilities in [0, 1], got values in "
            f"[{p.min():.4g}, {p.max():.4g}]; {hint}"
        )


def _bce_with_logits(input, target, weight, reduction, who) -> Tensor:
    input = loss_input(input, who)
    y = _matching_target(input, target, who)
    loss = ops.sub(ops.softplus(input), ops.mul(y, input))
    return _reduce(_weighted(loss, weight, input, who), reduction)


def _class_targets(input: Array, target: Array, who: object) -> tuple[np.ndarray, int]:
    """Checked integer class indices; returns them and the class axis (1, or 0 unbatched)."""
    shape = input.shape
    if not shape:
        raise input_error(f"{who}: input must have a class axis, got a scalar")
    axis = 1 if len(shape) >= 2 else 0
    classes = shape[axis]
    expected = shape[:axis] + shape[axis + 1 :]
    labels = array_of(target)
    require_numbers(labels.dtype, who, "target", REAL)
    if labels.dtype.kind not in "iu":
        hint = ""
        if labels.shape == shape:
            hint = " (one-hot or probability targets: pass target.argmax(axis=1))"
        raise input_error(
            f"{who}: target must hold integer class indices in [0, {classes}), got dtype "
            f"{labels.dtype}{hint}"
        )
    if labels.shape != expected:
        raise input_error(
            f"{who}: input of shape {shape} ({classes} classes on axis {axis}) needs a target "
            f"of shape {expected}, got {labels.shape}"
        )
    problem = classes_outside(labels, classes)
    if problem:
        raise input_error(f"{who}: {problem}")
    return labels, axis


def cross_entropy(input: Array, target: Array, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy from raw scores and integer class targets:
    l = -log_softmax(input)[target] = logsumexp(input) - input[target].

    input (N, C) or (N, C, d1, ...) with classes on axis 1, or (C,) unbatched; target the
    same shape without the class axis.
    """
    who = "cross_entropy"
    return _cross_entropy(input, target, check_reduction(reduction, who), who)


def _cross_entropy(input, target, reduction, who) -> Tensor:
    input = loss_input(input, who)
    labels, axis = _class_targets(input, target, who)
    # The labels array itself is nll_loss's parameter, so a compiled step rebinds it on every
    # call (a one-hot mask made from it with numpy would be frozen).
    return ops.nll_loss(ops.log_softmax(input, axis=axis), target=labels, reduction=reduction)


def nll_loss(input: Array, target: Array, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood from log-probabilities: l = -input[target]."""
    who = "nll_loss"
    return _nll_loss(input, target, check_reduction(reduction, who), who)


def _nll_loss(input, target, reduction, who) -> Tensor:
    input = loss_input(input, who)
    labels, _ = _class_targets(input, target, who)
    return ops.nll_loss(input, target=labels, reduction=reduction)


class _Loss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = check_reduction(reduction, type(self).__name__)

    def extra_repr(self) -> str:
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    """l = (input - target)^2; target of the input's shape."""

    def forward(self, input: Any, target: Any) -> Tensor:
        return _mse_loss(input, target, self.reduction, "MSELoss")


class BCELoss(_Loss):
    """l = -w (y log p + (1 - y) log(1 - p)) for probabilities p in [0, 1] (e.g. a sigmoid
    output); each log is clamped at -100 as in torch, so p = 0 or 1 gives a finite loss."""

    def __init__(self, weight: Any = None, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.weight = weight

    def forward(self, input: Any, target: Any) -> Tensor:
        return _binary_cross_entropy(input, target, self.weight, self.reduction, "BCELoss")


class BCEWithLogitsLoss(_Loss):
    """l = w (softplus(x) - y x): BCELoss on sigmoid(x), computed stably from the logits x."""

    def __init__(self, weight: Any = None, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.weight = weight

    def forward(self, input: Any, target: Any) -> Tensor:
        return _bce_with_logits(input, target, self.weight, self.reduction, "BCEWithLogitsLoss")


class CrossEntropyLoss(_Loss):
    """l = -log_softmax(input)[target]: raw scores (N, C) and integer classes (N,)."""

    def forward(self, input: Any, target: Any) -> Tensor:
        return _cross_entropy(input, target, self.reduction, "CrossEntropyLoss")


class NLLLoss(_Loss):
    """l = -input[target]: log-probabilities (N, C) (e.g. from LogSoftmax) and classes (N,)."""

    def forward(self, input: Any, target: Any) -> Tensor:
        return _nll_loss(input, target, self.reduction, "NLLLoss")
