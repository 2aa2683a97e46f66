"""The product promise, end to end: attach the built layer, set the wrapper, change no code.

An order function that imports boto3 at module level, reads S3, writes DynamoDB, calls an HTTP
service on loopback and runs one custom `capture` block, in the local Lambda sandbox with
Active tracing and AWS calls going to moto in server mode. The caller must see exactly what it
sees without the layer; the daemon must receive one connected trace per invocation.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from orders_environment import ORDER, orders_environment
from xraylayer_local import Sandbox
from xraylayer_local.runtimes import SUPPORTED_VERSIONS
from xraylayer_local.views.model import flattened

FUNCTIONS = Path(__file__).parent / "functions"
WRAPPER = {"AWS_LAMBDA_EXEC_WRAPPER": "/opt/xray-instrument"}
TABLE, BUCKET = "e2e-trace-orders", "e2e-trace-prices"


@pytest.fixture(scope="module")
def function_env(moto_server) -> Iterator[dict[str, str]]:
    with orders_environment(moto_server, TABLE, BUCKET) as env:
        yield env


def _run(layers: list[Path], env: dict[str, str], events: list[dict]) -> list:
    with Sandbox(
        FUNCTIONS, "orders_app.handler", layers=layers, env=env, tracing="Active", timeout_s=10
    ) as sandbox:
        return [sandbox.invoke(event) for event in events]


@pytest.fixture(scope="module")
def traced(built_layer: Path, function_env: dict[str, str]) -> list:
    events = [ORDER, ORDER, {"fail": True, "order_id": "o-8"}]
    return _run([built_layer], {**function_env, **WRAPPER}, events)


def _invocation(result) -> dict:
    (span,) = [
        d
        for d in flattened(result.segments)
        if d.get("origin") is None and d.get("annotations", {}).get("ColdStart") is not None
    ]
    return span


def _children(result, parent: dict) -> list[dict]:
    return [d for d in flattened(result.segments) if d["parent_id"] == parent["id"]]


def test_the_caller_sees_the_same_results_and_errors_as_without_the_layer(
    traced: list, function_env: dict[str, str]
) -> None:
    plain = _run([], function_env, [ORDER, {"fail": True, "order_id": "o-8"}])
    assert [r.payload for r in traced[1:]] == [plain[0].payload, None]
    assert traced[0].payload == plain[0].payload
    # Every invoke has its own request id; everything else must match to the letter.
    assert {**traced[2].error, "requestId": None} == {**plain[1].error, "requestId": None}


def test_every_document_of_a_trace_has_its_parent(traced: list) -> None:
    for result in traced:
        documents = flattened(result.segments)
        assert len({d["trace_id"] for d in result.segments}) == 1
        ids = {d["id"] for d in documents}
        orphans = [d["name"] for d in documents if d["parent_id"] and d["parent_id"] not in ids]
        # Lambda's service segment is the only root here (no caller header).
        assert orphans == [], orphans


def test_the_invocation_hangs_under_lambdas_invocation_subsegment(traced: list) -> None:
    for result in traced:
        documents = flattened(result.segments)
        (lambda_invocation,) = [d for d in documents if d["name"] == "Invocation"]
        invocation = _invocation(result)
        assert invocation["parent_id"] == lambda_invocation["id"]
        assert invocation["type"] == "subsegment"


def test_cold_start_is_annotated_on_the_first_invocation_only(traced: list) -> None:
    flags = [_invocation(result)["annotations"]["ColdStart"] for result in traced]
    assert flags == [True, False, False]


def test_aws_calls_are_subsegments_with_their_resources(traced: list) -> None:
    calls = {d["name"]: d for d in _children(traced[1], _invocation(traced[1]))}
    dynamodb, s3 = calls["DynamoDB"], calls["S3"]
    assert dynamodb["namespace"] == s3["namespace"] == "aws"
    assert dynamodb["aws"]["operation"] == "PutItem"
    assert dynamodb["aws"]["table_name"] == TABLE
    assert dynamodb["aws"]["region"] == "us-east-1"
    assert dynamodb["aws"]["request_id"]
    assert s3["aws"]["operation"] == "GetObject"
    assert s3["aws"]["bucket_name"] == BUCKET
    assert s3["aws"]["key"] == "prices.json"
    assert s3["http"]["response"]["status"] == 200


def test_the_http_call_is_a_remote_subsegment_without_its_query(traced: list) -> None:
    calls = {d["name"]: d for d in _children(traced[1], _invocation(traced[1]))}
    payment = calls["127.0.0.1"]
    assert payment["namespace"] == "remote"
    assert payment["http"]["request"]["method"] == "GET"
    assert payment["http"]["request"]["url"].endswith("/pay")
    assert payment["http"]["response"]["status"] == 200


def test_the_custom_block_is_a_subsegment_of_the_invocation(traced: list) -> None:
    names = [d["name"] for d in _children(traced[1], _invocation(traced[1]))]
    assert "compute-total" in names


def test_a_handler_exception_is_a_fault_with_its_stack(traced: list) -> None:
    invocation = _invocation(traced[2])
    assert invocation["fault"] is True
    (exception,) = invocation["cause"]["exceptions"]
    assert exception["type"] == "ValueError"
    assert exception["message"] == "order o-8 rejected"
    assert any(frame["label"] == "handler" for frame in exception["stack"])


@pytest.mark.parametrize("python", SUPPORTED_VERSIONS)
def test_the_whole_trace_arrives_on_every_supported_python(
    built_layer: Path, function_env: dict[str, str], python: str
) -> None:
    with Sandbox(
        FUNCTIONS,
        "orders_app.handler",
        layers=[built_layer],
        env={**function_env, **WRAPPER},
        tracing="Active",
        timeout_s=10,
        python=python,
    ) as sandbox:
        result = sandbox.invoke(ORDER)
    assert result.status == "success", result.error
    names = {d["name"] for d in _children(result, _invocation(result))}
    assert {"S3", "DynamoDB", "127.0.0.1", "compute-total"} <= names
