"""The explorer page in a real browser: headless Chromium driven by selenium opens the file
offline (file://) and a user hovers, scrubs and clicks. Skips, saying what is missing, without
Chromium, ChromeDriver or selenium (CI installs them: .ci/run)."""

from __future__ import annotations

import importlib.util
import shutil
import struct

import pytest

import autograd_lite as al
from autograd_lite import viz
from demos import explorer
from demos.lab1.datasets import load

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
missing = [
    what
    for what, found in (
        ("Chromium (apt install chromium)", CHROMIUM),
        ("ChromeDriver (apt install chromium-driver)", CHROMEDRIVER),
        ("selenium (pip install selenium)", importlib.util.find_spec("selenium")),
        ("the graphviz package", importlib.util.find_spec("graphviz")),
        ("a Graphviz renderer", viz.find_renderer()),
    )
    if not found
]
pytestmark = pytest.mark.skipif(
    bool(missing), reason=f"the browser test needs {', '.join(missing)}: not installed"
)

if not missing:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """The lab network's explorer at three epochs: its file and what it shows of each."""
    snapshots = explorer.record(explorer.NETWORKS["mlp"], load("linear", 0), (0, 10, 300))
    path = viz.html(snapshots, tmp_path_factory.mktemp("explorer") / "lab.html")
    return path, [s.data for s in snapshots]


@pytest.fixture(scope="module")
def browser():
    with explorer.chromium() as driver:
        yield driver


@pytest.fixture
def opened(browser, page):
    path, passes = page
    browser.get(path.as_uri())
    return browser, passes


def _style(browser, selector: str, prop: str) -> str:
    return browser.execute_script(
        f"return getComputedStyle(document.querySelector({selector!r})).{prop}"
    )


def _caption(browser) -> list[str]:
    return [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#caption > *")]


def _rgb(hex_color: str) -> str:
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def test_the_page_loads_offline_without_script_errors(opened):
    browser, passes = opened
    assert browser.execute_script("return window.explorerErrors") == []
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == []
    ticks = [b.text for b in browser.find_elements(By.CSS_SELECTOR, "#ticks button")]
    assert ticks == ["epoch 0", "epoch 10", "epoch 300"]
    assert _caption(browser) == ["epoch 0", f"loss = {passes[0]['value']}", passes[0]["note"]]


def test_hovering_a_node_shows_its_gradient(opened):
    browser, passes = opened
    weight = next(j for j, leaf in passes[0]["leaves"].items() if leaf["name"] == "layers.0.weight")
    tip = browser.find_element(By.ID, "tip")
    assert not tip.is_displayed()
    ActionChains(browser).move_to_element(browser.find_element(By.ID, weight)).perform()
    assert tip.is_displayed()
    rows = dict(passes[0]["nodes"][weight]["tip"]["rows"])
    assert "layers.0.weight" in tip.text
    assert f"d(loss)/d(layers.0.weight) {rows['d(loss)/d(layers.0.weight)']}" in tip.text


def test_hovering_an_edge_shows_the_gradient_it_carried(opened):
    browser, passes = opened
    # A point on the edge's line (the middle of its bounding box may be off a curve).
    x, y = browser.execute_script(
        """const line = document.querySelector('#e0_1 path.hit');
        line.scrollIntoView({block: 'center', inline: 'center'});
        const p = line.getPointAtLength(line.getTotalLength() / 2);
        const q = new DOMPoint(p.x, p.y).matrixTransform(line.getScreenCTM());
        return [q.x, q.y];"""
    )
    actions = ActionChains(browser)
    actions.w3c_actions.pointer_action.move_to_location(int(x), int(y))
    actions.perform()
    text = browser.find_element(By.ID, "tip").text
    rows = dict(passes[0]["edges"]["e0_1"]["tip"]["rows"])
    assert "sends its input w (layers.0.weight)" in text
    assert f"gradient {rows['gradient']}" in text and "shape (4, 2) float64" in text


def test_moving_the_slider_changes_an_edges_color(opened):
    browser, passes = opened
    first, last = passes[0]["edges"], passes[-1]["edges"]
    edge = next(e for e in first if first[e]["color"] != last[e]["color"])
    line = f"#{edge} path.line"
    assert _style(browser, line, "stroke") == _rgb(first[edge]["color"])
    browser.find_element(By.ID, "pass").send_keys(Keys.END)  # as a user scrubs: input events
    assert _style(browser, line, "stroke") == _rgb(last[edge]["color"])
    assert _caption(browser) == ["epoch 300", f"loss = {passes[-1]['value']}", passes[-1]["note"]]
    label = browser.find_element(By.CSS_SELECTOR, f"#{edge} text").get_attribute("textContent")
    assert label == last[edge]["label"]


def test_clicking_a_leaf_lights_every_path_to_it_and_shows_explain(opened):
    browser, passes = opened
    leaf, info = next(
        (j, leaf) for j, leaf in passes[0]["leaves"].items() if leaf["name"] == "layers.1.bias"
    )
    browser.find_element(By.ID, leaf).click()
    on_path = {e for e in info["ids"] if e.startswith("e")}
    off_path = set(passes[0]["edges"]) - on_path
    assert on_path and off_path
    opacity = {e: float(_style(browser, f"#{e}", "opacity")) for e in on_path | off_path}
    assert all(opacity[e] == 1 for e in on_path) and all(opacity[e] < 0.5 for e in off_path)
    width = {e: float(_style(browser, f"#{e} path.line", "strokeWidth")[:-2]) for e in on_path}
    assert min(width.values()) > 3  # drawn bolder than the 3px of every other edge
    panel = browser.find_element(By.ID, "explain")
    assert panel.text.startswith("d(loss)/d(layers.1.bias) by the chain rule: 1 path")
    assert panel.text.endswith("(matches)")
    browser.find_element(By.ID, "pass").send_keys(Keys.END)  # the panel follows the slider
    last = passes[-1]["leaves"][leaf]["explain"]
    assert panel.text.splitlines()[-1] == last.splitlines()[-1] != info["explain"].splitlines()[-1]


def test_a_page_of_one_pass_has_no_slider(browser, tmp_path):
    w = al.tensor([1.0, -2.0], requires_grad=True, name="w")
    with viz.watch():
        loss = (w * w).sum()
        loss.backward()
    browser.get(viz.html(loss, tmp_path / "one.html").as_uri())
    assert browser.execute_script("return window.explorerErrors") == []
    assert not browser.find_element(By.ID, "pass").is_displayed()
    assert _caption(browser)[1] == f"#{loss._node.seq} = 5"


def test_a_link_opens_a_pass_with_a_parameter_selected(browser, page):
    path, passes = page
    browser.get(f"{path.as_uri()}#pass=2&leaf=layers.1.bias")
    assert _caption(browser)[0] == "epoch 300"
    panel = browser.find_element(By.ID, "explain").text
    (bias,) = [leaf for leaf in passes[2]["leaves"].values() if leaf["name"] == "layers.1.bias"]
    assert panel.startswith("d(loss)/d(layers.1.bias) by the chain rule")
    assert panel.splitlines()[-1] == bias["explain"].splitlines()[-1]
    selected = browser.find_element(By.CSS_SELECTOR, "#leaves tr.selected").text
    assert selected.startswith("layers.1.bias")


def test_the_readmes_screenshot_command(tmp_path):
    png = tmp_path / "explorer.png"
    args = ["--quick", "--networks", "mlp", "--out", str(tmp_path), "--screenshot", str(png)]
    assert explorer.main(args)["screenshot"] == png
    header = png.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", header[16:24]) == (1400, 900)
