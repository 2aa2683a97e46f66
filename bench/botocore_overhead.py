"""What tracing a boto3 call costs: median time per call with and without the botocore patch.

One process, one DynamoDB client, ``GetItem`` in a sampled invocation with ``_X_AMZN_TRACE_ID``
set (so the span, its attributes and the header replacement all run). The patch is switched
off and on by swapping botocore's methods for the originals the wrappers hold, in alternating
rounds, so machine noise hits both alike. Two figures:

- to moto in server mode over HTTP: what a user sees (the overhead is within the noise of a
  millisecond-scale local round trip, so the ratio is the figure to read);
- without network: a ``before-send`` handler answers in-process, leaving botocore's own work
  (serialize, sign, parse) as the baseline, so the µs difference is the patch's CPU cost.

    .venv/bin/python bench/botocore_overhead.py [--calls 1000] [--offline-calls 20000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import boto3
import botocore
import botocore.client
import botocore.endpoint
from counting_sink import CountingSink
from function.offline_aws import answer_in_process
from xraylayer.instrument import botocore as instrumentation
from xraylayer.instrument.patching import Unpatched
from xraylayer.spans import Span
from xraylayer.trace_header import to_w3c_trace_id
from xraylayer.tracer import TRACER
from xraylayer_local.moto_server import MotoServer

ROOT = "1-5759e988-bd862e3fe1be46a994272793"
PARENT = "53995c3f42cd8ad8"
ROUNDS = 20
PATCHED = (
    (botocore.client.BaseClient, "_make_api_call"),
    (botocore.endpoint.Endpoint, "prepare_request"),
)


def time_calls(call: Callable[[], object], count: int) -> list[float]:
    """Seconds per call, one figure per call."""
    figures = []
    for _ in range(count):
        start = time.perf_counter()
        call()
        figures.append(time.perf_counter() - start)
    return figures


def compare(call: Callable[[], object], calls: int) -> dict[str, list[float]]:
    """Alternating rounds of plain and traced calls, after a warm-up of each."""
    results: dict[str, list[float]] = {"plain": [], "traced": []}
    per_round = max(1, calls // ROUNDS)
    with Unpatched(PATCHED):
        time_calls(call, per_round)
    time_calls(call, per_round)
    for index in range(ROUNDS):
        for mode in ("plain", "traced") if index % 2 else ("traced", "plain"):
            if mode == "plain":
                with Unpatched(PATCHED):
                    results[mode] += time_calls(call, per_round)
            else:
                results[mode] += time_calls(call, per_round)
    return results


def report(label: str, results: dict[str, list[float]]) -> str:
    plain = statistics.median(results["plain"]) * 1e6
    traced = statistics.median(results["traced"]) * 1e6
    return (
        f"{label:<28} plain {plain:9.1f} µs   traced {traced:9.1f} µs   "
        f"overhead {traced - plain:7.1f} µs   ratio {traced / plain:5.3f}"
        f"   ({len(results['plain'])} calls each)"
    )


def dynamodb(endpoint_url: str) -> object:
    return boto3.session.Session(
        region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    ).client("dynamodb", endpoint_url=endpoint_url)


def create_table(client: object) -> None:
    client.create_table(
        TableName="bench",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.put_item(TableName="bench", Item={"id": {"S": "1"}, "n": {"N": "7"}})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000, help="calls to moto per mode")
    parser.add_argument(
        "--offline-calls", type=int, default=20000, help="in-process calls per mode"
    )
    args = parser.parse_args()

    instrumentation.patch(botocore)
    sink = CountingSink()
    TRACER.sink = sink
    os.environ["AWS_LAMBDA_FUNCTION_NAME"] = "bench"
    os.environ["_X_AMZN_TRACE_ID"] = f"Root={ROOT};Parent={PARENT};Sampled=1;Lineage=a87bd80c:1"
    lambda_invocation = Span("Invocation", to_w3c_trace_id(ROOT), span_id=PARENT)
    key = {"id": {"S": "1"}}

    with MotoServer() as moto, TRACER.span("invocation", parent=lambda_invocation):
        over_http = dynamodb(moto.endpoint_url)
        create_table(over_http)
        http_results = compare(lambda: over_http.get_item(TableName="bench", Key=key), args.calls)
        offline = dynamodb(moto.endpoint_url)
        answer_in_process(offline)
        offline_results = compare(
            lambda: offline.get_item(TableName="bench", Key=key), args.offline_calls
        )

    print("botocore GetItem, median per call (one process, alternating rounds)")
    print(report("to moto over HTTP", http_results))
    print(report("without network", offline_results))
    print(f"spans handed over: {sink.count}")


if __name__ == "__main__":
    main()
