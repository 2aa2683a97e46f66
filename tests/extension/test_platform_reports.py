"""What the extension keeps of the Telemetry API's records, and the Init span of a failed init."""

from __future__ import annotations

import threading

from xraylayer_extension.init_span import FAILED_MESSAGE, failed_init_span
from xraylayer_extension.platform_reports import REMEMBERED, PlatformReports
from xraylayer_extension.telemetry_events import (
    INIT_REPORT,
    INIT_RUNTIME_DONE,
    INIT_START,
    InitPhase,
    RuntimeDone,
)

HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"


def init(event_type: str, time: float, status: str | None = None, error: str | None = None):
    return InitPhase(
        event_type,
        initialization_type="on-demand",
        phase="init",
        status=status,
        error_type=error,
        time=time,
        duration_ms=None,
    )


def done(request_id: str, status: str = "success") -> RuntimeDone:
    return RuntimeDone(request_id, status, None, 12.0)


def test_a_runtime_done_wakes_a_waiter_and_is_found_by_request_id() -> None:
    reports = PlatformReports()
    got = []
    waiter = threading.Thread(target=lambda: got.append(reports.wait_done("rid-1", 5.0)))
    waiter.start()
    reports.add([done("rid-0"), done("rid-1", "error")])
    waiter.join(5.0)
    assert got == [done("rid-1", "error")]
    with reports.condition:
        assert reports.done("rid-0") == done("rid-0")
        assert reports.done("rid-2") is None


def test_only_the_last_invocations_are_remembered() -> None:
    reports = PlatformReports()
    reports.add([done(f"rid-{n}") for n in range(REMEMBERED + 5)])
    assert len(reports.runtime_done) == REMEMBERED
    assert next(iter(reports.runtime_done)) == "rid-5"


def test_a_failed_init_is_reported_once_with_its_error_type() -> None:
    reports = PlatformReports()
    reports.add(
        [
            init(INIT_START, 100.0),
            init(INIT_RUNTIME_DONE, 100.4, "error", "Runtime.ImportModuleError"),
        ]
    )
    records, error_type = reports.failed_init()
    assert error_type == "Runtime.ImportModuleError" and len(records) == 2
    assert reports.failed_init() is None


def test_a_successful_init_is_not_reported() -> None:
    reports = PlatformReports()
    reports.add([init(INIT_START, 100.0), init(INIT_RUNTIME_DONE, 100.2, "success")])
    assert reports.failed_init() is None


def test_the_init_span_is_a_fault_in_the_next_invocations_trace() -> None:
    records = [
        init(INIT_START, 100.0),
        init(INIT_RUNTIME_DONE, 100.4, "error"),
        init(INIT_REPORT, 100.5),
    ]
    span = failed_init_span(records, "Runtime.ImportModuleError", HEADER)
    assert span is not None
    assert (span.name, span.trace_id, span.parent_id, span.sampled) == (
        "Init",
        "5759e988bd862e3fe1be46a994272793",
        "53995c3f42cd8ad8",
        True,
    )
    assert (span.start_time, span.end_time, span.fault) == (100.0, 100.5, True)
    assert span.exceptions[0]["type"] == "Runtime.ImportModuleError"
    assert span.status_message == FAILED_MESSAGE


def test_without_an_invocation_after_it_the_init_span_is_a_trace_of_its_own() -> None:
    span = failed_init_span([init(INIT_START, 100.0)], "Runtime.Unknown", None)
    assert span is not None and span.parent_id is None and not span.sampled
    assert span.trace_id[:8] == f"{100:08x}"  # X-Ray trace ids start with the epoch time
    other = failed_init_span([init(INIT_START, 100.0)], "Runtime.Unknown", "Root=garbage")
    assert other is not None and other.trace_id != span.trace_id


def test_without_the_start_of_init_there_is_no_init_span() -> None:
    assert failed_init_span([init(INIT_REPORT, 1.0)], "Runtime.Unknown", HEADER) is None
