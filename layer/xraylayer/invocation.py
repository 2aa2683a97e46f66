"""The invocation span: one per call of the user's handler, under Lambda's Invocation subsegment.

`Invocations` lives as long as the function process: it counts invocations (the first after an
on-demand init is the cold start), knows when init ended and holds the import profile. Per
invocation it reads the trace header Lambda put in `_X_AMZN_TRACE_ID` (absent during init,
deleted for untraced invokes, sometimes without Parent or Sampled), opens the span with the
faas / cloud attributes and the `ColdStart` and `Service` annotations, and makes it current;
on the cold start it adds `Init` with the slow imports under it. The trace context the event
carries (SQS / SNS messages, HTTP headers: `message_context`) gives the span links, or its
parent instead of Lambda's header. Each step that fails is logged and skipped: the user's
handler then runs untraced, never differently; a malformed or failing event context only
leaves the span without it.
"""

from __future__ import annotations

import os
import time

from . import cold_start, config, diagnostics, import_profile, message_context, semconv, triggers
from . import context as current
from .message_context import Attachment, Context
from .spans import SERVER, Span
from .trace_header import new_trace_id, parse, to_w3c_trace_id
from .tracer import TRACER, Tracer

# Type names only: `typing` costs 2 ms at every cold start.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import TracebackType
    from typing import Any

TRACE_HEADER_ENV = "_X_AMZN_TRACE_ID"
MB = 1024 * 1024


class Running:
    """An invocation in progress: its span, the token that made it current, its trigger."""

    __slots__ = ("span", "token", "trigger_type")

    def __init__(self, span: Span, token: Any, trigger_type: str) -> None:
        self.span = span
        self.token = token
        self.trigger_type = trigger_type


class Invocations:
    """Opens and closes the span of every invocation of this function process."""

    def __init__(
        self,
        *,
        profile: import_profile.ImportProfile | None = None,
        tracer: Tracer = TRACER,
        handoff: Any = None,
        environ: Any = os.environ,
    ) -> None:
        self.profile = profile
        self.tracer = tracer
        self.handoff = handoff  # gets invocation_started(span) / invocation_finished(span)
        self.environ = environ
        self.count = 0
        self.init_end: float | None = None
        self.init_type: str | None = None

    def init_done(self, now: float | None = None) -> None:
        """The user's handler is loaded: init ends here, and so does the import profile."""
        self.init_end = time.time() if now is None else now
        if self.profile is not None:
            self.profile.stop()

    def start(self, event: Any, context: Any) -> Running | None:
        """Open the invocation's span and make it current; None when tracing steps aside."""
        try:
            return self._start(event, context)
        except Exception as error:
            diagnostics.internal_error("starting the invocation span", error)
            return None

    def succeed(self, running: Running | None, result: Any) -> None:
        """The handler returned `result`: an HTTP error status marks the span, then it ends."""
        if running is None:
            return
        try:
            http = running.trigger_type in triggers.HTTP_TRIGGERS
            status = response_status(result) if http else None
            if status is not None:
                running.span.attributes[semconv.HTTP_RESPONSE_STATUS_CODE] = status
                running.span.set_status_code(status)
        except Exception as error:
            diagnostics.internal_error("reading the handler's response", error)
        self._end(running)

    def fail(self, running: Running | None, error: BaseException) -> None:
        """The handler raised `error` (caught by the one frame around it, left out of the
        recorded stack): record it, then end the span. The caller re-raises it unchanged."""
        if running is None:
            return
        try:
            running.span.record_exception(error, traceback=_below_caller(error.__traceback__))
        except Exception as problem:
            diagnostics.internal_error("recording the handler's exception", problem)
        self._end(running)

    def _start(self, event: Any, context: Any) -> Running:
        now = time.time()
        self.count += 1
        settings = config.settings()
        if self.init_type is None:
            declared = settings.initialization_type
            self.init_type = cold_start.initialization_type(declared, self.init_end, now)
        cold = cold_start.is_cold_start(self.count, self.init_type)
        trigger_type, faas_trigger = triggers.detect(event)
        header_value = self.environ.get(TRACE_HEADER_ENV)
        attached = event_context(event, trigger_type, header_value, settings.message_context)
        span = invocation_span(
            str(getattr(context, "function_name", "") or "function"),
            header_value,
            now,
            attached.parent,
        )
        span.links = attached.links
        span.attributes.update(
            attributes(context, self.environ.get("AWS_REGION"), trigger_type, faas_trigger)
        )
        span.attributes.update(attached.attributes)
        span.attributes[semconv.FAAS_COLDSTART] = cold
        span.attributes[semconv.FAAS_INITIALIZATION_TYPE] = self.init_type
        span.annotations["ColdStart"] = cold
        span.annotations["Service"] = settings.service_name
        running = Running(span, current.activate(span), trigger_type)
        self._notify("invocation_started", span)
        if cold:
            self._cold_start(span)
        return running

    def _cold_start(self, span: Span) -> None:
        """The init duration on the span, and `Init` with the slow imports under it."""
        process_start = self.profile.process_start if self.profile is not None else None
        duration = cold_start.init_duration_ms(process_start, self.init_end)
        if duration is None or process_start is None or self.init_end is None:
            return
        span.attributes[semconv.FAAS_INIT_DURATION_MS] = round(duration, 3)
        records = self.profile.records if self.profile is not None else []
        for init_span in init_spans(span, process_start, self.init_end, records):
            self.tracer.finish(init_span, init_span.end_time)

    def _end(self, running: Running) -> None:
        try:
            current.deactivate(running.token)
            self.tracer.finish(running.span)
        except Exception as error:
            diagnostics.internal_error("ending the invocation span", error)
        self._notify("invocation_finished", running.span)

    def _notify(self, event: str, span: Span) -> None:
        if self.handoff is None:
            return
        try:
            getattr(self.handoff, event)(span)
        except Exception as error:
            diagnostics.internal_error(f"handing over ({event})", error)


def event_context(event: Any, trigger_type: str, header_value: str | None, mode: str) -> Attachment:
    """The parent and links the event's trace context gives the invocation span (none when
    reading it fails); each kind of malformed value is logged once, at debug level."""
    try:
        batch = message_context.read(event, trigger_type)
        attached = message_context.attachment(batch, trigger_type, parse(header_value), mode)
    except Exception as error:
        diagnostics.internal_error("reading the trace context of the event", error)
        return Attachment(None, [], {}, [])
    for source in attached.rejected:
        diagnostics.log(
            "debug",
            f"ignored a malformed trace context ({source}); traced as if there were none",
            once=f"malformed trace context: {source}",
        )
    return attached


def invocation_span(
    name: str, header_value: str | None, now: float, parent: Context | None = None
) -> Span:
    """The open span of one invocation: the child of ``parent``, a span the event named, when
    given; else in the trace the header names (a fresh, unsampled one without a valid header),
    child of its Parent (Lambda's Invocation subsegment)."""
    if parent is not None:
        return Span(
            name,
            parent.trace_id,
            parent.span_id,
            kind=SERVER,
            sampled=parent.sampled,
            start_time=now,
        )
    header = parse(header_value)
    if header is None or header.root is None:
        trace_id = to_w3c_trace_id(new_trace_id(now))
        return Span(name, trace_id, None, kind=SERVER, sampled=False, start_time=now)
    return Span(
        name,
        to_w3c_trace_id(header.root),
        header.parent,
        kind=SERVER,
        sampled=header.sampled == "1",
        start_time=now,
    )


def attributes(
    context: Any, region: str | None, trigger_type: str, faas_trigger: str
) -> dict[str, Any]:
    """faas.* and cloud.* attributes from the Lambda context object (absent ones left out)."""
    arn = str(getattr(context, "invoked_function_arn", "") or "")
    parts = arn.split(":")  # arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]
    memory_mb = _number(getattr(context, "memory_limit_in_mb", None))
    values = {
        semconv.FAAS_NAME: getattr(context, "function_name", None),
        semconv.FAAS_VERSION: getattr(context, "function_version", None),
        semconv.FAAS_INVOCATION_ID: getattr(context, "aws_request_id", None),
        semconv.CLOUD_PROVIDER: "aws",
        semconv.CLOUD_RESOURCE_ID: arn,
        semconv.CLOUD_REGION: region or (parts[3] if len(parts) > 4 else None),
        semconv.CLOUD_ACCOUNT_ID: parts[4] if len(parts) > 4 else None,
        semconv.FAAS_MAX_MEMORY: memory_mb * MB if memory_mb is not None else None,
        semconv.FAAS_TRIGGER: faas_trigger,
        semconv.FAAS_TRIGGER_TYPE: trigger_type,
    }
    return {key: value for key, value in values.items() if value not in (None, "")}


def init_spans(
    invocation: Span, process_start: float, init_end: float, records: list
) -> list[Span]:
    """`Init` (process start to the end of init) under the invocation, then one span per slow
    import under it, nested as the imports were, each already ended."""
    spans = [_ended_child("Init", invocation, process_start, init_end)]
    for name, start, end, parent in import_profile.slow_imports(records):
        enclosing = spans[0] if parent is None else spans[parent + 1]
        spans.append(_ended_child(name, enclosing, start, end))
    return spans


def response_status(result: Any) -> int | None:
    """The `statusCode` of an API Gateway / ALB / function URL response, if it has one."""
    status = result.get("statusCode") if isinstance(result, dict) else None
    if isinstance(status, str) and status.isascii() and status.isdigit():
        return int(status)
    if isinstance(status, int) and not isinstance(status, bool):
        return status
    return None


def _ended_child(name: str, parent: Span, start: float, end: float) -> Span:
    span = Span(name, parent.trace_id, parent.span_id, sampled=parent.sampled, start_time=start)
    span.end(end)
    return span


def _number(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _below_caller(traceback: TracebackType | None) -> TracebackType | None:
    """The traceback from the user's handler on: without the frame of its caller (ours)."""
    if traceback is not None and traceback.tb_next is not None:
        return traceback.tb_next
    return traceback
