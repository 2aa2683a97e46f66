"""What an OTLP ``ExportTraceServiceRequest`` (as opentelemetry-proto parses it) carries."""

from __future__ import annotations

from typing import Any


def spans_of(request: Any) -> list[tuple[Any, Any]]:
    """(resource, span) of every span, across resource spans and scopes, in order."""
    return [
        (resource_spans.resource, span)
        for resource_spans in request.resource_spans
        for scope_spans in resource_spans.scope_spans
        for span in scope_spans.spans
    ]
