"""Tail keep: every reason on the invocation span and on its children, the order among them
(hypothesis over any set of spans against a plain model), real timeouts and crashes as the
extension closes them, marking that changes nothing else, the variables and their warnings,
and the module's import cost."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from xraylayer import config, semconv
from xraylayer.invocation import attributes, invocation_span
from xraylayer.spans import CLIENT, INTERNAL, SERVER, Span
from xraylayer_extension import tail_keep
from xraylayer_extension.causes import CRASH_CAUSE, SHUTDOWN_CAUSE, TIMEOUT_CAUSE
from xraylayer_extension.invocations import close_unfinished
from xraylayer_extension.tail_keep import (
    DEFAULT_SLOW_MS,
    DEFAULT_TAIL_KEEP,
    ENABLED_ENV,
    ERROR,
    FAULT,
    REASONS,
    SLOW,
    SLOW_MS_ENV,
    TAIL_KEPT,
    THROTTLE,
    TIMEOUT,
    TailKeep,
    TailKeepError,
    is_invocation_span,
    parse_enabled,
    parse_slow_ms,
    tail_keep_from,
)

EXTENSION_DIR = Path(tail_keep.__file__).resolve().parents[1]
LAYER_DIR = Path(sys.modules["xraylayer"].__file__).resolve().parents[1]
TRACE_ID = "5759e988bd862e3fe1be46a994272793"
START = 1_700_000_000.0
HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0"
CONTEXT = SimpleNamespace(
    function_name="orders",
    function_version="$LATEST",
    aws_request_id="8476a536-e9f4-11e8-9739-2dfe598c3fcd",
    invoked_function_arn="arn:aws:lambda:eu-west-1:123456789012:function:orders",
    memory_limit_in_mb="128",
)


def invocation(duration_ms: float | None = 100.0) -> Span:
    """An invocation span as the layer makes it (Lambda did not sample it)."""
    span = invocation_span("orders", HEADER, START)
    span.attributes.update(attributes(CONTEXT, "eu-west-1", "sqs", "pubsub"))
    if duration_ms is not None:
        span.end(START + duration_ms / 1000)
    return span


def child(parent: Span, kind: str = CLIENT, duration_ms: float = 10.0) -> Span:
    span = Span("DynamoDB", parent.trace_id, parent.span_id, kind=kind, start_time=START)
    span.end(START + duration_ms / 1000)
    return span


def flagged(span: Span, *flags: str) -> Span:
    for flag in flags:
        setattr(span, flag, True)
    return span


# --- each reason --------------------------------------------------------------------------------
def test_a_quiet_invocation_is_not_kept() -> None:
    root = invocation()
    assert TailKeep(slow_ms=1000).reason([root, child(root), child(root, INTERNAL)]) is None
    assert TailKeep().reason([]) is None


def test_a_handler_that_raised_is_a_fault() -> None:
    root = invocation()
    try:
        raise KeyError("order")
    except KeyError as error:
        root.record_exception(error)
    assert TailKeep().reason([child(root), root]) == FAULT


@pytest.mark.parametrize(("status", "reason"), [(500, FAULT), (503, FAULT), (429, THROTTLE)])
def test_a_fault_or_throttle_in_any_call_keeps_the_invocation(status: int, reason: str) -> None:
    root = invocation()
    call = child(root)
    call.set_status_code(status)
    assert TailKeep().reason([root, child(root), call]) == reason


@pytest.mark.parametrize("status", [400, 403, 404, 409])
def test_a_4xx_answer_to_a_call_is_not_a_reason(status: int) -> None:
    """S3 NoSuchKey, ConditionalCheckFailed: the code asked a question and got its answer."""
    root = invocation()
    call = child(root)
    call.set_status_code(status)
    assert TailKeep().reason([root, call]) is None


@pytest.mark.parametrize(("status", "reason"), [(400, ERROR), (404, ERROR), (429, THROTTLE)])
def test_a_4xx_answer_of_the_invocation_is_a_reason(status: int, reason: str) -> None:
    root = invocation()
    root.set_status_code(status)
    assert TailKeep().reason([child(root), root]) == reason


def test_a_remote_error_recorded_on_the_invocation_is_an_error() -> None:
    root = invocation()
    root.record_exception(RuntimeError("upstream said no"), remote=True)
    assert TailKeep().reason([root]) == ERROR


def test_the_deadline_closed_by_the_extension_is_a_timeout() -> None:
    root = invocation(duration_ms=None)
    calls = [child(root), child(root)]
    error_type, message = TIMEOUT_CAUSE
    close_unfinished(root, START + 3.0, message, error_type)
    assert TailKeep().reason([*calls, root]) == TIMEOUT
    assert TailKeep(slow_ms=1).reason([root]) == TIMEOUT


@pytest.mark.parametrize("cause", [CRASH_CAUSE, SHUTDOWN_CAUSE])
def test_a_crash_or_shutdown_mid_invocation_is_a_fault(cause: tuple[str, str]) -> None:
    root = invocation(duration_ms=None)
    error_type, message = cause
    close_unfinished(root, START + 1.0, message, error_type)
    assert TailKeep().reason([root]) == FAULT


def test_slow_is_strictly_longer_than_the_threshold_and_only_for_the_invocation() -> None:
    keep = TailKeep(slow_ms=2000)
    assert keep.reason([invocation(duration_ms=2000.5)]) == SLOW
    assert keep.reason([invocation(duration_ms=1999.0)]) is None
    exactly = invocation(duration_ms=None)
    exactly.end(exactly.start_time + 2.0)
    assert keep.reason([exactly]) is None
    root = invocation(duration_ms=10)
    assert keep.reason([root, child(root, duration_ms=60_000)]) is None


def test_an_open_or_unthresholded_invocation_is_never_slow() -> None:
    assert TailKeep(slow_ms=1).reason([invocation(duration_ms=None)]) is None
    assert TailKeep().reason([invocation(duration_ms=3_600_000)]) is None
    assert DEFAULT_SLOW_MS == 0.0


def test_a_server_span_of_the_users_own_is_not_the_invocation() -> None:
    """An OpenTelemetry server span under the invocation has no request id."""
    root = invocation()
    users = flagged(child(root, SERVER, duration_ms=60_000), "error")
    assert not is_invocation_span(users)
    assert is_invocation_span(root)
    assert TailKeep(slow_ms=1000).reason([root, users]) is None


def test_off_keeps_nothing() -> None:
    root = flagged(invocation(duration_ms=60_000), "fault", "throttle", "error")
    assert TailKeep(enabled=False, slow_ms=1).reason([root]) is None


def test_spans_may_come_as_any_iterable() -> None:
    root = flagged(invocation(), "error")
    assert TailKeep().reason(iter([child(root), root])) == ERROR


# --- the order among reasons, over any spans ----------------------------------------------------
@st.composite
def spans(draw: st.DrawFn) -> Span:
    """Any span of an invocation: its own or a child, with any flags, duration and exception."""
    span = (
        invocation()
        if draw(st.booleans())
        else child(invocation(), draw(st.sampled_from((CLIENT, SERVER, INTERNAL))))
    )
    for flag in ("fault", "throttle", "error"):
        setattr(span, flag, draw(st.booleans()))
    span.end_time = draw(
        st.none() | st.floats(min_value=0, max_value=10_000).map(lambda ms: START + ms / 1000)
    )
    if draw(st.booleans()):
        kind = draw(st.sampled_from((TIMEOUT_CAUSE[0], CRASH_CAUSE[0], "KeyError")))
        span.exceptions.append({"id": "0123456789abcdef", "type": kind, "message": "m"})
    return span


def expected_reason(spans: list[Span], slow_ms: float) -> str | None:
    """The rules in plain words: every condition any span shows, then the first in order."""
    shown = set()
    for span in spans:
        own = span.kind == SERVER and semconv.FAAS_INVOCATION_ID in span.attributes
        types = {record["type"] for record in span.exceptions}
        if span.fault and TIMEOUT_CAUSE[0] in types:
            shown.add(TIMEOUT)
        if span.fault:
            shown.add(FAULT)
        if span.throttle:
            shown.add(THROTTLE)
        if own and span.error:
            shown.add(ERROR)
        ended = span.end_time is not None
        if own and slow_ms and ended and (span.end_time - span.start_time) * 1000 > slow_ms:
            shown.add(SLOW)
    return next((reason for reason in REASONS if reason in shown), None)


@given(st.lists(spans(), max_size=8), st.sampled_from((0.0, 1.0, 500.0, 5000.0)))
def test_the_reason_is_the_first_condition_that_holds(batch: list[Span], slow_ms: float) -> None:
    assert TailKeep(slow_ms=slow_ms).reason(batch) == expected_reason(batch, slow_ms)
    assert TailKeep(enabled=False, slow_ms=slow_ms).reason(batch) is None


@given(st.lists(spans(), max_size=8))
def test_the_reason_does_not_depend_on_the_order_of_spans(batch: list[Span]) -> None:
    keep = TailKeep(slow_ms=500)
    assert keep.reason(batch) == keep.reason(batch[::-1])


# --- marking ------------------------------------------------------------------------------------
def fields(span: Span) -> dict[str, object]:
    return {name: copy.deepcopy(getattr(span, name)) for name in Span.__slots__}


@given(st.lists(spans(), max_size=8), st.sampled_from(REASONS))
def test_mark_records_the_reason_on_the_invocation_span_and_nothing_else(
    batch: list[Span], reason: str
) -> None:
    before = [fields(span) for span in batch]
    TailKeep.mark(batch, reason)
    for span, was in zip(batch, before, strict=True):
        now = fields(span)
        if is_invocation_span(span):
            assert now.pop("attributes") == {**was.pop("attributes"), TAIL_KEPT: reason}
        assert now == was


def test_mark_on_a_real_invocation() -> None:
    root = flagged(invocation(), "fault")
    calls = [child(root), child(root)]
    batch = [*calls, root]
    keep = TailKeep()
    keep.mark(batch, keep.reason(batch))
    assert root.attributes[TAIL_KEPT] == FAULT
    assert all(TAIL_KEPT not in call.attributes for call in calls)
    assert TAIL_KEPT == "xraylayer.tail_kept"


# --- the variables ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "enabled"),
    [
        (None, True),
        ("", True),
        ("  ", True),
        ("on", True),
        ("ON", True),
        (" true\n", True),
        ("1", True),
        ("yes", True),
        ("off", False),
        ("Off", False),
        ("false", False),
        ("0", False),
        ("no", False),
    ],
)
def test_every_switch_value_parses(text: str | None, enabled: bool) -> None:
    assert parse_enabled(text) is enabled


def test_the_switch_reads_the_layers_boolean_spellings() -> None:
    assert {s: parse_enabled(s) for s in config._TRUE + config._FALSE} == {
        **dict.fromkeys(config._TRUE, True),
        **dict.fromkeys(config._FALSE, False),
    }


@pytest.mark.parametrize("text", ["enabled", "2", "of", "onn", "true false", "y"])
def test_a_bad_switch_says_what_was_expected(text: str) -> None:
    with pytest.raises(TailKeepError) as raised:
        parse_enabled(text)
    assert str(raised.value) == f"XRAYLAYER_TAIL_KEEP={text!r} is not a switch: expected on or off"


@pytest.mark.parametrize(
    ("text", "slow_ms"),
    [(None, 0.0), ("", 0.0), ("0", 0.0), ("2000", 2000.0), (" 250.5 ", 250.5), ("1e4", 10000.0)],
)
def test_every_threshold_parses(text: str | None, slow_ms: float) -> None:
    assert parse_slow_ms(text) == slow_ms


@pytest.mark.parametrize("text", ["-1", "2s", "nan", "inf", "1e999", "fast", "1,000", "-0.5"])
def test_a_bad_threshold_says_what_was_expected(text: str) -> None:
    with pytest.raises(TailKeepError) as raised:
        parse_slow_ms(text)
    assert str(raised.value) == (
        f"XRAYLAYER_TAIL_KEEP_SLOW_MS={text!r} is not a duration: expected a number of "
        "milliseconds, such as 2000, or 0 for off"
    )


def test_the_environment_gives_tail_keep_and_no_warning() -> None:
    assert tail_keep_from({}) == (DEFAULT_TAIL_KEEP, None)
    assert TailKeep(enabled=True, slow_ms=0.0) == DEFAULT_TAIL_KEEP
    assert tail_keep_from({ENABLED_ENV: "off"}) == (TailKeep(enabled=False), None)
    assert tail_keep_from({SLOW_MS_ENV: "1500"}) == (TailKeep(slow_ms=1500), None)


def test_a_bad_value_gives_its_default_and_one_line_to_log() -> None:
    keep, warning = tail_keep_from({ENABLED_ENV: "maybe", SLOW_MS_ENV: "1500"})
    assert keep == TailKeep(enabled=True, slow_ms=1500)
    assert warning == (
        "xraylayer: XRAYLAYER_TAIL_KEEP='maybe' is not a switch: expected on or off; using "
        "tail keep on (timeout, fault, throttle, error, slow over 1500 ms)"
    )


def test_two_bad_values_give_both_defaults_and_still_one_line() -> None:
    keep, warning = tail_keep_from({ENABLED_ENV: "maybe", SLOW_MS_ENV: "2s"})
    assert keep == DEFAULT_TAIL_KEEP
    assert warning == (
        "xraylayer: XRAYLAYER_TAIL_KEEP='maybe' is not a switch: expected on or off; "
        "XRAYLAYER_TAIL_KEEP_SLOW_MS='2s' is not a duration: expected a number of milliseconds, "
        "such as 2000, or 0 for off; using tail keep on (timeout, fault, throttle, error)"
    )


@given(enabled=st.text(max_size=20), slow_ms=st.text(max_size=20))
def test_no_environment_breaks_anything(enabled: str, slow_ms: str) -> None:
    keep, warning = tail_keep_from({ENABLED_ENV: enabled, SLOW_MS_ENV: slow_ms})
    assert keep.slow_ms >= 0
    if warning is not None:
        assert warning.startswith("xraylayer: ")
        assert "\n" not in warning


# --- the object ---------------------------------------------------------------------------------
@pytest.mark.parametrize("slow_ms", [-1.0, float("nan"), float("inf")])
def test_a_threshold_must_be_a_finite_number_0_or_more(slow_ms: float) -> None:
    with pytest.raises(TailKeepError, match="0 ms or more"):
        TailKeep(slow_ms=slow_ms)


def test_tail_keep_cannot_change_and_compares_by_value() -> None:
    keep = TailKeep(slow_ms=100)
    with pytest.raises(AttributeError):
        keep.enabled = False  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del keep.slow_ms
    assert keep == TailKeep(True, 100.0)
    assert keep != TailKeep(True, 200.0)
    assert keep != TailKeep(False, 100.0)
    assert keep != "on"
    assert len({keep, TailKeep(True, 100), DEFAULT_TAIL_KEEP}) == 2


@pytest.mark.parametrize(
    ("keep", "described"),
    [
        (TailKeep(), "tail keep on (timeout, fault, throttle, error)"),
        (
            TailKeep(slow_ms=2000),
            "tail keep on (timeout, fault, throttle, error, slow over 2000 ms)",
        ),
        (TailKeep(slow_ms=2.5), "tail keep on (timeout, fault, throttle, error, slow over 2.5 ms)"),
        (TailKeep(enabled=False, slow_ms=2000), "tail keep off"),
    ],
)
def test_tail_keep_describes_itself(keep: TailKeep, described: str) -> None:
    assert keep.describe() == described
    assert repr(TailKeep(False, 5)) == "TailKeep(enabled=False, slow_ms=5.0)"


def test_importing_the_module_pulls_in_nothing_heavy() -> None:
    """Imported on the extension's start path: no typing, dataclasses, enum or re."""
    code = (
        "import os, sys; before = set(sys.modules); "
        f"sys.path[:0] = [{str(EXTENSION_DIR)!r}, {str(LAYER_DIR)!r}]; "
        "import xraylayer_extension.tail_keep; "
        "print(' '.join(sorted(set(sys.modules) - before)))"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, check=True
    )
    new = set(result.stdout.split())
    assert not new & {"typing", "dataclasses", "enum", "re", "json", "socket"}
    assert "xraylayer_extension.tail_keep" in new
