"""The figures: the lab's ground truth vs prediction plot, learning curves, decision
boundaries, one loss-curve figure per experiment, and the backward graph (autograd_lite.viz)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import nn
from autograd_lite import viz

from .datasets import Dataset
from .train import half_squared_error, predict

RED, BLUE = "#d62728", "#1f77b4"
"""Label 0 red, label 1 blue, as in the lab's figures."""


def _points(ax: Any, x: np.ndarray, labels: np.ndarray, title: str) -> None:
    ones = labels.ravel() > 0.5
    edge = {"edgecolors": "k", "linewidths": 0.5}  # visible over a same-colored background
    ax.scatter(x[~ones, 0], x[~ones, 1], c=RED, s=22, label="0", **edge)
    ax.scatter(x[ones, 0], x[ones, 1], c=BLUE, s=22, label="1", **edge)
    ax.set_title(title)
    ax.set_xlim(-0.05, 1.05)
    ax.set_ylim(-0.05, 1.05)
    ax.set_aspect("equal")
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")


def result(data: Dataset, prediction: np.ndarray, path: Path) -> Path:
    """The lab's figure: ground truth and the rounded prediction side by side."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 4), layout="constrained")
    _points(left, data.x, data.y, "Ground truth")
    _points(right, data.x, prediction > 0.5, "Predict result")
    right.legend(title="label", loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.suptitle(data.name)
    return _save(fig, path)


def learning_curves(
    losses: dict[str, np.ndarray], first_perfect: dict[str, int | None], path: Path
) -> Path:
    """The loss of every epoch, one line per data set, on a log scale; a dot where the
    training accuracy first reached 100%."""
    fig, ax = plt.subplots(figsize=(6.5, 4), layout="constrained")
    for name, values in losses.items():
        (line,) = ax.plot(np.arange(len(values)), values, label=name)
        first = first_perfect.get(name)
        if first is not None:
            ax.plot(first, values[first], "o", color=line.get_color())
            ax.annotate(
                f"100% at epoch {first}",
                (first, values[first]),
                textcoords="offset points",
                xytext=(6, 6),
                color=line.get_color(),
            )
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss  1/(2m) Σ (p - y)²")
    ax.set_title("Learning curves of the report's network")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return _save(fig, path)


def decision_boundaries(fitted: dict[str, tuple[nn.Module, Dataset]], path: Path) -> Path:
    """The network's output over the unit square (red near 0, blue near 1), its 0.5 contour
    (the decision boundary) and the training points."""
    fig, axes = plt.subplots(
        1, len(fitted), figsize=(4.4 * len(fitted) + 1.2, 4.4), squeeze=False, layout="constrained"
    )
    grid = np.linspace(0.0, 1.0, 201)
    g1, g2 = np.meshgrid(grid, grid)
    points = np.column_stack([g1.ravel(), g2.ravel()])
    for ax, (name, (model, data)) in zip(axes[0], fitted.items()):
        p = predict(model, points).reshape(g1.shape)
        image = ax.contourf(g1, g2, p, levels=np.linspace(0, 1, 21), cmap="RdBu", alpha=0.75)
        ax.contour(g1, g2, p, levels=[0.5], colors="k", linewidths=1.5)
        _points(ax, data.x, data.y, name)
    fig.colorbar(image, ax=axes[0].tolist(), label="network output p")
    fig.suptitle("The trained network's output, and its decision boundary p = 0.5 (black)")
    return _save(fig, path)


def experiment(experiment: dict[str, Any], path: Path) -> Path:
    """One panel per data set, one line per row: the median loss over the seeds that did not
    diverge, against the epoch on a log scale (the rows reach 100% anywhere from tens to
    tens of thousands of epochs). A row whose runs all diverged shows its first run, going
    off the top of the panel."""
    sets = list(experiment["rows"][0]["datasets"])
    fig, axes = plt.subplots(1, len(sets), figsize=(11, 4), layout="constrained", squeeze=False)
    for ax, data in zip(axes[0], sets):
        low, high = np.inf, 0.0
        for row in experiment["rows"]:
            runs = row["datasets"][data]["runs"]
            alive = [r for r in runs if r["diverged_at"] is None]
            label = row["label"] if alive else f"{row['label']} (diverged)"
            shown = alive or runs[:1]
            curves = np.array([[np.inf if v is None else v for v in r["curve"]] for r in shown])
            curve = np.median(curves, axis=0)
            if alive:
                low, high = min(low, float(curve.min())), max(high, float(curve.max()))
            ax.plot(np.asarray(shown[0]["curve_epochs"]) + 1, curve, label=label)
        ax.set_xscale("log")
        ax.set_yscale("log")
        if 0 < low <= high < np.inf:
            ax.set_ylim(low / 3, high * 3)
        ax.set_title(data)
        ax.set_xlabel("epoch + 1")
        ax.set_ylabel("loss (median over seeds)")
        ax.grid(True, which="both", alpha=0.3)
    axes[0, -1].legend(fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.suptitle(experiment["title"])
    return _save(fig, path)


def backward_graph(model: nn.Module, data: Dataset, path: Path, fmt: str) -> Path:
    """The backward graph of one full-batch loss of the trained `model`, drawn by
    autograd_lite.viz with each parameter's name and gradient. Raises
    viz.RendererNotFoundError (with the DOT source saved) when graphviz cannot render, and
    ImportError without the graphviz package."""
    loss = half_squared_error(model(data.x), data.y)
    loss.backward(retain_graph=True)
    graph = viz.draw(loss, params=dict(model.named_parameters()), module=model)
    return viz.render(graph, path, format=fmt)


def _save(fig: Any, path: Path) -> Path:
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
