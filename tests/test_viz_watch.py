"""After a plain backward(): the graph's structure survives (its values do not), viz.watch()
records what flowed, and draw and explain show the same numbers as on a retained graph."""

from __future__ import annotations

import importlib.util
import re

import numpy as np
import pytest
from dot_reading import parse

import autograd_lite as al
import nn
from autograd_lite import viz
from autograd_lite.engine import FREED
from demos.lab1.datasets import generate_linear

needs_graphviz = pytest.mark.skipif(
    importlib.util.find_spec("graphviz") is None, reason="the graphviz package is not installed"
)


def trained_lab_network(steps: int = 30):
    """The lab's 2-4-4-1 sigmoid network after a few steps of gradient descent on `linear`."""
    x, y = generate_linear(100, rng=0)
    x, y = al.tensor(x, name="x"), al.tensor(y, name="y")
    model = nn.MLP([2, 4, 4, 1], activation="sigmoid", output_activation="sigmoid", rng=0)
    optimizer = nn.optim.SGD(model.parameters(), lr=0.5)
    for _ in range(steps):
        optimizer.zero_grad()
        nn.MSELoss()(model(x), y).backward()
        optimizer.step()
    optimizer.zero_grad()
    return model, optimizer, lambda: nn.MSELoss()(model(x), y)


def _without_tape_positions(dot_text: list[str]) -> list[str]:
    # Two forward passes differ only in tape positions (#12 against #40).
    return [re.sub(r"#\d+", "#", line) for line in dot_text]


def _drawn(loss, model):
    nodes, edges, _ = parse(viz.draw(loss, module=model))
    boxes = {
        k: (_without_tape_positions(n.get("lines", [])), n.get("fillcolor"))
        for k, n in nodes.items()
    }
    return boxes, sorted((t, h, e.get("label")) for t, h, e in edges)


@needs_graphviz
def test_draw_after_a_watched_plain_backward_equals_draw_of_the_retained_graph():
    model, optimizer, loss_of = trained_lab_network()
    retained = loss_of()
    retained.backward(retain_graph=True)
    want = _drawn(retained, model)
    optimizer.zero_grad()
    with viz.watch():
        loss = loss_of()
        loss.backward()
    got = _drawn(loss, model)
    assert got == want
    # The numbers are there: each of the 6 parameters shows the gradient backward() sent it.
    boxes = [lines for lines, _ in got[0].values() if lines and lines[0].startswith("layers.")]
    assert len(boxes) == 6 and all(lines[-1].startswith("grad ") for lines in boxes)
    assert "as recorded by viz.watch() in backward()" in viz.draw(loss).source


def test_explain_after_a_watched_plain_backward_equals_explain_of_the_retained_graph():
    model, optimizer, loss_of = trained_lab_network()
    params = dict(model.named_parameters())
    retained = loss_of()
    retained.backward(retain_graph=True)
    want = str(viz.explain(retained, model.layers[0].weight, params=params))
    optimizer.zero_grad()
    with viz.watch():
        loss = loss_of()
        loss.backward()
    got = str(viz.explain(loss, model.layers[0].weight, module=model))  # names as params= does
    sent, _, rest = got.rpartition("\nlayers.0.weight.grad")
    assert _without_tape_positions(sent.splitlines()[:-1]) == _without_tape_positions(
        want.rpartition("\nlayers.0.weight.grad")[0].splitlines()
    )
    assert sent.splitlines()[-1].startswith("backward() sent layers.0.weight: (4, 2) rms ")
    assert sent.endswith("(viz.watch: matches the sum)")
    assert rest.endswith("(matches)")


def test_explain_says_when_the_leaves_changed_since_the_recorded_backward():
    model, optimizer, loss_of = trained_lab_network(steps=2)
    with viz.watch():
        loss = loss_of()
        loss.backward()
    optimizer.step()  # the values explain replays are no longer those of that backward()
    text = str(viz.explain(loss, model.layers[2].bias))
    assert "differs from the sum: the leaves have changed since that backward()" in text


def test_a_record_keeps_summaries_not_arrays_unless_asked():
    w = al.tensor(np.arange(12.0).reshape(3, 4), requires_grad=True, name="w")
    with viz.watch() as watched:
        loss = (w * w).sum()
        loss.backward()
    record = viz.recorded(loss)
    assert watched.records == [record] and record.arrays is None
    sent = record.grad(w)
    assert sent.shape == (3, 4) and sent.elements is None  # more than 4 elements
    assert sent.max_abs == 22.0 and sent.rms == pytest.approx(np.sqrt(np.mean((2 * w.data) ** 2)))
    product = loss._node.inputs[0]
    assert record.edges[loss._node.seq, 0].shape == (3, 4)
    assert record.values[product.seq].max == 121.0  # recorded in the forward pass
    with viz.watch(arrays=True):
        again = (w * w).sum()
        again.backward()
    np.testing.assert_array_equal(viz.recorded(again).arrays[w], 2 * w.data)


def test_records_are_keyed_by_tape_position_so_they_keep_no_node_alive():
    x = al.tensor([1.0, 2.0], requires_grad=True)
    with viz.watch():
        loss = (x.tanh() * 3.0).sum()
        loss.backward()
    record = viz.recorded(loss)
    keys = [*record.grads, *record.edges, *record.values]
    assert all(isinstance(k, int | tuple | al.Tensor) for k in keys)
    assert [k for k in record.grads if isinstance(k, al.Tensor)] == [x]  # the one leaf


def test_backward_keeps_the_structure_and_releases_only_the_values():
    x = al.tensor([0.5, -1.0], requires_grad=True, name="x")
    h = x.tanh()  # tanh keeps its output for its gradient rule
    loss = (h * 2.0).sum()
    shapes = [(t.op, t.shape) for t in (h, loss)]
    loss.backward()
    node = h._node
    assert node.out is FREED and node.inputs == (x,) and node.op.name == "tanh"
    assert [(t.op, t.shape) for t in (h, loss)] == shapes
    with pytest.raises(RuntimeError, match="freed by an earlier backward"):
        np.asarray(node.out)


def test_every_root_of_a_watched_gradients_call_gets_the_record():
    x = al.tensor([0.3, -0.7], requires_grad=True)
    with viz.watch():
        y1 = (x * x).sum()
        y2 = (x * 3.0).sum()
        al.gradients([y1, y2], [x])
    assert viz.recorded(y1) is viz.recorded(y2)
    assert viz.recorded(y1).grad(x).elements == pytest.approx((2 * 0.3 + 3, 2 * -0.7 + 3))
