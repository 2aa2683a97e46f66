"""Shutdown (lambda-platform.md §2.4): SIGTERM to the runtime, SHUTDOWN, SIGKILL at the deadline."""

from __future__ import annotations

from pathlib import Path

import pytest
from xraylayer_local import sandbox as sandbox_module


def test_spindown_with_a_cooperative_extension(make_harness) -> None:
    harness = make_harness()
    harness.invoke()
    result = harness.shutdown()
    assert result.reason == "spindown"
    (event,) = harness.probe.events("SHUTDOWN")
    assert event["shutdownReason"] == "spindown"
    assert result.extension_exit_codes == {"probe": 0}
    assert "probe" not in result.killed
    assert harness.shutdown_seconds < 1.5


def test_the_runtime_gets_sigterm_when_an_extension_exists(
    make_harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What is checked is the signal and the graceful exit, not Lambda's 300 ms: a loaded
    machine may not schedule the runtime that soon after the thaw, so the grace is widened."""
    monkeypatch.setattr(sandbox_module, "RUNTIME_GRACE_S", 10.0)
    marker = tmp_path / "sigterm.txt"
    # 3.12+: awslambdaric polls `next` on a thread, so the main thread can run signal handlers.
    harness = make_harness("graceful.handler", python="3.12", env={"SIGTERM_OUT": str(marker)})
    assert harness.invoke().response == "ready"
    result = harness.shutdown()
    assert marker.read_text() == "SIGTERM"
    assert result.runtime_exit_code == 0
    assert "runtime" not in result.killed


def test_without_extensions_the_runtime_is_killed_at_once(make_harness, tmp_path: Path) -> None:
    marker = tmp_path / "sigterm.txt"
    harness = make_harness(
        "graceful.handler",
        python="3.12",
        layers=(),
        wrapper=None,
        env={"SIGTERM_OUT": str(marker)},
    )
    assert harness.invoke().response == "ready"
    result = harness.shutdown()
    assert not marker.exists()
    assert result.runtime_exit_code == -9
    assert harness.shutdown_seconds < 1.0


def test_an_extension_ignoring_shutdown_is_killed_at_the_deadline(make_harness) -> None:
    harness = make_harness(env={"PROBE_ON_SHUTDOWN": "ignore"})
    harness.invoke()
    result = harness.shutdown()
    (event,) = harness.probe.events("SHUTDOWN")
    assert event["shutdownReason"] == "spindown"
    assert "probe" in result.killed
    assert result.extension_exit_codes["probe"] == -9
    assert 1.5 <= harness.shutdown_seconds <= 2.5
