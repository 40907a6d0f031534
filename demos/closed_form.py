"""python -m demos.closed_form: the lab report's backprop equations are what the tape computes.

Part 1 takes the lab's 2-4-4-1 sigmoid network (as demos.lab1 trains it) and prints every
parameter's gradient three ways, side by side: from the tape (loss.backward() through nn.MLP),
from the report's equations (autograd_lite.testing.closed_form.lab_backprop, plain numpy), and
from finite differences. Part 2 records the same forward pass on a Tape, in the report's own
notation, and walks the backward pass op by op: each VJP rule, applied by the engine, gives one
of the report's lines.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

import autograd_lite as al
from autograd_lite.testing import closed_form
from autograd_lite.testing.assertions import assert_gradients_match, numeric_gradient

from .lab1.datasets import DATASETS, load
from .lab1.train import RunConfig, build_model, half_squared_error

NAMES = ("W1", "b1", "W2", "b2", "W3", "b3")
EPS = 1e-6
_RULES = re.compile(r",\s+(?=d\w+\s*=)")  # "dx = g,  dy = g" -> ["dx = g", "dy = g"]


def lab_forward(X: np.ndarray, y: np.ndarray, *params: Any) -> dict[str, al.Tensor]:
    """The report's forward pass, a1 = sigmoid(X W1 + b1), ..., L = (1/2m) sum((a3 - y)^2),
    with every intermediate named so that the tape listing reads like the report."""
    W1, b1, W2, b2, W3, b3 = params
    t: dict[str, al.Tensor] = {}

    def keep(name: str, value: al.Tensor) -> al.Tensor:
        value.name = name
        t[name] = value
        return value

    a = X
    for n, (W, b) in enumerate(((W1, b1), (W2, b2), (W3, b3)), start=1):
        before = "X" if n == 1 else f"a{n - 1}"
        a = keep(f"a{n}", al.sigmoid(keep(f"z{n}", keep(f"{before}@W{n}", a @ W) + b)))
    e = keep("e", a - y)
    keep("L", al.sum(keep("e^2", e**2)) / (2 * len(X)))
    return t


def _row(values: Sequence[float]) -> str:
    return "  ".join(f"{v:+.12f}" for v in values)


def part1(X: np.ndarray, y: np.ndarray, seed: int) -> list[np.ndarray]:
    """Print every gradient from the tape, the report and finite differences; return the
    parameters in the report's layout."""
    model = build_model(RunConfig(), init_seed=seed)
    loss = half_squared_error(model(X), y)
    loss.backward()
    params, tape_grads = [], []
    for layer in model.layers:
        W, b = closed_form.from_torch_layout(layer.weight.data, layer.bias.data)
        dW, db = closed_form.to_torch_layout(layer.weight.grad, layer.bias.grad)
        params += [W.copy(), b.copy()]
        tape_grads += [dW, db]
    report = closed_form.lab_backprop(X, y, *params)
    numeric = numeric_gradient(lambda *p: lab_forward(X, y, *p)["L"], *params, eps=EPS)

    print(f"L = (1/2m) sum((a3 - y)^2) = {loss.item():.12f} on m = {len(X)} points")
    print(
        "\nEvery gradient three ways, in the report's layout (W of shape (in, out); nn.Linear\n"
        "stores weight = W^T, so layers.0.weight.grad is dL/dW1 transposed):\n"
        "  tape     loss.backward() through nn.MLP([2, 4, 4, 1], 'sigmoid', 'sigmoid')\n"
        "  report   the report's equations, closed_form.lab_backprop (numpy, no tape)\n"
        f"  numeric  central differences (L(w + eps) - L(w - eps)) / 2eps, eps = {EPS:g}\n"
    )
    header = f"  {'element':<9}" + "  ".join(f"{c:>15}" for c in ("tape", "report", "numeric"))
    for name, i, grad, num in zip(NAMES, range(6), tape_grads, numeric):
        closed = getattr(report, "d" + name)
        layer = f"layers.{i // 2}.{'weight' if name[0] == 'W' else 'bias'}"
        print(f"dL/d{name}  (from {layer}, shape {closed.shape})")
        print(header)
        for j in np.ndindex(closed.shape):
            print(f"  {list(j)!s:<9}" + _row((grad[j], closed[j], num[j])))
        print(
            f"  max |tape - report| = {np.abs(grad - closed).max():.1e}    "
            f"max |tape - numeric| = {np.abs(grad - num).max():.1e}\n"
        )
    return params


def _rule(t: al.Tensor, i: int) -> str:
    """The VJP rule of input i of the op that made t, from the op's docstring math line."""
    rules = _RULES.split(al.REGISTRY[t.op].prim.formula.rpartition(";")[2].strip())
    return f"{t.op}: {rules[i] if i < len(rules) else rules[0]}"


def part2(X: np.ndarray, y: np.ndarray, params: list[np.ndarray]) -> None:
    """Print the tape of the report's forward pass, then each backward step next to the
    report's line it computes."""
    m = len(X)
    leaves = [al.Tensor(p, requires_grad=True, name=n) for p, n in zip(params, NAMES)]
    with al.Tape() as tape:
        t = lab_forward(al.Tensor(X, name="X"), al.Tensor(y, name="y"), *leaves)
    print("The same forward pass on a Tape, in the report's notation:\n")
    print(tape)
    for name, value in t.items():
        if name != "L":
            value.retain_grad()  # keep the intermediate gradients, to compare them below
    t["L"].backward()
    r = closed_form.lab_backprop(X, y, *params)
    grads = {**t, **dict(zip(NAMES, leaves))}

    print(
        "\nThe backward pass, in reverse tape order. The engine hands each op's VJP rule the\n"
        "gradient g of the op's output and gets the gradient of one input (x, y, z in a rule are\n"
        "the op's own names for its inputs and output, as in its docstring). Each is a line of\n"
        "the report:\n"
        "- the gradients of e, a and z carry the 1/m that the report writes only in front of its\n"
        "  dL/dW and dL/db lines (L = (1/2m) sum(e^2), so dL/de = e/m);\n"
        "- the add's dy is summed over the m rows by the engine (b is broadcast to every row);\n"
        "- max |diff| is rounding: the same products, with the 1/m applied at another step.\n"
    )
    # (gradient of, op output whose VJP computes it, that op's input position, report, value)
    steps = [
        ("e", "e^2", 0, "e / m = (a3 - y) / m", (r.a3 - y) / m),
        ("a3", "e", 0, "(a3 - y) / m", (r.a3 - y) / m),
    ]
    for n in (3, 2, 1):
        delta = "output_delta" if n == 3 else f"hidden{n}_delta"
        error = "(a3 - y)" if n == 3 else f"hidden{n}_error"
        before = "X" if n == 1 else f"a{n - 1}"
        steps += [
            (f"z{n}", f"a{n}", 0, f"{delta} / m = {error} ⊙ a{n} ⊙ (1 - a{n}) / m",
             getattr(r, delta) / m),
            (f"b{n}", f"z{n}", 1, f"dL/db{n} = (1/m) sum({delta}, axis=0)", getattr(r, f"db{n}")),
            (f"W{n}", f"{before}@W{n}", 1, f"dL/dW{n} = (1/m) {before}^T · {delta}",
             getattr(r, f"dW{n}")),
        ]  # fmt: skip
        if n > 1:
            previous = f"hidden{n - 1}_error"
            steps.append(
                (before, f"{before}@W{n}", 0, f"{previous} / m = {delta} · W{n}^T / m",
                 getattr(r, previous) / m)
            )  # fmt: skip

    rules = [_rule(t[out], i) for _, out, i, _, _ in steps]
    head = ("dL/d", "computed by (op: VJP rule)", "the report's line", "max |diff|")
    widths = [6, max(map(len, [head[1], *rules])) + 2, max(len(s[3]) for s in steps) + 2]
    print("  " + "".join(h.ljust(w) for h, w in zip(head, [*widths, 0])))
    for (target, _, _, line, expected), rule in zip(steps, rules):
        diff = np.abs(np.asarray(grads[target].grad) - expected).max()
        cells = (target, rule, line, f"{diff:.1e}")
        print("  " + "".join(c.ljust(w) for c, w in zip(cells, [*widths, 0])))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m demos.closed_form", description=__doc__)
    parser.add_argument("--data", choices=DATASETS, default="xor_easy", help="the lab's data set")
    parser.add_argument("--seed", type=int, default=0, help="initialization (and data) seed")
    args = parser.parse_args(argv)
    data = load(args.data, args.seed)
    X, y = data.x, data.y
    print(f"The lab network, 2-4-4-1 sigmoid, N(0, 1) weights (seed {args.seed}), "
          f"on the {args.data} set\n")  # fmt: skip
    params = part1(X, y, args.seed)
    part2(X, y, params)

    def report(*p: np.ndarray) -> tuple[np.ndarray, ...]:
        r = closed_form.lab_backprop(X, y, *p)
        return r.dW1, r.db1, r.dW2, r.db2, r.dW3, r.db3

    assert_gradients_match(
        lambda *p: lab_forward(X, y, *p)["L"], *params, reference=report, atol=1e-9, rtol=1e-6
    )
    total = sum(p.size for p in params)
    print(
        f"\nassert_gradients_match: tape, finite differences and the report's equations agree "
        f"on all {total} parameters."
    )


if __name__ == "__main__":
    main()
