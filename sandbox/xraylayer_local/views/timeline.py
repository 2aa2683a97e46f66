"""The timeline view: each trace as a waterfall, one row per segment or subsegment.

A row says where its bar starts (milliseconds from the trace's first start), how long it lasts,
how deep it nests, and what went wrong, in words (FAULT, ERROR, THROTTLE, the exception type,
COLD START, IN PROGRESS), so every rendering can be read without colour. The renderings (text
and SVG) only place what is computed here.

A cold start's import profile can be hundreds of rows; ``max_depth`` folds what lies deeper
into the deepest row shown, which then says how many rows it holds.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from .invocations import Invocation
from .model import Flags, Node, Trace, Visit, is_cold_start, text

COLD_START = "COLD START"
IN_PROGRESS = "IN PROGRESS"


@dataclass(frozen=True)
class Row:
    """One bar of a waterfall."""

    branches: tuple[bool, ...]  # for the node and each ancestor below the top: last sibling?
    label: str  # name, [origin or namespace], AWS operation
    span_id: str
    offset_ms: float | None  # from the trace's start
    duration_ms: float | None  # None while in progress
    flags: Flags
    words: tuple[str, ...]  # status words, then notes
    annotations: tuple[str, ...]  # key=value
    cold: bool  # the init phase of a cold start
    folded: int = 0  # descendants deeper than the depth shown
    folded_flags: Flags = field(
        default_factory=Flags
    )  # what went wrong in them, so folding hides no failure

    @property
    def depth(self) -> int:
        return len(self.branches)

    @property
    def status(self) -> str:
        """The status words, and how many rows were folded in (and what failed in them)."""
        words = list(self.words)
        if self.folded:
            inside = " ".join(self.folded_flags.words())
            words.append(f"(+{self.folded} nested{': ' + inside if inside else ''})")
        return " ".join(words)

    @property
    def notes(self) -> str:
        """The status, then the annotations."""
        return " ".join(part for part in (self.status, *self.annotations) if part)


@dataclass(frozen=True)
class Waterfall:
    """One trace: its rows and a summary line's worth of facts."""

    trace_id: str
    start: float | None  # epoch seconds
    duration_ms: float | None
    node_count: int
    rows: tuple[Row, ...]
    functions: tuple[str, ...]  # functions invoked in this trace, in order
    cold: bool
    flags: Flags  # every flag raised anywhere in the trace


def waterfalls(
    traces: Iterable[Trace],
    invocations: Iterable[Invocation] = (),
    *,
    max_depth: int | None = None,
) -> list[Waterfall]:
    """A waterfall per trace, in trace order."""
    invocations = list(invocations)
    return [waterfall(trace, invocations, max_depth=max_depth) for trace in traces]


def waterfall(
    trace: Trace, invocations: Iterable[Invocation] = (), *, max_depth: int | None = None
) -> Waterfall:
    """The rows of ``trace`` in tree order, deeper rows folded below ``max_depth``."""
    start = trace.start
    rows = _fold([_row(visit, start) for visit in trace.walk()], max_depth)
    own = [inv for inv in invocations if inv.trace_id == trace.trace_id]
    flags = Flags()
    for node in trace.nodes.values():
        flags |= node.flags
    return Waterfall(
        trace_id=trace.trace_id,
        start=start,
        duration_ms=trace.duration_ms,
        node_count=len(trace.nodes),
        rows=tuple(rows),
        functions=tuple(dict.fromkeys(inv.function for inv in own)),
        cold=any(inv.cold for inv in own) or any(row.cold for row in rows),
        flags=flags,
    )


def tree_prefix(branches: tuple[bool, ...]) -> str:
    """The tree drawing before a label: ``│  `` or spaces per ancestor, then the branch."""
    if not branches:
        return ""
    above = "".join("   " if last else "│  " for last in branches[:-1])
    return above + ("└─ " if branches[-1] else "├─ ")


def label(node: Node) -> str:
    """Name, then ``[origin]`` or ``[namespace]``, then the AWS operation."""
    parts = [node.name]
    kind = node.origin or node.namespace
    if kind:
        parts.append(f"[{kind}]")
    if node.operation:
        parts.append(node.operation)
    return " ".join(parts)


def _row(visit: Visit, trace_start: float | None) -> Row:
    node = visit.node
    offset = None
    if node.start is not None and trace_start is not None:
        offset = (node.start - trace_start) * 1000
    cold = is_cold_start(node)
    return Row(
        branches=visit.branches,
        label=label(node),
        span_id=node.span_id,
        offset_ms=offset,
        duration_ms=node.duration_ms,
        flags=node.flags,
        words=tuple(_words(node, cold, visit.note)),
        annotations=tuple(_annotations(node)),
        cold=cold,
    )


def _words(node: Node, cold: bool, note: str | None) -> list[str]:
    """Status words: flags with the exception type, cold start, in progress, orphan note,
    and where the span's message links lead (the producer's trace)."""
    words = node.flags.words()
    exception_type = node.exception_type
    if words and exception_type:
        words.append(exception_type)
    if cold:
        words.append(COLD_START)
    if node.in_progress:
        words.append(IN_PROGRESS)
    if note:
        words.append(note)
    links = node.links
    if len(links) == 1:
        words.append(f"(linked to trace {links[0][0]})")
    elif links:
        words.append(f"(linked to {len(links)} spans)")
    return words


def _annotations(node: Node) -> list[str]:
    return [
        f"{key}={value if isinstance(value, str) else json.dumps(value)}"
        for key, value in node.annotations.items()
        if text(key)
    ]


def _fold(rows: list[Row], max_depth: int | None) -> list[Row]:
    """Rows no deeper than ``max_depth``; each hidden row is counted on the shown row above
    it, which in tree order is its ancestor at the deepest depth shown."""
    if max_depth is None:
        return rows
    shown: list[Row] = []
    for row in rows:
        if row.depth <= max_depth or not shown:
            shown.append(row)
        else:
            above = shown[-1]
            shown[-1] = replace(
                above, folded=above.folded + 1, folded_flags=above.folded_flags | row.flags
            )
    return shown
