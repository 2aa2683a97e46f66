"""Start to first ``event/next`` of the layer's extension, launched as Lambda launches it.

Lambda starts the runtime only once every extension has registered, and init lasts until each
is back in ``next``: this time is part of every cold start. The launches reuse
``extension_perf.py``'s lab (the shipped launcher unpacked from the layer, ``python3`` on PATH
the real interpreter, the sandbox's Extensions API on loopback).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from extension_perf import EXTENSION_NAME, Lab, LambdaApi, launch_ms, python_dirs
from xraylayer_local.layers import merge_layers


def first_next_ms(layers: tuple[Path, ...], python: str, runs: int) -> list[float]:
    """``runs`` launches (after one that warms the page cache), in ms."""
    folder = Path(tempfile.mkdtemp(prefix="xl-bench-ext-"))
    api = LambdaApi()
    try:
        opt = merge_layers(layers, folder / "opt")
        bindir = python_dirs([python], folder)[python]
        lab = Lab(api, opt / "extensions" / EXTENSION_NAME, folder)
        launch_ms(lab, bindir)
        return [launch_ms(lab, bindir)["next"] for _ in range(runs)]
    finally:
        api.close()
        shutil.rmtree(folder, ignore_errors=True)
