"""draw: the graph behind a tensor as a graphviz.Digraph, with the gradient on every edge.

Tensors are boxes, ops are ellipses. Edges always run in the data's direction (inputs below,
the loss on top with the default rankdir="BT"); in the backward view their arrows are turned
around (`dir=back`) to show where the gradient goes, and each carries the gradient flowing
along it. Tensor boxes are filled by the size of their gradient, one color per power of ten,
so a gradient that vanishes on its way down a network shows as the boxes turning blue.
"""

from __future__ import annotations

import html
import math
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..tensor import Tensor
from .collapse import Run, find_runs
from .graph import (
    Graph,
    Params,
    backward_rule,
    const_lines,
    forward_rule,
    module_of,
    names,
    param_dict,
    params_text,
    walk,
)
from .recording import Seen, seen
from .summary import shape_text, summarize

if TYPE_CHECKING:
    import graphviz

# One fill color per power of ten of rms(grad), blue (vanishing) to red (large): ColorBrewer's
# RdYlBu, reversed. Bin 0 is rms < 1e-8, bin j is [1e(j-9), 1e(j-8)), the last bin rms >= 1.
PALETTE = (
    "#313695", "#4575b4", "#74add1", "#abd9e9", "#e0f3f8",
    "#fee090", "#fdae61", "#f46d43", "#d73027", "#a50026",
)  # fmt: skip
LOWEST = -8
ZERO_COLOR = "#d9d9d9"
NONFINITE_COLOR = "#ff00ff"
_DARK = {PALETTE[0], PALETTE[1], PALETTE[-2], PALETTE[-1], NONFINITE_COLOR}
_FONT = "Helvetica"
_NO_GRAD_EDGE = {"color": "gray50", "style": "dashed"}


def grad_color(magnitude: float) -> str:
    """The fill for a gradient of this rms: gray for exactly zero, magenta for nan/inf."""
    if not math.isfinite(magnitude):
        return NONFINITE_COLOR
    if magnitude == 0.0:
        return ZERO_COLOR
    j = math.floor(math.log10(magnitude)) - LOWEST + 1
    return PALETTE[min(max(j, 0), len(PALETTE) - 1)]


def draw(
    root: Tensor,
    *,
    view: str = "backward",
    params: Params | None = None,
    module: Any = None,
    show_values: bool = True,
    show_grads: bool = True,
    max_nodes: int = 500,
    rankdir: str = "BT",
) -> graphviz.Digraph:
    """The graph that computed `root`, as a `graphviz.Digraph` (render it with `viz.render`, or
    show it in a notebook as is).

    Tensor boxes: name, shape, dtype, value (itself when at most 4 elements, else mean/min/max)
    and, with `show_grads`, its gradient d(root)/d(tensor), which also sets the box's color.
    Op ellipses: op name, tape index and the op's math, `y = 1/(1+exp(-x))  dx = g*y*(1-y)`.

    `view="backward"` turns the arrows the gradient's way and writes on each edge the gradient
    flowing along it; `view="forward"` draws the computation the way the data goes.
    `params` (e.g. `dict(model.named_parameters())`) names the parameters and groups each
    module's ops into a box (`layers.0`); `module` (the model) labels those boxes `Linear(2->4)`.
    Over `max_nodes` nodes, repeated blocks of ops are drawn once at each end with a box
    "x N more" between them, and if that is not enough, the nodes farthest from `root` go.

    Where the gradients come from: before `backward()`, or after
    `loss.backward(retain_graph=True)`, they are recomputed from the graph's values (from a
    seed of ones, as `backward()` seeds a scalar; tensor hooks are not run). A plain
    `backward()` keeps the graph's structure but releases its values: run the forward and
    backward inside `with viz.watch():` and they show what that backward() sent; otherwise
    the drawing shows the structure (ops, shapes, dtypes) and says how to get the numbers.
    """
    graphviz = import_graphviz("draw")
    scene = sketch(root, view, params, module, show_values, show_grads, max_nodes)
    return scene.digraph(graphviz, rankdir)


def sketch(
    root: Tensor,
    view: str,
    params: Params | None,
    module: Any,
    show_values: bool,
    show_grads: bool,
    max_nodes: int,
) -> Scene:
    """What `draw` draws, before it is DOT (the arguments are draw's): every node and edge by
    id, with its label and style (`Scene.node`, `Scene.edge`). viz.html reads one per recorded
    backward pass; it needs no graphviz."""
    if view not in ("backward", "forward"):
        raise ValueError(f"draw: view must be 'backward' or 'forward', got {view!r}")
    if max_nodes < 2:
        raise ValueError(f"draw: max_nodes must be at least 2, got {max_nodes}")
    params = param_dict(params, module)
    graph = walk(root)
    numbers = seen(graph, with_grads=show_grads)
    clusters = _clusters(graph, params, module)
    scene = Scene(graph, names(graph, params), numbers, view == "backward", show_values, clusters)
    scene.shrink(max_nodes)
    return scene


def import_graphviz(who: str) -> Any:
    """The graphviz package, or an ImportError that says how `who` gets it."""
    try:
        import graphviz
    except ImportError:
        raise ImportError(
            f"{who} needs the graphviz Python package: pip install graphviz "
            "(or pip install 'autograd-lite[viz]', which also installs a renderer)"
        ) from None
    return graphviz


def _title(scene: Scene) -> list[str]:
    root = scene.graph.root
    view = "backward" if scene.backward else "forward"
    lines = [f"{view} graph of {scene.names[root]}"]
    if scene.seen is None:
        lines.append("backward() has released this graph's values: the structure is left")
    elif scene.has_grads:
        # backward() needs a one-element root; for a bigger one the gradients are of its sum.
        of = scene.names[root] if root.size == 1 else f"sum({scene.names[root]})"
        lines.append(f"box colors: d({of})/d(tensor), see the legend")
        if scene.backward:
            lines.append("edges: the gradient flowing along them (values, or rms if > 4)")
        if scene.seen.source == "recorded":
            lines.append("as recorded by viz.watch() in backward()")
    return lines


# ---------------------------------------------------------------- the scene
class Scene:
    """Node ids and edges first (cheap), labels only for what is finally drawn: a collapsed
    100,000-op chain builds a handful of labels, not 200,000.

    Node ids: `leaf{j}` (graph.leaves[j]), `t{k}` and `op{k}` (graph.ops[k] and its op),
    `c{k}_{i}` (a constant input i of op k); edge ids: see `edge_id`.
    """

    def __init__(
        self,
        graph: Graph,
        names: dict[Tensor, str],
        numbers: Seen | None,
        backward: bool,
        show_values: bool,
        clusters: _Clusters,
    ) -> None:
        self.graph, self.names, self.seen = graph, names, numbers
        self.backward, self.show_values, self.clusters = backward, show_values, clusters
        self.has_grads = numbers is not None and numbers.grad(graph.root) is not None
        self.ids: dict[Tensor, str] = {t: f"leaf{j}" for j, t in enumerate(graph.leaves)}
        self.order: list[str] = list(self.ids.values())  # every node id, in drawing order
        self.edges: list[tuple[str, str, int, int | None]] = []  # tail, head, op k, input i
        for k, t in enumerate(graph.ops):
            self.ids[t] = f"t{k}"
            for i, x in enumerate(graph.inputs(t)):
                if isinstance(x, Tensor):
                    tail = self.ids[x]
                else:
                    tail = f"c{k}_{i}"
                    self.order.append(tail)
                self.edges.append((tail, f"op{k}", k, i))
            self.order += [f"op{k}", f"t{k}"]
            self.edges.append((f"op{k}", f"t{k}", k, None))
        self.alias: dict[str, str] = {}  # hidden node -> the box drawn in its place
        self.runs: list[Run] = []
        self.cut = 0
        self.notes: list[str] = []  # what shrinking left out, for the title

    # ------------------------------------------------------------ shrinking
    def shrink(self, max_nodes: int) -> None:
        """Collapse repeated blocks, then cut the farthest nodes, until `max_nodes` remain."""
        notes = self.notes
        if len(self.order) > max_nodes:
            self._collapse()
            if self.runs:
                hidden = sum(len(run.hidden) for run in self.runs)
                runs = (
                    "a repeated run" if len(self.runs) == 1 else f"{len(self.runs)} repeated runs"
                )
                notes.append(
                    f"{hidden:,} ops in {runs} drawn as 'x N more' boxes (max_nodes={max_nodes})"
                )
        shown = [n for n in self.order if n not in self.alias]
        if len(shown) > max_nodes:
            self._cut(shown, max_nodes)
            notes.append(
                f"{self.cut:,} nodes farthest from the root not drawn (max_nodes={max_nodes})"
            )

    def _collapse(self) -> None:
        self.runs = find_runs(self.graph)
        for r, run in enumerate(self.runs):
            box = f"run{r}"
            for k in run.hidden:
                for i, x in enumerate(self.graph.inputs(self.graph.ops[k])):
                    if not isinstance(x, Tensor):
                        self.alias[f"c{k}_{i}"] = box
                self.alias[f"op{k}"] = self.alias[f"t{k}"] = box
            self.order.append(box)
        # A leaf only hidden ops use (the weights of a hidden layer) goes with them.
        hidden_user: dict[str, str] = {}
        seen: set[str] = set()
        for tail, head, _, _ in self.edges:
            if tail.startswith("leaf"):
                box = self.alias.get(head)
                if box is None:
                    seen.add(tail)
                else:
                    hidden_user.setdefault(tail, box)
        self.alias.update((leaf, box) for leaf, box in hidden_user.items() if leaf not in seen)

    def _cut(self, shown: list[str], max_nodes: int) -> None:
        inputs_of: dict[str, list[str]] = {}
        for tail, head in self._mapped_edges():
            inputs_of.setdefault(head, []).append(tail)
        start = self.ids[self.graph.root]
        keep = {start}
        queue = deque([start])
        while queue and len(keep) < max_nodes - 1:
            for x in inputs_of.get(queue.popleft(), ()):
                if x not in keep and len(keep) < max_nodes - 1:
                    keep.add(x)
                    queue.append(x)
        for n in shown:
            if n not in keep:
                self.alias[n] = "more"
                self.cut += 1
        self.order.append("more")

    def shown(self, n: str) -> bool:
        """Whether node `n` is drawn as itself (not hidden in a collapsed or cut box)."""
        return n not in self.alias

    def _final(self, n: str) -> str:
        seen = n
        while seen in self.alias:
            seen = self.alias[seen]
        return seen

    def _mapped_edges(self) -> Iterable[tuple[str, str]]:
        for tail, head, _, _ in self.edges:
            a, b = self._final(tail), self._final(head)
            if a != b:
                yield a, b

    # ------------------------------------------------------------ output
    def digraph(
        self, graphviz: Any, rankdir: str, ids: bool = False, show_legend: bool = True
    ) -> graphviz.Digraph:
        """The scene as DOT. `ids` gives every node and edge its id in an SVG rendering too
        (graphviz numbers them otherwise), so a page can address them; `show_legend=False` leaves
        the color legend to a page that shows its own."""
        dot = graphviz.Digraph(
            "autograd",
            graph_attr={
                "rankdir": rankdir,
                "label": _label([*_title(self), *self.notes]),
                "labelloc": "t",
                "fontname": _FONT,
                "fontsize": "11",
            },
            node_attr={"fontname": _FONT, "fontsize": "10"},
            edge_attr={"fontname": _FONT, "fontsize": "9"},
        )
        self.emit(dot, graphviz, ids)
        if self.seen is None:
            _how_to_see_gradients(dot)
        elif self.has_grads and show_legend:
            _legend(dot)
        return dot

    def emit(self, dot: Any, graphviz: Any, ids: bool) -> None:
        clusters = self.clusters
        groups: dict[str | None, list[tuple[str, str, dict]]] = {}
        for n in self.order:
            if not self.shown(n):
                continue
            lines, attrs, cluster = self.node(n)
            if ids:
                attrs["id"] = n
            groups.setdefault(cluster, []).append((n, _label(lines), attrs))
        for cluster, nodes in groups.items():
            if cluster is None:
                for n, label, attrs in nodes:
                    dot.node(n, graphviz.nohtml(label), **attrs)
                continue
            with dot.subgraph(name=f"cluster_{cluster or 'model'}") as box:
                box.attr(
                    label=graphviz.nohtml(_escape(clusters.labels[cluster])),
                    style="rounded,filled",
                    fillcolor="#f4f4f4",
                    color="gray60",
                )
                for n, label, attrs in nodes:
                    box.node(n, graphviz.nohtml(label), **attrs)
        merged: dict[tuple[str, str], list[dict]] = {}
        for tail, head, k, i in self.edges:
            a, b = self._final(tail), self._final(head)
            if a == b:
                continue
            attrs = self.edge(k, i)
            if ids:
                attrs["id"] = edge_id(k, i)
            if (a, b) == (tail, head):
                dot.edge(a, b, **attrs)
            else:
                merged.setdefault((a, b), []).append(attrs)
        for (a, b), group in merged.items():
            # One real edge keeps its gradient; several merged ones have no single value.
            attrs = (
                group[0] if len(group) == 1 else {k: v for k, v in group[0].items() if k != "label"}
            )
            dot.edge(a, b, **attrs)

    def node(self, n: str) -> tuple[list[str], dict, str | None]:
        """Node `n`'s label lines, its DOT attributes and its cluster (None: outside any)."""
        graph, clusters = self.graph, self.clusters
        if n == "more":
            return (
                [f"... {self.cut} more nodes", "(raise max_nodes to draw them)"],
                {"shape": "note", "style": "dashed"},
                None,
            )
        if n.startswith("run"):
            return self._run_node(self.runs[int(n[3:])]), {"shape": "box", "style": "dashed"}, None
        if n.startswith("c"):
            k, i = map(int, n[1:].split("_"))
            t = graph.ops[k]
            lines = const_lines(graph.inputs(t)[i])
            return lines, {"shape": "plaintext"}, clusters.of(t)
        if n.startswith("op"):
            return self._op_node(graph.ops[int(n[2:])])
        t = graph.ops[int(n[1:])] if n.startswith("t") else graph.leaves[int(n[4:])]
        return self._tensor_node(t), self._tensor_style(t), clusters.of(t)

    def _tensor_node(self, t: Tensor) -> list[str]:
        lines = [self.names[t], f"{shape_text(t.data)} {t.dtype}"]
        # A leaf's value is the user's own; an op's, only while the graph holds it or as
        # viz.watch() recorded it (a stand-in replayed after backward() shows the current
        # leaves, not those of that pass).
        if self.show_values:
            value = summarize(t.data) if t._node is None else self.seen and self.seen.value(t)
            if value:
                lines.append(value.value_text())
        grad = self.seen and self.seen.grad(t)
        if grad:
            lines.append("grad " + grad.grad_text())
        elif not t.requires_grad and self.backward:
            lines.append("(no grad)")
        return lines

    def _tensor_style(self, t: Tensor) -> dict:
        attrs = {"shape": "box", "style": "rounded,filled", "fillcolor": "white"}
        size = self.seen and self.seen.rms(t)
        if size is not None:
            attrs["fillcolor"] = color = grad_color(size)
            if color in _DARK:
                attrs["fontcolor"] = "white"
        if t is self.graph.root:
            attrs["penwidth"] = "2"
        return attrs

    def _op_node(self, t: Tensor) -> tuple[list[str], dict, str | None]:
        node = t._node
        lines = [f"{node.op.name} #{node.seq}"]
        if node.params:
            lines.append(params_text(node.params))
        lines.append(forward_rule(node.op))
        if self.backward:
            lines.append(backward_rule(node.op))
        return [line for line in lines if line], {"shape": "ellipse"}, self.clusters.of(t)

    def _run_node(self, run: Run) -> list[str]:
        ops = self.graph.ops
        block = [ops[k]._node.op.name for k in range(run.start, run.start + run.period)]
        if len(block) > 6:
            block = [*block[:5], "..."]
        hidden = [ops[k] for k in run.hidden]
        lines = [
            f"x {run.count - 2:,} more blocks like the two next to this box",
            f"({run.period} ops each: {' -> '.join(block)})",
            f"ops #{hidden[0]._node.seq} to #{hidden[-1]._node.seq}",
        ]
        if self.seen is not None:
            sizes = [size for t in hidden if (size := self.seen.rms(t)) is not None]
            if sizes:
                lines.append(f"grad rms from {min(sizes):.3g} to {max(sizes):.3g}")
        return lines

    def edge(self, k: int, i: int | None) -> dict:
        """The DOT attributes of edge `edge_id(k, i)`, its label among them."""
        t = self.graph.ops[k]
        attrs: dict = {"dir": "back"} if self.backward else {}
        if i is None:
            g = self.seen and self.seen.grad(t)
        else:
            x = self.graph.inputs(t)[i]
            if not (isinstance(x, Tensor) and x.requires_grad):
                return {**_NO_GRAD_EDGE, "dir": "none"} if self.backward else dict(_NO_GRAD_EDGE)
            g = self.seen and self.seen.edge(t, i)
        if g and self.backward:
            attrs["label"] = _escape(g.grad_text())
        return attrs


def edge_id(k: int, i: int | None) -> str:
    """The id of the edge from input i of op k (`e{k}_{i}`), or from op k to its output
    (`e{k}`, i None): the positions in `Scene.edges`."""
    return f"e{k}" if i is None else f"e{k}_{i}"


# ---------------------------------------------------------------- modules
class _Clusters:
    """Which box (module) each tensor and op is drawn in, and the box's label."""

    def __init__(self, owner: dict[Tensor, str], labels: dict[str, str]) -> None:
        self.owner, self.labels = owner, labels

    def of(self, t: Tensor) -> str | None:
        cluster = self.owner.get(t)
        return cluster if cluster in self.labels else None


def _clusters(graph: Graph, params: dict[str, Tensor], module: Any) -> _Clusters:
    owner = module_of(graph, params)
    modules = dict(module.named_modules()) if module is not None else {}
    labels = {}
    for cluster in set(owner.values()):
        if cluster in modules:
            text = _module_text(modules[cluster])
            labels[cluster] = f"{cluster}: {text}" if cluster else text
        elif cluster:  # a bare parameter name ('weight') has no module to box it in
            labels[cluster] = cluster
    return _Clusters(owner, labels)


def _module_text(m: Any) -> str:
    """`Linear(2->4)`: the module's class and its in/out sizes, else its one-line repr."""
    cls = type(m).__name__
    for a, b in (("in_features", "out_features"), ("in_channels", "out_channels")):
        if hasattr(m, a) and hasattr(m, b):
            return f"{cls}({getattr(m, a)}->{getattr(m, b)})"
    text = repr(m)
    return text if "\n" not in text and len(text) <= 40 else cls


# ---------------------------------------------------------------- legend and text
def legend() -> list[tuple[str, str, str]]:
    """The legend's cells in order, from exactly zero to nan/inf: (text, fill, text color)."""
    bins = ["< 1e-8", *(f"1e{e}" for e in range(LOWEST, 0)), ">= 1"]
    cells = [("0", ZERO_COLOR), *zip(bins, PALETTE), ("nan/inf", NONFINITE_COLOR)]
    return [(text, color, "white" if color in _DARK else "black") for text, color in cells]


def _legend(dot: Any) -> None:
    """One table node: its cells keep their order under every rankdir and renderer."""
    cells = []
    for text, color, font in legend():
        text = html.escape(text)
        if font == "white":
            text = f'<font color="white">{text}</font>'
        cells.append(f'<td bgcolor="{color}">{text}</td>')
    title = (
        "box fill: the gradient's rms = sqrt(mean(grad**2)), one color per power of ten "
        "(1e-3: 1e-3 &lt;= rms &lt; 1e-2)"
    )
    dot.node(
        "legend",
        f'<<table border="0" cellborder="1" cellspacing="0" cellpadding="4">'
        f'<tr><td colspan="{len(cells)}">{title}</td></tr><tr>{"".join(cells)}</tr></table>>',
        shape="plaintext",
    )


def _how_to_see_gradients(dot: Any) -> None:
    """In the legend's place, when backward() has released the values and nothing recorded
    them: how to get the gradient on every edge."""
    dot.node(
        "legend",
        _label(
            [
                "To see the gradient each edge carried, run the forward and backward",
                "inside `with viz.watch():`, then draw (or call backward(retain_graph=True),",
                "or draw before backward()).",
            ]
        ),
        shape="note",
    )


def _escape(text: str) -> str:
    """Text shown as is: DOT gives backslashes in labels a meaning (\\n, \\l, \\N)."""
    return text.replace("\\", "\\\\")


def _label(lines: list[str]) -> str:
    return "\\n".join(_escape(line) for line in lines)
