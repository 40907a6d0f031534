"""Tools for verifying gradients, ours and those of ops you write yourself.

`autograd_lite.testing.strategies` holds hypothesis strategies (tensors in an op's domain,
broadcastable and matmul shapes, convolution configurations); it needs hypothesis
(`pip install "autograd-lite[test]"`), so it is imported only when first used, and
`import autograd_lite.testing` alone stays numpy-only.

>>> from autograd_lite.testing import tensors, broadcastable_shapes
"""

from __future__ import annotations

import importlib
from typing import Any

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


__all__ = sorted(_FROM_STRATEGIES)
