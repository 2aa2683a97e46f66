"""The main loop's parts outside the sandbox: what ``run`` loads before registering, how an
invocation is exported from a real intake to a real daemon socket, and the counts line."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from xraylayer import semconv as sc
from xraylayer.handoff import Handoff
from xraylayer.spans import Span
from xraylayer_extension.causes import (
    CRASH_CAUSE,
    SHUTDOWN_CAUSE,
    TIMEOUT_CAUSE,
    failure_cause,
    shutdown_cause,
)
from xraylayer_extension.export_result import ExportResult
from xraylayer_extension.invocations import close_unfinished
from xraylayer_extension.main_loop import ExtensionLoop
from xraylayer_extension.runtime_process import process_alive
from xraylayer_extension.telemetry_events import RuntimeDone
from xraylayer_local.xray_daemon import XRayDaemon

REPO = Path(__file__).resolve().parents[2]
TRACE = "5759e988bd862e3fe1be46a994272793"


@pytest.fixture
def daemon() -> Iterator[XRayDaemon]:
    with XRayDaemon() as running:
        yield running


@pytest.fixture
def loop() -> Iterator[ExtensionLoop]:
    folder = tempfile.mkdtemp(prefix="xl-", dir="/tmp")
    extension = ExtensionLoop("127.0.0.1:9", "id", os.path.join(folder, "intake.sock"))
    yield extension
    if extension.intake is not None:
        extension.intake.close()
    shutil.rmtree(folder, ignore_errors=True)


def _daemon(loop: ExtensionLoop) -> ExportResult:
    """What the X-Ray daemon exporter did with the spans it was given."""
    return loop.exporters.accounting.exporters["xray-daemon"]


def _start(handoff: Handoff, request_id: str) -> Span:
    invocation = Span("orders", TRACE, "53995c3f42cd8ad8")
    invocation.attributes[sc.FAAS_INVOCATION_ID] = request_id
    handoff.invocation_started(invocation)
    child = Span("S3", TRACE, invocation.span_id)
    child.end()
    handoff.emit(child)
    return invocation


def modules_loaded_by(*modules: str) -> set[str]:
    """The modules a fresh ``python -I -S`` has loaded after importing ``modules``, beyond its
    own start (the repository's extension and layer packages on its path)."""
    code = (
        "import sys; before = set(sys.modules); sys.path[:0] = sys.argv[1:3]; "
        f"import {', '.join(modules)}; "
        "print(' '.join(sorted(set(sys.modules) - before)))"
    )
    return set(
        subprocess.run(
            [sys.executable, "-I", "-S", "-c", code, str(REPO / "extension"), str(REPO / "layer")],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
    )


def test_run_loads_nothing_but_registration_before_it_registers() -> None:
    loaded = modules_loaded_by("xraylayer_extension.main_loop")
    assert not [m for m in loaded if m.split(".")[0] in ("http", "json", "threading", "xraylayer")]
    assert "xraylayer_extension.registration" in loaded


def test_what_binds_the_intake_before_next_loads_no_message_format() -> None:
    """json, re and the wire format load with the first datagram, once the runtime is
    starting, not on the extension's way to its first `next`."""
    loaded = modules_loaded_by(
        "xraylayer_extension.intake",
        "xraylayer_extension.platform_reports",
        "xraylayer_extension.telemetry_listener",
        "xraylayer_extension.flush_decision",
    )
    assert not {"json", "re", "xraylayer.wire", "typing", "dataclasses"} & loaded


def test_an_invocation_that_ended_is_exported_with_all_its_spans(
    loop: ExtensionLoop, daemon: XRayDaemon
) -> None:
    assert loop.intake is not None
    handoff = Handoff(intake=loop.intake.path, environ={"AWS_XRAY_DAEMON_ADDRESS": daemon.address})
    invocation = _start(handoff, "rid-1")
    invocation.end()
    handoff.invocation_finished(invocation)
    loop.invocation("rid-1", time.time() + 5)
    daemon.sync()
    names = [d["name"] for d in daemon.documents]
    assert names == ["S3", "orders"]
    assert "fault" not in daemon.documents[1]
    assert _daemon(loop).exported == 2 and loop.outcomes == {"ended": 1}


def test_an_invocation_past_its_deadline_is_closed_as_a_timeout(
    loop: ExtensionLoop, daemon: XRayDaemon
) -> None:
    assert loop.intake is not None
    handoff = Handoff(intake=loop.intake.path, environ={"AWS_XRAY_DAEMON_ADDRESS": daemon.address})
    _start(handoff, "rid-1")
    deadline = time.time() + 0.3
    loop.invocation("rid-1", deadline)
    assert [span.name for span in loop.pending] == ["S3", "orders"]  # no time left: SHUTDOWN
    loop.shutdown("timeout")
    summary = loop.summary()
    loop.intake = None  # closed by shutdown
    daemon.sync()
    child, invocation = daemon.documents
    assert child["parent_id"] == invocation["id"]
    assert invocation["fault"] is True
    assert invocation["end_time"] == pytest.approx(deadline, abs=0.01)
    (exception,) = invocation["cause"]["exceptions"]
    assert (exception["type"], exception["message"]) == TIMEOUT_CAUSE
    assert summary.startswith(
        "extension received 1 spans (function exported 0 itself, lost before export 0 (none), "
        "malformed datagrams 0); xray-daemon exported 2, dropped 0 (none); exporters xray-daemon;"
    )
    assert "; invocations deadline: 1; " in summary


def test_shutdown_exports_what_is_left_and_removes_the_socket(
    loop: ExtensionLoop, daemon: XRayDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    assert loop.intake is not None
    path = loop.intake.path
    handoff = Handoff(intake=path, environ={"AWS_XRAY_DAEMON_ADDRESS": daemon.address})
    _start(handoff, "rid-1")
    time.sleep(0.1)
    loop.shutdown("TIMEOUT")
    loop.intake = None  # closed by shutdown
    daemon.sync()
    assert [d["name"] for d in daemon.documents] == ["S3", "orders"]
    assert daemon.documents[1]["cause"]["exceptions"][0]["message"] == "Task timed out"
    assert "; xray-daemon exported 2, dropped 0 (none); " in capsys.readouterr().err
    assert not os.path.exists(path)


def test_spans_without_a_daemon_address_are_counted_as_dropped(loop: ExtensionLoop) -> None:
    span = Span("orders", TRACE)
    span.end()
    unsampled = Span("quiet", "0af7651916cd43dd8448eb211c80319c", sampled=False)
    unsampled.end()
    env = os.environ.pop("AWS_XRAY_DAEMON_ADDRESS", None)
    try:
        loop.exporters.export([span, unsampled], time.monotonic() + 1)
    finally:
        if env is not None:
            os.environ["AWS_XRAY_DAEMON_ADDRESS"] = env
    assert _daemon(loop).dropped == {"no_daemon_address": 1, "not_sampled": 1}
    assert "dropped 2 (no_daemon_address: 1, not_sampled: 1)" in loop.summary()


@pytest.mark.parametrize(
    ("reason", "cause"),
    [
        ("timeout", TIMEOUT_CAUSE),
        ("TIMEOUT", TIMEOUT_CAUSE),
        ("failure", CRASH_CAUSE),
        ("spindown", SHUTDOWN_CAUSE),
    ],
)
def test_shutdown_reasons_are_read_in_any_case(reason: str, cause: tuple[str, str]) -> None:
    assert shutdown_cause(reason) == cause


@pytest.mark.parametrize(
    ("status", "error_type", "cause"),
    [
        ("success", None, None),
        ("timeout", "Sandbox.Timedout", TIMEOUT_CAUSE),
        ("error", "Runtime.OutOfMemory", ("Runtime.OutOfMemory", "Runtime exited: out of memory")),
        ("failure", "Runtime.ExitError", ("Runtime.ExitError", CRASH_CAUSE[1])),
        ("error", None, CRASH_CAUSE),
    ],
)
def test_lambdas_runtime_done_names_the_cause(
    status: str, error_type: str | None, cause: tuple[str, str] | None
) -> None:
    assert failure_cause(RuntimeDone("rid-1", status, error_type, 10.0)) == cause


def test_an_unfinished_span_is_closed_as_a_fault_with_the_cause() -> None:
    span = Span("orders", TRACE, start_time=100.0)
    close_unfinished(span, 101.0, "Task timed out", "Sandbox.Timedout")
    assert (span.end_time, span.fault, span.status_message) == (101.0, True, "Task timed out")
    assert span.exceptions[0]["type"] == "Sandbox.Timedout"


def test_a_process_is_alive_until_it_exits() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert process_alive(child.pid)
    finally:
        child.kill()
        deadline = time.time() + 5
        while process_alive(child.pid) and time.time() < deadline:
            time.sleep(0.01)  # a zombie until reaped: already not alive
        assert not process_alive(child.pid)
        child.wait()


@pytest.mark.parametrize(("policy", "deferred"), [("end", 0), ("adaptive", 3)])
def test_the_flush_policy_decides_when_spans_leave(
    policy: str, deferred: int, daemon: XRayDaemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XRAYLAYER_FLUSH", policy)
    folder = tempfile.mkdtemp(prefix="xl-", dir="/tmp")
    loop = ExtensionLoop("127.0.0.1:9", "id", os.path.join(folder, "intake.sock"))
    assert loop.intake is not None
    handoff = Handoff(intake=loop.intake.path, environ={"AWS_XRAY_DAEMON_ADDRESS": daemon.address})
    try:
        # adaptive: the 20th start fills the learning window; from then on, exports wait.
        for index in range(22):
            invocation = _start(handoff, f"rid-{index}")
            invocation.end()
            handoff.invocation_finished(invocation)
            loop.invocation(f"rid-{index}", time.time() + 5)
        daemon.sync()
        assert len(loop.pending) == 2 * deferred  # two spans per invocation
        assert len(daemon.documents) == 44 - 2 * deferred
        loop.shutdown("spindown")
        daemon.sync()
        assert len(daemon.documents) == 44 and _daemon(loop).exported == 44
    finally:
        shutil.rmtree(folder, ignore_errors=True)
