"""The per-call microbenchmark, run inside the function under each configuration.

Timing one botocore call and one ``requests`` call inside the Lambda process itself means every
tracer runs exactly as it does for the function's real calls: its patches, its invocation
span or segment, its span processor or emitter. Comparing with the same figures of the
untraced function gives the cost of tracing one call.

- botocore: a DynamoDB ``GetItem`` answered in-process (``offline_aws``), so the figure is CPU
  work (serialize, sign, parse, trace) without a network round trip;
- requests: ``requests.get`` to the loopback server, a new connection per call as most code
  makes them.

Each is timed as this thread's CPU time (not blurred by the server or by other processes) and
as wall time; the medians come back in the response.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import boto3
import requests
from offline_aws import answer_in_process

_offline: list[Any] = []  # one in-process DynamoDB client per sandbox, made on first use


def offline_dynamodb() -> Any:
    if not _offline:
        client = boto3.client("dynamodb")
        answer_in_process(client)
        _offline.append(client)
    return _offline[0]


def timed(call: Callable[[], object], calls: int) -> dict[str, float]:
    """Median CPU and wall µs per call, after one call to warm caches."""
    call()
    cpu, wall = [], []
    for _ in range(calls):
        wall_start, cpu_start = time.perf_counter_ns(), time.thread_time_ns()
        call()
        cpu.append((time.thread_time_ns() - cpu_start) / 1000)
        wall.append((time.perf_counter_ns() - wall_start) / 1000)
    return {"cpu_us": statistics.median(cpu), "wall_us": statistics.median(wall)}


def measure(calls: int, url: str) -> dict[str, dict[str, float]]:
    client = offline_dynamodb()
    key = {"id": {"S": "1"}}
    return {
        "botocore": timed(lambda: client.get_item(TableName="bench", Key=key), calls),
        "requests": timed(lambda: requests.get(url, timeout=5), calls),
    }
