"""The segments Lambda itself writes for a sampled invocation when tracing is Active.

In AWS the function's own subsegments hang under documents the function never sends: the
``AWS::Lambda`` service segment and the ``AWS::Lambda::Function`` segment with its
``Initialization``, ``Invocation`` and ``Overhead`` subsegments. The sandbox writes the same two
documents so a local trace has the shape the X-Ray console shows, and so a test can check that
the layer's subsegments point at the ``Invocation`` id the runtime was given as ``Parent``.

Error marking is kept simple: any status other than ``success`` (an unhandled function error,
a timeout, a runtime crash) sets ``fault`` on ``Invocation``, whose cause names the error type,
and on the function segment, whose cause refers to that exception by id (the X-Ray SDK's way of
not repeating an exception up the tree). The service segment stays a 200 because the Invoke API
answers 200 with ``X-Amz-Function-Error: Unhandled`` for all of them.

Both segments end when the invoke phase ends (after ``Overhead``), so the service segment
encloses the function segment as in the console's timeline.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from xraylayer.trace_header import TraceHeader, new_id

DAEMON_HEADER = '{"format":"json","version":1}'


@dataclass(frozen=True)
class LambdaTraceIds:
    """The ids Lambda picks at invoke start; ``invocation`` is the ``Parent`` the runtime gets."""

    service_segment: str
    function_segment: str
    initialization: str
    invocation: str
    overhead: str
    exception: str

    @classmethod
    def new(cls) -> LambdaTraceIds:
        """Fresh random ids for one invocation."""
        return cls(new_id(), new_id(), new_id(), new_id(), new_id(), new_id())


def runtime_trace_header(root: str, ids: LambdaTraceIds, sampled: str = "1") -> str:
    """The ``Lambda-Runtime-Trace-Id`` value: the function's spans become children of
    ``Invocation``."""
    return TraceHeader(root, ids.invocation, sampled).to_header()


def _subsegment(span_id: str, name: str, start: float, end: float) -> dict:
    return {"id": span_id, "name": name, "start_time": start, "end_time": end}


def _function_subsegments(
    ids: LambdaTraceIds,
    init_span: tuple[float, float] | None,
    invoke_start: float,
    response_end: float,
    phase_end: float,
) -> list[dict]:
    subsegments = []
    if init_span is not None:
        subsegments.append(_subsegment(ids.initialization, "Initialization", *init_span))
    subsegments.append(_subsegment(ids.invocation, "Invocation", invoke_start, response_end))
    if phase_end > response_end:
        subsegments.append(_subsegment(ids.overhead, "Overhead", response_end, phase_end))
    return subsegments


def _function_aws(function_name: str, function_arn: str) -> dict:
    """The function segment's ``aws`` block as Lambda fills it (account id from the ARN)."""
    fields: dict = {"function_arn": function_arn, "resource_names": [function_name]}
    parts = function_arn.split(":")
    if len(parts) > 4 and parts[4]:
        fields["account_id"] = parts[4]
    return fields


def _mark_failure(
    function_segment: dict,
    ids: LambdaTraceIds,
    status: str,
    error_type: str | None,
    cause: dict | None,
) -> None:
    """Record the failure on ``Invocation``; the function segment's cause points at it.

    ``cause`` is the runtime's X-Ray error cause (the exception's type, message and stack);
    without one, the error type names the fault.
    """
    name = error_type or status
    exceptions = [
        {"id": ids.exception, "type": name, "message": name, **exception}
        for exception in (cause or {}).get("exceptions", [])[:1]
    ] or [{"id": ids.exception, "type": name, "message": name}]
    for subsegment in function_segment["subsegments"]:
        if subsegment["name"] == "Invocation":
            subsegment["fault"] = True
            subsegment["cause"] = {"exceptions": exceptions}
    function_segment["fault"] = True
    function_segment["cause"] = ids.exception


def lambda_segments(
    *,
    trace_id: str,
    ids: LambdaTraceIds,
    function_name: str,
    function_arn: str,
    region: str,
    request_id: str,
    invoke_start: float,
    response_end: float,
    phase_end: float,
    init_span: tuple[float, float] | None = None,
    error_type: str | None = None,
    status: str = "success",
    parent_id: str | None = None,
    cause: dict | None = None,
) -> list[dict]:
    """The service segment and the function segment of one invocation, complete documents.

    Times are epoch seconds. ``init_span`` is given only when this invocation waited for init
    (a cold start); both segments then start when init started. ``status`` is the
    ``platform.runtimeDone`` status (``success``, ``error``, ``timeout``, ``failure``);
    ``error_type`` (such as ``Runtime.ExitError``) names the fault and is ignored on success.
    ``parent_id`` is the caller's ``Parent``, so its trace links to Lambda's segment; ``cause``
    is the runtime's X-Ray error cause document.
    """
    start = min(invoke_start, init_span[0]) if init_span else invoke_start
    common = {
        "trace_id": trace_id,
        "name": function_name,
        "start_time": start,
        "end_time": phase_end,
        "resource_arn": function_arn,
    }
    service = {
        "id": ids.service_segment,
        **common,
        "origin": "AWS::Lambda",
        "http": {"response": {"status": 200}},
        "aws": {"request_id": request_id, "region": region},
    }
    if parent_id:
        service["parent_id"] = parent_id
    function = {
        "id": ids.function_segment,
        **common,
        "parent_id": ids.service_segment,
        "origin": "AWS::Lambda::Function",
        "aws": _function_aws(function_name, function_arn),
        "subsegments": _function_subsegments(ids, init_span, invoke_start, response_end, phase_end),
    }
    if status != "success":
        _mark_failure(function, ids, status, error_type, cause)
    return [service, function]


def daemon_datagram(document: dict) -> bytes:
    """``document`` as one X-Ray daemon datagram (header line, newline, compact JSON)."""
    body = json.dumps(document, separators=(",", ":"))
    return (DAEMON_HEADER + "\n" + body).encode()
