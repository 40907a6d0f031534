"""explain: one gradient taken apart by the chain rule, path by path.

d(root)/d(leaf) is the sum, over every path from root back to leaf, of the product of the local
derivatives along the path. A tensor used twice (b = a + a) is reached by two paths, one per
use, and their products add: that is why gradients accumulate. For tensors the local derivative
is a Jacobian, and a path's product is its VJPs applied one after the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..engine import no_grad
from ..tensor import Tensor
from .graph import (
    Graph,
    Params,
    flow,
    input_name,
    input_rule,
    names,
    param_dict,
    send,
    walk,
)
from .recording import recorded
from .summary import Summary, rms, shape_text, summarize, values

_SHOWN_STEPS = 8  # steps shown at each end of a long path


@dataclass
class Step:
    """One edge of a path: op `op` (tape #`seq`) made tensor `out` and passes the gradient on
    to its input `argument` (the name in the op's math), the tensor `into`. `grad` is what
    arrives there along this path; `local` is d(out)/d(into) when both are one-element (the
    number the chain rule multiplies), else None."""

    op: str
    seq: int
    argument: str
    rule: str
    out: str
    into: str
    grad: np.ndarray
    local: float | None


@dataclass
class Route:
    """One path from root back to leaf, and the part of the gradient it contributes."""

    steps: list[Step]
    contribution: np.ndarray

    @property
    def scalar(self) -> bool:
        return all(step.local is not None for step in self.steps)


@dataclass(repr=False)
class Explanation:
    """What `explain` found; `str()` (or `print`) gives the text.

    `routes` holds the first `max_paths` of the `n_paths` paths; `total` is d(root)/d(leaf)
    summed over all of them, and `grad` the leaf's `.grad` when explain was called. After a
    plain backward(), `sent` is what that backward() sent to the leaf, as viz.watch()
    recorded it (the paths themselves are recomputed from the leaves as they are now).
    """

    root: str
    leaf: str
    n_paths: int
    routes: list[Route]
    total: np.ndarray
    grad: np.ndarray | None
    seeded: bool  # the root has several elements: these are the gradients of sum(root)
    sent: Summary | None = None

    def __str__(self) -> str:
        return "\n".join(_text(self))

    __repr__ = __str__


def explain(
    root: Tensor,
    leaf: Tensor,
    *,
    params: Params | None = None,
    module: Any = None,
    max_paths: int = 20,
) -> Explanation:
    """Explain d(root)/d(leaf) by the chain rule: every path from `root` back to `leaf` with the
    local derivatives along it and their product, then the sum over the paths, which is what
    `backward()` puts in `leaf.grad`. Print the result to read it.

    Only the first `max_paths` paths are listed (their number can grow exponentially), but the
    sum always covers all of them. `params` (`dict(model.named_parameters())`) or `module` (the
    model) names tensors, as in `draw`.

    Works before `backward()`, after `backward(retain_graph=True)`, and after a plain
    `backward()` run inside `with viz.watch():`, whose record the sum is checked against.
    """
    for what, t in (("root", root), ("leaf", leaf)):
        if not isinstance(t, Tensor):
            raise TypeError(f"explain: {what} must be a Tensor, got {type(t).__name__}")
    if not leaf.requires_grad:
        raise ValueError(
            "explain: the leaf does not require grad, so no gradient flows to it; "
            "create it with requires_grad=True"
        )
    graph = walk(root, leaf)
    record = recorded(root)
    if graph.freed and record is None:
        raise RuntimeError(
            "explain: backward() has released this graph's values and nothing recorded its "
            "gradients; run the forward and backward inside `with viz.watch():` (from "
            "autograd_lite import viz), or call backward(retain_graph=True), or explain before "
            "backward()"
        )
    named = names(graph, param_dict(params, module))
    on_path, n_paths = count_paths(graph, leaf)
    total = flow(graph).grads.get(leaf) if n_paths else None
    grad = leaf.grad.data if isinstance(leaf.grad, Tensor) else leaf.grad
    return Explanation(
        root=named[root],
        leaf=named.get(leaf) or leaf.name or "leaf",
        n_paths=n_paths,
        routes=_routes(graph, leaf, on_path, max_paths, named) if n_paths else [],
        total=np.zeros(leaf.shape, leaf.dtype) if total is None else total,
        grad=grad,
        seeded=root.size != 1,
        sent=record.grad(leaf) if graph.freed else None,
    )


def count_paths(graph: Graph, leaf: Tensor) -> tuple[set[Tensor], int]:
    """The tensors with a path to `leaf`, and the number of paths from the root to it: each
    tensor's count is the sum of its users' counts (a big int; no enumeration)."""
    on_path = {leaf}
    for t in graph.ops:  # tape order: inputs first
        if any(carries(x, on_path) for x in graph.inputs(t)):
            on_path.add(t)
    if graph.root not in on_path:
        return on_path, 0
    count = {graph.root: 1}
    for t in reversed(graph.ops):
        c = count.get(t)
        if c is None or t is leaf:
            continue
        for x in graph.inputs(t):
            if carries(x, on_path):
                count[x] = count.get(x, 0) + c
    return on_path, count.get(leaf, 0)


def carries(x: object, on_path: set[Tensor]) -> bool:
    """Whether an op's input `x` takes a gradient that goes on to the leaf."""
    return isinstance(x, Tensor) and x.requires_grad and x in on_path


def _routes(
    graph: Graph, leaf: Tensor, on_path: set[Tensor], limit: int, named: dict[Tensor, str]
) -> list[Route]:
    """The first `limit` paths, depth first, each with the gradient carried along it. Steps
    are linked back to front, so a path of 100,000 steps costs no copying."""
    root = graph.root
    found = []
    stack: list[tuple[Tensor, np.ndarray, tuple | None]] = [
        (root, np.ones(root.shape, root.dtype), None)
    ]
    with no_grad():
        while stack and len(found) < limit:
            t, g, link = stack.pop()
            if t is leaf:
                found.append(_route(graph, link, g, named))
                continue
            inputs = graph.inputs(t)
            for i in reversed(range(len(inputs))):  # popped in input order: input 0's first
                x = inputs[i]
                if carries(x, on_path):
                    gx = send(graph, t, i, g)
                    gx = np.zeros(x.shape, x.dtype) if gx is None else gx
                    stack.append((x, gx, (link, t, i, gx)))
    return found


def _route(graph: Graph, link: tuple | None, g: np.ndarray, named: dict[Tensor, str]) -> Route:
    steps = []
    while link is not None:
        link, t, i, gx = link
        x = graph.inputs(t)[i]
        local = None
        if t.size == 1 and x.size == 1:
            one = send(graph, t, i, np.ones(t.shape, t.dtype))
            local = 0.0 if one is None else float(one.reshape(-1)[0])
        prim = t._node.op
        steps.append(
            Step(
                prim.name,
                t._node.seq,
                input_name(prim, i),
                input_rule(prim, i),
                named[t],
                named[x],
                gx,
                local,
            )
        )
    steps.reverse()
    return Route(steps, g)


# ---------------------------------------------------------------- text
def _text(e: Explanation) -> list[str]:
    of = f"sum({e.root})" if e.seeded else e.root
    d = f"d({of})/d({e.leaf})"
    if e.n_paths == 0:
        lines = [f"{of} does not depend on {e.leaf}: no path leads back to it, so {d} = 0."]
        return lines + _check(e)
    plural = "path leads" if e.n_paths == 1 else "paths lead"
    lines = [
        f"{d} by the chain rule: {e.n_paths:,} {plural} from {of} back to {e.leaf}.",
        "Along a path the local derivatives multiply; over the paths the products add.",
    ]
    if e.n_paths > 1:
        lines.append(
            "A tensor used more than once (b = a + a) has a path through each use: "
            "that is why its gradient is a sum."
        )
    for n, route in enumerate(e.routes, 1):
        lines += ["", *_route_text(route, n, e)]
    lines.append("")
    contributions = "the path's" if e.n_paths == 1 else f"the {e.n_paths:,} paths'"
    lines.append(f"sum of {contributions} contributions: {_array(e.total)}")
    if len(e.routes) < e.n_paths:
        shown = sum((r.contribution for r in e.routes), np.zeros_like(e.total))
        lines.append(
            f"paths {len(e.routes) + 1:,} to {e.n_paths:,} are not listed (max_paths="
            f"{len(e.routes)}); together they contribute {_array(e.total - shown)}"
        )
    return lines + _check(e)


def _route_text(route: Route, n: int, e: Explanation) -> list[str]:
    steps = _ends(route.steps)
    # "c <-mul.x- b" names the input slot too: paths through b = a + a differ only there.
    hops = "".join(f" <-{s.op}.{s.argument}- {s.into}" if s else " <- ..." for s in steps)
    header = f"path {n} of {e.n_paths:,}: {e.root}{hops}"
    if not steps:
        return [f"{header} (the root itself: d({e.root})/d({e.root}) = 1)"]
    rows = []
    for step in steps:
        if step is None:
            rows.append((f"... {len(route.steps) - len(steps) + 1:,} more steps", ""))
        else:
            if route.scalar:
                left = f"d({step.out})/d({step.into}) = {values(step.local)}"
            else:
                left = f"at {step.into} {shape_text(step.grad)}: {summarize(step.grad).grad_text()}"
            rows.append((left, f"{step.op} #{step.seq}, input {step.argument}: {step.rule}"))
    width = max(len(left) for left, _ in rows)
    lines = [header]
    if not route.scalar:
        lines.append("  the gradient arriving along this path:")
    lines += [f"  {left.ljust(width)}    {op}".rstrip() for left, op in rows]
    if route.scalar:
        factors = " * ".join(values(step.local) if step else "..." for step in steps)
        count = f" ({len(route.steps):,} factors)" if len(steps) < len(route.steps) else ""
        lines.append(f"  product{count}: {factors} = {values(route.contribution)}")
    else:
        lines.append(f"  contribution: {_array(route.contribution)}")
    return lines


def _ends(steps: list[Step]) -> list[Step | None]:
    """A long path as its first and last few steps, with None standing for the middle."""
    if len(steps) <= 2 * _SHOWN_STEPS:
        return steps
    return [*steps[:_SHOWN_STEPS], None, *steps[-_SHOWN_STEPS:]]


def _check(e: Explanation) -> list[str]:
    lines = []
    if e.sent is not None:
        verdict = (
            "matches the sum"
            if _agrees(e.sent, e.total)
            else "differs from the sum: the leaves have changed since that backward() (an "
            "optimizer step?), and the paths use their values of now; explain before the step"
        )
        lines.append(f"backward() sent {e.leaf}: {_sent(e.sent)}  (viz.watch: {verdict})")
    if e.grad is None:
        return [*lines, f"{e.leaf}.grad is None: call backward(retain_graph=True) to compare."]
    verdict = (
        "matches"
        if _close(e.grad, e.total)
        else "differs: .grad holds the sum over every backward() call so far; reset it "
        "(w.grad = None, optimizer.zero_grad()) before the backward() you want explained"
    )
    return [*lines, f"{e.leaf}.grad: {_array(e.grad)}  ({verdict})"]


def _rtol(a: np.ndarray) -> float:
    # Paths add in another order than backward() does: equal up to rounding, relative to
    # the gradient's own scale (a vanished gradient of 1e-30 is not "close" to 0 by default).
    return 1e-4 if a.dtype == np.float32 else 1e-9


def _close(a: np.ndarray, total: np.ndarray) -> bool:
    rtol = _rtol(total)
    scale = float(np.max(np.abs(total), initial=0.0))
    return a.shape == total.shape and np.allclose(a, total, rtol=rtol, atol=rtol * scale)


def _agrees(sent: Summary, total: np.ndarray) -> bool:
    """Whether a recorded gradient is the sum: its elements when it kept them, else its size."""
    if sent.elements is not None:
        return _close(np.reshape(np.array(sent.elements), sent.shape), total)
    mine = summarize(total)
    rtol = _rtol(total)
    return sent.shape == mine.shape and bool(
        np.allclose([sent.rms, sent.max_abs], [mine.rms, mine.max_abs], rtol=rtol, atol=0.0)
    )


def _sent(s: Summary) -> str:
    text = s.grad_text()
    return text if s.elements is not None else f"{shape_text(s)} {text}"


def _array(a: np.ndarray) -> str:
    text = values(a)
    return text if a.size <= 4 else f"{text}  (rms {rms(a):.3g})"
