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
from .dtypes import REAL, require_numbers
from .errors import shape_of, user_location
from .tensor import Tensor


def _variable(value: Any, who: str, i: int) -> tuple[Tensor, bool]:
    """A tensor to differentiate with respect to, and whether an outer transform traces it.

    A traced argument gets a fresh node of its own, so this transform's gradient counts only
    the paths through *this* argument, not other uses of the same outer tensor (JAX calls the
    mistake it avoids "perturbation confusion"). Integers and booleans are differentiated as
    float64; complex numbers, strings and objects are refused.
    """
    if isinstance(value, Tensor) and value.requires_grad and engine.is_grad_enabled():
        return ops.reshape(value, shape=value.shape), True
    data = np.asarray(value.data if isinstance(value, Tensor) else value)
    require_numbers(data.dtype, who, f"argument #{i}", REAL)
    array = np.array(data, dtype=data.dtype if data.dtype.kind == "f" else np.float64)
    return Tensor(array, requires_grad=True), False


def _variables(primals: Sequence[Any], who: str) -> tuple[list[Tensor], bool]:
    """The primals of vjp or jvp as tensors, and whether an outer transform traces any."""
    if not primals:
        raise TypeError(f"{who}: give at least one primal to differentiate at ({user_location()})")
    variables, traced = zip(*(_variable(p, who, i) for i, p in enumerate(primals)))
    return list(variables), any(traced)


def _argnums(argnums: int | Sequence[int], n_args: int, who: str) -> tuple[int, ...]:
    """`argnums` as a tuple of positions, each naming one of the `n_args` positional arguments."""
    nums = (argnums,) if isinstance(argnums, int) else argnums
    if not isinstance(nums, tuple | list):
        raise TypeError(
            f"{who}: argnums must be an int or a tuple of ints, got {argnums!r} ({user_location()})"
        )
    for i in nums:
        if isinstance(i, bool) or not isinstance(i, int) or not -n_args <= i < n_args:
            raise TypeError(
                f"{who}: argnums={argnums!r} asks for positional argument {i!r}, but the "
                f"function was called with {n_args} ({user_location()})"
            )
    return nums


def _tensor_result(out: Any, f: Callable, who: str) -> Tensor:
    if not isinstance(out, Tensor):
        raise TypeError(
            f"{who}: {getattr(f, '__name__', 'f')} must return a Tensor, got "
            f"{type(out).__name__} of shape {np.shape(out)}; compute it with autograd_lite ops "
            f"({user_location()})"
        )
    return out


def _matching(value: Any, like: Any, who: str, what: str, like_what: str) -> np.ndarray:
    """`value` as an array of `like`'s shape (a tangent of a primal, a cotangent of an output)."""
    array = np.asarray(value.data if isinstance(value, Tensor) else value)
    require_numbers(array.dtype, who, what, REAL)
    if array.shape != like.shape:
        raise ValueError(
            f"{who}: {what} has shape {array.shape}, but {like_what} has shape "
            f"{shape_of(like)}; they must match ({user_location()})"
        )
    return array


def value_and_grad(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """`(f(*args), df/dargs[argnums])`; f must return a one-element tensor."""
    return _value_and_grad(f, argnums, "value_and_grad")


def _value_and_grad(f: Callable, argnums: int | Sequence[int], who: str) -> Callable:
    def value_and_grad_f(*args: Any, **kwargs: Any) -> tuple[Any, Any]:
        args = list(args)
        variables, traced = [], False
        for i in _argnums(argnums, len(args), who):
            args[i], outer = _variable(args[i], who, i % len(args))
            variables.append(args[i])
            traced = traced or outer
        with engine.enable_grad():
            out = f(*args, **kwargs)
        if not isinstance(out, Tensor) or out.size != 1:
            raise TypeError(
                f"{who}: {getattr(f, '__name__', 'f')} must return a one-element Tensor, "
                f"got {type(out).__name__} of shape {np.shape(out)} ({user_location()})"
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
    value_and_grad_f = _value_and_grad(f, argnums, "grad")

    def grad_f(*args: Any, **kwargs: Any) -> Any:
        return value_and_grad_f(*args, **kwargs)[1]

    return grad_f


def vjp(f: Callable, *primals: Any) -> tuple[Any, Callable]:
    """`(f(*primals), vjp_fn)` where `vjp_fn(v)` gives v^T J for each primal (a tuple)."""
    variables, traced = _variables(primals, "vjp")
    with engine.enable_grad():
        out = _tensor_result(f(*variables), f, "vjp")

    def vjp_fn(cotangent: Any) -> tuple[Any, ...]:
        if not (isinstance(cotangent, Tensor) and cotangent.shape == out.shape):
            cotangent = _matching(cotangent, out, "vjp", "the cotangent", "the output")
        return engine.gradients(
            out, variables, grad_outputs=cotangent, retain_graph=True, create_graph=traced
        )

    return (out if traced else out.data), vjp_fn


def jvp(f: Callable, primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
    """`(f(*primals), J v)`: forward-mode product, by differentiating the VJP (which is linear
    in its cotangent u) once more with respect to u."""
    if len(primals) != len(tangents):
        raise TypeError(
            f"jvp: got {len(primals)} primals and {len(tangents)} tangents; give one tangent "
            f"per primal ({user_location()})"
        )
    variables, traced = _variables(primals, "jvp")
    tangents = [
        t
        if isinstance(t, Tensor) and t.shape == v.shape
        else _matching(t, v, "jvp", f"tangent #{i}", f"primal #{i}")
        for i, (t, v) in enumerate(zip(tangents, variables))
    ]
    with engine.enable_grad():
        out = _tensor_result(f(*variables), f, "jvp")
        u = Tensor(np.zeros_like(out.data), requires_grad=True)
        pulled = engine.gradients(out, variables, grad_outputs=u, create_graph=True)
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
        if isinstance(argnums, bool) or not isinstance(argnums, int):
            raise TypeError(
                f"jacobian: argnums must be one int, got {argnums!r} ({user_location()})"
            )
        (i,) = _argnums(argnums, len(args), "jacobian")
        x, traced = _variable(args[i], "jacobian", i % len(args))
        args[i] = x
        with engine.enable_grad():
            out = _tensor_result(f(*args), f, "jacobian")
        rows = []
        for k in range(out.size):
            seed = np.zeros(out.size, dtype=out.data.dtype)
            seed[k] = 1
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
        if not rows:  # an empty output: its Jacobian is empty, and there is nothing to stack
            empty = np.zeros(out.shape + x.shape, dtype=x.data.dtype)
            return Tensor(empty) if traced else empty
        if traced:
            return ops.reshape(ops.stack(rows), shape=out.shape + x.shape)
        return np.reshape(rows, out.shape + x.shape)

    return jacobian_f


def hessian(f: Callable, argnums: int = 0) -> Callable:
    """`hessian(f)(x)`: the Jacobian of the gradient, shape x.shape + x.shape."""
    return jacobian(grad(f, argnums), argnums)


__all__ = ["grad", "value_and_grad", "vjp", "jvp", "jacobian", "hessian"]
