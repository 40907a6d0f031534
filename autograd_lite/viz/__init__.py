"""See the backward pass: draw the graph with the gradient on every edge, render it to a file,
and take one gradient apart by the chain rule.

>>> import autograd_lite as al
>>> from autograd_lite import viz
>>> a = al.tensor(3.0, requires_grad=True, name="a")
>>> b = a + a
>>> b.name = "b"
>>> b.backward(retain_graph=True)  # keep the graph: draw and explain walk it again
>>> print(viz.explain(b, a))  # doctest: +ELLIPSIS
d(b)/d(a) by the chain rule: 2 paths lead from b back to a.
...
a.grad: 2  (matches)
>>> graph = viz.draw(b)  # a graphviz.Digraph; viz.render(graph, "b.svg") writes the picture

`draw` and `render` need the graphviz Python package and a renderer (`pip install
'autograd-lite[viz]'`); `explain`, like `print(tape)`, needs nothing beyond numpy.
"""

from .chain_rule import Explanation, Route, Step, explain
from .drawing import draw, grad_color
from .rendering import RendererNotFoundError, find_renderer, render

__all__ = [
    "draw", "render", "explain", "find_renderer", "grad_color",
    "Explanation", "Route", "Step", "RendererNotFoundError",
]  # fmt: skip
