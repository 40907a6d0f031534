"""See the backward pass of the lab's network: `python -m demos.visualize [--out DIR]`.

Trains the lab's 2-4-4-1 sigmoid network (squared error, the `linear` data set) a few steps,
then writes into DIR (default runs/visualize):
  lab_backward.svg, lab_backward.png   the backward graph of the loss, a gradient on every edge
  lab_forward.svg, lab_forward.png     the same computation the way the data flows
  lab_explain.txt                      d(loss)/d(layers.0.weight) taken apart by the chain rule
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import autograd_lite as al
import nn
from autograd_lite import viz
from demos.lab1.datasets import generate_linear


def main(argv: Sequence[str] | None = None) -> list[Path]:
    parser = argparse.ArgumentParser(prog="python -m demos.visualize", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("runs/visualize"), help="output folder")
    parser.add_argument("--steps", type=int, default=20, help="training steps before drawing")
    parser.add_argument("--lr", type=float, default=0.1, help="gradient descent step size")
    args = parser.parse_args(argv)

    x, y = generate_linear(100, rng=0)
    x, y = al.tensor(x, name="x"), al.tensor(y, name="y")
    model = nn.MLP([2, 4, 4, 1], activation="sigmoid", output_activation="sigmoid", rng=0)
    optimizer = nn.optim.SGD(model.parameters(), lr=args.lr)
    loss_fn = nn.MSELoss()
    for _ in range(args.steps):
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()

    # One more forward pass, drawn: retain_graph keeps the graph (and so every intermediate
    # gradient) alive after backward().
    optimizer.zero_grad()
    loss = loss_fn(model(x), y)
    loss.name = "loss"
    loss.backward(retain_graph=True)
    print(f"loss after {args.steps} steps: {loss.item():.4f}")

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    backward = viz.draw(loss, module=model)
    forward = viz.draw(loss, module=model, view="forward")
    written = [
        viz.render(graph, out / f"lab_{name}.{fmt}")
        for name, graph in (("backward", backward), ("forward", forward))
        for fmt in ("svg", "png")
    ]
    weight = model.layers[0].weight
    explanation = viz.explain(loss, weight, params=dict(model.named_parameters()))
    text_file = out / "lab_explain.txt"
    text_file.write_text(f"{explanation}\n", encoding="utf-8")
    written.append(text_file)

    print(explanation)
    print(f"\nwritten to {out.resolve()}:")
    for path in written:
        print(f"  {path.name}")
    return written


if __name__ == "__main__":
    main()
