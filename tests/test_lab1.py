"""The lab reproduced (demos.lab1): the data sets, one run, and the whole pipeline in --quick."""

from __future__ import annotations

import itertools
import json
import re

import numpy as np
import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("tqdm")

from demos.lab1 import experiments as ex
from demos.lab1.__main__ import main, parse_args
from demos.lab1.datasets import (
    XOR_LINEAR_BOUND,
    Seeds,
    generate_linear,
    generate_xor_easy,
    load,
)
from demos.lab1.train import (
    RunConfig,
    build_model,
    half_squared_error,
    predict,
    train,
)

# ---------------------------------------------------------------- data


def test_generate_linear_labels_points_by_the_diagonal():
    x, y = generate_linear(100, rng=3)
    assert x.shape == (100, 2) and y.shape == (100, 1)
    assert x.min() >= 0 and x.max() < 1
    np.testing.assert_array_equal(y.ravel(), (x[:, 0] <= x[:, 1]).astype(float))
    np.testing.assert_array_equal(generate_linear(100, rng=3)[0], x)
    assert not np.array_equal(generate_linear(100, rng=4)[0], x)


def test_generate_xor_easy_is_the_courses_21_interleaved_points():
    x, y = generate_xor_easy()
    assert x.shape == (21, 2) and y.shape == (21, 1)
    np.testing.assert_allclose(x[:4], [[0, 0], [0, 1], [0.1, 0.1], [0.1, 0.9]])
    np.testing.assert_array_equal(y[:4].ravel(), [0, 1, 0, 1])
    np.testing.assert_allclose(x[10:12], [[0.5, 0.5], [0.6, 0.6]])  # no (0.5, 1 - 0.5)
    assert y.sum() == 10
    np.testing.assert_allclose(x[y.ravel() == 0, 0], x[y.ravel() == 0, 1])
    np.testing.assert_allclose(x[y.ravel() == 1].sum(axis=1), 1.0)


def _best_half_plane(x: np.ndarray, y: np.ndarray) -> float:
    """The best accuracy of any half-plane: every split a line can make is made by a line
    through two of the points, turned slightly one way or the other."""
    labels = y.ravel() > 0.5
    best = 0.0
    for i, j in itertools.combinations(range(len(x)), 2):
        dx, dy = x[j] - x[i]
        for angle in (-1e-6, 0.0, 1e-6):
            c, s = np.cos(angle), np.sin(angle)
            normal = np.array([-dy * c - dx * s, dx * c - dy * s])
            proj = np.sort(x @ normal)
            cuts = np.concatenate([[proj[0] - 1], (proj[1:] + proj[:-1]) / 2, [proj[-1] + 1]])
            for t in cuts:
                acc = np.mean((x @ normal > t) == labels)
                best = max(best, acc, 1 - acc)
    return best


def test_no_line_beats_16_of_21_on_xor_easy():
    assert _best_half_plane(*generate_xor_easy()) == pytest.approx(XOR_LINEAR_BOUND)


def test_the_linear_set_comes_with_a_fresh_test_set():
    data = load("linear", 0)
    assert data.x_test.shape == (1000, 2)
    assert not np.isin(data.x_test, data.x).all(axis=1).any()
    assert load("xor_easy", 0).x_test is None
    with pytest.raises(ValueError, match="unknown data set 'moons'"):
        load("moons", 0)


# ---------------------------------------------------------------- one run


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def test_gradients_are_the_reports_hand_written_backprop():
    """The loss 1/(2m) sum (p - y)^2 gives exactly the report's deltas, divided by m."""
    data = load("linear", 1)
    model = build_model(RunConfig(), init_seed=2)
    loss = half_squared_error(model(data.x), data.y)
    loss.backward()
    (w1, b1), (w2, b2), (w3, b3) = ((L.weight.data.T, L.bias.data) for L in model.layers)
    a1 = _sigmoid(data.x @ w1 + b1)
    a2 = _sigmoid(a1 @ w2 + b2)
    a3 = _sigmoid(a2 @ w3 + b3)
    m = len(data.x)
    d3 = (a3 - data.y) * a3 * (1 - a3)
    d2 = (d3 @ w3.T) * a2 * (1 - a2)
    d1 = (d2 @ w2.T) * a1 * (1 - a1)
    expected = [data.x.T @ d1 / m, d1.sum(0) / m, a1.T @ d2 / m, d2.sum(0) / m]
    expected += [a2.T @ d3 / m, d3.sum(0) / m]
    grads = [g for L in model.layers for g in (L.weight.grad.T, L.bias.grad)]
    for got, want in zip(grads, expected):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-14)


def test_reports_network_starts_from_normal_weights_and_zero_biases():
    model = build_model(RunConfig(), init_seed=0)
    weights = np.concatenate([L.weight.data.ravel() for L in model.layers])
    assert all(not L.bias.data.any() for L in model.layers)
    assert weights.std() > 0.5  # N(0, 1), not torch's U(-1/sqrt(in), 1/sqrt(in))


def test_conv_with_a_kernel_covering_the_signal_is_a_linear_layer():
    conv = build_model(RunConfig(conv_kernel=2), init_seed=5)
    mlp = build_model(RunConfig(), init_seed=5)
    mlp.layers[0].weight.data[...] = conv.conv.weight.data.reshape(4, 2)
    mlp.layers[0].bias.data[...] = conv.conv.bias.data
    for a, b in zip(mlp.layers[1:], conv.mlp.layers):
        a.weight.data[...], a.bias.data[...] = b.weight.data, b.bias.data
    x = load("linear", 0).x
    np.testing.assert_allclose(predict(conv, x), predict(mlp, x), rtol=1e-12)


def test_linear_classifiers_are_recognized():
    assert RunConfig(activation=None).is_linear_classifier
    assert RunConfig(hidden=(1, 1)).is_linear_classifier
    assert not RunConfig().is_linear_classifier
    assert RunConfig(hidden=(1, 4), conv_kernel=2).is_linear_classifier
    assert not RunConfig(hidden=(1, 4), conv_kernel=1).is_linear_classifier
    with pytest.raises(ValueError, match="optimizer must be one of"):
        RunConfig(optimizer="lbfgs")


def test_a_run_depends_only_on_its_seeds():
    data = load("xor_easy", 0)
    config = RunConfig(lr=1.0, epochs=30, batch_size=5)

    def losses(seeds):
        return train(build_model(config, seeds.init), data, config, seeds).losses

    np.testing.assert_array_equal(losses(Seeds(0, 1, 2)), losses(Seeds(0, 1, 2)))
    assert not np.array_equal(losses(Seeds(0, 1, 2)), losses(Seeds(0, 1, 3)))  # batch order
    assert not np.array_equal(losses(Seeds(0, 1, 2)), losses(Seeds(0, 2, 2)))  # weights


def test_overflow_ends_a_run_and_is_reported_as_divergence():
    job = ex.Job(
        RunConfig(activation=None, output_activation=None, lr=1.0, epochs=200),
        "linear",
        Seeds(0, 0, 0),
    )
    result = ex.run_job(job)
    assert result["diverged_at"] is not None and result["diverged_at"] < 50
    assert result["accuracy"] is None and result["final_loss"] is None
    assert result["curve"][-1] is None


def test_results_do_not_depend_on_the_number_of_processes():
    rows = (ex.Row("a", RunConfig(lr=1.0, epochs=40)), ex.Row("b", RunConfig(epochs=20)))
    exp = [ex.Experiment("tiny", "Tiny", "", rows)]
    todo = ex.plan(exp, ex.seeds_for(2, Seeds(0, 0, 0)))
    assert len(todo) == 2 * 2 * 2
    one, two = ex.run_all(todo, jobs=1), ex.run_all(todo, jobs=2)
    for job in todo:
        assert one[job]["curve"] == two[job]["curve"]


# ---------------------------------------------------------------- the command


def test_help_documents_every_option(capsys):
    with pytest.raises(SystemExit):
        parse_args(["--help"])
    text = capsys.readouterr().out
    for option in (
        "--out",
        "--quick",
        "--epochs",
        "--lr",
        "--batch-size",
        "--log-every",
        "--data-seed",
        "--init-seed",
        "--shuffle-seed",
        "--seeds",
        "--experiments",
        "--jobs",
        "--graph-format",
        "--no-progress",
    ):
        assert option in text
    with pytest.raises(SystemExit):
        parse_args(["--experiments", "dropout"])


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("lab1")
    import contextlib
    import io

    console = io.StringIO()
    with contextlib.redirect_stdout(console):
        code = main(["--quick", "--out", str(out), "--no-progress", "--jobs", "2"])
    return code, out, console.getvalue()


def test_quick_run_passes_its_sanity_checks(quick_run):
    code, out, console = quick_run
    results = json.loads((out / "results.json").read_text())
    assert code == 0
    assert results["sanity"] and all(c["ok"] for c in results["sanity"])
    for name in ("linear", "xor_easy"):
        assert results["default_run"]["datasets"][name]["accuracy"] == 1.0
    for e in results["experiments"].values():
        for row in e["rows"]:
            best = row["datasets"]["xor_easy"]["summary"]["accuracy"]
            if row["linear_classifier"] and best is not None:
                assert best["max"] <= XOR_LINEAR_BOUND + 1e-12
    assert "[FAIL]" not in console


def test_quick_run_prints_the_labs_console_format(quick_run):
    _, _, console = quick_run
    samples = re.findall(
        r"^Iter (\d+) \| Ground truth: ([01]) \| prediction: (\d\.\d{5}) \|$", console, re.MULTILINE
    )
    assert len(samples) == 100 + 21
    assert re.search(r"^epoch +0 loss : \d\.\d{6}$", console, re.MULTILINE)
    assert console.count("accuracy=100.00%") == 2


def test_quick_run_writes_every_table_figure_and_seed(quick_run):
    _, out, _ = quick_run
    results = json.loads((out / "results.json").read_text())  # strict JSON: no NaN
    report = (out / "report.md").read_text()
    names = {
        "learning_rate",
        "hidden_size",
        "no_activation",
        "activation",
        "optimizer",
        "convolution",
    }
    assert set(results["experiments"]) == names
    assert results["default_run"]["seeds"] == {"data": 0, "init": 0, "shuffle": 0}
    for e in results["experiments"].values():
        assert f"### {e['title']}" in report
        for row in e["rows"]:
            for d in row["datasets"].values():
                assert [r["seeds"]["init"] for r in d["runs"]] == [0, 1]
    for key, name in results["figures"].items():
        assert (out / name).stat().st_size > 0, key
        assert f"]({name})" in report
    assert {"result_linear", "learning_curves", "decision_boundary"} <= results["figures"].keys()
    assert "backward_graph" in results["figures"] or results["graph_note"]
    assert "What the original report got, and why" in report


def test_quick_run_writes_and_links_the_explorer_pages(quick_run):
    _, out, _ = quick_run
    results = json.loads((out / "results.json").read_text())
    report = (out / "report.md").read_text()
    pages = results["explorers"]
    assert [p["file"] for p in pages] == ["explorer_mlp.html", "explorer_conv.html"] or (
        not pages and results["explorer_note"] in report
    )
    for page in pages:
        assert (out / page["file"]).read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
        assert f"[{page['title']}]({page['file']})" in report
