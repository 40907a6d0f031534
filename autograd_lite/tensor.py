"""Tensor: an ndarray that remembers which operation made it, so gradients can flow back."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from .dtypes import require_differentiable, require_numbers
from .errors import user_location

ArrayLike = Any  # anything np.asarray accepts: scalars, nested lists, ndarrays, Tensors
Axis = int | tuple[int, ...] | None


class Tensor:
    """An n-dimensional array with reverse-mode automatic differentiation.

    `data` is the numpy array; `grad` is filled by `backward()` for leaves that require grad
    (an ndarray, or a Tensor with its own graph after `backward(create_graph=True)`).
    Operators and methods follow numpy semantics (broadcasting, `axis=`, `keepdims=`).

    A tensor made by an op points to that op's record on the tape, `_node` (an
    `engine.Node`); leaves have `_node` None. The graph holds nodes, not tensors, so an
    intermediate tensor's array is freed with the tensor unless a gradient rule needs it.
    """

    __slots__ = ("data", "requires_grad", "grad", "_name", "_hooks", "_node", "__weakref__")
    # numpy must hand `ndarray + Tensor` to our reflected operators instead of looping over us.
    __array_ufunc__ = None
    # `==` is elementwise, so identity hashing has to be restored by hand (graph walks key on it).
    __hash__ = object.__hash__

    def __init__(
        self,
        data: ArrayLike,
        requires_grad: bool = False,
        dtype: np.dtype | type | str | None = None,
        name: str | None = None,
    ) -> None:
        if isinstance(data, Tensor):
            data = data.data
        try:
            array = np.array(data, dtype=dtype)
        except (TypeError, ValueError) as exc:  # ragged lists, an unknown dtype
            kind = TypeError if isinstance(exc, TypeError) else ValueError
            raise kind(f"Tensor: {exc} ({user_location()})") from None
        require_numbers(array.dtype, "Tensor", "data")
        if requires_grad:
            require_differentiable(array.dtype, "Tensor")
        self.data = array
        self.requires_grad = requires_grad
        self.grad = None
        self._name = name
        self._hooks = self._node = None

    # ----------------------------------------------------------------- attributes
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def T(self) -> Tensor:
        return ops.transpose(self)

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user rather than by an op on the tape."""
        return self._node is None

    @property
    def op(self) -> str | None:
        """Name of the op that made this tensor (`None` for leaves)."""
        return None if self._node is None else self._node.op.name

    @property
    def name(self) -> str | None:
        """A label for errors, `Tape` and viz; an op's output keeps it on its node."""
        if self._node is None:
            return self._name
        extras = self._node.extras
        return None if extras is None else extras.name

    @name.setter
    def name(self, name: str | None) -> None:
        if self._node is None:
            self._name = name
        else:
            engine.extras_of(self._node).name = name

    def numpy(self) -> np.ndarray:
        return self.data

    def item(self) -> float | int | bool:
        return self.data.item()

    def tolist(self) -> Any:
        return self.data.tolist()

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        return self.data if dtype is None else self.data.astype(dtype)

    def __len__(self) -> int:
        return len(self.data)

    def __bool__(self) -> bool:
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.data)

    def __int__(self) -> int:
        return int(self.data)

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extras = []
        if self.data.dtype != np.float64 and self.data.dtype.kind == "f":
            extras.append(f"dtype={self.data.dtype}")
        if self._node is not None:
            extras.append(f"op={self._node.op.name}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        if self.name is not None:
            extras.append(f"name={self.name!r}")
        return "tensor(" + ", ".join([body, *extras]) + ")"

    # ----------------------------------------------------------------- autograd
    def backward(
        self,
        grad: ArrayLike | None = None,
        retain_graph: bool | None = None,
        create_graph: bool = False,
    ) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's `.grad` (reverse-mode, one pass).

        `grad` is the upstream gradient (default 1 for a one-element tensor).
        The graph is freed afterwards unless `retain_graph`; `create_graph` records the backward
        pass itself so the gradients can be differentiated again.
        """
        engine._backprop([self], [grad], None, retain_graph, create_graph)

    def detach(self) -> Tensor:
        """The same data, cut from the graph (no copy)."""
        return _make(self.data)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if self._node is not None and not requires_grad:
            raise RuntimeError(
                f"requires_grad_: this tensor was made by {self.op} and is part of a graph; "
                "use .detach() to get a tensor that does not require grad"
            )
        if requires_grad:
            require_differentiable(self.data.dtype, "requires_grad_")
        self.requires_grad = requires_grad
        return self

    def retain_grad(self) -> None:
        """Keep `.grad` on this non-leaf tensor after backward (leaves always keep theirs)."""
        if self._node is not None:
            # A weak reference: the graph must not keep the tensor (and its array) alive.
            engine.extras_of(self._node).retained = weakref.ref(self)

    def register_hook(self, hook: Callable[[Any], Any]) -> RemovableHandle:
        """Call `hook(grad)` when the gradient is complete; a non-None result replaces it."""
        if not self.requires_grad:
            raise RuntimeError(
                "register_hook: cannot register a hook on a tensor that does not require grad"
            )
        # An op's output gets its gradient at its node; a leaf at the end of backward.
        owner = self if self._node is None else engine.extras_of(self._node)
        if owner._hooks is None:
            owner._hooks = []
        owner._hooks.append(hook)
        return RemovableHandle(owner._hooks, hook)

    def zero_grad(self) -> None:
        self.grad = None

    # ----------------------------------------------------------------- arithmetic
    def __radd__(self, other: ArrayLike) -> Tensor:
        return ops.add(other, self)

    def __rsub__(self, other: ArrayLike) -> Tensor:
        return ops.sub(other, self)

    def __rmul__(self, other: ArrayLike) -> Tensor:
        return ops.mul(other, self)

    def __rtruediv__(self, other: ArrayLike) -> Tensor:
        return ops.div(other, self)

    def __rpow__(self, other: ArrayLike) -> Tensor:
        return ops.pow(other, self)

    def __rmatmul__(self, other: ArrayLike) -> Tensor:
        return ops.matmul(other, self)

    def __pos__(self) -> Tensor:
        return self

    def __getitem__(self, index: Any) -> Tensor:
        return ops.getitem(self, index=_raw_index(index))

    # Comparisons give boolean tensors with no gradient, like torch (0-d ones too: numpy
    # gives a scalar there, so it is wrapped back into an array).
    def __lt__(self, other: ArrayLike) -> Tensor:
        return _make(np.asarray(self.data < _raw(other)))

    def __le__(self, other: ArrayLike) -> Tensor:
        return _make(np.asarray(self.data <= _raw(other)))

    def __gt__(self, other: ArrayLike) -> Tensor:
        return _make(np.asarray(self.data > _raw(other)))

    def __ge__(self, other: ArrayLike) -> Tensor:
        return _make(np.asarray(self.data >= _raw(other)))

    def __eq__(self, other: object) -> Tensor:  # type: ignore[override]
        return _make(np.asarray(self.data == _raw(other)))

    def __ne__(self, other: object) -> Tensor:  # type: ignore[override]
        return _make(np.asarray(self.data != _raw(other)))

    # ----------------------------------------------------------------- elementwise
    def leaky_relu(self, negative_slope: float = 0.01) -> Tensor:
        return ops.leaky_relu(self, negative_slope=negative_slope)

    def clip(self, min: float | None = None, max: float | None = None) -> Tensor:
        return ops.clip(self, min=min, max=max)

    def astype(self, dtype: np.dtype | type | str) -> Tensor:
        return ops.astype(self, dtype=np.dtype(dtype))

    def float(self) -> Tensor:
        return self.astype(np.float32)

    def double(self) -> Tensor:
        return self.astype(np.float64)

    # ----------------------------------------------------------------- reductions
    def sum(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        if axis is None and not keepdims:  # the common `loss.sum()`: no parameters to record
            return ops.sum(self)
        return ops.sum(self, axis=axis, keepdims=keepdims)

    def mean(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return ops.mean(self, axis=axis, keepdims=keepdims)

    def var(self, axis: Axis = None, ddof: int = 0, keepdims: bool = False) -> Tensor:
        return ops.var(self, axis=axis, ddof=ddof, keepdims=keepdims)

    def max(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return ops.max(self, axis=axis, keepdims=keepdims)

    def min(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return ops.min(self, axis=axis, keepdims=keepdims)

    def logsumexp(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return ops.logsumexp(self, axis=axis, keepdims=keepdims)

    def softmax(self, axis: int = -1) -> Tensor:
        return ops.softmax(self, axis=axis)

    def log_softmax(self, axis: int = -1) -> Tensor:
        return ops.log_softmax(self, axis=axis)

    # ----------------------------------------------------------------- shape
    def reshape(self, *shape: int | tuple[int, ...]) -> Tensor:
        return ops.reshape(self, shape=_shape_arg(shape))

    def transpose(self, *axes: int | tuple[int, ...]) -> Tensor:
        return ops.transpose(self, axes=_shape_arg(axes) or None)

    def permute(self, *dims: int | tuple[int, ...]) -> Tensor:
        return ops.transpose(self, axes=_shape_arg(dims))

    def broadcast_to(self, *shape: int | tuple[int, ...]) -> Tensor:
        return ops.broadcast_to(self, shape=_shape_arg(shape))

    def expand_dims(self, axis: int | tuple[int, ...]) -> Tensor:
        return ops.expand_dims(self, axis)

    def squeeze(self, axis: int | tuple[int, ...] | None = None) -> Tensor:
        return ops.squeeze(self, axis)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        return ops.flatten(self, start_dim, end_dim)


class RemovableHandle:
    """Returned by `register_hook`; `handle.remove()` unregisters the hook."""

    def __init__(self, hooks: list, hook: Callable) -> None:
        self._hooks, self._hook = hooks, hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


_new = object.__new__


def _make(data: np.ndarray) -> Tensor:
    """Wrap an ndarray as a leaf that does not require grad, without copying or checks."""
    t = _new(Tensor)
    t.data = data
    t.requires_grad = False
    t.grad = t._name = t._hooks = t._node = None
    return t


def _raw(value: Any) -> Any:
    return value.data if isinstance(value, Tensor) else value


def _raw_index(index: Any) -> Any:
    """Indices may hold Tensors (e.g. integer labels); numpy needs their arrays."""
    if isinstance(index, tuple):
        return tuple(_raw(i) for i in index)
    return _raw(index)


def _shape_arg(shape: tuple) -> tuple[int, ...]:
    """Accept both `t.reshape(2, 3)` and `t.reshape((2, 3))`, as numpy and torch do."""
    if len(shape) == 1 and isinstance(shape[0], tuple | list):
        return tuple(shape[0])
    return tuple(shape)


# The ops are built on Tensor, so they can only be imported once the class exists.
from . import engine, ops  # noqa: E402

# An operator or method that is one op on (self, other) is the op itself rather than a method
# calling it: one Python frame less on the hot path of every recorded op (~5% of its cost).
for _method, _op in {
    "__add__": ops.add, "__sub__": ops.sub, "__mul__": ops.mul, "__truediv__": ops.div,
    "__pow__": ops.pow, "__matmul__": ops.matmul, "__neg__": ops.neg, "__abs__": ops.abs,
    "abs": ops.abs, "exp": ops.exp, "log": ops.log, "sqrt": ops.sqrt, "sin": ops.sin,
    "cos": ops.cos, "tanh": ops.tanh, "sigmoid": ops.sigmoid, "relu": ops.relu,
    "softplus": ops.softplus,
}.items():  # fmt: skip
    setattr(Tensor, _method, _op)
del _method, _op
