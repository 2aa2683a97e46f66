"""The three views as one HTML page that opens anywhere: inline CSS and SVG, no script, no
network. Sections: the service map, the timeline (one collapsible waterfall per trace, its
summary naming the functions, duration, cold start and flags), and the response-time
distribution (per function, warm and cold, with a percentile table beside the drawing)."""

from __future__ import annotations

from html import escape

from . import draw_latency, draw_map, draw_timeline, svg
from .latency import Distribution, Series
from .report import Report
from .timeline import Waterfall
from .wording import counted, milliseconds

STYLE = """
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2937;
       margin: 0; background: #f9fafb; }
header { padding: 16px 24px; background: #232f3e; color: #fff; }
header h1 { margin: 0 0 4px; font-size: 20px; }
header p, header nav { margin: 0; color: #d1d5db; }
header a { color: #ffb84d; margin-right: 16px; }
section { margin: 16px 24px; padding: 12px 16px; background: #fff; border: 1px solid #e5e7eb;
          border-radius: 6px; }
h2 { font-size: 17px; margin: 4px 0 12px; }
h3 { font-size: 15px; margin: 12px 0 6px; }
svg { max-width: 100%; height: auto; display: block; }
svg text { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; font-size: 12px;
           fill: #1f2937; }
.definitions { position: absolute; }
.node-name { font-size: 14px; font-weight: 600; }
.node-symbol { font-size: 13px; font-weight: 700; fill: #374151; }
.node-count, .node-stats, .tick, .edge-label, .bin-count, .percentile-label {
  fill: #4b5563; }
.node-rates, .edge-rates { font-weight: 600; }
.edge-label, .edge-rates { paint-order: stroke; stroke: #fff; stroke-width: 4px; }
.stripe { fill: #f3f4f6; }
.span-duration { font-variant-numeric: tabular-nums; }
.panel-title { font-weight: 600; }
details { border-top: 1px solid #e5e7eb; padding: 6px 0; }
summary { cursor: pointer; font-family: ui-monospace, Menlo, Consolas, monospace; }
.flag { font-weight: 700; margin-left: 8px; }
.legend { color: #4b5563; font-size: 13px; margin: 8px 0 0; }
.swatch { display: inline-block; width: 12px; height: 12px; vertical-align: -1px;
          margin: 0 4px 0 12px; border-radius: 2px; }
table { border-collapse: collapse; margin: 4px 0 12px; font-variant-numeric: tabular-nums; }
th, td { padding: 2px 12px 2px 0; text-align: right; }
th:first-child, td:first-child { text-align: left; }
"""

LEGEND_SWATCHES = (
    (svg.OK, "ok"),
    (svg.FAULT, "fault (5xx or exception)"),
    (svg.ERROR, "error (4xx)"),
    (svg.THROTTLE, "throttle (429)"),
    (svg.COLD, "cold start (init)"),
)


def _colour_rules() -> str:
    """CSS for the flag classes (``fault``, ``error``, ``throttle``, cold start): the summary
    words' colour, and the fill of SVG text, which a class must set because the stylesheet's
    ``svg text`` rule outranks a ``fill`` attribute."""
    colours = {**svg.SEVERITY_COLOURS, "init": svg.COLD, "ok": svg.MUTED}
    rules = [f".{name} {{ color: {colour}; }}" for name, colour in colours.items()]
    rules += [f"svg text.{name} {{ fill: {colour}; }}" for name, colour in colours.items()]
    return "\n".join(rules)


def render_page(report: Report, *, title: str = "xraylayer traces") -> str:
    """The whole page, ready to write to a file."""
    body = "".join(
        [
            _header(report, title),
            svg.definitions(),
            _map_section(report),
            _timeline_section(report.waterfalls),
            _latency_section(report.distributions),
        ]
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}{_colour_rules()}</style></head>"
        f"<body>{body}</body></html>\n"
    )


def _header(report: Report, title: str) -> str:
    cold = sum(inv.cold for inv in report.invocations)
    facts = (
        f"{counted(len(report.traces), 'trace')} · "
        f"{counted(len(report.invocations), 'invocation')} ({cold} cold) · "
        f"{counted(len(report.service_map.nodes), 'node')} on the map"
    )
    links = "".join(
        f'<a href="#{anchor}">{name}</a>'
        for anchor, name in (
            ("service-map", "Service map"),
            ("timeline", "Timeline"),
            ("response-time", "Response time"),
        )
    )
    return f"<header><h1>{escape(title)}</h1><p>{escape(facts)}</p><nav>{links}</nav></header>"


def _legend() -> str:
    swatches = "".join(
        f'<span class="swatch" style="background:{colour}"></span>{escape(name)}'
        for colour, name in LEGEND_SWATCHES
    )
    return f'<p class="legend">{swatches}</p>'


def _map_section(report: Report) -> str:
    graph = report.service_map
    note = ""
    if graph.unattributed:
        note = f"<p>{graph.unattributed} calls whose invocation was not received.</p>"
    return (
        '<section id="service-map"><h2>Service map</h2>'
        f"{draw_map.draw(graph)}{_legend()}{note}</section>"
    )


def _timeline_section(waterfalls: list[Waterfall]) -> str:
    if not waterfalls:
        return '<section id="timeline"><h2>Timeline</h2><p>No trace documents.</p></section>'
    traces = "".join(
        f"<details open><summary>{_summary(w)}</summary>{draw_timeline.draw(w)}</details>"
        for w in waterfalls
    )
    return f'<section id="timeline"><h2>Timeline</h2>{traces}{_legend()}</section>'


def _summary(waterfall: Waterfall) -> str:
    parts = [escape(waterfall.trace_id)]
    if waterfall.functions:
        parts.append(escape(", ".join(waterfall.functions)))
    parts.append(escape(milliseconds(waterfall.duration_ms)))
    parts.append(counted(waterfall.node_count, "segment"))
    text = " · ".join(parts)
    if waterfall.cold:
        text += '<span class="flag init">COLD START</span>'
    flags = waterfall.flags
    for word, on in (("fault", flags.fault), ("error", flags.error), ("throttle", flags.throttle)):
        if on:
            text += f'<span class="flag {word}">{word.upper()}</span>'
    return text


def _latency_section(distributions: list[Distribution]) -> str:
    if not distributions:
        return (
            '<section id="response-time"><h2>Response time distribution</h2>'
            "<p>No invocations.</p></section>"
        )
    figures = "".join(
        f"<h3>{escape(d.function)}</h3>{_percentile_table(d)}{draw_latency.draw(d)}"
        for d in distributions
    )
    return (
        '<section id="response-time"><h2>Response time distribution</h2>'
        "<p>Response time: the invocation, plus init for cold starts.</p>"
        f"{figures}</section>"
    )


def _percentile_table(distribution: Distribution) -> str:
    rows = [("warm", distribution.warm), ("cold", distribution.cold)]
    cells = "".join(_percentile_row(name, series) for name, series in rows)
    if distribution.init is not None:
        init = distribution.init
        values = "".join(f"<td>{milliseconds(v)}</td>" for v in (init.p50, init.p90, init.p99))
        cells += f"<tr><td>init (cold)</td><td></td>{values}</tr>"
    head = "<tr><th></th><th>count</th><th>p50</th><th>p90</th><th>p99</th></tr>"
    return f"<table>{head}{cells}</table>"


def _percentile_row(name: str, series: Series) -> str:
    found = series.percentiles
    values = (
        ("-", "-", "-")
        if found is None
        else tuple(milliseconds(v) for v in (found.p50, found.p90, found.p99))
    )
    cells = "".join(f"<td>{v}</td>" for v in values)
    return f"<tr><td>{name}</td><td>{series.count}</td>{cells}</tr>"
