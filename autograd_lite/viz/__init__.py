"""See the backward pass: draw the graph with the gradient on every edge, render it to a file,
take one gradient apart by the chain rule, and record what a backward pass sent.

>>> import autograd_lite as al
>>> from autograd_lite import viz
>>> a = al.tensor(3.0, requires_grad=True, name="a")
>>> with viz.watch():  # record what flows, so draw and explain work after backward()
...     b = a + a
...     b.name = "b"
...     b.backward()
>>> print(viz.explain(b, a))  # doctest: +ELLIPSIS
d(b)/d(a) by the chain rule: 2 paths lead from b back to a.
...
a.grad: 2  (matches)
>>> graph = viz.draw(b)  # a graphviz.Digraph; viz.render(graph, "b.svg") writes the picture

`draw` and `render` need the graphviz Python package and a renderer (`pip install
'autograd-lite[viz]'`); `explain`, `watch`, like `print(tape)`, need nothing beyond numpy.
"""

from .chain_rule import Explanation, Route, Step, explain
from .drawing import draw, grad_color
from .explorer import Snapshot, html, snapshot
from .recording import Record, recorded, watch
from .rendering import RendererNotFoundError, find_renderer, render
from .summary import Summary, summarize

__all__ = [
    "draw", "render", "explain", "watch", "recorded", "html", "snapshot", "find_renderer",
    "grad_color", "summarize", "Explanation", "Route", "Step", "Record", "Summary", "Snapshot",
    "RendererNotFoundError",
]  # fmt: skip
