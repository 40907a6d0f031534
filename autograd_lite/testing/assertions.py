"""assert_gradients_match: the tape's gradient, finite differences and (optionally) your
closed form, compared element by element, with a side-by-side table when they disagree.

Verifying an op you wrote takes a few lines:

>>> import numpy as np
>>> import autograd_lite as al
>>> from autograd_lite.engine import primitive
>>> @primitive
... def swish(x):
...     '''y = x*sigmoid(x);  dx = g*(y + sigmoid(x)*(1-y))'''
...     return x * al.sigmoid(x)
>>> @swish.defvjp
... def _(g, out, x):
...     s = al.sigmoid(x)
...     return g * (out + s * (1 - out))
>>> def swish_derivative(x):  # the closed form, in plain numpy
...     s = 1 / (1 + np.exp(-x))
...     return s * (1 + x * (1 - s))
>>> assert_gradients_match(swish, al.randn(4, 3, rng=0), reference=swish_derivative)

The gradients come from autograd_lite.gradcheck's machinery: float64 copies of the inputs, one
recorded forward pass pulled back for the tape, unrecorded forward passes for the differences.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..gradcheck import (
    GradcheckError,
    _as_float64,
    _evaluate,
    _index,
    _tape_pullback,
    central_differences,
)
from ..tensor import Tensor

_SHOWN_ROWS = 12  # worst elements shown in a failure report


def _setup(f: Callable, inputs: tuple, grad_output: Any, who: str):
    """float64 values, the indices of the floating inputs, and the cotangent u."""
    values, checked = _as_float64(inputs)
    if not checked:
        raise ValueError(f"{who}: no floating-point input to differentiate")
    out = _evaluate(f, values, checked)
    if grad_output is None:
        return values, checked, np.ones_like(out)
    u = np.array(grad_output.data if isinstance(grad_output, Tensor) else grad_output, np.float64)
    if u.shape != out.shape:
        raise ValueError(
            f"{who}: grad_output has shape {u.shape} but the output of "
            f"{getattr(f, '__name__', 'f')} has shape {out.shape}"
        )
    return values, checked, u


def _numeric(f: Callable, values: list, checked: list[int], u: np.ndarray, eps: float) -> list:
    """Central differences of sum(u * f), one input element at a time."""
    grads = []
    for i in checked:
        columns = central_differences(f, values, checked, i, eps)
        grads.append(np.reshape([np.sum(u * c) for c in columns], values[i].shape))
    return grads


def tape_gradient(f: Callable, *inputs: Any, grad_output: Any = None) -> tuple[np.ndarray, ...]:
    """The tape's gradient of sum(grad_output * f(*inputs)) (grad_output defaults to ones, so a
    one-element output gives its plain gradient), for each floating input, in float64."""
    values, checked, u = _setup(f, inputs, grad_output, "tape_gradient")
    return tuple(_tape_pullback(f, values, checked)(u))


def numeric_gradient(
    f: Callable, *inputs: Any, grad_output: Any = None, eps: float = 1e-6
) -> tuple[np.ndarray, ...]:
    """The same gradient as `tape_gradient` by central differences, (F(x+eps) - F(x-eps)) / 2eps
    per input element, with no tape: two unrecorded forward passes per element."""
    values, checked, u = _setup(f, inputs, grad_output, "numeric_gradient")
    return tuple(_numeric(f, values, checked, u, eps))


def _reference(reference: Callable, values, checked, u, tape, directed) -> list[np.ndarray]:
    """The reference's gradients, checked: one float64 array per floating input, in its shape."""
    arrays = [np.array(v) if i in checked else v for i, v in enumerate(values)]
    given = reference(*arrays, grad_output=u.copy()) if directed else reference(*arrays)
    given = list(given) if isinstance(given, tuple | list) else [given]
    if len(given) != len(tape):
        raise ValueError(
            f"assert_gradients_match: reference returned {len(given)} gradients for "
            f"{len(tape)} floating-point inputs"
        )
    expected = []
    for n, (g, t) in enumerate(zip(given, tape)):
        g = np.asarray(g.data if isinstance(g, Tensor) else g, np.float64)
        if g.shape != t.shape:
            raise ValueError(
                f"assert_gradients_match: reference gradient #{n} has shape {g.shape}, but input "
                f"#{checked[n]} has shape {t.shape}"
            )
        expected.append(g)
    return expected


def assert_gradients_match(
    f: Callable,
    *inputs: Any,
    reference: Callable | None = None,
    grad_output: Any = None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
) -> None:
    """Check that the tape's gradient of f equals finite differences, and `reference` if given.

    f takes the inputs (floating ones as float64 Tensors; integer ones, e.g. labels, unchanged)
    and returns a Tensor. The gradient compared is that of sum(grad_output * f(*inputs)):
    grad_output defaults to ones, which is the plain gradient for a one-element output and the
    derivative for an elementwise op; pass a random one to test every direction of an op such as
    softmax, whose gradient along ones is zero (or use `gradcheck`, which builds the Jacobian).

    `reference(*inputs)` (inputs as float64 ndarrays, plus `grad_output=` as a float64 ndarray
    if you passed one) returns the expected gradients: one array per floating input, a tuple if
    several. An element passes when |tape - other| <= atol + rtol*|other| (a NaN on either
    side fails). On failure raises
    GradcheckError with a table of the worst elements: tape, numeric and reference side by side.
    """
    values, checked, u = _setup(f, inputs, grad_output, "assert_gradients_match")
    tape = _tape_pullback(f, values, checked)(u)
    numeric = _numeric(f, values, checked, u, eps)
    columns = {"numeric": numeric}
    if reference is not None:
        directed = grad_output is not None
        columns["reference"] = _reference(reference, values, checked, u, tape, directed)

    def excess(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        e = np.abs(a - b) - (atol + rtol * np.abs(b))
        return np.where(np.isnan(e), np.inf, e)  # a NaN on either side never passes

    rows = []  # (worst excess, input position n, flat element j, names that differ)
    counts = dict.fromkeys(columns, 0)
    for n in range(len(checked)):
        over = {k: excess(tape[n], v[n]) for k, v in columns.items()}
        worst = np.maximum.reduce(list(over.values()))
        for k, e in over.items():
            counts[k] += int((e > 0).sum())
        for j in np.flatnonzero(worst > 0):
            rows.append((worst.flat[j], n, j, [k for k, e in over.items() if e.flat[j] > 0]))
    if not rows:
        return
    rows.sort(key=lambda row: row[0], reverse=True)
    if reference is None:
        verdict = "the VJP looks wrong, or f has a kink or a jump within eps of these points"
    elif not counts["numeric"]:
        verdict = "tape and numeric agree: the reference looks wrong"
    elif not counts["reference"]:
        verdict = (
            "tape and reference agree against finite differences: the same mistake in both, "
            "or f has a kink or a jump within eps of these points"
        )
    elif all(
        excess(numeric[n].flat[j], columns["reference"][n].flat[j]) <= 0 for _, n, j, _ in rows
    ):
        verdict = "numeric and reference agree: the tape's gradient (the VJP) looks wrong"
    else:
        verdict = "all three disagree: check both the VJP and the reference"
    total = sum(t.size for t in tape)
    summary = ", ".join(f"tape vs {k}: {c}" for k, c in counts.items())
    lines = [
        f"assert_gradients_match: the tape's gradient differs at {len(rows)} of {total} "
        f"elements ({summary}); {verdict}",
        *_table(rows, checked, tape, columns),
        f"(central differences with eps={eps:g}; an element passes when "
        f"|tape - other| <= atol + rtol*|other|, atol={atol:g}, rtol={rtol:g})",
    ]
    raise GradcheckError("\n".join(lines))


def _table(rows, checked, tape, columns) -> list[str]:
    """The worst rows side by side: input, element, tape, numeric, reference, which differ."""
    table = [["input", "element", "tape", *columns, "differs from"]]
    for _, n, j, differs in rows[:_SHOWN_ROWS]:
        values = [tape[n].flat[j]] + [c[n].flat[j] for c in columns.values()]
        index = _index(j, tape[n].shape) or "[]"
        table.append([f"#{checked[n]}", index, *(f"{v:.10g}" for v in values), ", ".join(differs)])
    widths = [max(len(r[c]) for r in table) for c in range(len(table[0]))]
    lines = ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in table]
    if len(rows) > _SHOWN_ROWS:
        lines.append(f"  ... and {len(rows) - _SHOWN_ROWS} more")
    return lines
