"""The X-Ray console's three views, computed from segment documents on this machine.

``load`` reads saved documents, ``terminal`` prints the service map, the timeline and the
response-time distribution as text, ``html`` draws them as one self-contained page. Everything
in between is pure functions of the documents (``model`` joins them into traces,
``invocations`` finds each invocation once, then ``service_map``, ``timeline`` and ``latency``),
so the renderings only lay out what was computed.
"""

from __future__ import annotations

from typing import Any

from .documents import load
from .html_report import render_page
from .report import build_report
from .text_report import render_report

TERMINAL_MAX_DEPTH = 6  # deeper rows (a cold start's import profile) fold into their ancestor
HTML_MAX_DEPTH = 8


def terminal(documents: list[dict[str, Any]], *, color: bool = False, width: int = 100) -> str:
    """The three views as text, ANSI-coloured when ``color``, laid out for ``width`` columns."""
    report = build_report(documents, max_depth=TERMINAL_MAX_DEPTH)
    return render_report(report, color=color, width=width)


def html(documents: list[dict[str, Any]], *, title: str = "xraylayer traces") -> str:
    """The three views as one HTML page with inline CSS and SVG: it needs no network."""
    return render_page(build_report(documents, max_depth=HTML_MAX_DEPTH), title=title)


__all__ = ["html", "load", "terminal"]
