"""The README's example, run as written."""

import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_example_runs_and_matches_hand_derived_gradient(capsys):
    code = re.search(r"## Ten lines\n\n```python\n(.*?)```", README.read_text(), re.S).group(1)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    x, W, b, y = (namespace[k].data for k in ("x", "W", "b", "y"))
    p = 1 / (1 + np.exp(-(x @ W + b)))
    delta = 2 * (p - y) * p * (1 - p) / y.size  # d mean((p-y)^2) / d(pre-activation)
    np.testing.assert_allclose(namespace["W"].grad, x.T @ delta, rtol=1e-12)
    np.testing.assert_allclose(namespace["b"].grad, delta.sum(axis=0), rtol=1e-12)
    assert capsys.readouterr().out.strip()
