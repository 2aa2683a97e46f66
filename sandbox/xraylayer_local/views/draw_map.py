"""The service map drawn in SVG: nodes in columns, edges as arrows with their numbers.

A node is a circle whose ring shows its requests' outcome as X-Ray's map does (green for ok,
red for faults, orange for errors, purple for throttles, each arc its share); under it are its
name, its count and its average latency and failure rates in words. An edge's label gives its
request count, average latency and failure rates. Positions come from the map's columns.
"""

from __future__ import annotations

import math

from . import svg
from .service_map import AWS, CLIENT, FUNCTION, REMOTE, Edge, MapNode, NodeKey, ServiceMap, Stats
from .wording import flag_rates, milliseconds, node_count, rates

COLUMN_WIDTH = 320
ROW_HEIGHT = 170
RADIUS = 30
MARGIN_X = 110
MARGIN_TOP = 50
BOTTOM = 120  # room for the labels under the lowest node
SYMBOLS = {CLIENT: "client", FUNCTION: "λ", AWS: "AWS", REMOTE: "http"}

Point = tuple[float, float]


def positions(graph: ServiceMap) -> dict[NodeKey, Point]:
    """Node centres: one column per rank, each column centred on the tallest one."""
    tallest = max((len(column) for column in graph.columns), default=0)
    found = {}
    for number, column in enumerate(graph.columns):
        top = MARGIN_TOP + (tallest - len(column)) * ROW_HEIGHT / 2
        for row, key in enumerate(column):
            found[key] = (MARGIN_X + number * COLUMN_WIDTH, top + row * ROW_HEIGHT)
    return found


def size(graph: ServiceMap) -> Point:
    """Width and height that hold every node with its labels."""
    tallest = max((len(column) for column in graph.columns), default=1)
    width = 2 * MARGIN_X + max(len(graph.columns) - 1, 0) * COLUMN_WIDTH
    return (width, MARGIN_TOP + (tallest - 1) * ROW_HEIGHT + RADIUS + BOTTOM)


def draw(graph: ServiceMap) -> str:
    """The map as one ``<svg>``; an empty map as a note."""
    if not graph.nodes:
        return svg.svg(400, 40, svg.text(10, 25, "No services: no documents.", class_="empty"))
    places = positions(graph)
    width, height = size(graph)
    peak = max((edge.stats.count for edge in graph.edges), default=1)
    edges = "".join(_edge(edge, places, peak) for edge in graph.edges)
    nodes = "".join(_node(node, places[node.key]) for node in graph.nodes)
    return svg.svg(width, height, edges + nodes, class_="service-map", role="img")


def edge_path(source: Point, target: Point) -> tuple[str, Point]:
    """The edge's curve (circle edge to circle edge) and where its label goes. An edge to the
    same or an earlier column (a call back, or a cycle) loops under the nodes."""
    (sx, sy), (tx, ty) = source, target
    if tx > sx:
        x1, x2 = sx + RADIUS, tx - RADIUS - 2
        bend = (x2 - x1) / 2
        path = _curve((x1, sy), (x1 + bend, sy), (x2 - bend, ty), (x2, ty))
        return path, ((x1 + x2) / 2, (sy + ty) / 2)
    y1, y2, depth = sy + RADIUS, ty + RADIUS + 2, RADIUS + 70
    path = _curve((sx, y1), (sx, y1 + depth), (tx, y2 + depth), (tx, y2))
    return path, ((sx + tx) / 2, max(y1, y2) + depth * 0.75)


def _curve(start: Point, first: Point, second: Point, end: Point) -> str:
    """An SVG cubic Bezier path from ``start`` to ``end`` with two control points."""
    (a, b), (c, d), (e, f), (g, h) = start, first, second, end
    return f"M{a:.1f},{b:.1f} C{c:.1f},{d:.1f} {e:.1f},{f:.1f} {g:.1f},{h:.1f}"


def _edge(edge: Edge, places: dict[NodeKey, Point], peak: int) -> str:
    path, (x, y) = edge_path(places[edge.source], places[edge.target])
    severity = edge.stats.severity
    colour = svg.SEVERITY_COLOURS.get(severity or "", svg.MUTED)
    thickness = 1.5 + 3 * edge.stats.count / max(peak, 1)
    line = svg.element(
        "path",
        d=path,
        fill="none",
        stroke=colour,
        stroke_width=round(thickness, 1),
        marker_end=f"url(#arrow-{severity or 'ok'})",
    )
    words = f"{edge.stats.count} req · avg {milliseconds(edge.stats.average_ms)}"
    labels = svg.text(x, y - 7, words, class_="edge-label", text_anchor="middle")
    labels += _rate_lines(edge.stats, x, y + 9, "edge-rates")
    tip = ", ".join([f"{edge.source.name} → {edge.target.name}: {words}", *rates(edge.stats)])
    return svg.element(
        "g",
        svg.title(tip) + line + labels,
        class_="edge",
        data_source=edge.source.name,
        data_target=edge.target.name,
        data_count=edge.stats.count,
    )


def _node(node: MapNode, centre: Point) -> str:
    """The ring, the kind's symbol inside, and under it the name, the count, the average
    and one line per failure rate."""
    x, y = centre
    key, stats = node.key, node.stats
    count = node_count(key.kind, stats, node.cold)
    average = f"avg {milliseconds(stats.average_ms)}"
    symbol = SYMBOLS.get(key.kind, key.kind)
    content = (
        svg.title(", ".join([f"{key.name} ({key.kind}): {count}", average, *rates(stats)]))
        + svg.element("circle", cx=x, cy=y, r=RADIUS, fill="#ffffff")
        + "".join(ring_arcs(stats, x, y))
        + svg.text(x, y + 5, symbol, class_="node-symbol", text_anchor="middle")
        + svg.text(x, y + RADIUS + 20, key.name, class_="node-name", text_anchor="middle")
        + svg.text(x, y + RADIUS + 36, count, class_="node-count", text_anchor="middle")
        + svg.text(x, y + RADIUS + 51, average, class_="node-stats", text_anchor="middle")
        + _rate_lines(stats, x, y + RADIUS + 66, "node-rates")
    )
    return svg.element(
        "g",
        content,
        class_="node",
        data_kind=key.kind,
        data_name=key.name,
        data_count=stats.count,
        data_severity=stats.severity or "ok",
    )


def _rate_lines(stats: Stats, x: float, y: float, css_class: str) -> str:
    """One centred line per raised flag, from ``y`` down, each classed (and so coloured) by
    its flag."""
    return "".join(
        svg.text(x, y + 14 * line, words, class_=f"{css_class} {flag}", text_anchor="middle")
        for line, (flag, words) in enumerate(flag_rates(stats))
    )


def ring_shares(stats: Stats) -> list[tuple[str, float]]:
    """(colour, share of the ring) for faults, throttles, other errors, then the ok rest.
    A throttle is also an error in X-Ray, so errors count only those not throttled."""
    if not stats.count:
        return [(svg.OK, 1.0)]
    faults = stats.faults / stats.count
    throttles = stats.throttles / stats.count
    errors = max(stats.errors - stats.throttles, 0) / stats.count
    ok = max(0.0, 1.0 - faults - throttles - errors)
    shares = [(svg.FAULT, faults), (svg.THROTTLE, throttles), (svg.ERROR, errors), (svg.OK, ok)]
    return [(colour, share) for colour, share in shares if share > 0]


def ring_arcs(stats: Stats, x: float, y: float) -> list[str]:
    """The ring as dashed circles, one per share, each starting where the last ended."""
    circumference = 2 * math.pi * RADIUS
    arcs, done = [], 0.0
    for colour, share in ring_shares(stats):
        arcs.append(
            svg.element(
                "circle",
                cx=x,
                cy=y,
                r=RADIUS,
                fill="none",
                stroke=colour,
                stroke_width=6,
                stroke_dasharray=f"{share * circumference:.2f} {circumference:.2f}",
                stroke_dashoffset=f"{-done * circumference:.2f}",
                transform=f"rotate(-90 {x:.1f} {y:.1f})",
            )
        )
        done += share
    return arcs
