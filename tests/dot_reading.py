"""Reading the DOT source that viz.draw writes back into nodes, edges and clusters, so tests
can assert on what a drawing shows."""

from __future__ import annotations

import re

_NODE = re.compile(r"^\t+(\w+) \[(.*)\]$")
_EDGE = re.compile(r"^\t+(\w+) -> (\w+)(?: \[(.*)\])?$")
_ATTR = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|[^ ]+)')
_CLUSTER = re.compile(r'^\t+subgraph "?(cluster_[^" ]+)"? \{$')


def _attrs(text: str | None) -> dict[str, str]:
    found = {}
    for key, value in _ATTR.findall(text or ""):
        found[key] = value[1:-1] if value.startswith('"') else value
    return found


def parse(dot) -> tuple[dict[str, dict], list[tuple[str, str, dict]], dict[str, str]]:
    """Nodes (id -> attributes, label split into lines), edges and each node's cluster."""
    nodes, edges, cluster_of = {}, [], {}
    cluster = None
    for line in dot.source.splitlines():
        if line.lstrip().startswith("legend "):  # an HTML table: one test reads it on its own
            nodes["legend"] = {}
            continue
        if m := _CLUSTER.match(line):
            cluster = m.group(1)
        elif line.strip() == "}":
            cluster = None
        elif m := _EDGE.match(line):
            edges.append((m.group(1), m.group(2), _attrs(m.group(3))))
        elif (m := _NODE.match(line)) and m.group(1) not in ("graph", "node", "edge"):
            attrs = _attrs(m.group(2))
            attrs["lines"] = attrs.get("label", "").split("\\n")
            nodes[m.group(1)] = attrs
            if cluster:
                cluster_of[m.group(1)] = cluster
    return nodes, edges, cluster_of
