"""The X-Ray API exporter: against moto's X-Ray (documents read back with boto3), and against a
scripted stand-in on loopback for every failure, with a fake clock so that backoff and the
deadline are exercised without waiting.

The stand-in checks every request's signature with botocore's own signer, so the exporter's
requests are ones AWS would authenticate.
"""

from __future__ import annotations

import calendar
import json
import os
import time
from collections.abc import Iterator
from types import SimpleNamespace

import boto3
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
from hypothesis import given, settings
from hypothesis import strategies as st
from test_sigv4 import botocore_headers
from test_xray_trace_documents import Exploding, child, invocation, raised
from xraylayer import semconv as sc
from xraylayer import xray_document
from xraylayer.spans import CLIENT, Span
from xraylayer.trace_header import from_w3c_trace_id
from xraylayer_extension import http_export, xray_api
from xraylayer_extension.export_result import ExportResult
from xraylayer_extension.http_export import MAX_ATTEMPTS
from xraylayer_extension.sigv4 import Credentials
from xraylayer_extension.xray_api import XRayApiExporter
from xraylayer_local.moto_server import MotoServer

OK = (200, {}, b'{"UnprocessedTraceSegments": []}')
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "AKIDSTANDIN",
    "AWS_SECRET_ACCESS_KEY": "stand-in-secret",
    "AWS_SESSION_TOKEN": "stand-in-token",
}
REGION = "eu-west-1"


# --- the stand-in ------------------------------------------------------------------------------


class Received:
    """One request as the stand-in saw it."""

    def __init__(self, path: str, headers: dict[str, str], body: bytes) -> None:
        self.path = path
        self.headers = headers
        self.body = body
        self.documents = [json.loads(d) for d in json.loads(body)["TraceSegmentDocuments"]]

    @property
    def ids(self) -> list[str]:
        return [document["id"] for document in self.documents]


class StandIn(http_stand_in.StandIn):
    """An X-Ray endpoint on 127.0.0.1 that reads every request's documents and checks its
    signature; scripted answers that are functions are given the request."""

    default = OK

    def parse(self, path: str, headers: dict[str, str], body: bytes) -> Received:
        received = Received(path, headers, body)
        check_signature(received)
        return received


def check_signature(received: Received) -> None:
    """The Authorization header is the one botocore computes for this request."""
    authorization = received.headers["Authorization"]
    scope = authorization.split("Credential=", 1)[1].split(",", 1)[0].split("/")
    signed = authorization.split("SignedHeaders=", 1)[1].split(",", 1)[0].split(";")
    by_name = {name.lower(): value for name, value in received.headers.items()}
    headers = {name: by_name[name] for name in signed if not name.startswith("x-amz-")}
    stamp = by_name["x-amz-date"]
    expected = botocore_headers(
        {
            "method": "POST",
            "url": f"http://{by_name['host']}{received.path}",
            "headers": headers,
            "body": received.body,
            "region": scope[2],
            "service": scope[3],
            "credentials": Credentials(
                scope[0], CREDENTIALS["AWS_SECRET_ACCESS_KEY"], by_name["x-amz-security-token"]
            ),
            "now": calendar.timegm(time.strptime(stamp, "%Y%m%dT%H%M%SZ")),
        }
    )
    if expected["Authorization"] != authorization:
        raise AssertionError(f"signature differs: {authorization} != {expected}")


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    yield from http_stand_in.serving(StandIn())


def exporter(stand_in: StandIn, fake: FakeTime | None = None, **environ: str) -> XRayApiExporter:
    fake = fake or FakeTime()
    environ = {
        **CREDENTIALS,
        "AWS_REGION": REGION,
        "AWS_ENDPOINT_URL_XRAY": stand_in.url,
        **environ,
    }
    return XRayApiExporter(environ, clock=fake.clock, sleep=fake.sleep)


def spans(count: int, *, sampled: bool = True) -> list[Span]:
    """One invocation's spans: ``count - 1`` children, then the invocation span."""
    root = invocation(sampled=sampled)
    return [*(child(root, f"work{i}") for i in range(count - 1)), root]


def unprocessed(*ids: str, code: str = "InvalidTraceId") -> tuple[int, dict, bytes]:
    records = [{"Id": i, "ErrorCode": code, "Message": f"Invalid segment. {code}"} for i in ids]
    return (200, {}, json.dumps({"UnprocessedTraceSegments": records}).encode())


# --- moto: what X-Ray stores -------------------------------------------------------------------


def stored_documents(server: MotoServer, trace_id: str) -> dict[str, dict]:
    """Documents X-Ray (moto) holds for the trace, by id, read with boto3."""
    client = boto3.client(
        "xray",
        region_name=server.region,
        endpoint_url=server.endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    traces = client.batch_get_traces(TraceIds=[from_w3c_trace_id(trace_id)])["Traces"]
    documents = [json.loads(s["Document"]) for t in traces for s in t["Segments"]]
    return {document["id"]: document for document in documents}


def moto_exporter(server: MotoServer) -> XRayApiExporter:
    return XRayApiExporter({**server.env(), "AWS_REGION": server.region})


def fresh_trace_id() -> str:
    """A trace id of now (X-Ray's form once dashes are added), different in every test."""
    return f"{int(time.time()):08x}" + os.urandom(12).hex()


def with_trace_id(sent: list[Span], trace_id: str) -> list[Span]:
    for span in sent:
        span.trace_id = trace_id
    return sent


def test_an_unsampled_invocation_is_stored_as_a_segment_with_its_subsegments(
    moto_server: MotoServer,
) -> None:
    root = invocation(sampled=False, trace_id=fresh_trace_id())
    dynamodb = child(
        root,
        "DynamoDB",
        kind=CLIENT,
        **{
            sc.RPC_SYSTEM: "aws-api",
            sc.RPC_METHOD: "PutItem",
            sc.AWS_REGION: "eu-west-1",
            sc.AWS_REQUEST_ID: "REQ123",
            sc.AWS_DYNAMODB_TABLE_NAMES: ["orders"],
        },
    )
    http = child(
        root,
        "api.example.com",
        kind=CLIENT,
        **{
            sc.HTTP_REQUEST_METHOD: "GET",
            sc.URL_FULL: "https://api.example.com/items",
            sc.HTTP_RESPONSE_STATUS_CODE: 503,
        },
    )
    http.set_status_code(503)
    error = raised("upstream down")
    http.record_exception(error, remote=True)
    root.record_exception(error)
    result = moto_exporter(moto_server).export([dynamodb, http, root], time.monotonic() + 30)
    assert result == ExportResult(exported=3, attempts=1)

    stored = stored_documents(moto_server, root.trace_id)
    assert set(stored) == {root.span_id, dynamodb.span_id, http.span_id}
    segment = stored[root.span_id]
    assert segment["origin"] == "AWS::Lambda::Function"
    assert "parent_id" not in segment
    assert segment["aws"]["function_arn"].endswith(":function:orders")
    assert segment["cause"] == http.exceptions[0]["id"]  # propagated: referenced, not copied
    aws_call = stored[dynamodb.span_id]
    assert (aws_call["type"], aws_call["parent_id"], aws_call["namespace"]) == (
        "subsegment",
        root.span_id,
        "aws",
    )
    assert aws_call["aws"] == {
        "operation": "PutItem",
        "region": "eu-west-1",
        "request_id": "REQ123",
        "table_name": "orders",
    }
    http_call = stored[http.span_id]
    assert http_call["parent_id"] == root.span_id
    assert http_call["http"] == {
        "request": {"method": "GET", "url": "https://api.example.com/items"},
        "response": {"status": 503},
    }
    assert http_call["fault"] is True
    assert http_call["cause"]["exceptions"][0]["message"] == "upstream down"


def test_spans_of_a_sampled_invocation_are_stored_under_lambdas_segment(
    moto_server: MotoServer,
) -> None:
    sent = with_trace_id(spans(3, sampled=True), fresh_trace_id())
    result = moto_exporter(moto_server).export(sent, time.monotonic() + 30)
    assert result.exported == 3
    stored = stored_documents(moto_server, sent[0].trace_id)
    assert {d["id"]: d["parent_id"] for d in stored.values()} == {
        sent[0].span_id: sent[2].span_id,
        sent[1].span_id: sent[2].span_id,
        sent[2].span_id: invocation(sampled=True).parent_id,  # Lambda's Invocation subsegment
    }
    assert all(d["type"] == "subsegment" for d in stored.values())


def test_many_spans_all_reach_x_ray(moto_server: MotoServer) -> None:
    sent = with_trace_id(spans(120, sampled=False), fresh_trace_id())
    result = moto_exporter(moto_server).export(sent, time.monotonic() + 30)
    assert result == ExportResult(exported=120, attempts=3)  # 50 + 50 + 20
    assert set(stored_documents(moto_server, sent[0].trace_id)) == {s.span_id for s in sent}


# --- requests ----------------------------------------------------------------------------------


def test_requests_are_signed_put_trace_segments_calls(stand_in: StandIn) -> None:
    sent = spans(3, sampled=False)
    result = accounted(exporter(stand_in).export(sent, 10.0), 3)
    assert result == ExportResult(exported=3, attempts=1)
    (received,) = stand_in.received  # its signature was checked by the stand-in
    assert received.path == "/TraceSegments"
    assert received.headers["Content-Type"] == "application/json"
    assert received.headers["X-Amz-Security-Token"] == "stand-in-token"
    assert f"/{REGION}/xray/aws4_request" in received.headers["Authorization"]
    assert received.headers["User-Agent"].startswith("xraylayer/")
    assert received.ids == [s.span_id for s in sent]
    assert received.documents[-1]["origin"] == xray_document.ORIGIN_FUNCTION


def test_an_endpoint_with_a_path_keeps_it(stand_in: StandIn) -> None:
    made = exporter(stand_in, AWS_ENDPOINT_URL_XRAY=stand_in.url + "/prefix/")
    assert made.export(spans(1), 10.0).exported == 1
    assert stand_in.received[0].path == "/prefix/TraceSegments"


def test_requests_hold_at_most_50_documents_on_one_connection(stand_in: StandIn) -> None:
    result = accounted(exporter(stand_in).export(spans(120), 10.0), 120)
    assert result == ExportResult(exported=120, attempts=3)
    assert [len(r.documents) for r in stand_in.received] == [50, 50, 20]
    assert stand_in.connections == 1


def test_large_documents_are_spread_over_requests_under_the_size_limit(
    stand_in: StandIn,
) -> None:
    sent = spans(40)
    for span in sent:
        span.metadata["padding"] = {"text": "\"'" * 15_000}  # escaped twice: ~90 kB a document
    result = accounted(exporter(stand_in).export(sent, 10.0), 40)
    assert result.exported == 40
    sizes = [len(r.body) for r in stand_in.received]
    assert len(sizes) > 1 and max(sizes) <= xray_api.MAX_REQUEST_BYTES
    assert sum(len(r.documents) for r in stand_in.received) == 40


def test_nothing_to_send_sends_nothing(stand_in: StandIn) -> None:
    assert exporter(stand_in).export([], 10.0) == ExportResult()
    assert stand_in.received == []


def test_a_kept_connection_is_reused_between_exports(stand_in: StandIn) -> None:
    made = exporter(stand_in)
    assert made.export(spans(2), 10.0).exported == 2
    assert made.export(spans(2), 10.0).exported == 2
    assert stand_in.connections == 1
    made.close()
    stand_in.wait_closed()


def test_a_kept_connection_closed_by_the_endpoint_is_replaced_without_backoff(
    stand_in: StandIn,
) -> None:
    stand_in.answer((200, {CLOSE_SILENTLY: "1"}, b"{}"))
    fake = FakeTime()
    made = exporter(stand_in, fake)
    assert made.export(spans(1), 10.0).exported == 1
    stand_in.wait_closed()
    result = accounted(made.export(spans(1), 10.0), 1)
    assert (result.exported, result.attempts) == (1, 2)
    assert fake.waits == []
    assert stand_in.connections == 2


# --- retries -----------------------------------------------------------------------------------


def test_503_twice_then_200_is_delivered_after_backoff(stand_in: StandIn) -> None:
    stand_in.answer((503, {}, b""), (503, {}, b""))
    fake = FakeTime()
    result = accounted(exporter(stand_in, fake).export(spans(3), 10.0), 3)
    assert (result.exported, result.attempts) == (3, 3)
    assert len(stand_in.received) == 3
    first, second = fake.waits
    assert 0.05 <= first <= 0.1 and 0.1 <= second <= 0.2  # exponential, with jitter


@pytest.mark.parametrize(
    "answer",
    [
        (429, {"x-amzn-ErrorType": "ThrottledException:"}, b'{"message": "slow down"}'),
        (500, {}, b'{"__type": "InternalFailure"}'),
        (502, {}, b"bad gateway"),
        (504, {}, b""),
        (400, {}, b'{"__type": "com.amazon.coral#ThrottlingException", "message": "Rate"}'),
    ],
)
def test_throttling_and_faults_are_retried(
    stand_in: StandIn, answer: tuple[int, dict, bytes]
) -> None:
    stand_in.answer(answer)
    result = accounted(exporter(stand_in).export(spans(2), 10.0), 2)
    assert (result.exported, result.attempts) == (2, 2)


@pytest.fixture
def longest_backoff(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The exporter's jitter pinned at its top (100 %), so the waits are known: 0.1, 0.2, 0.4
    ... 2 s. (Only http_export's ``os``: span ids stay random.)"""
    pinned = SimpleNamespace(environ=os.environ, urandom=lambda n: b"\xff" * n)
    monkeypatch.setattr(http_export, "os", pinned)
    return [0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0]


def test_retries_stop_before_the_deadline(stand_in: StandIn, longest_backoff: list[float]) -> None:
    stand_in.answer(*[(503, {}, b"busy")] * MAX_ATTEMPTS)
    fake = FakeTime()
    result = accounted(exporter(stand_in, fake).export(spans(2), 5.0), 2)
    assert result == ExportResult(dropped={"http_503": 2}, attempts=6, message="busy")
    assert fake.waits == pytest.approx(longest_backoff[:5])  # the next, 2 s, would pass 5.0


def test_retries_stop_after_max_attempts(stand_in: StandIn) -> None:
    stand_in.answer(*[(503, {}, b"")] * MAX_ATTEMPTS)
    result = accounted(exporter(stand_in).export(spans(1), 600.0), 1)
    assert result.dropped == {"http_503": 1}
    assert result.attempts == MAX_ATTEMPTS == len(stand_in.received)


def test_connection_errors_are_retried_until_the_deadline_then_dropped(
    longest_backoff: list[float],
) -> None:
    fake = FakeTime()
    made = XRayApiExporter(
        {
            **CREDENTIALS,
            "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{unused_port()}",
        },
        clock=fake.clock,
        sleep=fake.sleep,
    )
    result = accounted(made.export(spans(2), 5.0), 2)
    assert (result.dropped, result.attempts) == ({"connection_error": 2}, 6)
    assert "ConnectionRefusedError" in (result.message or "")
    assert fake.waits == pytest.approx(longest_backoff[:5])


def test_an_endpoint_that_hangs_is_left_at_the_deadline(stand_in: StandIn) -> None:
    stand_in.answer(HANG)
    made = XRayApiExporter(
        {**CREDENTIALS, "AWS_REGION": REGION, "AWS_ENDPOINT_URL_XRAY": stand_in.url}
    )
    result = accounted(made.export(spans(4), time.monotonic() + 0.5), 4)
    assert result.dropped == {"timeout": 4}


# --- refusals ----------------------------------------------------------------------------------


def test_a_400_rejects_the_documents_without_retrying(
    stand_in: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    reply = b'{"__type": "InvalidRequestException", "message": "bad document"}'
    stand_in.answer((400, {}, reply), (400, {}, reply))
    fake = FakeTime()
    made = exporter(stand_in, fake)
    result = accounted(made.export(spans(3), 10.0), 3)
    assert result == ExportResult(
        rejected=3, attempts=1, message="InvalidRequestException: bad document"
    )
    assert made.export(spans(1), 10.0).rejected == 1
    assert fake.waits == []
    logged = capsys.readouterr().err.splitlines()
    assert logged == [
        "xraylayer: WARNING X-Ray PutTraceSegments answered HTTP 400 "
        "InvalidRequestException: bad document"
    ]


def test_a_403_drops_the_spans_and_says_which_permission_is_missing(
    stand_in: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    stand_in.answer(
        (
            403,
            {"x-amzn-ErrorType": "AccessDeniedException:http://internal.amazon.com/"},
            b'{"Message": "User is not authorized to perform: xray:PutTraceSegments"}',
        )
    )
    result = accounted(exporter(stand_in).export(spans(2), 10.0), 2)
    assert result.dropped == {"http_403": 2}
    assert result.attempts == 1
    assert result.message == (
        "AccessDeniedException: User is not authorized to perform: xray:PutTraceSegments"
    )
    (line,) = capsys.readouterr().err.splitlines()
    assert "HTTP 403 AccessDeniedException" in line
    assert "xray:PutTraceSegments?)" in line


def test_unprocessed_documents_are_sent_once_more(stand_in: StandIn) -> None:
    sent = spans(5)
    stand_in.answer(unprocessed(sent[1].span_id, sent[3].span_id))
    result = accounted(exporter(stand_in).export(sent, 10.0), 5)
    assert result == ExportResult(exported=5, attempts=2)
    _, second = stand_in.received
    assert second.ids == [sent[1].span_id, sent[3].span_id]


def test_documents_unprocessed_twice_are_rejected_with_their_error_code(
    stand_in: StandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    sent = spans(5)
    refused = [sent[0].span_id, sent[4].span_id]
    stand_in.answer(unprocessed(*refused), unprocessed(refused[1]))
    result = accounted(exporter(stand_in).export(sent, 10.0), 5)
    assert (result.exported, result.rejected, result.attempts) == (4, 1, 2)
    assert result.message == "unprocessed: 1 x InvalidTraceId: Invalid segment. InvalidTraceId"
    assert "X-Ray did not process documents: InvalidTraceId" in capsys.readouterr().err


def test_unprocessed_documents_are_rejected_when_no_time_is_left(stand_in: StandIn) -> None:
    sent = spans(3)
    fake = FakeTime()

    def slow_and_partial(received: Received) -> tuple[int, dict, bytes]:
        fake.now = 20.0  # the request took the rest of the time
        return unprocessed(received.ids[0], code="ThrottledException")

    stand_in.answer(slow_and_partial)
    result = accounted(exporter(stand_in, fake).export(sent, 10.0), 3)
    assert (result.exported, result.rejected, result.attempts) == (2, 1, 1)
    assert "ThrottledException" in (result.message or "")
    assert len(stand_in.received) == 1


def test_when_sending_unprocessed_documents_again_fails_they_count_as_it_says(
    stand_in: StandIn,
) -> None:
    sent = spans(4)
    stand_in.answer(unprocessed(sent[2].span_id), (403, {}, b'{"message": "denied"}'))
    result = accounted(exporter(stand_in).export(sent, 10.0), 4)
    assert (result.exported, result.dropped, result.attempts) == (3, {"http_403": 1}, 2)


def test_unprocessed_entries_naming_unknown_documents_are_ignored(stand_in: StandIn) -> None:
    body = {"UnprocessedTraceSegments": [{"Id": "ffffffffffffffff"}, {"ErrorCode": "X"}, 7]}
    stand_in.answer((200, {}, json.dumps(body).encode()))
    assert exporter(stand_in).export(spans(2), 10.0) == ExportResult(exported=2, attempts=1)


# --- nothing sent ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("missing", "reason"),
    [
        (("AWS_ACCESS_KEY_ID",), "no_credentials"),
        (("AWS_SECRET_ACCESS_KEY",), "no_credentials"),
        (("AWS_REGION",), "no_region"),
    ],
)
def test_without_credentials_or_region_every_span_is_dropped_with_one_log_line(
    stand_in: StandIn,
    capsys: pytest.CaptureFixture[str],
    missing: tuple[str, ...],
    reason: str,
) -> None:
    environ = {**CREDENTIALS, "AWS_REGION": REGION, "AWS_ENDPOINT_URL": stand_in.url}
    for name in missing:
        del environ[name]
    made = XRayApiExporter(environ)
    assert made.export(spans(3), time.monotonic() + 10) == ExportResult(dropped={reason: 3})
    assert made.export(spans(2), time.monotonic() + 10) == ExportResult(dropped={reason: 2})
    assert stand_in.received == []
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("xraylayer: WARNING no AWS")


def test_the_default_region_is_used_when_aws_region_is_unset(stand_in: StandIn) -> None:
    made = exporter(stand_in, AWS_REGION="", AWS_DEFAULT_REGION="ap-south-2")
    assert made.export(spans(1), 10.0).exported == 1
    assert "/ap-south-2/xray/" in stand_in.received[0].headers["Authorization"]


def test_a_deadline_already_past_sends_nothing(stand_in: StandIn) -> None:
    fake = FakeTime()
    fake.now = 11.0
    result = exporter(stand_in, fake).export(spans(3), 10.0)
    assert result == ExportResult(dropped={"deadline": 3})
    assert stand_in.received == []


def test_batches_left_when_the_deadline_passes_are_counted(stand_in: StandIn) -> None:
    fake = FakeTime()

    def slow(received: Received) -> tuple[int, dict, bytes]:
        fake.now = 20.0
        return OK

    stand_in.answer(slow)
    result = accounted(exporter(stand_in, fake).export(spans(120), 10.0), 120)
    assert (result.exported, result.dropped) == (50, {"deadline": 70})


def test_a_span_that_cannot_be_converted_is_dropped(stand_in: StandIn) -> None:
    sent = spans(3)
    sent[0].attributes = Exploding()
    result = accounted(exporter(stand_in).export(sent, 10.0), 3)
    assert (result.exported, result.dropped) == (2, {"conversion_failed": 1})


def test_export_never_raises(stand_in: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    from xraylayer_extension import xray_trace_documents

    def broken(*args: object) -> list[dict]:
        raise RuntimeError("bug")

    monkeypatch.setattr(xray_trace_documents, "trace_documents", broken)
    result = accounted(exporter(stand_in).export(spans(2), 10.0), 2)
    assert result.dropped == {"internal_error": 2}

    def unreadable() -> Iterator[Span]:
        yield from spans(1)
        raise RuntimeError("iteration failed")

    assert exporter(stand_in).export(unreadable(), 10.0) == ExportResult()


# --- configuration and pure parts --------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "region", "endpoint"),
    [
        ({}, "eu-west-1", "https://xray.eu-west-1.amazonaws.com"),
        ({}, "cn-north-1", "https://xray.cn-north-1.amazonaws.com.cn"),
        ({"AWS_ENDPOINT_URL": "http://localhost:4566"}, "us-east-1", "http://localhost:4566"),
        (
            {"AWS_ENDPOINT_URL": "http://all:1", "AWS_ENDPOINT_URL_XRAY": "http://xray:2"},
            "us-east-1",
            "http://xray:2",
        ),
        (
            {"AWS_ENDPOINT_URL": "http://all:1", "AWS_ENDPOINT_URL_XRAY": "xray:2"},
            "us-east-1",
            "http://all:1",
        ),
        ({"AWS_ENDPOINT_URL": "ftp://h"}, "us-east-1", "https://xray.us-east-1.amazonaws.com"),
        ({"AWS_ENDPOINT_URL_XRAY": "  "}, "us-east-1", "https://xray.us-east-1.amazonaws.com"),
    ],
)
def test_endpoint_resolution(environ: dict[str, str], region: str, endpoint: str) -> None:
    assert xray_api.resolve_endpoint(environ, region) == endpoint


def test_a_bad_endpoint_value_is_logged(capsys: pytest.CaptureFixture[str]) -> None:
    xray_api.resolve_endpoint({"AWS_ENDPOINT_URL_XRAY": "localhost:2000"}, "us-east-1")
    assert "AWS_ENDPOINT_URL_XRAY='localhost:2000' is not an http(s) URL" in (
        capsys.readouterr().err
    )


@pytest.mark.parametrize(
    ("headers", "reply", "expected"),
    [
        (
            {"x-amzn-ErrorType": "ThrottledException:http://internal.amazon.com/"},
            b'{"message": "Rate exceeded"}',
            ("ThrottledException", "Rate exceeded"),
        ),
        (
            {},
            b'{"__type": "ns#InvalidRequestException", "Message": "m"}',
            ("InvalidRequestException", "m"),
        ),
        ({}, b'{"code": "Other"}', ("Other", "HTTP 418")),
        ({}, b"plain text", ("", "plain text")),
        ({}, b"", ("", "HTTP 418")),
    ],
)
def test_aws_error_answers(headers: dict, reply: bytes, expected: tuple[str, str]) -> None:
    assert xray_api.aws_error(headers, reply, 418) == expected


@settings(max_examples=300, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 2000), max_size=300),
    max_count=st.integers(1, 60),
    max_bytes=st.integers(100, 20_000),
)
def test_batches_cover_every_piece_in_order_within_both_limits(
    sizes: list[int], max_count: int, max_bytes: int
) -> None:
    ranges = xray_api.batches(sizes, max_count, max_bytes)
    assert [i for start, end in ranges for i in range(start, end)] == list(range(len(sizes)))
    for start, end in ranges:
        body = len(xray_api.request_body([b"x" * size for size in sizes[start:end]]))
        assert 0 < end - start <= max_count
        assert body <= max_bytes or end - start == 1  # a piece too large goes alone
        if end < len(sizes):  # full: the next piece would not have fitted
            bigger = len(xray_api.request_body([b"x" * size for size in sizes[start : end + 1]]))
            assert end - start == max_count or bigger > max_bytes


def test_batches_of_many_small_pieces_are_50_long() -> None:
    assert xray_api.batches([10] * 120) == [(0, 50), (50, 100), (100, 120)]


def test_importing_and_making_the_exporter_loads_no_http_client() -> None:
    code = (
        "import sys\n"
        "from xraylayer_extension.xray_api import XRayApiExporter\n"
        "XRayApiExporter({})\n"
        "heavy = {'http.client', 'json', 'hashlib', 'urllib.parse',\n"
        "         'xraylayer_extension.sigv4', 'xraylayer.xray_document'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    output = run_as_the_extension(code)
    assert output.strip() == "[]"
