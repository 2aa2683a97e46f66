"""Making spans: start one under the current span, finish it, hand it to the sink.

There is one tracer per function process (`TRACER`): the patches of botocore, requests and
the rest reach it from wherever the user's code calls them. What happens to a finished span
(hand-off to the extension, or export straight to the daemon) is the sink's business.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from . import context, diagnostics
from .spans import INTERNAL, Span
from .trace_header import new_id

# Type names only: `typing` costs 2 ms at every cold start.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Protocol

    class SpanSink(Protocol):
        """Where finished spans go."""

        def emit(self, span: Span) -> None:
            """Take one finished span; must not block for long and must not raise."""


def __getattr__(name: str) -> object:
    """``SpanSink`` at run time, made on first use (a Protocol class needs ``typing``)."""
    if name != "SpanSink":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from typing import Protocol

    class SpanSink(Protocol):
        """Where finished spans go."""

        def emit(self, span: Span) -> None:
            """Take one finished span; must not block for long and must not raise."""

    SpanSink.__qualname__ = name
    return globals().setdefault(name, SpanSink)


class _Discard:
    def emit(self, span: Span) -> None:
        """Before the layer is set up (or when it is off), finished spans go nowhere."""


class Tracer:
    """Starts spans in the current trace and hands each finished one to `sink`."""

    def __init__(self, sink: SpanSink | None = None) -> None:
        self.sink: SpanSink = sink or _Discard()

    def start_span(
        self,
        name: str,
        *,
        kind: str = INTERNAL,
        namespace: str | None = None,
        attributes: dict[str, Any] | None = None,
        parent: Span | None = None,
    ) -> Span:
        """A new open span, child of `parent` or of the current span.

        Outside any trace (during init, or with tracing off) the span is still made, so
        callers never branch, but it is unsampled and its own root.
        """
        parent = parent or context.current_span()
        if parent is None:
            return Span(
                name,
                new_id() + new_id(),
                kind=kind,
                sampled=False,
                namespace=namespace,
                attributes=attributes,
            )
        return Span(
            name,
            parent.trace_id,
            parent.span_id,
            kind=kind,
            sampled=parent.sampled,
            namespace=namespace,
            attributes=attributes,
        )

    def finish(self, span: Span, end_time: float | None = None) -> None:
        """End the span and hand it over; a failing sink is logged, never raised."""
        span.end(end_time)
        try:
            self.sink.emit(span)
        except Exception as error:
            diagnostics.internal_error("handing a span over", error)

    @contextlib.contextmanager
    def span(self, name: str, **options: Any) -> Iterator[Span]:
        """A span around a block: current inside it, records an escaping exception."""
        span = self.start_span(name, **options)
        token = context.activate(span)
        try:
            yield span
        except BaseException as error:
            span.record_exception(error)
            raise
        finally:
            context.deactivate(token)
            self.finish(span)


TRACER = Tracer()
