"""The segments the sandbox writes in Lambda's name when tracing is Active."""

from __future__ import annotations

import pytest
from xraylayer.trace_header import is_span_id, parse
from xraylayer_local.lambda_segments import (
    LambdaTraceIds,
    daemon_datagram,
    lambda_segments,
    runtime_trace_header,
)
from xraylayer_local.xray_daemon import parse_datagram

ROOT = "1-5759e988-bd862e3fe1be46a994272793"
ARN = "arn:aws:lambda:eu-west-1:123456789012:function:orders"
T0 = 1_700_000_000.0


def segments(ids: LambdaTraceIds, **overrides) -> list[dict]:
    arguments = dict(
        trace_id=ROOT,
        ids=ids,
        function_name="orders",
        function_arn=ARN,
        region="eu-west-1",
        request_id="c6af9ac6-7b61-11e6-9a41-93e812345678",
        invoke_start=T0 + 0.5,
        response_end=T0 + 0.7,
        phase_end=T0 + 0.75,
    )
    return lambda_segments(**{**arguments, **overrides})


def by_name(subsegments: list[dict]) -> dict[str, dict]:
    return {s["name"]: s for s in subsegments}


@pytest.fixture
def ids():
    return LambdaTraceIds.new()


def test_ids_are_fresh_distinct_span_ids(ids):
    values = [ids.service_segment, ids.function_segment, ids.initialization]
    values += [ids.invocation, ids.overhead, ids.exception]
    assert all(is_span_id(v) for v in values)
    assert len(set(values)) == len(values)
    assert LambdaTraceIds.new() != ids


def test_runtime_header_makes_invocation_the_parent(ids):
    header = parse(runtime_trace_header(ROOT, ids))
    assert (header.root, header.parent, header.sampled) == (ROOT, ids.invocation, "1")
    assert runtime_trace_header(ROOT, ids, sampled="0").endswith(";Sampled=0")


def test_warm_invoke_has_service_and_function_segments(ids):
    service, function = segments(ids)
    assert service["origin"] == "AWS::Lambda"
    assert service["name"] == "orders"
    assert service["http"]["response"]["status"] == 200
    assert service["aws"]["request_id"] == "c6af9ac6-7b61-11e6-9a41-93e812345678"
    assert function["origin"] == "AWS::Lambda::Function"
    assert function["parent_id"] == ids.service_segment
    assert function["aws"]["function_arn"] == ARN
    assert function["aws"]["account_id"] == "123456789012"
    assert {service["trace_id"], function["trace_id"]} == {ROOT}
    assert "error" not in function and "fault" not in function


def test_warm_invoke_subsegments_cover_invocation_and_overhead(ids):
    _, function = segments(ids)
    parts = by_name(function["subsegments"])
    assert list(parts) == ["Invocation", "Overhead"]
    invocation, overhead = parts["Invocation"], parts["Overhead"]
    assert invocation["id"] == ids.invocation
    assert (invocation["start_time"], invocation["end_time"]) == (T0 + 0.5, T0 + 0.7)
    assert (overhead["start_time"], overhead["end_time"]) == (T0 + 0.7, T0 + 0.75)
    assert (function["start_time"], function["end_time"]) == (T0 + 0.5, T0 + 0.75)


def test_no_overhead_when_the_phase_ends_with_the_response(ids):
    _, function = segments(ids, phase_end=T0 + 0.7)
    assert [s["name"] for s in function["subsegments"]] == ["Invocation"]


def test_cold_start_adds_initialization_before_the_invoke(ids):
    service, function = segments(ids, init_span=(T0, T0 + 0.4))
    init = by_name(function["subsegments"])["Initialization"]
    assert init["id"] == ids.initialization
    assert (init["start_time"], init["end_time"]) == (T0, T0 + 0.4)
    assert service["start_time"] == function["start_time"] == T0
    assert [s["name"] for s in function["subsegments"]] == [
        "Initialization",
        "Invocation",
        "Overhead",
    ]


@pytest.mark.parametrize(
    ("status", "error_type"),
    [("error", "Runtime.Unhandled"), ("timeout", "Sandbox.Timedout"), ("failure", None)],
)
def test_failed_invocation_is_a_fault_of_the_function(ids, status, error_type):
    service, function = segments(ids, status=status, error_type=error_type)
    invocation = by_name(function["subsegments"])["Invocation"]
    assert function["fault"] is True and invocation["fault"] is True
    exception = invocation["cause"]["exceptions"][0]
    assert exception["type"] == (error_type or status)
    assert function["cause"] == exception["id"] == ids.exception
    assert service["http"]["response"]["status"] == 200
    assert "fault" not in service


def test_the_runtimes_error_cause_names_the_exception(ids):
    cause = {
        "working_directory": "/var/task",
        "exceptions": [{"type": "ValueError", "message": "boom", "stack": [{"path": "app.py"}]}],
        "paths": ["app.py"],
    }
    _, function = segments(ids, status="error", error_type="ValueError", cause=cause)
    exception = by_name(function["subsegments"])["Invocation"]["cause"]["exceptions"][0]
    assert exception == {"id": ids.exception, **cause["exceptions"][0]}
    assert function["cause"] == ids.exception


def test_a_callers_parent_links_lambdas_service_segment(ids):
    service, _ = segments(ids, parent_id="53995c3f42cd8ad8")
    assert service["parent_id"] == "53995c3f42cd8ad8"


def test_every_document_is_complete(ids):
    for document in segments(ids, init_span=(T0, T0 + 0.4)):
        for key in ("id", "trace_id", "name", "start_time", "end_time"):
            assert key in document
        assert "in_progress" not in document


def test_daemon_accepts_the_datagrams(ids):
    documents = segments(ids, init_span=(T0, T0 + 0.4), status="error")
    for document in documents:
        datagram = daemon_datagram(document)
        assert datagram.startswith(b'{"format":"json","version":1}\n')
        assert parse_datagram(datagram) == document
