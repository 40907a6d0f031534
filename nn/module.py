"""Module: the base class of every layer.

A module's parameters, buffers and sub-modules are found by walking its attributes (needle's
idea): no registration step, so a subclass that forgets `super().__init__()` still works.
`state_dict()` / `load_state_dict()` name every array by its attribute path, e.g.
`layers.0.weight`, exactly as PyTorch does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

from autograd_lite import Tensor
from autograd_lite.errors import user_location
from autograd_lite.tensor import RemovableHandle

from .parameter import Parameter

_forward_pre_hooks: list[Callable] = []
_forward_hooks: list[Callable] = []


def register_module_forward_pre_hook(hook: Callable[[Module, tuple], None]) -> RemovableHandle:
    """Call `hook(module, args)` before every module's forward (tools such as viz use this to
    group the ops a module records). Returns a handle whose `remove()` unregisters it."""
    _forward_pre_hooks.append(hook)
    return RemovableHandle(_forward_pre_hooks, hook)


def register_module_forward_hook(hook: Callable[[Module, tuple, Any], Any]) -> RemovableHandle:
    """Call `hook(module, args, output)` after every module's forward; a non-None result
    replaces the output. Returns a handle whose `remove()` unregisters it."""
    _forward_hooks.append(hook)
    return RemovableHandle(_forward_hooks, hook)


class IncompatibleKeys(NamedTuple):
    """What `load_state_dict(..., strict=False)` skipped."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class Module:
    """Base class for layers and models: subclass it, set parameters and sub-modules as
    attributes in `__init__`, and define `forward`. Calling the module calls `forward`."""

    # Class-level defaults, so the attribute walk works even without super().__init__().
    training: bool = True
    _buffer_names: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.training = True

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if _forward_pre_hooks or _forward_hooks:
            return self._call_with_hooks(args, kwargs)
        return self.forward(*args, **kwargs)

    def _call_with_hooks(self, args: tuple, kwargs: dict) -> Any:
        for hook in list(_forward_pre_hooks):
            hook(self, args)
        out = self.forward(*args, **kwargs)
        for hook in list(_forward_hooks):
            replaced = hook(self, args, out)
            if replaced is not None:
                out = replaced
        return out

    # ------------------------------------------------------------------ the attribute walk
    def _members(self) -> Iterable[tuple[str, Any]]:
        """(name, value) pairs the walk looks at; containers override this to add their items."""
        return vars(self).items()

    def named_children(self) -> Iterator[tuple[str, Module]]:
        for name, value in self._members():
            if isinstance(value, Module):
                yield name, value

    def children(self) -> Iterator[Module]:
        for _, module in self.named_children():
            yield module

    def named_modules(
        self, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Module]]:
        """This module and every sub-module, depth first, with dotted names ('' for self)."""
        seen: set[int] = set()
        stack = [(prefix, self)]
        while stack:  # an explicit stack: no recursion, however deep the nesting
            name, module = stack.pop()
            if remove_duplicate:
                if id(module) in seen:
                    continue
                seen.add(id(module))
            yield name, module
            children = [(_join(name, n), child) for n, child in module.named_children()]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """Every Parameter with its dotted name, e.g. ('layers.0.weight', Parameter)."""
        seen: set[int] = set()
        modules = self.named_modules(prefix, remove_duplicate) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in module._members():
                if isinstance(value, Parameter):
                    if remove_duplicate:
                        if id(value) in seen:
                            continue
                        seen.add(id(value))
                    yield _join(module_prefix, name), value

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def register_buffer(self, name: str, value: np.ndarray) -> None:
        """Keep `value` as state that is saved and loaded but not trained (e.g. running means)."""
        if not isinstance(value, np.ndarray):
            raise TypeError(
                f"{type(self).__name__}.register_buffer: {name!r} must be a numpy array, "
                f"got {type(value).__name__}"
            )
        setattr(self, name, value)
        if name not in self._buffer_names:
            self._buffer_names = (*self._buffer_names, name)

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        for module_prefix, module in self.named_modules(prefix):
            for name in module._buffer_names:
                yield _join(module_prefix, name), getattr(module, name)

    def buffers(self) -> Iterator[np.ndarray]:
        for _, buffer in self.named_buffers():
            yield buffer

    # ------------------------------------------------------------------ modes and gradients
    def train(self, mode: bool = True) -> Module:
        """Training mode (dropout active, batch norm uses batch statistics); returns self."""
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> Module:
        """Evaluation mode: `train(False)`; returns self."""
        return self.train(False)

    def zero_grad(self) -> None:
        """Reset every parameter's gradient to None (gradients accumulate across backward)."""
        for p in self.parameters():
            p.grad = None

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call `fn(module)` on every sub-module and then on self (e.g. custom initialization)."""
        for module in reversed(list(self.modules())):
            fn(module)
        return self

    def to(self, dtype: Any) -> Module:
        """Convert every floating parameter, gradient and buffer to `dtype`; returns self."""
        dtype = np.dtype(dtype)
        for p in self.parameters():
            p.data = p.data.astype(dtype)
            if isinstance(p.grad, np.ndarray):
                p.grad = p.grad.astype(dtype)
        for module in self.modules():
            for name in module._buffer_names:
                buffer = getattr(module, name)
                if buffer.dtype.kind == "f":
                    setattr(module, name, buffer.astype(dtype))
        return self

    def float(self) -> Module:
        return self.to(np.float32)

    def double(self) -> Module:
        return self.to(np.float64)

    # ------------------------------------------------------------------ state
    def _state_targets(self) -> dict[str, tuple[Module, str]]:
        """Every saved array by key, as (owning module, attribute name); shared ones twice."""
        targets = {}
        for module_prefix, module in self.named_modules(remove_duplicate=False):
            for name, value in module._members():
                if isinstance(value, Parameter):
                    targets[_join(module_prefix, name)] = (module, name)
            for name in module._buffer_names:
                targets[_join(module_prefix, name)] = (module, name)
        return targets

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter and buffer, keyed by dotted name (params before buffers,
        parent before children). Copies, so training afterwards does not change a saved state."""
        state = {}
        for key, (module, name) in self._state_targets().items():
            value = getattr(module, name)
            state[key] = np.array(value.data if isinstance(value, Tensor) else value)
        return state

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True
    ) -> IncompatibleKeys:
        """Copy arrays into the parameters and buffers, cast to their dtypes.

        Everything is checked before anything is written: with `strict`, a missing or an
        unexpected key is an error; a shape mismatch always is. On error the module is unchanged.
        """
        who = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, Mapping):
            raise TypeError(
                f"{who}: expected a mapping of names to arrays (a state_dict), got "
                f"{type(state_dict).__name__} ({user_location()})"
            )
        targets = self._state_targets()
        missing = [key for key in targets if key not in state_dict]
        unexpected = [key for key in state_dict if key not in targets]
        problems = []
        if strict:
            problems += [f'missing key "{key}"' for key in missing]
            problems += [f'unexpected key "{key}"' for key in unexpected]
        arrays = {}
        for key, (module, name) in targets.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            try:
                value = np.asarray(value.data if isinstance(value, Tensor) else value)
            except ValueError as exc:  # a ragged list
                problems.append(f'"{key}" is not an array ({exc})')
                continue
            current = getattr(module, name)
            current = current.data if isinstance(current, Tensor) else current
            if value.shape != current.shape:
                problems.append(
                    f'shape mismatch for "{key}": the state has shape {value.shape}, '
                    f"the module has {current.shape}"
                )
            elif not np.can_cast(value.dtype, current.dtype, casting="same_kind"):
                problems.append(
                    f'"{key}" has dtype {value.dtype}, which does not convert to the module\'s '
                    f"{current.dtype}"
                )
            else:
                arrays[key] = value
        if problems:
            raise ValueError(
                f"{who}: " + "; ".join(problems) + " (nothing "
                f"was loaded; strict=False skips missing and unexpected keys) ({user_location()})"
            )
        for key, value in arrays.items():
            module, name = targets[key]
            current = getattr(module, name)
            np.copyto(current.data if isinstance(current, Tensor) else current, value)
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------ repr
    def extra_repr(self) -> str:
        """The text inside this module's parentheses in its repr (its hyperparameters)."""
        return ""

    def __repr__(self) -> str:
        lines = [f"({name}): {_indent(repr(child))}" for name, child in self.named_children()]
        if not lines:
            return f"{type(self).__name__}({self.extra_repr()})"
        extra = self.extra_repr()
        body = ([extra] if extra else []) + lines
        return type(self).__name__ + "(\n  " + "\n  ".join(body) + "\n)"


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _indent(text: str) -> str:
    return text.replace("\n", "\n  ")
