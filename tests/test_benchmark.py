"""The benchmark harness: its smoke run writes every row, its correctness check can fail, and a
memory worker reports its own peak, not its parent's. No test asserts on a timing."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from demos import benchmark

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def quick_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[dict, str, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("benchmark")
    done = subprocess.run(
        [sys.executable, "-m", "demos.benchmark", "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads((out / "benchmark.json").read_text())
    return report, (out / "benchmark.md").read_text(), done


def test_quick_run_has_a_row_for_every_workload_and_engine(quick_run):
    report, markdown, done = quick_run
    assert [w["name"] for w in report["workloads"]] == list(benchmark.WORKLOADS)
    for w in report["workloads"]:
        assert set(w["engines"]) == set(benchmark.ENGINES)
        assert w["result"] in ("pass", "fail")
        for engine, row in w["engines"].items():
            assert row["status"] in ("ok", "skipped"), (w["name"], engine, row)
            if row["status"] == "ok":
                assert row["median_s"] > 0 and len(row["times_s"]) == report["repeats"]
        assert w["engines"]["numpy"]["ratio"] == 1.0
    for name in benchmark.WORKLOADS:
        assert f"| {name} |" in markdown
        assert name in done.stdout


def test_quick_run_cross_checked_every_engine_it_timed(quick_run):
    report, _, _ = quick_run
    for w in report["workloads"]:
        names = benchmark.WORKLOADS[w["name"]].names
        for engine, row in w["engines"].items():
            if row["status"] != "ok":
                continue
            check = row["check"]
            assert check["passed"] and check["max_abs_diff"] <= check["tolerance"]
            assert "loss" in check["compared"]
            assert {f"d{n}" for n in names} <= set(check["compared"]), (w["name"], engine)
        assert w["engines"]["autograd_lite"]["status"] == "ok"


def test_quick_run_measures_core_memory_in_fresh_processes(quick_run):
    report, _, _ = quick_run
    for w in report["workloads"]:
        for engine in ("numpy", "autograd_lite"):
            memory = w["engines"][engine]["memory"]
            assert 0 < memory["setup_rss_mb"] <= memory["peak_rss_mb"], (w["name"], engine)


def test_quick_run_records_the_machine(quick_run):
    report, markdown, _ = quick_run
    machine = report["machine"]
    assert machine["numpy"] == np.__version__
    assert machine["cores"] >= 1 and machine["threads"]["blas_threads"] >= 1
    assert machine["threads"]["torch_threads"] == machine["threads"]["blas_threads"]
    assert machine["cpu"] in markdown and machine["python"] in markdown
    assert f"numpy {np.__version__}" in markdown


def test_optional_engines_are_timed_when_installed_else_skipped_with_a_note(quick_run):
    report, _, _ = quick_run
    for engine in benchmark.OPTIONAL:
        installed = importlib.util.find_spec(engine) is not None
        for w in report["workloads"]:
            row = w["engines"][engine]
            if installed:
                assert row["status"] == "ok", (w["name"], engine, row)
            else:
                assert row["status"] == "skipped" and engine in row["note"]


def test_check_rejects_a_wrong_gradient():
    reference = {"loss": np.array(1.0), "dW": np.array([0.5, -0.25])}
    assert benchmark.check(reference, dict(reference))["passed"]
    wrong = {"loss": np.array(1.0), "dW": np.array([0.5, -0.25 + 1e-4])}
    result = benchmark.check(reference, wrong)
    assert not result["passed"]
    assert result["failures"] == ["dW: max |diff| 0.0001"]
    assert not benchmark.check(reference, {"loss": np.array(1.0)})["passed"]


def test_numpy_baseline_and_autograd_lite_agree_on_the_lab_after_several_steps():
    lab = benchmark.Lab(quick=True)
    numpy_runner, engine_runner = lab.build("numpy"), lab.build("autograd_lite")
    for _ in range(5):
        numpy_runner.step(), engine_runner.step()
    result = benchmark.check(numpy_runner.probe(lab.names), engine_runner.probe(lab.names))
    assert result["passed"], result["failures"]


def test_worker_reports_its_own_peak_not_its_parents():
    # On Linux ru_maxrss survives fork and exec, so a worker reading it would report at least
    # this process's peak; hold ~200 MB here to make that visible.
    ballast = np.ones(25_000_000)
    done = subprocess.run(
        [sys.executable, "-m", "demos.benchmark", "--worker", "overhead", "numpy", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    memory = json.loads(done.stdout.strip().splitlines()[-1])
    assert ballast.sum() == 25_000_000
    assert 0 < memory["peak_rss_mb"] < 150


def test_unknown_engine_is_a_usage_error(capsys):
    with pytest.raises(SystemExit):
        benchmark.parse_args(["--engines", "numpy,jax"])
    assert "unknown engines ['jax']" in capsys.readouterr().err
