"""Tracing modes and Lambda's own segments (lambda-platform.md §4.2, §5.6, §5.7)."""

from __future__ import annotations

import re

from sandbox_harness import parse_header, wait_for

ROOT = re.compile(r"1-[0-9a-f]{8}-[0-9a-f]{24}")
SPAN_ID = re.compile(r"[0-9a-f]{16}")
CALLER_ROOT = "1-5759e988-bd862e3fe1be46a994272793"
CALLER_PARENT = "53995c3f42cd8ad8"


def _lambda_segments(sandbox, root: str) -> dict[str, dict]:
    """The service and function segments Lambda sent to the daemon for trace ``root``."""

    def found() -> dict[str, dict]:
        by_origin = {
            doc.get("origin"): doc
            for doc in sandbox.daemon.documents
            if doc.get("trace_id") == root and doc.get("origin", "").startswith("AWS::Lambda")
        }
        complete = {"AWS::Lambda", "AWS::Lambda::Function"} <= set(by_origin)
        return by_origin if complete else {}

    return wait_for(found, timeout=5, message=f"Lambda's segments of {root}")


def _invocation_subsegment(function_segment: dict) -> dict:
    (invocation,) = [
        s for s in function_segment.get("subsegments", []) if s["name"] == "Invocation"
    ]
    return invocation


def test_active_tracing_gives_each_invoke_a_fresh_sampled_trace(make_harness) -> None:
    harness = make_harness("basic.trace_id", tracing="Active")
    results = [harness.invoke(), harness.invoke()]
    headers = [parse_header(r.trace_header) for r in results]
    for result, header in zip(results, headers, strict=True):
        assert result.response["trace_id"] == result.trace_header
        assert ROOT.fullmatch(header["Root"])
        assert SPAN_ID.fullmatch(header["Parent"])
        assert header["Sampled"] == "1"
    assert headers[0]["Root"] != headers[1]["Root"]


def test_the_runtime_parent_is_lambdas_invocation_subsegment(make_harness) -> None:
    harness = make_harness("basic.trace_id", tracing="Active")
    result = harness.invoke()
    header = parse_header(result.trace_header)
    segments = _lambda_segments(harness.sandbox, header["Root"])
    service, function = segments["AWS::Lambda"], segments["AWS::Lambda::Function"]
    assert function["parent_id"] == service["id"]
    assert service["name"] == function["name"] == "local-function"
    assert _invocation_subsegment(function)["id"] == header["Parent"]
    assert {doc["id"] for doc in result.segments} >= {service["id"], function["id"]}


def test_active_tracing_continues_a_callers_sampled_trace(make_harness) -> None:
    harness = make_harness("basic.trace_id", tracing="Active")
    result = harness.invoke(trace_header=f"Root={CALLER_ROOT};Parent={CALLER_PARENT};Sampled=1")
    header = parse_header(result.response["trace_id"])
    assert header["Root"] == CALLER_ROOT
    assert header["Parent"] != CALLER_PARENT
    segments = _lambda_segments(harness.sandbox, CALLER_ROOT)
    assert segments["AWS::Lambda"]["parent_id"] == CALLER_PARENT
    assert _invocation_subsegment(segments["AWS::Lambda::Function"])["id"] == header["Parent"]


def test_passthrough_passes_a_callers_sampled_header_on(make_harness) -> None:
    harness = make_harness("basic.trace_id", tracing="PassThrough")
    result = harness.invoke(trace_header=f"Root={CALLER_ROOT};Parent={CALLER_PARENT};Sampled=1")
    header = parse_header(result.response["trace_id"])
    assert header["Root"] == CALLER_ROOT
    assert header["Sampled"] == "1"
    (invoke,) = harness.probe.events("INVOKE")
    assert parse_header(invoke["tracing"]["value"])["Root"] == CALLER_ROOT


def test_passthrough_keeps_an_unsampled_callers_decision(make_harness) -> None:
    harness = make_harness("basic.trace_id", tracing="PassThrough")
    result = harness.invoke(trace_header=f"Root={CALLER_ROOT};Parent={CALLER_PARENT};Sampled=0")
    header = parse_header(result.response["trace_id"])
    assert header["Root"] == CALLER_ROOT
    assert header["Sampled"] == "0"
    assert not [d for d in harness.sandbox.daemon.documents if d.get("trace_id") == CALLER_ROOT]


def test_passthrough_without_a_caller_header_hands_out_an_unsampled_header(make_harness) -> None:
    """Lambda gives every invoke a trace id; untraced ones say Sampled=0 (lambda-platform §5.6)."""
    harness = make_harness("basic.trace_id", tracing="PassThrough")
    first, second = harness.invoke(), harness.invoke()
    headers = [parse_header(result.response["trace_id"]) for result in (first, second)]
    assert [header["Sampled"] for header in headers] == ["0", "0"]
    assert headers[0]["Root"] != headers[1]["Root"]
    assert all(header.get("Parent") for header in headers)
    assert not [d for d in first.segments if d.get("origin", "").startswith("AWS::Lambda")]


def test_runtime_done_carries_the_tracing_context_of_a_sampled_invoke(make_harness) -> None:
    harness = make_harness("basic.trace_id", tracing="Active")
    result = harness.invoke()
    (done,) = [
        e["record"]
        for e in harness.sandbox.telemetry
        if e["type"] == "platform.runtimeDone" and e["record"]["requestId"] == result.request_id
    ]
    assert done["tracing"]["type"] == "X-Amzn-Trace-Id"
    assert done["tracing"]["value"] == result.trace_header


def _exceptions(segment: dict) -> list[dict]:
    """Every exception recorded in a segment's cause or in its subsegments' causes."""
    found = []
    cause = segment.get("cause")
    if isinstance(cause, dict):
        found.extend(cause.get("exceptions", []))
    for subsegment in segment.get("subsegments", []):
        found.extend(_exceptions(subsegment))
    return found


def test_the_runtimes_error_cause_reaches_lambdas_function_segment(make_harness) -> None:
    harness = make_harness("basic.fail", tracing="Active")
    result = harness.invoke()
    assert result.status == "error"
    header = parse_header(result.trace_header)
    function = _lambda_segments(harness.sandbox, header["Root"])["AWS::Lambda::Function"]
    assert function.get("fault") or function.get("error"), function
    exceptions = _exceptions(function)
    matching = [
        e
        for e in exceptions
        if e.get("type") == "ValueError" and e.get("message") == "boom from fail"
    ]
    assert matching, exceptions
    assert any(frame.get("label") == "fail" for frame in matching[0].get("stack", [])), matching
