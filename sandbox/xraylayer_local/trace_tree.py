"""Segment documents as the indented trace trees a developer reads in a terminal.

The X-Ray daemon receives a trace in pieces: complete segments with embedded subsegments
(Lambda's own), and subsegments sent one by one with ``type: "subsegment"`` and a ``parent_id``
(what the layer sends). ``render`` puts the pieces back together by id, the way the X-Ray console
does, and shows what could not be placed instead of hiding it: a subsegment whose parent never
arrived is listed under its trace with "(parent <id> not received)".

Documents come from outside, so nothing here trusts their shape: a missing or mistyped field
shows as missing, never as an exception.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

_RED, _YELLOW, _DIM, _RESET = "\033[31m", "\033[33m", "\033[2m", "\033[0m"


@dataclass
class _Node:
    document: dict
    trace_id: str
    key: str  # the id, or a stand-in for a document without one
    parent_id: str | None
    children: list[_Node] = field(default_factory=list)

    @property
    def start(self) -> float | None:
        return _number(self.document.get("start_time"))

    @property
    def end(self) -> float | None:
        return _number(self.document.get("end_time"))

    @property
    def in_progress(self) -> bool:
        return self.document.get("in_progress") is True or self.end is None

    def order(self) -> tuple[float, str]:
        start = self.start
        return (math.inf if start is None else start, self.key)


@dataclass
class _Row:
    prefix: str  # the tree drawing
    label: str  # name, [origin or namespace], AWS operation
    duration: str
    offset: str
    span_id: str
    notes: str  # markers and annotations
    severity: str | None  # "fault", "error" or None


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


# --- assembling the trees -----------------------------------------------------------------------


def _flatten(
    document: dict, trace_id: str, parent_id: str | None, embedded: bool
) -> list[tuple[dict, str, str | None]]:
    """``document`` and its embedded subsegments as (document, trace id, parent id) triples."""
    trace_id = _text(document.get("trace_id")) or trace_id
    if not embedded:
        parent_id = _text(document.get("parent_id"))
    found = [(document, trace_id, parent_id)]
    children = document.get("subsegments")
    for child in children if isinstance(children, list) else ():
        if isinstance(child, dict):
            found.extend(_flatten(child, trace_id, _text(document.get("id")), True))
    return found


def _replaces(new: dict, old: dict) -> bool:
    """A later document for the same id wins, except an in-progress one over a complete one."""
    return not ("end_time" in old and "end_time" not in new)


def _collect(documents: list[dict]) -> dict[str, dict[str, _Node]]:
    """Every (sub)segment by trace id, then by id, duplicates resolved."""
    traces: dict[str, dict[str, _Node]] = {}
    for position, document in enumerate(documents):
        if not isinstance(document, dict):
            continue
        for index, (item, trace_id, parent_id) in enumerate(_flatten(document, "?", None, False)):
            key = _text(item.get("id")) or f"(no id #{position}.{index})"
            nodes = traces.setdefault(trace_id, {})
            if key not in nodes or _replaces(item, nodes[key].document):
                nodes[key] = _Node(item, trace_id, key, parent_id)
    return traces


def _link(nodes: dict[str, _Node]) -> list[_Node]:
    """Attach children to parents; return the tops (roots and orphans), in display order."""
    tops = []
    for node in nodes.values():
        parent = nodes.get(node.parent_id) if node.parent_id else None
        if parent is None or parent is node:
            tops.append(node)
        else:
            parent.children.append(node)
    for node in nodes.values():
        node.children.sort(key=_Node.order)
    return sorted(tops, key=_Node.order)


def _walk(tops: list[_Node], nodes: dict[str, _Node]) -> list[tuple[_Node, str, str | None]]:
    """(node, tree prefix, orphan note) in display order; nodes caught in a parent cycle, which
    no root reaches, are listed as orphans too."""
    rows: list[tuple[_Node, str, str | None]] = []
    seen: set[str] = set()

    def visit(node: _Node, prefix: str, branch: str, note: str | None) -> None:
        seen.add(node.key)
        rows.append((node, prefix + branch, note))
        children = [c for c in node.children if c.key not in seen]
        inner = prefix + {"├─ ": "│  ", "└─ ": "   "}.get(branch, "")
        for position, child in enumerate(children):
            last = position == len(children) - 1
            visit(child, inner, "└─ " if last else "├─ ", None)

    remaining = list(tops)
    while remaining:
        for node in remaining:
            if node.key not in seen:
                visit(node, "", "", _orphan_note(node, nodes))
        remaining = sorted((n for n in nodes.values() if n.key not in seen), key=_Node.order)[:1]
    return rows


def _orphan_note(node: _Node, nodes: dict[str, _Node]) -> str | None:
    if node.parent_id is None or node.parent_id == node.key:
        return None
    if node.parent_id in nodes:
        return f"(parent {node.parent_id} in a cycle)"
    return f"(parent {node.parent_id} not received)"


# --- one line per node --------------------------------------------------------------------------


def _label(node: _Node) -> str:
    document = node.document
    parts = [_text(document.get("name")) or "(no name)"]
    kind = _text(document.get("origin")) or _text(document.get("namespace"))
    if kind:
        parts.append(f"[{kind}]")
    aws = document.get("aws")
    operation = _text(aws.get("operation")) if isinstance(aws, dict) else None
    if operation:
        parts.append(operation)
    return " ".join(parts)


def _markers(document: dict) -> tuple[list[str], str | None]:
    """Status words (FAULT, ERROR, THROTTLE) with the exception type, and the severity."""
    words, severity = [], None
    if document.get("fault") is True:
        words.append("FAULT")
        severity = "fault"
    if document.get("error") is True:
        words.append("ERROR")
        severity = severity or "error"
    if document.get("throttle") is True:
        words.append("THROTTLE")
        severity = severity or "error"
    cause = document.get("cause")
    exceptions = cause.get("exceptions") if isinstance(cause, dict) else None
    if words and isinstance(exceptions, list) and exceptions and isinstance(exceptions[0], dict):
        exception_type = _text(exceptions[0].get("type"))
        if exception_type:
            words.append(exception_type)
    return words, severity


def _annotations(document: dict) -> list[str]:
    annotations = document.get("annotations")
    if not isinstance(annotations, dict):
        return []
    return [
        f"{key}={value if isinstance(value, str) else json.dumps(value)}"
        for key, value in annotations.items()
    ]


def _row(node: _Node, prefix: str, note: str | None, trace_start: float | None) -> _Row:
    start, end = node.start, node.end
    duration = "-" if start is None or end is None else f"{(end - start) * 1000:.1f} ms"
    offset = ""
    if start is not None and trace_start is not None:
        offset = f"+{(start - trace_start) * 1000:.1f} ms"
    words, severity = _markers(node.document)
    if node.in_progress:
        words.append("IN PROGRESS")
    if note:
        words.append(note)
    notes = " ".join(words + _annotations(node.document))
    span_id = _text(node.document.get("id")) or ""
    return _Row(prefix, _label(node), duration, offset, span_id, notes, severity)


# --- the text -----------------------------------------------------------------------------------


def _paint(text: str, code: str | None, color: bool) -> str:
    return f"{code}{text}{_RESET}" if color and code and text else text


def _format_rows(rows: list[_Row], color: bool) -> list[str]:
    label_width = max(len(r.prefix) + len(r.label) for r in rows)
    duration_width = max(len(r.duration) for r in rows)
    offset_width = max(len(r.offset) for r in rows)
    severity_colour = {"fault": _RED, "error": _YELLOW}
    lines = []
    for row in rows:
        colour = severity_colour.get(row.severity or "")
        columns = [
            row.prefix
            + _paint(row.label, colour, color)
            + " " * (label_width - len(row.prefix) - len(row.label)),
            row.duration.rjust(duration_width),
            row.offset.rjust(offset_width),
            _paint(row.span_id.ljust(16), _DIM, color),
            _paint(row.notes, colour, color),
        ]
        lines.append("  ".join(columns).rstrip())
    return lines


def _render_trace(trace_id: str, nodes: dict[str, _Node], color: bool) -> list[str]:
    walked = _walk(_link(nodes), nodes)
    starts = [s for s in (n.start for n in nodes.values()) if s is not None]
    ends = [e for e in (n.end for n in nodes.values()) if e is not None]
    trace_start = min(starts) if starts else None
    title = f"trace {_paint(trace_id, _DIM, color)}"
    if starts and ends:
        title += f"  {(max(ends) - trace_start) * 1000:.1f} ms"
    title += f"  ({len(nodes)} segments and subsegments)"
    rows = [_row(node, prefix, note, trace_start) for node, prefix, note in walked]
    return [title, *_format_rows(rows, color)]


def render(documents: list[dict], *, color: bool = False) -> str:
    """The documents as one indented tree per trace, traces and siblings ordered by start time
    (then id), with durations, offsets from the trace start, status markers and annotations.
    ``color`` adds ANSI colours: red for faults, yellow for errors and throttles, dim ids."""
    traces = _collect(documents)
    if not traces:
        return "(no trace documents)"

    def first_start(item: tuple[str, dict[str, _Node]]) -> tuple[float, str]:
        return (min(n.order() for n in item[1].values())[0], item[0])

    blocks = [
        "\n".join(_render_trace(trace_id, nodes, color))
        for trace_id, nodes in sorted(traces.items(), key=first_start)
    ]
    return "\n\n".join(blocks)
