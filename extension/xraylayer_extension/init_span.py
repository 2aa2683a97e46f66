"""The ``Init`` span of a failed init, made from the Telemetry API's init records.

A function whose init fails (an import error, a crash at module level) never gets to hand any
span over, and it is exactly the failure a user opens the trace for. When Lambda re-runs the
init at the next invocation, the span goes into that invocation's trace (its INVOKE event's
trace header), parented where Lambda's own segments are. When no invocation follows (the
environment is shut down instead), it is a trace of its own, which only the full-trace
exporters can carry: not sampled for X-Ray, kept by tail keep as the fault it is.
"""

from __future__ import annotations

from xraylayer.spans import Span
from xraylayer.trace_header import new_id, new_trace_id, parse, to_w3c_trace_id

from .telemetry_events import INIT_START, InitPhase

INIT_SPAN_NAME = "Init"
FAILED_MESSAGE = "The function's init failed"


def failed_init_span(records: list[InitPhase], error_type: str, tracing: str | None) -> Span | None:
    """A faulted ``Init`` span from ``records`` (the init phase's, in arrival order), in the
    trace of ``tracing`` (the INVOKE event's trace header) or, without one, in a new trace;
    None when the records do not say when the init started."""
    starts = [r.time for r in records if r.event_type == INIT_START and r.time is not None]
    ends = [r.time for r in records if r.event_type != INIT_START and r.time is not None]
    if not starts:
        return None
    header = parse(tracing)
    if header is None:
        trace_id, parent, sampled = to_w3c_trace_id(new_trace_id(starts[0])), None, False
    else:
        trace_id, parent, sampled = (
            to_w3c_trace_id(header.root),
            header.parent,
            header.sampled == "1",
        )
    span = Span(INIT_SPAN_NAME, trace_id, parent, sampled=sampled, start_time=starts[0])
    span.end(max([starts[0], *ends]))
    span.fault = True
    span.status_message = FAILED_MESSAGE
    span.exceptions.append(
        {"id": new_id(), "type": error_type, "message": FAILED_MESSAGE, "remote": False}
    )
    return span
