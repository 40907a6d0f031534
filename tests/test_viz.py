"""autograd_lite.viz: the DOT of known graphs node by node, colors, module boxes, collapsing,
rendering, and explain's chain rule checked against backward()."""

from __future__ import annotations

import importlib.util
import math
import os
import re
import shutil
import sys
import sysconfig
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from dot_reading import parse
from hypothesis import given
from hypothesis import strategies as st

import autograd_lite as al
from autograd_lite import ops, viz
from autograd_lite.viz import drawing, rendering
from autograd_lite.viz.graph import flow, walk

needs_graphviz = pytest.mark.skipif(
    importlib.util.find_spec("graphviz") is None, reason="the graphviz package is not installed"
)
SCRIPTS = sysconfig.get_path("scripts")


def shared_square():
    """a = 3;  b = a + a;  c = b * b = 4a^2, so dc/da = 8a = 24 along 4 paths of 6 each."""
    a = al.tensor(3.0, requires_grad=True, name="a")
    b = a + a
    b.name = "b"
    c = b * b
    c.name = "c"
    c.backward(retain_graph=True)
    return a, b, c


# ---------------------------------------------------------------- draw: exact DOT
@needs_graphviz
def test_backward_dot_of_shared_subexpression_has_exactly_these_nodes_edges_and_gradients():
    _, b, c = shared_square()
    nodes, edges, clusters = parse(viz.draw(c))
    add, mul = b._node.seq, c._node.seq
    assert set(nodes) == {"leaf0", "op0", "t0", "op1", "t1", "legend"}
    assert nodes["leaf0"]["lines"] == ["a", "scalar float64", "3", "grad 24"]
    assert nodes["t0"]["lines"] == ["b", "scalar float64", "6", "grad 12"]
    assert nodes["t1"]["lines"] == ["c", "scalar float64", "36", "grad 1"]
    assert nodes["op0"]["lines"] == [f"add #{add}", "z = x + y", "dx = g,  dy = g"]
    assert nodes["op1"]["lines"] == [f"mul #{mul}", "z = x * y", "dx = g*y,  dy = g*x"]
    assert nodes["t1"]["penwidth"] == "2"  # the root
    got = sorted((t, h, e.get("label"), e.get("dir")) for t, h, e in edges)
    # Each use of a (and of b) is its own edge, and each carries its own share of the gradient.
    assert got == [
        ("leaf0", "op0", "12", "back"),
        ("leaf0", "op0", "12", "back"),
        ("op0", "t0", "12", "back"),
        ("op1", "t1", "1", "back"),
        ("t0", "op1", "6", "back"),
        ("t0", "op1", "6", "back"),
    ]
    assert clusters == {}


@needs_graphviz
def test_forward_view_has_the_same_graph_with_data_arrows_and_no_gradients_on_edges():
    _, _, c = shared_square()
    nodes, edges, _ = parse(viz.draw(c, view="forward", show_grads=False))
    assert set(nodes) == {"leaf0", "op0", "t0", "op1", "t1"}  # no gradients: no legend
    assert nodes["op1"]["lines"] == [f"mul #{c._node.seq}", "z = x * y"]
    assert nodes["leaf0"]["lines"] == ["a", "scalar float64", "3"]
    assert nodes["leaf0"]["fillcolor"] == "white"
    assert sorted((t, h) for t, h, _ in edges) == [
        ("leaf0", "op0"), ("leaf0", "op0"), ("op0", "t0"),
        ("op1", "t1"), ("t0", "op1"), ("t0", "op1"),
    ]  # fmt: skip
    assert all("label" not in e and "dir" not in e for _, _, e in edges)


@needs_graphviz
def test_tensor_graph_shows_summaries_constants_and_inputs_without_gradient():
    # p = sigmoid(x @ w) with data x (no grad); loss = sum((p - 1)^2) / 2
    x = al.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], name="x")
    w = al.tensor([[0.5], [-0.25]], requires_grad=True, name="w")
    p = al.sigmoid(x @ w)
    loss = ((p - 1.0) ** 2).sum() / 2
    loss.backward(retain_graph=True)
    nodes, edges, _ = parse(viz.draw(loss, show_values=True))
    ids = {n["lines"][0]: k for k, n in nodes.items() if "lines" in n}
    assert nodes[ids["x"]]["lines"] == [
        "x",
        "(3, 2) float64",
        "mean 3.5  min 1  max 6",
        "(no grad)",
    ]
    delta = (p.data - 1) * p.data * (1 - p.data)
    want = x.data.T @ delta
    assert nodes[ids["w"]]["lines"][:3] == ["w", "(2, 1) float64", "[[0.5], [-0.25]]"]
    assert nodes[ids["w"]]["lines"][3] == "grad " + viz.graph.values(want)
    np.testing.assert_allclose(w.grad, want)
    constants = sorted(n["lines"][0] for n in nodes.values() if n.get("shape") == "plaintext")
    assert constants == ["1", "2", "2"]  # p - 1, ** 2, / 2
    x_edges = [e for t, _, e in edges if t == ids["x"]]
    assert x_edges == [{"color": "gray50", "dir": "none", "style": "dashed"}]
    # The edge from x @ w into sigmoid carries delta = dL/d(x @ w): 3 elements, so the values.
    matmul_out = next(
        k for k, n in nodes.items() if n.get("lines", [""])[0] == f"#{p._node.seq - 1}"
    )
    label = next(e["label"] for t, h, e in edges if t == matmul_out and h.startswith("op"))
    assert label == viz.graph.values(delta)


@needs_graphviz
def test_edges_of_large_tensors_carry_the_rms_and_match_the_engines_gradients():
    rng = np.random.default_rng(0)
    x = al.tensor(rng.normal(size=(5, 3)))
    w = al.tensor(rng.normal(size=(3, 4)), requires_grad=True, name="w")
    h = al.tanh(x @ w)
    loss = (h * h).mean()
    loss.backward(retain_graph=True)
    nodes, _, _ = parse(viz.draw(loss))
    ids = {n["lines"][0]: k for k, n in nodes.items() if "lines" in n}
    assert nodes[ids["w"]]["lines"][-1] == f"grad rms {np.sqrt(np.mean(w.grad**2)):.3g}"
    # Every intermediate gradient draw shows is the one the engine computes.
    graph = walk(loss)
    found = flow(graph)
    tensors = [t for t in graph.ops if t is not loss]
    for t, g in zip(tensors, al.gradients(loss, tensors, retain_graph=True)):
        np.testing.assert_allclose(found.grads[t], g, rtol=1e-12)
    np.testing.assert_allclose(found.grads[w], w.grad, rtol=1e-12)


# ---------------------------------------------------------------- colors
@pytest.mark.parametrize(
    ("magnitude", "color"),
    [
        (0.0, drawing.ZERO_COLOR),
        (float("nan"), drawing.NONFINITE_COLOR),
        (float("inf"), drawing.NONFINITE_COLOR),
        (1e-12, drawing.PALETTE[0]),
        (9.9e-9, drawing.PALETTE[0]),
        (1e-8, drawing.PALETTE[1]),
        (5e-4, drawing.PALETTE[5]),
        (0.5, drawing.PALETTE[8]),
        (1.0, drawing.PALETTE[9]),
        (1e6, drawing.PALETTE[9]),
    ],
)
def test_grad_color_is_one_color_per_power_of_ten(magnitude, color):
    assert viz.grad_color(magnitude) == color


@needs_graphviz
def test_box_colors_follow_gradient_magnitudes_down_a_vanishing_sigmoid_chain():
    x = al.tensor(0.3, requires_grad=True, name="x")
    chain = [x]
    for _ in range(16):  # each sigmoid multiplies the gradient by y(1 - y) <= 1/4
        chain.append(al.sigmoid(chain[-1]))
    root = chain[-1]
    root.backward(retain_graph=True)
    nodes, _, _ = parse(viz.draw(root))
    gradients = al.gradients(root, chain[:-1], retain_graph=True)
    bins = []
    for t, g in zip(chain[:-1], gradients):
        label = x.name if t is x else f"#{t._node.seq}"
        box = next(n for n in nodes.values() if n.get("lines", [""])[0] == label)
        want = drawing.PALETTE.index(viz.grad_color(abs(float(g))))
        assert box["fillcolor"] == drawing.PALETTE[want]
        bins.append(want)
    assert bins == sorted(bins)  # smaller toward the input
    assert bins[-1] - bins[0] >= 8  # and it really vanishes: 0.22^16 ~ 1e-10


@needs_graphviz
def test_a_dead_relu_gives_a_gray_box_and_the_legend_lists_every_color_in_order():
    x = al.tensor([-1.0, -2.0], requires_grad=True, name="x")
    y = al.relu(x).sum()
    y.backward(retain_graph=True)
    dot = viz.draw(y)
    nodes, _, _ = parse(dot)
    assert nodes["leaf0"]["fillcolor"] == drawing.ZERO_COLOR
    assert nodes["leaf0"]["lines"][-1] == "grad [0, 0]"
    legend = next(line for line in dot.source.splitlines() if line.lstrip().startswith("legend"))
    cells = re.findall(r'<td bgcolor="(#\w+)">(?:<font color="white">)?([^<]+)', legend)
    assert cells == [
        (drawing.ZERO_COLOR, "0"),
        *zip(drawing.PALETTE, ["&lt; 1e-8", *(f"1e{e}" for e in range(-8, 0)), "&gt;= 1"]),
        (drawing.NONFINITE_COLOR, "nan/inf"),
    ]


# ---------------------------------------------------------------- modules
@needs_graphviz
def test_module_parameters_and_their_ops_are_boxed_as_layers():
    nn = pytest.importorskip("nn")
    model = nn.MLP([2, 4, 4, 1], activation="sigmoid", output_activation="sigmoid", rng=0)
    x = al.tensor(np.random.default_rng(0).uniform(size=(8, 2)))
    loss = ((model(x) - 1.0) ** 2).mean()
    loss.backward(retain_graph=True)
    dot = viz.draw(loss, module=model)
    nodes, _, clusters = parse(dot)
    for i, label in enumerate(["Linear(2->4)", "Linear(4->4)", "Linear(4->1)"]):
        assert f'label="layers.{i}: {label}"' in dot.source
        inside = sorted(
            nodes[n]["lines"][0] for n, c in clusters.items() if c == f"cluster_layers.{i}"
        )
        ops_inside = sorted(
            nodes[n]["lines"][0].split(" #")[0]
            for n, c in clusters.items()
            if c == f"cluster_layers.{i}" and n.startswith("op")
        )
        assert f"layers.{i}.weight" in inside and f"layers.{i}.bias" in inside
        assert ops_inside == ["linear"]  # x @ W.T + b is one fused op
    sigmoids = [n for n, a in nodes.items() if a.get("lines", [""])[0].startswith("sigmoid")]
    assert len(sigmoids) == 3 and not any(n in clusters for n in sigmoids)
    # Without module=, the boxes are named by the parameters' prefixes alone.
    plain = viz.draw(loss, params=model.named_parameters()).source
    assert 'label="layers.0"' in plain and "Linear(" not in plain


# ---------------------------------------------------------------- big graphs
@needs_graphviz
def test_a_100000_op_chain_draws_collapsed_within_max_nodes():
    x = al.tensor(0.5, requires_grad=True, name="x")
    y = x
    for _ in range(100_000):
        y = al.sin(y)
    y.backward(retain_graph=True)
    nodes, edges, _ = parse(viz.draw(y, max_nodes=50))
    drawn = [n for n in nodes if n != "legend"]
    assert len(drawn) <= 50
    (box,) = [nodes[n] for n in drawn if n.startswith("run")]
    assert box["lines"][0].startswith("x 99,99")
    assert any(t == "run0" for t, _, _ in edges) and any(h == "run0" for _, h, _ in edges)
    assert nodes["leaf0"]["lines"][-1] == "grad " + viz.graph.values(x.grad)


@needs_graphviz
def test_repeated_layers_collapse_and_the_graph_stays_connected_from_root_to_input():
    x = al.tensor(np.ones((3, 4)))
    weights = [al.tensor(np.eye(4) * 0.9, requires_grad=True) for _ in range(40)]
    h = x
    for w in weights:
        h = al.tanh(h @ w)
    loss = h.sum()
    loss.backward(retain_graph=True)
    nodes, edges, _ = parse(viz.draw(loss, max_nodes=60))
    drawn = [n for n in nodes if n != "legend"]
    assert len(drawn) <= 60
    assert any(n.startswith("run") for n in drawn)
    reached, stack = set(), ["t" + str(len(walk(loss).ops) - 1)]
    inputs_of: dict[str, list[str]] = {}
    for t, h_, _ in edges:
        inputs_of.setdefault(h_, []).append(t)
    while stack:
        n = stack.pop()
        if n not in reached:
            reached.add(n)
            stack += inputs_of.get(n, [])
    assert set(drawn) == reached


@needs_graphviz
def test_graphs_without_repeats_are_cut_to_max_nodes_keeping_the_root_side():
    _, _, c = shared_square()
    nodes, _, _ = parse(viz.draw(c, max_nodes=3))
    assert set(nodes) == {"t1", "op1", "more", "legend"}
    assert nodes["more"]["lines"][0] == "... 3 more nodes"


@needs_graphviz
def test_after_a_plain_backward_draw_shows_the_structure_and_how_to_see_gradients():
    w = al.tensor([1.0, 2.0], requires_grad=True, name="w")
    loss = (w * w).sum()
    before = parse(viz.draw(loss, show_values=False, show_grads=False))
    loss.backward()
    dot = viz.draw(loss)
    nodes, edges, _ = parse(dot)
    # Every op and tensor is still there, with its shape and dtype; no value or gradient.
    assert set(nodes) == set(before[0]) | {"legend"}
    assert nodes["leaf0"]["lines"] == ["w", "(2,) float64", "[1, 2]"]
    assert nodes["t0"]["lines"] == ["#" + str(loss._node.inputs[0].seq), "(2,) float64"]
    assert nodes["t1"]["lines"][1] == "scalar float64"
    assert sorted((t, h) for t, h, _ in edges) == sorted((t, h) for t, h, _ in before[1])
    assert all("label" not in e for _, _, e in edges)
    assert "viz.watch()" in dot.source  # the legend says how to get the numbers


def test_values_of_ops_no_rule_kept_are_replayed_before_and_after_backward():
    # The engine's nodes keep only what gradient rules read; viz replays the rest from the
    # inputs, which backward() leaves in place (it releases only the kept arrays).
    x = al.tensor([1.0, 2.0], requires_grad=True)
    z = (x * 3.0) + 1.0  # add reads neither input: the node of x * 3 keeps no array
    y = x * 2.0
    w = y + 0.5
    assert [t.data.tolist() for t in walk(z).ops] == [[3.0, 6.0], [4.0, 7.0]]
    (y + 0.0).sum().backward()  # releases y's node
    del y
    graph = walk(w)
    assert graph.freed and [t.data.tolist() for t in graph.ops] == [[2.0, 4.0], [2.5, 4.5]]


@needs_graphviz
def test_draw_rejects_an_unknown_view():
    _, _, c = shared_square()
    with pytest.raises(ValueError, match="view must be 'backward' or 'forward', got 'sideways'"):
        viz.draw(c, view="sideways")


# ---------------------------------------------------------------- render
@pytest.mark.parametrize("program", ["dot", "graphviz-pure"])
@needs_graphviz
def test_render_writes_a_valid_svg_and_png(program, tmp_path, monkeypatch):
    # Where find_renderer looks: PATH, then the interpreter's scripts folder (pip's).
    path = shutil.which(program, path=os.pathsep.join([os.environ.get("PATH", ""), SCRIPTS]))
    if path is None:
        pytest.skip(f"{program} is not installed")
    monkeypatch.setattr(rendering, "find_renderer", lambda format="svg": path)
    _, _, c = shared_square()
    svg = viz.render(viz.draw(c), tmp_path / "graph.svg")
    root = ET.parse(svg).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert "grad 24" in svg.read_text()
    png = viz.render(c, tmp_path / "graph", format="png")  # a Tensor is drawn first
    assert png.name == "graph.png" and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@needs_graphviz
def test_missing_renderer_saves_the_source_and_names_the_package(tmp_path, monkeypatch):
    monkeypatch.setattr(rendering.shutil, "which", lambda name, path=None: None)
    _, _, c = shared_square()
    with pytest.raises(viz.RendererNotFoundError, match="pip install graphviz-pure") as error:
        viz.render(viz.draw(c), tmp_path / "graph.svg")
    source = tmp_path / "graph.svg.gv"
    assert str(source) in str(error.value)
    assert source.read_text() == viz.draw(c).source
    assert not (tmp_path / "graph.svg").exists()


@needs_graphviz
def test_pdf_without_system_graphviz_asks_for_it(tmp_path, monkeypatch):
    def only_graphviz_pure(name, path=None):
        return "/opt/bin/graphviz-pure" if name == "graphviz-pure" else None

    monkeypatch.setattr(rendering.shutil, "which", only_graphviz_pure)
    assert rendering.find_renderer("svg") == "/opt/bin/graphviz-pure"
    assert rendering.find_renderer("pdf") is None
    _, _, c = shared_square()
    with pytest.raises(viz.RendererNotFoundError, match="apt install graphviz"):
        viz.render(viz.draw(c), tmp_path / "graph.pdf")
    assert (tmp_path / "graph.pdf.gv").exists()


@needs_graphviz
def test_a_failing_renderer_is_an_error_not_a_silent_no_op(tmp_path, monkeypatch):
    false = shutil.which("false")
    if false is None:
        pytest.skip("no `false` program")
    monkeypatch.setattr(rendering, "find_renderer", lambda format="svg": false)
    _, _, c = shared_square()
    with pytest.raises(RuntimeError, match="failed with exit code 1"):
        viz.render(viz.draw(c), tmp_path / "graph.svg")


# ---------------------------------------------------------------- explain
def test_explain_shared_subexpression_lists_each_use_and_adds_them():
    a, _, c = shared_square()
    e = viz.explain(c, a)
    assert e.n_paths == 4 and len(e.routes) == 4
    assert [[s.argument for s in r.steps] for r in e.routes] == [
        ["x", "x"], ["x", "y"], ["y", "x"], ["y", "y"]
    ]  # fmt: skip
    for route in e.routes:
        assert [s.local for s in route.steps] == [6.0, 1.0]  # dc/db = b = 6, db/da = 1
        assert route.contribution == 6.0
    assert e.total == 24.0 == a.grad
    text = str(e)
    assert "d(c)/d(a) by the chain rule: 4 paths lead from c back to a." in text
    assert "path 2 of 4: c <-mul.x- b <-add.y- a" in text
    assert "  d(b)/d(a) = 1    add #" in text
    assert "product: 6 * 1 = 6" in text
    assert "sum of the 4 paths' contributions: 24" in text
    assert text.endswith("a.grad: 24  (matches)")


def test_explain_counts_exponentially_many_paths_but_lists_few_and_sums_all():
    a = al.tensor(0.5, requires_grad=True, name="a")
    h = a
    for _ in range(40):  # each level uses h twice: 2^40 paths
        h = h * 0.5 + h * 0.5
    h.backward(retain_graph=True)
    e = viz.explain(h, a, max_paths=3)
    assert e.n_paths == 2**40
    assert len(e.routes) == 3
    assert e.total == pytest.approx(1.0) and a.grad == pytest.approx(1.0)
    for route in e.routes:
        assert route.contribution == pytest.approx(0.5**40)
    text = str(e)
    assert f"paths 4 to {2**40:,} are not listed (max_paths=3)" in text
    assert text.endswith("(matches)")


def test_explain_tensor_paths_show_the_gradient_along_the_way():
    x = al.tensor([[1.0, 2.0], [3.0, 4.0]], name="x")
    w = al.tensor([[0.5], [-0.5]], requires_grad=True, name="w")
    loss = (al.sigmoid(x @ w) ** 2).mean()
    loss.name = "loss"
    loss.backward(retain_graph=True)
    e = viz.explain(loss, w)
    assert e.n_paths == 1
    (route,) = e.routes
    assert [s.op for s in route.steps] == ["div", "sum", "pow", "sigmoid", "matmul"]
    assert all(s.local is None for s in route.steps[1:])
    np.testing.assert_allclose(route.contribution, w.grad)
    text = str(e)
    assert "the gradient arriving along this path:" in text
    assert "matmul #" in text and "input y: dy = x^T @ g" in text


def test_explain_of_an_unrelated_leaf_says_zero():
    _, _, c = shared_square()
    other = al.tensor(1.0, requires_grad=True, name="z")
    e = viz.explain(c, other)
    assert e.n_paths == 0 and e.total == 0.0
    assert str(e).startswith("c does not depend on z: no path leads back to it, so d(c)/d(z) = 0.")


def test_explain_needs_values_or_a_record_and_a_leaf_that_requires_grad():
    w = al.tensor([1.0, 2.0], requires_grad=True)
    loss = (w * w).sum()
    with pytest.raises(ValueError, match="does not require grad"):
        viz.explain(loss, al.tensor(1.0))
    loss.backward()
    with pytest.raises(RuntimeError, match=r"with viz.watch\(\):.*retain_graph=True"):
        viz.explain(loss, w)


def test_explain_notices_a_grad_accumulated_over_two_backward_calls():
    a, _, c = shared_square()
    c.backward(retain_graph=True)
    assert str(viz.explain(c, a)).endswith(
        "a.grad: 48  (differs: .grad holds the sum over every backward() call so far; reset it "
        "(w.grad = None, optimizer.zero_grad()) before the backward() you want explained)"
    )


UNARY = (al.sin, al.tanh, al.sigmoid, lambda t: t * t, lambda t: ops.exp(al.tanh(t)))
BINARY = (ops.add, ops.sub, ops.mul)
SHAPES = ((), (3,), (2, 3))


@st.composite
def compositions(draw):
    """A few leaves of broadcastable shapes and up to 7 ops on randomly chosen earlier results
    (the same one twice, too: shared subexpressions), summed into a scalar."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    leaves = [
        al.tensor(rng.uniform(-1.5, 1.5, size=draw(st.sampled_from(SHAPES))), requires_grad=True)
        for _ in range(draw(st.integers(1, 3)))
    ]
    values = list(leaves)
    for _ in range(draw(st.integers(1, 7))):
        if draw(st.booleans()):
            op = draw(st.sampled_from(UNARY))
            values.append(op(values[draw(st.integers(0, len(values) - 1))]))
        else:
            op = draw(st.sampled_from(BINARY))
            i, j = (draw(st.integers(0, len(values) - 1)) for _ in range(2))
            values.append(op(values[i], values[j]))
    return leaves, values[-1].sum()


@given(compositions())
def test_explain_paths_add_up_to_the_gradient_backward_computes(case):
    leaves, root = case
    root.backward(retain_graph=True)
    for leaf in leaves:
        e = viz.explain(root, leaf, max_paths=10_000)
        assert len(e.routes) == e.n_paths
        if e.n_paths == 0:
            assert leaf.grad is None and not np.any(e.total)
            continue
        path_sum = sum(route.contribution for route in e.routes)
        np.testing.assert_allclose(path_sum, leaf.grad, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(e.total, leaf.grad, rtol=1e-12, atol=1e-15)
        for route in e.routes:
            if route.scalar:  # one-element all along: the contribution is a product of numbers
                assert math.prod(s.local for s in route.steps) == pytest.approx(
                    float(route.contribution), rel=1e-9, abs=1e-12
                )


# ---------------------------------------------------------------- no graphviz
def test_explain_and_print_tape_work_without_graphviz(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "graphviz", None)  # `import graphviz` now fails
    with al.Tape() as tape:
        a, _, c = shared_square()
    print(tape)
    print(viz.explain(c, a))
    out = capsys.readouterr().out
    assert "Tape with 2 ops" in out and "a.grad: 24  (matches)" in out
    with pytest.raises(ImportError, match="pip install graphviz"):
        viz.draw(c)
