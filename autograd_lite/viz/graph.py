"""The recorded graph behind a tensor, as viz sees it: the ops in tape order, the leaves, a name
for every tensor, and the gradient flowing along every edge.

The engine's `backward()` keeps only the leaves' gradients and releases the arrays the graph
held (its structure stays). The gradient on every edge comes either from `flow`, which re-runs
the reverse pass over a graph whose values are still there (before backward(), or after
`backward(retain_graph=True)`), or from what a `viz.watch()` recorded during backward().
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

import numpy as np

from ..engine import FREED, Node, no_grad
from ..ops import sum_to
from ..tensor import Tensor, _make
from .summary import shape_text, summarize, values

Params = Mapping[str, Tensor] | Iterable[tuple[str, Tensor]]


@dataclass
class Graph:
    """Everything reachable from `root`, found by an explicit stack (no recursion).

    The engine's graph holds nodes, which keep only the arrays their gradient rules read. viz
    shows every op's value and shape, so each node is seen here as a tensor: the user's own
    where `walk` was given it, else a stand-in whose value is replayed from its inputs (the
    op's numpy forward on the same arrays: the same numbers, or, once backward() has released
    the graph, those of the leaves as they are now).
    """

    root: Tensor
    ops: list[Tensor]  # one tensor per recorded op, in tape order: inputs before their users
    leaves: list[Tensor]  # tensors the graph starts from, in order of first use
    freed: bool  # backward() has released the values of some op
    arguments: dict[Tensor, tuple]  # each op's inputs as tensors (ops and leaves) and constants

    def inputs(self, t: Tensor) -> tuple:
        """The inputs of the op that made `t`, as passed (Tensors and constants)."""
        return self.arguments.get(t, ())


def walk(root: Tensor, *known: Tensor) -> Graph:
    """Collect the graph behind `root`. `root` and any `known` tensors stand for their own
    nodes, so they can be found by identity."""
    if not isinstance(root, Tensor):
        raise TypeError(f"viz: expected a Tensor, got {type(root).__name__}")
    tensor_of = {t._node: t for t in (root, *known) if t._node is not None}
    nodes = []
    seen = set()
    stack = [] if root._node is None else [root._node]
    while stack:
        node = stack.pop()
        nodes.append(node)
        for x in node.inputs:
            if type(x) is Node and x not in seen:
                seen.add(x)
                stack.append(x)
    nodes.sort(key=attrgetter("seq"))  # tape order
    ops: list[Tensor] = []
    arguments: dict[Tensor, tuple] = {}
    for node in nodes:  # inputs first, so each one's tensor is already made
        args = tuple(tensor_of.get(x, x) if type(x) is Node else x for x in node.inputs)
        t = tensor_of.get(node)
        if t is None:
            t = tensor_of[node] = _stand_in(node, args)
        arguments[t] = args
        ops.append(t)
    leaves = [root] if root._node is None else []
    used = set()
    for t in ops:
        for x in arguments[t]:
            if isinstance(x, Tensor) and x._node is None and x not in used:
                used.add(x)
                leaves.append(x)
    freed = any(node.out is FREED for node in nodes)
    return Graph(root, ops, leaves, freed, arguments)


def _stand_in(node: Node, args: tuple) -> Tensor:
    """A tensor on `node` holding its output: the kept array, else the forward run again."""
    value = node.out
    if not isinstance(value, np.ndarray):  # not kept, or released by backward()
        arrays = [a.data if isinstance(a, Tensor) else a for a in args]
        with np.errstate(all="ignore"):  # it warned, if at all, when it first ran
            value = np.asarray(node.op.forward(*arrays, **node.params))
    t = _make(value)
    t.requires_grad = True
    t._node = node
    return t


def names(graph: Graph, params: Mapping[str, Tensor] | None = None) -> dict[Tensor, str]:
    """A display name for every tensor: its parameter name (matched by identity), else its
    `Tensor.name`, else `leaf0, leaf1, ...` for leaves and `#seq` (its tape position) for the
    rest, as `print(tape)` writes them."""
    by_id = {id(p): name for name, p in (params or {}).items()}
    found = {}
    unnamed = 0
    for t in graph.leaves:
        name = by_id.get(id(t)) or t.name
        if name is None:
            name, unnamed = f"leaf{unnamed}", unnamed + 1
        found[t] = name
    for t in graph.ops:
        found[t] = by_id.get(id(t)) or t.name or f"#{t._node.seq}"
    return found


def param_dict(params: Params | None, module: Any = None) -> dict[str, Tensor]:
    """`params` as a dict, read once (it may be a generator such as `model.named_parameters()`);
    without them, the parameters of `module` (an `nn.Module`), if given."""
    if params is None and module is not None:
        params = module.named_parameters()
    return {} if params is None else dict(params)


def module_of(graph: Graph, params: Mapping[str, Tensor]) -> dict[Tensor, str]:
    """The module (dotted prefix of a parameter name, 'layers.0' for 'layers.0.weight') each
    tensor belongs to: a parameter to its own; an op to the module whose parameters it takes,
    directly or through ops on those parameters alone (W.T). Activations and losses take no
    parameters, so they stay between the modules, and a network reads as its layers."""
    owner = {}
    only = {}  # tensors computed from one module's parameters alone (W, W.T, b.reshape(...))
    for name, p in (params or {}).items():
        owner[p] = only[p] = name.rpartition(".")[0]
    for t in graph.ops:
        found = {only.get(x) for x in graph.inputs(t) if isinstance(x, Tensor)}
        if len(found) == 1 and None not in found:
            owner[t] = only[t] = found.pop()
            continue
        found.discard(None)
        if len(found) == 1:
            owner[t] = found.pop()
    return owner


# ---------------------------------------------------------------- gradients
@dataclass
class Flow:
    """d(root)/d(t) for every tensor the gradient reaches (`grads`), and the part of it that
    each edge carries (`edges[(t, i)]`: what the op that made `t` sends to its input i)."""

    grads: dict[Tensor, np.ndarray]
    edges: dict[tuple[Tensor, int], np.ndarray]


def send(graph: Graph, t: Tensor, i: int, g: np.ndarray) -> np.ndarray | None:
    """The gradient the op that made `t` sends to its input i, given `t`'s gradient `g`: the
    engine's arithmetic (that input's VJP rule, summed back to the input's shape). Call it
    under `no_grad()`."""
    node = t._node
    rules = node.op.vjps  # rules[i] raises NotImplementedError for an op with no VJP
    args = graph.inputs(t)
    x = args[i]
    arrays = [a.data if isinstance(a, Tensor) else a for a in args]
    gx = rules[i](g, t.data, *arrays, **node.params)
    if gx is None:
        return None
    gx = np.asarray(gx)
    return gx if gx.shape == x.shape else sum_to(gx, shape=x.shape)


def flow(graph: Graph) -> Flow:
    """Run the reverse pass from `graph.root` (seeded with ones, as backward() seeds a scalar
    loss) over the retained graph, keeping every gradient. Tensor hooks are not run."""
    root = graph.root
    grads = {root: np.ones(root.shape, root.dtype)}
    edges = {}
    with no_grad():
        for t in reversed(graph.ops):
            g = grads.get(t)
            if g is None:
                continue
            for i, x in enumerate(graph.inputs(t)):
                if not (isinstance(x, Tensor) and x.requires_grad):
                    continue
                gx = send(graph, t, i, g)
                if gx is None:
                    continue
                edges[t, i] = gx
                previous = grads.get(x)
                grads[x] = gx if previous is None else previous + gx
    return Flow(grads, edges)


# ---------------------------------------------------------------- text
def params_text(params: Mapping[str, Any], width: int = 40) -> str:
    """An op's keyword parameters, e.g. `axis=0, keepdims=True`, cut to `width` characters."""
    text = ", ".join(f"{k}={_param(v)}" for k, v in params.items())
    return text if len(text) <= width else text[: width - 3] + "..."


def _param(v: Any) -> str:
    return shape_text(v) if isinstance(v, np.ndarray) and v.size > 4 else repr(v)


def const_lines(value: Any) -> list[str]:
    """A constant input (a Python number, an array passed as is)."""
    if isinstance(value, np.ndarray):
        return [f"array {shape_text(value)} {value.dtype}", summarize(value).value_text()]
    if isinstance(value, int | float | np.number | np.bool_):
        return [values(value)]
    text = repr(value)
    return [text if len(text) <= 40 else type(value).__name__]


# ---------------------------------------------------------------- formulas
# An op's math line (Primitive.formula) is "forward;  derivatives", e.g.
# "z = x * y;  dx = g*y,  dy = g*x"; an op without one has "".
_RULE_SPLIT = re.compile(r",\s+(?=d\w+\s*=)")


def forward_rule(prim: Any) -> str:
    """The forward half of the docstring's math line: `y = 1/(1+exp(-x))`."""
    return prim.formula.rpartition(";")[0].strip()


def backward_rule(prim: Any) -> str:
    """The derivative half of the math line: `dx = g*y*(1-y)` (all inputs' rules)."""
    return prim.formula.rpartition(";")[2].strip()


def input_name(prim: Any, i: int) -> str:
    """What the op's math calls input i: its forward function's parameter name (`x`, `y`)."""
    names = _positional_names(prim)
    return names[i] if i < len(names) else str(i)


@functools.cache
def _positional_names(prim: Any) -> tuple[str, ...]:
    parameters = inspect.signature(prim.forward).parameters.values()
    return tuple(
        p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    )


def input_rule(prim: Any, i: int) -> str:
    """The derivative rule of input i alone (`dy = x^T @ g` for matmul's second input); the
    whole derivative line when the math line has no rule of that name."""
    rules = backward_rule(prim)
    name = re.escape(input_name(prim, i))
    return next((r for r in _RULE_SPLIT.split(rules) if re.match(rf"d{name}\s*=", r)), rules)
