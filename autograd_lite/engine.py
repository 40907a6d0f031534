"""The tape: how operations are recorded, and how gradients flow back through them.

`primitive` turns a numpy function into an op, the one place a graph `Node` is made;
`_backprop`, behind `Tensor.backward` and `gradients`, walks the recorded nodes in reverse tape
order (iteratively, never recursing) and calls each op's vector-Jacobian product (VJP).

A node keeps an array only if a gradient rule will read it (`tanh` keeps its output for
dx = g*(1-y**2), `mul` its inputs, `add` nothing), as PyTorch's saved tensors do, and of a
large array whose shape is all a rule reads (`reshape`'s input) only a `Meta`. What each rule
reads is found from the rule itself, so no op declares it twice.
"""

from __future__ import annotations

import contextlib
import dis
import functools
import gc
import inspect
import itertools
import linecache
from collections.abc import Callable, Iterator, Sequence
from heapq import heappop, heappush
from operator import attrgetter
from typing import Any

import numpy as np

from .dtypes import NUMBERS, require_numbers  # noqa: F401 (used by the compiled ops)
from .errors import op_error, shape_of, user_location  # noqa: F401 (op_error: compiled ops)
from .tensor import Tensor, _make, _new  # noqa: F401 (_new: used by the compiled ops)

_grad_enabled = True  # read by every op; flipped by no_grad / enable_grad
_observers: list[Observer] = []  # active Tape, detect_anomaly, viz.watch; empty on the fast path
_tape = itertools.count()  # next(_tape): the tape position; execution order is topological
_META_BYTES = 64 * 1024  # an array only a shape is read from is kept as its Meta from here
_NO_PARAMS: dict = {}  # shared by every node whose op takes no keyword parameters
_ndarray = np.ndarray  # one global lookup on hot paths instead of a global and an attribute
_FROM_A_CONSTANT = "the result, computed with a constant input that is not a number,"


class Primitive:
    """An op: a numpy forward, and one VJP rule per positional input.

    A rule `rule(g, out, *inputs, **params)` returns the gradient for its input (or None for
    no gradient), written with ops so that it is differentiable itself. One rule per input
    lets the engine skip the gradients nobody needs: the data X in `X @ W`, a target, a constant.
    """

    __slots__ = (
        "name",
        "forward",
        "vjps",
        "formula",
        "n_inputs",
        "takes_params",
        "keeps_out",
        "reads",
        "reads_values",
        "backward",
        "__weakref__",
    )

    def __init__(self, forward: Callable) -> None:
        self.name = forward.__name__
        self.forward = forward
        self.vjps: Sequence[Callable] = _NoRules(self.name)
        # What the VJP rules read, so what a node of this op keeps: its output, and per input
        # whether a rule reads it at all and whether its values (else its `Meta` is kept); set
        # by defvjp; a variadic op's rule may read any input.
        self.keeps_out = True
        self.reads: Sequence[bool] = _READS_ALL
        self.reads_values: Sequence[bool] = _READS_ALL
        # backward(node, g, grads, frontier, wanted, watchers, create_graph): sends g on to the
        # node's inputs; compiled by defvjp from `_backward_source`, as the op from `_op_source`.
        self.backward: Callable = _no_backward
        kinds = [p.kind for p in inspect.signature(forward).parameters.values()]
        positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        # None for a variadic op (concatenate): its single rule also receives the input's index.
        self.n_inputs = (
            None
            if inspect.Parameter.VAR_POSITIONAL in kinds
            else sum(k in positional for k in kinds)
        )
        # An op whose forward takes no keyword parameters is compiled without **params: the
        # empty dict Python builds for it on every call costs ~8% of a recorded `a * b`.
        self.takes_params = bool(
            {inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.VAR_KEYWORD} & set(kinds)
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
            self.vjps = _IndexedRule(rules[0])  # it reads its inputs: the defaults stand
            self.backward = _variadic_backward(self)
            return rules[0]
        if len(rules) != self.n_inputs:
            raise TypeError(
                f"{self.name} takes {self.n_inputs} inputs, so defvjp needs {self.n_inputs} "
                f"rules (one per input), got {len(rules)}"
            )
        self.vjps = rules
        found = [_reads(rule, 2 + self.n_inputs) for rule in rules]
        self.keeps_out = any(1 in loaded for loaded, _ in found)
        inputs = range(self.n_inputs)
        self.reads = tuple(any(2 + i in loaded for loaded, _ in found) for i in inputs)
        self.reads_values = tuple(any(2 + i in values for _, values in found) for i in inputs)
        self.backward = _compile(self, "backward", self.n_inputs, rules)
        return rules[0]

    def vjp(self, g: Any, out: Any, *inputs: Any, **params: Any) -> tuple:
        """Every input's gradient at once, for tools that show them all (the engine asks only
        for the ones it needs)."""
        return tuple(self.vjps[i](g, out, *inputs, **params) for i in range(len(inputs)))

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"


_SHAPE_ATTRIBUTES = frozenset({"shape", "ndim", "dtype", "size"})


def _reads(rule: Callable, n: int) -> tuple[frozenset[int], frozenset[int]]:
    """Of a rule's first n positional parameters (g, out, *inputs): those its body loads at
    all, and those whose values it reads. One it only asks for its shape, ndim, dtype or size
    is loaded but not read (reshape's rule: reshape(g, shape=x.shape)).

    Found in the rule's bytecode: a parameter it never loads is a value the node need not
    keep, and one whose values it never reads needs only a `Meta` (PyTorch's autograd code
    generator likewise reads its derivative formulas to decide what to save, and saves only
    the sizes of a view's input). Anything this cannot see into reads everything.
    """
    code = getattr(rule, "__code__", None)
    if code is None or code.co_flags & inspect.CO_VARARGS:
        return frozenset(range(n)), frozenset(range(n))
    return _reads_in(code, n)


@functools.cache
def _reads_in(code: Any, n: int) -> tuple[frozenset[int], frozenset[int]]:
    """`_reads` for a code object, scanned once."""
    # Captured by a nested function or lambda: read there, in ways not looked into.
    loaded, read = set(code.co_cellvars), set(code.co_cellvars)
    instructions = list(dis.get_instructions(code))
    for instruction, after in zip(instructions, [*instructions[1:], None]):
        if instruction.opname.startswith("LOAD_"):  # LOAD_FAST and its 3.12+ variants
            value = instruction.argval
            names = value if isinstance(value, tuple) else (value,)
            loaded.update(names)
            if not (
                instruction.opname == "LOAD_FAST"
                and after is not None
                and after.opname == "LOAD_ATTR"
                and after.argval in _SHAPE_ATTRIBUTES
            ):
                read.update(names)
    parameters = code.co_varnames[: min(n, code.co_argcount)]
    return (
        frozenset(i for i, name in enumerate(parameters) if name in loaded),
        frozenset(i for i, name in enumerate(parameters) if name in read),
    )


class Meta:
    """What a node keeps of an array when no rule reads its values, only its shape, ndim,
    dtype or size: reshape's input (its rule is reshape(g, shape=x.shape)), or an input an op
    broadcast (backward sums the gradient back to its shape). The array itself can go as soon
    as the forward pass is past it."""

    __slots__ = ("shape", "ndim", "dtype", "size")

    def __init__(self, array: np.ndarray) -> None:
        self.shape, self.ndim, self.dtype, self.size = (
            array.shape,
            array.ndim,
            array.dtype,
            array.size,
        )

    def __repr__(self) -> str:
        return f"Meta(shape={self.shape}, dtype={self.dtype})"


class _ReadsAll:
    """What a variadic op's rule reads: any of its inputs, as far as the engine can tell."""

    def __getitem__(self, i: int) -> bool:
        return True


_READS_ALL: Any = _ReadsAll()


class _NoRules:
    """The rules of an op whose VJP was never registered: asking for one says so."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __getitem__(self, i: int) -> Callable:
        raise NotImplementedError(
            f"backward: {self.name} has no VJP; register one with {self.name}.defvjp(...)"
        )


def _no_backward(node: Node, *args: Any) -> None:
    node.op.vjps[0]  # raises: the op has no VJP, and says how to register one


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
    if prim.n_inputs is None:  # variadic (concatenate): one body per number of inputs seen
        bodies: dict[int, Callable] = {}

        def op(*args: Any, **params: Any) -> Any:
            body = bodies.get(len(args))
            if body is None:
                if not args:  # numpy's words; there is no body for zero inputs to compile
                    raise ValueError(f"{prim.name}: need at least one array ({user_location()})")
                body = bodies[len(args)] = _compile_op(prim, len(args))
            return body(*args, **params)

    else:
        op = _compile_op(prim, prim.n_inputs)
    op.__name__ = op.__qualname__ = prim.name
    op.__doc__ = forward.__doc__
    op.__module__ = forward.__module__
    op.__wrapped__ = forward  # type: ignore[attr-defined]
    op.prim = prim  # type: ignore[attr-defined]
    op.defvjp = prim.defvjp  # type: ignore[attr-defined]
    REGISTRY[prim.name] = op
    return op


def _compile_op(prim: Primitive, n: int) -> Callable:
    """The op for exactly `n` inputs, compiled from the source `_op_source` writes out."""
    return _compile(prim, "op", n, prim.forward)


def _compile(prim: Primitive, kind: str, n: int, *args: Any) -> Callable:
    """Compile `prim`'s op or backward for `n` inputs from its written-out source: `make(prim,
    *args)` in that source returns it."""
    source = (_op_source if kind == "op" else _backward_source)(n, prim)
    namespace: dict[str, Any] = {}
    # Named inside this package, so error messages skip its frames to point at the user's line;
    # in linecache, so tracebacks show its source.
    filename = f"{__file__} <{kind} {prim.name}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), globals(), namespace)
    return namespace["make"](prim, *args)


def _variadic_backward(prim: Primitive) -> Callable:
    """The backward of a variadic op: one compiled per number of inputs seen."""
    bodies: dict[int, Callable] = {}

    def backward(node: Node, *args: Any) -> None:
        n = len(node.inputs)
        body = bodies.get(n)
        if body is None:
            body = bodies[n] = _compile(prim, "backward", n, [prim.vjps[i] for i in range(n)])
        body(node, *args)

    return backward


def _op_source(n: int, prim: Primitive) -> str:
    """Python source of an op of `n` inputs `x0, x1, ...` (and keyword parameters, if `prim`
    takes any): the one place a graph node is made.

    This is the hot path of every recorded op, so it is written out for each number of inputs
    instead of looping over them (a loop costs ~0.3 µs of an op's ~1 µs: `a * b` on 3x3 takes
    ~0.8 µs with this body, ~1.0 µs with the loop). Per input i it computes `t{i}` (is it a
    Tensor), `a{i}` (its array) and `e{i}` (what the node holds for it: the node that made it,
    a leaf Tensor, or the constant). A node keeps an input's array only if a rule reads it or
    the op broadcast it (backward then needs its shape to sum the gradient back); it keeps its
    own output only if its rules read that.
    """
    each = range(n)
    xs = ", ".join(f"x{i}" for i in each)
    arrays = ", ".join(f"a{i}" for i in each)
    signature = ", ".join([*(f"x{i}" for i in each), "/"] if n else [])
    if prim.takes_params:
        signature += ", **params" if n else "**params"
        plain = f"forward({xs}{', ' if n else ''}**params)"
        traced = f"forward({arrays}, **params) if params else forward({arrays})"
        stored = "params or _NO_PARAMS"
    else:
        plain, traced, stored = f"forward({xs})", f"forward({arrays})", "_NO_PARAMS"
    lines = [
        "def make(prim, forward):",
        f"    def op({signature}):",
        *(f"        t{i} = isinstance(x{i}, Tensor)" for i in each),
        f"        if not ({' or '.join(f't{i}' for i in each) or 'False'}):",
        "            if _observers:  # a replay's trace writes out ops on plain arrays too",
        f"                return _plain(prim, ({xs}{',' if n == 1 else ''}), "
        f"{'params' if prim.takes_params else '_NO_PARAMS'})",
        f"            return {plain}",
        *(f"        a{i} = x{i}.data if t{i} else x{i}" for i in each),
        "        try:",
        f"            data = {traced}",
        "        except (ValueError, TypeError, IndexError, ArithmeticError) as exc:",
        f"            raise op_error(prim.name, ({xs}{',' if n == 1 else ''}), exc) from None",
        "        if type(data) is not _ndarray:  # numpy returns scalars for 0-d results",
        "            data = np.asarray(data)",
        *(
            # A Tensor holds numbers; only a constant input (Fraction(1), an object array) can
            # make numpy compute on Python objects, so only then is the result's dtype checked.
            [
                f"        if not ({' and '.join(f't{i}' for i in each)}) and "
                "data.dtype.kind not in NUMBERS:",
                "            require_numbers(data.dtype, prim.name, _FROM_A_CONSTANT)",
            ]
            if n > 1
            else []
        ),
        "        if not (_grad_enabled and ("
        + " or ".join(f"(t{i} and x{i}.requires_grad)" for i in each)
        + ")):",
        "            return _make(data)",
        "        reads, values = prim.reads, prim.reads_values",
    ]
    for i in each:
        broadcast = f" or a{i}.shape != data.shape" if n > 1 else ""
        lines += [
            f"        e{i} = x{i}",
            f"        if t{i} and (x := x{i}._node) is not None:",
            f"            e{i} = x  # the graph holds the node: the tensor and its array can go",
            # A node released by a backward() and read again gets its array back.
            f"            if values[{i}] or (reads[{i}] and x.out is FREED):",
            f"                x.out = a{i}",
            f"            elif x.out is None and (reads[{i}]{broadcast}):",
            "                # Only its shape is needed (by a rule, or to sum back to): a small",
            "                # array costs less kept than described.",
            f"                x.out = a{i} if a{i}.nbytes < _META_BYTES else Meta(a{i})",
        ]
    lines += [
        "        node = _new(Node)",
        "        node.op = prim",
        *_store_inputs(n, prim),
        f"        node.params = {stored}",
        "        node.out = data if prim.keeps_out else None",
        "        node.seq = next(_tape)",
        "        node.extras = None",
        "        out = _new(Tensor)",
        "        out.data = data",
        "        out.requires_grad = True",
        "        out.grad = out._name = out._hooks = None",
        "        out._node = node",
        "        if _observers:",
        "            for observer in _observers:",
        f"                observer.on_forward(out, [{arrays}])",
        "        return out",
        "    return op",
    ]
    return "\n".join(lines) + "\n"


def _backward_source(n: int, prim: Primitive) -> str:
    """Python source of the backward step of an op of `n` inputs: hand the node's gradient `g`
    to the rule of each input that needs a gradient (a node, or a leaf that requires grad, on
    the way to what `gradients` wants), sum the result back to that input's shape if the op
    broadcast it (`kept`: the array the input's node kept, or the leaf's own), and add it to
    the input's gradient so far in `grads`, pushing a node onto the `frontier` when it first
    gets one.

    Written out per input, as the op itself is (the backward of `lab` ran ~7% fewer
    instructions than the loop over inputs it replaces): each rule is called with exactly its
    arguments (through `*values` a call costs ~3 times as much), and only the inputs some rule
    reads are looked up (`v{i}`; the others are passed as they are, unread).
    """
    each = range(n)
    xs = ", ".join(f"x{i}" for i in each)
    vs = ", ".join(f"v{i}" for i in each)
    if _in_slots(prim):
        unpack = f"{xs} = {', '.join(f'node.x{i}' for i in each)}"
    else:
        unpack = f"{xs}, = node.x0"
    lines = [
        "def make(prim, rules):",
        f"    {''.join(f'r{i}, ' for i in each)}= rules",
        "    def backward(node, g, grads, frontier, wanted, watchers, create_graph):",
        f"        {unpack}",
        "        if create_graph:  # the rules get Tensors, so what they compute is recorded",
        "            out = _tensor_of(node)",
        *(f"            v{i} = _tensor_of(x{i})" for i in each),
        "        else:",
        "            out = node.out",
        *(
            f"            v{i} = x{i}.out if type(x{i}) is Node else "
            f"x{i}.data if isinstance(x{i}, Tensor) else x{i}"
            if prim.reads[i]
            else f"            v{i} = x{i}"
            for i in each
        ),
    ]
    if prim.takes_params:
        lines.append("        params = node.params")
    for i in each:
        call = f"r{i}(g, out, {vs})"
        if prim.takes_params:
            call = f"r{i}(g, out, {vs}, **params) if params else {call}"
        lines += [
            f"        wants = type(x{i}) is Node or isinstance(x{i}, Tensor) and "
            f"x{i}.requires_grad",
            f"        if wants and (wanted is None or x{i} in wanted):",
            f"            gx = {call}",
            "            if gx is not None:",
            f"                kept = x{i}.out if type(x{i}) is Node else x{i}.data",
            "                if kept is not None and gx.shape != kept.shape:",
            f"                    gx = _sum_back(gx, kept.shape, node, {i})",
            "                if watchers:",
            "                    for watcher in watchers:",
            f"                        watcher.on_backward(node, {i}, gx)",
            f"                previous = grads.get(x{i})",
            "                if previous is None:",
            f"                    grads[x{i}] = gx",
            f"                    if type(x{i}) is Node:",
            f"                        heappush(frontier, (-x{i}.seq, x{i}))",
            "                else:",
            f"                    grads[x{i}] = previous + gx",
        ]
    lines += ["    return backward"]
    return "\n".join(lines) + "\n"


_SLOTS = 3  # a node keeps up to this many inputs in slots of its own (x0, x1, x2)


def _in_slots(prim: Primitive) -> bool:
    """Whether a node of `prim` keeps its inputs in its slots, else their tuple in x0."""
    return prim.n_inputs is not None and prim.n_inputs <= _SLOTS


def _store_inputs(n: int, prim: Primitive) -> list[str]:
    """The op's lines that store its n input entries `e{i}` in the node (see `Node`)."""
    entries = [f"e{i}" for i in range(n)]
    if not _in_slots(prim):
        return [f"        node.x0 = ({', '.join(entries)},)", "        node.x1 = node.x2 = None"]
    entries += ["None"] * (_SLOTS - n)
    return [f"        node.x{i} = {e}" for i, e in enumerate(entries)]


def _entry(t: Tensor) -> Node | Tensor:
    """What the graph holds for a tensor: the node that made it, or the leaf itself."""
    return t if t._node is None else t._node


class Node:
    """One recorded op: what backward needs to send a gradient through it.

    `op` is the primitive; `inputs` holds, per argument, the Node that made it, a leaf Tensor,
    or the constant itself; `params` the keyword parameters; `out` the output array if a rule
    reads it (its own, or a later op's rule that reads this value), else None, and `FREED` once
    backward() has released the node; `seq` the tape position. `extras` holds what few nodes
    carry: a name, hooks, a tensor that retains its grad, what a `viz.watch()` recorded.

    backward() releases only the arrays: op, inputs and params stay, so the graph can still be
    drawn and explained after it (as PyTorch keeps its graph and frees the saved tensors).

    The inputs of an op of up to three are kept in slots, x0, x1 and x2 (None past its
    inputs), not in a tuple: eight slots are 96 bytes, six slots and a tuple of two 144, and
    the tuple is one more object for the cycle collector to scan (the deep chain's graph has
    300,000 nodes). A variadic op's, or more than three, are a tuple in x0.
    """

    __slots__ = ("op", "x0", "x1", "x2", "params", "out", "seq", "extras")

    @property
    def inputs(self) -> tuple:
        """The entries of the op's inputs, in order."""
        n = self.op.n_inputs
        if n is None or n > _SLOTS:
            return self.x0
        return (self.x0, self.x1, self.x2)[:n]

    def __repr__(self) -> str:
        return f"<node #{self.seq} {self.op.name}>"


class Extras:
    """A node's rarely used parts: a user's name, hooks, the tensor that retains its grad, and
    what a `viz.watch()` recorded of the backward passes that started from this node."""

    __slots__ = ("name", "_hooks", "retained", "recorded")

    def __init__(self) -> None:
        self.name = self._hooks = self.retained = self.recorded = None


def extras_of(node: Node) -> Extras:
    if node.extras is None:
        node.extras = Extras()
    return node.extras


class _Freed:
    """What `Node.out` holds once backward() has released the node: its values are gone (its
    op, inputs and params stay). Read as an array, it says so instead of passing for one."""

    __slots__ = ()

    def __array__(self, *args: Any, **kwargs: Any) -> np.ndarray:
        raise RuntimeError(_FREED_TEXT)

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(_FREED_TEXT)

    def __repr__(self) -> str:
        return "<value freed by backward()>"


_FREED_TEXT = (
    "this value was freed by an earlier backward(); pass retain_graph=True to that backward() "
    "to go through the same graph twice"
)
FREED = _Freed()
"""`Node.out` of a node whose arrays backward() has released."""


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


# ---------------------------------------------------------------- watching the engine
def _plain(prim: Primitive, inputs: tuple, params: dict) -> Any:
    """An op called on plain values while a watcher is active: numpy's result, shown to it."""
    data = prim.forward(*inputs, **params)
    for observer in _observers:
        observer.on_plain(prim, inputs, params, data)
    return data


class Observer:
    """What watches the engine while it is in `_observers`: Tape, detect_anomaly, viz.watch.

    Every hook does nothing here; a watcher overrides the ones it needs. None of them costs
    anything while no watcher is active: the op body and backward() test `_observers` once.
    """

    def on_forward(self, out: Tensor, arrays: list) -> None:
        """An op was recorded: `out` is its output, `arrays` its input arrays."""

    def on_plain(self, prim: Primitive, inputs: tuple, params: dict, result: Any) -> None:
        """An op ran on plain values (no Tensor input), so nothing was recorded."""

    def on_backward_begin(self, roots: list[Node | Tensor]) -> None:
        """A backward pass starts from these roots (the nodes that made them, or leaves)."""

    def on_backward(self, node: Node, i: int, gx: Any) -> None:
        """The gradient `node` sends to its input i, summed back to that input's shape."""

    def on_gradient(self, x: Node | Tensor, g: Any) -> None:
        """The complete gradient of a node's output, or of a leaf, in this backward pass."""

    def on_backward_end(self) -> None:
        """The walk over the nodes is over; the leaves' gradients are not stored yet."""


# ---------------------------------------------------------------- tape
class Tape(Observer):
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

    def on_forward(self, out: Tensor, arrays: list) -> None:
        self.outputs.append(out)

    def __len__(self) -> int:
        return len(self.outputs)

    def __iter__(self) -> Iterator[Tensor]:
        return iter(self.outputs)

    def __repr__(self) -> str:
        recorded = {out._node: out for out in self.outputs}  # entries -> the tensors seen here
        rows = [("#", "op", "inputs", "output")]
        for out in self.outputs:
            node = out._node
            inputs = ", ".join(
                _describe(recorded.get(x, x) if type(x) is Node else x) for x in node.inputs
            )
            rows.append((str(node.seq), node.op.name, inputs, _describe(out)))
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        lines = [f"Tape with {len(self.outputs)} ops"]
        lines += [
            "  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[3] for row in rows
        ]
        return "\n".join(lines)


def _describe(value: Any) -> str:
    if isinstance(value, Tensor):
        label = value.name or ("" if value._node is None else f"#{value._node.seq}")
        return f"{label}{shape_of(value)}" if label else shape_of(value)
    if type(value) is Node:  # made outside the Tape: its tensor is not at hand
        name = value.extras and value.extras.name
        return name or f"#{value.seq}"
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
        g = found.get(_entry(x))
        if g is None:
            g = _make(np.zeros_like(x.data)) if create_graph else np.zeros_like(x.data)
        results.append(_in_dtype_of(x, g, create_graph))
    return tuple(results)


def _backprop(
    roots: list[Tensor],
    root_grads: list[Any],
    inputs: list[Tensor] | None,
    retain_graph: bool | None,
    create_graph: bool,
) -> dict[Node | Tensor, Any]:
    """Reverse pass shared by `Tensor.backward` (inputs=None: fill leaf `.grad`) and
    `gradients` (returns the gradients of the inputs' entries: node or leaf).

    Nodes are visited latest tape position first, from a heap of the nodes that have received
    a gradient and not yet passed it on. Every consumer of a node comes later on the tape, so
    a node's gradient is complete when it leaves the heap. The heap holds only that frontier
    (one node for a chain), and a node's arrays are released as soon as it is used, so the
    reverse pass needs no list of the whole graph, and gives memory back as it goes.

    Python's cycle collector is paused meanwhile: the reverse pass makes no reference cycles,
    so its scans of the live graph would find nothing (~5% of the pass on a 100,000-link
    chain).
    """
    global _grad_enabled
    if retain_graph is None:
        # Differentiating the gradient later walks the forward nodes again: keep them.
        retain_graph = create_graph
    grads: dict[Node | Tensor, Any] = {}  # gradient so far, per node or leaf
    frontier: list[tuple[int, Node]] = []
    handed: set[int] = set()  # leaf gradients kept without a copy; a second leaf gets a copy
    for root, g in zip(roots, root_grads):
        g = _seed(root, g, create_graph)
        handed.add(id(g))  # the caller's array, or the shared ones
        x = _entry(root)
        if x in grads:
            grads[x] = grads[x] + g
        else:
            grads[x] = g
            if type(x) is Node:
                heappush(frontier, (-x.seq, x))
    targets = None if inputs is None else {_entry(x) for x in inputs}
    wanted = None if targets is None else _on_path_to([_entry(r) for r in roots], targets)
    found: dict[Node | Tensor, Any] = {}
    watchers = tuple(_observers)  # empty on the fast path: each call below is behind a test
    for watcher in watchers:
        watcher.on_backward_begin([_entry(root) for root in roots])

    previous, _grad_enabled = _grad_enabled, create_graph
    collecting = gc.isenabled()
    gc.disable()
    try:
        while frontier:
            node = heappop(frontier)[1]
            g = grads.pop(node)
            if node.out is FREED:
                raise _freed_error(node)
            if wanted is not None and node not in wanted:
                continue
            extras = node.extras
            if extras is not None:
                if extras._hooks:
                    g = _run_hooks(extras._hooks, g)
                    handed.add(id(g))  # a hook may keep what it returns: leaves get a copy
                retained = extras.retained and extras.retained()
                if retained is not None and targets is None:
                    _accumulate(retained, g, create_graph, handed)
            if targets is not None and node in targets:
                found[node] = g
            if watchers:
                for watcher in watchers:
                    watcher.on_gradient(node, g)
            try:
                node.op.backward(node, g, grads, frontier, wanted, watchers, create_graph)
            except Exception:
                # A graph made before an earlier backward() may share nodes that it released:
                # reading their values fails above, and this says why.
                for x in node.inputs:
                    if type(x) is Node and x.out is FREED:
                        raise _freed_error(x) from None
                raise
            if not retain_graph:
                # Release the arrays; the structure stays, to be drawn and explained.
                node.out = FREED
        for watcher in watchers:  # after the whole walk, before any leaf's .grad changes
            watcher.on_backward_end()
        # What is left in `grads` belongs to leaves: their gradients are complete now.
        for t, g in grads.items():
            if t._hooks:
                g = _run_hooks(t._hooks, g)
                handed.add(id(g))  # a hook may keep what it returns: the leaf gets a copy
            for watcher in watchers:
                watcher.on_gradient(t, g)
            if targets is None:
                _accumulate(t, g, create_graph, handed)
            elif t in targets:
                found[t] = g
    finally:
        _grad_enabled = previous
        if collecting:
            gc.enable()
    return found


def _freed_error(node: Node) -> RuntimeError:
    return RuntimeError(
        f"backward: the graph through {node.op.name} (tape #{node.seq}) was already freed by "
        "an earlier backward(); pass retain_graph=True to the first backward() if you need to "
        "go through the same graph twice"
    )


def _tensor_of(x: Any) -> Any:
    """A rule's argument under create_graph: a node's kept array becomes a Tensor on that node,
    so what the rule computes from it is recorded and differentiable again."""
    if type(x) is not Node:
        return x  # a leaf Tensor, or a constant
    if x.out is None:
        return None  # no rule reads it
    if type(x.out) is Meta:
        return x.out  # the rules read only its shape
    t = _make(x.out)
    t.requires_grad = True
    t._node = x
    return t


def _sum_back(gx: Any, shape: tuple[int, ...], node: Node, i: int) -> Any:
    """Sum a broadcast gradient back to its input's shape; a shape that broadcasting cannot
    explain is a bug in the op's VJP, so name it."""
    try:
        if isinstance(gx, Tensor):  # create_graph: the sum is recorded too
            return sum_to(gx, shape=shape)
        return sum_to.__wrapped__(gx, shape=shape)  # plain arrays: skip the op's dispatch
    except ValueError:
        raise RuntimeError(
            f"backward: the VJP of {node.op.name} returned a gradient of shape "
            f"{tuple(gx.shape)} for input #{i} of shape {shape}; it must be that shape or "
            "broadcast from it"
        ) from None


def _seed(root: Tensor, grad: Any, create_graph: bool) -> Any:
    """The upstream gradient for `root`: ones for a one-element output, else the user's `grad`."""
    if not root.requires_grad:
        raise RuntimeError(
            f"backward: tensor {_describe(root)} does not require grad and was not made by an op "
            "on one that does; set requires_grad=True on the inputs you want gradients for"
        )
    data = root.data
    if grad is None:
        if data.size != 1:
            raise RuntimeError(
                f"backward: grad can be implied only for a one-element output, but this output "
                f"has shape {root.shape}; reduce it first (e.g. loss.mean()) or pass "
                f"grad= of shape {root.shape}"
            )
        grad = _ONES.get(data.dtype) if data.ndim == 0 else None  # the common loss.backward()
        if grad is None:
            grad = _ones(data.shape, data.dtype)
        return _make(grad) if create_graph else grad
    if isinstance(grad, Tensor):
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


# The seeds of 0-d losses by dtype, looked up without building a cache key.
_ONES = {np.dtype(t): _ones((), np.dtype(t)) for t in (np.float64, np.float32, np.float16)}


def _on_path_to(roots: list[Node | Tensor], targets: set[Node | Tensor]) -> set[Node | Tensor]:
    """Nodes and leaves on a path from a root down to some target: `gradients()` sends
    gradients along these only. Iterative: depth is unbounded."""
    seen = set(roots)
    stack = list(roots)
    nodes = []
    while stack:
        node = stack.pop()
        if type(node) is not Node:  # a leaf
            continue
        nodes.append(node)
        for x in node.inputs:
            if (type(x) is Node or isinstance(x, Tensor)) and x not in seen:
                seen.add(x)
                stack.append(x)
    nodes.sort(key=attrgetter("seq"))  # tape position
    on_path = set(targets)
    for node in nodes:  # forward order: inputs before the ops that use them
        if any(x in on_path for x in node.inputs if type(x) is Node or isinstance(x, Tensor)):
            on_path.add(node)
    return on_path


def _run_hooks(hooks: list[Callable], g: Any) -> Any:
    for hook in list(hooks):
        replaced = hook(g)
        if replaced is not None:
            g = replaced
    return g


def _accumulate(t: Tensor, g: Any, create_graph: bool, handed: set[int]) -> None:
    """Add `g` to `t.grad` in t's dtype; as in PyTorch, leaf gradients add up across calls."""
    dtype = t.data.dtype
    if create_graph:
        g = _in_dtype_of(t, g, create_graph)
        t.grad = g if t.grad is None else t.grad + g
    elif t.grad is not None:
        if getattr(g, "dtype", dtype) != dtype:  # a cast: never from complex
            _refuse_complex(t, g)
        t.grad = t.grad + np.asarray(g, dtype=dtype)  # a fresh sum
    elif (
        type(g) is _ndarray
        and g.base is None  # owns its memory: not a view of another array
        and (key := id(g)) not in handed
        and (g.dtype is dtype or g.dtype == dtype)  # the same dtype object, as a rule
        and (flags := g.flags).c_contiguous  # one flags object: each .flags builds one
        and flags.writeable
    ):
        t.grad = g  # fresh from a VJP: safe to keep without a copy
        handed.add(key)
    else:
        # A copy: the array may be a view, shared with another leaf (add passes g to both
        # inputs), the caller or a hook, read-only, or transposed (W in x @ W.T: in-place
        # updates on an F-ordered gradient run ~6x slower).
        if getattr(g, "dtype", dtype) != dtype:
            _refuse_complex(t, g)
        t.grad = np.array(g, dtype=dtype, order="C")


def _in_dtype_of(t: Tensor, g: Any, create_graph: bool) -> Any:
    """`g` as a gradient of `t`: an array (a Tensor under create_graph) of t's dtype, as torch
    returns one; a float64 constant in a float32 graph would otherwise make it float64."""
    dtype = t.data.dtype
    if create_graph:
        g = g if isinstance(g, Tensor) else _make(np.asarray(g))
        if g.data.dtype == dtype:
            return g
        _refuse_complex(t, g)
        return g.astype(dtype)
    if type(g) is np.ndarray and g.dtype == dtype:
        return g
    _refuse_complex(t, g)
    return np.asarray(g, dtype=dtype)


def _refuse_complex(t: Tensor, g: Any) -> None:
    """Before `g` is cast to t's dtype: a complex gradient for a real tensor (only a complex
    constant in its graph makes one) would be wrong, since the rules give the holomorphic
    derivative, not torch's conjugate one, and the cast would drop the imaginary part with
    only a warning."""
    if np.iscomplexobj(g) and t.data.dtype.kind != "c":
        raise TypeError(
            f"backward: the gradient for a real tensor of shape {t.shape} came out complex, "
            "because a complex constant entered its graph; autograd_lite differentiates real "
            f"numbers only ({user_location()})"
        )


# ops are built on this module, so the one op the engine itself needs is imported last.
from .ops.shape import sum_to  # noqa: E402
