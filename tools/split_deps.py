"""Split per-Python-version dependency installs into shared and version-specific folders.

The layer installs its dependencies once per supported Python (pip `--target`, one folder per
version, named for its tag: cp310, cp311, ...). Most of them are pure Python and come out the
same for every version; shipping them once keeps the zip small. So a top-level entry (package
folder, module file or `.dist-info`) that is byte-identical in every install goes to `any/`, and
everything else (compiled extension modules, packages whose version differs by Python) goes to
the folder of each version that has it. At run time a Python puts `any/` and its own `cpXY/` on
sys.path and sees exactly what pip installed for it.

Usage: python tools/split_deps.py OUT_DIR INSTALL_DIR...
(each INSTALL_DIR's name is its version tag, e.g. build/layer/x86_64/site/cp312)
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

SHARED = "any"


def entry_digest(path: Path) -> str:
    """A digest of an entry's relative file names, contents and executable bits."""
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        relative = file.relative_to(path).as_posix() if file != path else ""
        executable = file.stat().st_mode & 0o111 != 0
        digest.update(f"{relative}\0{executable}\0".encode())
        digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()


def _copy(source: Path, destination: Path) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, destination)
    else:
        shutil.copyfile(source, destination)
        shutil.copymode(source, destination)


def split(installs: list[Path], out: Path) -> dict[str, list[str]]:
    """Copy each install's top-level entries into out/any or out/<tag>; return what went where."""
    tags = [install.name for install in installs]
    if len(set(tags)) != len(tags) or SHARED in tags:
        raise SystemExit(f"split_deps: install folders need distinct version tags, got {tags}")
    digests = {
        install.name: {entry.name: entry_digest(entry) for entry in install.iterdir()}
        for install in installs
    }
    placed: dict[str, list[str]] = {tag: [] for tag in [SHARED, *tags]}
    for tag in placed:
        (out / tag).mkdir(parents=True, exist_ok=True)
    names = sorted(set().union(*(entries.keys() for entries in digests.values())))
    for name in names:
        versions = {digests[tag].get(name) for tag in tags}
        if len(versions) == 1 and None not in versions:
            _copy(installs[0] / name, out / SHARED / name)
            placed[SHARED].append(name)
            continue
        for install in installs:
            if name in digests[install.name]:
                _copy(install / name, out / install.name / name)
                placed[install.name].append(name)
    return placed


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(argv[1])
    if out.exists() and any(out.iterdir()):
        raise SystemExit(f"split_deps: {out} is not empty")
    placed = split([Path(arg) for arg in argv[2:]], out)
    for tag, names in placed.items():
        shown = f"{len(names)} entries" if tag == SHARED else ", ".join(names)
        print(f"  deps/{tag}: {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
