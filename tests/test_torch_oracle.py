"""Random programs agree with torch.autograd: values and every leaf's gradient.

Hypothesis draws a chain of steps (elementwise, reductions, shape changes, indexing, products,
each possibly bringing in a new leaf of a broadcastable shape) and runs it in both engines.
Ties, zeros and clip bounds are left in on purpose: the kink conventions must agree too.
"""

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import autograd_lite as al
from autograd_lite.testing.strategies import tensors

torch = pytest.importorskip("torch")
F = torch.nn.functional


def _no_leaves(draw, shape):
    return []


def _broadcast_leaf(draw, shape):
    n, m = shape
    return [draw(st.sampled_from([(n, m), (1, m), (n, 1), (m,), ()]))]


class Step(NamedTuple):
    ours: Callable
    theirs: Callable
    leaves: Callable = _no_leaves  # (draw, current 2-D shape) -> shapes of new leaves


def _windows(x, unfold):
    n, m = x.shape
    return unfold(x, min(2, m)).reshape(n, -1)


STEPS = {
    "tanh": Step(al.tanh, torch.tanh),
    "sigmoid": Step(al.sigmoid, torch.sigmoid),
    "sin": Step(al.sin, torch.sin),
    "cos": Step(al.cos, torch.cos),
    "softplus": Step(al.softplus, F.softplus),
    "relu": Step(al.relu, torch.relu),
    "leaky_relu": Step(lambda x: al.leaky_relu(x, 0.1), lambda x: F.leaky_relu(x, 0.1)),
    "abs": Step(al.abs, torch.abs),
    "neg": Step(lambda x: -x, lambda x: -x),
    "gauss": Step(lambda x: al.exp(-x * x), lambda x: torch.exp(-x * x)),
    "log1p_square": Step(lambda x: al.log(1 + x * x), lambda x: torch.log(1 + x * x)),
    "hypot1": Step(lambda x: al.sqrt(1 + x**2), lambda x: torch.sqrt(1 + x**2)),
    "clip": Step(lambda x: x.clip(-1.0, 1.0), lambda x: x.clamp(-1.0, 1.0)),
    "log_softmax": Step(lambda x: al.log_softmax(x, -1), lambda x: torch.log_softmax(x, -1)),
    "softmax_rows": Step(lambda x: al.softmax(x, 0), lambda x: torch.softmax(x, 0)),
    "standardize": Step(
        lambda x: (x - x.mean(0, keepdims=True)) / al.sqrt(x.var(0, keepdims=True) + 1),
        lambda x: (
            (x - x.mean(0, keepdim=True)) / torch.sqrt(x.var(0, keepdim=True, correction=0) + 1)
        ),
    ),
    "transpose": Step(lambda x: x.T, lambda x: x.T),
    "reverse_rows": Step(lambda x: x[::-1], lambda x: x.flip(0)),
    "first_column": Step(lambda x: x[:, :1], lambda x: x[:, :1]),
    "repeat_rows": Step(lambda x: x[[0, 0, -1]], lambda x: x[[0, 0, -1]]),
    "pad": Step(lambda x: al.pad(x, ((0, 0), (1, 2)), 0.5), lambda x: F.pad(x, (1, 2), value=0.5)),
    "reshape": Step(lambda x: x.reshape(x.shape[::-1]), lambda x: x.reshape(x.shape[::-1])),
    "sum_rows": Step(lambda x: x.sum(0, keepdims=True), lambda x: x.sum(0, keepdim=True)),
    "max_columns": Step(lambda x: x.max(1, keepdims=True), lambda x: x.amax(1, keepdim=True)),
    "min_all": Step(lambda x: x.min().reshape(1, 1), lambda x: x.amin().reshape(1, 1)),
    "logsumexp": Step(
        lambda x: al.logsumexp(x, 1, keepdims=True), lambda x: torch.logsumexp(x, 1, keepdim=True)
    ),
    "windows": Step(
        lambda x: _windows(x, al.unfold), lambda x: _windows(x, lambda t, k: t.unfold(1, k, 1))
    ),
    "stack": Step(
        lambda x: al.stack([x, x * 2], 1).flatten(1),
        lambda x: torch.stack([x, x * 2], 1).flatten(1),
    ),
    "add": Step(lambda x, y: x + y, lambda x, y: x + y, _broadcast_leaf),
    "sub": Step(lambda x, y: y - x, lambda x, y: y - x, _broadcast_leaf),
    "mul": Step(lambda x, y: x * y, lambda x, y: x * y, _broadcast_leaf),
    "div": Step(lambda x, y: x / (1 + y * y), lambda x, y: x / (1 + y * y), _broadcast_leaf),
    "pow": Step(
        lambda x, y: (1 + x * x) ** al.tanh(y),
        lambda x, y: (1 + x * x) ** torch.tanh(y),
        _broadcast_leaf,
    ),
    "maximum": Step(al.maximum, torch.maximum, _broadcast_leaf),
    "minimum": Step(al.minimum, torch.minimum, _broadcast_leaf),
    "where": Step(
        lambda x, y: al.where(x > 0, x, y), lambda x, y: torch.where(x > 0, x, y), _broadcast_leaf
    ),
    "matmul": Step(
        lambda x, w: x @ w,
        lambda x, w: x @ w,
        lambda draw, shape: [(shape[1], draw(st.integers(1, 3)))],
    ),
    "vector_matmul": Step(
        lambda x, v: (v @ x).reshape(1, -1),
        lambda x, v: (v @ x).reshape(1, -1),
        lambda draw, shape: [(shape[0],)],
    ),
    "concatenate": Step(
        lambda x, y: al.concatenate([y, x], 0),
        lambda x, y: torch.cat([y, x], 0),
        lambda draw, shape: [(draw(st.integers(1, 2)), shape[1])],
    ),
}


@given(data=st.data())
def test_random_programs_agree_with_torch(data):
    draw = data.draw
    first = draw(tensors(shape=st.tuples(st.integers(1, 4), st.integers(1, 4)))).data
    ours, theirs = [al.tensor(first, requires_grad=True)], [_torch_leaf(first)]
    x, t = ours[0], theirs[0]
    for name in draw(st.lists(st.sampled_from(sorted(STEPS)), min_size=1, max_size=6), "steps"):
        step = STEPS[name]
        new = [draw(tensors(shape=shape)).data for shape in step.leaves(draw, x.shape)]
        ours += [al.tensor(v, requires_grad=True) for v in new]
        theirs += [_torch_leaf(v) for v in new]
        x = step.ours(x, *ours[len(ours) - len(new) :])
        t = step.theirs(t, *theirs[len(theirs) - len(new) :])
    weights = draw(tensors(shape=x.shape)).data
    (x * weights).sum().backward()
    (t * torch.from_numpy(weights)).sum().backward()

    _assert_close(x.data, t.detach().numpy())
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert (a.grad is None) == (b.grad is None), f"leaf #{i}: reached in only one engine"
        if a.grad is not None:
            _assert_close(a.grad, b.grad.numpy(), f"gradient of leaf #{i}")


def _torch_leaf(value: np.ndarray):
    return torch.tensor(value, dtype=torch.float64, requires_grad=True)


def _assert_close(ours: np.ndarray, theirs: np.ndarray, what: str = "value") -> None:
    assert ours.shape == theirs.shape, what
    scale = max(1.0, float(np.abs(theirs).max(initial=0.0)))
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12 * scale, err_msg=what)
