"""Save and load a module's state as a .npz archive, never with pickle."""

from __future__ import annotations

import os
import zipfile

import numpy as np

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
    """Load a state saved by `save` (or any .npz of arrays) into `module`, in place.

    As `module.load_state_dict(state, strict)`: every key and shape is checked first, so on
    error the module is unchanged. Returns the (missing, unexpected) keys that strict=False
    skipped.
    """
    with np.load(path, allow_pickle=False) as archive:
        state = {key: archive[key] for key in archive.files}
    return module.load_state_dict(state, strict=strict)
