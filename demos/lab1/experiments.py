"""The lab's experiments: each varies one thing of the report's network, over several seeds
and both data sets, and sums the runs up as mean +- std and min."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .datasets import DATASETS, XOR_LINEAR_BOUND, Seeds, load
from .train import RunConfig, accuracy, build_model, predict, train


@dataclass(frozen=True)
class Row:
    """One line of an experiment's table: a label and the configuration it trains."""

    label: str
    config: RunConfig


@dataclass(frozen=True)
class Experiment:
    """One table of the report: `name` keys it in results.json, `question` says what is held
    fixed and how long each run trains."""

    name: str
    title: str
    question: str
    rows: tuple[Row, ...]

    @property
    def epochs(self) -> int:
        return max(row.config.epochs for row in self.rows)


@dataclass(frozen=True)
class Budget:
    """Epochs per run of each kind of experiment. The full budgets keep the whole default run
    within about 3 minutes on 2 cores; --quick divides them by 10."""

    learning_rate: int = 20_000
    ablation: int = 10_000
    optimizer: int = 6_000
    no_activation: int = 5_000

    def scaled(self, factor: float) -> Budget:
        return Budget(*(max(1, round(v * factor)) for v in vars(self).values()))


ABLATION_LR = 1.0
"""The ablations train at lr 1, the fastest rate of the sweep that still reaches 100% on every
seed: the report's lr 0.1 needs about 10x the epochs for the same result."""


def experiments(budget: Budget) -> list[Experiment]:
    """Every experiment of the lab, each row a RunConfig differing from the report's network
    in the one thing the experiment varies."""
    base = RunConfig(lr=ABLATION_LR, epochs=budget.ablation)
    linear = RunConfig(activation=None, epochs=budget.no_activation)
    return [
        Experiment(
            "learning_rate",
            "Learning rate",
            f"The report's network with gradient descent, {budget.learning_rate} epochs.",
            tuple(
                Row(f"lr {lr:g}", RunConfig(lr=lr, epochs=budget.learning_rate))
                for lr in (1.0, 0.5, 0.1, 0.01, 0.001)
            ),
        ),
        Experiment(
            "hidden_size",
            "Hidden units per layer",
            f"2-h-h-1, sigmoid, lr {ABLATION_LR:g}, {budget.ablation} epochs. With h = 1 every "
            "layer after the first is a monotone function of one projection w.x + b, so the "
            "network is a linear classifier.",
            tuple(Row(f"h = {h}", replace(base, hidden=(h, h))) for h in (1, 2, 4, 8, 16, 32)),
        ),
        Experiment(
            "no_activation",
            "Without activation functions",
            f"2-4-4-1 with no hidden activation, {budget.no_activation} epochs: fully linear "
            "(the output is an affine function of x), or linear with a sigmoid on the output. "
            "The rates include the report's 0.3.",
            tuple(
                Row(f"{kind}, lr {lr:g}", replace(linear, lr=lr, output_activation=out))
                for kind, out in (("fully linear", None), ("sigmoid output", "sigmoid"))
                for lr in (1.0, 0.3, 0.1, 0.01)
            ),
        ),
        Experiment(
            "activation",
            "Activation functions",
            f"Hidden activation varied, sigmoid output, lr {ABLATION_LR:g}, {budget.ablation} "
            "epochs; each with the initialization made for it (N(0, 1) is the report's).",
            (
                Row("sigmoid, N(0, 1)", base),
                Row("tanh, Xavier", replace(base, activation="tanh", init="xavier_normal")),
                Row("ReLU, Kaiming", replace(base, activation="relu", init="kaiming_normal")),
                Row(
                    "leaky ReLU, Kaiming",
                    replace(base, activation="leaky_relu", init="kaiming_normal"),
                ),
            ),
        ),
        Experiment(
            "optimizer",
            "Optimizers",
            f"The report's network, every optimizer at the report's lr 0.1, {budget.optimizer} "
            "epochs (momentum 0.9; the adaptive ones with torch's other defaults). A row can "
            "reach 100% and end lower: RMSprop divides each step by the gradient's running "
            "RMS, so its steps stay near lr even as the gradient vanishes, and at lr 0.1 they "
            "can carry it out of a solution it found.",
            tuple(
                Row(name, replace(base, optimizer=key, lr=0.1, epochs=budget.optimizer))
                for key, name in (
                    ("gd", "GD"),
                    ("momentum", "momentum"),
                    ("adagrad", "Adagrad"),
                    ("rmsprop", "RMSprop"),
                    ("adam", "Adam"),
                )
            ),
        ),
        Experiment(
            "convolution",
            "A convolutional first layer",
            f"The point as a 1-channel signal of length 2 through Conv1d(1, 4, k), then "
            f"sigmoid and the 4-1 or 8-4-1 rest of the network; lr {ABLATION_LR:g}, "
            f"{budget.ablation} epochs. k = 2 covers the signal (a Linear(2, 4) in disguise); "
            "k = 1 shares one weight pair between x1 and x2.",
            (
                Row("MLP 2-4-4-1", base),
                Row("Conv1d k = 2", replace(base, conv_kernel=2)),
                Row("Conv1d k = 1", replace(base, conv_kernel=1)),
            ),
        ),
    ]


@dataclass(frozen=True)
class Job:
    """One training run: a configuration on a data set with its seeds."""

    config: RunConfig
    dataset: str
    seeds: Seeds


def seeds_for(n_seeds: int, base: Seeds) -> list[Seeds]:
    """Run i of every row trains on the same data (base.data) from init seed base.init + i
    and shuffle seed base.shuffle + i: rows differ only in what the experiment varies."""
    return [Seeds(base.data, base.init + i, base.shuffle + i) for i in range(n_seeds)]


def run_job(job: Job) -> dict[str, Any]:
    """Train one network and return what it measured (JSON-ready; NaN and inf become None)."""
    start = time.perf_counter()
    data = load(job.dataset, job.seeds.data)
    model = build_model(job.config, job.seeds.init)
    history = train(model, data, job.config, job.seeds)
    diverged = history.diverged_at is not None
    result = {
        "seeds": job.seeds.as_dict(),
        "accuracy": None if diverged else accuracy(predict(model, data.x), data.y),
        "final_loss": None if diverged else history.final_loss,
        "epochs_to_100": history.first_perfect,
        "diverged_at": history.diverged_at,
        "test_accuracy": None,
        "curve_epochs": history.curve_epochs,
        "curve": [v if np.isfinite(v) else None for v in history.curve],
        "seconds": time.perf_counter() - start,
    }
    if data.x_test is not None and not diverged:
        result["test_accuracy"] = accuracy(predict(model, data.x_test), data.y_test)
    return result


def plan(exps: Iterable[Experiment], seeds: list[Seeds]) -> list[Job]:
    """Every (row, data set, seed) of `exps` once (a row shared by two experiments, such as
    the report's network, is trained once), the longest runs first, so that no long run
    starts last while the other processes idle."""
    todo = dict.fromkeys(
        Job(row.config, name, s) for e in exps for row in e.rows for name in DATASETS for s in seeds
    )
    return sorted(todo, key=lambda job: -job.config.epochs)


def run_all(
    todo: list[Job], jobs: int = 1, on_done: Callable[[], None] | None = None
) -> dict[Job, dict[str, Any]]:
    """Run the jobs on `jobs` processes. The results do not depend on `jobs`: every run draws
    from its own seeds only."""
    results = {}
    if jobs <= 1 or len(todo) <= 1:
        for job in todo:
            results[job] = run_job(job)
            if on_done is not None:
                on_done()
        return results
    with ProcessPoolExecutor(min(jobs, len(todo))) as pool:
        futures = {pool.submit(run_job, job): job for job in todo}
        for future in as_completed(futures):
            results[futures[future]] = future.result()
            if on_done is not None:
                on_done()
    return results


def default_jobs() -> int:
    """The processes to use: the CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _stats(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    a = np.asarray(values, dtype=np.float64)
    std = float(a.std(ddof=1)) if len(a) > 1 else 0.0
    return {"mean": float(a.mean()), "std": std, "min": float(a.min()), "max": float(a.max())}


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean, sample std (ddof 1), min and max over the seeds that did not diverge; how many
    reached 100% training accuracy and the epochs they took; how many diverged."""
    alive = [r for r in runs if r["diverged_at"] is None]
    reached = [r["epochs_to_100"] for r in runs if r["epochs_to_100"] is not None]
    tests = [r["test_accuracy"] for r in alive if r["test_accuracy"] is not None]
    return {
        "seeds": len(runs),
        "accuracy": _stats([r["accuracy"] for r in alive]),
        "final_loss": _stats([r["final_loss"] for r in alive]),
        "test_accuracy": _stats(tests),
        "reached_100": len(reached),
        "epochs_to_100": _stats(reached),
        "diverged": len(runs) - len(alive),
        "diverged_at": _stats([r["diverged_at"] for r in runs if r["diverged_at"] is not None]),
    }


def collect(
    exps: Iterable[Experiment], seeds: list[Seeds], results: dict[Job, dict[str, Any]]
) -> dict[str, Any]:
    """The results.json 'experiments' section: per experiment, per row, per data set, every
    run and their summary."""
    out = {}
    for e in exps:
        rows = []
        for row in e.rows:
            per_set = {}
            for name in DATASETS:
                runs = [results[Job(row.config, name, s)] for s in seeds]
                per_set[name] = {"summary": summarize(runs), "runs": runs}
            rows.append(
                {
                    "label": row.label,
                    "config": row.config.as_dict(),
                    "linear_classifier": row.config.is_linear_classifier,
                    "datasets": per_set,
                }
            )
        out[e.name] = {"title": e.title, "question": e.question, "epochs": e.epochs, "rows": rows}
    return out


def sanity_checks(default: dict[str, Any], experiments: dict[str, Any]) -> list[dict[str, Any]]:
    """The checks a correct engine must pass: no linear classifier beats 16/21 on XOR-easy
    (a higher number means a bug), and the report's network reaches 100% on both sets."""
    checks = []
    for name, e in experiments.items():
        for row in e["rows"]:
            if not row["linear_classifier"]:
                continue
            best = row["datasets"]["xor_easy"]["summary"]["accuracy"]
            value = None if best is None else best["max"]
            checks.append(
                {
                    "check": f"{name} / {row['label']}: linear classifier on XOR-easy "
                    f"<= 16/21 = {XOR_LINEAR_BOUND:.2%}",
                    "value": value,
                    "ok": value is None or value <= XOR_LINEAR_BOUND + 1e-12,
                }
            )
    for name, run in default.items():
        checks.append(
            {
                "check": f"default run / {name}: the report's network reaches 100%",
                "value": run["accuracy"],
                "ok": run["accuracy"] == 1.0,
            }
        )
    return checks
