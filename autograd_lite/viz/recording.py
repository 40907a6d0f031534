"""watch: record what flows through the backward passes run inside a block, so a graph can be
drawn and explained after a plain `backward()`, which keeps the graph's structure but releases
its values.

>>> import autograd_lite as al
>>> from autograd_lite import viz
>>> w = al.tensor([1.0, -2.0], requires_grad=True, name="w")
>>> with viz.watch():
...     loss = (w * w).sum()
...     loss.backward()
>>> viz.recorded(loss).grad(w).elements  # what backward() sent to w: 2w
(2.0, -4.0)

Each backward pass inside the block leaves a `Record` on its root: the gradient of every op's
output and of every leaf, the gradient every edge carried, and (for ops recorded inside the
block too) every op's value, each as a `Summary` (shape, dtype, rms, max|g|, mean, min, max:
never the whole array, unless `arrays=True`). Summarizing costs a few numpy reductions per
array: watch the steps you want to look at, not a whole training run.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np

from .. import engine
from ..engine import Node
from ..tensor import Tensor
from .graph import Flow, Graph, flow
from .summary import Summary, rms, summarize

Key = int | Tensor  # a node's tape position, or a leaf


class Record:
    """What one backward pass sent through a graph, keyed by tape position (`t._node.seq`) for
    op outputs and by the tensor itself for leaves.

    `grads[key]`: the gradient of that tensor (d root / d tensor); `edges[seq, i]`: the part of
    it that op #seq sent to its input i; `values[seq]`: the op's value, when the op was
    recorded inside the watch too. With `arrays=True`, `arrays[key]` and `arrays[seq, i]` hold
    copies of the gradients themselves.
    """

    def __init__(self, values: dict[int, Summary], arrays: bool) -> None:
        self.grads: dict[Key, Summary] = {}
        self.edges: dict[tuple[int, int], Summary] = {}
        self.values = values
        self.arrays: dict[Any, np.ndarray] | None = {} if arrays else None

    def grad(self, t: Tensor) -> Summary | None:
        """The gradient `t` received in this backward pass (None if none reached it)."""
        return self.grads.get(_key(t))

    def value(self, t: Tensor) -> Summary | None:
        """The value of op output `t`, if its op was recorded inside the watch."""
        return None if t._node is None else self.values.get(t._node.seq)

    def _keep(self, key: Any, g: Any, into: dict) -> None:
        g = g.data if isinstance(g, Tensor) else g  # backward(create_graph=True) sends Tensors
        into[key] = summarize(g)
        if self.arrays is not None:
            self.arrays[key] = np.array(g)  # a copy: optimizers update gradients in place


def _key(t: Tensor) -> Key:
    return t if t._node is None else t._node.seq


class watch(engine.Observer, contextlib.ContextDecorator):
    """Context manager and decorator: record every op's value and every backward pass inside
    the block (see the module docstring). `records` lists one `Record` per backward pass;
    `viz.recorded(root)` finds the latest one from a root."""

    def __init__(self, *, arrays: bool = False) -> None:
        self.arrays = arrays
        self.records: list[Record] = []
        self._values: dict[int, Summary] = {}
        self._current: Record | None = None

    def __enter__(self) -> watch:
        engine._observers.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        engine._observers.remove(self)
        self._current = None

    def on_forward(self, out: Tensor, arrays: list) -> None:
        self._values[out._node.seq] = summarize(out.data)

    def on_backward_begin(self, roots: list[Node | Tensor]) -> None:
        self._current = Record(self._values, self.arrays)
        self.records.append(self._current)
        for root in roots:
            if type(root) is Node:
                engine.extras_of(root).recorded = self._current

    def on_gradient(self, x: Node | Tensor, g: Any) -> None:
        record = self._current
        record._keep(x.seq if type(x) is Node else x, g, record.grads)

    def on_backward(self, node: Node, i: int, gx: Any) -> None:
        record = self._current
        record._keep((node.seq, i), gx, record.edges)


def recorded(root: Tensor) -> Record | None:
    """The record of the latest backward pass from `root` run inside a `viz.watch()`."""
    node = root._node
    return None if node is None or node.extras is None else node.extras.recorded


class Seen:
    """The numbers a drawing shows of a graph's tensors: each one's gradient, what each edge
    carried (edge (t, i): what the op that made `t` sent to its input i), and op values.

    `source` says where they come from: "recomputed" by `flow` over a graph whose values are
    still there (summarized only when asked: a collapsed 100,000-op chain shows a handful), or
    "recorded" by a viz.watch() during the backward() that released them.
    """

    def __init__(
        self,
        grads: dict[Tensor, Any],
        edges: dict[tuple[Tensor, int], Any],
        values: dict[Tensor, Any],
        source: str,
    ) -> None:
        self._grads, self._edges, self._values = grads, edges, values
        self.source = source

    def grad(self, t: Tensor) -> Summary | None:
        return _summary(self._grads.get(t))

    def edge(self, t: Tensor, i: int) -> Summary | None:
        return _summary(self._edges.get((t, i)))

    def value(self, t: Tensor) -> Summary | None:
        return _summary(self._values.get(t))

    def rms(self, t: Tensor) -> float | None:
        """The rms of t's gradient, without summarizing the rest of it."""
        g = self._grads.get(t)
        return None if g is None else g.rms if isinstance(g, Summary) else rms(g)


def _summary(x: Any) -> Summary | None:
    return x if x is None or isinstance(x, Summary) else summarize(x)


def seen(graph: Graph, with_grads: bool = True) -> Seen | None:
    """What `draw` shows of `graph`: recomputed while its values are there, else what a
    viz.watch() recorded in the backward() that released them, else None (only the structure
    is left to show)."""
    if not graph.freed:
        found = flow(graph) if with_grads and graph.root.requires_grad else Flow({}, {})
        return Seen(found.grads, found.edges, {t: t.data for t in graph.ops}, "recomputed")
    record = recorded(graph.root)
    if record is None:
        return None
    values = {t: s for t in graph.ops if (s := record.value(t)) is not None}
    if not with_grads:
        return Seen({}, {}, values, "recorded")
    grads = {t: s for t in (*graph.leaves, *graph.ops) if (s := record.grad(t)) is not None}
    edges = {
        (t, i): s
        for t in graph.ops
        for i in range(len(graph.inputs(t)))
        if (s := record.edges.get((t._node.seq, i))) is not None
    }
    return Seen(grads, edges, values, "recorded")
