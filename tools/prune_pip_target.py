"""Turn a `pip install --target` folder into a tree fit to ship in the layer.

pip leaves things behind that a layer must not carry:
- `bin/`: console scripts whose shebang names the build machine's interpreter. Nothing in a
  Lambda sandbox runs them, and they would make the zip depend on where it was built.
- `RECORD` lines for those scripts (`../../bin/...`, with a hash of that shebang): dropped, so
  the `.dist-info` folders are the same bytes on every machine. Everything else in `.dist-info`
  stays: licences must ship, and opentelemetry finds its providers and propagators through
  `importlib.metadata` entry points.
- `direct_url.json`: only written for installs from a URL or a path, and it holds that path.

Usage: python tools/prune_pip_target.py TARGET_DIR...
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

DROPPED_FOLDERS = ("bin",)
DROPPED_METADATA = ("direct_url.json",)


def _keeps_record_line(line: str) -> bool:
    """True for a RECORD line naming a file that stays inside the target folder."""
    path = line.split(",", 1)[0]
    dropped = any(path.endswith(f".dist-info/{name}") for name in DROPPED_METADATA)
    return bool(path) and not path.startswith(("../", "/")) and not dropped


def prune_record(record: Path) -> None:
    """Rewrite a RECORD without the lines for files outside the target or dropped here."""
    text = record.read_text(encoding="utf-8")
    kept = [line for line in text.splitlines() if _keeps_record_line(line)]
    record.write_text("".join(f"{line}\n" for line in kept), encoding="utf-8")


def prune_target(target: Path) -> None:
    """Remove scripts and build-machine traces from one pip --target folder, in place."""
    if not target.is_dir():
        raise SystemExit(f"prune_pip_target: {target} is not a folder")
    for name in DROPPED_FOLDERS:
        shutil.rmtree(target / name, ignore_errors=True)
    for dist_info in sorted(target.glob("*.dist-info")):
        for name in DROPPED_METADATA:
            (dist_info / name).unlink(missing_ok=True)
        record = dist_info / "RECORD"
        if record.is_file():
            prune_record(record)


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    for target in argv[1:]:
        prune_target(Path(target))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
