"""Every boto3 call becomes one span, and the request on the wire names it in X-Amzn-Trace-Id.

Real botocore clients talk HTTP to a real moto server, or to a small loopback server that
answers from a script (throttling, 5xx, retries) and records the headers it received.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import hashlib
import http.client
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import botocore
import botocore.auth
import botocore.client
import botocore.endpoint
import botocore.exceptions
import pytest
import urllib3
from botocore.config import Config
from span_sink import CollectingSink
from xraylayer import config, context, message_injection, semconv
from xraylayer.instrument import botocore as instrumentation
from xraylayer.instrument import http_client as http_client_patch
from xraylayer.instrument import patching
from xraylayer.instrument import urllib3 as urllib3_patch
from xraylayer.spans import CLIENT, Span
from xraylayer.trace_header import parse, to_w3c_trace_id
from xraylayer.tracer import TRACER
from xraylayer_local.moto_server import free_port

ROOT = "1-5759e988-bd862e3fe1be46a994272793"
LAMBDA_PARENT = "53995c3f42cd8ad8"
LINEAGE = "a87bd80c:1|68fd508a:5"
LINEAGE_ON_WIRE = "a87bd80c:1%7C68fd508a:5"
CREDENTIALS = {
    "aws_access_key_id": "testing",
    "aws_secret_access_key": "testing",
    "aws_session_token": "testing",
}
NO_RETRIES = Config(retries={"mode": "legacy", "total_max_attempts": 1})


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def botocore_patched() -> None:
    instrumentation.patch(botocore)


@pytest.fixture(autouse=True)
def lambda_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No trace in the environment unless a test puts one there."""
    for name in ("_X_AMZN_TRACE_ID", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_MAX_CONCURRENCY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def collected() -> Iterator[CollectingSink]:
    previous, TRACER.sink = TRACER.sink, CollectingSink()
    try:
        yield TRACER.sink
    finally:
        TRACER.sink = previous


def client(service: str, endpoint_url: str, config: Config | None = None) -> Any:
    return boto3.session.Session(region_name="us-east-1", **CREDENTIALS).client(
        service, endpoint_url=endpoint_url, config=config
    )


@pytest.fixture(scope="module")
def moto_url(moto_server) -> str:
    return moto_server.endpoint_url


@contextlib.contextmanager
def lambda_invocation(sampled: bool = True) -> Iterator[Span]:
    """The handler's span, child of Lambda's Invocation subsegment, as the handler opens it."""
    lambdas = Span("Invocation", to_w3c_trace_id(ROOT), span_id=LAMBDA_PARENT)
    lambdas.sampled = sampled
    with TRACER.span("invocation", parent=lambdas) as span:
        yield span


def in_lambda(monkeypatch: pytest.MonkeyPatch, header: str) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "fn")
    monkeypatch.setenv("_X_AMZN_TRACE_ID", header)


class ScriptedAWS:
    """A loopback AWS JSON endpoint: answers from a script (the last answer repeats) and
    records the headers of every request it received."""

    def __init__(self, *answers: tuple[int, dict[str, Any]]) -> None:
        self.answers = list(answers) or [(200, {})]
        self.requests: list[Any] = []
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                scripted.requests.append(self.headers)
                status, body = scripted.next_answer()
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.0")
                self.send_header("x-amzn-RequestId", f"req-{len(scripted.requests)}")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def next_answer(self) -> tuple[int, dict[str, Any]]:
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]

    def trace_headers(self) -> list[list[str]]:
        """Each request's X-Amzn-Trace-Id values (a list, to see duplicates)."""
        return [request.get_all("X-Amzn-Trace-Id") or [] for request in self.requests]

    def __enter__(self) -> ScriptedAWS:
        serve = threading.Thread(target=self.server.serve_forever, args=(0.01,), daemon=True)
        serve.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def dynamodb_error(code: str) -> dict[str, str]:
    return {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": code}


def assert_child_of(span: Span, parent: Span) -> None:
    assert (span.trace_id, span.parent_id, span.sampled) == (
        parent.trace_id,
        parent.span_id,
        parent.sampled,
    )


# --- one span per call, with what X-Ray shows -----------------------------------------------


def test_dynamodb_calls_are_spans_with_table_and_request_id(collected, moto_url):
    dynamodb = client("dynamodb", moto_url)
    with lambda_invocation() as parent:
        dynamodb.create_table(
            TableName="orders",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb.put_item(TableName="orders", Item={"id": {"S": "1"}, "n": {"N": "7"}})
        got = dynamodb.get_item(TableName="orders", Key={"id": {"S": "1"}})

    assert got["Item"] == {"id": {"S": "1"}, "n": {"N": "7"}}
    aws_spans = collected.aws()
    assert [span.attributes[semconv.RPC_METHOD] for span in aws_spans] == [
        "CreateTable",
        "PutItem",
        "GetItem",
    ]
    for span in aws_spans:
        assert (span.name, span.kind, span.namespace) == ("DynamoDB", CLIENT, "aws")
        assert_child_of(span, parent)
        assert span.ended and not (span.error or span.throttle or span.fault)
        assert span.attributes[semconv.RPC_SYSTEM] == "aws-api"
        assert span.attributes[semconv.RPC_SERVICE] == "DynamoDB"
        assert span.attributes[semconv.AWS_REGION] == "us-east-1"
        assert span.attributes[semconv.AWS_DYNAMODB_TABLE_NAMES] == ["orders"]
        assert span.attributes[semconv.HTTP_RESPONSE_STATUS_CODE] == 200
        assert span.attributes[semconv.AWS_RETRIES] == 0
    assert aws_spans[-1].attributes[semconv.AWS_REQUEST_ID] == got["ResponseMetadata"]["RequestId"]


def test_s3_calls_carry_bucket_and_key(collected, moto_url):
    s3 = client("s3", moto_url)
    with lambda_invocation():
        s3.create_bucket(Bucket="media")
        put = s3.put_object(Bucket="media", Key="a/b.txt", Body=b"hello")
        body = s3.get_object(Bucket="media", Key="a/b.txt")["Body"].read()

    assert body == b"hello"
    assert put["ETag"] == f'"{hashlib.md5(b"hello").hexdigest()}"'
    create, put_span, get_span = collected.aws()
    assert create.name == put_span.name == get_span.name == "S3"
    assert create.attributes[semconv.AWS_S3_BUCKET] == "media"
    assert semconv.AWS_S3_KEY not in create.attributes
    for span in (put_span, get_span):
        assert span.attributes[semconv.AWS_S3_BUCKET] == "media"
        assert span.attributes[semconv.AWS_S3_KEY] == "a/b.txt"
    assert get_span.attributes[semconv.RPC_METHOD] == "GetObject"


def test_sqs_calls_carry_the_queue_url(collected, moto_url):
    sqs = client("sqs", moto_url)
    with lambda_invocation():
        queue_url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
        sent = sqs.send_message(QueueUrl=queue_url, MessageBody="job-1")

    assert sent["MD5OfMessageBody"] == hashlib.md5(b"job-1").hexdigest()
    assert "MessageAttributes" not in sqs.receive_message(QueueUrl=queue_url)["Messages"][0]
    create, send, _receive = collected.aws()
    assert create.name == send.name == "SQS"
    assert create.attributes[semconv.AWS_SQS_QUEUE_URL] == queue_url  # from the response
    assert send.attributes[semconv.AWS_SQS_QUEUE_URL] == queue_url  # from the parameters
    assert send.attributes[semconv.RPC_METHOD] == "SendMessage"


def test_sns_publish_carries_the_topic_arn(collected, moto_url):
    sns = client("sns", moto_url)
    with lambda_invocation():
        topic_arn = sns.create_topic(Name="events")["TopicArn"]
        published = sns.publish(TopicArn=topic_arn, Message="hi")

    assert published["MessageId"]
    create, publish = collected.aws()
    assert create.name == publish.name == "SNS"
    assert create.attributes[semconv.AWS_SNS_TOPIC_ARN] == topic_arn
    assert publish.attributes[semconv.AWS_SNS_TOPIC_ARN] == topic_arn
    assert publish.attributes[semconv.RPC_METHOD] == "Publish"


def test_each_page_of_a_paginator_is_its_own_call(collected, moto_url):
    s3 = client("s3", moto_url)
    s3.create_bucket(Bucket="pages")
    for key in ("a", "b", "c"):
        s3.put_object(Bucket="pages", Key=key, Body=b"")
    collected.spans.clear()
    with lambda_invocation():
        pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket="pages", MaxKeys=2))

    assert [len(page["Contents"]) for page in pages] == [2, 1]
    aws_spans = collected.aws()
    assert [span.attributes[semconv.RPC_METHOD] for span in aws_spans] == ["ListObjectsV2"] * 2


# --- errors, throttling, faults, retries ----------------------------------------------------


def test_a_service_error_is_an_error_and_reaches_the_user_unchanged(collected, moto_url):
    s3 = client("s3", moto_url)
    s3.create_bucket(Bucket="errors")
    collected.spans.clear()
    with lambda_invocation(), pytest.raises(s3.exceptions.NoSuchKey) as raised:
        s3.get_object(Bucket="errors", Key="missing")

    error = raised.value
    assert error.response["Error"]["Code"] == "NoSuchKey"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert str(error) == (
        "An error occurred (NoSuchKey) when calling the GetObject operation: "
        "The specified key does not exist."
    )
    span = collected.one_aws()
    assert (span.error, span.throttle, span.fault) == (True, False, False)
    assert span.attributes[semconv.AWS_ERROR_CODE] == "NoSuchKey"
    assert span.attributes[semconv.HTTP_RESPONSE_STATUS_CODE] == 404
    assert (
        span.attributes[semconv.AWS_REQUEST_ID] == error.response["ResponseMetadata"]["RequestId"]
    )
    assert span.attributes[semconv.AWS_S3_KEY] == "missing"
    (recorded,) = span.exceptions
    assert (recorded["type"], recorded["remote"]) == ("NoSuchKey", True)


def test_errors_and_results_are_the_same_as_without_the_patch(moto_url):
    """The same calls made through botocore's own, unwrapped method give the same answers."""
    unwrapped = botocore.client.BaseClient.__dict__["_make_api_call"].__wrapped__
    dynamodb = client("dynamodb", moto_url)

    def outcome(call: Any, params: dict[str, Any]) -> Any:
        try:
            result = call("DescribeTable", params)
        except botocore.exceptions.ClientError as error:
            return type(error), str(error), error.response["Error"]
        return {key: value for key, value in result.items() if key != "ResponseMetadata"}

    for params in ({"TableName": "absent"}, {"TableName": "orders-again"}):
        if params["TableName"] == "orders-again":
            dynamodb.create_table(
                TableName="orders-again",
                KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
        with lambda_invocation():
            traced = outcome(dynamodb._make_api_call, params)
        plain = outcome(lambda op, p: unwrapped(dynamodb, op, p), params)
        assert traced == plain


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "ThrottlingException"),
        (400, "ProvisionedThroughputExceededException"),
        (400, "RequestLimitExceeded"),
        (429, "TooManyRequests"),
    ],
)
def test_throttling_is_a_throttle_and_an_error(collected, status, code):
    one_retry = Config(retries={"mode": "legacy", "total_max_attempts": 2})
    with ScriptedAWS((status, dynamodb_error(code))) as server:
        dynamodb = client("dynamodb", server.url, one_retry)
        with lambda_invocation(), pytest.raises(botocore.exceptions.ClientError) as raised:
            dynamodb.get_item(TableName="hot", Key={"id": {"S": "1"}})

    assert raised.value.response["Error"]["Code"] == code
    span = collected.one_aws()
    assert (span.error, span.throttle, span.fault) == (True, True, False)
    assert span.attributes[semconv.AWS_ERROR_CODE] == code
    assert span.attributes[semconv.HTTP_RESPONSE_STATUS_CODE] == status
    assert span.attributes[semconv.AWS_RETRIES] == len(server.requests) - 1  # as botocore retried
    assert span.attributes[semconv.AWS_DYNAMODB_TABLE_NAMES] == ["hot"]
    assert span.exceptions[0]["remote"] is True


def test_a_server_error_after_the_last_retry_is_a_fault(collected):
    with ScriptedAWS((500, dynamodb_error("InternalServerError"))) as server:
        dynamodb = client("dynamodb", server.url, NO_RETRIES)
        with lambda_invocation(), pytest.raises(botocore.exceptions.ClientError):
            dynamodb.get_item(TableName="t", Key={"id": {"S": "1"}})

    span = collected.one_aws()
    assert (span.error, span.throttle, span.fault) == (False, False, True)
    assert span.attributes[semconv.HTTP_RESPONSE_STATUS_CODE] == 500
    assert span.attributes[semconv.AWS_REQUEST_ID] == "req-1"


def test_retries_are_one_span_with_the_count_and_each_attempt_names_it(collected):
    answers = [(500, dynamodb_error("InternalServerError"))] * 2 + [(200, {"Item": {}})]
    with ScriptedAWS(*answers) as server:
        dynamodb = client("dynamodb", server.url)  # botocore's default retries: 50 ms, 100 ms
        with lambda_invocation():
            result = dynamodb.get_item(TableName="t", Key={"id": {"S": "1"}})

    assert result["Item"] == {}
    assert result["ResponseMetadata"]["RetryAttempts"] == 2
    span = collected.one_aws()
    assert span.attributes[semconv.AWS_RETRIES] == 2
    assert span.attributes[semconv.HTTP_RESPONSE_STATUS_CODE] == 200
    assert span.attributes[semconv.AWS_REQUEST_ID] == "req-3"
    assert not (span.error or span.throttle or span.fault)
    assert span.exceptions == []
    assert len(server.requests) == 3
    for headers in server.trace_headers():
        assert len(headers) == 1
        assert parse(headers[0]).parent == span.span_id


def test_a_connection_error_is_a_local_fault_and_reaches_the_user(collected):
    dynamodb = client("dynamodb", f"http://127.0.0.1:{free_port()}", NO_RETRIES)
    with lambda_invocation(), pytest.raises(botocore.exceptions.EndpointConnectionError):
        dynamodb.get_item(TableName="t", Key={"id": {"S": "1"}})

    span = collected.one_aws()
    assert (span.error, span.fault) == (False, True)
    assert span.attributes[semconv.ERROR_TYPE] == "EndpointConnectionError"
    assert span.exceptions[0]["remote"] is False
    assert semconv.HTTP_RESPONSE_STATUS_CODE not in span.attributes


def test_a_parameter_error_is_a_local_fault_and_reaches_the_user(collected, moto_url):
    dynamodb = client("dynamodb", moto_url)
    with lambda_invocation(), pytest.raises(botocore.exceptions.ParamValidationError):
        dynamodb.put_item(Item={"id": {"S": "1"}})

    span = collected.one_aws()
    assert span.fault and not span.error
    assert span.attributes[semconv.RPC_METHOD] == "PutItem"
    assert span.exceptions[0]["type"] == "ParamValidationError"


# --- the header on the wire -----------------------------------------------------------------


@pytest.mark.parametrize("lineage", [LINEAGE, LINEAGE_ON_WIRE])
def test_the_request_names_the_span_and_keeps_lineage(collected, monkeypatch, lineage):
    in_lambda(monkeypatch, f"Root={ROOT};Parent={LAMBDA_PARENT};Sampled=1;Lineage={lineage}")
    with ScriptedAWS() as server:
        dynamodb = client("dynamodb", server.url)
        with lambda_invocation():
            dynamodb.get_item(TableName="t", Key={"id": {"S": "1"}})

    span = collected.one_aws()
    ((sent,),) = server.trace_headers()
    assert sent == f"Root={ROOT};Parent={span.span_id};Sampled=1;Lineage={LINEAGE_ON_WIRE}"


def test_an_unsampled_invocation_says_so_downstream(collected, monkeypatch):
    in_lambda(monkeypatch, f"Root={ROOT};Parent={LAMBDA_PARENT};Sampled=0")
    with ScriptedAWS() as server:
        dynamodb = client("dynamodb", server.url)
        with lambda_invocation(sampled=False):
            dynamodb.get_item(TableName="t", Key={"id": {"S": "1"}})

    span = collected.one_aws()
    assert not span.sampled
    ((sent,),) = server.trace_headers()
    assert sent == f"Root={ROOT};Parent={span.span_id};Sampled=0"


def test_without_a_current_span_the_call_joins_lambdas_invocation(collected, monkeypatch):
    """E.g. a thread the context did not follow: the X-Ray header still gives the trace."""
    in_lambda(monkeypatch, f"Root={ROOT};Parent={LAMBDA_PARENT};Sampled=1;Lineage={LINEAGE}")
    with ScriptedAWS() as server:
        client("dynamodb", server.url).get_item(TableName="t", Key={"id": {"S": "1"}})

    span = collected.one_aws()
    assert (span.trace_id, span.parent_id, span.sampled) == (
        to_w3c_trace_id(ROOT),
        LAMBDA_PARENT,
        True,
    )
    ((sent,),) = server.trace_headers()
    assert sent == f"Root={ROOT};Parent={span.span_id};Sampled=1;Lineage={LINEAGE_ON_WIRE}"


def test_with_several_requests_per_process_the_environment_is_not_a_parent(collected, monkeypatch):
    """Lambda Managed Instances: _X_AMZN_TRACE_ID is not per request, so botocore's copy of it
    goes out as botocore sends it and the span is not put into that trace."""
    in_lambda(monkeypatch, f"Root={ROOT};Parent={LAMBDA_PARENT};Sampled=1")
    monkeypatch.setenv("AWS_LAMBDA_MAX_CONCURRENCY", "8")
    with ScriptedAWS() as server:
        client("dynamodb", server.url).get_item(TableName="t", Key={"id": {"S": "1"}})

    span = collected.one_aws()
    assert span.parent_id is None and not span.sampled
    assert server.trace_headers() == [[f"Root={ROOT};Parent={LAMBDA_PARENT};Sampled=1"]]


def test_outside_any_trace_calls_work_and_no_header_is_added(collected, moto_url):
    with ScriptedAWS() as server:
        result = client("dynamodb", server.url).get_item(TableName="t", Key={"id": {"S": "1"}})
    client("s3", moto_url).list_buckets()

    assert result["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert server.trace_headers() == [[]]
    for span in collected.aws():
        assert span.parent_id is None and not span.sampled


# --- context, fail-open, idempotence --------------------------------------------------------


def test_during_the_call_the_span_is_current_and_marked_as_a_client_call(collected, moto_url):
    seen: list[tuple[Span | None, Span | None]] = []
    dynamodb = client("dynamodb", moto_url)
    dynamodb.meta.events.register(
        "before-send.dynamodb.ListTables",
        lambda **_: seen.append((context.current_span(), context.client_call())),
    )
    with lambda_invocation() as parent:
        dynamodb.list_tables()
        after = (context.current_span(), context.client_call())

    span = collected.one_aws()
    assert seen == [(span, span)]
    assert after == (parent, None)


def test_the_http_libraries_underneath_do_not_trace_the_call_again(collected, monkeypatch):
    http_client_patch.patch(http.client)
    urllib3_patch.patch(urllib3)
    in_lambda(monkeypatch, f"Root={ROOT};Parent={LAMBDA_PARENT};Sampled=1;Lineage={LINEAGE}")
    with ScriptedAWS() as server:
        dynamodb = client("dynamodb", server.url)
        with lambda_invocation():
            dynamodb.get_item(TableName="t", Key={"id": {"S": "1"}})

    span = collected.one_aws()
    assert [s.name for s in collected.spans] == ["DynamoDB", "invocation"]
    ((sent,),) = server.trace_headers()
    assert parse(sent).parent == span.span_id


def test_a_failing_sink_does_not_reach_the_user(moto_url):
    class BrokenSink:
        def emit(self, span: Span) -> None:
            raise RuntimeError("sink is down")

    previous, TRACER.sink = TRACER.sink, BrokenSink()
    try:
        with lambda_invocation():
            names = client("dynamodb", moto_url).list_tables()["TableNames"]
    finally:
        TRACER.sink = previous
    assert isinstance(names, list)


def test_patching_twice_still_gives_one_span_per_call(collected, moto_url):
    instrumentation.patch(botocore)
    instrumentation.patch(botocore)
    with lambda_invocation():
        client("dynamodb", moto_url).list_tables()

    assert len(collected.aws()) == 1
    for owner, name in (
        (botocore.client.BaseClient, "_make_api_call"),
        (botocore.endpoint.Endpoint, "prepare_request"),
    ):
        wrapper = owner.__dict__[name]
        assert patching.is_patched(wrapper) and not patching.is_patched(wrapper.__wrapped__)


@pytest.mark.parametrize(
    ("status", "code", "flags"),
    [
        (400, "ValidationException", (True, False, False)),
        (404, "NoSuchKey", (True, False, False)),
        (429, None, (True, True, False)),
        (503, "SlowDown", (True, True, False)),  # S3's throttle is a 503
        (400, "ProvisionedThroughputExceededException", (True, True, False)),
        (500, "InternalServerError", (False, False, True)),
        (503, "ServiceUnavailable", (False, False, True)),
        (None, "Unknown", (True, False, False)),  # a remote error without a status
    ],
)
def test_failure_flags(status, code, flags):
    assert instrumentation.failure_flags(status, code) == flags


# --- trace context in the messages a call sends ---------------------------------------------
# What leaves botocore is recorded at its `before-send` event, the last step before the HTTP
# send: moto accepts an 11th message attribute and drops system attributes of SendMessageBatch,
# so what it stores cannot show that the layer kept a message within the rules.

LAMBDA_HEADER = f"Root={ROOT};Parent={LAMBDA_PARENT};Sampled=1;Lineage={LINEAGE}"
FROZEN_NOW = datetime.datetime(2026, 1, 2, 3, 4, 5)  # one signing time for both requests
# Every call has its own; the layer's difference is X-Amzn-Trace-Id.
OWN_PER_CALL = {"amz-sdk-invocation-id", "x-amzn-trace-id"}
PATCHED = (
    (botocore.client.BaseClient, "_make_api_call"),
    (botocore.endpoint.Endpoint, "prepare_request"),
)


class Sent:
    """One request as it left botocore: every header, in order, and the body's bytes."""

    def __init__(self, headers: list[tuple[str, str]], body: bytes) -> None:
        self.headers = headers
        self.body = body

    def header(self, name: str) -> str | None:
        values = [value for key, value in self.headers if key.lower() == name.lower()]
        assert len(values) <= 1
        return values[0] if values else None

    def headers_but(self, names: set[str]) -> list[tuple[str, str]]:
        return [(key, value) for key, value in self.headers if key.lower() not in names]

    def json(self) -> Any:
        return json.loads(self.body)


def record_wire(aws_client: Any) -> list[Sent]:
    """Every request ``aws_client`` sends from now on, as it leaves botocore."""
    sent: list[Sent] = []

    def record(request: Any, **_: Any) -> None:
        headers = [(text(key), text(value)) for key, value in request.headers.items()]
        body = request.body or b""
        sent.append(Sent(headers, body if isinstance(body, bytes) else body.encode()))

    aws_client.meta.events.register("before-send", record)
    return sent


def text(value: str | bytes) -> str:
    """A header name or value as botocore holds it (some values are bytes by now), as text."""
    return value.decode("latin-1") if isinstance(value, bytes) else value


def layer_removed() -> patching.Unpatched:
    """botocore exactly as it is without the layer: its own methods back in place."""
    return patching.Unpatched(PATCHED)


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Same signing time for every request, so equal requests have equal signatures."""
    monkeypatch.setattr(
        botocore.auth, "get_current_datetime", lambda remove_tzinfo=True: FROZEN_NOW
    )


@pytest.fixture
def message_traceparent() -> Iterator[None]:
    """The most the layer ever adds: W3C traceparent attributes as well."""
    config.reload({"XRAYLAYER_MESSAGE_TRACEPARENT": "true"})
    yield
    config.reload()


@pytest.fixture
def in_traced_lambda(monkeypatch: pytest.MonkeyPatch, frozen_clock: None) -> None:
    """Lambda's environment: botocore sends its own X-Amzn-Trace-Id even without the layer."""
    in_lambda(monkeypatch, LAMBDA_HEADER)


def traced_and_plain(
    aws_client: Any,
    method: str,
    params: dict[str, Any],
    plain_params: Callable[[str], dict[str, Any]] | None = None,
) -> tuple[Sent, Sent]:
    """The request one call sends with the layer, in a traced invocation, and the one botocore
    alone sends for ``plain_params(trace header the layer sent)`` (default: the same params)."""
    wire = record_wire(aws_client)
    with lambda_invocation():
        getattr(aws_client, method)(**params)
        traced = wire[-1]
        header = traced.header("X-Amzn-Trace-Id")
        with layer_removed():
            getattr(aws_client, method)(**(plain_params(header) if plain_params else params))
    return traced, wire[-1]


def assert_sent_alike(traced: Sent, plain: Sent) -> None:
    """Byte for byte the same request, but for the X-Ray header (and the invocation id)."""
    assert traced.body == plain.body
    assert traced.headers_but(OWN_PER_CALL) == plain.headers_but(OWN_PER_CALL)


def calls(collected: CollectingSink, method: str) -> list[Span]:
    """The spans of the calls of one operation, in the order they finished."""
    return [span for span in collected.aws() if span.attributes[semconv.RPC_METHOD] == method]


def string_attribute(value: str) -> dict[str, str]:
    return {"DataType": "String", "StringValue": value}


def ten_attributes(prefix: str = "user") -> dict[str, dict[str, str]]:
    return {f"{prefix}-{index}": string_attribute(f"value {index}") for index in range(10)}


def with_system_attribute(message: dict[str, Any], header: str) -> dict[str, Any]:
    return {**message, "MessageSystemAttributes": {"AWSTraceHeader": string_attribute(header)}}


def create_queue(sqs: Any, name: str, fifo: bool = False) -> str:
    if not fifo:
        return sqs.create_queue(QueueName=name)["QueueUrl"]
    attributes = {"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    return sqs.create_queue(QueueName=f"{name}.fifo", Attributes=attributes)["QueueUrl"]


def queue_arn(sqs: Any, queue_url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]


def fifo_fields(fifo: bool, **more: str) -> dict[str, str]:
    return {"MessageGroupId": "orders", **more} if fifo else {}


FIFO = pytest.mark.parametrize("fifo", [False, True], ids=["standard", "fifo"])


@FIFO
def test_an_sqs_message_with_10_attributes_leaves_as_without_the_layer_plus_its_system_attribute(
    collected, moto_url, in_traced_lambda, message_traceparent, fifo
):
    sqs = client("sqs", moto_url)
    queue = create_queue(sqs, f"ten-single-{fifo}", fifo)
    params = {
        "QueueUrl": queue,
        "MessageBody": "order-1",
        "MessageAttributes": ten_attributes(),
        **fifo_fields(fifo),
    }
    users = copy.deepcopy(params)
    traced, plain = traced_and_plain(
        sqs, "send_message", params, lambda header: with_system_attribute(params, header)
    )

    assert_sent_alike(traced, plain)
    assert params == users
    (send,) = calls(collected, "SendMessage")
    assert parse(traced.header("X-Amzn-Trace-Id")).parent == send.span_id
    assert traced.json()["MessageSystemAttributes"]["AWSTraceHeader"]["StringValue"] == (
        f"Root={ROOT};Parent={send.span_id};Sampled=1;Lineage={LINEAGE_ON_WIRE}"
    )


def answer_like_real_sqs(sqs: Any) -> None:
    """Real SQS answers a digest of a message's system attributes when it has any; moto does
    not. Added to moto's parsed answer, as SQS would send it (AWS itself cannot be here)."""

    def note_request(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        body = json.loads(params["body"] or b"{}")
        entries = body.get("Entries", [body])
        context["with_system"] = {e.get("Id") for e in entries if e.get("MessageSystemAttributes")}

    def add_digest(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        for result in parsed.get("Successful", [parsed]):
            if result.get("Id") in context["with_system"]:
                result["MD5OfMessageSystemAttributes"] = "5ae4d5d7636402d80f4eb6d213245a88"

    sqs.meta.events.register("before-call.sqs", note_request)
    sqs.meta.events.register("after-call.sqs", add_digest)


def test_an_sqs_send_answers_the_caller_as_without_the_layer(collected, moto_url, in_traced_lambda):
    """With the layer's AWSTraceHeader, SQS would answer one more key than the caller gets
    without the layer: the layer takes it out again, and leaves a digest the user asked for."""
    sqs = client("sqs", moto_url)
    answer_like_real_sqs(sqs)
    queue = create_queue(sqs, "digest-single")
    batch = [
        {"Id": "plain", "MessageBody": "order-1"},
        with_system_attribute({"Id": "own", "MessageBody": "order-2"}, LAMBDA_HEADER),
    ]

    def answers() -> tuple[dict, dict]:
        single = sqs.send_message(QueueUrl=queue, MessageBody="order-1")
        several = sqs.send_message_batch(QueueUrl=queue, Entries=batch)
        return single, several

    with lambda_invocation():
        traced_single, traced_batch = answers()
        with layer_removed():
            plain_single, plain_batch = answers()
    assert set(traced_single) == set(plain_single)
    assert "MD5OfMessageSystemAttributes" not in traced_single
    assert [set(r) for r in traced_batch["Successful"]] == [
        set(r) for r in plain_batch["Successful"]
    ]
    own = next(r for r in traced_batch["Successful"] if r["Id"] == "own")
    assert "MD5OfMessageSystemAttributes" in own  # the user's own system attribute: theirs


@FIFO
def test_an_sqs_batch_of_full_messages_leaves_as_without_the_layer_plus_system_attributes(
    collected, moto_url, in_traced_lambda, message_traceparent, fifo
):
    sqs = client("sqs", moto_url)
    queue = create_queue(sqs, f"ten-batch-{fifo}", fifo)
    entries = [
        {
            "Id": f"m{index}",
            "MessageBody": f"order-{index}",
            "MessageAttributes": ten_attributes(f"entry{index}"),
            **fifo_fields(fifo, MessageDeduplicationId=f"dedup-{index}"),
        }
        for index in range(3)
    ]
    params = {"QueueUrl": queue, "Entries": entries}
    users = copy.deepcopy(params)
    traced, plain = traced_and_plain(
        sqs,
        "send_message_batch",
        params,
        lambda header: {**params, "Entries": [with_system_attribute(e, header) for e in entries]},
    )

    assert_sent_alike(traced, plain)
    assert params == users
    (batch,) = calls(collected, "SendMessageBatch")
    for entry in traced.json()["Entries"]:
        assert len(entry["MessageAttributes"]) == 10
        header = entry["MessageSystemAttributes"]["AWSTraceHeader"]["StringValue"]
        assert parse(header).parent == batch.span_id


def test_an_sqs_batch_of_mixed_fullness_gets_traceparent_where_there_is_room(
    moto_url, in_traced_lambda, message_traceparent
):
    sqs = client("sqs", moto_url)
    queue = create_queue(sqs, "mixed-batch")
    wire = record_wire(sqs)
    nine = dict(list(ten_attributes().items())[:9])
    with lambda_invocation():
        result = sqs.send_message_batch(
            QueueUrl=queue,
            Entries=[
                {"Id": "full", "MessageBody": "a", "MessageAttributes": ten_attributes()},
                {"Id": "nine", "MessageBody": "b", "MessageAttributes": nine},
                {"Id": "none", "MessageBody": "c"},
            ],
        )

    assert sorted(entry["Id"] for entry in result["Successful"]) == ["full", "nine", "none"]
    full, with_nine, bare = wire[-1].json()["Entries"]
    assert full["MessageAttributes"] == ten_attributes()
    assert list(with_nine["MessageAttributes"]) == [*nine, "traceparent"]
    assert list(bare["MessageAttributes"]) == ["traceparent"]


@pytest.mark.parametrize(
    ("operation", "fifo"),
    [("publish", False), ("publish", True), ("publish_batch", False), ("publish_batch", True)],
)
def test_an_sns_message_with_10_attributes_leaves_exactly_as_without_the_layer(
    moto_url, in_traced_lambda, message_traceparent, operation, fifo
):
    """No room, nothing added: same bytes, same signature. A raw-delivery SQS subscription,
    which SNS would starve of any message over 10 attributes, receives them."""
    sns, sqs = client("sns", moto_url), client("sqs", moto_url)
    suffix = f"{operation}-{fifo}".replace("_", "-")
    attributes = {"FifoTopic": "true", "ContentBasedDeduplication": "true"} if fifo else {}
    name = f"ten-{suffix}" + (".fifo" if fifo else "")
    topic = sns.create_topic(Name=name, Attributes=attributes)["TopicArn"]
    queue = create_queue(sqs, f"raw-{suffix}", fifo)
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=queue_arn(sqs, queue),
        Attributes={"RawMessageDelivery": "true"},
    )
    message = {"Message": "order-1", "MessageAttributes": ten_attributes(), **fifo_fields(fifo)}
    if operation == "publish":
        params = {"TopicArn": topic, **message}
    else:
        entries = [{"Id": "one", **message}, {"Id": "two", **message, "Message": "order-2"}]
        params = {"TopicArn": topic, "PublishBatchRequestEntries": entries}
    users = copy.deepcopy(params)
    traced, plain = traced_and_plain(sns, operation, params)

    assert_sent_alike(traced, plain)
    assert traced.header("X-Amzn-Trace-Id") != plain.header("X-Amzn-Trace-Id")
    assert params == users
    received = sqs.receive_message(
        QueueUrl=queue, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    )["Messages"]
    bodies = ["order-1"] if operation == "publish" else ["order-1", "order-2"]
    # Content-based deduplication (FIFO) delivers each body once: the attributes are not hashed.
    assert sorted(delivered["Body"] for delivered in received) == sorted(
        bodies if fifo else bodies * 2
    )
    for delivered in received:
        assert delivered["MessageAttributes"] == ten_attributes()


def test_sns_with_room_carries_aws_trace_header_to_raw_and_enveloped_sqs_subscribers(
    collected, moto_url, in_traced_lambda
):
    sns, sqs = client("sns", moto_url), client("sqs", moto_url)
    topic = sns.create_topic(Name="nine-attributes")["TopicArn"]
    raw, enveloped = create_queue(sqs, "nine-raw"), create_queue(sqs, "nine-enveloped")
    for queue, raw_delivery in ((raw, "true"), (enveloped, "false")):
        sns.subscribe(
            TopicArn=topic,
            Protocol="sqs",
            Endpoint=queue_arn(sqs, queue),
            Attributes={"RawMessageDelivery": raw_delivery},
        )
    nine = dict(list(ten_attributes().items())[:9])
    with lambda_invocation():
        sns.publish(TopicArn=topic, Message="order-1", MessageAttributes=nine)

    (publish,) = calls(collected, "Publish")
    expected = f"Root={ROOT};Parent={publish.span_id};Sampled=1;Lineage={LINEAGE_ON_WIRE}"
    (delivered,) = sqs.receive_message(QueueUrl=raw, MessageAttributeNames=["All"])["Messages"]
    assert delivered["MessageAttributes"] == {**nine, "AWSTraceHeader": string_attribute(expected)}
    (envelope,) = sqs.receive_message(QueueUrl=enveloped)["Messages"]
    notification = json.loads(envelope["Body"])
    assert notification["MessageAttributes"]["AWSTraceHeader"] == {
        "Type": "String",
        "Value": expected,
    }
    assert len(notification["MessageAttributes"]) == 10


def test_the_system_attribute_reaches_sqs_and_comes_back_on_receive(
    collected, moto_url, in_traced_lambda
):
    sqs = client("sqs", moto_url)
    queue = create_queue(sqs, "system-attribute")
    own = "Root=1-5759e988-000000000000000000000001;Parent=0000000000000001;Sampled=1"
    with lambda_invocation():
        sent = sqs.send_message(QueueUrl=queue, MessageBody="traced")
        sqs.send_message(
            QueueUrl=queue,
            MessageBody="own header",
            MessageSystemAttributes={"AWSTraceHeader": string_attribute(own)},
        )

    assert sent["MessageId"]
    send, _ = calls(collected, "SendMessage")
    received = sqs.receive_message(
        QueueUrl=queue, MaxNumberOfMessages=10, MessageSystemAttributeNames=["AWSTraceHeader"]
    )["Messages"]
    headers = {message["Body"]: message["Attributes"]["AWSTraceHeader"] for message in received}
    assert headers == {
        "traced": f"Root={ROOT};Parent={send.span_id};Sampled=1;Lineage={LINEAGE_ON_WIRE}",
        "own header": own,
    }


@pytest.mark.parametrize("how", ["positional", "keyword"])
def test_a_direct_make_api_call_carries_the_context_too(collected, moto_url, in_traced_lambda, how):
    sqs = client("sqs", moto_url)
    queue = create_queue(sqs, f"direct-{how}")
    params = {"QueueUrl": queue, "MessageBody": how}
    with lambda_invocation():
        if how == "positional":
            sqs._make_api_call("SendMessage", params)
        else:
            sqs._make_api_call(operation_name="SendMessage", api_params=params)

    assert params == {"QueueUrl": queue, "MessageBody": how}
    (message,) = sqs.receive_message(QueueUrl=queue, MessageSystemAttributeNames=["All"])[
        "Messages"
    ]
    (send,) = calls(collected, "SendMessage")
    assert parse(message["Attributes"]["AWSTraceHeader"]).parent == send.span_id


def test_events_carry_the_calls_trace_header_unless_they_have_their_own(
    collected, moto_url, in_traced_lambda
):
    events = client("events", moto_url)
    wire = record_wire(events)
    with lambda_invocation():
        result = events.put_events(
            Entries=[
                {"Source": "orders", "DetailType": "created", "Detail": "{}"},
                {
                    "Source": "orders",
                    "DetailType": "paid",
                    "Detail": "{}",
                    "TraceHeader": "Root=mine",
                },
            ]
        )

    assert result["FailedEntryCount"] == 0
    (put,) = calls(collected, "PutEvents")
    created, paid = wire[-1].json()["Entries"]
    assert created["TraceHeader"] == wire[-1].header("X-Amzn-Trace-Id")
    assert parse(created["TraceHeader"]).parent == put.span_id
    assert paid["TraceHeader"] == "Root=mine"


def test_a_step_functions_execution_carries_the_calls_trace_header(
    collected, moto_url, in_traced_lambda
):
    sfn = client("stepfunctions", moto_url)
    machine = sfn.create_state_machine(
        name="flow",
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
        roleArn="arn:aws:iam::123456789012:role/flow",
    )["stateMachineArn"]
    wire = record_wire(sfn)
    with lambda_invocation():
        started = sfn.start_execution(stateMachineArn=machine, input="{}")

    assert started["executionArn"]
    body = wire[-1].json()
    assert body["traceHeader"] == wire[-1].header("X-Amzn-Trace-Id")
    (start,) = calls(collected, "StartExecution")
    assert parse(body["traceHeader"]).parent == start.span_id


def test_lambda_invoke_carries_the_context_in_its_header_and_its_payload_is_untouched(
    collected, monkeypatch
):
    in_lambda(monkeypatch, LAMBDA_HEADER)
    with ScriptedAWS() as server:
        aws_lambda = client("lambda", server.url)
        wire = record_wire(aws_lambda)
        with lambda_invocation():
            aws_lambda.invoke(FunctionName="next-step", Payload=b'{"order": 1}')

    invoke = collected.one_aws()
    ((sent,),) = server.trace_headers()
    assert sent == f"Root={ROOT};Parent={invoke.span_id};Sampled=1;Lineage={LINEAGE_ON_WIRE}"
    assert wire[-1].body == b'{"order": 1}'
    assert wire[-1].header("X-Amz-Client-Context") is None


def test_outside_a_trace_messages_leave_as_without_the_layer(collected, moto_url, frozen_clock):
    sqs = client("sqs", moto_url)
    queue = create_queue(sqs, "untraced")
    wire = record_wire(sqs)
    sqs.send_message(QueueUrl=queue, MessageBody="untraced")
    with layer_removed():
        sqs.send_message(QueueUrl=queue, MessageBody="untraced")

    traced, plain = wire[-2:]
    assert_sent_alike(traced, plain)
    assert traced.header("X-Amzn-Trace-Id") is None


def test_a_failing_injection_leaves_the_call_as_without_the_layer(
    collected, moto_url, in_traced_lambda, monkeypatch, capsys
):
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("injection bug")

    monkeypatch.setattr(message_injection, "inject", broken)
    sqs = client("sqs", moto_url)
    queue = create_queue(sqs, "broken-injection")
    params = {"QueueUrl": queue, "MessageBody": "still sent"}
    traced, plain = traced_and_plain(sqs, "send_message", params)
    sqs.send_message(**params)

    assert_sent_alike(traced, plain)
    assert [span.attributes[semconv.RPC_METHOD] for span in collected.aws()][-2:] == [
        "SendMessage",
        "SendMessage",
    ]
    errors = [line for line in capsys.readouterr().err.splitlines() if "injection bug" in line]
    assert len(errors) == 1 and errors[0].startswith("xraylayer: ERROR")


def test_a_message_without_room_is_logged_once_at_debug_level(
    moto_url, in_traced_lambda, message_traceparent, monkeypatch, capsys
):
    sqs = client("sqs", moto_url)
    queue = create_queue(sqs, "no-room-log")
    full = {"QueueUrl": queue, "MessageBody": "full", "MessageAttributes": ten_attributes()}
    with lambda_invocation():
        sqs.send_message(**full)  # at the default level (warning): nothing
        assert capsys.readouterr().err == ""
        monkeypatch.setenv("XRAYLAYER_LOG_LEVEL", "debug")
        for _ in range(3):
            sqs.send_message(**full)

    assert capsys.readouterr().err.splitlines() == [
        "xraylayer: DEBUG SQS SendMessage: trace context left out of a message: "
        + message_injection.NO_ROOM
    ]
