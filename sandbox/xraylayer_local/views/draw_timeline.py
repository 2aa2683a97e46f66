"""A trace's waterfall drawn in SVG: one row per segment, its bar placed on a time axis.

Columns: the name (indented by depth), the duration, the bar on an axis from the trace's start
in round milliseconds, and the status words. A faulted, errored or throttled bar takes the
X-Ray colour and its row names the flag; a cold start's init is hatched and says COLD START; a
bar still in progress is an outline running to the end of the axis. Hovering a row shows its
full label, offset, duration, id and annotations.
"""

from __future__ import annotations

from . import svg
from .scale import ticks
from .timeline import Row, Waterfall
from .wording import bound, milliseconds, shorten

LABEL_WIDTH = 400
DURATION_WIDTH = 80
BAR_WIDTH = 600
NOTES_WIDTH = 360
ROW_HEIGHT = 20
AXIS_HEIGHT = 26
INDENT = 14
CHAR_WIDTH = 6.6  # average width of a 12 px sans-serif character, to cut long labels
BAR_LEFT = LABEL_WIDTH + DURATION_WIDTH
WIDTH = BAR_LEFT + BAR_WIDTH + NOTES_WIDTH


def bar_span(row: Row, total_ms: float | None) -> tuple[float, float] | None:
    """The bar's x and width in the bar column, at least 1.5 px; to the axis end while in
    progress; None without a start or a trace duration."""
    if row.offset_ms is None or not total_ms or total_ms <= 0:
        return None
    x = BAR_LEFT + max(0.0, row.offset_ms) / total_ms * BAR_WIDTH
    if row.duration_ms is None:
        return x, max(1.5, BAR_LEFT + BAR_WIDTH - x)
    return x, max(1.5, row.duration_ms / total_ms * BAR_WIDTH)


def draw(waterfall: Waterfall) -> str:
    """The waterfall as one ``<svg>``."""
    height = AXIS_HEIGHT + len(waterfall.rows) * ROW_HEIGHT + 6
    content = _axis(waterfall.duration_ms, height) + "".join(
        _row(row, index, waterfall.duration_ms) for index, row in enumerate(waterfall.rows)
    )
    return svg.svg(
        WIDTH, height, content, class_="waterfall", data_trace=waterfall.trace_id, role="img"
    )


def _axis(total_ms: float | None, height: float) -> str:
    """Round ticks from 0 to the trace's duration, with grid lines through the rows."""
    if not total_ms or total_ms <= 0:
        return ""
    parts = []
    for tick in ticks(total_ms):
        if tick > total_ms * 1.0001:
            break
        x = BAR_LEFT + tick / total_ms * BAR_WIDTH
        parts.append(
            svg.element("line", x1=x, y1=AXIS_HEIGHT - 6, x2=x, y2=height, stroke=svg.GRID)
        )
        parts.append(svg.text(x, 14, f"{bound(tick)} ms", class_="tick", text_anchor="middle"))
    return "".join(parts)


def _row(row: Row, index: int, total_ms: float | None) -> str:
    y = AXIS_HEIGHT + index * ROW_HEIGHT
    severity = (row.flags | row.folded_flags).severity
    content = svg.title(_tooltip(row))
    if index % 2:
        content += svg.element("rect", x=0, y=y, width=WIDTH, height=ROW_HEIGHT, class_="stripe")
    indent = 6 + row.depth * INDENT
    content += svg.text(indent, y + 14, _cut(row.label, indent), class_="span-label")
    content += svg.text(
        BAR_LEFT - 8,
        y + 14,
        milliseconds(row.duration_ms),
        class_="span-duration",
        text_anchor="end",
    )
    content += _bar(row, y, total_ms)
    if row.status:
        content += svg.text(
            BAR_LEFT + BAR_WIDTH + 8,
            y + 14,
            row.status,
            class_=f"span-status {severity or ('init' if row.cold else 'ok')}",
        )
    return svg.element(
        "g", content, class_="span", data_severity=severity or "ok", data_cold=str(row.cold).lower()
    )


def _bar(row: Row, y: float, total_ms: float | None) -> str:
    span = bar_span(row, total_ms)
    if span is None:
        return ""
    x, width = span
    box = {"x": x, "y": y + 4, "width": width, "height": ROW_HEIGHT - 8, "rx": 2}
    severity = row.flags.severity
    if row.duration_ms is None:
        return svg.element(
            "rect", **box, fill="none", stroke=svg.OPEN, stroke_dasharray="4 3", class_="bar"
        )
    if row.cold:
        return svg.element(
            "rect", **box, fill=f"url(#{svg.COLD_PATTERN})", stroke=svg.COLD, class_="bar init"
        )
    colour = svg.SEVERITY_COLOURS.get(severity or "", svg.WORK)
    return svg.element("rect", **box, fill=colour, class_="bar")


def _cut(label: str, indent: float) -> str:
    return shorten(label, int((LABEL_WIDTH - indent - 10) / CHAR_WIDTH))


def _tooltip(row: Row) -> str:
    offset = "-" if row.offset_ms is None else f"+{milliseconds(row.offset_ms)}"
    parts = [row.label, f"start {offset}", f"duration {milliseconds(row.duration_ms)}"]
    if row.span_id:
        parts.append(f"id {row.span_id}")
    if row.notes:
        parts.append(row.notes)
    return "\n".join(parts)
