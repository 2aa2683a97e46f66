"""bench/extension_perf.py still runs: its quickest mode prints its table. Timings are the
benchmark's business, never asserted here (machines are shared and noisy)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "extension_perf.py"
THIS_PYTHON = f"{sys.version_info[0]}.{sys.version_info[1]}"
ROWS = (
    "start to register (ms)",
    "start to first next (ms)",
    "idle RSS at first next (MiB)",
    "peak RSS before SHUTDOWN, VmHWM (MiB)",
    "end to end (spans/s)",
    "XRayDaemonExporter to the daemon (UDP)",
    "OtlpHttpExporter to the receiver",
    "Imported before the first next",
)


def test_quick_run_prints_the_table(built_layer: Path) -> None:
    quickest = ["--quick", "--spans", "200", "--python", THIS_PYTHON, "--layer", str(built_layer)]
    done = subprocess.run(
        [sys.executable, str(BENCH), *quickest],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for row in ROWS:
        assert row in done.stdout, f"{row!r} missing from:\n{done.stdout}"
    header = next(line for line in done.stdout.splitlines() if "Extension start" in line)
    assert header.split()[-1] == THIS_PYTHON
