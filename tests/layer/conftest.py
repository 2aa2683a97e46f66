"""Fixtures of the in-function layer tests that use the network or threads: a loopback server,
a span collector, an open invocation span with requests, urllib3, http.client and the thread
pools patched. None is autouse: tests elsewhere in this folder are untouched unless they ask.

Patches are process-wide and idempotent: every test that needs them patches again, harmlessly.
"""

from __future__ import annotations

import http.client
from collections.abc import Iterator

import pytest
import requests
import urllib3
from http_fixtures import LAMBDA_PARENT, TRACE_ID, LoopbackServer
from span_sink import CollectingSink
from xraylayer import context
from xraylayer.instrument import http_client as http_client_patch
from xraylayer.instrument import requests as requests_patch
from xraylayer.instrument import threads as threads_patch
from xraylayer.instrument import urllib3 as urllib3_patch
from xraylayer.spans import Span
from xraylayer.tracer import TRACER


@pytest.fixture(scope="session")
def server() -> Iterator[LoopbackServer]:
    loopback = LoopbackServer().start()
    yield loopback
    loopback.stop()


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No trace header or layer endpoint from the machine running the tests leaks in."""
    for name in (
        "_X_AMZN_TRACE_ID",
        "AWS_LAMBDA_RUNTIME_API",
        "AWS_XRAY_DAEMON_ADDRESS",
        "XRAYLAYER_INTAKE",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def patched() -> None:
    http_client_patch.patch(http.client)
    urllib3_patch.patch(urllib3)
    requests_patch.patch(requests)
    threads_patch.patch_executors()


@pytest.fixture
def sink(patched: None, clean_environment: None) -> Iterator[CollectingSink]:
    collecting = CollectingSink()
    previous, TRACER.sink = TRACER.sink, collecting
    yield collecting
    TRACER.sink = previous


@pytest.fixture
def invocation(sink: CollectingSink) -> Iterator[Span]:
    """An open, sampled invocation span under Lambda's Invocation subsegment, made current."""
    lambda_subsegment = Span("Invocation", TRACE_ID, span_id=LAMBDA_PARENT, sampled=True)
    with TRACER.span("invocation", parent=lambda_subsegment) as span:
        yield span
    assert context.current_span() is None


@pytest.fixture
def collected() -> Iterator[CollectingSink]:
    """Every span the tracer finishes during the test, without any hand-off."""
    sink = CollectingSink()
    previous, TRACER.sink = TRACER.sink, sink
    yield sink
    TRACER.sink = previous
