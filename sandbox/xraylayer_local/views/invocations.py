"""Function invocations: the documents one invocation left, read together as one.

Up to three writers describe an invocation: Lambda's service segment (``AWS::Lambda``), Lambda's
function segment with its ``Initialization`` / ``Invocation`` / ``Overhead`` subsegments, and the
layer's invocation span. From the daemon all three arrive; from the layer's file exporter only
the span; for an invocation Lambda did not sample, the layer writes the span as a segment.
Every view must count each invocation once whichever of them it has, so they are grouped here:
by request id (``aws.request_id`` on the service segment, ``faas.invocation_id`` on the span),
which also holds when a message consumer's span continues its producer's trace while Lambda
wrote its segments in a fresh one; and, without request ids, by the span hanging under Lambda's
``Invocation`` subsegment.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from xraylayer import semconv

from .model import (
    Flags,
    Node,
    Trace,
    is_function_segment,
    is_invocation_span,
    is_service_segment,
    mapping,
    number,
    text,
)

_Key = tuple[str, object]


@dataclass(frozen=True, eq=False)
class Invocation:
    """One invocation of a function, whichever documents told of it."""

    function: str
    request_id: str | None
    trace_id: str
    start: float | None
    duration_ms: float | None  # Lambda's Invocation phase, else the layer's span
    init_ms: float | None  # the cold start's init, when known
    cold: bool
    flags: Flags
    span: Node | None = None  # the layer's invocation span
    service: Node | None = None  # Lambda's AWS::Lambda segment
    function_segment: Node | None = None  # Lambda's AWS::Lambda::Function segment

    @property
    def response_ms(self) -> float | None:
        """What the caller waited: the invocation, plus init on a cold start."""
        if self.duration_ms is None:
            return None
        init = self.init_ms if self.cold and self.init_ms is not None else 0.0
        return self.duration_ms + init

    def members(self) -> list[Node]:
        """The nodes that are the invocation itself (not work done inside it)."""
        nodes = [n for n in (self.span, self.service, self.function_segment) if n is not None]
        if self.function_segment is not None:
            nodes.extend(self.function_segment.children)
        return nodes


@dataclass
class _Parts:
    service: Node | None = None
    function: Node | None = None
    span: Node | None = None


def find_invocations(traces: Iterable[Trace]) -> list[Invocation]:
    """Every invocation the documents tell of, ordered by start."""
    groups: dict[_Key, _Parts] = {}
    for trace in traces:
        for node in trace.nodes.values():
            role = _role(node)
            if role:
                parts = groups.setdefault(_group_key(node, role), _Parts())
                setattr(parts, role, node)
    invocations = [_invocation(parts) for parts in groups.values()]
    return sorted(invocations, key=_order)


def owners(invocations: Iterable[Invocation]) -> dict[Node, Invocation]:
    """Each node that is part of an invocation itself, mapped to it."""
    return {node: inv for inv in invocations for node in inv.members()}


def owner(node: Node, by_member: Mapping[Node, Invocation]) -> Invocation | None:
    """The invocation ``node`` belongs to: its own, or its nearest ancestor's."""
    if node in by_member:
        return by_member[node]
    return next((by_member[a] for a in node.ancestors() if a in by_member), None)


def _role(node: Node) -> str | None:
    if is_invocation_span(node):
        return "span"
    if is_function_segment(node):
        return "function"
    if is_service_segment(node):
        return "service"
    return None


def _group_key(node: Node, role: str) -> _Key:
    """The request id when the node knows it; else the function segment it hangs under or
    holds; else the node itself."""
    request_id = _request_id(node, role)
    if request_id:
        return ("request", request_id)
    if role == "span" and node.parent is not None and node.parent.name == "Invocation":
        function = node.parent.parent
        if function is not None and is_function_segment(function):
            return _group_key(function, "function")
    if role == "service":
        function = next((c for c in node.children if is_function_segment(c)), None)
        if function is not None:
            return _group_key(function, "function")
    return ("node", id(node))


def _request_id(node: Node, role: str) -> str | None:
    if role == "span":
        return text(node.attributes.get(semconv.FAAS_INVOCATION_ID))
    if role == "function":
        service = node.parent
        return _request_id(service, "service") if service and is_service_segment(service) else None
    return text(mapping(node.document.get("aws")).get("request_id"))


def _invocation(parts: _Parts) -> Invocation:
    service, function, span = parts.service, parts.function, parts.span
    phases = {c.name: c for c in function.children} if function is not None else {}
    first = next(n for n in (span, function, service) if n is not None)
    cold = "Initialization" in phases or (span is not None and _cold_span(span))
    return Invocation(
        function=_function_name(service, function, span),
        request_id=_request_id(first, _role(first) or ""),
        trace_id=first.trace_id,
        start=_start(service, function, span),
        duration_ms=_duration(phases.get("Invocation"), span, function, service),
        init_ms=_init_ms(phases.get("Initialization"), span) if cold else None,
        cold=cold,
        flags=_flags(service, function, phases.get("Invocation"), span),
        span=span,
        service=service,
        function_segment=function,
    )


def _function_name(service: Node | None, function: Node | None, span: Node | None) -> str:
    if function is not None:
        return function.name
    if span is not None:
        return text(span.attributes.get(semconv.FAAS_NAME)) or span.name
    return service.name if service is not None else "(no name)"


def _cold_span(span: Node) -> bool:
    return span.annotations.get("ColdStart") is True or (
        span.attributes.get(semconv.FAAS_COLDSTART) is True
    )


def _start(*candidates: Node | None) -> float | None:
    """The earliest writer's start: Lambda's segments begin with init on a cold start."""
    return next((n.start for n in candidates if n and n.start is not None), None)


def _duration(*candidates: Node | None) -> float | None:
    """The first known duration, most precise source first (Lambda's Invocation phase)."""
    return next((n.duration_ms for n in candidates if n and n.duration_ms is not None), None)


def _init_ms(initialization: Node | None, span: Node | None) -> float | None:
    """Lambda's Initialization phase, else the init duration the layer measured, else the
    layer's ``Init`` span."""
    if initialization is not None and initialization.duration_ms is not None:
        return initialization.duration_ms
    if span is None:
        return None
    measured = number(span.attributes.get(semconv.FAAS_INIT_DURATION_MS))
    if measured is not None:
        return measured
    return _duration(*(c for c in span.children if c.name == "Init"))


def _flags(*nodes: Node | None) -> Flags:
    flags = Flags()
    for node in nodes:
        if node is not None:
            flags |= node.flags
    return flags


def _order(invocation: Invocation) -> tuple[float, str, str]:
    start = invocation.start if invocation.start is not None else math.inf
    return (start, invocation.function, invocation.request_id or "")
