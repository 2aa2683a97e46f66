"""What the layer costs a function: added init duration and added warm latency, as ratios.

Runs the demo function (examples/hello: boto3 imported at module level, S3 and DynamoDB calls
to moto in server mode) in the local sandbox with no layer and with the built layer, the two
configurations alternating run by run in one session, so machine noise hits both alike.
Prints medians (and p99 for warm latency) and the ratio to the no-layer baseline.

    .venv/bin/python bench/layer_overhead.py [--cold-starts 15] [--warm 50] [--quick]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys

from repo import REPO, layer_zip
from sampling import alternating, percentile
from xraylayer_local import Sandbox
from xraylayer_local.moto_server import MotoServer

FUNCTION = REPO / "examples" / "hello"
EVENT = {"order_id": "bench-1", "items": 2}

CONFIGURATIONS = {
    "no layer": lambda: ([], {}),
    "xraylayer": lambda: ([layer_zip()], {"AWS_LAMBDA_EXEC_WRAPPER": "/opt/xray-instrument"}),
}


def measure(name: str, moto: MotoServer, warm: int, python: str | None) -> dict[str, list]:
    """One cold start and `warm` warm invokes of a fresh sandbox."""
    layers, env = CONFIGURATIONS[name]()
    figures: dict[str, list] = {"init": [], "cold": [], "warm": [], "after": []}
    with Sandbox(
        FUNCTION,
        "app.handler",
        layers=layers,
        env={**moto.env(), **env},
        python=python,
        tracing="Active",
        timeout_s=10,
        memory_mb=512,
    ) as sandbox:
        cold = sandbox.invoke(EVENT)
        if cold.status != "success":
            raise SystemExit(f"{name}: cold invoke failed: {cold.error}")
        figures["init"].append(cold.init_duration_ms)
        figures["cold"].append(cold.response_latency_ms)
        for _ in range(warm):
            result = sandbox.invoke(EVENT)
            figures["warm"].append(result.response_latency_ms)
            figures["after"].append(result.post_runtime_ms)
    return figures


def report(results: dict[str, dict[str, list]]) -> str:
    base = results["no layer"]
    rows = [
        ("init duration, median (ms)", lambda f: statistics.median(f["init"])),
        ("cold invoke latency, median (ms)", lambda f: statistics.median(f["cold"])),
        ("warm latency p50 (ms)", lambda f: statistics.median(f["warm"])),
        ("warm latency p99 (ms)", lambda f: percentile(f["warm"], 0.99)),
        ("invoke phase after response, median (ms)", lambda f: statistics.median(f["after"])),
    ]
    lines = [f"{'':44}" + "".join(f"{name:>14}{'':>16}" for name in results)]
    for label, figure in rows:
        cells = []
        for figures in results.values():
            value, baseline = figure(figures), figure(base)
            ratio = f"x{value / baseline:.2f}" if baseline else "-"
            cells.append(f"{value:>14.2f}  {value - baseline:>+8.2f} {ratio:>6}")
        lines.append(f"{label:44}" + "".join(cells))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold-starts", type=int, default=15)
    parser.add_argument("--warm", type=int, default=50)
    parser.add_argument("--python", help="Python version of the function (default: this one)")
    parser.add_argument("--quick", action="store_true", help="1 cold start, 3 warm: smoke only")
    args = parser.parse_args()
    if args.quick:
        args.cold_starts, args.warm = 1, 3
    if not layer_zip().exists():
        print(f"{layer_zip()} not found: run ./build.sh first", file=sys.stderr)
        return 2
    with MotoServer() as moto:
        results = alternating(
            CONFIGURATIONS,
            args.cold_starts,
            lambda name, _: measure(name, moto, args.warm, args.python),
        )
    print(
        f"{args.cold_starts} cold starts and {args.cold_starts * args.warm} warm invokes per "
        f"configuration, alternating; Python {args.python or platform.python_version()}; "
        "cells: value, difference and ratio to no layer"
    )
    print(report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
