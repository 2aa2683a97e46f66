"""Every boto3 call becomes one span, and the request on the wire names it in X-Amzn-Trace-Id.

Real botocore clients talk HTTP to a real moto server, or to a small loopback server that
answers from a script (throttling, 5xx, retries) and records the headers it received.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import botocore
import botocore.client
import botocore.exceptions
import pytest
import urllib3
from botocore.config import Config
from span_sink import CollectingSink
from xraylayer import context, semconv
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
