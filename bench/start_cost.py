"""What an exec wrapper and its ``sitecustomize`` add to an interpreter start, per configuration.

Every process the runtime starts pays it before any of the function's code runs. Each
configuration's layers are unpacked into a folder standing in for ``/opt`` and its wrapper
starts the runtime's clean interpreter with ``-c pass``, in the environment Lambda gives the
runtime, with a one-line handler (``noop.handler``) in the task root: the OpenTelemetry
wrappers' aws-lambda instrumentation imports and wraps it, so their start-up runs as in Lambda
while the function's own imports stay out of the figure. The baseline is the same interpreter
started directly. Byte-code writes are off, as ``/opt`` is read-only in Lambda.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from peers.configuration import EXEC_WRAPPER, Setup
from sampling import Figures, alternating
from sitecustomize_start import start_ms
from xraylayer_local.environment import map_opt
from xraylayer_local.layers import merge_layers
from xraylayer_local.runtimes import Runtime

NOOP_HANDLER = "def handler(event, context):\n    return None\n"


class Start:
    """One configuration's start command, ready to run again and again."""

    def __init__(self, setup: Setup, runtime: Runtime, folder: Path, opt: Path) -> None:
        self.cwd = folder / "task"
        self.env = {
            "PATH": f"{runtime.lang_bin}:/usr/local/bin:/usr/bin:/bin",
            "LANG": "en_US.UTF-8",
            "HOME": os.environ.get("HOME", "/tmp"),
            "LAMBDA_RUNTIME_DIR": str(folder / "runtime"),
            "LAMBDA_TASK_ROOT": str(self.cwd),
            "_HANDLER": "noop.handler",
            "AWS_LAMBDA_FUNCTION_NAME": "bench-start",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_REGION": "us-east-1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        self.command = [str(runtime.python), "-c", "pass"]
        if setup.wrapper is not None:
            merge_layers(setup.layers, opt)
            self.env |= {
                key: map_opt(value, opt) for key, value in setup.env.items() if key != EXEC_WRAPPER
            }
            self.command.insert(0, map_opt(setup.wrapper, opt))

    def ms(self) -> float:
        return start_ms(self.command, self.env, self.cwd)


def wrapper_starts(setups: Mapping[str, Setup], runtime: Runtime, runs: int) -> Figures:
    """``{configuration: {"start": [ms, ...]}}``; a configuration without an exec wrapper is
    started directly (the baseline)."""
    folder = Path(tempfile.mkdtemp(prefix="xl-bench-start-"))
    try:
        for name in ("task", "runtime"):
            (folder / name).mkdir()
        (folder / "task" / "noop.py").write_text(NOOP_HANDLER)
        starts = {
            name: Start(setup, runtime, folder, folder / f"opt-{index}")
            for index, (name, setup) in enumerate(setups.items())
        }
        alternating(starts, 1, lambda _, start: {"start": start.ms()})  # the page cache
        return alternating(starts, runs, lambda _, start: {"start": start.ms()})
    finally:
        shutil.rmtree(folder, ignore_errors=True)
