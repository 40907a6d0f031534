"""python -m demos.benchmark: autograd_lite against hand-written numpy backprop, in one run.

Five workloads (issue 7): the lab's 2-4-4-1 network, the per-op overhead of a tiny graph, a
chain of 100,000 links, an MNIST-sized MLP and a small CNN. Each runs on every engine with the
same data, the same initial weights and the same updates: the numpy forward and backward
written by hand in this file (the baseline every ratio is taken against), autograd_lite (eager
and replayed), demos/minimal_tape.py on the three workloads its ops cover (the floor of an eager
Python engine), and, where installed, PyTorch (eager, CPU), HIPS autograd and MyGrad.

Method
- Correctness first: each engine's first step (loss, gradients, and parameters after the
  update) must match numpy's to 1e-6 (absolute and relative), checked in this process before
  any timing. An engine that fails is not timed; if autograd_lite fails, the exit status is 1.
- Headline: fresh processes, as a user runs an engine (issue 14). Each workload runs
  `--rounds` rounds (3); in each, every engine runs once in its own fresh process
  (`python -m demos.benchmark --worker NAME ENGINE`) that imports only that engine and keeps
  glibc's default allocator. It sets up, warms up, times `blocks` blocks of `steps` steps and
  reports its median time per unit, its peak resident set (VmHWM on Linux) at the end of
  setup and at the end, and the minor page faults per step of its timed blocks (`pf`: freed
  memory the allocator gave back and maps in again). The engine order rotates from round to
  round, so drift (another process, CPU clock) hits all engines alike, and round r's workers
  hold the same r small arrays of their own (`heap_layout`), so that the rounds sample
  different heap layouts rather than time one layout's luck. An engine's ratio in a
  round is its time over numpy's in the same round; reported are the medians over the rounds
  of those ratios, of the times, of the peaks, of what the workload added to the peak over
  imports and setup, and of the page faults. Beside each median ratio stands the interval
  that holds the median of such rounds' ratios with the confidence the title gives (from the
  rounds' order statistics, `median_interval`): on a shared machine single rounds can differ
  by half, and a ratio a few percent from its target is then no evidence either way.
- Second column, "in-process, freed memory kept": all engines in this process, `--rounds`
  rounds after a warm-up, one block each per round in the rotated order, ratios taken the same
  way. glibc's malloc is told to keep freed memory (mallopt: M_MMAP_THRESHOLD 32 MB,
  M_TRIM_THRESHOLD 1 GB, as caching allocators such as PyTorch's and jemalloc behave). By
  default it gives large freed blocks back to the OS and page-faults them in again on the next
  step, at a cost that depends on what ran before in the process (its dynamic mmap threshold
  rises after the first large free); this column shows the engines without that cost.
- In both, the garbage collector stays on, as in user code; a collection before each timed
  block keeps one block's garbage off the next.
- Threads: numpy's BLAS keeps its own thread count (or `--threads N` for both, through
  threadpoolctl) and PyTorch is set to the same number with torch.set_num_threads, so BLAS-bound
  workloads compare like with like. The JSON records the counts and the load average: on a
  machine busy with other work, multi-threaded BLAS calls can stall (use --threads 1 there).

Output: the tables on stdout, and benchmark.json and benchmark.md in `--out` (runs/benchmark).
Most of a full run is the 100,000-link chain in HIPS autograd and MyGrad (~10 s a step, 11
steps each); `--only` and `--engines` narrow it. `--quick` is a smoke run (small sizes, 2
rounds, fresh processes for numpy and autograd_lite only: torch's import alone takes ~2 s per
process); its timings mean nothing.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import importlib
import importlib.util
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

ENGINES = {
    "numpy": "numpy",
    "autograd_lite": "autograd_lite",
    "replay": "autograd_lite replay",
    "tape": "minimal tape",
    "torch": "PyTorch",
    "autograd": "HIPS autograd",
    "mygrad": "MyGrad",
}
"""Engine key (the method name on each workload; for an optional engine, also its module name)
-> label in the tables. A workload without an engine's method reports it as not applicable."""

OPTIONAL = ("torch", "autograd", "mygrad")  # third-party: timed when installed
MODES = {"fresh": "fresh process, default allocator", "in_process": "in-process, freed memory kept"}
"""Timing mode key -> its name in the tables; the fresh-process mode is the headline."""
TOLERANCE = 1e-6  # the correctness check: |got - numpy| <= 1e-6 + 1e-6 |numpy|
CONFIDENCE = 0.9  # the least coverage of the interval beside a median ratio, rounds allowing
SEED = 0
POOL_CORNERS = ((0, 0), (0, 1), (1, 0), (1, 1))  # (row, column) of a 2x2 window's corners


# ---------------------------------------------------------------- engines and threads
_threads: int | None = None  # the BLAS thread count every engine gets; set by configure_threads
_thread_limit: Any = None  # threadpoolctl's limiter, kept alive for the whole run


def configure_threads(threads: int | None) -> dict[str, Any]:
    """Give numpy's BLAS `threads` threads (None: leave its default) and remember the count,
    so PyTorch gets the same; returns what was set, for the report."""
    global _threads, _thread_limit
    source = "numpy's BLAS default (threadpoolctl)"
    try:
        import threadpoolctl
    except ImportError:
        if threads is not None:
            raise SystemExit("--threads needs threadpoolctl (pip install threadpoolctl)") from None
        _threads = os.cpu_count() or 1
        source = "os.cpu_count() (threadpoolctl not installed: numpy's BLAS count unknown)"
    else:
        if threads is not None:
            _thread_limit = threadpoolctl.threadpool_limits(threads, user_api="blas")
            source = "--threads (threadpoolctl)"
        blas = [i for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
        _threads = blas[0]["num_threads"] if blas else (threads or os.cpu_count() or 1)
    return {"blas_threads": _threads, "torch_threads": _threads, "source": source}


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt parameters, from glibc's <malloc.h>


def keep_freed_memory() -> str:
    """Ask glibc's malloc to keep freed memory for reuse rather than return it to the OS
    between steps (for the in-process mode, see the module docstring); returns what was set."""
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return "system default (not glibc)"
    if mallopt(M_MMAP_THRESHOLD, 32 * 2**20) and mallopt(M_TRIM_THRESHOLD, 2**30):
        return "glibc, freed memory kept (M_MMAP_THRESHOLD 32 MB, M_TRIM_THRESHOLD 1 GB)"
    return "system default (mallopt refused)"


def _torch() -> Any:
    """torch, with as many intra-op threads as numpy's BLAS has."""
    import torch

    torch.set_num_threads(_threads or 1)
    return torch


def available(engine: str) -> bool:
    return engine not in OPTIONAL or importlib.util.find_spec(engine) is not None


def _array(value: Any) -> np.ndarray:
    """Any engine's tensor (or a float) as a float64 ndarray, for the correctness check."""
    if isinstance(value, np.ndarray):
        return value.astype(np.float64)
    if hasattr(value, "detach"):  # torch
        value = value.detach().numpy()
    elif hasattr(value, "data") and not isinstance(value, memoryview):  # autograd_lite, MyGrad
        value = value.data
    return np.asarray(value, dtype=np.float64)


@dataclass
class Runner:
    """One engine set up for one workload.

    `step()` does one unit of work (the timed thing) and returns the loss; `grads()` gives the
    gradients of the last step and `params()` the parameters after its update (None for
    workloads that do not update), both in the workload's `names` order.
    """

    step: Callable[[], Any]
    grads: Callable[[], list]
    params: Callable[[], list] | None = None

    def probe(self, names: tuple[str, ...]) -> dict[str, np.ndarray]:
        """Run one step; its loss, gradients and updated parameters by name."""
        values = {"loss": _array(self.step())}
        values.update({f"d{n}": _array(g) for n, g in zip(names, self.grads())})
        if self.params is not None:
            values.update({f"{n} after step": _array(p) for n, p in zip(names, self.params())})
        return values


def _sgd(params: list, grads: list, lr: float) -> None:
    for p, g in zip(params, grads):
        p -= lr * g


def _forward_backward(loss_of: Callable[..., Any], replay: bool) -> Callable[..., Any]:
    """autograd_lite's forward and backward of `loss_of(*args)`, returning the loss: eager, or
    replayed by `al.compile` (the `replay` engine: the same numbers, recorded once)."""
    if replay:
        import autograd_lite as al

        return al.compile(loss_of)

    def step(*args: Any) -> Any:
        loss = loss_of(*args)
        loss.backward()
        return loss

    return step


def _hips_sgd_runner(
    autograd: Any, loss_of: Callable, params: list, lr: float, inputs: Callable = tuple
) -> Runner:
    """HIPS autograd: value_and_grad of `loss_of(params, *inputs())`, then plain SGD."""
    value_and_grad = autograd.value_and_grad(loss_of)
    last: list = []

    def step() -> Any:
        loss, last[:] = value_and_grad(params, *inputs())
        _sgd(params, last, lr)
        return loss

    return Runner(step, lambda: last, lambda: params)


def _mygrad_sgd_runner(mg: Any, loss_of: Callable, params: list, lr: float) -> Runner:
    """MyGrad: backward from `loss_of()`, then plain SGD on its tensors in place."""

    def step() -> Any:
        loss = loss_of()
        loss.backward()
        with mg.no_autodiff:
            for q in params:
                q -= lr * q.grad
        return loss

    return Runner(step, lambda: [q.grad for q in params], lambda: params)


# ---------------------------------------------------------------- workloads
class Workload:
    """A model and its data, written once per engine. Subclasses define the sizes, `problem()`
    (fresh data and initial weights, the same on every call) and one method per engine key."""

    name = ""
    what = ""
    unit = "step"  # what one timed unit is
    names: tuple[str, ...] = ()  # parameters, in the order the gradients are compared
    target_ratio = 1.0
    replay_target_ratio: float | None = None  # the replay engine's, where it has one
    target_added_mb: float | None = None  # on the peak resident set, over imports and setup
    steps = 1  # steps per timed block
    warmup = 1
    blocks = 3  # timed blocks in a fresh process
    units_per_step = 1

    def __init__(self, quick: bool = False) -> None:
        self.quick = quick

    def build(self, engine: str) -> Runner:
        return getattr(self, engine)()


def _cross_entropy_numpy(z: np.ndarray, y: np.ndarray) -> tuple[Any, np.ndarray]:
    """Mean softmax cross-entropy and its gradient dL/dz = (softmax(z) - onehot(y)) / n."""
    n = len(y)
    rows = np.arange(n)
    shifted = z - z.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    total = e.sum(axis=1, keepdims=True)
    loss = (np.log(total[:, 0]) - shifted[rows, y]).mean()
    dz = e / total
    dz[rows, y] -= 1
    dz /= n
    return loss, dz


class Lab(Workload):
    """The lab: 2-4-4-1 sigmoid MLP, L = sum((a3 - y)^2) / (2m), full-batch GD with lr 0.1."""

    name = "lab"
    what = "2-4-4-1 sigmoid, squared error, full batch of 100, float64, GD lr 0.1"
    unit = "epoch"
    names = ("W1", "b1", "W2", "b2", "W3", "b3")
    target_ratio = 1.6
    replay_target_ratio = 1.15
    lr = 0.1

    def __init__(self, quick: bool = False) -> None:
        super().__init__(quick)
        self.steps, self.warmup = (50, 10) if quick else (5000, 200)

    def problem(self) -> dict[str, np.ndarray]:
        rng = np.random.default_rng(SEED)
        x = rng.uniform(0.0, 1.0, (100, 2))  # the lab's linear set: label 1 when x1 <= x2
        p = {"x": x, "y": (x[:, 0] <= x[:, 1]).astype(np.float64)[:, None]}
        for i, (fan_in, fan_out) in enumerate([(2, 4), (4, 4), (4, 1)], start=1):
            p[f"W{i}"] = rng.standard_normal((fan_in, fan_out))
            p[f"b{i}"] = np.zeros(fan_out)
        return p

    def numpy(self) -> Runner:
        p = self.problem()
        x, y = p["x"], p["y"]
        params = [p[n] for n in self.names]
        W1, b1, W2, b2, W3, b3 = params
        m, lr = len(x), self.lr
        last: list = []

        def sigmoid(z: np.ndarray) -> np.ndarray:
            return 1.0 / (1.0 + np.exp(-z))  # the lab's own formula

        def step() -> Any:
            a1 = sigmoid(x @ W1 + b1)
            a2 = sigmoid(a1 @ W2 + b2)
            a3 = sigmoid(a2 @ W3 + b3)
            error = a3 - y
            loss = (error * error).sum() / (2 * m)
            d3 = error * a3 * (1 - a3) / m
            d2 = (d3 @ W3.T) * a2 * (1 - a2)
            d1 = (d2 @ W2.T) * a1 * (1 - a1)
            last[:] = (x.T @ d1, d1.sum(0), a1.T @ d2, d2.sum(0), a2.T @ d3, d3.sum(0))
            _sgd(params, last, lr)
            return loss

        return Runner(step, lambda: last, lambda: params)

    def autograd_lite(self, replay: bool = False) -> Runner:
        import autograd_lite as al

        p = self.problem()
        x, y = al.Tensor(p["x"]), al.Tensor(p["y"])
        params = [al.Tensor(p[n], requires_grad=True) for n in self.names]
        W1, b1, W2, b2, W3, b3 = params
        m, lr = len(p["x"]), self.lr

        def loss_of() -> Any:
            a1 = (x @ W1 + b1).sigmoid()
            a2 = (a1 @ W2 + b2).sigmoid()
            a3 = (a2 @ W3 + b3).sigmoid()
            return ((a3 - y) ** 2).sum() / (2 * m)

        forward_backward = _forward_backward(loss_of, replay)

        def step() -> Any:
            for q in params:
                q.grad = None
            loss = forward_backward()
            for q in params:
                q.data -= lr * q.grad
            return loss

        return Runner(step, lambda: [q.grad for q in params], lambda: [q.data for q in params])

    def replay(self) -> Runner:
        return self.autograd_lite(replay=True)

    def tape(self) -> Runner:
        from demos import minimal_tape as mt

        p = self.problem()
        x, y = mt.Var(p["x"]), p["y"]
        params = [mt.Var(p[n]) for n in self.names]
        W1, b1, W2, b2, W3, b3 = params
        m, lr = len(p["x"]), self.lr

        def step() -> Any:
            for q in params:
                q.grad = None
            a1 = mt.sigmoid(mt.add(mt.matmul(x, W1), b1))
            a2 = mt.sigmoid(mt.add(mt.matmul(a1, W2), b2))
            a3 = mt.sigmoid(mt.add(mt.matmul(a2, W3), b3))
            loss = mt.divide(mt.total(mt.square(mt.minus(a3, y))), 2 * m)
            mt.backward(loss)
            for q in params:
                q.value -= lr * q.grad
            return loss.value

        return Runner(step, lambda: [q.grad for q in params], lambda: [q.value for q in params])

    def torch(self) -> Runner:
        torch = _torch()
        p = self.problem()
        x, y = torch.tensor(p["x"]), torch.tensor(p["y"])
        params = [torch.tensor(p[n], requires_grad=True) for n in self.names]
        W1, b1, W2, b2, W3, b3 = params
        m, lr = len(p["x"]), self.lr

        def step() -> Any:
            for q in params:
                q.grad = None
            a1 = torch.sigmoid(x @ W1 + b1)
            a2 = torch.sigmoid(a1 @ W2 + b2)
            a3 = torch.sigmoid(a2 @ W3 + b3)
            loss = ((a3 - y) ** 2).sum() / (2 * m)
            loss.backward()
            with torch.no_grad():
                for q in params:
                    q -= lr * q.grad
            return loss

        return Runner(step, lambda: [q.grad for q in params], lambda: params)

    def autograd(self) -> Runner:
        import autograd
        import autograd.numpy as anp
        from autograd.scipy.special import expit

        p = self.problem()
        x, y = p["x"], p["y"]
        params = [p[n] for n in self.names]
        m, lr = len(x), self.lr

        def loss_of(params: list) -> Any:
            W1, b1, W2, b2, W3, b3 = params
            a1 = expit(anp.dot(x, W1) + b1)
            a2 = expit(anp.dot(a1, W2) + b2)
            a3 = expit(anp.dot(a2, W3) + b3)
            return anp.sum((a3 - y) ** 2) / (2 * m)

        return _hips_sgd_runner(autograd, loss_of, params, lr)

    def mygrad(self) -> Runner:
        import mygrad as mg
        from mygrad.nnet.activations import sigmoid

        p = self.problem()
        x, y = p["x"], p["y"]
        params = [mg.Tensor(p[n]) for n in self.names]
        W1, b1, W2, b2, W3, b3 = params
        m, lr = len(x), self.lr

        def loss_of() -> Any:
            a1 = sigmoid(mg.matmul(x, W1) + b1)
            a2 = sigmoid(mg.matmul(a1, W2) + b2)
            a3 = sigmoid(mg.matmul(a2, W3) + b3)
            return mg.sum((a3 - y) ** 2) / (2 * m)

        return _mygrad_sgd_runner(mg, loss_of, params, lr)


class Overhead(Workload):
    """The fixed cost per op: ((a*b)+c).sum() on 3x3 tensors, forward and backward."""

    name = "overhead"
    what = "((a*b)+c).sum() on 3x3 float64, forward + backward"
    unit = "iteration"
    names = ("a", "b", "c")
    target_ratio = 2.5
    replay_target_ratio = 1.5

    def __init__(self, quick: bool = False) -> None:
        super().__init__(quick)
        self.steps, self.warmup = (200, 50) if quick else (20_000, 1000)

    def problem(self) -> dict[str, np.ndarray]:
        rng = np.random.default_rng(SEED)
        return {n: rng.standard_normal((3, 3)) for n in self.names}

    def numpy(self) -> Runner:
        a, b, c = self.problem().values()
        last: list = []

        def step() -> Any:
            s = (a * b + c).sum()
            g = np.ones_like(a)  # ds/d(a*b+c)
            last[:] = (g * b, g * a, g)
            return s

        return Runner(step, lambda: last)

    def autograd_lite(self, replay: bool = False) -> Runner:
        import autograd_lite as al

        a, b, c = (al.Tensor(v, requires_grad=True) for v in self.problem().values())
        forward_backward = _forward_backward(lambda: ((a * b) + c).sum(), replay)

        def step() -> Any:
            a.grad = b.grad = c.grad = None
            return forward_backward()

        return Runner(step, lambda: [a.grad, b.grad, c.grad])

    def replay(self) -> Runner:
        return self.autograd_lite(replay=True)

    def tape(self) -> Runner:
        from demos import minimal_tape as mt

        a, b, c = (mt.Var(v) for v in self.problem().values())

        def step() -> Any:
            a.grad = b.grad = c.grad = None
            s = mt.total(mt.add(mt.mul(a, b), c))
            mt.backward(s)
            return s.value

        return Runner(step, lambda: [a.grad, b.grad, c.grad])

    def torch(self) -> Runner:
        torch = _torch()
        a, b, c = (torch.tensor(v, requires_grad=True) for v in self.problem().values())

        def step() -> Any:
            a.grad = b.grad = c.grad = None
            s = ((a * b) + c).sum()
            s.backward()
            return s

        return Runner(step, lambda: [a.grad, b.grad, c.grad])

    def autograd(self) -> Runner:
        import autograd
        import autograd.numpy as anp

        a, b, c = self.problem().values()
        value_and_grad = autograd.value_and_grad(
            lambda a, b, c: anp.sum(a * b + c), argnum=(0, 1, 2)
        )
        last: list = []

        def step() -> Any:
            s, last[:] = value_and_grad(a, b, c)
            return s

        return Runner(step, lambda: last)

    def mygrad(self) -> Runner:
        import mygrad as mg

        a, b, c = (mg.Tensor(v) for v in self.problem().values())

        def step() -> Any:
            s = mg.sum(a * b + c)
            s.backward()
            return s

        return Runner(step, lambda: [a.grad, b.grad, c.grad])


class Deep(Workload):
    """A chain of `links` tanh(x*w + b) links on shape (1,) (3 ops each), then backward."""

    name = "deep"
    unit = "link"
    names = ("x0", "w", "b")
    target_ratio = 2.2
    target_added_mb = 60.0

    def __init__(self, quick: bool = False) -> None:
        super().__init__(quick)
        self.links = 2000 if quick else 100_000
        self.units_per_step = self.links
        # A step of 100,000 links is long enough to time alone (~10 s in HIPS autograd).
        self.steps, self.warmup, self.blocks = 1, 1, 1
        self.what = f"chain of {self.links:,} tanh(x*w+b) links on shape (1,), then backward"

    def problem(self) -> dict[str, np.ndarray]:
        # |w| < 1 keeps the chain contracting, so the gradient of x0 stays finite.
        return {"x0": np.array([0.5]), "w": np.array([0.9]), "b": np.array([0.1])}

    def numpy(self) -> Runner:
        x0, w, b = self.problem().values()
        n = self.links
        last: list = []

        def step() -> Any:
            xs = [x0]
            x = x0
            for _ in range(n):
                x = np.tanh(x * w + b)
                xs.append(x)
            s = x.sum()
            g = np.ones_like(x)
            dw, db = np.zeros_like(w), np.zeros_like(b)
            for i in range(n, 0, -1):
                y = xs[i]
                gz = g * (1 - y * y)
                dw += gz * xs[i - 1]
                db += gz
                g = gz * w
            last[:] = (g, dw, db)
            return s

        return Runner(step, lambda: last)

    def autograd_lite(self) -> Runner:
        import autograd_lite as al

        x0, w, b = (al.Tensor(v, requires_grad=True) for v in self.problem().values())
        n = self.links

        def step() -> Any:
            x0.grad = w.grad = b.grad = None
            x = x0
            for _ in range(n):
                x = (x * w + b).tanh()
            s = x.sum()
            s.backward()
            return s

        return Runner(step, lambda: [x0.grad, w.grad, b.grad])

    def tape(self) -> Runner:
        from demos import minimal_tape as mt

        x0, w, b = (mt.Var(v) for v in self.problem().values())
        n = self.links

        def step() -> Any:
            x0.grad = w.grad = b.grad = None
            x = x0
            for _ in range(n):
                x = mt.tanh(mt.add(mt.mul(x, w), b))
            s = mt.total(x)
            mt.backward(s)
            return s.value

        return Runner(step, lambda: [x0.grad, w.grad, b.grad])

    def torch(self) -> Runner:
        torch = _torch()
        x0, w, b = (torch.tensor(v, requires_grad=True) for v in self.problem().values())
        n = self.links

        def step() -> Any:
            x0.grad = w.grad = b.grad = None
            x = x0
            for _ in range(n):
                x = torch.tanh(x * w + b)
            s = x.sum()
            s.backward()
            return s

        return Runner(step, lambda: [x0.grad, w.grad, b.grad])

    def autograd(self) -> Runner:
        import autograd
        import autograd.numpy as anp

        n = self.links

        def chain(x: Any, w: Any, b: Any) -> Any:
            for _ in range(n):
                x = anp.tanh(x * w + b)
            return anp.sum(x)

        value_and_grad = autograd.value_and_grad(chain, argnum=(0, 1, 2))
        x0, w, b = self.problem().values()
        last: list = []

        def step() -> Any:
            s, last[:] = value_and_grad(x0, w, b)
            return s

        return Runner(step, lambda: last)

    def mygrad(self) -> Runner:
        import mygrad as mg

        x0, w, b = (mg.Tensor(v) for v in self.problem().values())
        n = self.links

        def step() -> Any:
            x = x0
            for _ in range(n):
                x = mg.tanh(x * w + b)
            s = mg.sum(x)
            s.backward()
            return s

        return Runner(step, lambda: [x0.grad, w.grad, b.grad])


class _Classifier(Workload):
    """A model made of layers that nn and torch.nn spell alike, trained by SGD on softmax
    cross-entropy: one recipe builds both libraries' runners."""

    lr = 0.01

    def layers(self, lib: Any, dtype: Any) -> list:
        raise NotImplementedError

    def autograd_lite(self, replay: bool = False) -> Runner:
        import nn

        p = self.problem()
        model = nn.Sequential(*self.layers(nn, np.float32))
        params = list(model.parameters())
        for q, n in zip(params, self.names):
            q.data[...] = p[n]
        optimizer = nn.optim.SGD(params, lr=self.lr)
        loss_fn, x, y = nn.CrossEntropyLoss(), p["x"], p["y"]
        # The batch is an argument, as in a training loop: a replay rebinds it on every call.
        forward_backward = _forward_backward(lambda x, y: loss_fn(model(x), y), replay)

        def step() -> Any:
            optimizer.zero_grad()
            loss = forward_backward(x, y)
            optimizer.step()
            return loss

        return Runner(step, lambda: [q.grad for q in params], lambda: [q.data for q in params])

    def replay(self) -> Runner:
        return self.autograd_lite(replay=True)

    def torch(self) -> Runner:
        torch = _torch()
        p = self.problem()
        model = torch.nn.Sequential(*self.layers(torch.nn, torch.float32))
        params = _torch_load(torch, model, p, self.names)
        optimizer = torch.optim.SGD(params, lr=self.lr)
        x, y = torch.from_numpy(p["x"]), torch.from_numpy(p["y"])
        return _sgd_runner(model, params, torch.nn.CrossEntropyLoss(), optimizer, x, y)


def _sgd_runner(model: Any, params: list, loss_fn: Any, optimizer: Any, x: Any, y: Any) -> Runner:
    def step() -> Any:
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    return Runner(step, lambda: [q.grad for q in params], lambda: params)


class MLP(_Classifier):
    """784-256-128-10 ReLU MLP, softmax cross-entropy, batch 128, float32, SGD lr 0.01."""

    name = "mlp"
    what = "784-256-128-10 ReLU, softmax cross-entropy, batch 128, float32, SGD lr 0.01"
    names = ("W1", "b1", "W2", "b2", "W3", "b3")
    target_ratio = 1.05
    replay_target_ratio = 1.02
    sizes = (784, 256, 128, 10)
    batch = 128

    def __init__(self, quick: bool = False) -> None:
        super().__init__(quick)
        self.steps, self.warmup = (3, 1) if quick else (100, 5)

    def layers(self, lib: Any, dtype: Any) -> list:
        n0, n1, n2, n3 = self.sizes
        return [
            lib.Linear(n0, n1, dtype=dtype),
            lib.ReLU(),
            lib.Linear(n1, n2, dtype=dtype),
            lib.ReLU(),
            lib.Linear(n2, n3, dtype=dtype),
        ]

    def problem(self) -> dict[str, np.ndarray]:
        rng = np.random.default_rng(SEED)
        p = {
            "x": rng.uniform(0.0, 1.0, (self.batch, self.sizes[0])).astype(np.float32),
            "y": rng.integers(0, self.sizes[-1], self.batch),
        }
        for i, (fan_in, fan_out) in enumerate(zip(self.sizes, self.sizes[1:]), start=1):
            bound = 1 / np.sqrt(fan_in)  # torch's default initialization of Linear
            p[f"W{i}"] = rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32)
            p[f"b{i}"] = rng.uniform(-bound, bound, fan_out).astype(np.float32)
        return p

    def numpy(self) -> Runner:
        p = self.problem()
        x, y = p["x"], p["y"]
        params = [p[n] for n in self.names]
        W1, b1, W2, b2, W3, b3 = params
        lr = self.lr
        last: list = []

        def step() -> Any:
            z1 = x @ W1.T + b1
            a1 = np.maximum(z1, 0)
            z2 = a1 @ W2.T + b2
            a2 = np.maximum(z2, 0)
            z3 = a2 @ W3.T + b3
            loss, d3 = _cross_entropy_numpy(z3, y)
            d2 = (d3 @ W3) * (z2 > 0)
            d1 = (d2 @ W2) * (z1 > 0)
            last[:] = (d1.T @ x, d1.sum(0), d2.T @ a1, d2.sum(0), d3.T @ a2, d3.sum(0))
            _sgd(params, last, lr)
            return loss

        return Runner(step, lambda: last, lambda: params)

    def autograd(self) -> Runner:
        import autograd
        import autograd.numpy as anp
        from autograd.scipy.special import logsumexp

        p = self.problem()
        x, y = p["x"], p["y"]
        rows = np.arange(len(y))
        params = [p[n] for n in self.names]
        lr = self.lr

        def loss_of(params: list) -> Any:
            W1, b1, W2, b2, W3, b3 = params
            a1 = anp.maximum(anp.dot(x, W1.T) + b1, 0)
            a2 = anp.maximum(anp.dot(a1, W2.T) + b2, 0)
            z = anp.dot(a2, W3.T) + b3
            return anp.mean(logsumexp(z, axis=1) - z[rows, y])

        return _hips_sgd_runner(autograd, loss_of, params, lr)

    def mygrad(self) -> Runner:
        import mygrad as mg
        from mygrad.nnet.activations import relu
        from mygrad.nnet.losses import softmax_crossentropy

        p = self.problem()
        x, y = p["x"], p["y"]
        params = [mg.Tensor(p[n]) for n in self.names]
        W1, b1, W2, b2, W3, b3 = params
        lr = self.lr

        def loss_of() -> Any:
            a1 = relu(mg.matmul(x, W1.T) + b1)
            a2 = relu(mg.matmul(a1, W2.T) + b2)
            return softmax_crossentropy(mg.matmul(a2, W3.T) + b3, y)

        return _mygrad_sgd_runner(mg, loss_of, params, lr)


def _torch_load(torch: Any, model: Any, p: dict, names: tuple[str, ...]) -> list:
    """Copy the shared initial weights into a torch model; returns its parameters."""
    params = list(model.parameters())
    with torch.no_grad():
        for q, n in zip(params, names):
            q.copy_(torch.from_numpy(p[n]))
    return params


class Conv(_Classifier):
    """Conv2d(1->8, 3x3) + ReLU + MaxPool2d(2) + Linear(1352->10), batch 64 of 28x28 float32,
    softmax cross-entropy, SGD lr 0.01."""

    name = "conv"
    what = (
        "Conv2d(1->8,3x3)+ReLU+MaxPool2d(2)+Linear(1352->10), batch 64 of 28x28, float32, "
        "cross-entropy, SGD lr 0.01"
    )
    names = ("conv.weight", "conv.bias", "fc.weight", "fc.bias")
    target_ratio = 1.10
    batch, side, channels, kernel, classes = 64, 28, 8, 3, 10

    def __init__(self, quick: bool = False) -> None:
        super().__init__(quick)
        self.steps, self.warmup = (2, 1) if quick else (30, 3)
        self.conv_side = self.side - self.kernel + 1  # 26
        self.pooled = self.conv_side // 2  # 13
        self.features = self.channels * self.pooled**2  # 1352

    def layers(self, lib: Any, dtype: Any) -> list:
        return [
            lib.Conv2d(1, self.channels, self.kernel, dtype=dtype),
            lib.ReLU(),
            lib.MaxPool2d(2),
            lib.Flatten(),
            lib.Linear(self.features, self.classes, dtype=dtype),
        ]

    def problem(self) -> dict[str, np.ndarray]:
        rng = np.random.default_rng(SEED)
        c, k, f = self.channels, self.kernel, self.features
        conv_bound, fc_bound = 1 / np.sqrt(k * k), 1 / np.sqrt(f)  # torch's defaults
        f32 = np.float32
        return {
            "x": rng.uniform(0.0, 1.0, (self.batch, 1, self.side, self.side)).astype(f32),
            "y": rng.integers(0, self.classes, self.batch),
            "conv.weight": rng.uniform(-conv_bound, conv_bound, (c, 1, k, k)).astype(f32),
            "conv.bias": rng.uniform(-conv_bound, conv_bound, c).astype(f32),
            "fc.weight": rng.uniform(-fc_bound, fc_bound, (self.classes, f)).astype(f32),
            "fc.bias": rng.uniform(-fc_bound, fc_bound, self.classes).astype(f32),
        }

    def im2col(self, x: np.ndarray) -> np.ndarray:
        """Every 3x3 window of every image as a column: (C*3*3, N*26*26), one copy of a
        strided view, no Python loop over positions. This layout copies C*9 shifted slabs of
        the images and makes the convolution one (C_out, C*9) @ (C*9, N*26*26) product; the
        row layout (N*26*26, C*9) gathers window by window and is ~5x slower to build."""
        k = self.kernel
        windows = sliding_window_view(x, (k, k), axis=(2, 3))  # (N, C, 26, 26, 3, 3)
        n, c, h, w = windows.shape[:4]
        return windows.transpose(1, 4, 5, 0, 2, 3).reshape(c * k * k, n * h * w)

    def numpy(self) -> Runner:
        p = self.problem()
        x, y = p["x"], p["y"]
        params = [p[n] for n in self.names]
        Wc, bc, Wf, bf = params
        n, c, h = self.batch, self.channels, self.pooled
        lr = self.lr
        last: list = []

        def step() -> Any:
            cols = self.im2col(x)
            z = Wc.reshape(c, -1) @ cols + bc[:, None]  # (C, N*26*26): channels first
            a = np.maximum(z, 0).reshape(c, n, h, 2, h, 2)
            # 2x2 max pooling, stride 2: the elementwise maximum of the windows' four corners,
            # each a strided view (reducing small inner axes with .max is ~30x slower).
            corners = [a[:, :, :, i, :, j] for i, j in POOL_CORNERS]
            pooled = np.maximum(np.maximum(corners[0], corners[1]), np.maximum(*corners[2:]))
            flat = pooled.transpose(1, 0, 2, 3).reshape(n, -1)  # torch's (C, H, W) order
            loss, dlogits = _cross_entropy_numpy(flat @ Wf.T + bf, y)
            dpooled = (dlogits @ Wf).reshape(n, c, h, h).transpose(1, 0, 2, 3)
            # The max's gradient goes to the corner that won; corners tied at the maximum are
            # all zeros from the ReLU, whose gradient is zero anyway.
            da = np.empty_like(a)
            for corner, (i, j) in zip(corners, POOL_CORNERS):
                da[:, :, :, i, :, j] = (corner == pooled) * dpooled
            dz = da.reshape(c, -1) * (z > 0)
            last[:] = ((dz @ cols.T).reshape(Wc.shape), dz.sum(1), dlogits.T @ flat, dlogits.sum(0))
            _sgd(params, last, lr)
            return loss

        return Runner(step, lambda: last, lambda: params)

    def autograd(self) -> Runner:
        import autograd
        import autograd.numpy as anp
        from autograd.scipy.special import logsumexp

        p = self.problem()
        x, y = p["x"], p["y"]
        rows = np.arange(len(y))
        params = [p[n] for n in self.names]
        n, c, h = self.batch, self.channels, self.pooled
        lr = self.lr

        def loss_of(params: list, cols: np.ndarray) -> Any:
            Wc, bc, Wf, bf = params
            z = anp.dot(anp.reshape(Wc, (c, -1)), cols) + anp.reshape(bc, (c, 1))
            a = anp.reshape(anp.maximum(z, 0), (c, n, h, 2, h, 2))
            corners = [a[:, :, :, i, :, j] for i, j in POOL_CORNERS]
            pooled = anp.maximum(anp.maximum(corners[0], corners[1]), anp.maximum(*corners[2:]))
            flat = anp.reshape(anp.transpose(pooled, (1, 0, 2, 3)), (n, -1))
            z = anp.dot(flat, Wf.T) + bf
            return anp.mean(logsumexp(z, axis=1) - z[rows, y])

        # x is data, not differentiated: its im2col is plain numpy, as in the baseline.
        return _hips_sgd_runner(autograd, loss_of, params, lr, lambda: (self.im2col(x),))

    def mygrad(self) -> Runner:
        import mygrad as mg
        from mygrad.nnet.activations import relu
        from mygrad.nnet.layers import conv_nd, max_pool
        from mygrad.nnet.losses import softmax_crossentropy

        p = self.problem()
        x, y = p["x"], p["y"]
        params = [mg.Tensor(p[n]) for n in self.names]
        Wc, bc, Wf, bf = params
        n, c = self.batch, self.channels
        lr = self.lr

        def loss_of() -> Any:
            a = relu(conv_nd(x, Wc, stride=(1, 1)) + mg.reshape(bc, (1, c, 1, 1)))
            flat = mg.reshape(max_pool(a, (2, 2), (2, 2)), (n, -1))
            return softmax_crossentropy(mg.matmul(flat, Wf.T) + bf, y)

        return _mygrad_sgd_runner(mg, loss_of, params, lr)


WORKLOADS: dict[str, type[Workload]] = {w.name: w for w in (Lab, Overhead, Deep, MLP, Conv)}


# ---------------------------------------------------------------- correctness
def check(reference: dict[str, np.ndarray], got: dict[str, np.ndarray]) -> dict[str, Any]:
    """Compare an engine's first step with numpy's: every value within TOLERANCE."""
    worst, failed = 0.0, []
    for key, want in reference.items():
        value = got.get(key)
        if value is None or value.shape != want.shape:
            found = None if value is None else value.shape
            failed.append(f"{key}: shape {found}, expected {want.shape}")
            continue
        diff = np.abs(value - want)
        worst = max(worst, float(diff.max(initial=0.0)))
        if not np.all(diff <= TOLERANCE + TOLERANCE * np.abs(want)):
            failed.append(f"{key}: max |diff| {diff.max():.3g}")
    return {
        "passed": not failed,
        "compared": sorted(reference),
        "max_abs_diff": worst,
        "tolerance": TOLERANCE,
        "failures": failed,
    }


def check_engines(
    workload: Workload, engines: list[str]
) -> tuple[dict[str, dict[str, Any]], dict[str, Runner]]:
    """Build every engine and check its first step against numpy's: a row per engine (status,
    check) and the runners of those that passed, which the in-process mode goes on to time."""
    rows: dict[str, dict[str, Any]] = {}
    runners: dict[str, Runner] = {}
    reference_runner = workload.build("numpy")
    reference = reference_runner.probe(workload.names)
    for engine in engines:
        if not hasattr(workload, engine):
            rows[engine] = {"status": "skipped", "note": f"not applicable (no `{engine}` method)"}
            continue
        if not available(engine):
            rows[engine] = {"status": "skipped", "note": f"not installed (pip install {engine})"}
            continue
        _progress(f"{workload.name}: checking {ENGINES[engine]}")
        if engine == "numpy":
            runner, result = reference_runner, check(reference, reference)
        else:
            try:
                runner = workload.build(engine)
                result = check(reference, runner.probe(workload.names))
            except Exception as exc:  # an engine that cannot run the workload is reported
                rows[engine] = {"status": "error", "note": f"{type(exc).__name__}: {exc}"}
                continue
        rows[engine] = {"status": "ok", "check": result}
        if result["passed"]:
            runners[engine] = runner
        else:
            rows[engine].update(status="wrong", note="; ".join(result["failures"]))
    return rows, runners


# ---------------------------------------------------------------- timing and memory
def _rotated(engines: list[str], round_: int) -> list[str]:
    """The engine order of a round: rotated from round to round, so drift hits all alike."""
    shift = round_ % len(engines)
    return engines[shift:] + engines[:shift]


def _time_blocks(workload: Workload, runner: Runner, blocks: int) -> list[float]:
    """Seconds per unit of each of `blocks` blocks of `workload.steps` steps. A collection
    before each block keeps the previous block's (or engine's) garbage off it."""
    units = workload.steps * workload.units_per_step
    times = []
    for _ in range(blocks):
        gc.collect()
        start = time.perf_counter()
        for _ in range(workload.steps):
            runner.step()
        times.append((time.perf_counter() - start) / units)
    return times


def _rss_mb() -> float:
    """Peak resident set of this process so far, in MB.

    On Linux this is VmHWM, the high-water mark of this program's own memory: ru_maxrss would
    also carry the parent's peak across the fork and exec that started the worker (the kernel
    keeps the larger), so every worker would report at least the main process's peak.
    Elsewhere ru_maxrss (KiB on Linux, bytes on macOS).
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**10  # kB
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (2**20 if sys.platform == "darwin" else 2**10)


def heap_layout(round_: int) -> list[np.ndarray]:
    """Round `round_`'s heap history: that many small arrays (1 byte to 64 KiB, sizes drawn
    from a generator seeded by the round), which a worker makes after setup and holds while it
    times, as a user's process holds arrays of its own. Round 0 makes none.

    Below glibc's mmap threshold they sit on the heap among the step's arrays, and move where
    its large temporaries land and whether freeing them gives memory back to the OS. Without
    them every round would time one heap layout, and one layout can be lucky or not: numpy's
    conv step faulted 667 pages in a step with none, and 667, 0, 0, 1,320, 582, 582, 582 in
    layouts 1 to 7 (2.98 to 6.33 ms a step). Each round samples another layout, the same for
    every engine in it, as Stabilizer randomizes layouts so that a measurement is not one
    layout's luck."""
    rng = np.random.default_rng(round_)
    return [np.empty(int(size), np.uint8) for size in rng.integers(1, 64 * 1024, size=round_)]


def run_worker(name: str, engine: str, quick: bool, layout: int = 0) -> dict[str, Any]:
    """One engine on one workload in this fresh process, with glibc's default allocator: set
    up, hold `heap_layout(layout)`, warm up, time `blocks` blocks; the median time per unit,
    the peak resident set, and the minor page faults per step of the timed blocks (memory the
    allocator gave back to the OS and maps in again: what a fresh process pays for large
    temporaries)."""
    workload = WORKLOADS[name](quick)
    runner = workload.build(engine)
    held = heap_layout(layout)  # noqa: F841 (held, not read: alive until the worker returns)
    setup = _rss_mb()
    for _ in range(workload.warmup):
        runner.step()
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    times = _time_blocks(workload, runner, workload.blocks)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
    return {
        "time_s": float(np.median(times)),
        "peak_rss_mb": _rss_mb(),
        "setup_rss_mb": setup,
        "faults_per_step": faults / (workload.blocks * workload.steps),
    }


def _fresh_process(
    name: str, engine: str, quick: bool, threads: int | None, layout: int
) -> dict[str, Any]:
    command = [sys.executable, "-m", "demos.benchmark", "--worker", name, engine]
    command += ["--layout", str(layout)]
    command += ["--quick"] if quick else []
    command += [] if threads is None else ["--threads", str(threads)]
    done = subprocess.run(
        command,
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or ["no output"]
        return {"error": f"worker exited with {done.returncode}: {lines[-1]}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def fresh_rounds(
    workload: Workload, engines: list[str], rounds: int, threads: int | None
) -> dict[str, list[dict[str, Any]]]:
    """The headline mode: in each round, every engine once in its own fresh process, all of
    them with the round's heap layout (`heap_layout`)."""
    results: dict[str, list[dict[str, Any]]] = {engine: [] for engine in engines}
    for r in range(rounds):
        for engine in _rotated(engines, r):
            _progress(f"{workload.name}: round {r + 1}/{rounds}, {ENGINES[engine]} (fresh process)")
            result = _fresh_process(workload.name, engine, workload.quick, threads, layout=r)
            results[engine].append(result)
    return results


def in_process_rounds(
    workload: Workload, runners: dict[str, Runner], rounds: int
) -> dict[str, list[dict[str, Any]]]:
    """The second column: every engine in this process, one block each per round, glibc
    keeping freed memory (set in main).

    Objects alive before timing (every engine's modules: ~150,000 for torch, ~22,000 for
    numpy, autograd_lite and nn) are frozen out of the cycle collector's sight. An engine whose
    graph is made of Python objects then pays for scanning the objects it makes, and not for
    the other engines' modules loaded into this process (which made the 100,000-link chain
    ~25% slower here than in a fresh process).
    """
    _progress(f"{workload.name}: timing {', '.join(ENGINES[e] for e in runners)} in-process")
    for runner in runners.values():
        for _ in range(workload.warmup):
            runner.step()
    gc.collect()
    gc.freeze()
    try:
        results: dict[str, list[dict[str, Any]]] = {engine: [] for engine in runners}
        for r in range(rounds):
            for engine in _rotated(list(runners), r):
                (seconds,) = _time_blocks(workload, runners[engine], 1)
                results[engine].append({"time_s": seconds})
        return results
    finally:
        gc.unfreeze()


def summarize(results: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Per engine: each round's ratio to numpy's time in the same round, and the medians over
    the rounds of the time, the ratio and (from fresh processes) the peak and what the workload
    added to it over setup."""
    base = results.get("numpy")
    summaries = {}
    for engine, rounds in results.items():
        failed = [r["error"] for r in rounds if "error" in r]
        if failed:
            summaries[engine] = {"error": failed[0], "rounds": rounds}
            continue
        for r, b in zip(rounds, base or []):
            if "time_s" in b:
                r["ratio"] = r["time_s"] / b["time_s"]
        ratios = [r["ratio"] for r in rounds if "ratio" in r]
        complete = len(ratios) == len(rounds)
        summary = {
            "median_s": float(np.median([r["time_s"] for r in rounds])),
            "ratio": float(np.median(ratios)) if complete else None,
            "interval": list(median_interval(ratios)[:2]) if complete else None,
            "rounds": rounds,
        }
        if "peak_rss_mb" in rounds[0]:
            summary["peak_rss_mb"] = float(np.median([r["peak_rss_mb"] for r in rounds]))
            added = [r["peak_rss_mb"] - r["setup_rss_mb"] for r in rounds]
            summary["added_rss_mb"] = float(np.median(added))
            faults = [r["faults_per_step"] for r in rounds]
            summary["faults_per_step"] = float(np.median(faults))
        summaries[engine] = summary
    return summaries


def median_interval(values: list[float]) -> tuple[float, float, float]:
    """(low, high, coverage): a distribution-free confidence interval for the median of what
    `values` are a sample of, and how often such an interval holds it (`interval_rank`)."""
    ordered = sorted(values)
    k, coverage = interval_rank(len(ordered))
    return ordered[k - 1], ordered[-k], coverage


def interval_rank(n: int) -> tuple[int, float]:
    """(k, coverage) of the median's interval from n values: its ends are the k-th smallest
    and k-th largest.

    They bracket the median unless k or fewer fall on one side of it, so the coverage is
    1 - 2 P(Binomial(n, 1/2) < k). k is the largest giving at least CONFIDENCE; with too few
    values for that (n < 5) it is 1, the smallest and largest, at less (75% for 3 rounds).
    """

    def coverage(k: int) -> float:
        return 1 - 2 * sum(math.comb(n, i) for i in range(k)) / 2**n

    k = 1
    while 2 * (k + 1) <= n + 1 and coverage(k + 1) >= CONFIDENCE:
        k += 1
    return k, coverage(k)


# ---------------------------------------------------------------- one workload
def run_workload(
    workload: Workload,
    engines: list[str],
    rounds: int,
    modes: dict[str, list[str]],
    threads: int | None,
) -> dict[str, Any]:
    """Check every engine on one workload, then time those that passed in each mode.

    modes: mode key (see MODES) -> the engines that mode times.
    """
    rows, runners = check_engines(workload, engines)
    if "fresh" in modes:
        timed = [e for e in modes["fresh"] if e in runners]
        for engine, summary in summarize(fresh_rounds(workload, timed, rounds, threads)).items():
            rows[engine]["fresh"] = summary
    if "in_process" in modes:
        timed_runners = {e: runners[e] for e in modes["in_process"] if e in runners}
        for engine, summary in summarize(
            in_process_rounds(workload, timed_runners, rounds)
        ).items():
            rows[engine]["in_process"] = summary
    return {
        "name": workload.name,
        "what": workload.what,
        "unit": workload.unit,
        "steps_per_block": workload.steps,
        "units_per_step": workload.units_per_step,
        "warmup_steps": workload.warmup,
        "blocks_per_fresh_process": workload.blocks,
        "target": {
            "ratio": workload.target_ratio,
            "replay_ratio": workload.replay_target_ratio,
            "added_rss_mb": workload.target_added_mb,
        },
        "engines": rows,
        **verdict(workload, rows),
    }


def verdict(workload: Workload, rows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """pass/fail of autograd_lite (and of its replay, where the workload has a replay target)
    against the workload's targets, on the headline figures."""
    if "autograd_lite" not in rows:
        return {"result": "not run", "reasons": ["autograd_lite was not among the engines"]}
    reasons = _misses("autograd_lite", rows["autograd_lite"], workload.target_ratio)
    target = workload.target_added_mb
    fresh = rows["autograd_lite"].get("fresh") or {}
    if target is not None and fresh.get("added_rss_mb", 0.0) > target:
        reasons.append(f"+{fresh['added_rss_mb']:.0f} MB over setup > +{target:.0f} MB")
    if workload.replay_target_ratio is not None and "replay" in rows:
        reasons += _misses("replay", rows["replay"], workload.replay_target_ratio)
    if any(r.endswith("did not run") for r in reasons):
        return {"result": "not run", "reasons": reasons}
    return {"result": "fail" if reasons else "pass", "reasons": reasons}


def _misses(engine: str, row: dict[str, Any], target: float) -> list[str]:
    """Why `engine`'s headline ratio misses `target` (nothing if it does not)."""
    who = ENGINES[engine]
    if row["status"] != "ok":
        return [f"{who}: {row['status']}: {row['note']}"]
    fresh = row.get("fresh")
    if fresh is None:
        return ["the fresh-process (headline) mode did not run"]
    if "error" in fresh:
        return [f"{who}: {fresh['error']}"]
    if fresh["ratio"] is None:
        return ["no numpy baseline to compare with"]
    if fresh["ratio"] <= target:
        return []
    # A third digit where two would print the target itself ("1.05x numpy > 1.05x").
    digits = 2 if round(fresh["ratio"], 2) > target else 3
    reason = f"{who} {fresh['ratio']:.{digits}f}x numpy > {target}x"
    low, high = fresh["interval"]
    if low <= target:
        reason += f" (within this run's noise: its interval, {low:.2f}x to {high:.2f}x, holds it)"
    return [reason]


def _progress(message: str) -> None:
    print(f"[benchmark] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- machine
def machine_info(threads: dict[str, Any]) -> dict[str, Any]:
    """What the numbers depend on: CPU, cores, Python, numpy and its BLAS, thread counts."""
    info: dict[str, Any] = {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "numpy": np.__version__,
        "blas": _blas(),
        "threads": threads,
        "environment": {
            k: v
            for k, v in os.environ.items()
            if k.startswith(("OPENBLAS_", "OMP_", "MKL_")) or k == "PYTHONHASHSEED"
        },
    }
    for engine in OPTIONAL:
        if available(engine):
            info[engine] = getattr(importlib.import_module(engine), "__version__", "unknown")
    import autograd_lite

    info["autograd_lite"] = autograd_lite.__version__
    return info


def _load_average() -> float | None:
    """The 1-minute load average: other work on the machine shows in every timing."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _blas() -> str:
    """numpy's BLAS as built, and (through threadpoolctl) the kernel it runs on this CPU."""
    try:
        build = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        text = f"{build.get('name')} {build.get('version')}"
    except (TypeError, KeyError):  # numpy < 1.26 prints its config instead
        text = "unknown"
    try:
        import threadpoolctl
    except ImportError:
        return text
    blas = [lib for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"]
    if blas:  # the first is numpy's own (torch's MKL, when loaded, comes later)
        text += f" ({blas[0]['internal_api']}, {blas[0].get('architecture')} kernels)"
    return text


# ---------------------------------------------------------------- report
def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def _cell(row: dict[str, Any], engine: str, table: str) -> str:
    """A timing table's cell, time (ratio), or a memory table's, peak (+ added)."""
    result = row.get("fresh" if table == "memory" else table)
    if row["status"] != "ok" or result is None or "error" in result:
        return "-" if result is None and row["status"] == "ok" else row["status"]
    if table == "memory":
        # What the workload added over the engine's own imports and setup, in parentheses:
        # imports differ a lot between engines (PyTorch's alone is ~220 MB).
        memory = f"{result['peak_rss_mb']:.0f} MB (+{result['added_rss_mb']:.0f})"
        return f"{memory}, {result['faults_per_step']:.0f} pf"
    text = _duration(result["median_s"])
    if engine == "numpy" or result["ratio"] is None:
        return text
    low, high = result["interval"]
    return f"{text} ({result['ratio']:.2f}x, {low:.2f}-{high:.2f})"


def tables(report: dict[str, Any]) -> dict[str, list[list[str]]]:
    """The tables of the modes that ran, each with its header first: "fresh" (the headline,
    with the targets), "memory" (from the same fresh processes) and "in_process"."""
    engines = report["engines"]
    labels = [ENGINES[e] for e in engines]
    headers = {
        "fresh": ["workload", "unit", *labels, "target", "result"],
        "memory": ["workload", *labels, "target"],
        "in_process": ["workload", "unit", *labels],
    }
    out: dict[str, list[list[str]]] = {}
    for table, header in headers.items():
        if ("fresh" if table == "memory" else table) not in report["modes"]:
            continue
        out[table] = [header]
        for w in report["workloads"]:
            cells = [_cell(w["engines"][e], e, table) for e in engines]
            added = w["target"]["added_rss_mb"]
            memory = "-" if added is None else f"<= +{added:.0f} MB"
            replay = w["target"].get("replay_ratio")
            speed = f"<= {w['target']['ratio']}x numpy" + ("" if added is None else f", {memory}")
            speed += "" if replay is None else f" (replay <= {replay}x)"
            first = [w["name"]] if table == "memory" else [w["name"], w["unit"]]
            tail = {"fresh": [speed, w["result"]], "memory": [memory], "in_process": []}[table]
            out[table].append([*first, *cells, *tail])
    return out


def _table_title(report: dict[str, Any], table: str) -> str:
    rounds = report["rounds"]
    coverage = interval_rank(rounds)[1]
    if table == "fresh":
        return (
            f"{MODES['fresh']} (the headline): each engine alone in a fresh process, {rounds} "
            "rounds, order rotated; ratio = median over the rounds of engine / numpy in the "
            f"same round, then the interval that holds the median ratio with {coverage:.0%} "
            "confidence"
        )
    if table == "memory":
        return (
            "peak resident set (+ added over imports and setup) and minor page faults per step "
            "in the timed blocks (pf), from the same fresh processes, medians over the rounds"
        )
    malloc = report["modes"]["in_process"]["malloc"]
    return (
        f"{MODES['in_process']}: all engines in this one process, {rounds} rounds, order "
        f"rotated, ratios as above; allocator: {malloc}"
    )


def _text_table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


def _markdown_table(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows[1:]])


def _notes(report: dict[str, Any]) -> list[str]:
    notes = []
    # The load before the run is other work; the one after also counts this run's own, up to
    # one per core (BLAS threads).
    load, cores = report["load_average"], report["machine"]["cores"] or 1
    before, after = load["before"] or 0.0, load["after"] or 0.0
    if max(before, after - cores) > cores / 2:
        notes.append(
            f"the machine was busy (load average {before:.2f} before the run, {after:.2f} after, "
            f"on {cores} cores): "
            "the medians resist it, but multi-threaded BLAS calls stall on busy cores, which "
            "adds to both sides of the mlp and conv ratios; compare runs made with "
            "--threads 1, or on an idle machine"
        )
    fresh = report["modes"].get("fresh")
    if fresh and fresh["engines"] != report["engines"]:
        labels = ", ".join(ENGINES[e] for e in fresh["engines"])
        notes.append(f"--quick: only {labels} ran in fresh processes")
    skipped: dict[tuple[str, str], list[str]] = {}
    for w in report["workloads"]:
        for engine, row in w["engines"].items():
            if row["status"] == "skipped":
                skipped.setdefault((ENGINES[engine], row["note"]), []).append(w["name"])
    for (label, note), names in skipped.items():
        notes.append(f"{label} skipped on {', '.join(names)}: {note}")
    for w in report["workloads"]:
        for engine, row in w["engines"].items():
            if row["status"] in ("error", "wrong"):
                notes.append(f"{w['name']} / {ENGINES[engine]}: {row['status']}: {row['note']}")
            for mode in MODES:
                if "error" in row.get(mode, {}):
                    notes.append(
                        f"{w['name']} / {ENGINES[engine]}, {MODES[mode]}: {row[mode]['error']}"
                    )
        if w["result"] == "fail":
            notes.append(f"{w['name']} fails: {'; '.join(w['reasons'])}")
    return notes


def _load_text(report: dict[str, Any]) -> str:
    load = report["load_average"]
    if load["before"] is None:
        return "load average unknown"
    return f"load average {load['before']:.2f} before, {load['after']:.2f} after"


def render_text(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        f"{m['cpu']}, {m['cores']} cores; {m['python']}; numpy {m['numpy']} ({m['blas']}); "
        f"threads: BLAS {m['threads']['blas_threads']}, torch {m['threads']['torch_threads']}",
        f"every engine's first step checked against numpy's to {TOLERANCE:g} before timing; "
        f"{_load_text(report)}"
        + ("  [--quick: smoke run, timings mean nothing]" if report["quick"] else ""),
    ]
    for key, rows in tables(report).items():
        lines += ["", _table_title(report, key) + ":", _text_table(rows)]
    notes = _notes(report)
    return "\n".join(lines + (["", *notes] if notes else []))


def render_markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        "# autograd_lite benchmark",
        "",
        f"`{report['command']}` on {report['created']}"
        + (" (**--quick smoke run: the timings mean nothing**)" if report["quick"] else ""),
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['platform']}; {m['python']}; numpy "
        f"{m['numpy']} with {m['blas']}; {m['threads']['blas_threads']} BLAS threads, PyTorch "
        f"set to {m['threads']['torch_threads']} ({m['threads']['source']}).",
        "",
        "Time per unit and its ratio to numpy's. Every engine's first step matched numpy's "
        f"(loss, gradients, updated weights) to {TOLERANCE:g} before timing; "
        f"{_load_text(report)}.",
    ]
    for key, rows in tables(report).items():
        lines += ["", _table_title(report, key) + ":", "", _markdown_table(rows)]
    lines += ["", "Workloads:", ""]
    lines += [f"- **{w['name']}**: {w['what']}" for w in report["workloads"]]
    notes = _notes(report)
    if notes:
        lines += ["", "Notes:", ""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- command line
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m demos.benchmark",
        description="autograd_lite against hand-written numpy (and PyTorch, HIPS autograd, "
        "MyGrad where installed): time per step and ratio to numpy, each engine in fresh "
        "processes (the headline) and all in one process; peak memory.",
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run (~20 s)")
    parser.add_argument("--only", choices=list(WORKLOADS), help="run this workload only")
    parser.add_argument(
        "--engines",
        default=",".join(ENGINES),
        help="comma-separated engines to run (numpy is always included); default: all",
    )
    parser.add_argument("--rounds", type=int, help="rounds in each mode (default 3, --quick 2)")
    parser.add_argument(
        "--mode",
        choices=("both", "fresh", "in-process"),
        default="both",
        help=f"fresh: {MODES['fresh']} (the headline); in-process: {MODES['in_process']}",
    )
    parser.add_argument(
        "--threads", type=int, help="BLAS and torch threads (default: numpy's BLAS default)"
    )
    parser.add_argument("--out", type=Path, default=Path("runs/benchmark"), help="output folder")
    parser.add_argument("--worker", nargs=2, metavar=("NAME", "ENGINE"), help=argparse.SUPPRESS)
    parser.add_argument("--layout", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = sorted(set(engines) - set(ENGINES))
    if unknown:
        parser.error(f"unknown engines {unknown}; choose from {list(ENGINES)}")
    args.engines = [e for e in ENGINES if e in engines or e == "numpy"]
    if args.worker and (args.worker[0] not in WORKLOADS or args.worker[1] not in ENGINES):
        parser.error(f"--worker NAME ENGINE: NAME in {list(WORKLOADS)}, ENGINE in {list(ENGINES)}")
    args.rounds = args.rounds or (2 if args.quick else 3)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    args = parse_args(arguments)
    threads = configure_threads(args.threads)
    if args.worker:
        print(json.dumps(run_worker(*args.worker, args.quick, args.layout)))
        return 0
    modes: dict[str, dict[str, Any]] = {}
    if args.mode != "in-process":
        # --quick spares the optional engines' fresh processes (torch's import alone is ~2 s).
        fresh = [e for e in args.engines if not (args.quick and e in OPTIONAL)]
        modes["fresh"] = {"label": MODES["fresh"], "engines": fresh, "malloc": "system default"}
    if args.mode != "fresh":
        malloc = keep_freed_memory()  # in this process only: the fresh workers keep the default
        modes["in_process"] = {
            "label": MODES["in_process"],
            "engines": args.engines,
            "malloc": malloc,
        }
    names = [args.only] if args.only else list(WORKLOADS)
    load_before = _load_average()
    timed = {mode: m["engines"] for mode, m in modes.items()}
    workloads = [
        run_workload(WORKLOADS[n](args.quick), args.engines, args.rounds, timed, args.threads)
        for n in names
    ]
    report = {
        "command": " ".join(["python -m demos.benchmark", *arguments]),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "quick": args.quick,
        "rounds": args.rounds,
        "tolerance": TOLERANCE,
        "engines": args.engines,
        "modes": modes,
        "machine": machine_info(threads),
        "load_average": {"before": load_before, "after": _load_average()},
        "workloads": workloads,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "benchmark.json").write_text(json.dumps(report, indent=1) + "\n")
    (args.out / "benchmark.md").write_text(render_markdown(report))
    print(render_text(report))
    print(f"\nwritten: {args.out / 'benchmark.json'}, {args.out / 'benchmark.md'}")
    failed = [
        w
        for w in workloads
        if w["engines"].get("autograd_lite", {}).get("status") in ("wrong", "error")
    ]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
