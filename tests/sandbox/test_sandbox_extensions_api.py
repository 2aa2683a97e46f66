"""Extensions API (lambda-platform.md §2.1-2.3): registration, events and error calls.

The probe extension makes the calls and records the answers; with PROBE_CHECKS=1 it also
tries the error cases during its init, before and after its own registration.
"""

from __future__ import annotations

import re
import time
import uuid

import pytest
from sandbox_harness import parse_header, wait_for

ACCOUNT = re.compile(r"\d{12}")
CALLER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"


@pytest.fixture
def checked(make_harness):
    """A sandbox whose probe ran all its init-time API checks, after one invoke."""
    harness = make_harness(env={"PROBE_CHECKS": "1"})
    result = harness.invoke()
    assert result.status == "success", result.error
    return harness


def _error(check: dict) -> tuple[int, str]:
    return check["status"], check["body"].get("errorType")


def test_register_answers_with_an_identifier_and_the_function(checked) -> None:
    (registered,) = checked.probe.records("registered")
    assert registered["status"] == 200
    assert uuid.UUID(registered["identifier"])
    body = registered["body"]
    assert ACCOUNT.fullmatch(body.pop("accountId"))  # asked for with Accept-Feature
    assert body == {
        "functionName": "local-function",
        "functionVersion": "$LATEST",
        "handler": "basic.hello",
    }


def test_register_refusals(checked) -> None:
    checks = checked.probe.checks()
    assert _error(checks["register_without_name"]) == (403, "Extension.InvalidExtensionName")
    assert _error(checks["register_bad_event"]) == (403, "Extension.InvalidEventType")
    assert _error(checks["register_twice"]) == (403, "Extension.InvalidExtensionState")


def test_a_name_without_a_file_is_internal_and_may_not_subscribe_to_shutdown(checked) -> None:
    status, error_type = _error(checked.probe.checks()["register_internal_shutdown"])
    assert status == 403
    assert error_type.startswith("Extension.")


@pytest.mark.parametrize(
    ("check", "error_type"),
    [
        ("next_without_identifier", "Extension.MissingExtensionIdentifier"),
        ("next_invalid_identifier", "Extension.InvalidExtensionIdentifier"),
        ("next_unknown_identifier", "Extension.UnknownExtensionIdentifier"),
    ],
)
def test_next_refuses_a_missing_invalid_or_unknown_identifier(checked, check, error_type) -> None:
    assert _error(checked.probe.checks()[check]) == (403, error_type)


@pytest.mark.parametrize("check", ["init_error_without_type", "exit_error_without_type"])
def test_error_calls_without_an_error_type_header_are_403_missing_header(checked, check) -> None:
    assert _error(checked.probe.checks()[check]) == (403, "Extension.MissingHeader")


def test_more_than_ten_extensions_are_refused(make_harness) -> None:
    harness = make_harness(env={"PROBE_EXTRA_INTERNAL": "10"})
    result = harness.invoke()
    assert result.status == "success", result.error
    answers = harness.probe.records("internal_register")
    assert [a["status"] for a in answers] == [200] * 9 + [403]  # the probe itself is the 10th
    assert answers[-1]["body"]["errorType"] == "Extension.TooManyExtensions"


def test_invoke_event_carries_the_invocation(make_harness) -> None:
    harness = make_harness("basic.context_info", timeout_s=4)
    result = harness.invoke({}, trace_header=CALLER)
    assert result.status == "success", result.error
    (event,) = harness.probe.events("INVOKE")
    assert set(event) == {"eventType", "deadlineMs", "requestId", "invokedFunctionArn", "tracing"}
    seen = result.response
    assert event["requestId"] == result.request_id
    assert event["invokedFunctionArn"] == seen["arn"]
    assert isinstance(event["deadlineMs"], int)
    assert abs(event["deadlineMs"] - seen["deadline_ms"]) <= 2
    assert event["tracing"]["type"] == "X-Amzn-Trace-Id"
    assert parse_header(event["tracing"]["value"])["Root"] == parse_header(CALLER)["Root"]


def test_invoke_event_carries_the_runtimes_header_even_unsampled(make_harness) -> None:
    harness = make_harness()
    result = harness.invoke()
    (event,) = harness.probe.events("INVOKE")
    assert event["tracing"] == {"type": "X-Amzn-Trace-Id", "value": result.trace_header}
    assert "Sampled=0" in result.trace_header


def test_shutdown_event_has_a_lowercase_reason_and_the_kill_deadline(make_harness) -> None:
    harness = make_harness()
    harness.invoke()
    before_ms = time.time() * 1000
    harness.shutdown()
    after_ms = time.time() * 1000
    (event,) = harness.probe.events("SHUTDOWN")
    assert set(event) == {"eventType", "shutdownReason", "deadlineMs"}
    assert event["shutdownReason"] == "spindown"
    assert isinstance(event["deadlineMs"], int)
    # The kill time: 2,000 ms after the spin-down starts (the runtime's grace included).
    assert before_ms + 2000 - 5 <= event["deadlineMs"] <= before_ms + 2000 + 100
    assert event["deadlineMs"] <= after_ms + 2000


def test_an_extension_init_error_fails_init_and_the_next_invoke_retries_it(make_harness) -> None:
    harness = make_harness(env={"PROBE_ON_INIT": "init_error"})
    first = harness.invoke()
    second = harness.invoke()
    (answer,) = harness.probe.records("init_error")[:1]
    assert answer["status"] == 202
    assert answer["body"] == {"status": "OK"}
    assert first.status != "success"
    assert first.payload is None
    assert "Extension" in (first.error_type or ""), first
    assert second.cold and second.status != "success"
    assert len(harness.probe.records("start")) == 2


def test_an_extension_exit_error_resets_the_environment(make_harness) -> None:
    harness = make_harness(env={"PROBE_ON_INVOKE": "exit_error"})
    first = harness.invoke()
    (answer,) = harness.probe.records("exit_error")
    assert answer["status"] == 202
    assert first.status != "success"
    assert "Extension" in (first.error_type or ""), first
    second = harness.invoke()
    assert second.cold
    assert len(harness.probe.records("start")) == 2


def test_an_extension_crash_during_invoke_resets_the_environment(make_harness) -> None:
    harness = make_harness(env={"PROBE_ON_INVOKE": "crash"})
    first = harness.invoke()
    wait_for(lambda: harness.probe.records("crashing"), message="the probe's crash")
    assert first.status != "success"
    assert first.error_type == "Extension.Crash"
    second = harness.invoke()
    assert second.cold
    assert len(harness.probe.records("start")) == 2
