"""Save and load a module's state as a .npz archive, never with pickle."""

from __future__ import annotations

import os
import zipfile

import numpy as np

from autograd_lite.errors import user_location

from .module import IncompatibleKeys, Module

PathLike = str | os.PathLike


def save(module: Module, path: PathLike) -> None:
    """Write `module.state_dict()` to `path` in numpy's .npz format (one .npy per key).

    The entries are written one by one, as np.savez does, rather than through
    np.savez(**state): a key such as "file" would collide with its arguments. Pickle is off,
    so the archive holds plain numeric arrays and is safe to load from anyone.
    """
    state = module.state_dict()
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for key, array in state.items():
            with archive.open(f"{key}.npy", "w", force_zip64=True) as entry:
                np.lib.format.write_array(entry, array, allow_pickle=False)


def load(module: Module, path: PathLike, strict: bool = True) -> IncompatibleKeys:
    """Load a state saved by `save` (or any .npz of numeric arrays) into `module`, in place.

    As `module.load_state_dict(state, strict)`: every key and shape is checked first, so on
    error the module is unchanged. Returns the (missing, unexpected) keys that strict=False
    skipped. A file that is not such an archive (another format, truncated or corrupted, or
    holding Python objects, which only pickle could read) is refused with a ValueError; pickle
    is never used.
    """
    return module.load_state_dict(_read(path), strict=strict)


def _read(path: PathLike) -> dict[str, np.ndarray]:
    """Every array in the archive at `path`, by key; read as `save` writes, entry by entry."""
    state = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                state[name.removesuffix(".npy")] = _read_entry(archive, name)
    except (zipfile.BadZipFile, EOFError, ValueError, NotImplementedError) as exc:
        raise ValueError(
            f"nn.load: {str(path)!r} is not a checkpoint that nn.save wrote ({exc}); "
            f"nothing was loaded ({user_location()})"
        ) from None
    return state


def _read_entry(archive: zipfile.ZipFile, name: str) -> np.ndarray:
    if not name.endswith(".npy"):
        raise ValueError(f"it holds {name!r}, which is not a .npy array")
    with archive.open(name) as entry:
        try:
            return np.lib.format.read_array(entry, allow_pickle=False)
        except ValueError as exc:
            # numpy's message for an object array suggests unpickling it: never do that.
            if "allow_pickle" in str(exc):
                raise ValueError(
                    f"{name!r} holds Python objects, which only pickle could read"
                ) from None
            raise ValueError(f"{name!r}: {exc}") from None
