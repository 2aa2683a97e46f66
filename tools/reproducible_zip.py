"""Write a folder as a zip whose bytes depend only on the files' names, contents and exec bits.

A layer zip is published and compared by its hash, so building twice from the same inputs must
give the same bytes. Everything else a zip tool records varies from one build to the next, and
is fixed here:
- entry order: sorted by path;
- timestamps: all 1980-01-01 00:00 (the earliest a zip can hold);
- permissions: 0755 for folders and executables, 0644 for every other file (the build
  machine's umask and the checkout's modes do not leak in);
- compression: deflate at level 9 for files, folders stored;
- no extra fields (no extended timestamps, no uid/gid), no comment.
The zip is written next to its destination and renamed into place, so a failed or interrupted
build never leaves a half-written zip where a deployment would pick it up.

Usage: python tools/reproducible_zip.py SOURCE_DIR ZIP_PATH
Prints the zip's size and its unzipped size.
"""

from __future__ import annotations

import os
import stat
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
COMPRESS_LEVEL = 9
EXECUTABLE_MODE = 0o755
FILE_MODE = 0o644
MSDOS_DIRECTORY = 0x10
UNIX_SYSTEM = 3
MIB = 1024 * 1024


@dataclass(frozen=True)
class ZipSizes:
    """What a zip costs: Lambda limits both the zip (50 MB) and all layers unzipped (250 MB)."""

    zipped: int
    unzipped: int
    files: int

    def describe(self) -> str:
        return (
            f"{self.zipped} bytes ({self.zipped / MIB:.2f} MiB), "
            f"unzipped {self.unzipped} bytes ({self.unzipped / MIB:.2f} MiB), {self.files} files"
        )


def _entry(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=FIXED_DATE_TIME)
    info.create_system = UNIX_SYSTEM
    info.external_attr = mode << 16
    if stat.S_ISDIR(mode):
        info.external_attr |= MSDOS_DIRECTORY
        info.compress_type = zipfile.ZIP_STORED
    else:
        info.compress_type = zipfile.ZIP_DEFLATED
    return info


def _entries(source: Path) -> list[tuple[str, Path]]:
    """(zip name, path) for every folder and file under source, sorted by zip name."""
    entries: list[tuple[str, Path]] = []
    for path in source.rglob("*"):
        if path.is_symlink():
            raise SystemExit(f"reproducible_zip: {path} is a symlink; the layer must not hold any")
        name = path.relative_to(source).as_posix()
        entries.append((f"{name}/" if path.is_dir() else name, path))
    return sorted(entries)


def write_zip(source: Path, destination: Path) -> ZipSizes:
    """Zip source's contents (not source itself) into destination, atomically."""
    if not source.is_dir():
        raise SystemExit(f"reproducible_zip: {source} is not a folder")
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(f".{destination.name}.partial")
    unzipped = files = 0
    try:
        with zipfile.ZipFile(partial, "w") as archive:
            for name, path in _entries(source):
                if path.is_dir():
                    archive.writestr(_entry(name, stat.S_IFDIR | EXECUTABLE_MODE), b"")
                    continue
                executable = path.stat().st_mode & 0o111 != 0
                mode = stat.S_IFREG | (EXECUTABLE_MODE if executable else FILE_MODE)
                data = path.read_bytes()
                archive.writestr(_entry(name, mode), data, compresslevel=COMPRESS_LEVEL)
                unzipped += len(data)
                files += 1
        os.replace(partial, destination)
    finally:
        partial.unlink(missing_ok=True)
    return ZipSizes(zipped=destination.stat().st_size, unzipped=unzipped, files=files)


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    destination = Path(argv[2])
    sizes = write_zip(Path(argv[1]), destination)
    print(f"{destination}: {sizes.describe()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
