"""Unpack a function's layers into one folder that stands in for /opt.

Lambda extracts layers in their listed order, later files winning (lambda-platform.md §4.4).
Zips keep their Unix permission bits here, because `extensions/*` and exec wrappers must stay
executable; Python's ZipFile.extractall would drop them.
"""

from __future__ import annotations

import shutil
import stat
import zipfile
from collections.abc import Sequence
from pathlib import Path


def merge_layers(layers: Sequence[str | Path], opt_dir: Path) -> Path:
    """Extract or copy every layer into `opt_dir`, in order, and return it."""
    opt_dir.mkdir(parents=True, exist_ok=True)
    for layer in layers:
        source = Path(layer)
        if source.is_dir():
            shutil.copytree(source, opt_dir, symlinks=True, dirs_exist_ok=True)
        elif zipfile.is_zipfile(source):
            _extract_zip(source, opt_dir)
        else:
            raise FileNotFoundError(f"layer {source} is neither a folder nor a zip")
    return opt_dir


def _extract_zip(path: Path, dest: Path) -> None:
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            target = (dest / info.filename).resolve()
            if not target.is_relative_to(dest.resolve()):
                raise ValueError(f"layer {path} has an entry outside the layer: {info.filename}")
            archive.extract(info, dest)
            mode = info.external_attr >> 16
            if mode and not info.is_dir():
                target.chmod(stat.S_IMODE(mode))
