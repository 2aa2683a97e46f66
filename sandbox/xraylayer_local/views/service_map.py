"""The service map: who called whom across all traces, how often, how fast, how badly.

Nodes are the callers of functions (``Client`` when the caller is not in the documents), the
functions, and what they call: each AWS service (a subsegment in namespace ``aws``, named after
the service, as X-Ray infers its nodes) and each remote host (namespace ``remote``). An edge
counts requests with their error (4xx), throttle (429) and fault (5xx) rates and average latency.

Where an invocation came from is read from the layer's span: its parent or message links point
at the call that sent the message (an SNS publish, an SQS send), so the edge runs from that
service to the consumer, as X-Ray's trace linking draws it. A call nested inside another call
(an HTTP request a custom remote span wraps) is counted once, at the outer call.

Columns place each node one step right of its furthest caller, so a map reads left to right.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .invocations import Invocation, owner, owners
from .model import Flags, Node, Trace, index, is_downstream

CLIENT, FUNCTION, AWS, REMOTE = "client", "function", "aws", "remote"
KIND_ORDER = (CLIENT, FUNCTION, AWS, REMOTE)


@dataclass(frozen=True, order=True)
class NodeKey:
    """A node of the map: its kind (client, function, aws, remote) and name."""

    kind: str
    name: str

    def sort_key(self) -> tuple[int, str]:
        kind = KIND_ORDER.index(self.kind) if self.kind in KIND_ORDER else len(KIND_ORDER)
        return (kind, self.name)


CLIENT_NODE = NodeKey(CLIENT, "Client")


@dataclass(frozen=True)
class Sample:
    """One request: its latency (None while in progress) and flags."""

    duration_ms: float | None
    flags: Flags


@dataclass(frozen=True)
class Stats:
    """Counts over a set of requests."""

    count: int = 0
    errors: int = 0
    throttles: int = 0
    faults: int = 0
    timed: int = 0  # requests with a duration
    total_ms: float = 0.0

    @classmethod
    def of(cls, samples: Iterable[Sample]) -> Stats:
        samples = list(samples)
        durations = [s.duration_ms for s in samples if s.duration_ms is not None]
        return cls(
            count=len(samples),
            errors=sum(s.flags.error for s in samples),
            throttles=sum(s.flags.throttle for s in samples),
            faults=sum(s.flags.fault for s in samples),
            timed=len(durations),
            total_ms=sum(durations),
        )

    @property
    def average_ms(self) -> float | None:
        return self.total_ms / self.timed if self.timed else None

    def rate(self, name: str) -> float:
        """Share of requests with ``name`` (``errors``, ``throttles``, ``faults``) raised."""
        return getattr(self, name) / self.count if self.count else 0.0

    @property
    def severity(self) -> str | None:
        """The worst flag any request raised."""
        return Flags(self.errors > 0, self.throttles > 0, self.faults > 0).severity


@dataclass(frozen=True)
class MapNode:
    """A node and what it did: a function's invocations, a service's requests received, a
    client's requests sent. ``cold`` counts a function's cold starts."""

    key: NodeKey
    stats: Stats
    cold: int = 0


@dataclass(frozen=True)
class Edge:
    source: NodeKey
    target: NodeKey
    stats: Stats


@dataclass(frozen=True)
class ServiceMap:
    nodes: tuple[MapNode, ...]
    edges: tuple[Edge, ...]
    columns: tuple[tuple[NodeKey, ...], ...]  # left to right
    unattributed: int  # calls whose function's documents never arrived

    def node(self, key: NodeKey) -> MapNode | None:
        return next((n for n in self.nodes if n.key == key), None)


def service_map(traces: Iterable[Trace], invocations: Iterable[Invocation]) -> ServiceMap:
    """The map of ``traces``, whose invocations (``find_invocations``) are ``invocations``."""
    traces, invocations = list(traces), list(invocations)
    by_member = owners(invocations)
    samples: dict[tuple[NodeKey, NodeKey], list[Sample]] = defaultdict(list)
    nodes_by_ref = index(traces)
    for invocation in invocations:
        target = NodeKey(FUNCTION, invocation.function)
        sample = Sample(invocation.response_ms, invocation.flags)
        callers = _callers(invocation, nodes_by_ref, by_member)
        queue = _trigger_queue(invocation)
        if queue is not None and queue not in callers:  # SNS -> SQS -> function, as X-Ray draws it
            for caller in callers - {CLIENT_NODE}:
                samples[(caller, queue)].append(Sample(None, Flags()))
            callers = {queue}
        for caller in callers:
            samples[(caller, target)].append(sample)
    unattributed = 0
    for node in _outer_calls(traces, by_member):
        invocation = owner(node, by_member)
        if invocation is None:
            unattributed += 1
            continue
        source = NodeKey(FUNCTION, invocation.function)
        samples[(source, NodeKey(node.namespace or REMOTE, node.name))].append(
            Sample(node.duration_ms, node.flags)
        )
    edges = tuple(Edge(s, t, Stats.of(found)) for (s, t), found in sorted(samples.items()))
    nodes = _nodes(edges, samples, invocations)
    return ServiceMap(nodes, edges, layout_columns([n.key for n in nodes], edges), unattributed)


def _callers(
    invocation: Invocation,
    nodes_by_ref: Mapping[tuple[str, str], Node],
    by_member: Mapping[Node, Invocation],
) -> set[NodeKey]:
    """The nodes that sent this invocation: from the span's parent and links, and Lambda's
    service segment's parent; ``Client`` when none of them is in the documents."""
    references: list[tuple[str, str]] = []
    for node in (invocation.span, invocation.service):
        if node is not None and node.parent_id:
            references.append((node.trace_id, node.parent_id))
    if invocation.span is not None:
        references.extend(invocation.span.links)
    callers = set()
    for reference in references:
        node = nodes_by_ref.get(reference)
        if node is None:
            continue
        sender = owner(node, by_member)
        if sender is invocation:
            continue  # the span under Lambda's own Invocation subsegment
        if is_downstream(node):
            callers.add(NodeKey(node.namespace or REMOTE, node.name))
        elif sender is not None:
            callers.add(NodeKey(FUNCTION, sender.function))
    return callers or {CLIENT_NODE}


def _trigger_queue(invocation: Invocation) -> NodeKey | None:
    """The SQS node of an invocation an SQS queue triggered (the layer records the trigger),
    so a message that went SNS -> SQS -> function shows the queue between them."""
    span = invocation.span
    metadata = span.document.get("metadata") if span is not None else None
    attributes = metadata.get("otel") if isinstance(metadata, dict) else None
    if isinstance(attributes, dict) and attributes.get("xraylayer.trigger_type") == "sqs":
        return NodeKey(AWS, "SQS")
    return None


def _outer_calls(traces: Iterable[Trace], by_member: Mapping[Node, Invocation]) -> list[Node]:
    """Downstream calls not made inside another downstream call of the same invocation."""
    calls = []
    for trace in traces:
        for node in trace.nodes.values():
            if is_downstream(node) and not any(
                is_downstream(a) for a in _up_to_invocation(node, by_member)
            ):
                calls.append(node)
    return calls


def _up_to_invocation(node: Node, by_member: Mapping[Node, Invocation]) -> list[Node]:
    found = []
    for ancestor in node.ancestors():
        if ancestor in by_member:
            break
        found.append(ancestor)
    return found


def _nodes(
    edges: tuple[Edge, ...],
    samples: Mapping[tuple[NodeKey, NodeKey], list[Sample]],
    invocations: list[Invocation],
) -> tuple[MapNode, ...]:
    """Functions from their invocations (their own duration, without init); clients from the
    requests they sent; services from the requests they received."""
    keys = {e.source for e in edges} | {e.target for e in edges}
    keys |= {NodeKey(FUNCTION, inv.function) for inv in invocations}
    nodes = []
    for key in sorted(keys, key=NodeKey.sort_key):
        if key.kind == FUNCTION:
            own = [inv for inv in invocations if inv.function == key.name]
            stats = Stats.of(Sample(inv.duration_ms, inv.flags) for inv in own)
            nodes.append(MapNode(key, stats, cold=sum(inv.cold for inv in own)))
            continue
        side = 0 if key.kind == CLIENT else 1
        found = [s for pair, group in samples.items() if pair[side] == key for s in group]
        nodes.append(MapNode(key, Stats.of(found)))
    return tuple(nodes)


def layout_columns(keys: list[NodeKey], edges: tuple[Edge, ...]) -> tuple[tuple[NodeKey, ...], ...]:
    """Each node one column right of its furthest caller (longest path from the sources);
    ranks are capped at the node count, so a cycle ends instead of looping."""
    rank = dict.fromkeys(keys, 0)
    for _ in keys:
        changed = False
        for edge in edges:
            step = rank[edge.source] + 1
            if edge.source != edge.target and rank[edge.target] < step < len(keys):
                rank[edge.target] = step
                changed = True
        if not changed:
            break
    columns: dict[int, list[NodeKey]] = defaultdict(list)
    for key in keys:
        columns[rank[key]].append(key)
    return tuple(tuple(sorted(columns[r], key=NodeKey.sort_key)) for r in sorted(columns))
