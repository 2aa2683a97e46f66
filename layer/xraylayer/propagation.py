"""The trace headers an outgoing call carries: X-Ray's ``X-Amzn-Trace-Id`` and W3C ``traceparent``.

Pure functions, no I/O: the HTTP patches (and later the SQS / SNS injection) decide *whether* to
inject; this module decides *what*. Which headers go out follows the propagator names of
``OTEL_PROPAGATORS`` as the configuration hands them over: ``xray``, ``tracecontext``, ``none``
(names this layer does not implement, such as ``baggage``, add nothing).

Lambda's own header is the ``incoming`` one: its extra keys (``Lineage`` above all, which Lambda's
recursion detection needs) travel on with every outgoing X-Ray header, as the X-Ray SDK does.
"""

from __future__ import annotations

from collections.abc import Collection

from .spans import Span
from .trace_header import (
    TraceHeader,
    from_w3c_trace_id,
    is_span_id,
    is_trace_id,
    to_w3c_trace_id,
)

XRAY_HEADER = "X-Amzn-Trace-Id"
TRACEPARENT_HEADER = "traceparent"
XRAY, TRACECONTEXT, NONE = "xray", "tracecontext", "none"

_HEX = "0123456789abcdef"
_ZERO_TRACE_ID = "0" * 32
_ZERO_SPAN_ID = "0" * 16
_TRACEPARENT_LENGTH = 55  # "00-" + 32 + "-" + 16 + "-" + 2


def outgoing_headers(
    span: Span | None, incoming: TraceHeader | None, propagators: Collection[str]
) -> dict[str, str]:
    """The trace headers for a call made from ``span``, one per configured propagator.

    With ``span`` None (no span is open, e.g. in a thread the context did not reach) the
    function's own header ``incoming`` is forwarded unchanged, as botocore forwards
    ``_X_AMZN_TRACE_ID``; with neither there is no trace to continue and nothing is returned.
    """
    if incoming is not None and not (incoming.root and is_trace_id(incoming.root)):
        incoming = None  # hand-made without a valid Root: carries no trace
    headers: dict[str, str] = {}
    if XRAY in propagators:
        xray = _xray_value(span, incoming)
        if xray is not None:
            headers[XRAY_HEADER] = xray
    if TRACECONTEXT in propagators:
        traceparent = _traceparent_value(span, incoming)
        if traceparent is not None:
            headers[TRACEPARENT_HEADER] = traceparent
    return headers


def _xray_value(span: Span | None, incoming: TraceHeader | None) -> str | None:
    """``Root`` from the span's trace, ``Parent`` = the span, and the incoming extra keys."""
    if span is None:
        return incoming.to_header() if incoming is not None else None
    extra = incoming.extra if incoming is not None else ()
    sampled = "1" if span.sampled else "0"
    return TraceHeader(from_w3c_trace_id(span.trace_id), span.span_id, sampled, extra).to_header()


def _traceparent_value(span: Span | None, incoming: TraceHeader | None) -> str | None:
    """W3C has no form for a trace without a parent: a header lacking ``Parent`` gives none."""
    if span is not None:
        return format_traceparent(span.trace_id, span.span_id, span.sampled)
    if incoming is None or incoming.parent is None:
        return None
    trace_id = to_w3c_trace_id(incoming.root)  # type: ignore[arg-type] - checked above
    return format_traceparent(trace_id, incoming.parent, incoming.sampled == "1")


def format_traceparent(trace_id: str, span_id: str, sampled: bool) -> str:
    """``00-<32 hex trace id>-<16 hex span id>-01`` (``-00`` when not sampled)."""
    return f"00-{trace_id}-{span_id}-{'01' if sampled else '00'}"


def parse_traceparent(value: object) -> tuple[str, str, bool] | None:
    """``(trace_id, span_id, sampled)`` from a ``traceparent`` value, or None when invalid.

    Tolerant where it costs nothing (surrounding whitespace, upper-case hex, fields a future
    version appends), strict where the W3C spec is: version ``ff`` and all-zero ids are invalid,
    version ``00`` has exactly four fields. Never raises.
    """
    if not isinstance(value, str):
        return None
    value = value.strip().lower()
    if len(value) < _TRACEPARENT_LENGTH:
        return None
    version, trace_id, span_id, flags = value[:2], value[3:35], value[36:52], value[53:55]
    if value[2] != "-" or value[35] != "-" or value[52] != "-":
        return None
    if not _is_hex(version, 2) or version == "ff":
        return None
    tail = value[_TRACEPARENT_LENGTH:]
    if tail and (version == "00" or tail[0] != "-"):
        return None
    if not _is_hex(trace_id, 32) or trace_id == _ZERO_TRACE_ID:
        return None
    if not is_span_id(span_id) or span_id == _ZERO_SPAN_ID or not _is_hex(flags, 2):
        return None
    return trace_id, span_id, bool(int(flags, 16) & 1)


def _is_hex(value: str, length: int) -> bool:
    return len(value) == length and not value.strip(_HEX)
