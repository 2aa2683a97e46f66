"""The terminal rendering: three sections, legible without colour, colour only when asked."""

from __future__ import annotations

import re

import pytest
from views_fixtures import TRACE_A, TRACE_B, orders_demo
from xraylayer_local.views import terminal

ANSI = re.compile(r"\033\[[0-9;]*m")


@pytest.fixture(scope="module")
def plain() -> str:
    return terminal(orders_demo())


def _section(text: str, heading: str) -> str:
    parts = re.split(r"^== ", text, flags=re.MULTILINE)
    [found] = [p for p in parts if p.startswith(heading)]
    return found


def test_three_views_in_order(plain):
    headings = re.findall(r"^== (\w[\w ]*?)  ", plain, flags=re.MULTILINE)
    assert headings == ["SERVICE MAP", "TIMELINE", "RESPONSE TIME"]


def test_the_service_map_lists_edges_with_counts_rates_and_latency(plain):
    section = _section(plain, "SERVICE MAP")
    assert re.search(r"Client\s+──▶\s+orders\s+3 req\s+avg 163\.3 ms\s+\[33% fault\]", section)
    assert re.search(
        r"orders\s+──▶\s+payments\.local\s+3 req\s+avg 10\.0 ms\s+\[33% fault\]", section
    )
    assert re.search(r"SNS\s+──▶\s+receipts\s+1 req\s+avg 220\.0 ms\s+ok", section)
    assert re.search(r"orders\s+function\s+3 invocations, 1 cold", section)


def test_the_timeline_marks_faults_throttles_and_the_cold_start_in_words(plain):
    section = _section(plain, "TIMELINE")
    title_a = next(line for line in section.splitlines() if TRACE_A in line)
    assert title_a.endswith("orders  COLD START")
    title_b = next(line for line in section.splitlines() if TRACE_B in line)
    assert title_b.endswith("FAULT")
    assert re.search(r"Initialization .*▒+.*COLD START", section)
    assert re.search(r"payments\.local \[remote\].*█.*FAULT$", section, flags=re.MULTILINE)
    assert re.search(r"DynamoDB \[aws\] PutItem.*ERROR THROTTLE$", section, flags=re.MULTILINE)


def test_the_distribution_separates_cold_from_warm(plain):
    section = _section(plain, "RESPONSE TIME")
    assert "orders  3 invocations: 2 warm, 1 cold" in section
    assert re.search(
        r"cold  1  p50 430\.0 ms  p90 430\.0 ms  p99 430\.0 ms  init p50 400\.0 ms", section
    )
    assert "receipts  1 invocation: 0 warm, 1 cold" in section
    assert "▒" in section


def test_no_colour_unless_asked_and_colour_changes_nothing_else(plain):
    assert "\033[" not in plain
    coloured = terminal(orders_demo(), color=True)
    assert "\033[31m" in coloured  # faults red
    assert "\033[35m" in coloured  # throttles magenta
    assert ANSI.sub("", coloured) == plain


def test_timeline_rows_fit_the_width_before_their_notes():
    for width in (80, 100, 140):
        text = terminal(orders_demo(), width=width)
        rows = [line for line in text.splitlines() if "│" in line and "ms" in line]
        assert rows
        assert all(line.rindex("│") < width for line in rows)


def test_nothing_to_show():
    text = terminal([])
    assert "(no services)" in text and "(no trace documents)" in text
    assert "(no invocations)" in text


def test_wording_shared_by_the_text_and_the_page():
    from xraylayer_local.views.model import Flags
    from xraylayer_local.views.service_map import Sample, Stats
    from xraylayer_local.views.wording import counted, milliseconds, rates, shorten

    assert (counted(1, "trace"), counted(2, "trace"), counted(0, "trace")) == (
        "1 trace",
        "2 traces",
        "0 traces",
    )
    assert (milliseconds(None), milliseconds(1.25)) == ("-", "1.2 ms")
    assert shorten("awslambdaric.lambda_runtime_client", 10) == "awslambda…"
    assert shorten("short", 10) == "short"
    stats = Stats.of([Sample(1.0, Flags(error=True, throttle=True)), Sample(1.0, Flags())])
    assert rates(stats) == ["50% error", "50% throttle"]
