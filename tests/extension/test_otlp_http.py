"""The OTLP/HTTP exporter against a real OTLP/HTTP receiver on loopback.

The receiver parses every body as a collector does (gzip undone, hex ids decoded, then
``opentelemetry-proto``'s ``ExportTraceServiceRequest`` through protobuf's JSON parser) and
answers from a script: a status, headers and a body per request, or a hang.
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator
from typing import Any

import http_stand_in
import pytest
from http_stand_in import (
    CLOSE_SILENTLY,
    HANG,
    FakeTime,
    accounted,
    run_as_the_extension,
    unused_port,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from otlp_request import spans_of
from test_otlp_json import PARENT_ID, TRACE_ID, attributes_of, parse_request
from xraylayer.spans import Span
from xraylayer_extension import otlp_http
from xraylayer_extension.export_result import ExportResult
from xraylayer_extension.http_export import MAX_ATTEMPTS
from xraylayer_extension.otlp_http import OtlpHttpExporter


class Received:
    """One request as the receiver saw it."""

    def __init__(self, path: str, headers: dict[str, str], request: ExportTraceServiceRequest):
        self.path = path
        self.headers = headers
        self.request = request

    @property
    def spans(self) -> list[Any]:
        return [span for _, span in spans_of(self.request)]


class Receiver(http_stand_in.StandIn):
    """An OTLP/HTTP receiver on 127.0.0.1: every body read as a collector reads it."""

    def parse(self, path: str, headers: dict[str, str], body: bytes) -> Received:
        if headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        return Received(path, headers, parse_request(body))


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from http_stand_in.serving(Receiver())


def spans(count: int = 3) -> list[Span]:
    result = []
    for index in range(count):
        span = Span(f"op{index}", TRACE_ID, PARENT_ID, start_time=1700000000.0 + index)
        span.end(1700000000.5 + index)
        result.append(span)
    return result


def exporter(receiver: Receiver, **environ: str) -> OtlpHttpExporter:
    sleeps = FakeTime()  # records the waits; the clock stays the real one
    environ = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, **environ}
    made = OtlpHttpExporter(environ, sleep=sleeps.sleep)
    made.sleeps = sleeps  # type: ignore[attr-defined]
    return made


def soon(seconds: float = 10.0) -> float:
    return time.monotonic() + seconds


# --- delivery ----------------------------------------------------------------------------------


def test_spans_are_delivered_as_an_otlp_request(receiver: Receiver) -> None:
    sent = spans(3)
    result = accounted(
        exporter(receiver, AWS_LAMBDA_FUNCTION_NAME="orders").export(sent, soon()), 3
    )
    assert result == ExportResult(exported=3, attempts=1)
    (received,) = receiver.received
    assert received.path == "/v1/traces"
    assert received.headers["Content-Type"] == "application/json"
    assert received.headers["User-Agent"].startswith("xraylayer/")
    assert [s.span_id.hex() for s in received.spans] == [s.span_id for s in sent]
    assert [s.name for s in received.spans] == ["op0", "op1", "op2"]
    resource = attributes_of(received.request.resource_spans[0].resource)
    assert resource["service.name"] == "orders"
    assert resource["cloud.platform"] == "aws_lambda"


def test_nothing_to_send_sends_nothing(receiver: Receiver) -> None:
    assert exporter(receiver).export([], soon()) == ExportResult()
    assert receiver.received == []


def test_large_exports_are_split_into_requests(receiver: Receiver) -> None:
    made = OtlpHttpExporter({"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url}, max_spans_per_request=2)
    result = accounted(made.export(spans(5), soon()), 5)
    assert result.exported == 5
    assert [len(r.spans) for r in receiver.received] == [2, 2, 1]
    assert receiver.connections == 1  # one kept-alive connection for all three


def test_spans_otlp_cannot_carry_are_counted_as_dropped(receiver: Receiver) -> None:
    bad = Span("bad", "not-a-trace-id", span_id="0123456789abcdef")
    result = accounted(exporter(receiver).export([bad, *spans(2)], soon()), 3)
    assert (result.exported, result.dropped) == (2, {"invalid_span": 1})


def test_sampled_override_reaches_the_flags(receiver: Receiver) -> None:
    unsampled = spans(1)
    unsampled[0].sampled = False
    exporter(receiver).export(unsampled, soon(), sampled=True)
    assert receiver.received[0].spans[0].flags == 1


# --- failures ----------------------------------------------------------------------------------


def test_400_is_not_retried_and_counts_the_spans_as_rejected(receiver: Receiver) -> None:
    receiver.answer((400, {}, b'{"code": 3, "message": "invalid span"}'))
    made = exporter(receiver)
    result = accounted(made.export(spans(3), soon()), 3)
    assert result == ExportResult(rejected=3, attempts=1, message="invalid span")
    assert len(receiver.received) == 1
    assert made.sleeps.waits == []


@pytest.mark.parametrize("status", [401, 403, 404, 413, 500, 501])
def test_other_failures_are_not_retried_and_count_as_dropped(
    receiver: Receiver, status: int
) -> None:
    receiver.answer((status, {}, b"nope"))
    result = accounted(exporter(receiver).export(spans(2), soon()), 2)
    assert result == ExportResult(dropped={f"http_{status}": 2}, attempts=1, message="nope")
    assert len(receiver.received) == 1


def test_503_twice_then_200_is_delivered_after_backoff(receiver: Receiver) -> None:
    receiver.answer((503, {}, b""), (503, {}, b""))
    made = exporter(receiver)
    result = accounted(made.export(spans(3), soon()), 3)
    assert (result.exported, result.attempts) == (3, 3)
    assert len(receiver.received) == 3
    first, second = made.sleeps.waits
    assert 0.05 <= first <= 0.1 and 0.1 <= second <= 0.2  # exponential, with jitter


@pytest.mark.parametrize("status", [429, 502, 504])
def test_other_retryable_statuses_are_retried(receiver: Receiver, status: int) -> None:
    receiver.answer((status, {}, b""))
    assert accounted(exporter(receiver).export(spans(1), soon()), 1).exported == 1
    assert len(receiver.received) == 2


def test_429_with_retry_after_0_is_retried_at_once(receiver: Receiver) -> None:
    receiver.answer((429, {"Retry-After": "0"}, b""))
    made = exporter(receiver)
    result = accounted(made.export(spans(2), soon()), 2)
    assert (result.exported, result.attempts) == (2, 2)
    assert made.sleeps.waits == []


def test_retry_after_seconds_and_dates_are_honoured(receiver: Receiver) -> None:
    in_a_minute = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 60))
    receiver.answer((503, {"Retry-After": "3"}, b""), (503, {"Retry-After": in_a_minute}, b""))
    made = exporter(receiver)
    assert accounted(made.export(spans(1), soon(120)), 1).exported == 1
    assert made.sleeps.waits[0] == 3.0
    assert 55 <= made.sleeps.waits[1] <= 60


def test_a_retry_after_beyond_the_deadline_gives_up_at_once(receiver: Receiver) -> None:
    receiver.answer((503, {"Retry-After": "30"}, b"busy"))
    made = exporter(receiver)
    result = accounted(made.export(spans(2), soon(5)), 2)
    assert result == ExportResult(dropped={"http_503": 2}, attempts=1, message="busy")
    assert made.sleeps.waits == []


def test_retries_stop_after_max_attempts(receiver: Receiver) -> None:
    receiver.answer(*[(502, {}, b"")] * MAX_ATTEMPTS)
    result = accounted(exporter(receiver).export(spans(1), soon(600)), 1)
    assert result.dropped == {"http_502": 1}
    assert result.attempts == MAX_ATTEMPTS == len(receiver.received)


def test_a_receiver_that_hangs_is_left_at_the_deadline(receiver: Receiver) -> None:
    receiver.answer(HANG)
    started = time.monotonic()
    result = accounted(
        OtlpHttpExporter({"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url}).export(
            spans(4), started + 0.5
        ),
        4,
    )
    elapsed = time.monotonic() - started
    assert result.dropped == {"timeout": 4}
    assert result.exported == result.rejected == 0
    assert 0.45 <= elapsed < 0.9


def test_connection_errors_are_retried_until_the_deadline_then_dropped() -> None:
    made = OtlpHttpExporter({"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{unused_port()}"})
    started = time.monotonic()
    result = accounted(made.export(spans(2), started + 0.6), 2)
    elapsed = time.monotonic() - started
    assert result.dropped == {"connection_error": 2}
    assert result.attempts >= 3
    assert "ConnectionRefusedError" in (result.message or "")
    assert elapsed < 0.8


def test_a_connection_error_then_success_is_delivered(receiver: Receiver) -> None:
    url = receiver.url
    made = OtlpHttpExporter({"OTEL_EXPORTER_OTLP_ENDPOINT": url}, sleep=lambda s: None)
    real_post = made._sender.post
    calls = []

    def flaky_post(*args: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionResetError("reset by peer")
        return real_post(*args)

    made._sender.post = flaky_post  # type: ignore[method-assign]
    result = accounted(made.export(spans(1), soon()), 1)
    assert (result.exported, result.attempts) == (1, 2)


def test_a_deadline_already_past_sends_nothing(receiver: Receiver) -> None:
    result = accounted(exporter(receiver).export(spans(3), time.monotonic() - 1), 3)
    assert result == ExportResult(dropped={"deadline": 3})
    assert receiver.received == []


def test_batches_left_when_the_deadline_passes_are_counted(receiver: Receiver) -> None:
    clock = iter([0.0, 0.0, 0.0, 5.0, 5.0, 11.0, 11.0])
    made = OtlpHttpExporter(
        {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url},
        clock=lambda: next(clock),
        max_spans_per_request=2,
    )
    result = accounted(made.export(spans(6), 10.0), 6)
    assert (result.exported, result.dropped) == (4, {"deadline": 2})


def test_a_kept_connection_closed_by_the_receiver_is_replaced_without_backoff(
    receiver: Receiver,
) -> None:
    receiver.answer((200, {CLOSE_SILENTLY: "1"}, b"{}"))
    made = exporter(receiver)
    assert made.export(spans(1), soon()).exported == 1
    time.sleep(0.05)  # the receiver has closed its side
    result = accounted(made.export(spans(1), soon()), 1)
    assert (result.exported, result.attempts) == (1, 2)
    assert made.sleeps.waits == []
    assert receiver.connections == 2


def test_partial_success_counts_rejected_spans_and_is_not_retried(receiver: Receiver) -> None:
    reply = {"partialSuccess": {"rejectedSpans": "2", "errorMessage": "spans too old"}}
    receiver.answer((200, {}, json.dumps(reply).encode()))
    result = accounted(exporter(receiver).export(spans(3), soon()), 3)
    assert result == ExportResult(exported=1, rejected=2, attempts=1, message="spans too old")
    assert len(receiver.received) == 1


@pytest.mark.parametrize(
    "reply", [b"", b"{}", b'{"partialSuccess": {}}', b"not json", b'{"partialSuccess": 7}']
)
def test_a_2xx_without_rejections_exports_everything(receiver: Receiver, reply: bytes) -> None:
    receiver.answer((200, {}, reply))
    assert exporter(receiver).export(spans(2), soon()) == ExportResult(exported=2, attempts=1)


def test_export_never_raises(receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    from xraylayer_extension import otlp_json

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("bug")

    monkeypatch.setattr(otlp_json, "export_request", broken)
    result = accounted(exporter(receiver).export(spans(2), soon()), 2)
    assert result.dropped == {"internal_error": 2}

    def unreadable() -> Iterator[Span]:
        yield from spans(1)
        raise RuntimeError("iteration failed")

    assert exporter(receiver).export(unreadable(), soon()) == ExportResult()


# --- configuration -----------------------------------------------------------------------------


def test_gzip_compression(receiver: Receiver) -> None:
    made = exporter(receiver, OTEL_EXPORTER_OTLP_COMPRESSION="gzip")
    assert accounted(made.export(spans(3), soon()), 3).exported == 3
    (received,) = receiver.received
    assert received.headers["Content-Encoding"] == "gzip"
    assert len(received.spans) == 3


def test_headers_from_the_environment_arrive(receiver: Receiver) -> None:
    made = exporter(
        receiver,
        OTEL_EXPORTER_OTLP_HEADERS="api-key=s%3Dcr%2Cet,X-Team = obs , x-scope=general",
        OTEL_EXPORTER_OTLP_TRACES_HEADERS="X-Scope=traces",
    )
    made.export(spans(1), soon())
    headers = {k.lower(): v for k, v in receiver.received[0].headers.items()}
    assert headers["api-key"] == "s=cr,et"
    assert headers["x-team"] == "obs"
    assert headers["x-scope"] == "traces"


def test_bad_headers_are_skipped_without_logging_their_values(
    capsys: pytest.CaptureFixture[str],
) -> None:
    headers = otlp_http.parse_headers(
        "good=1,bad name=secret1,x=a%0D%0Ainjected: secret2,Content-Type=text/plain,novalue"
    )
    assert headers == {"good": "1"}
    logged = capsys.readouterr().err
    assert "secret" not in logged
    assert logged.count("xraylayer: WARNING") == 4


@pytest.mark.parametrize(
    ("environ", "endpoint"),
    [
        ({}, "http://localhost:4318/v1/traces"),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"},
            "http://collector:4318/v1/traces",
        ),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "https://h/base/"}, "https://h/base/v1/traces"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://h:4318/otlp"}, "http://h:4318/otlp/v1/traces"),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://h:9/custom"}, "http://h:9/custom"),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://h:9"}, "http://h:9"),
        (
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://base:4318",
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://traces:4318/t",
            },
            "http://traces:4318/t",
        ),
        (
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://base:4318",
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "collector:4318",  # no scheme
            },
            "http://base:4318/v1/traces",
        ),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "ftp://h"}, "http://localhost:4318/v1/traces"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://h:99999"}, "http://localhost:4318/v1/traces"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "  "}, "http://localhost:4318/v1/traces"),
    ],
)
def test_endpoint_resolution(environ: dict[str, str], endpoint: str) -> None:
    assert otlp_http.resolve_endpoint(environ) == endpoint


def test_a_traces_endpoint_is_used_as_is(receiver: Receiver) -> None:
    made = OtlpHttpExporter(
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": receiver.url + "/custom/path?tenant=a",
        }
    )
    assert made.export(spans(1), soon()).exported == 1
    assert receiver.received[0].path == "/custom/path?tenant=a"


def test_bad_compression_and_timeout_values_fall_back_with_a_warning(
    capsys: pytest.CaptureFixture[str],
) -> None:
    resolved = otlp_http.settings(
        {"OTEL_EXPORTER_OTLP_COMPRESSION": "brotli", "OTEL_EXPORTER_OTLP_TIMEOUT": "-5"}
    )
    assert (resolved.gzip, resolved.timeout) == (False, 10.0)
    assert capsys.readouterr().err.count("xraylayer: WARNING") == 2
    resolved = otlp_http.settings(
        {"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "GZIP", "OTEL_EXPORTER_OTLP_TIMEOUT": "2500"}
    )
    assert (resolved.gzip, resolved.timeout) == (True, 2.5)


def test_importing_and_making_the_exporter_loads_no_http_client() -> None:
    code = (
        "import sys\n"
        "from xraylayer_extension.otlp_http import OtlpHttpExporter\n"
        "OtlpHttpExporter({})\n"
        "heavy = {'http.client', 'json', 'zlib', 'urllib.parse', 'xraylayer_extension.otlp_json'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    output = run_as_the_extension(code)
    assert output.strip() == "[]"


def test_the_process_wide_export_reads_the_environment(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(otlp_http, "_DEFAULT", [])
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-env")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "team=a,broken")
    assert otlp_http.export(spans(2), soon()) == ExportResult(exported=2, attempts=1)
    assert otlp_http.export(spans(1), soon()).exported == 1
    resource = attributes_of(receiver.received[0].request.resource_spans[0].resource)
    assert (resource["service.name"], resource["team"]) == ("from-env", "a")
    assert "OTEL_RESOURCE_ATTRIBUTES: malformed entry #1" in capsys.readouterr().err
    assert receiver.connections == 1
