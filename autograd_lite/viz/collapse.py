"""Repeated structure on the tape: runs of identical blocks of ops (the layers of a deep net, the
steps of a long chain), so a big graph can be drawn as its first block, its last block and one
"x N more" box between them.

Two ops look alike when they are the same op with the same parameters and output shape, and take
alike inputs: a constant, a leaf of the same shape, or the output of the op the same number of
places back on the tape. A block of `p` ops repeats when op i looks like op i + p, op by op.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..tensor import Tensor
from .graph import Graph, params_text


@dataclass(frozen=True)
class Run:
    """`count` blocks of `period` ops each, starting at position `start` of `Graph.ops`."""

    start: int
    period: int
    count: int

    @property
    def hidden(self) -> range:
        """Positions of the ops drawn as one box: every block but the first and the last."""
        return range(self.start + self.period, self.start + (self.count - 1) * self.period)


def find_runs(graph: Graph, min_count: int = 3, max_period: int = 64) -> list[Run]:
    """Non-overlapping runs of at least `min_count` identical blocks, found left to right; at
    each position the period covering the most ops wins."""
    ids = _signature_ids(graph)
    n = len(ids)
    best_cover = np.zeros(n, np.int64)
    best_period = np.zeros(n, np.int64)
    for p in range(1, min(max_period, n // min_count) + 1):
        repeats = ids[p:] == ids[:-p]  # repeats[i]: op i + p looks like op i
        positions = np.arange(n - p)
        breaks = np.append(np.flatnonzero(~repeats), n - p)
        streak = breaks[np.searchsorted(breaks, positions)] - positions
        blocks = (streak + p) // p
        cover = np.where(blocks >= min_count, blocks * p, 0)
        better = cover > best_cover[: n - p]
        best_cover[: n - p][better] = cover[better]
        best_period[: n - p][better] = p
    runs = []
    i = 0
    while i < n:
        cover = int(best_cover[i])
        if cover:
            p = int(best_period[i])
            runs.append(Run(i, p, cover // p))
            i += cover
        else:
            i += 1
    return runs


def _signature_ids(graph: Graph) -> np.ndarray:
    position = {t: k for k, t in enumerate(graph.ops)}
    known: dict[tuple, int] = {}
    ids = np.empty(len(graph.ops), np.int64)
    for k, t in enumerate(graph.ops):
        inputs = []
        for x in graph.inputs(t):
            if not isinstance(x, Tensor):
                inputs.append(("const", type(x).__name__))
            elif x in position:
                inputs.append(("op", k - position[x]))
            else:
                inputs.append(("leaf", x.shape, x.requires_grad))
        node = t._node
        params = params_text(node.params) if node.params else ""
        signature = (node.op.name, params, t.shape, t.dtype.str, *inputs)
        ids[k] = known.setdefault(signature, len(known))
    return ids
