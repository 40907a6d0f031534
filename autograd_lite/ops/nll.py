"""The negative log-likelihood of class targets, as one op with its adjoint: `nll_loss` picks
each example's log-probability at its target class and reduces them; `nll_loss_backward`
writes a gradient back at those positions. Each is the other's VJP (both are linear).

Cross-entropy is log_softmax then nll_loss, as in torch (LogSoftmaxBackward, NllLossBackward).
Composed from getitem, sum and mul (neg for reduction 'none'), the pick was three nodes, and
its gradient a scatter with np.add.at, which allows for repeated positions that a class pick
never has.
"""

from __future__ import annotations

import numpy as np

from ..engine import primitive

_REDUCTIONS = ("mean", "sum", "none")


def _class_index(target, shape: tuple, reduction) -> tuple:
    """The index into an array of `shape` that picks, at every position of `target`, its
    class: classes on axis 1 (axis 0 for a 1-D array), the other axes' positions as broadcast
    ranges, so no element is picked twice. Refuses a target that would pick anything else, and
    a reduction other than mean, sum and none (both ops take these three parameters)."""
    if not (isinstance(target, np.ndarray) and target.dtype.kind in "iu"):
        raise TypeError(f"target must be an array of integer class indices, got {target!r}")
    axis = 1 if len(shape) >= 2 else 0
    if not shape or target.shape != shape[:axis] + shape[axis + 1 :]:
        raise ValueError(
            f"a target of shape {target.shape} does not fit an input of shape {shape}: it must "
            "be the input's shape without the class axis (1, or 0 for a 1-D input)"
        )
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    if len(shape) == 1:
        return (target,)
    if target.ndim == 1:  # (N, C): the common case, without np.indices
        return (np.arange(len(target)), target)
    ranges = np.indices(target.shape, sparse=True)
    return (ranges[0], target, *ranges[1:])


def classes_outside(target: np.ndarray, classes: int) -> str:
    """What is wrong with integer class indices `target` for `classes` classes, or ''."""
    if not target.size or (target.min() >= 0 and target.max() < classes):
        return ""
    bad = target.min() if target.min() < 0 else target.max()
    return f"target holds class {bad}, outside [0, {classes}) for an input with {classes} classes"


@primitive
def nll_loss(x, *, target, reduction="mean"):
    """Negative log-likelihood of integer class `target`s, classes on axis 1 (axis 0 for a 1-D
    x), reduced by 'mean' (of no examples: NaN, as in torch), 'sum' or 'none'.

    y = -mean(x[target]);  dx = -g/n at the targets, 0 elsewhere
    """
    index = _class_index(target, x.shape, reduction)
    problem = classes_outside(target, x.shape[1 if x.ndim >= 2 else 0])
    if problem:  # numpy would read a negative class from the end
        raise ValueError(problem)
    picked = -x[index]  # negated before the sum, as numpy would: a bool x is refused
    if reduction == "none":
        return picked
    total = np.add.reduce(picked, axis=None)
    if reduction == "sum":
        return total
    return total / picked.size if picked.size else total * np.nan  # NaN, without 0/0's warning


@nll_loss.defvjp
def _nll_loss_vjp(g, out, x, *, target, reduction="mean"):
    return nll_loss_backward(g, target=target, shape=x.shape, reduction=reduction)


@primitive
def nll_loss_backward(g, *, target, shape, reduction="mean"):
    """nll_loss's gradient: zeros of `shape` with -g (-g/n for the mean) at each target class;
    g has the target's shape for reduction 'none', else it is 0-d.

    dx[target] = -g/n;  dg = nll_loss(G, target)
    """
    g, index = np.asarray(g), _class_index(target, tuple(shape), reduction)
    if g.shape != (target.shape if reduction == "none" else ()):
        raise ValueError(
            f"g of shape {g.shape} is not the gradient of nll_loss with reduction "
            f"{reduction!r} and a target of shape {target.shape}"
        )
    negated = -g  # (a bool g is refused, as numpy refuses its negative)
    dx = np.zeros(shape, dtype=negated.dtype)
    if target.size:  # (the mean of no examples has no 1/n: there is nothing to write)
        dx[index] = negated / target.size if reduction == "mean" else negated
    return dx


@nll_loss_backward.defvjp
def _nll_loss_backward_vjp(g, out, dy, *, target, shape, reduction="mean"):
    return nll_loss(g, target=target, reduction=reduction)
