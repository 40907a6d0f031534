"""detect_anomaly: name the first op that made a NaN or Inf, and the user's line that called it."""

from __future__ import annotations

import contextlib

import numpy as np

from . import engine
from .errors import user_location
from .tensor import Tensor


def _finite(value) -> bool:
    return (
        value is None
        or not np.issubdtype(np.asarray(value).dtype, np.inexact)
        or bool(np.isfinite(np.asarray(value)).all())
    )


class detect_anomaly(engine.Observer, contextlib.ContextDecorator):
    """Context manager and decorator that checks every recorded op (slow: for debugging).

    Forward: the first op whose output holds NaN or Inf raises FloatingPointError naming the
    op, its input shapes and your line. Backward (run it inside the block too): a VJP that
    turns a finite gradient into NaN or Inf is where the anomaly started (the ops before it
    on the path only pass it on); once the walk is over, the earliest such op on the tape is
    named, with the line that created it, before any leaf's `.grad` changes.
    """

    def __enter__(self) -> detect_anomaly:
        self._created_at: dict = {}
        self._tainted: set = set()  # nodes that were handed a non-finite gradient
        self._origins: list = []  # (tape position, node, input, what) where one started
        engine._observers.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        engine._observers.remove(self)
        self._created_at.clear()

    def on_forward(self, out: Tensor, arrays: list) -> None:
        where = self._created_at[out._node] = user_location()
        if _finite(out.data):
            return
        bad = [i for i, x in enumerate(arrays) if not _finite(x)]
        cause = (
            f"its input #{bad[0]} already held NaN/Inf"
            if bad
            else "all of its inputs were finite, so this op is where it started"
        )
        shapes = ", ".join(str(np.shape(x)) for x in arrays)
        raise FloatingPointError(
            f"{out.op}: output holds {_kinds(out.data)} ({cause}); input shapes {shapes} ({where})"
        )

    def on_backward(self, node: engine.Node, i: int, g) -> None:
        if _finite(g.data if isinstance(g, Tensor) else g):
            return
        x = node.inputs[i]
        if type(x) is engine.Node:
            self._tainted.add(x)
        if node not in self._tainted:
            self._origins.append((node.seq, node, i, _kinds(g)))

    def on_backward_end(self) -> None:
        origins = self._origins
        self._origins, self._tainted = [], set()
        if origins:
            _, node, i, kinds = min(origins, key=lambda origin: origin[0])
            raise FloatingPointError(
                f"{node.op.name}: backward produced {kinds} in the gradient of input #{i} "
                f"(op created at {self._created_at.get(node, 'an unknown line')})"
            )


def _kinds(value) -> str:
    array = np.asarray(value.data if isinstance(value, Tensor) else value)
    found = []
    if np.isnan(array).any():
        found.append("NaN")
    if np.isinf(array).any():
        found.append("Inf")
    return " and ".join(found)
