"""Spans the user's code makes with the OpenTelemetry API, in the same trace as the layer's.

Imported only when the user's code imports ``opentelemetry.trace`` (the import hook calls
``patch``). The design, chosen to need no private OpenTelemetry API:

Provider
    At the first invocation after the patch (so after the user's init code had its chance to
    set a provider of its own) a global SDK ``TracerProvider`` is set whose one processor turns
    each finished OTel span into a layer ``Span`` and hands it to ``TRACER.sink``: the
    extension exports it with the rest. A provider the user set is left alone (one log line),
    and so is everything else then. Tracers taken during init are the API's proxies and resolve
    to ours at that point; spans made during init itself are no-ops, as the X-Ray SDK discards
    init subsegments too.
Parent
    ``opentelemetry.trace.get_current_span`` is wrapped: asked without an explicit context
    while a layer span is current, it answers with that span (a ``NonRecordingSpan`` with its
    ids). The SDK asks it for the parent of every new span, and propagators ask it what to
    inject, so both follow the layer's trace.
Children
    ``opentelemetry.trace.use_span`` (which ``start_as_current_span`` uses) is wrapped: while
    an OTel span of ours is current, a stand-in layer ``Span`` with the same ids is current on
    the layer's side, so the layer's own spans (AWS SDK, HTTP, ``capture``) made inside are its
    children. ``annotate()`` / ``metadata()`` there land on the stand-in and are carried over to
    the converted span.
Sampling
    Every OTel span is recorded (it reaches the extension even when Lambda did not sample the
    invocation, like the layer's own spans) and carries its parent's sampled flag; a root span
    outside any invocation is unsampled.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

from . import context, diagnostics
from .spans import INTERNAL, MAX_STACK_FRAMES, Span
from .trace_header import new_id
from .tracer import TRACER

MAX_OPEN_STAND_INS = 10_000  # stand-ins of spans started and never ended are let go beyond this
SCOPE_ATTRIBUTE = "otel.scope.name"
EVENTS_NAMESPACE = "otel"


class _Bridge:
    """The process's bridge state: the patched module and, once installed, our provider."""

    def __init__(self) -> None:
        self.module: ModuleType | None = None
        self.provider: Any = None
        self.stand_ins: dict[int, Span] = {}  # OTel span id -> stand-in, from start to end
        self.users_provider: Any = None  # one the user set after ours (see _wrap)


_BRIDGE = _Bridge()


def patch(trace_module: ModuleType) -> None:
    """Called once ``opentelemetry.trace`` is imported: wrap its current-span functions and
    install the provider now if an invocation is running, else when the next one starts."""
    try:
        if _BRIDGE.module is not None:
            return
        _wrap(trace_module)
        if context.current_span() is not None:
            install()
        else:
            from .handoff import HANDOFF

            HANDOFF.call_at_next_invocation(install)
    except Exception as error:
        diagnostics.internal_error("patching opentelemetry.trace", error)


def install() -> bool:
    """Set the bridge's provider as OpenTelemetry's global one, unless the user set one;
    True when ours is in place."""
    try:
        module = _BRIDGE.module
        if module is None:
            import opentelemetry.trace as module

            _wrap(module)
        if _BRIDGE.provider is not None:
            return True
        if _BRIDGE.users_provider is not None or not isinstance(
            module.get_tracer_provider(), module.ProxyTracerProvider
        ):
            _leave_to_users_provider()
            return False
        provider = _make_provider(module)
        module.set_tracer_provider.__wrapped__(provider)
        if module.get_tracer_provider() is provider:
            _BRIDGE.provider = provider
        return _BRIDGE.provider is not None
    except Exception as error:
        diagnostics.internal_error("installing the OpenTelemetry bridge", error)
        return False


# --- wrapping the API's current-span functions --------------------------------------------


def _wrap(module: ModuleType) -> None:
    _BRIDGE.module = module
    module.get_current_span = _current_span_wrapper(module, module.get_current_span)
    module.use_span = _use_span_wrapper(module.use_span)
    module.set_tracer_provider = _set_provider_wrapper(module.set_tracer_provider)
    module.get_tracer_provider = _get_provider_wrapper(module.get_tracer_provider)


def _set_provider_wrapper(original: Callable[[Any], None]) -> Callable[[Any], None]:
    """Ours holds the global only because none was set when an invocation started: a provider
    the user sets later (in the handler, say) takes its place, as if ours had never been."""

    def set_tracer_provider(tracer_provider: Any) -> None:
        if _BRIDGE.provider is None or _BRIDGE.users_provider is not None:
            original(tracer_provider)
            return
        _BRIDGE.users_provider = tracer_provider
        _BRIDGE.provider = None  # the user's spans then follow their own context, not ours
        _leave_to_users_provider()

    set_tracer_provider.__wrapped__ = original  # type: ignore[attr-defined]
    set_tracer_provider.__doc__ = original.__doc__
    return set_tracer_provider


def _leave_to_users_provider() -> None:
    diagnostics.log(
        "info",
        "an OpenTelemetry TracerProvider is already set; its spans stay with it "
        "and are not added to the X-Ray trace",
        once="otel-own-provider",
    )


def _get_provider_wrapper(original: Callable[[], Any]) -> Callable[[], Any]:
    def get_tracer_provider() -> Any:
        return _BRIDGE.users_provider or original()

    get_tracer_provider.__wrapped__ = original  # type: ignore[attr-defined]
    get_tracer_provider.__doc__ = original.__doc__
    return get_tracer_provider


def _current_span_wrapper(module: ModuleType, original: Callable[..., Any]) -> Callable[..., Any]:
    def get_current_span(context_: Any = None) -> Any:
        current = original(context_)
        if context_ is not None or _BRIDGE.provider is None:
            return current
        ours = context.current_span()
        if ours is None:
            return current
        try:
            span_context = current.get_span_context()
            if span_context.is_valid and f"{span_context.span_id:016x}" == ours.span_id:
                return current  # the OTel span our stand-in stands for: the real one
            return _otel_view(module, ours)
        except Exception as error:
            diagnostics.internal_error("showing the current span to OpenTelemetry", error)
            return current

    get_current_span.__wrapped__ = original  # type: ignore[attr-defined]
    get_current_span.__doc__ = original.__doc__
    return get_current_span


def _use_span_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    try:
        from opentelemetry.util._decorator import _agnosticcontextmanager as contextmanager
    except ImportError:  # older API: a plain context manager does the same here
        contextmanager = contextlib.contextmanager

    @contextmanager
    def use_span(span: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
        stand_in = _stand_in_of(span)
        token = context.activate(stand_in) if stand_in is not None else None
        try:
            with original(span, *args, **kwargs) as current:
                yield current
        finally:
            if token is not None:
                context.deactivate(token)

    use_span.__wrapped__ = original  # type: ignore[attr-defined]
    return use_span


def _otel_view(module: ModuleType, span: Span) -> Any:
    """A layer span as OpenTelemetry sees a parent: a NonRecordingSpan with its ids."""
    flags = module.TraceFlags(module.TraceFlags.SAMPLED if span.sampled else 0)
    span_context = module.SpanContext(
        trace_id=int(span.trace_id, 16),
        span_id=int(span.span_id, 16),
        is_remote=False,
        trace_flags=flags,
    )
    return module.NonRecordingSpan(span_context)


# --- the SDK provider -----------------------------------------------------------------------


def _reach_private_sdk() -> None:
    """Make the layer's own opentelemetry-sdk importable, after the function's own packages.

    The layer's dependencies are kept off the function's path (so a function sees the packages
    it bundles and no others); the bridge is the one function-side user of one, and only when
    the function itself uses the OpenTelemetry API.
    """
    import importlib.util

    if importlib.util.find_spec("opentelemetry.sdk") is not None:
        return
    layer = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    version = f"cp{sys.version_info[0]}{sys.version_info[1]}"
    for folder in (os.path.join(layer, "deps", version), os.path.join(layer, "deps", "any")):
        if os.path.isdir(folder) and folder not in sys.path:
            sys.path.append(folder)


def _make_provider(module: ModuleType) -> Any:
    """An SDK TracerProvider that records every span and hands finished ones to the layer.

    No resource detection (the extension adds the resource) and no exit hook (nothing is kept).
    """
    _reach_private_sdk()
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult

    class FollowLayerSampler(Sampler):
        """Record every span; sampled exactly when its parent is."""

        def should_sample(  # noqa: PLR0917 (the SDK's Sampler signature)
            self,
            parent_context: Any,
            trace_id: int,
            name: str,
            kind: Any = None,
            attributes: Any = None,
            links: Any = None,
            trace_state: Any = None,
        ) -> Any:
            parent = module.get_current_span(parent_context).get_span_context()
            sampled = parent.is_valid and parent.trace_flags.sampled
            decision = Decision.RECORD_AND_SAMPLE if sampled else Decision.RECORD_ONLY
            state = parent.trace_state if parent.is_valid else trace_state
            return SamplingResult(decision, attributes, state)  # the span keeps its attributes

        def get_description(self) -> str:
            return "xraylayer.FollowLayerSampler"

    class ToLayerProcessor(SpanProcessor):
        """Gives each OTel span a stand-in at start, and the layer its conversion at end."""

        def on_start(self, span: Any, parent_context: Any = None) -> None:
            try:
                stand_ins = _BRIDGE.stand_ins
                if len(stand_ins) >= MAX_OPEN_STAND_INS:
                    stand_ins.pop(next(iter(stand_ins)), None)
                stand_ins[span.get_span_context().span_id] = _stand_in(span)
            except Exception as error:
                diagnostics.internal_error("starting an OpenTelemetry span", error)

        def on_end(self, span: Any) -> None:
            try:
                stand_in = _BRIDGE.stand_ins.pop(span.get_span_context().span_id, None)
                converted = to_layer_span(span, module, stand_in)
            except Exception as error:
                diagnostics.internal_error("converting an OpenTelemetry span", error)
                return
            TRACER.finish(converted, converted.end_time)

    provider = TracerProvider(
        sampler=FollowLayerSampler(), resource=Resource({}), shutdown_on_exit=False
    )
    provider.add_span_processor(ToLayerProcessor())
    return provider


def _stand_in_of(span: Any) -> Span | None:
    try:
        return _BRIDGE.stand_ins.get(span.get_span_context().span_id)
    except Exception:  # not a span at all: the original use_span will say so
        return None


def _stand_in(span: Any) -> Span:
    span_context = span.get_span_context()
    parent = span.parent
    return Span(
        span.name,
        f"{span_context.trace_id:032x}",
        f"{parent.span_id:016x}" if parent is not None and parent.is_valid else None,
        sampled=bool(span_context.trace_flags.sampled),
        span_id=f"{span_context.span_id:016x}",
    )


# --- conversion -----------------------------------------------------------------------------


def to_layer_span(span: Any, module: ModuleType, stand_in: Span | None = None) -> Span:
    """A finished SDK span (``ReadableSpan``) as a layer ``Span``: same ids, times, attributes;
    exception events become exception records, other events metadata; the ERROR status a
    fault unless an HTTP status says error or throttle; annotations and metadata set on its
    stand-in carried over."""
    span_context = span.get_span_context()
    parent = span.parent
    attributes = {
        k: list(v) if isinstance(v, tuple) else v for k, v in (span.attributes or {}).items()
    }
    scope = getattr(span, "instrumentation_scope", None)
    if scope is not None and scope.name:
        attributes.setdefault(SCOPE_ATTRIBUTE, scope.name)
    result = Span(
        span.name,
        f"{span_context.trace_id:032x}",
        f"{parent.span_id:016x}" if parent is not None and parent.is_valid else None,
        kind=getattr(span.kind, "name", INTERNAL).lower(),
        sampled=bool(span_context.trace_flags.sampled),
        attributes=attributes,
        start_time=(span.start_time or time.time_ns()) / 1e9,
        span_id=f"{span_context.span_id:016x}",
    )
    result.end_time = (span.end_time or time.time_ns()) / 1e9
    result.links = [
        (f"{link.context.trace_id:032x}", f"{link.context.span_id:016x}") for link in span.links
    ]
    _copy_events(span, result)
    _copy_status(span, result, module)
    _copy_stand_in(stand_in, result)
    return result


def _copy_events(span: Any, result: Span) -> None:
    other = []
    for event in span.events:
        event_attributes = dict(event.attributes or {})
        if event.name == "exception":
            result.exceptions.append(_exception_record(event_attributes))
        else:
            other.append(
                {"name": event.name, "time": event.timestamp / 1e9, "attributes": event_attributes}
            )
    if other:
        result.metadata.setdefault(EVENTS_NAMESPACE, {})["events"] = other


def _exception_record(attributes: dict[str, Any]) -> dict[str, Any]:
    frames = stack_frames(str(attributes.get("exception.stacktrace") or ""))
    record: dict[str, Any] = {
        "id": new_id(),
        "type": str(attributes.get("exception.type") or "Exception"),
        "message": str(attributes.get("exception.message") or ""),
        "remote": False,
        "stack": frames[:MAX_STACK_FRAMES],
    }
    if len(frames) > MAX_STACK_FRAMES:
        record["truncated"] = len(frames) - MAX_STACK_FRAMES
    return record


def _copy_status(span: Any, result: Span, module: ModuleType) -> None:
    status = span.status
    for name in ("http.response.status_code", "http.status_code"):
        code = result.attributes.get(name)
        if isinstance(code, int) and not isinstance(code, bool):
            result.set_status_code(code)
            break
    if status.status_code is module.StatusCode.ERROR:
        result.status_message = status.description
        if not (result.error or result.fault):
            result.fault = True
    if result.exceptions and not result.error:
        result.fault = True


def _copy_stand_in(stand_in: Span | None, result: Span) -> None:
    if stand_in is None:
        return
    result.annotations.update(stand_in.annotations)
    for namespace, entries in stand_in.metadata.items():
        result.metadata.setdefault(namespace, {}).update(entries)
    result.error = result.error or stand_in.error
    result.throttle = result.throttle or stand_in.throttle
    result.fault = result.fault or stand_in.fault
    result.exceptions.extend(stand_in.exceptions)


def stack_frames(stacktrace: str) -> list[dict[str, Any]]:
    """The frames of a Python traceback text (``exception.stacktrace``), innermost first, as
    X-Ray shows them; for a chain of exceptions, those of the last one."""
    frames: list[dict[str, Any]] = []
    for raw_line in stacktrace.splitlines():
        line = raw_line.strip()
        if line.startswith("Traceback (most recent call last)"):
            frames = []
            continue
        if not line.startswith('File "'):
            continue
        path, separator, rest = line[len('File "') :].partition('", line ')
        number, _, label = rest.partition(", in ")
        if separator and number.isdigit():
            frames.append({"path": path, "line": int(number), "label": label})
    frames.reverse()
    return frames
