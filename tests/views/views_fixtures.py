"""Small hand-made X-Ray documents in the shapes the views read.

Lambda's own segments come from the sandbox's ``lambda_segments`` (what the daemon receives);
the layer's spans are written out here by hand as independent subsegments, as the extension
sends them. ``orders_demo`` is a four-trace world: an ``orders`` function called by a client
three times (a cold start, a fault, a throttle) calling DynamoDB, a payment host and SNS, and a
``receipts`` consumer whose invocation links to the SNS publish that sent its message.
"""

from __future__ import annotations

from typing import Any

from xraylayer_local.lambda_segments import LambdaTraceIds, lambda_segments

T0 = 1_700_000_000.0
ACCOUNT = "123456789012"
TRACE_A = "1-6553f100-00000000000000000000000a"
TRACE_B = "1-6553f101-00000000000000000000000b"
TRACE_C = "1-6553f102-00000000000000000000000c"
TRACE_D = "1-6553f103-00000000000000000000000d"
SNS_PUBLISH_ID = "a000000000000005"


def arn(function: str) -> str:
    return f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:{function}"


def lambda_documents(
    trace_id: str,
    ids: LambdaTraceIds,
    *,
    function: str,
    request_id: str,
    start: float,
    duration: float,
    init: float | None = None,
    **overrides: Any,
) -> list[dict]:
    """Lambda's service and function segments for an invocation of ``duration`` seconds
    starting at ``start`` (after ``init`` seconds of init on a cold start)."""
    invoke_start = start + (init or 0.0)
    arguments: dict[str, Any] = dict(
        trace_id=trace_id,
        ids=ids,
        function_name=function,
        function_arn=arn(function),
        region="eu-west-1",
        request_id=request_id,
        invoke_start=invoke_start,
        response_end=invoke_start + duration,
        phase_end=invoke_start + duration + 0.002,
        init_span=(start, invoke_start) if init else None,
    )
    return lambda_segments(**{**arguments, **overrides})


def subsegment(
    span_id: str,
    parent_id: str | None,
    name: str,
    start: float,
    end: float | None,
    *,
    trace_id: str,
    **extra: Any,
) -> dict:
    """An independent subsegment as the layer sends it (``end`` None: in progress)."""
    document: dict[str, Any] = {"type": "subsegment", "id": span_id, "trace_id": trace_id}
    if parent_id:
        document["parent_id"] = parent_id
    document.update(name=name, start_time=start, **extra)
    if end is None:
        document["in_progress"] = True
    else:
        document["end_time"] = end
    return document


def invocation_span(
    span_id: str,
    parent_id: str | None,
    start: float,
    end: float,
    *,
    trace_id: str,
    function: str,
    request_id: str,
    cold: bool,
    init_ms: float | None = None,
    links: list[dict] | None = None,
    **extra: Any,
) -> dict:
    """The layer's invocation span: request id and cold start in its metadata and annotations."""
    otel: dict[str, Any] = {
        "faas.name": function,
        "faas.invocation_id": request_id,
        "faas.coldstart": cold,
    }
    if init_ms is not None:
        otel["xraylayer.init_duration_ms"] = init_ms
    metadata: dict[str, Any] = {"otel": otel}
    if links:
        metadata["xraylayer"] = {"links": links}
    return subsegment(
        span_id,
        parent_id,
        function,
        start,
        end,
        trace_id=trace_id,
        annotations={"ColdStart": cold, "Service": function},
        metadata=metadata,
        **extra,
    )


def call(
    span_id: str,
    parent_id: str,
    name: str,
    start: float,
    end: float,
    *,
    trace_id: str,
    namespace: str = "aws",
    operation: str | None = None,
    status: int = 200,
    **flags: bool,
) -> dict:
    """A downstream call: an AWS SDK call (namespace aws) or an HTTP call (remote)."""
    extra: dict[str, Any] = {"namespace": namespace, "http": {"response": {"status": status}}}
    if operation:
        extra["aws"] = {"operation": operation}
    return subsegment(span_id, parent_id, name, start, end, trace_id=trace_id, **extra, **flags)


def _orders_trace(
    trace_id: str, start: float, number: int, *, init: float | None = None, **failure: Any
) -> list[dict]:
    """One ``orders`` invocation: DynamoDB PutItem, then a payment call, then (when it
    succeeds) an SNS publish; ``failure`` picks which call fails and how."""
    ids = LambdaTraceIds.new()
    request_id = f"orders-{number}"
    base = start + (init or 0.0) + 0.001
    span_id = f"a00000000000000{number}"
    throttled = failure.get("throttle", False)
    faulted = failure.get("fault", False)
    documents = lambda_documents(
        trace_id,
        ids,
        function="orders",
        request_id=request_id,
        start=start,
        duration=0.030,
        init=init,
    )
    dynamodb_flags = {"error": True, "throttle": True} if throttled else {}
    documents.append(
        call(
            f"b00000000000000{number}",
            span_id,
            "DynamoDB",
            base + 0.001,
            base + 0.006,
            trace_id=trace_id,
            operation="PutItem",
            status=400 if throttled else 200,
            **dynamodb_flags,
        )
    )
    documents.append(
        call(
            f"c00000000000000{number}",
            span_id,
            "payments.local",
            base + 0.007,
            base + 0.017,
            trace_id=trace_id,
            namespace="remote",
            status=503 if faulted else 200,
            **({"fault": True} if faulted else {}),
        )
    )
    if not (throttled or faulted):
        documents.append(
            call(
                SNS_PUBLISH_ID,
                span_id,
                "SNS",
                base + 0.018,
                base + 0.024,
                trace_id=trace_id,
                operation="Publish",
            )
        )
    invocation_flags = {"throttle": True, "error": True} if throttled else {}
    if faulted:
        invocation_flags = {"fault": True}
    documents.append(
        invocation_span(
            span_id,
            ids.invocation,
            base,
            base + 0.026,
            trace_id=trace_id,
            function="orders",
            request_id=request_id,
            cold=init is not None,
            init_ms=init * 1000 if init else None,
            **invocation_flags,
        )
    )
    return documents


def orders_demo() -> list[dict]:
    """Four traces: orders cold (400 ms init), orders with a payment fault, orders throttled
    by DynamoDB, and a cold ``receipts`` invocation linked to the SNS publish of the first."""
    documents = [
        *_orders_trace(TRACE_A, T0, 1, init=0.400),
        *_orders_trace(TRACE_B, T0 + 1, 2, fault=True),
        *_orders_trace(TRACE_C, T0 + 2, 3, throttle=True),
    ]
    ids = LambdaTraceIds.new()
    start = T0 + 3
    documents += lambda_documents(
        TRACE_D,
        ids,
        function="receipts",
        request_id="receipts-1",
        start=start,
        duration=0.020,
        init=0.200,
    )
    base = start + 0.201
    documents.append(
        call(
            "e000000000000001",
            "e000000000000000",
            "S3",
            base + 0.002,
            base + 0.012,
            trace_id=TRACE_D,
            operation="PutObject",
        )
    )
    documents.append(
        invocation_span(
            "e000000000000000",
            ids.invocation,
            base,
            base + 0.015,
            trace_id=TRACE_D,
            function="receipts",
            request_id="receipts-1",
            cold=True,
            init_ms=200.0,
            links=[{"trace_id": TRACE_A, "id": SNS_PUBLISH_ID}],
        )
    )
    return documents
