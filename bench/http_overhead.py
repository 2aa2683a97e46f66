"""What tracing an HTTP call costs: median time per ``requests`` call with and without the patches.

One process, one loopback HTTP/1.1 server in a child process (so its work does not compete for
this process's GIL), calls made in a sampled invocation span with ``_X_AMZN_TRACE_ID`` set, so
the span, its attributes and both trace headers are made on every call. The patches (requests,
urllib3, http.client) are switched off and on by swapping the wrappers for the originals they
hold, in alternating rounds, so machine noise hits both alike. Each figure is given as wall
time and as this thread's CPU time (which the server and other processes do not blur):

- ``session``: ``session.get`` on a kept-alive connection (the smallest baseline, so the
  largest ratio: the worst case a user can see);
- ``requests.get``: a new session and connection per call, as most code does;
- ``no trace``: ``session.get`` with tracing patched in but no span and no trace header (the
  path every call takes before the layer knows it has a trace);
- ``no network``: ``session.get`` through a requests adapter that answers in-process, leaving
  requests' own work (merging settings, hooks, cookies) as the baseline: the patch's CPU cost
  without a socket's noise.

    .venv/bin/python bench/http_overhead.py [--calls 300] [--rounds 10]
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import time
from collections.abc import Callable

import requests
import urllib3
from counting_sink import CountingSink
from loopback import LoopbackServer
from requests.adapters import BaseAdapter
from xraylayer.instrument import http_client
from xraylayer.instrument import requests as requests_patch
from xraylayer.instrument import urllib3 as urllib3_patch
from xraylayer.instrument.patching import Unpatched
from xraylayer.spans import Span
from xraylayer.tracer import TRACER

ROOT = "1-5759e988-bd862e3fe1be46a994272793"
PARENT = "53995c3f42cd8ad8"
HEADER = f"Root={ROOT};Parent={PARENT};Sampled=1;Lineage=a87bd80c:1|68fd508a:5"
PATCHED = (
    (requests.Session, "send"),
    (urllib3.HTTPConnectionPool, "urlopen"),
    *((http.client.HTTPConnection, name) for name in http_client.METHODS),
)


class CannedAdapter(BaseAdapter):
    """A requests transport adapter that answers 200 without a socket."""

    def send(self, request: requests.PreparedRequest, **kwargs: object) -> requests.Response:
        response = requests.Response()
        response.status_code, response.url, response.request = 200, request.url, request
        response._content = b"ok"
        return response

    def close(self) -> None:
        """Nothing to close."""


def per_call_us(call: Callable[[], object], calls: int) -> list[tuple[float, float]]:
    """(wall, cpu) µs of each call; CPU time is this thread's only, so neither the server nor
    other processes on the machine blur it."""
    times = []
    for _ in range(calls):
        wall, cpu = time.perf_counter_ns(), time.thread_time_ns()
        call()
        times.append(((time.perf_counter_ns() - wall) / 1000, (time.thread_time_ns() - cpu) / 1000))
    return times


def compare(name: str, call: Callable[[], object], calls: int, rounds: int) -> None:
    """Alternate rounds without and with the patches; print medians, overhead, ratio."""
    plain: list[tuple[float, float]] = []
    traced: list[tuple[float, float]] = []
    per_call_us(call, 50)  # warm up connections and caches
    for _ in range(rounds):
        with Unpatched(PATCHED):
            plain += per_call_us(call, calls)
        traced += per_call_us(call, calls)
    for clock, index in (("wall", 0), ("cpu", 1)):
        base = statistics.median(times[index] for times in plain)
        with_layer = statistics.median(times[index] for times in traced)
        print(
            f"{name:<13} {clock:<4}  without {base:7.1f} µs   with {with_layer:7.1f} µs   "
            f"overhead {with_layer - base:5.1f} µs   ratio {with_layer / base:5.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300, help="calls per round and variant")
    parser.add_argument("--rounds", type=int, default=10)
    options = parser.parse_args()

    http_client.patch(http.client)
    urllib3_patch.patch(urllib3)
    requests_patch.patch(requests)
    sink = CountingSink()
    TRACER.sink = sink
    with LoopbackServer() as server:
        url = server.url("/status/200?user=42")
        session = requests.Session()
        compare("no trace", lambda: session.get(url), options.calls, options.rounds)
        os.environ["_X_AMZN_TRACE_ID"] = HEADER
        lambda_subsegment = Span("Invocation", ROOT[2:10] + ROOT[11:], span_id=PARENT)
        with TRACER.span("invocation", parent=lambda_subsegment):
            compare("session", lambda: session.get(url), options.calls, options.rounds)
            compare("requests.get", lambda: requests.get(url), options.calls, options.rounds)
            offline = requests.Session()
            offline.mount("http://", CannedAdapter())
            compare("no network", lambda: offline.get(url), options.calls * 10, options.rounds)
    print(f"spans made: {sink.count}")


if __name__ == "__main__":
    main()
