"""SVG as strings: the few elements the page draws, escaped, and the colours they share.

The page must open with no network, so no drawing library or font is fetched: the views are
plain SVG elements written inline. Colours follow the X-Ray console (red for faults, orange
for errors, purple for throttles), and each is always paired with a word in the drawing.
"""

from __future__ import annotations

from html import escape

FAULT, ERROR, THROTTLE, OK = "#d13212", "#e07b00", "#8a3ffc", "#2e8540"
COLD, WORK, OPEN, MUTED, INK, GRID = (
    "#0f8fb3",
    "#5b8def",
    "#b0b7c3",
    "#6b7280",
    "#1f2937",
    "#e5e7eb",
)
SEVERITY_COLOURS = {"fault": FAULT, "error": ERROR, "throttle": THROTTLE}
COLD_PATTERN = "cold-hatch"  # id of the hatching that marks a cold start's init


def attributes(values: dict[str, object]) -> str:
    """``key="value"`` pairs, escaped; None values left out; ``_`` in keys written ``-``."""
    return "".join(
        f' {key.rstrip("_").replace("_", "-")}="{escape(_format(value))}"'
        for key, value in values.items()
        if value is not None
    )


def element(tag: str, content: str = "", **values: object) -> str:
    """``<tag ...>content</tag>``; ``content`` is markup already (escape text with ``text``)."""
    return f"<{tag}{attributes(values)}>{content}</{tag}>"


def text(x: float, y: float, content: str, **values: object) -> str:
    """A ``<text>`` holding ``content`` as text (escaped)."""
    return element("text", escape(content), x=x, y=y, **values)


def title(content: str) -> str:
    """A tooltip for the element that holds it."""
    return element("title", escape(content))


def svg(width: float, height: float, content: str, **values: object) -> str:
    """An SVG drawing that scales to the page width, keeping its proportions."""
    return element(
        "svg",
        content,
        xmlns="http://www.w3.org/2000/svg",
        viewBox=f"0 0 {_format(width)} {_format(height)}",
        width=width,
        **values,
    )


def definitions() -> str:
    """What the drawings refer to by id, once per page: an arrow head per edge colour
    (``arrow-ok``, ``arrow-fault``, ...) and the hatching of a cold start's init."""
    arrows = "".join(
        element(
            "marker",
            f'<path d="M0,0 L10,5 L0,10 z" fill="{colour}"/>',
            id=f"arrow-{name}",
            viewBox="0 0 10 10",
            refX=9,
            refY=5,
            markerUnits="userSpaceOnUse",
            markerWidth=12,
            markerHeight=12,
            orient="auto",
        )
        for name, colour in (("ok", MUTED), *SEVERITY_COLOURS.items())
    )
    hatch = element(
        "pattern",
        f'<rect width="6" height="6" fill="{COLD}" opacity="0.35"/>'
        f'<path d="M0,6 L6,0" stroke="{COLD}" stroke-width="2"/>',
        id=COLD_PATTERN,
        width=6,
        height=6,
        patternUnits="userSpaceOnUse",
    )
    return svg(0, 0, element("defs", arrows + hatch), class_="definitions", aria_hidden="true")


def _format(value: object) -> str:
    """Numbers without float noise (``12.5``, not ``12.500000001``)."""
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return str(value)
