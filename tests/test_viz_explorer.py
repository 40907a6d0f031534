"""viz.html, the explorer page, read as a file: self-contained, one snapshot per recorded pass
keyed by the drawing's ids, and the numbers of each pass as backward() sent them.
(tests/test_explorer_browser.py opens it in Chromium.)"""

from __future__ import annotations

import html as markup
import importlib.util
import json
import re

import pytest
from dot_reading import parse

import autograd_lite as al
from autograd_lite import viz
from autograd_lite.viz import drawing
from demos import explorer
from demos.lab1.datasets import load

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("graphviz") is None or viz.find_renderer() is None,
    reason="the explorer page needs the graphviz package and a renderer",
)
EPOCHS = (0, 10, 300)


def passes_in(page: str) -> list[dict]:
    """The page's JSON: what it shows of each pass, in slider order."""
    data = re.search(r'<script type="application/json" id="explorer-data">(.*?)</script>', page)
    return json.loads(data.group(1))


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """The lab network's page at three epochs, its snapshots and its text."""
    snapshots = explorer.record(explorer.NETWORKS["mlp"], load("linear", 0), EPOCHS)
    path = viz.html(snapshots, tmp_path_factory.mktemp("explorer") / "lab.html")
    page = path.read_text(encoding="utf-8")
    return snapshots, page, passes_in(page)


def test_the_page_names_no_url_but_the_svg_namespaces(lab):
    _, page, _ = lab
    namespaces = (
        'xmlns="http://www.w3.org/2000/svg"',
        'xmlns:xlink="http://www.w3.org/1999/xlink"',
    )
    rest = page
    for declaration in namespaces:
        assert rest.count(declaration) == 1
        rest = rest.replace(declaration, "")
    assert "http" not in rest and "://" not in rest
    assert not re.search(r"""(src|href)\s*=|url\(|@import|["'(=]\s*//""", rest)
    assert "<!DOCTYPE svg" not in page and "<title>" in page  # the page's own title, only
    assert page.count("<title>") == 1


def test_there_is_one_snapshot_per_recorded_pass_in_order(lab):
    _, page, passes = lab
    assert [p["label"] for p in passes] == [f"epoch {e}" for e in EPOCHS]
    assert all(p["note"].startswith("training accuracy ") for p in passes)
    losses = [float(p["value"]) for p in passes]
    assert passes[0]["root"] == "loss" and losses == sorted(losses, reverse=True)
    ticks = re.findall(r'<button data-pass="(\d)" style="left:([\d.]+)%">([^<]+)</button>', page)
    assert ticks == [("0", "0", "epoch 0"), ("1", "50", "epoch 10"), ("2", "100", "epoch 300")]
    cells = re.findall(r'class="cell" style="background:(#\w+);color:(\w+)">([^<]+)<', page)
    assert [(t, fill, font) for fill, font, t in cells] == [
        (markup.escape(t), fill, font) for t, fill, font in drawing.legend()
    ]


def test_node_and_edge_ids_are_the_drawings(lab):
    snapshots, page, passes = lab
    nodes, edges, _ = parse(snapshots[0].drawing)
    drawn = set(nodes)
    assert "legend" not in drawn  # the page shows its own
    svg_ids = set(re.findall(r'<g id="([^"]+)" class="(?:node|edge)"', page))
    for p in passes:
        assert set(p["nodes"]) == drawn
        assert set(p["edges"]) <= svg_ids and set(p["nodes"]) <= svg_ids
    # every edge of the drawing has its id; those that carry a gradient are in the payload
    assert {e["id"] for _, _, e in edges} == {i for i in svg_ids if i.startswith("e")}
    assert all(i.startswith("e") for i in passes[0]["edges"])
    lines = {n: attrs["lines"] for n, attrs in nodes.items()}
    assert {n: node["lines"] for n, node in passes[0]["nodes"].items()} == lines


def test_each_pass_carries_what_its_backward_sent(lab):
    _, _, passes = lab
    weight = next(j for j, leaf in passes[0]["leaves"].items() if leaf["name"] == "layers.0.weight")
    for p in passes:
        leaf = p["leaves"][weight]
        # explain ran right after that pass's backward(): its check agrees with .grad then
        text = leaf["explain"]
        assert text.startswith("d(loss)/d(layers.0.weight) by the chain rule: 1 path")
        assert text.endswith("(matches)") and "viz.watch: matches the sum" in text
        rows = dict(p["nodes"][weight]["tip"]["rows"])
        assert rows["tensor"].startswith("a leaf that requires grad")
        # op 0 is the first linear, its input 1 the weight: the one use of it carries it all
        assert "e0_1" in leaf["ids"]
        carried = p["edges"]["e0_1"]
        sent = dict(carried["tip"]["rows"])["gradient"]
        assert sent == rows["d(loss)/d(layers.0.weight)"]
        assert carried["color"] == viz.grad_color(float(sent.split()[1]))
    first, last = passes[0]["edges"], passes[-1]["edges"]
    assert any(first[e]["color"] != last[e]["color"] for e in first)  # the slider recolors


def test_a_leafs_paths_are_the_chain_rule_paths():
    a = al.tensor(3.0, requires_grad=True, name="a")
    b = a + a
    c = b * b
    c.name = "c"
    c.backward(retain_graph=True)
    (only,) = viz.snapshot(c).data["leaves"].values()
    assert only["name"] == "a" and only["paths"] == 4
    # both uses of a, both of b, and the ops and outputs between
    assert sorted(only["ids"]) == sorted(
        ["leaf0", "t0", "op0", "e0", "e0_0", "e0_1", "t1", "op1", "e1", "e1_0", "e1_1"]
    )
    assert "sum of the 4 paths' contributions: 24" in only["explain"]


def test_a_root_makes_a_page_of_one_pass(tmp_path):
    w = al.tensor([1.0, -2.0], requires_grad=True, name="w")
    with viz.watch():
        loss = (w * w).sum()
        loss.backward()
    (only,) = passes_in(viz.html(loss, tmp_path / "one.html").read_text(encoding="utf-8"))
    assert only["leaves"]["leaf0"]["explain"].endswith("w.grad: [2, -4]  (matches)")
    # w * w: each use of w carries g * (the other use) = w; together 2w
    tip = only["edges"]["e0_0"]["tip"]
    assert tip["title"] == f"what mul #{loss._node.inputs[0].seq} sends its input x (w)"
    assert dict(tip["rows"])["gradient"] == "rms 1.58   max|.| 2"
    assert tip["rows"][-1] == ["", "[1, -2]"]


def test_what_cannot_be_shown_is_refused_with_a_reason(lab):
    snapshots, _, _ = lab
    w = al.tensor([1.0, 2.0], requires_grad=True)
    loss = (w * 3.0).sum()
    loss.backward()  # not watched: the values are gone
    with pytest.raises(
        ValueError, match="no gradients to show: run the forward and backward inside"
    ):
        viz.snapshot(loss)
    with viz.watch():
        other = w.tanh().sum()
        other.backward()
    with pytest.raises(ValueError, match="of another graph than 'epoch 0'"):
        viz.html([snapshots[0], viz.snapshot(other, "tanh")], "never.html")
    with pytest.raises(TypeError, match="a snapshot was named when it was taken"):
        viz.html(snapshots, "never.html", params={"w": w})


def test_the_demo_writes_one_page_per_network(tmp_path, capsys):
    written = explorer.main(["--quick", "--out", str(tmp_path)])
    assert {n: p.name for n, p in written.items()} == {
        "mlp": "explorer_mlp.html",
        "conv": "explorer_conv.html",
    }
    conv = passes_in(written["conv"].read_text(encoding="utf-8"))
    assert [p["label"] for p in conv] == ["epoch 0", "epoch 10", "epoch 100"]
    names = {leaf["name"] for leaf in conv[0]["leaves"].values()}
    assert {"conv.weight", "conv.bias", "mlp.layers.0.weight"} <= names
    assert "wrote" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        explorer.main(["--networks", "rnn"])


def test_explorer_help_lists_its_options(capsys):
    with pytest.raises(SystemExit):
        explorer.main(["--help"])
    text = capsys.readouterr().out
    for option in ("--out", "--epochs", "--networks", "--quick"):
        assert option in text
