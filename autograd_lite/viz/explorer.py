"""html and snapshot: the backward graph as one interactive web page that opens offline. Hover
a node or an edge for its numbers, click a parameter for every chain-rule path to it, and slide
through the backward passes of a training run to watch the gradients change.

>>> with viz.watch():  # doctest: +SKIP
...     loss = loss_fn(model(x), y)
...     loss.backward()
>>> viz.html(loss, "loss.html", module=model)  # doctest: +SKIP

For several passes of one network (epochs of a run), take a snapshot right after each watched
backward(), before the optimizer step changes the parameters, and give html the list:

    with viz.watch():
        loss = loss_fn(model(x), y)
        loss.backward()
    snapshots.append(viz.snapshot(loss, f"epoch {epoch}", module=model))
    optimizer.step()
    ...
    viz.html(snapshots, "training.html")

The file holds the SVG that Graphviz renders once (`render`'s renderer), the numbers of every
pass as JSON, and a small script and style sheet: no network, no CDN.
"""

from __future__ import annotations

import html as markup
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..tensor import Tensor
from .chain_rule import carries, count_paths, explain
from .drawing import Scene, edge_id, grad_color, import_graphviz, legend, sketch
from .graph import (
    Params,
    backward_rule,
    forward_rule,
    input_name,
    input_rule,
    param_dict,
    params_text,
)
from .rendering import render
from .summary import Summary, shape_text, summarize

if TYPE_CHECKING:
    import graphviz


@dataclass(frozen=True)
class Snapshot:
    """One backward pass as the page shows it, taken by `snapshot`.

    `drawing` is the pass drawn by `draw`; `data` holds, by node and edge id, each one's label
    lines, color and tooltip, and for each parameter the ids on its chain-rule paths and what
    `explain` says of it. Ids are positions (leaf j, op k in tape order, input i of op k), so
    the passes of one network in different epochs line up on one drawing; `structure` (ids
    and op names) says which snapshots can share one.
    """

    label: str
    drawing: graphviz.Digraph
    structure: tuple[str, ...]
    data: dict[str, Any]


def snapshot(
    root: Tensor,
    label: str = "",
    *,
    note: str = "",
    params: Params | None = None,
    module: Any = None,
    max_nodes: int = 500,
) -> Snapshot:
    """Everything the page shows of the backward pass from `root`, read now: take it right
    after backward() (run inside `viz.watch()`, or with retain_graph=True), before an optimizer
    step changes the parameters, which the values and `explain`'s paths are read from.

    `label` names the pass on the page's slider ("epoch 100"); `note` is shown next to it
    ("accuracy 52%"). `params`, `module` and `max_nodes` are `draw`'s.
    """
    graphviz = import_graphviz("html")
    params = param_dict(params, module)
    scene = sketch(
        root, "backward", params, module, show_values=True, show_grads=True, max_nodes=max_nodes
    )
    if not scene.has_grads:
        raise ValueError(
            "html: there are no gradients to show: run the forward and backward inside `with "
            "viz.watch():` (from autograd_lite import viz), or call backward(retain_graph=True), "
            "or take the snapshot before backward()"
        )
    nodes = _nodes(scene)
    edges = _edges(scene)
    value = scene.seen.value(root)
    data = {
        "label": label,
        "note": note,
        "root": scene.names[root],
        "rootId": scene.ids[root],
        "value": value.value_text() if value else "",
        "nodes": nodes,
        "edges": edges,
        "leaves": _leaves(scene, params),
    }
    ops = tuple(t._node.op.name for t in scene.graph.ops)
    structure = (*nodes, *edges, *ops)
    drawing = scene.digraph(graphviz, "BT", ids=True, show_legend=False)  # the page has one
    return Snapshot(label, drawing, structure, data)


def html(
    root_or_snapshots: Tensor | Sequence[Snapshot],
    path: str | os.PathLike,
    *,
    title: str | None = None,
    params: Params | None = None,
    module: Any = None,
) -> Path:
    """Write the explorer page of a backward pass (a root: see `snapshot`), or of several passes
    of one graph (a list of `snapshot`s, in slider order) to `path`, and return its path.

    The page draws the graph once (from the first snapshot) and recolors it per pass: tensor
    boxes and edges by the rms of their gradient, one color per power of ten as in `draw`.
    `params` and `module` name a root's tensors (snapshots were named when taken). Needs
    graphviz and a renderer, as `render` does.
    """
    if isinstance(root_or_snapshots, Tensor):
        snapshots = [snapshot(root_or_snapshots, params=params, module=module)]
    else:
        if params is not None or module is not None:
            raise TypeError(
                "html: params and module name the tensors of a root; a snapshot was named when "
                "it was taken: viz.snapshot(loss, label, module=model)"
            )
        snapshots = list(root_or_snapshots)
        if not snapshots:
            raise ValueError("html: no snapshots to show")
        first = snapshots[0]
        for s in snapshots[1:]:
            if s.structure != first.structure:
                raise ValueError(
                    f"html: snapshot {s.label!r} is of another graph than {first.label!r}; one "
                    "page shows the passes of one graph (the same ops in the same order)"
                )
    title = title or f"The backward graph of {snapshots[0].data['root']}"
    with tempfile.TemporaryDirectory() as folder:
        svg = render(snapshots[0].drawing, Path(folder) / "graph.svg").read_text(encoding="utf-8")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(_page(title, _inline(svg), [s.data for s in snapshots]), encoding="utf-8")
    return out


# ---------------------------------------------------------------- what each element shows
def _nodes(scene: Scene) -> dict[str, dict]:
    """Each drawn node's label lines and colors; tensors and ops with a tooltip."""
    graph = scene.graph
    tensors = {n: t for t, n in scene.ids.items()}
    nodes = {}
    for n in scene.order:
        if not scene.shown(n):
            continue
        lines, attrs, _ = scene.node(n)
        node = {"lines": lines, "fill": attrs.get("fillcolor"), "font": attrs.get("fontcolor")}
        if n in tensors:
            node["tip"] = _tensor_tip(scene, tensors[n])
        elif n.startswith("op"):
            node["tip"] = _op_tip(scene, graph.ops[int(n[2:])])
        nodes[n] = node
    return nodes


def _tensor_tip(scene: Scene, t: Tensor) -> dict:
    seen, name = scene.seen, scene.names[t]
    if t._node is not None:
        kind = f"output of {t._node.op.name} #{t._node.seq}"
    elif t.requires_grad:
        kind = "a leaf that requires grad: click it for its chain-rule paths"
    else:
        kind = "a leaf that requires no grad: no gradient flows into it"
    rows = [["tensor", kind], ["shape", f"{shape_text(t.data)} {t.dtype}"]]
    value = summarize(t.data) if t._node is None else seen.value(t)
    if value is not None:
        rows += _stats("value", value)
    grad = seen.grad(t)
    if grad is not None:
        rows += _stats(f"d({scene.names[scene.graph.root]})/d({name})", grad)
    return {"title": name, "rows": rows}


def _op_tip(scene: Scene, t: Tensor) -> dict:
    node, seen = t._node, scene.seen
    rows = [["forward", forward_rule(node.op)], ["backward", backward_rule(node.op)]]
    if node.params:
        rows.append(["parameters", params_text(node.params, width=80)])
    rows.append(["output", f"{scene.names[t]}, {shape_text(t.data)} {t.dtype}"])
    value = seen.value(t)
    if value is not None:
        rows += _stats("value", value)
    grad = seen.grad(t)
    if grad is not None:
        rows += _stats(f"g = d({scene.names[scene.graph.root]})/d({scene.names[t]})", grad)
    return {"title": f"{node.op.name}  (op #{node.seq} on the tape)", "rows": rows}


def _edges(scene: Scene) -> dict[str, dict]:
    """Each drawn edge that carries a gradient: its label, color and tooltip."""
    graph, seen = scene.graph, scene.seen
    edges = {}
    for tail, head, k, i in scene.edges:
        if not (scene.shown(tail) and scene.shown(head)):
            continue
        t = graph.ops[k]
        grad = seen.grad(t) if i is None else seen.edge(t, i)
        if grad is None:
            continue
        op = f"{t._node.op.name} #{t._node.seq}"
        rows = [["shape", f"{shape_text(grad)} {grad.dtype}"], *_stats("gradient", grad)]
        if i is None:
            title = f"g = d({scene.names[graph.root]})/d({scene.names[t]}), into {op}"
        else:
            prim = t._node.op
            x = scene.names[graph.inputs(t)[i]]
            title = f"what {op} sends its input {input_name(prim, i)} ({x})"
            rows.insert(0, ["rule", input_rule(prim, i)])
        edges[edge_id(k, i)] = {
            "label": scene.edge(k, i).get("label", ""),
            "color": grad_color(grad.rms),
            "tip": {"title": title, "rows": rows},
        }
    return edges


def _stats(what: str, s: Summary) -> list[list[str]]:
    """Rows of a tooltip: rms and max|.|, then the elements (at most 4) or mean, min and max."""
    return [[what, f"rms {s.rms:.3g}   max|.| {s.max_abs:.3g}"], ["", s.value_text()]]


def _leaves(scene: Scene, params: dict[str, Tensor]) -> dict[str, dict]:
    """For each drawn leaf that requires grad: its gradient's rms, the ids of the
    nodes and edges on its paths from the root, and what `explain` prints of it."""
    graph = scene.graph
    found = {}
    for j, leaf in enumerate(graph.leaves):
        n = f"leaf{j}"
        if not (leaf.requires_grad and scene.shown(n)):
            continue
        on_path, n_paths = count_paths(graph, leaf)
        ids = [n]
        if n_paths:
            for k, t in enumerate(graph.ops):
                if t in on_path:
                    ids += [f"t{k}", f"op{k}", edge_id(k, None)]
                    for i, x in enumerate(graph.inputs(t)):
                        if carries(x, on_path):
                            ids.append(edge_id(k, i))
        grad = scene.seen.grad(leaf)
        found[n] = {
            "name": scene.names[leaf],
            "rms": "none" if grad is None else f"{grad.rms:.3g}",
            "paths": n_paths,
            "ids": ids,
            "explain": str(explain(graph.root, leaf, params=params)),
        }
    return found


# ---------------------------------------------------------------- the page
def _inline(svg: str) -> str:
    """The SVG as a page element: no XML prolog or DOCTYPE (the DOCTYPE names a URL), no
    comments, and no <title>s, whose native tooltips would cover the page's own."""
    svg = svg[svg.index("<svg") :]
    svg = _cut(svg, "<!--", "-->")
    return _cut(svg, "<title>", "</title>\n")


def _cut(text: str, start: str, end: str) -> str:
    """`text` without every span from `start` to the next `end`."""
    parts = text.split(start)
    return parts[0] + "".join(p.partition(end)[2] for p in parts[1:])


def _page(title: str, svg: str, passes: list[dict]) -> str:
    """The page: the static parts here, the moving ones (explorer.js) filled from `passes`."""
    here = resources.files(__package__)
    css = (here / "explorer.css").read_text(encoding="utf-8")
    script = (here / "explorer.js").read_text(encoding="utf-8")
    # In a <script> element only "</script" ends it: written as \u003c, "<" cannot.
    data = json.dumps(passes, allow_nan=False).replace("<", "\\u003c")
    colors = "".join(
        f'<span class="cell" style="background:{fill};color:{font}">{markup.escape(text)}</span>'
        for text, fill, font in legend()
    )
    last = len(passes) - 1
    ticks = "".join(
        f'<button data-pass="{j}" style="left:{100 * j / max(last, 1):g}%">'
        f"{markup.escape(p['label'])}</button>"
        for j, p in enumerate(passes)
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{markup.escape(title)}</title>
<script>
window.explorerErrors = [];
window.onerror = (message) => {{ window.explorerErrors.push(String(message)); }};
</script>
<style>
{css}</style>
</head>
<body>
<header>
  <h1>{markup.escape(title)}</h1>
  <div id="colors" title="the rms of a gradient: sqrt(mean(grad**2)), one color per power of ten">
    <span class="what">gradient rms:</span>{colors}</div>
</header>
<nav id="passes"{' class="single"' if not last else ""}>
  <label for="pass">backward pass</label>
  <div id="track"><input type="range" id="pass" min="0" max="{last}" value="0">
    <div id="ticks">{ticks}</div></div>
  <div id="caption"></div>
</nav>
<main>
  <div id="zoom"><button data-zoom="all">whole graph</button>
    <button data-zoom="width">fit width</button>
    <button data-zoom="0.8" title="zoom out">&minus;</button>
    <button data-zoom="1.25" title="zoom in">+</button></div>
  <div id="graph">{svg}</div>
  <aside id="panel">
    <p id="help">Hover over a box, an ellipse or an edge for its numbers. Click a parameter
    (a leaf box, or its row below) to light up every chain-rule path from the loss to it.</p>
    <table id="leaves"><thead><tr><th>parameter</th><th>gradient rms</th></tr></thead>
      <tbody></tbody></table>
    <div id="explain"></div>
  </aside>
</main>
<div id="tip" hidden></div>
<script type="application/json" id="explorer-data">{data}</script>
<script>
{script}</script>
</body>
</html>
"""
