"""Compare tape gradients with central finite differences, in float64.

Small problems compare the full Jacobian, element by element. Large ones compare random
projections u^T J v: the tape gives (J^T u)·v from one backward pass, finite differences give
u·(f(x+εv) - f(x-εv))/2ε from two forward passes, so the cost does not grow with the size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from . import engine, ops
from .tensor import Tensor

FULL_JACOBIAN_LIMIT = 100_000
"""Above this many Jacobian entries (outputs x inputs), gradcheck switches to projections."""


class GradcheckError(AssertionError):
    """Tape and numerical gradients disagree; the message shows the worst element."""


def _as_float64(inputs: Sequence[Any]) -> tuple[list[Any], list[int]]:
    """float64 copies of the floating inputs (the ones checked); other inputs pass unchanged."""
    values, checked = [], []
    for i, x in enumerate(inputs):
        data = x.data if isinstance(x, Tensor) else x
        if np.issubdtype(np.asarray(data).dtype, np.floating):
            values.append(np.array(data, dtype=np.float64))
            checked.append(i)
        else:
            values.append(x)
    return values, checked


def _evaluate(f: Callable, values: list[Any], checked: list[int]) -> np.ndarray:
    with engine.no_grad():
        out = f(*[Tensor(v) if i in checked else v for i, v in enumerate(values)])
    return np.array(out.data if isinstance(out, Tensor) else out, dtype=np.float64)


def _tape_pullback(f, values, checked) -> Callable[[np.ndarray], list[np.ndarray]]:
    """One recorded forward pass; the returned function gives J^T u for each checked input."""
    variables = {i: Tensor(values[i], requires_grad=True) for i in checked}
    with engine.enable_grad():
        out = f(*[variables.get(i, v) for i, v in enumerate(values)])

    def pullback(u: np.ndarray) -> list[np.ndarray]:
        if not (isinstance(out, Tensor) and out.requires_grad):
            return [np.zeros_like(values[i]) for i in checked]
        grads = engine.gradients(out, list(variables.values()), grad_outputs=u, retain_graph=True)
        return [np.asarray(g, dtype=np.float64) for g in grads]

    return pullback


def gradcheck(
    f: Callable,
    inputs: Sequence[Any],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    *,
    projections: int = 8,
    seed: int = 0,
    raise_exception: bool = True,
) -> bool:
    """Check f's tape gradients against finite differences for every floating-point input.

    f takes the inputs (as float64 Tensors; integer inputs such as labels pass unchanged) and
    returns a Tensor of any shape. An element passes when |tape - numeric| <= atol + rtol*|numeric|;
    a NaN on either side fails. Output elements that are infinite or NaN at the inputs are
    skipped: finite differences cannot see through them (inf - inf).
    Raises GradcheckError naming the worst element (or returns False if not raise_exception).
    """
    values, checked = _as_float64(inputs)
    if not checked:
        raise ValueError("gradcheck: no floating-point input to check")
    out = _evaluate(f, values, checked)
    n_in = sum(values[i].size for i in checked)
    if out.size * n_in <= FULL_JACOBIAN_LIMIT:
        failure = _check_full(f, values, checked, out, eps, atol, rtol)
    else:
        failure = _check_projections(f, values, checked, out, eps, atol, rtol, projections, seed)
    if failure and raise_exception:
        raise GradcheckError(failure)
    return not failure


def _check_full(f, values, checked, out, eps, atol, rtol) -> str:
    analytic_rows = _tape_jacobian_rows(f, values, checked, out.shape)
    worst = None  # (excess over tolerance, message)
    for n, i in enumerate(checked):
        x = values[i]
        if out.size == 0 or x.size == 0:
            continue  # an empty Jacobian has nothing to disagree about
        numeric = np.empty((out.size, x.size))
        for j, column in enumerate(central_differences(f, values, checked, i, eps)):
            numeric[:, j] = column.ravel()
        analytic = np.stack([row[n].ravel() for row in analytic_rows])
        excess = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
        excess[np.isnan(excess)] = np.inf  # a NaN on either side is a disagreement, never a pass
        excess[~np.isfinite(out.ravel())] = -np.inf  # rows finite differences cannot check
        k, j = np.unravel_index(np.argmax(excess), excess.shape)
        if excess[k, j] > 0 and (worst is None or excess[k, j] > worst[0]):
            worst = (
                excess[k, j],
                f"gradcheck: input #{i} (shape {x.shape}): d out{_index(k, out.shape)} / "
                f"d x{_index(j, x.shape)}: tape {analytic[k, j]:.6g}, numeric {numeric[k, j]:.6g}"
                f" (|diff| {abs(analytic[k, j] - numeric[k, j]):.3g} > atol + rtol*|numeric| = "
                f"{atol + rtol * abs(numeric[k, j]):.3g}); "
                f"{int((excess > 0).sum())} of {excess.size} elements differ",
            )
    return "" if worst is None else worst[1]


def central_differences(
    f: Callable, values: list, checked: list[int], i: int, eps: float
) -> Iterator[np.ndarray]:
    """(f(x + eps e_j) - f(x - eps e_j)) / 2eps for each element j of input i, in turn: the
    numerical Jacobian column by column (values[i] is perturbed in place and restored)."""
    x = values[i]
    for j in range(x.size):
        original = x.flat[j]
        x.flat[j] = original + eps
        plus = _evaluate(f, values, checked)
        x.flat[j] = original - eps
        minus = _evaluate(f, values, checked)
        x.flat[j] = original
        with np.errstate(invalid="ignore"):  # inf - inf where f's output is infinite
            yield (plus - minus) / (2 * eps)


def _tape_jacobian_rows(f, values, checked, shape) -> list[list[np.ndarray]]:
    """Row k of every checked input's Jacobian, from one backward pass per output element."""
    pullback = _tape_pullback(f, values, checked)
    rows = []
    for k in range(int(np.prod(shape))):
        u = np.zeros(shape)  # one unit cotangent at a time: no out.size² identity matrix
        u.flat[k] = 1.0
        rows.append(pullback(u))
    return rows


def _check_projections(f, values, checked, out, eps, atol, rtol, projections, seed) -> str:
    rng = np.random.default_rng(seed)
    pullback = _tape_pullback(f, values, checked)
    finite = np.isfinite(out)  # output elements finite differences can check
    for p in range(projections):
        u = np.where(finite, rng.standard_normal(out.shape), 0.0)
        directions = {i: rng.standard_normal(values[i].shape) for i in checked}
        grads = pullback(u)
        analytic = sum(float(np.sum(g * directions[i])) for g, i in zip(grads, checked))
        originals = {i: values[i].copy() for i in checked}
        for i in checked:
            values[i][...] = originals[i] + eps * directions[i]
        plus = _evaluate(f, values, checked)
        for i in checked:
            values[i][...] = originals[i] - eps * directions[i]
        minus = _evaluate(f, values, checked)
        for i in checked:
            values[i][...] = originals[i]
        with np.errstate(invalid="ignore"):  # inf - inf where f's output is infinite
            numeric = float(np.sum(np.where(finite, u * (plus - minus), 0.0)) / (2 * eps))
        if not abs(analytic - numeric) <= atol + rtol * abs(numeric):  # NaN fails too
            return (
                f"gradcheck: random projection #{p} u^T J v (seed {seed}): tape {analytic:.6g}, "
                f"numeric {numeric:.6g} (|diff| {abs(analytic - numeric):.3g} > "
                f"{atol + rtol * abs(numeric):.3g}); output shape {out.shape}, "
                f"input shapes {[values[i].shape for i in checked]}"
            )
    return ""


def _index(flat: int, shape: tuple) -> str:
    # Plain ints: numpy 2 would print its integer scalars as np.int64(1).
    return str([int(i) for i in np.unravel_index(flat, shape)]) if shape else ""


def gradgradcheck(
    f: Callable,
    inputs: Sequence[Any],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    *,
    seed: int = 0,
    raise_exception: bool = True,
) -> bool:
    """Check second derivatives: gradcheck of x -> (J^T v)(x) for a fixed random cotangent v.

    That function is computed by backward(create_graph=True), so this checks that the VJPs
    themselves were recorded correctly on the tape.
    """
    values, checked = _as_float64(inputs)
    out = _evaluate(f, values, checked)
    v = np.random.default_rng(seed).standard_normal(out.shape)

    def pulled_back(*args: Any) -> Tensor:
        args = list(args)
        with engine.enable_grad():
            # Finite differences call this under no_grad with plain tensors: it must still
            # compute the gradient, so it makes its own variables then.
            for i in checked:
                if not args[i].requires_grad:
                    args[i] = Tensor(args[i].data, requires_grad=True)
            y = f(*args)
            variables = [args[i] for i in checked]
            if not (isinstance(y, Tensor) and y.requires_grad):
                return Tensor(np.zeros(sum(a.size for a in variables)))
            grads = engine.gradients(y, variables, grad_outputs=v, create_graph=True)
            return ops.concatenate(*(ops.reshape(g, shape=(-1,)) for g in grads))

    return gradcheck(
        pulled_back, values, eps, atol, rtol, seed=seed, raise_exception=raise_exception
    )
