"""python -m demos.lab1: the back-propagation lab reproduced end to end with autograd_lite.

Trains the report's 2-4-4-1 sigmoid network on both data sets (printing the lab's console
output), runs every experiment of the lab over several seeds, and writes report.md,
results.json and the figures to the output folder.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

import autograd_lite
from autograd_lite import viz
from demos import explorer

from . import experiments as ex
from . import figures, report
from .datasets import DATASETS, TEST_POINTS, Seeds, load
from .train import RunConfig, accuracy, build_model, predict, train

DEFINITIONS = {
    "linear": "uniform in [0, 1)², label 0 if x1 > x2 else 1",
    "xor_easy": "(t, t) labelled 0 and (t, 1 - t) labelled 1 for t = 0, 0.1, …, 1, "
    "without the second (0.5, 0.5)",
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    names = [e.name for e in ex.experiments(ex.Budget())]
    parser = argparse.ArgumentParser(
        prog="python -m demos.lab1",
        description="Reproduce the back-propagation lab with autograd_lite: the report's "
        "2-4-4-1 sigmoid network on the linear and XOR-easy sets, then every experiment of "
        "the lab over several seeds. Writes report.md, results.json and the figures.",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("runs/lab1"), help="output folder (default runs/lab1)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a reduced run for CI: experiment budgets / 10 and 2 seeds (the default run is "
        "unchanged); well under a minute",
    )
    parser.add_argument(
        "--epochs", type=int, default=50_000, help="epochs of the default run (default 50000)"
    )
    parser.add_argument(
        "--lr", type=float, default=0.1, help="learning rate of the default run (default 0.1)"
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="mini-batch size of the default run, batches shuffled from --shuffle-seed "
        "(default: the full batch, as in the report)",
    )
    parser.add_argument(
        "--log-every",
        type=int,
        default=None,
        help="print the loss every N epochs of the default run (default epochs / 10)",
    )
    parser.add_argument(
        "--data-seed", type=int, default=0, help="seed of the linear data set (default 0)"
    )
    parser.add_argument(
        "--init-seed",
        type=int,
        default=0,
        help="seed of the default run's weights; experiment seed i uses init-seed + i (default 0)",
    )
    parser.add_argument(
        "--shuffle-seed",
        type=int,
        default=0,
        help="seed of the mini-batch order (only used with --batch-size); experiment seed i "
        "uses shuffle-seed + i (default 0)",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        default=None,
        help="initialization seeds per experiment setting (default 5, 2 with --quick)",
    )
    parser.add_argument(
        "--experiments",
        default="all",
        help=f"comma-separated experiments to run, from {', '.join(names)}; "
        "'all' (default) or 'none'",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=ex.default_jobs(),
        help="processes for the experiments (default: the CPUs available, here "
        f"{ex.default_jobs()}); results do not depend on it",
    )
    parser.add_argument(
        "--graph-format",
        choices=("svg", "png", "pdf"),
        default="svg",
        help="format of the backward-graph drawing (default svg)",
    )
    parser.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bars (they are also off when stderr is not a terminal)",
    )
    args = parser.parse_args(argv)
    if args.experiments in ("all", "none"):
        args.experiments = names if args.experiments == "all" else []
    else:
        args.experiments = [n.strip() for n in args.experiments.split(",") if n.strip()]
        unknown = sorted(set(args.experiments) - set(names))
        if unknown:
            parser.error(f"unknown experiment(s) {', '.join(unknown)}; choose from {names}")
    for option in ("epochs", "log_every", "seeds", "jobs", "batch_size"):
        value = getattr(args, option)
        if value is not None and value < 1:
            parser.error(f"--{option.replace('_', '-')} must be positive, got {value}")
    args.seeds = args.seeds or (2 if args.quick else 5)
    args.log_every = args.log_every or max(1, args.epochs // 10)
    return args


def run_default(
    config: RunConfig, seeds: Seeds, log_every: int, progress: bool
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Train the report's network on both sets with the lab's console output. Returns the
    JSON record and, per data set, (model, data, losses) for the figures."""
    record, fitted = {}, {}
    width = len(str(config.epochs))
    for name in DATASETS:
        data = load(name, seeds.data)
        model = build_model(config, seeds.init)
        print(f"\n== {name}: {len(data.x)} points ==")
        logged = []
        bar = tqdm(total=config.epochs, desc=name, unit="epoch", disable=not progress)

        def on_epoch(epoch: int, loss: float, bar: Any = bar, logged: list = logged) -> None:
            if (epoch + 1) % 250 == 0:
                bar.update(250)
            if epoch % log_every == 0 or epoch == config.epochs - 1:
                logged.append([epoch, loss])
                tqdm.write(report.epoch_line(epoch, loss, width))

        start = time.perf_counter()
        history = train(model, data, config, seeds, on_epoch)
        seconds = time.perf_counter() - start
        bar.close()
        p = predict(model, data.x)
        for i, (label, value) in enumerate(zip(data.y.ravel(), p.ravel())):
            print(report.sample_line(i, label, value))
        acc = accuracy(p, data.y)
        loss = history.final_loss
        print(report.final_line(loss, acc))
        test = None
        if data.x_test is not None:
            test = accuracy(predict(model, data.x_test), data.y_test)
            print(f"test accuracy on {len(data.x_test)} new points: {test:.2%}")
        first = history.first_perfect
        print(f"first epoch at 100%: {'never' if first is None else first}; {seconds:.1f} s")
        diverged = history.diverged_at is not None
        record[name] = {
            "accuracy": acc,
            "final_loss": None if diverged else loss,
            "epochs_to_100": first,
            "diverged_at": history.diverged_at,
            "test_accuracy": test,
            "seconds": seconds,
            "logged": logged,
            "curve_epochs": history.curve_epochs,
            "curve": [v if np.isfinite(v) else None for v in history.curve],
            "x": data.x.tolist(),
            "y": data.y.ravel().tolist(),
            "prediction": p.ravel().tolist(),
        }
        fitted[name] = (model, data, history.losses)
    return record, fitted


def main(argv: list[str] | None = None) -> int:
    """Run the lab; returns 0, or 1 when a sanity check fails."""
    start = time.perf_counter()
    args = parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    progress = not args.no_progress and sys.stderr.isatty()
    seeds = Seeds(args.data_seed, args.init_seed, args.shuffle_seed)
    config = RunConfig(lr=args.lr, epochs=args.epochs, batch_size=args.batch_size)
    print("The report's network: nn.MLP([2, 4, 4, 1], sigmoid), N(0, 1) weights, zero biases;")
    print(f"loss 1/(2m) sum (p - y)^2, lr {config.lr}, {config.epochs} epochs; seeds {seeds}")

    default, fitted = run_default(config, seeds, args.log_every, progress)
    paths: dict[str, Path | None] = {}
    for name, (model, data, _) in fitted.items():
        paths[f"result_{name}"] = figures.result(data, predict(model, data.x), out / f"{name}.png")
    paths["learning_curves"] = figures.learning_curves(
        {name: losses for name, (_, _, losses) in fitted.items()},
        {name: d["epochs_to_100"] for name, d in default.items()},
        out / "learning_curves.png",
    )
    paths["decision_boundary"] = figures.decision_boundaries(
        {name: (model, data) for name, (model, data, _) in fitted.items()},
        out / "decision_boundary.png",
    )
    graph_note = None
    model, data, _ = fitted["xor_easy"]
    try:
        paths["backward_graph"] = figures.backward_graph(
            model, data, out / "backward_graph", args.graph_format
        )
    except (viz.RendererNotFoundError, ImportError) as error:
        graph_note = f"the backward graph was not rendered ({error})"
        print(graph_note)
    pages, explorer_note = [], None
    try:
        epochs = explorer.QUICK_EPOCHS if args.quick else explorer.EPOCHS
        for name, path in explorer.write(out, epochs).items():
            pages.append({"title": explorer.NETWORKS[name].title, "file": path.name})
    except (viz.RendererNotFoundError, ImportError) as error:
        explorer_note = f"the explorer pages were not written ({error})"
        print(explorer_note)

    budget = ex.Budget().scaled(0.1) if args.quick else ex.Budget()
    chosen = [e for e in ex.experiments(budget) if e.name in args.experiments]
    run_seeds = ex.seeds_for(args.seeds, seeds)
    todo = ex.plan(chosen, run_seeds)
    if todo:
        print(f"\n== experiments: {len(todo)} runs on {args.jobs} process(es) ==")
    bar = tqdm(total=len(todo), desc="experiments", unit="run", disable=not progress)
    results = ex.run_all(todo, args.jobs, on_done=lambda: bar.update(1))
    bar.close()
    tables = ex.collect(chosen, run_seeds, results)
    for name, e in tables.items():
        print(f"\n### {e['title']}\n{e['question']}\n")
        print(report.experiment_table(e))
        paths[f"experiment_{name}"] = figures.experiment(e, out / f"experiment_{name}.png")

    checks = ex.sanity_checks(default, tables)
    print("\n== sanity checks ==")
    print("\n".join(report.sanity_lines(checks)))
    wall = time.perf_counter() - start
    results_doc = {
        "schema": "demos.lab1/1",
        "command": " ".join(
            ["python -m demos.lab1", *(argv if argv is not None else sys.argv[1:])]
        ),
        "versions": f"Python {platform.python_version()}, numpy {np.__version__}, "
        f"autograd_lite {autograd_lite.__version__}",
        "jobs": args.jobs,
        "wall_seconds": wall,
        "loss": "L = 1/(2m) sum (p - y)^2 (half of MSELoss, the report's)",
        "datasets": {
            name: {
                "definition": DEFINITIONS[name],
                "points": len(load(name, seeds.data).x),
                "test_points": TEST_POINTS if name == "linear" else 0,
                "majority_rate": load(name, seeds.data).majority_rate,
            }
            for name in DATASETS
        },
        "default_run": {
            "config": config.as_dict(),
            "seeds": seeds.as_dict(),
            "seconds": sum(d["seconds"] for d in default.values()),
            "datasets": default,
        },
        "experiment_seeds": [s.as_dict() for s in run_seeds],
        "experiments": tables,
        "sanity": checks,
        "graph_note": graph_note,
        "explorers": pages,
        "explorer_note": explorer_note,
        "figures": {k: v.name for k, v in paths.items() if v is not None},
    }
    report.write_json(results_doc, out / "results.json")
    report.write_markdown(results_doc, out / "report.md")
    failed = [c for c in checks if not c["ok"]]
    print(
        f"\nwrote {out}/report.md, results.json, {len(results_doc['figures'])} figures and "
        f"{len(pages)} explorer pages"
    )
    print(f"wall time {wall:.1f} s")
    if failed:
        print(f"SANITY CHECK FAILED: {len(failed)} of {len(checks)}; a correct engine passes all")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
