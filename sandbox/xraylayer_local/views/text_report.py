"""The three views as terminal text: what ``xraylayer-local`` prints.

Colour is an extra, never the message: every fault, error, throttle and cold start is also
written out (``FAULT``, ``[25% fault]``, ``COLD START``) or drawn with its own glyph (``▒`` for
init, ``░`` for in progress), so the text reads the same piped into a file.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from .latency import Bin, Distribution, Series
from .report import Report
from .service_map import ServiceMap, Stats
from .timeline import Row, Waterfall, tree_prefix
from .wording import bound, counted, milliseconds, node_count, percentile_text, rates, shorten

RED, YELLOW, MAGENTA, CYAN, DIM, BOLD, RESET = (
    "\033[31m",
    "\033[33m",
    "\033[35m",
    "\033[36m",
    "\033[2m",
    "\033[1m",
    "\033[0m",
)
SEVERITY_COLOURS = {"fault": RED, "throttle": MAGENTA, "error": YELLOW}
WORK, COLD, OPEN = "█", "▒", "░"  # bar glyphs: work, a cold start's init, in progress
NOTES_ROOM = 14  # columns kept for the notes after a timeline bar
MIN_BAR = 10
HISTOGRAM_BAR = 30  # columns of the longest histogram bar


def paint(text: str, code: str | None, color: bool) -> str:
    """``text`` in an ANSI colour when colour is on (and there is a colour and a text)."""
    return f"{code}{text}{RESET}" if color and code and text else text


def render_report(report: Report, *, color: bool = False, width: int = 100) -> str:
    """The service map, the timeline and the response-time distribution, in that order."""
    sections = [
        _heading("SERVICE MAP", _map_summary(report), color),
        *_service_map(report.service_map, color),
        "",
        _heading("TIMELINE", counted(len(report.waterfalls), "trace"), color),
        paint(_legend(), DIM, color),
        *_timelines(report.waterfalls, color, width),
        "",
        _heading("RESPONSE TIME", "invocation, plus init for cold starts", color),
        *_distributions(report.distributions, color),
    ]
    return "\n".join(sections)


def render_trees(waterfalls: Sequence[Waterfall], *, color: bool = False) -> str:
    """Each trace as an indented tree with durations, offsets, ids and notes, no bars."""
    if not waterfalls:
        return "(no trace documents)"
    blocks = [_timeline(w, color, None) for w in waterfalls]
    return "\n\n".join("\n".join(block) for block in blocks)


# --- timeline -----------------------------------------------------------------------------------


def _label_width(width: int | None) -> int | None:
    """Labels are cut to 35 % of the width; never in a plain tree (no width)."""
    return None if width is None else max(16, width * 7 // 20)


def _bar_width(width: int | None, used: int) -> int:
    """Cells for the bars when ``used`` columns are taken by labels and numbers; none in a
    plain tree."""
    return 0 if width is None else max(MIN_BAR, width - used - NOTES_ROOM)


def _legend() -> str:
    return (
        f"  {WORK} work  {COLD} cold start (init)  {OPEN} in progress   "
        "FAULT = 5xx or exception, ERROR = 4xx, THROTTLE = 429"
    )


def _timelines(waterfalls: Sequence[Waterfall], color: bool, width: int) -> list[str]:
    if not waterfalls:
        return ["  (no trace documents)"]
    lines = []
    for waterfall in waterfalls:
        lines.extend(_timeline(waterfall, color, width))
        lines.append("")
    return lines[:-1]


def _timeline(waterfall: Waterfall, color: bool, width: int | None) -> list[str]:
    """A trace's title line and rows: with a ``width``, fitted to it with bars, status words
    and a summary of the trace in the title; without, the plain tree with span ids and
    annotations that ``xraylayer-local invoke`` prints."""
    title = f"trace {paint(waterfall.trace_id, DIM, color)}"
    if waterfall.duration_ms is not None:
        title += f"  {milliseconds(waterfall.duration_ms)}"
    if width is None:
        title += f"  ({waterfall.node_count} segments and subsegments)"
    else:
        title += f"  {counted(waterfall.node_count, 'segment')}{_trace_summary(waterfall, color)}"
    return [title, *_rows(waterfall, color, width)]


def _trace_summary(waterfall: Waterfall, color: bool) -> str:
    parts = list(waterfall.functions)
    if waterfall.cold:
        parts.append(paint("COLD START", CYAN, color))
    words = " ".join(waterfall.flags.words())
    if words:
        parts.append(paint(words, SEVERITY_COLOURS.get(waterfall.flags.severity or ""), color))
    return "  " + "  ".join(parts) if parts else ""


def _rows(waterfall: Waterfall, color: bool, width: int | None) -> list[str]:
    rows = waterfall.rows
    labels = [_cut(r, _label_width(width)) for r in rows]
    label_width = max(
        len(tree_prefix(r.branches)) + len(label) for r, label in zip(rows, labels, strict=True)
    )
    durations = [milliseconds(r.duration_ms) for r in rows]
    offsets = ["" if r.offset_ms is None else f"+{milliseconds(r.offset_ms)}" for r in rows]
    duration_width, offset_width = max(map(len, durations)), max(map(len, offsets))
    bar_width = _bar_width(width, label_width + duration_width + offset_width + 10)
    lines = []
    for row, label, duration, offset in zip(rows, labels, durations, offsets, strict=True):
        colour = _row_colour(row)
        prefix = tree_prefix(row.branches)
        columns = [
            prefix + paint(label, colour, color) + " " * (label_width - len(prefix) - len(label)),
            duration.rjust(duration_width),
            offset.rjust(offset_width),
            *_row_tail(row, waterfall.duration_ms, bar_width, colour, color),
        ]
        lines.append("  ".join(columns).rstrip())
    return lines


def _row_tail(
    row: Row, total_ms: float | None, bar_width: int, colour: str | None, color: bool
) -> list[str]:
    """After the numbers: the bar and the status words, or in a plain tree (no bar) the span
    id and every note."""
    if not bar_width:
        return [paint(row.span_id.ljust(16), DIM, color), paint(row.notes, colour, color)]
    bar = paint(_bar(row, total_ms, bar_width), colour or (CYAN if row.cold else None), color)
    return [f"│{bar}│", paint(row.status, colour, color)]


def _row_colour(row: Row) -> str | None:
    return SEVERITY_COLOURS.get((row.flags | row.folded_flags).severity or "")


def _cut(row: Row, label_width: int | None) -> str:
    """The label, cut with an ellipsis to fit ``label_width`` with its tree prefix."""
    if label_width is None:
        return row.label
    return shorten(row.label, label_width - len(tree_prefix(row.branches)))


def _bar(row: Row, total_ms: float | None, width: int) -> str:
    """``width`` cells with the row's span marked: from its offset, for its duration (to the
    end when in progress), at least one cell."""
    if row.offset_ms is None or not total_ms or total_ms <= 0:
        return " " * width
    start = min(width - 1, max(0, math.floor(row.offset_ms / total_ms * width)))
    if row.duration_ms is None:
        return " " * start + OPEN * (width - start)
    end = math.ceil((row.offset_ms + row.duration_ms) / total_ms * width)
    end = min(width, max(start + 1, end))
    glyph = COLD if row.cold else WORK
    return " " * start + glyph * (end - start) + " " * (width - end)


# --- service map --------------------------------------------------------------------------------


def _map_summary(report: Report) -> str:
    graph = report.service_map
    return (
        f"{counted(len(graph.nodes), 'node')}, {counted(len(graph.edges), 'edge')}, "
        f"{counted(len(report.invocations), 'invocation')} in "
        f"{counted(len(report.traces), 'trace')}"
    )


def _service_map(graph: ServiceMap, color: bool) -> list[str]:
    """The edges (caller ──▶ callee, requests, latency, failure rates), then the nodes, in
    column order: callers before what they call."""
    if not graph.nodes:
        return ["  (no services)"]
    nodes = [node for column in graph.columns for k in column if (node := graph.node(k))]
    rank = {node.key: position for position, node in enumerate(nodes)}
    edges = sorted(graph.edges, key=lambda e: (rank[e.source], rank[e.target]))
    edge_rows = [
        [e.source.name, "──▶", e.target.name, f"{e.stats.count} req", *_stats_cells(e.stats)]
        for e in edges
    ]
    node_rows = [
        [n.key.name, n.key.kind, node_count(n.key.kind, n.stats, n.cold), *_stats_cells(n.stats)]
        for n in nodes
    ]
    lines = _painted(_table(edge_rows, "  ", right={3, 4}), [e.stats for e in edges], color)
    lines.append("  nodes")
    lines.extend(_painted(_table(node_rows, "    ", right={3}), [n.stats for n in nodes], color))
    if graph.unattributed:
        lines.append(f"  ({graph.unattributed} calls whose invocation was not received)")
    return lines


def _painted(lines: list[str], stats: Sequence[Stats], color: bool) -> list[str]:
    return [
        paint(line, SEVERITY_COLOURS.get(s.severity or ""), color)
        for line, s in zip(lines, stats, strict=True)
    ]


def _stats_cells(stats: Stats) -> list[str]:
    """Average latency, then each raised flag's rate in brackets (``[25% fault]``), or ``ok``."""
    return [
        f"avg {milliseconds(stats.average_ms)}",
        " ".join(f"[{r}]" for r in rates(stats)) or "ok",
    ]


def _table(rows: list[list[str]], indent: str, right: set[int]) -> list[str]:
    """Rows as columns two spaces apart, those numbered in ``right`` right-aligned."""
    if not rows:
        return []
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [
            cell.rjust(w) if i in right else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append((indent + "  ".join(cells)).rstrip())
    return lines


# --- response-time distribution ----------------------------------------------------------------


def _distributions(found: Sequence[Distribution], color: bool) -> list[str]:
    if not found:
        return ["  (no invocations)"]
    lines = []
    for distribution in found:
        lines.extend(_distribution(distribution, color))
    return lines


def _distribution(distribution: Distribution, color: bool) -> list[str]:
    warm, cold = distribution.warm, distribution.cold
    title = f"{distribution.function}  {counted(warm.count + cold.count, 'invocation')}: "
    title += f"{warm.count} warm, {cold.count} cold"
    if distribution.untimed:
        title += f", {distribution.untimed} in progress"
    lines = [paint(title, BOLD, color)]
    lines.extend(_series("warm", warm, glyph=WORK, colour=None, color=color))
    cold_note = f"  init {percentile_text(distribution.init)}" if distribution.init else ""
    lines.extend(_series("cold", cold, glyph=COLD, colour=CYAN, color=color, note=cold_note))
    return lines


def _series(
    name: str, found: Series, *, glyph: str, colour: str | None, color: bool, note: str = ""
) -> list[str]:
    if not found.count:
        return [f"  {name}  none"]
    head = f"  {name}  {found.count}  {percentile_text(found.percentiles)}{note}"
    return [paint(head, colour, color), *_histogram(found.bins, glyph, colour, color)]


def _histogram(bins: Sequence[Bin], glyph: str, colour: str | None, color: bool) -> list[str]:
    ranges = [f"{bound(b.low_ms)}-{bound(b.high_ms)} ms" for b in bins]
    range_width = max(map(len, ranges))
    peak = max(b.count for b in bins) or 1
    lines = []
    for found, label in zip(bins, ranges, strict=True):
        length = math.ceil(found.count / peak * HISTOGRAM_BAR) if found.count else 0
        bar = paint(glyph * length, colour, color)
        lines.append(f"    {label.rjust(range_width)} │{bar} {found.count}")
    return lines


def _heading(title: str, detail: str, color: bool) -> str:
    return f"{paint('== ' + title, BOLD, color)}  {detail}"
