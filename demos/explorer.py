"""Explore the lab networks' backward passes, epoch by epoch: `python -m demos.explorer`.

Trains two networks on the lab's `linear` set, as the report did (full-batch gradient descent
at lr 0.1 on L = 1/(2m) sum (p - y)^2), records the backward pass with viz.watch() at the
chosen epochs (0, 10, 100, 1000 and 10000 by default), and writes one explorer page per
network into the output folder (default runs/explorer):

  explorer_mlp.html   the report's 2-4-4-1 sigmoid network, as in the lab's default run
  explorer_conv.html  the same behind a Conv1d(1, 4, k=2) first layer: the variant the original
                      report got 38% with. From init seed 2 (of seeds 0 to 5, the one that
                      stays there longest) it spends its first 1000 epochs on the loss
                      plateau (loss near 0.125, every output near 0.5, accuracy 52%, the
                      majority rate), and the gradient that reaches the conv layer's
                      output is a hundredth of the one leaving the loss (light blue boxes).
                      By epoch 10000 it has left the plateau (99%), and ten times more of the
                      gradient gets through. 38% is a network stopped on the plateau.

Each page opens offline in any browser: drag the slider to scrub through the epochs, hover a
node or an edge for its numbers, click a parameter for its chain-rule paths.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import autograd_lite as al
from autograd_lite import viz
from demos.lab1.datasets import Dataset, Seeds, load
from demos.lab1.train import RunConfig, accuracy, build_model, half_squared_error, train

EPOCHS = (0, 10, 100, 1000, 10_000)
QUICK_EPOCHS = (0, 10, 100)


@dataclass(frozen=True)
class Network:
    """One page: a network of the lab (a RunConfig of full-batch gradient descent) and its
    initialization seed."""

    title: str
    config: RunConfig
    init_seed: int


NETWORKS = {
    "mlp": Network("The report's 2-4-4-1 sigmoid network", RunConfig(lr=0.1), 0),
    "conv": Network(
        "The Conv1d variant: the plateau the report's 38% run stopped on",
        RunConfig(lr=0.1, conv_kernel=2),
        2,
    ),
}


def record(network: Network, data: Dataset, epochs: Sequence[int]) -> list[viz.Snapshot]:
    """Train `network` with the lab's `train` and snapshot its backward pass at each of
    `epochs`: the gradient that epoch's step takes."""
    model = build_model(network.config, network.init_seed)
    seeds = Seeds(0, network.init_seed, 0)
    x = al.tensor(data.x, name="x")
    snapshots = []
    done = 0
    for epoch in sorted(set(epochs)):
        if epoch > done:
            # Full-batch gradient descent keeps no state between steps: training in stretches
            # between the recorded epochs is the same run as training in one go.
            train(model, data, replace(network.config, epochs=epoch - done), seeds)
            done = epoch
        model.zero_grad()
        with viz.watch():
            p = model(x)
            loss = half_squared_error(p, data.y)
            loss.name = "loss"
            loss.backward()
        note = f"training accuracy {accuracy(p.data, data.y):.0%}"
        snapshots.append(viz.snapshot(loss, f"epoch {epoch}", note=note, module=model))
    return snapshots


def write(
    out: Path, epochs: Sequence[int] = EPOCHS, names: Sequence[str] = tuple(NETWORKS)
) -> dict[str, Path]:
    """Record each named network on the linear set (data seed 0, as the lab's default run)
    and write its page `explorer_<name>.html` into `out`; returns the pages by name."""
    data = load("linear", 0)
    return {
        name: viz.html(
            record(NETWORKS[name], data, epochs),
            out / f"explorer_{name}.html",
            title=NETWORKS[name].title,
        )
        for name in names
    }


@contextlib.contextmanager
def chromium(width: int = 1400, height: int = 900) -> Iterator[Any]:
    """Headless Chromium driven by selenium through the system's ChromeDriver (Debian's
    chromium and chromium-driver: nothing is downloaded), with a fresh profile and its
    background networking off, so it runs offline. Yields the selenium driver."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if browser is None or driver is None:
        raise RuntimeError("needs Chromium and ChromeDriver: apt install chromium chromium-driver")
    with tempfile.TemporaryDirectory(prefix="explorer-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = browser
        for flag in (
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
        ):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        chrome = webdriver.Chrome(service=Service(driver), options=options)
        try:
            # The page's size, whatever room the window's frame would take.
            size = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}
            chrome.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", size)
            yield chrome
        finally:
            chrome.quit()


def screenshot(page: Path, png: Path, view: str, hover: str) -> Path:
    """A 1400x900 picture of `page` opened at `view` (its #fragment, e.g. pass=2&leaf=w),
    with the pointer on the element of id `hover`: the README's picture."""
    from selenium.webdriver.common.action_chains import ActionChains

    with chromium() as browser:
        browser.get(f"{page.resolve().as_uri()}#{view}")
        # At the element's center as the page shows it (selenium's move_to_element would
        # scroll first).
        box = browser.find_element("id", hover).rect
        actions = ActionChains(browser)
        actions.w3c_actions.pointer_action.move_to_location(
            int(box["x"] + box["width"] / 2), int(box["y"] + box["height"] / 2)
        )
        actions.perform()
        browser.save_screenshot(str(png))
    return png


def _epochs(text: str) -> tuple[int, ...]:
    epochs = tuple(int(e) for e in text.split(","))
    if any(e < 0 for e in epochs):
        raise argparse.ArgumentTypeError(f"epochs must be 0 or more, got {text}")
    return epochs


def main(argv: Sequence[str] | None = None) -> dict[str, Path]:
    parser = argparse.ArgumentParser(
        prog="python -m demos.explorer",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--out", type=Path, default=Path("runs/explorer"), help="output folder (runs/explorer)"
    )
    parser.add_argument(
        "--epochs",
        type=_epochs,
        default=None,
        help="comma-separated epochs to record (default 0,10,100,1000,10000)",
    )
    parser.add_argument(
        "--networks",
        default=",".join(NETWORKS),
        help=f"comma-separated networks to write, from {', '.join(NETWORKS)} (default both)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="record epochs 0,10,100 only (for tests)"
    )
    parser.add_argument(
        "--screenshot",
        type=Path,
        metavar="PNG",
        help="also save a 1400x900 picture of the mlp page (third pass, layers.0.weight "
        "selected, the pointer on the first sigmoid) taken with headless Chromium: the "
        "README's demos/images/explorer.png",
    )
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.networks.split(",") if n.strip()]
    unknown = sorted(set(names) - set(NETWORKS))
    if unknown or not names:
        parser.error(f"--networks: choose from {', '.join(NETWORKS)}, got {args.networks!r}")
    if args.screenshot and "mlp" not in names:
        parser.error("--screenshot pictures the mlp page: include mlp in --networks")
    epochs = args.epochs or (QUICK_EPOCHS if args.quick else EPOCHS)
    written = write(args.out, epochs, names)
    if args.screenshot:
        written["screenshot"] = screenshot(
            written["mlp"], args.screenshot, "pass=2&leaf=layers.0.weight", hover="op1"
        )
    for path in written.values():
        print(f"wrote {path}")
    return written


if __name__ == "__main__":
    main()
