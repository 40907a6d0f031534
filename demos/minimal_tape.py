"""The least an eager tape in Python does: a floor for autograd_lite's speed.

Reverse mode in its barest form (micrograd's design, on numpy arrays): each op computes its
result and keeps a closure that sends a gradient back to its inputs; `backward` orders the
graph (iteratively) and calls the closures latest first. Nothing else: no checks, no error
messages, no dtypes, no hooks, no arrays released during backward (a closure keeps every
array it names until the graph is dropped), no rule that is not written for the one shape it
meets here, and only the ops of the benchmark's lab, overhead and deep workloads.

`python -m demos.benchmark` times it beside autograd_lite as "minimal tape". Whatever an
eager engine of Python objects does per op, it does at least this: make an object for the
result, keep what backward reads, and visit the op again in backward. Its ratio to numpy is
what such a design costs before any of the safety a library owes its users.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


class Var:
    """A value on the tape: its array, its gradient, the Vars it was made from, and the
    closure that sends its gradient to them (None for a leaf)."""

    __slots__ = ("value", "grad", "inputs", "send")

    def __init__(self, value: np.ndarray, inputs: tuple = (), send: Callable | None = None):
        self.value, self.grad, self.inputs, self.send = value, None, inputs, send


def _add_grad(v: Var, g: np.ndarray) -> None:
    v.grad = g if v.grad is None else v.grad + g


def matmul(x: Var, w: Var) -> Var:
    a, b = x.value, w.value

    def send(g: np.ndarray) -> None:
        if x.send is not None:  # the data (a leaf) need no gradient; a hidden layer does
            _add_grad(x, g @ b.T)
        _add_grad(w, a.T @ g)

    return Var(a @ b, (x, w), send)


def add(x: Var, y: Var) -> Var:
    """x + y, where y may be a bias broadcast over x's rows."""
    bias = y.value.ndim < x.value.ndim

    def send(g: np.ndarray) -> None:
        _add_grad(x, g)
        _add_grad(y, g.sum(0) if bias else g)

    return Var(x.value + y.value, (x, y), send)


def mul(x: Var, y: Var) -> Var:
    a, b = x.value, y.value

    def send(g: np.ndarray) -> None:
        _add_grad(x, g * b)
        _add_grad(y, g * a)

    return Var(a * b, (x, y), send)


def minus(x: Var, c: np.ndarray) -> Var:
    """x - c for a constant c."""
    return Var(x.value - c, (x,), lambda g: _add_grad(x, g))


def square(x: Var) -> Var:
    a = x.value
    return Var(a**2, (x,), lambda g: _add_grad(x, g * 2 * a))


@np.errstate(over="ignore")  # the same formula and care as autograd_lite's sigmoid
def _sigmoid(a: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-a))


def sigmoid(x: Var) -> Var:
    y = _sigmoid(x.value)
    return Var(y, (x,), lambda g: _add_grad(x, g * y * (1 - y)))


def tanh(x: Var) -> Var:
    y = np.tanh(x.value)
    return Var(y, (x,), lambda g: _add_grad(x, g * (1 - y * y)))


def total(x: Var) -> Var:
    """The sum of all elements."""
    a = x.value
    return Var(np.asarray(a.sum()), (x,), lambda g: _add_grad(x, np.full(a.shape, g)))


def divide(x: Var, c: float) -> Var:
    """x / c for a constant c."""
    return Var(np.asarray(x.value / c), (x,), lambda g: _add_grad(x, g / c))


def backward(root: Var) -> None:
    """Fill .grad of every Var that `root` depends on, from d(root)/d(root) = 1."""
    order: list[Var] = []  # postorder: every Var after the Vars it was made from
    seen = {id(root)}
    stack = [(root, False)]
    while stack:
        v, expanded = stack.pop()
        if expanded:
            order.append(v)
            continue
        stack.append((v, True))
        for u in v.inputs:
            if id(u) not in seen:
                seen.add(id(u))
                stack.append((u, False))
    root.grad = np.ones_like(root.value)
    for v in reversed(order):
        if v.send is not None:
            v.send(v.grad)
            v.grad = None  # an op's gradient is used up; only the leaves' stay
