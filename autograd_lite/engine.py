"""The tape: how operations are recorded, and how gradients flow back through them.

`primitive` turns a numpy function into an op, and the op is the one place a graph node is made;
`_backprop`, behind `Tensor.backward` and `gradients`, walks the recorded nodes in reverse tape
order (iteratively, never recursing) and calls each op's vector-Jacobian product (VJP).
"""

from __future__ import annotations

import contextlib
import dis
import functools
import gc
import inspect
import itertools
from collections.abc import Callable, Iterator, Sequence
from heapq import heappop, heappush
from operator import attrgetter
from typing import Any

import numpy as np

from .errors import op_error, shape_of
from .tensor import Tensor, _make, _new

_grad_enabled = True  # read by every op; flipped by no_grad / enable_grad
_observers: list = []  # active Tape and detect_anomaly contexts; empty on the fast path
_next_seq = itertools.count().__next__  # tape position: execution order is a topological order
_NO_PARAMS: dict = {}  # shared by every node whose op takes no keyword parameters


class Primitive:
    """An op: a numpy forward, and one VJP rule per positional input.

    A rule `rule(g, out, *inputs, **params)` returns the gradient for its input (or None for
    no gradient), written with ops so that it is differentiable itself. One rule per input
    lets the engine skip the gradients nobody needs: the data X in `X @ W`, a target, a constant.
    """

    __slots__ = ("name", "forward", "vjps", "formula", "n_inputs", "reads_inputs", "__weakref__")

    def __init__(self, forward: Callable) -> None:
        self.name = forward.__name__
        self.forward = forward
        self.vjps: Sequence[Callable] = _NoRules(self.name)  # until defvjp
        self.reads_inputs = True  # whether any rule reads an input's value (set by defvjp)
        kinds = [p.kind for p in inspect.signature(forward).parameters.values()]
        positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        # None for a variadic op (concatenate): its single rule also receives the input's index.
        self.n_inputs = (
            None
            if inspect.Parameter.VAR_POSITIONAL in kinds
            else sum(k in positional for k in kinds)
        )
        doc = (forward.__doc__ or "").strip().splitlines()
        # The docstring's math line ("y = ...;  dx = ...") is what viz shows on the op node.
        self.formula = next((line.strip() for line in doc if ";" in line and "=" in line), "")

    def defvjp(self, *rules: Callable) -> Callable:
        """Register the VJP rules, one per input (for a variadic op, one taking the index first).

        Returns the first rule, so a unary op's rule can be registered with `@op.defvjp`.
        """
        if self.n_inputs is None:
            if len(rules) != 1:
                raise TypeError(f"{self.name} is variadic: give one rule(i, g, out, *inputs)")
            self.vjps = _IndexedRule(rules[0])
        elif len(rules) != self.n_inputs:
            raise TypeError(
                f"{self.name} takes {self.n_inputs} inputs, so defvjp needs {self.n_inputs} "
                f"rules (one per input), got {len(rules)}"
            )
        else:
            self.vjps = rules
            self.reads_inputs = any(_reads_inputs(rule, self.n_inputs) for rule in rules)
        return rules[0]

    def vjp(self, g: Any, out: Any, *inputs: Any, **params: Any) -> tuple:
        """Every input's gradient at once, for tools that show them all (the engine asks only
        for the ones it needs)."""
        return tuple(self.vjps[i](g, out, *inputs, **params) for i in range(len(inputs)))

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"


def _reads_inputs(rule: Callable, n_inputs: int) -> bool:
    """Whether `rule(g, out, *inputs)` reads any input's value, found in its bytecode (as
    PyTorch's autograd code generator reads its derivative formulas for what to save). `add`,
    `sub`, `neg`, `tanh` and `sigmoid` read only g and out, so backward need not gather their
    inputs' arrays. Anything this cannot see into counts as reading, to be safe."""
    code = getattr(rule, "__code__", None)
    if code is None or code.co_flags & inspect.CO_VARARGS:
        return True
    loaded = set(code.co_cellvars)  # captured by a nested function: read there
    for instruction in dis.get_instructions(code):
        if instruction.opname.startswith("LOAD_"):  # LOAD_FAST and its 3.12+ variants
            value = instruction.argval
            loaded.update(value if isinstance(value, tuple) else (value,))
    inputs = code.co_varnames[2 : code.co_argcount][:n_inputs]  # after g and out
    return any(name in loaded for name in inputs)


class _NoRules:
    """The rules of an op whose VJP was never registered: asking for one says so."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __getitem__(self, i: int) -> Callable:
        raise NotImplementedError(
            f"backward: {self.name} has no VJP; register one with {self.name}.defvjp(...)"
        )


class _IndexedRule:
    """The per-input rules of a variadic op: input i's rule is `rule(i, ...)`."""

    def __init__(self, rule: Callable) -> None:
        self.rule = rule

    def __getitem__(self, i: int) -> Callable:
        return functools.partial(self.rule, i)


REGISTRY: dict[str, Callable] = {}
"""Every primitive by name: the tests enumerate it, so each new op is gradient-checked."""


def primitive(forward: Callable) -> Callable:
    """Make `forward` (positional array inputs, keyword-only parameters) an op on the tape.

    Called with plain ndarrays the op is plain numpy; called with any Tensor it returns a Tensor
    and records a node. Register the gradient with `op.defvjp(rule_x, rule_y, ...)`: one rule
    `rule(g, out, *inputs, **params)` per input, each giving that input's gradient or None.
    """
    prim = Primitive(forward)

    # The op is the hot path of every recorded op, so it is written out in one function: the
    # loop over the arguments, the forward, and the node, which is the output tensor itself
    # with its slots filled inline. Tensor's operators are the op itself (tensor.py), so `a * b`
    # runs two Python frames: this one and the forward.
    def op(*args: Any, **params: Any) -> Any:
        arrays = []
        tensors = requires_grad = False
        for a in args:
            if isinstance(a, Tensor):
                tensors = True
                requires_grad = requires_grad or a.requires_grad
                a = a.data
            arrays.append(a)
        if not tensors:
            return forward(*args, **params)
        try:
            data = forward(*arrays, **params) if params else forward(*arrays)
        except (ValueError, TypeError, IndexError) as exc:
            raise op_error(prim.name, args, exc) from None
        if type(data) is not np.ndarray:  # numpy returns scalars for 0-d results
            data = np.asarray(data)
        if not (requires_grad and _grad_enabled):
            return _make(data)
        out = _new(Tensor)
        out.data = data
        out.requires_grad = True
        out.grad = out.name = out._hooks = None
        out._retains_grad = False
        out._op = prim
        out._inputs = args
        out._params = params or _NO_PARAMS
        out._seq = _next_seq()
        if _observers:
            for observer in _observers:
                observer.on_forward(out)
        return out

    op.__name__ = op.__qualname__ = prim.name
    op.__doc__ = forward.__doc__
    op.__module__ = forward.__module__
    op.__wrapped__ = forward  # type: ignore[attr-defined]
    op.prim = prim  # type: ignore[attr-defined]
    op.defvjp = prim.defvjp  # type: ignore[attr-defined]
    REGISTRY[prim.name] = op
    return op


# ---------------------------------------------------------------- grad mode
class _GradMode(contextlib.ContextDecorator):
    enabled: bool

    def __new__(cls, func: Callable | None = None) -> Any:
        # Both `@no_grad()` and a bare `@no_grad` decorate, as in torch.
        mode = super().__new__(cls)
        return mode if func is None else mode(func)

    def __enter__(self) -> None:
        global _grad_enabled
        self._previous, _grad_enabled = _grad_enabled, self.enabled

    def __exit__(self, *exc: object) -> None:
        global _grad_enabled
        _grad_enabled = self._previous


class no_grad(_GradMode):
    """Context manager and decorator: ops inside record nothing (inference, optimizer steps)."""

    enabled = False


class enable_grad(_GradMode):
    """Context manager and decorator: turn recording back on inside a `no_grad` block."""

    enabled = True


def is_grad_enabled() -> bool:
    return _grad_enabled


# ---------------------------------------------------------------- tape
class Tape:
    """Keeps the ordered list of ops recorded inside `with Tape() as tape:`.

    `print(tape)` shows the Wengert list: tape position, op, input shapes and output shape.
    """

    def __init__(self) -> None:
        self.outputs: list[Tensor] = []

    def __enter__(self) -> Tape:
        _observers.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _observers.remove(self)

    def on_forward(self, out: Tensor) -> None:
        self.outputs.append(out)

    def __len__(self) -> int:
        return len(self.outputs)

    def __iter__(self) -> Iterator[Tensor]:
        return iter(self.outputs)

    def __repr__(self) -> str:
        rows = [("#", "op", "inputs", "output")]
        for out in self.outputs:
            inputs = ", ".join(_describe(a) for a in out._inputs) if out._inputs else "(freed)"
            rows.append((str(out._seq), out._op.name, inputs, _describe(out)))
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        lines = [f"Tape with {len(self.outputs)} ops"]
        lines += [
            "  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[3] for row in rows
        ]
        return "\n".join(lines)


def _describe(value: Any) -> str:
    if isinstance(value, Tensor):
        label = value.name or ("" if value._op is None else f"#{value._seq}")
        return f"{label}{shape_of(value)}" if label else shape_of(value)
    return repr(value) if np.isscalar(value) else shape_of(value)


# ---------------------------------------------------------------- backward
def gradients(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
) -> tuple[Any, ...]:
    """Gradients of `outputs` with respect to `inputs`, returned instead of stored in `.grad`.

    Like `torch.autograd.grad`: no leaf's `.grad` changes. An input the outputs do not depend on
    gets a zero gradient. With `create_graph=True` the results are Tensors on the tape.
    """
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, Tensor | np.ndarray):
        grad_outputs = [grad_outputs] * len(outputs)
    for x in inputs:
        if not x.requires_grad:
            raise RuntimeError(
                f"gradients: input {_describe(x)} does not require grad, so nothing flows to it"
            )
    found = _backprop(outputs, list(grad_outputs), inputs, retain_graph, create_graph)
    results = []
    for x in inputs:
        g = found.get(x)
        if g is None:
            g = _make(np.zeros_like(x.data)) if create_graph else np.zeros_like(x.data)
        results.append(g)
    return tuple(results)


def _backprop(
    roots: list[Tensor],
    root_grads: list[Any],
    inputs: list[Tensor] | None,
    retain_graph: bool | None,
    create_graph: bool,
) -> dict[Tensor, Any]:
    """Reverse pass shared by `Tensor.backward` (inputs=None: fill leaf `.grad`) and
    `gradients`.

    Nodes are visited latest tape position first, from a heap of the nodes that have received
    a gradient and not yet passed it on. Every consumer of a node comes later on the tape, so
    a node's gradient is complete when it leaves the heap. The heap holds only that frontier
    (one node for a chain), and a node is released as soon as it is used, so the reverse pass
    needs no list of the whole graph.

    Python's cycle collector is paused meanwhile: the reverse pass makes no reference cycles,
    so its scans of the live graph would find nothing (~5% of the pass on a 100,000-link
    chain, whose graph shrinks as it is walked).
    """
    global _grad_enabled
    if retain_graph is None:
        # Differentiating the gradient later walks the forward nodes again: keep them.
        retain_graph = create_graph
    grads: dict[Tensor, Any] = {}
    frontier: list[tuple[int, Tensor]] = []
    handed: set[int] = set()  # leaf gradients kept without a copy; a second leaf gets a copy
    for root, g in zip(roots, root_grads):
        g = _seed(root, g, create_graph)
        handed.add(id(g))  # the caller's array, or the shared ones
        if root in grads:
            grads[root] = grads[root] + g
        else:
            grads[root] = g
            if root._op is not None:
                heappush(frontier, (-root._seq, root))
    targets = None if inputs is None else set(inputs)
    wanted = None if targets is None else _on_path_to(roots, targets)
    found: dict[Tensor, Any] = {}
    checkers = [o for o in _observers if hasattr(o, "on_backward")] if _observers else ()

    previous, _grad_enabled = _grad_enabled, create_graph
    collecting = gc.isenabled()
    gc.disable()
    try:
        while frontier:
            t = heappop(frontier)[1]
            g = grads.pop(t)
            args = t._inputs
            if args is None:
                raise RuntimeError(
                    f"backward: the graph through {t._op.name} (tape #{t._seq}) was already "
                    "freed by an earlier backward(); pass retain_graph=True to the first "
                    "backward() if you need to go through the same graph twice"
                )
            if wanted is not None and t not in wanted:
                continue
            if t._hooks:
                g = _run_hooks(t, g)
                handed.add(id(g))  # a hook may keep what it returns: leaves get a copy
            if targets is None:
                if t._retains_grad:
                    _accumulate(t, g, create_graph, handed)
            elif t in targets:
                found[t] = g
            vjps = t._op.vjps
            if create_graph:
                out, arrays = t, args
            elif not t._op.reads_inputs:  # what the rules get for the inputs goes unread
                out, arrays = t.data, args
            else:
                out, arrays = t.data, []
                for x in args:  # a plain loop: ~35% faster than a list comprehension here
                    arrays.append(x.data if isinstance(x, Tensor) else x)
            params = t._params
            for i, x in enumerate(args):
                if not (isinstance(x, Tensor) and x.requires_grad):
                    continue
                if wanted is not None and x not in wanted:
                    continue
                gx = vjps[i](g, out, *arrays, **params) if params else vjps[i](g, out, *arrays)
                if gx is None:
                    continue
                if checkers:
                    for checker in checkers:
                        checker.on_backward(t, i, gx)
                if gx.shape != x.data.shape:
                    gx = _sum_back(gx, x, t, i)
                previous_gx = grads.get(x)
                if previous_gx is None:
                    grads[x] = gx
                    if x._op is not None:
                        heappush(frontier, (-x._seq, x))
                else:
                    grads[x] = previous_gx + gx
            if not retain_graph:
                t._inputs = None
        # What is left in `grads` belongs to leaves: their gradients are complete now.
        for t, g in grads.items():
            if t._hooks:
                g = _run_hooks(t, g)
            if targets is None:
                _accumulate(t, g, create_graph, handed)
            elif t in targets:
                found[t] = g
    finally:
        _grad_enabled = previous
        if collecting:
            gc.enable()
    return found


def _sum_back(gx: Any, x: Tensor, t: Tensor, i: int) -> Any:
    """Sum a broadcast gradient back to its input's shape; a shape that broadcasting cannot
    explain is a bug in the op's VJP, so name it."""
    try:
        if isinstance(gx, Tensor):  # create_graph: the sum is recorded too
            return sum_to(gx, shape=x.data.shape)
        return sum_to.__wrapped__(gx, shape=x.data.shape)  # an array: skip the op's dispatch
    except ValueError:
        raise RuntimeError(
            f"backward: the VJP of {t._op.name} returned a gradient of shape {tuple(gx.shape)} "
            f"for input #{i} of shape {x.shape}; it must be that shape or broadcast from it"
        ) from None


def _seed(root: Tensor, grad: Any, create_graph: bool) -> Any:
    """The upstream gradient for `root`: ones for a one-element output, else the user's `grad`."""
    if not root.requires_grad:
        raise RuntimeError(
            f"backward: tensor {_describe(root)} does not require grad and was not made by an op "
            "on one that does; set requires_grad=True on the inputs you want gradients for"
        )
    if grad is None:
        if root.data.size != 1:
            raise RuntimeError(
                f"backward: grad can be implied only for a one-element output, but this output "
                f"has shape {root.shape}; reduce it first (e.g. loss.mean()) or pass "
                f"grad= of shape {root.shape}"
            )
        grad = _ones(root.data.shape, root.data.dtype)
    elif isinstance(grad, Tensor):
        grad = grad if create_graph else grad.data
    else:
        grad = np.asarray(grad, dtype=root.data.dtype)
    if grad.shape != root.data.shape:
        raise RuntimeError(
            f"backward: grad has shape {grad.shape} but the output has shape {root.shape}"
        )
    return _make(grad) if create_graph and not isinstance(grad, Tensor) else grad


@functools.cache
def _ones(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """The implied upstream gradient of a one-element output; read-only, so sharing it is safe."""
    ones = np.ones(shape, dtype)
    ones.flags.writeable = False
    return ones


def _on_path_to(roots: list[Tensor], targets: set[Tensor]) -> set[Tensor]:
    """Tensors on a path from a root down to some target: `gradients()` sends gradients along
    these only. Iterative: depth is unbounded."""
    seen = set(roots)
    stack = list(roots)
    nodes = []
    while stack:
        t = stack.pop()
        if t._inputs is None:  # a leaf, or a node freed by an earlier backward()
            continue
        nodes.append(t)
        for x in t._inputs:
            if isinstance(x, Tensor) and x not in seen:
                seen.add(x)
                stack.append(x)
    nodes.sort(key=attrgetter("_seq"))  # tape position
    on_path = set(targets)
    for t in nodes:  # forward order: inputs before the ops that use them
        if any(isinstance(x, Tensor) and x in on_path for x in t._inputs):
            on_path.add(t)
    return on_path


def _run_hooks(t: Tensor, g: Any) -> Any:
    for hook in list(t._hooks):
        replaced = hook(g)
        if replaced is not None:
            g = replaced
    return g


def _accumulate(t: Tensor, g: Any, create_graph: bool, handed: set[int]) -> None:
    """Add `g` to `t.grad` in t's dtype; as in PyTorch, leaf gradients add up across calls."""
    dtype = t.data.dtype
    if create_graph:
        if not isinstance(g, Tensor):
            g = _make(np.asarray(g))
        if g.data.dtype != dtype:
            g = g.astype(dtype)
        t.grad = g if t.grad is None else t.grad + g
    elif t.grad is not None:
        t.grad = t.grad + np.asarray(g, dtype=dtype)  # a fresh sum
    elif (
        type(g) is np.ndarray
        and g.base is None  # owns its memory: not a view of another array
        and g.dtype == dtype
        and id(g) not in handed
        and not t._hooks
        and (flags := g.flags).c_contiguous  # one flags object: each .flags builds one
        and flags.writeable
    ):
        t.grad = g  # fresh from a VJP: safe to keep without a copy
        handed.add(id(g))
    else:
        # A copy: the array may be a view, shared with another leaf (add passes g to both
        # inputs), the caller or a hook, read-only, or transposed (W in x @ W.T: in-place
        # updates on an F-ordered gradient run ~6x slower).
        t.grad = np.array(g, dtype=dtype, order="C")


# ops are built on this module, so the one op the engine itself needs is imported last.
from .ops.shape import sum_to  # noqa: E402
