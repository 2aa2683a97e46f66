"""A function's response-time distribution drawn in SVG: warm and cold side by side.

Each panel is a histogram of its own population (its own axis, so a 500 ms cold start does
not squash the 10 ms warm invocations into one bar), with the count over each bar and dashed
lines at p50, p90 and p99, each labelled with its value. Cold bars are hatched like the
timeline's init, so the two populations differ in more than colour.
"""

from __future__ import annotations

from . import svg
from .latency import Distribution, Series
from .wording import bound, counted, milliseconds, percentile_text

PANEL_WIDTH = 480
PANEL_HEIGHT = 250
GAP = 30
LEFT, RIGHT, TOP, BOTTOM = 40, 16, 66, 40  # plot margins inside a panel
PLOT_WIDTH = PANEL_WIDTH - LEFT - RIGHT
PLOT_HEIGHT = PANEL_HEIGHT - TOP - BOTTOM
MAX_BOUND_LABELS = 8


def draw(distribution: Distribution) -> str:
    """The function's two panels as one ``<svg>``."""
    init = f" · init {percentile_text(distribution.init)}" if distribution.init else ""
    panels = _panel("warm", distribution.warm, 0, "") + _panel(
        "cold", distribution.cold, PANEL_WIDTH + GAP, init
    )
    return svg.svg(
        2 * PANEL_WIDTH + GAP,
        PANEL_HEIGHT,
        panels,
        class_="histogram",
        data_function=distribution.function,
        role="img",
    )


def x_of(series: Series, value: float) -> float:
    """Where ``value`` (ms) falls on the panel's plot, linear over the bins' range."""
    low, high = series.bins[0].low_ms, series.bins[-1].high_ms
    return LEFT + (value - low) / (high - low) * PLOT_WIDTH


def _panel(name: str, series: Series, left: float, note: str) -> str:
    count = series.count
    heading = f"{name} · {counted(count, 'invocation')}{note}"
    content = svg.text(0, 16, heading, class_="panel-title")
    if not count:
        content += svg.text(LEFT, TOP + PLOT_HEIGHT / 2, f"no {name} invocations", class_="empty")
        return svg.element("g", content, transform=f"translate({left} 0)", data_series=name)
    content += _bars(name, series) + _bounds(series) + _percentile_lines(series)
    content += svg.element(
        "line",
        x1=LEFT,
        y1=TOP + PLOT_HEIGHT,
        x2=LEFT + PLOT_WIDTH,
        y2=TOP + PLOT_HEIGHT,
        stroke=svg.MUTED,
    )
    return svg.element(
        "g", content, transform=f"translate({left} 0)", data_series=name, data_count=count
    )


def _bars(name: str, series: Series) -> str:
    peak = max(b.count for b in series.bins) or 1
    width = PLOT_WIDTH / len(series.bins)
    fill = f"url(#{svg.COLD_PATTERN})" if name == "cold" else svg.WORK
    stroke = svg.COLD if name == "cold" else "none"
    parts = []
    for index, found in enumerate(series.bins):
        if not found.count:
            continue
        height = found.count / peak * (PLOT_HEIGHT - 14)
        x, y = LEFT + index * width, TOP + PLOT_HEIGHT - height
        tip = svg.title(f"{bound(found.low_ms)}-{bound(found.high_ms)} ms: {found.count}")
        bar = svg.element(
            "rect",
            tip,
            x=x + 1,
            y=y,
            width=max(width - 2, 1),
            height=height,
            fill=fill,
            stroke=stroke,
            class_="bin",
        )
        label = svg.text(
            x + width / 2, y - 3, str(found.count), class_="bin-count", text_anchor="middle"
        )
        parts.append(bar + label)
    return "".join(parts)


def _bounds(series: Series) -> str:
    """Bin bounds under the axis, thinned to at most ``MAX_BOUND_LABELS``."""
    edges = [b.low_ms for b in series.bins] + [series.bins[-1].high_ms]
    every = max(1, -(-len(edges) // MAX_BOUND_LABELS))
    y = TOP + PLOT_HEIGHT + 14
    labels = [
        svg.text(x_of(series, edge), y, bound(edge), class_="tick", text_anchor="middle")
        for edge in edges[::every]
    ]
    unit = svg.text(LEFT + PLOT_WIDTH, y + 16, "ms", class_="tick", text_anchor="end")
    return "".join(labels) + unit


def _percentile_lines(series: Series) -> str:
    """Dashed lines at p50, p90, p99, labels stacked above the plot so close ones stay
    readable."""
    found = series.percentiles
    if found is None:
        return ""
    parts = []
    for row, (name, value) in enumerate(
        (("p50", found.p50), ("p90", found.p90), ("p99", found.p99))
    ):
        x = x_of(series, value)
        label_y = 30 + row * 12
        parts.append(
            svg.element(
                "line",
                x1=x,
                y1=label_y + 2,
                x2=x,
                y2=TOP + PLOT_HEIGHT,
                stroke=svg.INK,
                stroke_dasharray="3 3",
                class_="percentile",
            )
        )
        anchor = "end" if x > LEFT + PLOT_WIDTH * 0.7 else "start"
        shift = -3 if anchor == "end" else 3
        parts.append(
            svg.text(
                x + shift,
                label_y,
                f"{name} {milliseconds(value)}",
                class_="percentile-label",
                text_anchor=anchor,
            )
        )
    return "".join(parts)
