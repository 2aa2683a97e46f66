"""Segment documents joined into traces: the one reading of the documents every view shares.

The X-Ray daemon receives a trace in pieces: complete segments with embedded subsegments
(Lambda's own), and subsegments sent one by one with ``type: "subsegment"`` and a ``parent_id``
(what the layer sends). ``join`` puts the pieces back together by id, the way the X-Ray console
does, and keeps what could not be placed instead of hiding it: a subsegment whose parent never
arrived becomes a top of its trace, and ``Trace.walk`` says which parent is missing.

Documents come from outside (a UDP socket, a file someone saved), so nothing here trusts their
shape: a missing or mistyped field reads as missing, never as an exception.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from xraylayer import semconv

ORIGIN_SERVICE = "AWS::Lambda"  # Lambda's service segment
ORIGIN_FUNCTION = "AWS::Lambda::Function"  # Lambda's function segment (or the layer's own)
DOWNSTREAM_NAMESPACES = ("aws", "remote")  # calls that leave the function: service map nodes
LAYER_METADATA = "xraylayer"  # where the layer keeps span links
OTEL_METADATA = "otel"  # where the layer keeps attributes X-Ray has no field for
UNKNOWN_TRACE = "?"


def number(value: object) -> float | None:
    """A finite float, or None for anything else (booleans are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def text(value: object) -> str | None:
    """A non-empty string, or None."""
    return value if isinstance(value, str) and value else None


def mapping(value: object) -> dict:
    """``value`` if it is a dict, else an empty one, so lookups on foreign data never raise."""
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class Flags:
    """X-Ray's three failure flags: ``error`` (4xx), ``throttle`` (429), ``fault`` (5xx)."""

    error: bool = False
    throttle: bool = False
    fault: bool = False

    @classmethod
    def of(cls, document: dict) -> Flags:
        return cls(*(document.get(name) is True for name in ("error", "throttle", "fault")))

    def __or__(self, other: Flags) -> Flags:
        return Flags(
            self.error or other.error, self.throttle or other.throttle, self.fault or other.fault
        )

    @property
    def severity(self) -> str | None:
        """The worst of the three, for colour: a fault outranks a throttle, which is an error."""
        for name in ("fault", "throttle", "error"):
            if getattr(self, name):
                return name
        return None

    def words(self) -> list[str]:
        """Status words in a fixed order, so the text never depends on colour to be read."""
        pairs = (("FAULT", self.fault), ("ERROR", self.error), ("THROTTLE", self.throttle))
        return [word for word, on in pairs if on]


@dataclass(eq=False)
class Node:
    """One segment or subsegment, placed in its trace (hashable by identity)."""

    document: dict
    trace_id: str
    key: str  # the id, or a stand-in for a document without one
    parent_id: str | None
    children: list[Node] = field(default_factory=list)
    parent: Node | None = None

    @property
    def name(self) -> str:
        return text(self.document.get("name")) or "(no name)"

    @property
    def span_id(self) -> str:
        return text(self.document.get("id")) or ""

    @property
    def start(self) -> float | None:
        return number(self.document.get("start_time"))

    @property
    def end(self) -> float | None:
        return number(self.document.get("end_time"))

    @property
    def in_progress(self) -> bool:
        return self.document.get("in_progress") is True or self.end is None

    @property
    def duration_ms(self) -> float | None:
        start, end = self.start, self.end
        return None if start is None or end is None else (end - start) * 1000

    @property
    def origin(self) -> str | None:
        return text(self.document.get("origin"))

    @property
    def namespace(self) -> str | None:
        return text(self.document.get("namespace"))

    @property
    def operation(self) -> str | None:
        return text(mapping(self.document.get("aws")).get("operation"))

    @property
    def flags(self) -> Flags:
        return Flags.of(self.document)

    @property
    def annotations(self) -> dict:
        return mapping(self.document.get("annotations"))

    @property
    def attributes(self) -> dict:
        """The span attributes the layer kept as metadata (``metadata.otel``)."""
        return mapping(mapping(self.document.get("metadata")).get(OTEL_METADATA))

    @property
    def exception_type(self) -> str | None:
        """The type of the first exception of an inline ``cause``, if it names one."""
        exceptions = mapping(self.document.get("cause")).get("exceptions")
        if isinstance(exceptions, list) and exceptions:
            return text(mapping(exceptions[0]).get("type"))
        return None

    @property
    def links(self) -> list[tuple[str, str]]:
        """(trace id, span id) of the spans this one links to (the layer's message links)."""
        links = mapping(mapping(self.document.get("metadata")).get(LAYER_METADATA)).get("links")
        found = []
        for link in links if isinstance(links, list) else ():
            trace_id, span_id = text(mapping(link).get("trace_id")), text(mapping(link).get("id"))
            if trace_id and span_id:
                found.append((trace_id, span_id))
        return found

    def order(self) -> tuple[float, str]:
        """Display order: by start time, then id; nodes without a start go last."""
        start = self.start
        return (math.inf if start is None else start, self.key)

    def ancestors(self) -> Iterable[Node]:
        """Parent, grandparent, ...; stops at a cycle instead of looping."""
        seen = {id(self)}
        node = self.parent
        while node is not None and id(node) not in seen:
            seen.add(id(node))
            yield node
            node = node.parent


# --- what a node is -----------------------------------------------------------------------------


def is_invocation_span(node: Node) -> bool:
    """The layer's span of one invocation: it carries the request id (or the ColdStart
    annotation, when metadata was cut to fit the 64 KB limit)."""
    return bool(text(node.attributes.get(semconv.FAAS_INVOCATION_ID))) or isinstance(
        node.annotations.get("ColdStart"), bool
    )


def is_service_segment(node: Node) -> bool:
    """Lambda's ``AWS::Lambda`` segment, the invoke as the Lambda service saw it."""
    return node.origin == ORIGIN_SERVICE


def is_function_segment(node: Node) -> bool:
    """Lambda's own ``AWS::Lambda::Function`` segment (the layer writes that origin too, on an
    unsampled invocation's span, which is an invocation span first)."""
    return node.origin == ORIGIN_FUNCTION and not is_invocation_span(node)


def is_cold_start(node: Node) -> bool:
    """The init phase: Lambda's ``Initialization`` subsegment or the layer's ``Init`` span."""
    parent = node.parent
    if parent is None:
        return False
    if node.name == "Initialization":
        return is_function_segment(parent)
    return node.name == "Init" and is_invocation_span(parent)


def is_downstream(node: Node) -> bool:
    """A call out of the function: an AWS SDK call or any other remote call."""
    return node.namespace in DOWNSTREAM_NAMESPACES


# --- joining ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Visit:
    """A node in display order, with what a tree drawing needs: for the node and each
    ancestor below the top, whether it is the last of its siblings."""

    node: Node
    branches: tuple[bool, ...]
    note: str | None  # why a top is not a root: its parent is missing or in a cycle

    @property
    def depth(self) -> int:
        return len(self.branches)


@dataclass
class Trace:
    """The nodes of one trace id, linked; ``tops`` are its roots and orphans, in order."""

    trace_id: str
    nodes: dict[str, Node]
    tops: list[Node]

    @property
    def start(self) -> float | None:
        starts = [s for s in (n.start for n in self.nodes.values()) if s is not None]
        return min(starts) if starts else None

    @property
    def end(self) -> float | None:
        ends = [e for e in (n.end for n in self.nodes.values()) if e is not None]
        return max(ends) if ends else None

    @property
    def duration_ms(self) -> float | None:
        start, end = self.start, self.end
        return None if start is None or end is None else (end - start) * 1000

    def order(self) -> tuple[float, str]:
        return (min(n.order() for n in self.nodes.values())[0], self.trace_id)

    def walk(self) -> list[Visit]:
        """Every node once, depth first, siblings in order; nodes caught in a parent cycle,
        which no top reaches, are listed as tops too."""
        visits: list[Visit] = []
        seen: set[str] = set()
        remaining = list(self.tops)
        while remaining:
            for top in remaining:
                if top.key not in seen:
                    visits.extend(self._subtree(top, seen))
            rest = (n for n in self.nodes.values() if n.key not in seen)
            remaining = sorted(rest, key=Node.order)[:1]
        return visits

    def _subtree(self, top: Node, seen: set[str]) -> list[Visit]:
        """``top`` and the nodes under it not ``seen`` yet, depth first, with an explicit
        stack: a file's parent chain can be deeper than Python's recursion limit."""
        visits = []
        stack = [Visit(top, (), self._orphan_note(top))]
        while stack:
            visit = stack.pop()
            seen.add(visit.node.key)
            visits.append(visit)
            children = [c for c in visit.node.children if c.key not in seen]
            for position in reversed(range(len(children))):
                last = position == len(children) - 1
                stack.append(Visit(children[position], (*visit.branches, last), None))
        return visits

    def _orphan_note(self, node: Node) -> str | None:
        if node.parent_id is None or node.parent_id == node.key:
            return None
        if node.parent_id in self.nodes:
            return f"(parent {node.parent_id} in a cycle)"
        return f"(parent {node.parent_id} not received)"


def join(documents: Iterable[Any]) -> list[Trace]:
    """The documents as traces, ordered by start (then id); later documents for the same id
    replace earlier ones, except that an in-progress one never replaces a complete one."""
    traces = [
        Trace(trace_id, nodes, _link(nodes)) for trace_id, nodes in _collect(documents).items()
    ]
    return sorted(traces, key=Trace.order)


def index(traces: Iterable[Trace]) -> dict[tuple[str, str], Node]:
    """Every node by (trace id, id), to follow a parent or a link into another trace."""
    return {(t.trace_id, key): node for t in traces for key, node in t.nodes.items()}


def flattened(documents: Iterable[Any]) -> list[dict]:
    """Every segment and subsegment, embedded ones too, each a copy with its trace id and
    parent id filled in (an embedded subsegment has neither field of its own)."""
    return [
        {**document, "trace_id": trace_id, "parent_id": parent_id}
        for top in documents
        if isinstance(top, dict)
        for document, trace_id, parent_id in _flatten(top, "", None, False)
    ]


def _flatten(
    document: dict, trace_id: str, parent_id: str | None, embedded: bool
) -> list[tuple[dict, str, str | None]]:
    """``document`` and its embedded subsegments as (document, trace id, parent id) triples."""
    trace_id = text(document.get("trace_id")) or trace_id
    if not embedded:
        parent_id = text(document.get("parent_id"))
    found = [(document, trace_id, parent_id)]
    children = document.get("subsegments")
    for child in children if isinstance(children, list) else ():
        if isinstance(child, dict):
            found.extend(_flatten(child, trace_id, text(document.get("id")), True))
    return found


def _replaces(new: dict, old: dict) -> bool:
    """A later document for the same id wins, except an in-progress one over a complete one."""
    return not ("end_time" in old and "end_time" not in new)


def _collect(documents: Iterable[Any]) -> dict[str, dict[str, Node]]:
    """Every (sub)segment by trace id, then by id, duplicates resolved."""
    traces: dict[str, dict[str, Node]] = {}
    for position, document in enumerate(documents):
        if not isinstance(document, dict):
            continue
        flat = _flatten(document, UNKNOWN_TRACE, None, False)
        for number_in_document, (item, trace_id, parent_id) in enumerate(flat):
            key = text(item.get("id")) or f"(no id #{position}.{number_in_document})"
            nodes = traces.setdefault(trace_id, {})
            if key not in nodes or _replaces(item, nodes[key].document):
                nodes[key] = Node(item, trace_id, key, parent_id)
    return traces


def _link(nodes: dict[str, Node]) -> list[Node]:
    """Attach children to parents; return the tops (roots and orphans), in display order."""
    tops = []
    for node in nodes.values():
        parent = nodes.get(node.parent_id) if node.parent_id else None
        if parent is None or parent is node:
            tops.append(node)
        else:
            parent.children.append(node)
            node.parent = parent
    for node in nodes.values():
        node.children.sort(key=Node.order)
    return sorted(tops, key=Node.order)
