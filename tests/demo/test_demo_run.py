"""The orders demo end to end: both functions from the built layer on moto, and what they traced.

One quick run (six requests: the cold start, a slow order, a fault, a throttle and two plain
ones) makes every document the checks read. What the views draw is tested with the views; here
the documents must hold what the service map, the timeline and the distribution are drawn from.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from xraylayer_local import Sandbox, demo
from xraylayer_local.event_sources import sqs_event
from xraylayer_local.moto_server import MotoServer
from xraylayer_local.views.model import flattened

REQUESTS = 6
PATHS = ["ok", "ok", "slow", "fault", "ok", "throttle"]
EXPECTED_STATUS = {"ok": 201, "slow": 201, "fault": 502, "throttle": 429}


@pytest.fixture(scope="module")
def run(built_layer: Path) -> demo.DemoRun:
    return demo.run([built_layer], requests=REQUESTS)


def _invocations(run: demo.DemoRun, function: str) -> list[dict[str, Any]]:
    """The layer's invocation spans of one function, in start order."""
    spans = [
        document
        for document in flattened(run.documents)
        if document["name"] == function and "ColdStart" in document.get("annotations", {})
    ]
    return sorted(spans, key=lambda span: span["start_time"])


def _in_trace(run: demo.DemoRun, trace_id: str) -> list[dict[str, Any]]:
    return [document for document in flattened(run.documents) if document["trace_id"] == trace_id]


def _request_trace(run: demo.DemoRun, number: int) -> list[dict[str, Any]]:
    """The documents of the API request ``number`` (from 1)."""
    invocation = _invocations(run, demo.API_NAME)[number - 1]
    return _in_trace(run, invocation["trace_id"])


def _named(documents: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [document for document in documents if document["name"] == name]


def _invocation(trace: list[dict[str, Any]]) -> dict[str, Any]:
    """The API's invocation span in one request's documents."""
    (span,) = [d for d in _named(trace, demo.API_NAME) if "ColdStart" in d.get("annotations", {})]
    return span


def test_the_plan_takes_every_path_in_a_quick_run() -> None:
    assert [path for path, _ in demo.plan(REQUESTS)] == PATHS


def test_each_request_gets_the_answer_its_path_gives_and_each_paid_order_a_receipt(
    run: demo.DemoRun,
) -> None:
    assert [request.path for request in run.requests] == PATHS
    for request in run.requests:
        assert request.result.status == "success", request.result.error
        assert request.status_code == EXPECTED_STATUS[request.path], request
        paid = request.status_code == 201
        assert (request.receipt is not None) == paid, request
        if paid:
            order_id = json.loads(request.result.response["body"])["order_id"]
            assert request.receipt.status == "success", request.receipt.error
            assert request.receipt.response["receipts"] == [f"receipts/{order_id}.txt"]
    assert run.charges == {"201": 4, "500": 1, "429": 1}


def test_the_documents_hold_every_node_of_the_service_map(run: demo.DemoRun) -> None:
    documents = flattened(run.documents)
    # The client: each function's AWS::Lambda service segment starts its trace (no parent).
    services = [document for document in documents if document.get("origin") == "AWS::Lambda"]
    assert {document["name"] for document in services} == {demo.API_NAME, demo.RECEIPTS_NAME}
    assert all(document.get("parent_id") is None for document in services)
    functions = {
        document["name"]
        for document in documents
        if document.get("origin") == "AWS::Lambda::Function"
    }
    assert functions == {demo.API_NAME, demo.RECEIPTS_NAME}
    calls = {
        (document["name"], document["aws"].get("operation"))
        for document in documents
        if document.get("namespace") == "aws"
    }
    assert calls == {("DynamoDB", "PutItem"), ("SNS", "Publish"), ("S3", "PutObject")}
    (table,) = {d["aws"]["table_name"] for d in _named(documents, "DynamoDB")}
    (bucket,) = {d["aws"]["bucket_name"] for d in _named(documents, "S3")}
    assert (table, bucket) == (demo.TABLE, demo.BUCKET)
    payments = [document for document in documents if document.get("namespace") == "remote"]
    assert {document["name"] for document in payments} == {"127.0.0.1"}
    assert len(payments) == REQUESTS
    # SQS: every receipts invocation was triggered by the queue and links to the publish
    # whose message it took.
    publishes = {(d["trace_id"], d["id"]) for d in _named(documents, "SNS")}
    receipts = _invocations(run, demo.RECEIPTS_NAME)
    assert len(receipts) == len(publishes) == 4
    for invocation in receipts:
        attributes = invocation["metadata"]["otel"]
        assert attributes["xraylayer.trigger_type"] == "sqs"
        assert attributes["messaging.destination.name"] == demo.QUEUE
        (link,) = invocation["metadata"]["xraylayer"]["links"]
        assert (link["trace_id"], link["id"]) in publishes


def test_the_fault_is_the_payment_services_500_and_the_apis_502(run: demo.DemoRun) -> None:
    trace = _request_trace(run, PATHS.index("fault") + 1)
    (payment,) = _named(trace, "127.0.0.1")
    assert payment["fault"] is True and payment["http"]["response"]["status"] == 500
    invocation = _invocation(trace)
    assert invocation["fault"] is True and invocation["http"]["response"]["status"] == 502
    assert not _named(trace, "SNS"), "a failed payment publishes nothing"


def test_the_throttle_is_the_payment_services_429_passed_on(run: demo.DemoRun) -> None:
    trace = _request_trace(run, PATHS.index("throttle") + 1)
    (payment,) = _named(trace, "127.0.0.1")
    assert payment["throttle"] is True and payment["error"] is True
    assert payment.get("fault") is not True
    invocation = _invocation(trace)
    assert invocation["throttle"] is True and invocation["http"]["response"]["status"] == 429


def test_plain_requests_are_neither_faults_nor_errors(run: demo.DemoRun) -> None:
    for number, path in enumerate(PATHS, start=1):
        if path in ("ok", "slow"):
            for document in _request_trace(run, number):
                assert not any(document.get(flag) for flag in ("error", "throttle", "fault"))


def test_the_first_invoke_of_each_function_is_the_cold_start(run: demo.DemoRun) -> None:
    for function in (demo.API_NAME, demo.RECEIPTS_NAME):
        spans = _invocations(run, function)
        assert [span["annotations"]["ColdStart"] for span in spans] == [True] + [False] * (
            len(spans) - 1
        )
        cold_trace = _in_trace(run, spans[0]["trace_id"])
        assert _named(cold_trace, "Initialization"), function
        assert _named(cold_trace, "Init"), function
    assert run.requests[0].result.cold and not run.requests[1].result.cold


def test_the_slow_path_is_the_thorough_screening(run: demo.DemoRun) -> None:
    for number, path in enumerate(PATHS, start=1):
        (screening,) = _named(_request_trace(run, number), "screen-order")
        took = screening["end_time"] - screening["start_time"]
        if path == "slow":
            assert took >= 0.35, took
        else:
            assert took < 0.2, (number, took)


def test_both_functions_run_unchanged_without_the_layer(tmp_path: Path) -> None:
    """The custom subsegments need the layer's API: without the layer the guarded import
    leaves the blocks plain, and the answers are the same."""
    (path, order) = demo.plan(1)[0]
    with MotoServer() as moto, demo.payment_service() as payments:
        world = demo.create_world(moto)
        api_env = {
            **moto.env(),
            "ORDERS_TABLE": demo.TABLE,
            "ORDERS_TOPIC_ARN": world.topic_arn,
            "PAYMENT_URL": f"http://127.0.0.1:{payments.port}/charges",
        }
        with Sandbox(
            demo.EXAMPLE / "api", "app.handler", env=api_env, region=moto.region, timeout_s=10
        ) as api:
            answer = api.invoke(demo.api_gateway_event(order))
        assert answer.status == "success", answer.error
        assert answer.response["statusCode"] == 201
        sqs = moto.client("sqs")
        messages = demo.receive(sqs, world.queue_url, 1)
        receipts_env = {**moto.env(), "RECEIPTS_BUCKET": demo.BUCKET}
        with Sandbox(
            demo.EXAMPLE / "receipts",
            "app.handler",
            env=receipts_env,
            region=moto.region,
            timeout_s=10,
        ) as receipts:
            written = receipts.invoke(sqs_event(messages, world.queue_arn, moto.region))
        assert written.status == "success", written.error
        (key,) = written.response["receipts"]
        body = moto.client("s3").get_object(Bucket=demo.BUCKET, Key=key)["Body"].read()
        assert b"espresso" not in body and b"green tea" in body and b"total" in body
    assert path == "ok"
