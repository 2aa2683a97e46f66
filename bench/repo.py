"""Where the benchmarks find the repository and the layer zip this machine can run."""

from __future__ import annotations

import platform
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def layer_zip() -> Path:
    """dist/'s zip for this machine's architecture (the only one the local sandbox can run)."""
    arch = "arm64" if platform.machine() in ("aarch64", "arm64") else "x86_64"
    return REPO / "dist" / f"xraylayer-python-{arch}.zip"
