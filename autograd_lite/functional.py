"""Function transforms in the style of JAX and HIPS autograd, built on the tape.

`grad(f)` returns a function that computes the gradient of `f`. The transforms compose:
`grad(grad(grad(f)))(x)` is the third derivative. When a transform's argument is itself being
differentiated by an outer transform, it records its gradient on the tape (create_graph) so the
outer one can differentiate it again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import engine, ops
from .tensor import Tensor


def _variable(value: Any) -> tuple[Tensor, bool]:
    """A tensor to differentiate with respect to, and whether an outer transform traces it.

    A traced argument gets a fresh node of its own, so this transform's gradient counts only
    the paths through *this* argument, not other uses of the same outer tensor (JAX calls the
    mistake it avoids "perturbation confusion").
    """
    if isinstance(value, Tensor) and value.requires_grad and engine.is_grad_enabled():
        return ops.reshape(value, shape=value.shape), True
    data = value.data if isinstance(value, Tensor) else value
    array = np.array(
        data, dtype=None if np.issubdtype(np.asarray(data).dtype, np.floating) else float
    )
    return Tensor(array, requires_grad=True), False


def _argnums(argnums: int | Sequence[int]) -> tuple[int, ...]:
    return (argnums,) if isinstance(argnums, int) else tuple(argnums)


def value_and_grad(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """`(f(*args), df/dargs[argnums])`; f must return a one-element tensor."""

    def value_and_grad_f(*args: Any, **kwargs: Any) -> tuple[Any, Any]:
        args = list(args)
        variables, traced = [], False
        for i in _argnums(argnums):
            args[i], outer = _variable(args[i])
            variables.append(args[i])
            traced = traced or outer
        with engine.enable_grad():
            out = f(*args, **kwargs)
        if not isinstance(out, Tensor) or out.size != 1:
            raise TypeError(
                f"grad: {getattr(f, '__name__', 'f')} must return a one-element Tensor, "
                f"got {type(out).__name__} of shape {np.shape(out)}"
            )
        if out.requires_grad:
            grads = engine.gradients(out, variables, create_graph=traced)
        else:  # f ignores its arguments: the gradient is zero
            grads = tuple(np.zeros_like(v.data) for v in variables)
        value = out if traced else out.data
        return value, grads[0] if isinstance(argnums, int) else grads

    return value_and_grad_f


def grad(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """The gradient of a scalar function: `grad(f)(x)` is df/dx, an array shaped like x."""
    value_and_grad_f = value_and_grad(f, argnums)

    def grad_f(*args: Any, **kwargs: Any) -> Any:
        return value_and_grad_f(*args, **kwargs)[1]

    return grad_f


def vjp(f: Callable, *primals: Any) -> tuple[Any, Callable]:
    """`(f(*primals), vjp_fn)` where `vjp_fn(v)` gives v^T J for each primal (a tuple)."""
    variables, traced = zip(*(_variable(p) for p in primals))
    traced = any(traced)
    with engine.enable_grad():
        out = f(*variables)

    def vjp_fn(cotangent: Any) -> tuple[Any, ...]:
        return engine.gradients(
            out, list(variables), grad_outputs=cotangent, retain_graph=True, create_graph=traced
        )

    return (out if traced else out.data), vjp_fn


def jvp(f: Callable, primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
    """`(f(*primals), J v)`: forward-mode product, by differentiating the VJP (which is linear
    in its cotangent u) once more with respect to u."""
    variables, traced = zip(*(_variable(p) for p in primals))
    traced = any(traced)
    with engine.enable_grad():
        out = f(*variables)
        u = Tensor(np.zeros_like(out.data), requires_grad=True)
        pulled = engine.gradients(out, list(variables), grad_outputs=u, create_graph=True)
        inner = sum(ops.sum(p * t) for p, t in zip(pulled, tangents))
    if isinstance(inner, Tensor) and inner.requires_grad:
        (tangent_out,) = engine.gradients(inner, [u], create_graph=traced)
    else:  # f is constant in its inputs
        tangent_out = np.zeros_like(out.data)
    return (out if traced else out.data), tangent_out


def jacobian(f: Callable, argnums: int = 0) -> Callable:
    """`jacobian(f)(x)` has shape f(x).shape + x.shape: one VJP per output element."""

    def jacobian_f(*args: Any) -> Any:
        args = list(args)
        x, traced = _variable(args[argnums])
        args[argnums] = x
        with engine.enable_grad():
            out = f(*args)
        rows = []
        for i in range(out.size):
            seed = np.zeros(out.size, dtype=out.data.dtype)
            seed[i] = 1
            if out.requires_grad:
                (row,) = engine.gradients(
                    out,
                    [x],
                    grad_outputs=seed.reshape(out.shape),
                    retain_graph=True,
                    create_graph=traced,
                )
            else:
                row = np.zeros_like(x.data)
            rows.append(row)
        if traced:
            return ops.reshape(ops.stack(rows), shape=out.shape + x.shape)
        return np.reshape(rows, out.shape + x.shape)

    return jacobian_f


def hessian(f: Callable, argnums: int = 0) -> Callable:
    """`hessian(f)(x)`: the Jacobian of the gradient, shape x.shape + x.shape."""
    return jacobian(grad(f, argnums), argnums)


__all__ = ["grad", "value_and_grad", "vjp", "jvp", "jacobian", "hessian"]
