"""Running one of bench/'s scripts as its own process, as a user does, for the tests that check
the figures it prints: the last line a script prints is ``RESULT {json}``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parents[1] / "bench"


def bench_result(script: str, *arguments: str, timeout_s: float = 600) -> tuple[Any, str]:
    """The figures of ``bench/<script> <arguments>`` (its ``RESULT`` line) and all it printed;
    the script must exit 0 (its output is in the assertion message if not)."""
    done = subprocess.run(
        [sys.executable, str(BENCH / script), *arguments],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    print(done.stdout)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-3000:]
    (line,) = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    return json.loads(line.removeprefix("RESULT ")), done.stdout
