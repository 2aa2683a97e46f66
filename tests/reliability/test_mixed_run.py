"""bench/reliability.py's quick mixed run (200 invocations with every fault, all five exporters
at once) keeps its books: every span made is exported, dropped with a reason or lost with a
killed process, nothing is unaccounted, every exporter's backend received what it says it
exported, and every failed invocation arrives as a faulted invocation span. No timing is
asserted (shared machines are noisy)."""

from __future__ import annotations

from pathlib import Path

import pytest
from bench_script import bench_result

EXPORTERS = ("file", "xray-daemon", "otlp-udp", "xray-api", "otlp")


@pytest.fixture(scope="module")
def quick_run(built_layer: Path) -> tuple[dict, str]:
    return bench_result("reliability.py", "--quick")


def test_the_books_balance(quick_run: tuple[dict, str]) -> None:
    summary, output = quick_run
    assert "unaccounted                     0" in output
    assert summary["unaccounted"] == 0, summary["unaccounted_environments"]
    assert summary["problems"] == []
    assert tuple(summary["exporters"]) == EXPORTERS
    for name, exporter in summary["exporters"].items():
        assert exporter["unaccounted"] == 0, name
        assert exporter["received"] == exporter["exported"], name  # what its backend got
    file = summary["exporters"]["file"]
    for name in ("file", "otlp-udp", "xray-api"):  # these backends were there all along
        assert summary["exporters"][name]["dropped"] == {}, name
        assert summary["exporters"][name]["exported"] == file["exported"], name
    # The daemon follows Lambda's sampling: the callers that said Sampled=0 are not its.
    assert summary["unsampled_invocations"] > 0
    daemon = summary["exporters"]["xray-daemon"]
    assert set(daemon["dropped"]) == {"not_sampled"}
    assert daemon["exported"] + daemon["dropped"]["not_sampled"] == file["exported"]
    # The collector was down for a while: those spans are counted as dropped, not lost.
    otlp = summary["exporters"]["otlp"]
    assert otlp["dropped"].get("connection_error", 0) > 0
    assert summary["lost_with_runtime"] >= 0 and summary["lost_with_extension"] >= 0
    counted = (
        file["exported"]
        + sum(summary["lost_before_export"].values())
        + summary["lost_with_runtime"]
        + summary["lost_with_extension"]
        + summary["direct_to_daemon_without_extension"]
        + summary["function_exported"]
    )
    assert summary["made"] == counted


def test_every_failed_invocation_arrived_faulted(quick_run: tuple[dict, str]) -> None:
    summary, _ = quick_run
    assert summary["unexpected_outcomes"] == []
    for action in ("raise", "sleep", "exit", "oom"):
        assert summary["actions"][action] >= 1
    assert summary["failed_missing"] == 0
    assert (
        summary["failed_arrived_faulted"] + summary["failed_lost_with_extension"]
        == summary["failed_invocations"]
    )


def test_the_extension_kill_and_the_shutdowns_after_bursts_happened(
    quick_run: tuple[dict, str],
) -> None:
    summary, _ = quick_run
    (after_kill,) = summary["after_extension_kill"]
    assert after_kill["error_type"] == "Extension.Crash"
    assert len(summary["extension_killed"]) == 1
    assert [s["extension_exit_codes"] for s in summary["shutdowns"]] == [{"xraylayer": 0}] * 2
    assert all(s["killed"] == [] for s in summary["shutdowns"])
