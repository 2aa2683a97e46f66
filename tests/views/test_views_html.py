"""The HTML page: self-contained, and its SVG text names the nodes, counts and flags."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from views_fixtures import T0, TRACE_A, orders_demo, subsegment
from xraylayer_local.views import html


class _SvgText(HTMLParser):
    """The text of every SVG ``<text>`` element, by its class."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[tuple[str, str]] = []
        self._class: str | None = None
        self.tags: set[str] = set()
        self.references: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        values = dict(attrs)
        self.references += [v or "" for k, v in attrs if k in ("src", "href")]
        if tag == "text":
            self._class = values.get("class") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "text":
            self._class = None

    def handle_data(self, data: str) -> None:
        if self._class is not None:
            self.texts.append((self._class, data))


@pytest.fixture(scope="module")
def page() -> str:
    return html(orders_demo(), title="orders demo")


@pytest.fixture(scope="module")
def parsed(page: str) -> _SvgText:
    parser = _SvgText()
    parser.feed(page)
    return parser


def _texts(parsed: _SvgText, css_class: str) -> list[str]:
    return [text for cls, text in parsed.texts if css_class in cls.split()]


def test_the_page_needs_no_network(page: str, parsed: _SvgText):
    assert not {"script", "link", "img", "iframe"} & parsed.tags
    assert all(ref.startswith("#") for ref in parsed.references)
    assert not re.search(r"url\((?!#)", page)
    assert set(re.findall(r"https?://[^\s\"']+", page)) == {"http://www.w3.org/2000/svg"}


def test_three_views_drawn_as_svg(page: str):
    for section in ("service-map", "timeline", "response-time"):
        assert f'<section id="{section}">' in page
    assert page.count('class="service-map"') == 1
    assert page.count('class="waterfall"') == 4
    assert page.count('class="histogram"') == 2


def test_the_map_names_every_node_with_its_count(parsed: _SvgText):
    assert sorted(_texts(parsed, "node-name")) == sorted(
        ["Client", "orders", "receipts", "DynamoDB", "SNS", "S3", "payments.local"]
    )
    counts = _texts(parsed, "node-count")
    assert "3 invocations, 1 cold" in counts and "1 invocation, 1 cold" in counts
    assert "3 requests sent" in counts


def test_edges_carry_counts_latency_and_rates(parsed: _SvgText, page: str):
    labels = _texts(parsed, "edge-label")
    assert "3 req · avg 163.3 ms" in labels and "1 req · avg 220.0 ms" in labels
    assert "33% fault" in _texts(parsed, "edge-rates")
    assert 'data-source="SNS" data-target="receipts" data-count="1"' in page


def test_the_waterfalls_mark_failures_and_the_cold_start(parsed: _SvgText, page: str):
    statuses = _texts(parsed, "span-status")
    assert "COLD START" in statuses and "FAULT" in statuses and "ERROR THROTTLE" in statuses
    assert 'class="bar init"' in page
    assert f'data-trace="{TRACE_A}"' in page
    assert "COLD START</span>" in page and "FAULT</span>" in page


def test_the_distribution_shows_percentiles_for_warm_and_cold(parsed: _SvgText, page: str):
    labels = _texts(parsed, "percentile-label")
    assert "p50 430.0 ms" in labels and "p99 220.0 ms" in labels
    titles = _texts(parsed, "panel-title")
    assert "warm · 2 invocations" in titles
    assert any(t.startswith("cold · 1 invocation · init p50 400.0 ms") for t in titles)
    assert "no warm invocations" in _texts(parsed, "empty")


def test_names_are_escaped():
    nasty = subsegment("x", None, "<script>alert(1)</script>", T0, T0 + 1, trace_id=TRACE_A)
    page = html([nasty], title="a & <b>")
    assert "<script>" not in page
    assert "&lt;script&gt;" in page and "<title>a &amp; &lt;b&gt;</title>" in page


def test_an_empty_page():
    page = html([])
    assert "No services" in page and "No trace documents." in page and "No invocations." in page
