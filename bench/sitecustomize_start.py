"""What the layer's sitecustomize adds to every interpreter start (budget: under 2 ms).

Starts the clean runtime interpreter of the local sandbox (a venv on the real interpreter,
never a version-manager shim, with only what Lambda's runtime has) N times per configuration,
`python -c pass`, the configurations alternating run by run so machine noise hits all alike:
- "plain": as Lambda starts it without the layer;
- "sitecustomize": with the environment /opt/xray-instrument sets up, so the layer's
  sitecustomize (from the built zip, with its shipped byte-code) runs;
- "wrapper": the same through the wrapper script itself (sh + sitecustomize), for reference.
Prints the median and p90 of the wall time per start and the difference to "plain", then the
sitecustomize import's own time as `-X importtime` reports it (median).

    .venv/bin/python bench/sitecustomize_start.py [--runs 200] [--python 3.12]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from repo import layer_zip
from sampling import percentile
from xraylayer_local.runtimes import provision

BUDGET_MS = 2.0


def wrapper_environment(opt: Path, version: str) -> dict[str, str]:
    """The variables /opt/xray-instrument exports when the function has no PYTHONPATH."""
    added = os.pathsep.join(
        [
            str(opt / "xraylayer" / "boot"),
            str(opt / "python" / "lib" / f"python{version}" / "site-packages"),
            str(opt / "python"),
            str(opt / "xraylayer" / "python"),
        ]
    )
    return {"PYTHONPATH": added, "XRAYLAYER_ADDED_PYTHONPATH": added}


def start_ms(command: list[str], env: dict[str, str], cwd: Path | None = None) -> float:
    """Wall time of one start-to-exit of `command`, in ms; what it writes is kept out of the
    benchmark's output (and shown if it fails)."""
    began = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, check=False)
    elapsed = (time.perf_counter() - began) * 1000
    if done.returncode != 0:
        output = (done.stdout + done.stderr).decode("utf-8", "replace")[-2000:]
        raise RuntimeError(f"{command[0]} exited with {done.returncode}:\n{output}")
    return elapsed


def importtime_us(python: str, env: dict[str, str]) -> int:
    """sitecustomize's cumulative import time in µs, as -X importtime reports it."""
    done = subprocess.run(
        [python, "-X", "importtime", "-c", "pass"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    for line in done.stderr.splitlines():
        parts = [part.strip() for part in line.split("|")]
        if len(parts) == 3 and parts[2] == "sitecustomize":
            return int(parts[1])
    raise SystemExit("sitecustomize did not run:\n" + done.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="starts per configuration")
    parser.add_argument("--python", default=f"{sys.version_info[0]}.{sys.version_info[1]}")
    args = parser.parse_args()
    if not layer_zip().exists():
        print(f"{layer_zip()} not found: run ./build.sh first", file=sys.stderr)
        return 2
    python = str(provision(args.python).python)
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    with tempfile.TemporaryDirectory(prefix="sitecustomize-bench-") as folder:
        opt = Path(folder)
        with zipfile.ZipFile(layer_zip()) as archive:
            archive.extractall(opt)
        (opt / "xray-instrument").chmod(0o755)
        layered = {**base, **wrapper_environment(opt, args.python)}
        configurations = {
            "plain": ([python, "-c", "pass"], base),
            "sitecustomize": ([python, "-c", "pass"], layered),
            "wrapper": ([str(opt / "xray-instrument"), python, "-c", "pass"], base),
        }
        for command, env in configurations.values():  # warm the page cache once
            start_ms(command, env)
        times: dict[str, list[float]] = {name: [] for name in configurations}
        for run in range(args.runs):
            names = list(configurations) if run % 2 == 0 else list(reversed(configurations))
            for name in names:
                times[name].append(start_ms(*configurations[name]))
        own = [importtime_us(python, layered) / 1000 for _ in range(max(20, args.runs // 5))]
    plain = statistics.median(times["plain"])
    print(
        f"Python {args.python} ({python}), {args.runs} starts per configuration, alternating; "
        "python -c pass"
    )
    print(f"{'':16}{'median ms':>12}{'p90 ms':>10}{'vs plain':>12}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:16}{median:>12.2f}{percentile(values, 0.9):>10.2f}{median - plain:>+12.2f}")
    cost = statistics.median(own)
    verdict = "within" if cost < BUDGET_MS else "OVER"
    print(f"sitecustomize import (-X importtime), median: {cost:.2f} ms ({verdict} {BUDGET_MS} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
