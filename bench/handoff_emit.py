"""What handing a finished span over costs the function: ``HANDOFF.emit`` per span, and the
fallback export at the end of an invocation when no extension takes the spans.

A typical AWS SDK span (nine attributes, ~490 bytes on the wire) is emitted:

- to an extension stand-in in another process that reads the intake socket (the normal case;
  it includes the kernel waking the reader);
- with no intake socket at all (the span is queued for the fallback);
- then ``invocation_finished`` converts 10 spans and the invocation span to X-Ray documents and
  sends them to the X-Ray daemon stand-in (the fallback, paid before the response).

    .venv/bin/python bench/handoff_emit.py [--spans 5000]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from xraylayer import semconv as sc
from xraylayer import wire
from xraylayer.handoff import Handoff
from xraylayer.spans import CLIENT, SERVER, Span
from xraylayer_local.xray_daemon import XRayDaemon

TRACE_ID = "5759e988bd862e3fe1be46a994272793"
PARENT = "53995c3f42cd8ad8"
READER = """
import socket, sys
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(sys.argv[1])
print("ready", flush=True)
while sock.recv(65536) != b"stop":
    pass
"""


def sdk_span(parent: Span) -> Span:
    span = Span(
        "DynamoDB",
        parent.trace_id,
        parent.span_id,
        kind=CLIENT,
        namespace="aws",
        attributes={
            sc.RPC_SYSTEM: "aws-api",
            sc.RPC_SERVICE: "DynamoDB",
            sc.RPC_METHOD: "PutItem",
            sc.AWS_REGION: "us-east-1",
            sc.AWS_REQUEST_ID: "Q1KJ7T0F3E5S9N2VA8ABCDEFGHJKLMNOPQRSTUVWXYZ0123456",
            sc.AWS_RETRIES: 0,
            sc.AWS_DYNAMODB_TABLE_NAMES: ["orders"],
            sc.HTTP_RESPONSE_STATUS_CODE: 200,
            sc.SERVER_ADDRESS: "dynamodb.us-east-1.amazonaws.com",
        },
    )
    span.end()
    return span


def invocation() -> Span:
    return Span("orders", TRACE_ID, PARENT, kind=SERVER, attributes={sc.FAAS_INVOCATION_ID: "r"})


def emit_costs(handoff: Handoff, count: int) -> list[float]:
    """Microseconds per emit, spaced a little as real calls are."""
    parent = invocation()
    costs = []
    for _ in range(count):
        span = sdk_span(parent)
        started = time.perf_counter()
        handoff.emit(span)
        costs.append((time.perf_counter() - started) * 1e6)
        time.sleep(0.00002)
    return costs


def show(label: str, costs: list[float]) -> None:
    costs = sorted(costs)
    print(
        f"{label:<44} median {statistics.median(costs):6.1f} µs   "
        f"p99 {costs[int(len(costs) * 0.99)]:7.1f} µs   max {costs[-1]:7.1f} µs"
    )


def with_extension(count: int) -> None:
    folder = tempfile.mkdtemp(prefix="xl-bench-")
    path = os.path.join(folder, "intake.sock")
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, path], stdout=subprocess.PIPE, text=True
    )
    try:
        reader.stdout.readline()  # type: ignore[union-attr]
        handoff = Handoff(path, environ={})
        show("emit, extension reading (other process)", emit_costs(handoff, count))
        print(f"{'':<44} {handoff.stats()}")
    finally:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as poke:
            poke.sendto(b"stop", path)
        reader.wait(5)
        os.unlink(path)
        os.rmdir(folder)


def without_extension(count: int) -> None:
    handoff = Handoff("/tmp/xraylayer-bench-absent.sock", max_pending=count + 1, environ={})
    show("emit, no extension (queued for fallback)", emit_costs(handoff, count))


def fallback(rounds: int) -> None:
    with XRayDaemon() as daemon:
        handoff = Handoff(
            "/tmp/xraylayer-bench-absent.sock",
            environ={"AWS_XRAY_DAEMON_ADDRESS": daemon.address},
        )
        costs = []
        for _ in range(rounds):
            span = invocation()
            handoff.invocation_started(span)
            for _ in range(10):
                handoff.emit(sdk_span(span))
            span.end()
            handoff.emit(span)
            started = time.perf_counter()
            handoff.invocation_finished(span)
            costs.append((time.perf_counter() - started) * 1e6)
        daemon.sync()
        show("fallback invocation_finished, 11 spans", costs)
        print(
            f"{'':<44} {len(daemon.documents)} documents at the daemon, {daemon.rejected} rejected"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=5000)
    arguments = parser.parse_args()
    print(f"span on the wire: {len(wire.encode_span(sdk_span(invocation()), 'r'))} bytes")
    with_extension(arguments.spans)
    without_extension(arguments.spans)
    fallback(200)


if __name__ == "__main__":
    main()
