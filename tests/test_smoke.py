"""The README's examples, run as written."""

import re
from pathlib import Path

import numpy as np
import pytest

from autograd_lite import engine

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def _example(heading: str) -> str:
    return re.search(rf"## {re.escape(heading)}\n.*?```python\n(.*?)```", README, re.S).group(1)


def _run(*headings: str) -> dict:
    namespace: dict = {}
    for heading in headings:
        exec(compile(_example(heading), f"README.md ({heading})", "exec"), namespace)
    return namespace


def test_ten_line_example_matches_hand_derived_gradient(capsys):
    ns = _run("Ten lines")
    x, W, b, y = (ns[k].data for k in ("x", "W", "b", "y"))
    p = 1 / (1 + np.exp(-(x @ W + b)))
    delta = 2 * (p - y) * p * (1 - p) / y.size  # d mean((p-y)^2) / d(pre-activation)
    np.testing.assert_allclose(ns["W"].grad, x.T @ delta, rtol=1e-12)
    np.testing.assert_allclose(ns["b"].grad, delta.sum(axis=0), rtol=1e-12)
    assert capsys.readouterr().out.strip()


def test_lab_network_trains_and_its_graph_is_drawn_and_explained(tmp_path, monkeypatch, capsys):
    pytest.importorskip("graphviz")
    monkeypatch.chdir(tmp_path)
    try:
        ns = _run("The lab network with `nn`", "Seeing the backward pass")
    except Exception as exc:  # only a missing renderer may stop the drawing example
        if type(exc).__name__ != "RendererNotFoundError":
            raise
        pytest.skip("no Graphviz renderer installed")
    out = capsys.readouterr().out
    assert "accuracy 100%" in out
    assert "(matches)" in out  # explain's path sum equals .grad
    assert "(viz.watch: matches the sum)" in out  # and what the plain backward() sent
    assert (tmp_path / "lab_backward.svg").read_text().lstrip().startswith(("<?xml", "<svg"))
    assert "<svg" in (tmp_path / "lab_backward.html").read_text()  # the SVG inlined
    assert ns["loss"].item() < 0.01


def test_replay_example_trains_the_lab_network_as_eager_does(capsys):
    ns = _run("The lab network with `nn`", "Speed")
    assert "def replay(" in capsys.readouterr().out  # step.source, printed
    eager = _run("The lab network with `nn`")  # then the same 2000 more epochs, eagerly:
    for _ in range(2000):
        eager["optimizer"].zero_grad()
        eager["nn"].MSELoss()(eager["model"](eager["X"]), eager["Y"]).backward()
        eager["optimizer"].step()
    for (name, p), q in zip(ns["model"].named_parameters(), eager["model"].parameters()):
        np.testing.assert_allclose(p.data, q.data, rtol=0, atol=1e-12, err_msg=name)


def test_verify_your_own_op_example_passes_and_registers_the_op(monkeypatch):
    monkeypatch.setattr(engine, "REGISTRY", dict(engine.REGISTRY))
    _run("Verifying gradients: ours, and yours")
    assert "swish" in engine.REGISTRY


def test_the_engine_example_is_the_real_sigmoid():
    from autograd_lite.ops import elementwise

    source = Path(elementwise.__file__).read_text()
    assert _example("How the engine works") in source  # the README shows the code, not a copy
