"""Tools for verifying gradients, ours and those of ops you write yourself.

`autograd_lite.testing.strategies` holds hypothesis strategies (tensors in an op's domain,
broadcastable and matmul shapes, convolution configurations); it needs hypothesis
(`pip install "autograd-lite[test]"`), so it is imported only when first used, and
`import autograd_lite.testing` alone stays numpy-only.

`assert_gradients_match` (tape vs finite differences vs your closed form) and `closed_form`
(the lab's backprop equations in plain numpy) need only numpy.

>>> from autograd_lite.testing import tensors, broadcastable_shapes
"""

from __future__ import annotations

import importlib
from typing import Any

from . import closed_form
from .assertions import assert_gradients_match, numeric_gradient, tape_gradient

_FROM_STRATEGIES = frozenset(
    {
        "VALUE_DOMAINS",
        "ConvParams",
        "broadcastable_shapes",
        "conv_params",
        "matmul_shapes",
        "shapes",
        "tensors",
    }
)


def __getattr__(name: str) -> Any:
    if name == "strategies" or name in _FROM_STRATEGIES:
        strategies = importlib.import_module(".strategies", __name__)
        return strategies if name == "strategies" else getattr(strategies, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "assert_gradients_match",
    "closed_form",
    "numeric_gradient",
    "tape_gradient",
    *sorted(_FROM_STRATEGIES),
]
