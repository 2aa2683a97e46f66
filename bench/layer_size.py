"""How big each configuration's layers are: zipped (what is uploaded and stored) and unpacked
(what counts against Lambda's 250 MB limit, and what an init may read from disk)."""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

SKIPPED = {".bench-key"}  # the benchmark cache's own stamp


def layer_bytes(layers: Sequence[Path]) -> tuple[int, int]:
    """(zipped, unpacked) bytes over ``layers``; a folder is zipped here as ``zip -r`` would."""
    zipped = unpacked = 0
    for layer in layers:
        archive = layer if zipfile.is_zipfile(layer) else None
        with tempfile.TemporaryDirectory() as scratch:
            if archive is None:
                archive = zip_folder(layer, Path(scratch) / "layer.zip")
            zipped += archive.stat().st_size
            with zipfile.ZipFile(archive) as opened:
                unpacked += sum(info.file_size for info in opened.infolist())
    return zipped, unpacked


def zip_folder(folder: Path, destination: Path) -> Path:
    with zipfile.ZipFile(destination, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.name not in SKIPPED:
                archive.write(path, path.relative_to(folder).as_posix())
    return destination
