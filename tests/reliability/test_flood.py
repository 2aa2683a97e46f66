"""bench/flood.py's span flood: 100,000 spans in one invocation, with and without the layer.

The function's answer is unchanged, both processes' memory stays bounded (the function keeps
at most 2,048 spans waiting, the extension holds at most 10,000 in this 1 GB function and
counts the rest as dropped), and every span is accounted for. Times are printed by the script,
never asserted.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from bench_script import bench_result
from xraylayer_extension.invocations import INTAKE_FULL, MAX_HELD_SPANS

SPANS = 100_000
# Upper bounds of the growth a flood may cause, far below what 100,000 held spans would take
# (the extension holds ~2 KiB per span: ~200 MiB), and above what the bounded queues need.
FUNCTION_GROWTH_MIB = 16
EXTENSION_PEAK_MIB = 64


@pytest.fixture(scope="module")
def flood(built_layer: Path) -> dict:
    summary, _ = bench_result("flood.py", "--spans", str(SPANS))
    return summary


def test_the_function_answers_as_without_the_layer(flood: dict) -> None:
    assert flood["with_layer"]["outcomes"] == flood["without_layer"]["outcomes"]
    assert flood["with_layer"]["outcomes"] == ["success"] * 3
    assert flood["with_layer"]["extension_exit_codes"] == {"xraylayer": 0}


def test_memory_stays_bounded(flood: dict) -> None:
    layered = flood["with_layer"]
    before, after = layered["peak_rss_mib_before"], layered["peak_rss_mib_after"]
    assert after["function"] - before["function"] < FUNCTION_GROWTH_MIB, layered
    assert after["extension"] < EXTENSION_PEAK_MIB, layered


def test_every_span_is_exported_or_counted_as_dropped(flood: dict) -> None:
    layered = flood["with_layer"]
    assert layered["made"] > SPANS
    assert layered["unaccounted"] == 0, layered
    assert layered["exporter_unaccounted"] == 0, layered
    assert layered["file_lines"] == layered["file_exported"]
    # The extension held what it could and said why it did not hold the rest.
    assert layered["file_exported"] >= MAX_HELD_SPANS
    assert layered["lost"][INTAKE_FULL] == layered["received"] - layered["file_exported"]
