"""Copy the layer's own code from the source tree to where Lambda mounts it under /opt.

This table is the one place that says which source file lands where in the zip (DESIGN.md,
"Layer zip layout"). The layer's own packages sit in `xraylayer/python/`, not in `python/`:
Lambda puts `/opt/python` on every function's sys.path, and the layer must never shadow a
function's own packages. Dependencies are added beside them by split_deps.py.

Usage: python tools/stage_layer.py REPO_DIR STAGE_DIR
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

# zip path -> source path (relative to the repository root)
LAYOUT: dict[str, str] = {
    "xray-instrument": "bootstrap_wrapper/xray-instrument",
    "extensions/xraylayer": "extension/xraylayer",
    "xraylayer/boot/sitecustomize.py": "bootstrap_wrapper/sitecustomize.py",
    "xraylayer/python/xraylayer": "layer/xraylayer",
    "xraylayer/python/xraylayer_extension": "extension/xraylayer_extension",
}
# Started by Lambda as programs, so they must keep their executable bit in the zip.
EXECUTABLES = ("xray-instrument", "extensions/xraylayer")
# Local leftovers that are not source: compiled files are made fresh by build.sh.
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", "*.egg-info", ".*")


def stage(repo: Path, destination: Path) -> None:
    """Copy every LAYOUT entry from repo into destination and set the executables' modes."""
    for target, source in LAYOUT.items():
        origin = repo / source
        placed = destination / target
        placed.parent.mkdir(parents=True, exist_ok=True)
        if origin.is_dir():
            shutil.copytree(origin, placed, ignore=IGNORED)
        elif origin.is_file():
            shutil.copyfile(origin, placed)
            placed.chmod(0o644)
        else:
            raise SystemExit(f"stage_layer: {origin} is missing")
    for executable in EXECUTABLES:
        (destination / executable).chmod(0o755)


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    stage(Path(argv[1]), Path(argv[2]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
