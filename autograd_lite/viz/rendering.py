"""render: write a drawn graph to an svg, png or pdf file with whichever renderer is installed.

Looked up in order: the system Graphviz `dot` program, then `graphviz-pure` (`pip install
graphviz-pure`: a self-contained port of dot that writes svg and png, not pdf, and installs no
`dot` of its own). With neither, the DOT source is written next to the requested file and the
error says what to install: never a silent no-op.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sysconfig
from pathlib import Path
from typing import Any

from ..tensor import Tensor

FORMATS = ("svg", "png", "pdf")


class RendererNotFoundError(RuntimeError):
    """No installed renderer can write the requested format."""


def find_renderer(format: str = "svg") -> str | None:
    """The program `render` would run for `format`: `dot`, else `graphviz-pure` (not for pdf),
    else None."""
    # pip puts programs next to the interpreter, on PATH only while their venv is activated.
    search = os.pathsep.join(
        [
            os.environ.get("PATH", ""),
            sysconfig.get_path("scripts"),
            sysconfig.get_path("scripts", sysconfig.get_preferred_scheme("user")),
        ]
    )
    dot = shutil.which("dot", path=search)
    if dot is not None or format == "pdf":
        return dot
    return shutil.which("graphviz-pure", path=search)


def render(graph_or_root: Any, path: str | os.PathLike, format: str | None = None) -> Path:
    """Write `graph_or_root` (a graph from `draw`, or a Tensor to draw with the defaults) to
    `path` as svg, png or pdf, and return the file's path.

    `format` defaults to `path`'s suffix when that is one of the three, else svg; the suffix is
    added when `path` lacks it. Raises RendererNotFoundError, with the DOT source saved as
    `<path>.gv`, when no renderer is installed.
    """
    if isinstance(graph_or_root, Tensor):
        from .drawing import draw

        graph_or_root = draw(graph_or_root)
    source = graph_or_root.source
    path = Path(path)
    suffix = path.suffix[1:].lower()
    format = format or (suffix if suffix in FORMATS else "svg")
    if format not in FORMATS:
        raise ValueError(f"render: format must be one of {', '.join(FORMATS)}, got {format!r}")
    out = path if suffix == format else path.with_name(f"{path.name}.{format}")
    out.parent.mkdir(parents=True, exist_ok=True)
    program = find_renderer(format)
    if program is None:
        source_file = _save_source(source, out)
        if format == "pdf":
            need = (
                "writing pdf needs the system Graphviz `dot` program (graphviz-pure writes only "
                "svg and png): install it (apt install graphviz, brew install graphviz or conda "
                "install graphviz), or render svg or png"
            )
        else:
            need = (
                "no renderer found: neither Graphviz's `dot` program nor `graphviz-pure` is "
                "installed. Install one: pip install graphviz-pure (or pip install "
                "'autograd-lite[viz]'), or the system Graphviz (apt install graphviz, brew "
                "install graphviz or conda install graphviz)"
            )
        raise RendererNotFoundError(
            f"render: cannot write {out}: {need}. The DOT source is saved in {source_file}."
        )
    done = subprocess.run(
        [program, f"-T{format}", "-o", str(out)], input=source.encode(), capture_output=True
    )
    if done.returncode != 0:
        source_file = _save_source(source, out)
        error = done.stderr.decode(errors="replace").strip()
        raise RuntimeError(
            f"render: {program} failed with exit code {done.returncode} writing {out}: {error} "
            f"(the DOT source is saved in {source_file})"
        )
    return out


def _save_source(source: str, out: Path) -> Path:
    source_file = out.with_name(f"{out.name}.gv")
    source_file.write_text(source, encoding="utf-8")
    return source_file
