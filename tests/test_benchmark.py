"""The benchmark harness: its smoke run writes a row for every workload and engine in both
modes (fresh processes, the headline, and in-process), its correctness check can fail and stops
an engine from being timed, a worker reports its own peak, not its parent's, and an engine
without a workload's method is skipped. No test asserts on a timing."""

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


def test_quick_run_has_a_row_for_every_workload_and_engine_in_both_modes(quick_run):
    report, markdown, done = quick_run
    assert [w["name"] for w in report["workloads"]] == list(benchmark.WORKLOADS)
    assert list(report["modes"]) == ["fresh", "in_process"]
    fresh = report["modes"]["fresh"]["engines"]
    assert fresh == [e for e in benchmark.ENGINES if e not in benchmark.OPTIONAL]  # --quick
    for w in report["workloads"]:
        assert set(w["engines"]) == set(benchmark.ENGINES)
        assert w["result"] in ("pass", "fail")
        for engine, row in w["engines"].items():
            assert row["status"] in ("ok", "skipped"), (w["name"], engine, row)
            if row["status"] != "ok":
                continue
            for mode in ("fresh", "in_process") if engine in fresh else ("in_process",):
                result = row[mode]
                assert result["median_s"] > 0 and len(result["rounds"]) == report["rounds"]
                ratios = [r["ratio"] for r in result["rounds"]]
                assert result["ratio"] == pytest.approx(np.median(ratios)), (w["name"], engine)
                low, high = result["interval"]
                assert min(ratios) <= low <= result["ratio"] <= high <= max(ratios)
        for mode in ("fresh", "in_process"):
            assert [r["ratio"] for r in w["engines"]["numpy"][mode]["rounds"]] == [1.0, 1.0]
    for text in (markdown, done.stdout):
        assert all(label in text for label in benchmark.MODES.values())
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
        if w["name"] in ("lab", "overhead", "deep"):  # the floor: checked like any engine
            assert w["engines"]["tape"]["status"] == "ok"


def test_quick_run_measures_memory_in_the_fresh_processes(quick_run):
    report, _, _ = quick_run
    for w in report["workloads"]:
        for engine in report["modes"]["fresh"]["engines"]:
            if w["engines"][engine]["status"] != "ok":  # the replay of deep: not applicable
                continue
            fresh = w["engines"][engine]["fresh"]
            for r in fresh["rounds"]:
                assert 0 < r["setup_rss_mb"] <= r["peak_rss_mb"], (w["name"], engine)
            assert fresh["added_rss_mb"] >= 0 and fresh["faults_per_step"] >= 0


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
                assert row["status"] == "ok" and "in_process" in row, (w["name"], engine, row)
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


def _worker(*args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "demos.benchmark", "--worker", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_worker_reports_its_own_peak_not_its_parents():
    # On Linux ru_maxrss survives fork and exec, so a worker reading it would report at least
    # this process's peak; hold ~200 MB here to make that visible.
    ballast = np.ones(25_000_000)
    result = _worker("overhead", "numpy", "--quick")
    assert ballast.sum() == 25_000_000
    assert 0 < result["peak_rss_mb"] < 150


@pytest.mark.parametrize("engine", list(benchmark.ENGINES))
def test_a_worker_times_every_installed_engine(engine):
    if not benchmark.available(engine):
        pytest.skip(f"{engine} is not installed")
    result = _worker("overhead", engine, "--quick")
    assert result["time_s"] > 0 and 0 < result["setup_rss_mb"] <= result["peak_rss_mb"]


def test_every_engine_of_a_round_runs_in_that_rounds_heap_layout(monkeypatch):
    calls = []

    def fake(name: str, engine: str, quick: bool, threads: int | None, layout: int) -> dict:
        calls.append((layout, engine))
        return {"time_s": 1.0}

    monkeypatch.setattr(benchmark, "_fresh_process", fake)
    benchmark.fresh_rounds(benchmark.Overhead(quick=True), ["numpy", "autograd_lite"], 3, None)
    assert sorted(calls) == [(r, e) for r in range(3) for e in ("autograd_lite", "numpy")]
    sizes = [[a.nbytes for a in benchmark.heap_layout(r)] for r in range(4)]
    assert [len(s) for s in sizes] == [0, 1, 2, 3]
    assert all(0 < n < 64 * 1024 for s in sizes for n in s)  # on the heap, under mmap's threshold
    assert sizes == [[a.nbytes for a in benchmark.heap_layout(r)] for r in range(4)]
    assert _worker("overhead", "numpy", "--quick", "--layout", "3")["time_s"] > 0


def _run_overhead(tmp_path: Path, engines: str) -> tuple[int, dict]:
    # The fresh mode only: the in-process one would change this process's allocator settings.
    options = ["--only", "overhead", "--engines", engines, "--mode", "fresh"]
    status = benchmark.main(["--quick", *options, "--out", str(tmp_path)])
    return status, json.loads((tmp_path / "benchmark.json").read_text())


def test_an_engine_that_fails_the_check_is_not_timed_and_fails_the_run(tmp_path, monkeypatch):
    correct = benchmark.Overhead.autograd_lite

    def off_by_a_little(self: benchmark.Overhead) -> benchmark.Runner:
        runner = correct(self)
        grads = runner.grads
        runner.grads = lambda: [g + 1e-4 for g in grads()]
        return runner

    monkeypatch.setattr(benchmark.Overhead, "autograd_lite", off_by_a_little)
    status, report = _run_overhead(tmp_path, "numpy,autograd_lite")
    (w,) = report["workloads"]
    row = w["engines"]["autograd_lite"]
    assert status == 1 and w["result"] == "fail"
    assert row["status"] == "wrong" and "da: max |diff| 0.0001" in row["note"]
    assert "fresh" not in row
    assert "fresh" in w["engines"]["numpy"]


def test_an_engine_without_a_workload_method_is_skipped_as_not_applicable(tmp_path, monkeypatch):
    monkeypatch.setitem(benchmark.ENGINES, "abacus", "an abacus")
    status, report = _run_overhead(tmp_path, "numpy,autograd_lite,abacus")
    (w,) = report["workloads"]
    assert status == 0
    assert w["engines"]["abacus"] == {
        "status": "skipped",
        "note": "not applicable (no `abacus` method)",
    }
    markdown = (tmp_path / "benchmark.md").read_text()
    assert "an abacus skipped on overhead: not applicable" in markdown


@pytest.mark.parametrize(
    ("n", "k", "coverage"), [(2, 1, 0.5), (3, 1, 0.75), (5, 1, 0.9375), (15, 4, 0.96484375)]
)
def test_median_interval_is_a_pair_of_order_statistics_and_their_binomial_coverage(n, k, coverage):
    values = list(np.random.default_rng(n).permutation(np.arange(1.0, n + 1)))
    assert benchmark.median_interval(values) == (k, n + 1 - k, pytest.approx(coverage))


@pytest.mark.parametrize("n", [5, 9, 15])
def test_median_interval_holds_the_true_median_as_often_as_it_claims(n):
    # Skewed, as times are: a log-normal sample's median is exp(0) = 1.
    samples = np.exp(np.random.default_rng(n).normal(size=(4000, n)))
    held = [low <= 1.0 <= high for low, high, _ in map(benchmark.median_interval, samples)]
    coverage = benchmark.median_interval(list(samples[0]))[2]
    assert coverage >= benchmark.CONFIDENCE
    assert np.mean(held) == pytest.approx(coverage, abs=0.02)


def test_a_miss_inside_the_runs_noise_says_so_and_a_clear_one_does_not():
    def row(ratio: float, low: float, high: float) -> dict:
        return {"status": "ok", "fresh": {"ratio": ratio, "interval": [low, high]}}

    (noisy,) = benchmark._misses("replay", row(1.07, 0.94, 1.15), 1.02)
    (clear,) = benchmark._misses("replay", row(1.07, 1.04, 1.15), 1.02)
    assert noisy.startswith("autograd_lite replay 1.07x numpy > 1.02x")
    assert "within this run's noise: its interval, 0.94x to 1.15x, holds it" in noisy
    assert clear == "autograd_lite replay 1.07x numpy > 1.02x"
    assert benchmark._misses("replay", row(1.01, 0.9, 1.3), 1.02) == []
    (close,) = benchmark._misses("autograd_lite", row(1.0531, 1.051, 1.1), 1.05)
    assert close == "autograd_lite 1.053x numpy > 1.05x"


def test_unknown_engine_is_a_usage_error(capsys):
    with pytest.raises(SystemExit):
        benchmark.parse_args(["--engines", "numpy,jax"])
    assert "unknown engines ['jax']" in capsys.readouterr().err


def test_a_replayed_conv_step_faults_no_more_pages_in_than_numpys():
    """The replay keeps its large arrays in buffers, so after its first calls a fresh process
    maps no new memory per step (0 on glibc, where numpy's own step faults ~670 pages in)."""
    numpy_faults = _worker("conv", "numpy")["faults_per_step"]
    replay_faults = _worker("conv", "replay")["faults_per_step"]
    assert replay_faults <= numpy_faults
