"""Reading delivered Telemetry API batches: realistic events (lambda-platform.md §3.3, AWS's
schema reference and its emulator) become records, everything else is counted, nothing raises."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from xraylayer_extension.telemetry_events import (
    BAD_RECORD,
    INIT_REPORT,
    INIT_RUNTIME_DONE,
    INIT_START,
    MAX_BATCH_BYTES,
    NOT_AN_ARRAY,
    NOT_AN_EVENT,
    NOT_JSON,
    REPORT,
    RUNTIME_DONE,
    TOO_LARGE,
    InitPhase,
    Report,
    RuntimeDone,
    epoch_seconds,
    out_of_memory,
    parse_batch,
)

REQUEST = "6d68ca91-49c9-448d-89b8-7ca3e6dc66aa"
TRACING = {
    "spanId": "54565fb41ac79632",
    "type": "X-Amzn-Trace-Id",
    "value": "Root=1-62e900b2-710d76f009d6e7785905449a;Parent=0efbd19962d95b05;Sampled=1",
}
STAMP = "2022-10-12T00:00:15.064Z"
STAMP_EPOCH = datetime(2022, 10, 12, 0, 0, 15, 64000, tzinfo=timezone.utc).timestamp()


def _event(event_type: str, record: Any, time: str = STAMP) -> dict[str, Any]:
    return {"time": time, "type": event_type, "record": record}


def _body(*events: Any) -> bytes:
    return json.dumps(list(events)).encode()


# --- the events acted on, as Lambda sends them -------------------------------------------------

RUNTIME_DONE_SUCCESS = _event(
    "platform.runtimeDone",
    {
        "requestId": REQUEST,
        "status": "success",
        "tracing": TRACING,
        "spans": [
            {"name": "responseLatency", "start": "2022-08-02T12:01:23.521Z", "durationMs": 23.02},
            {"name": "responseDuration", "start": "2022-08-02T12:01:23.544Z", "durationMs": 0.0},
        ],
        "metrics": {"durationMs": 140.0, "producedBytes": 16},
    },
)
RUNTIME_DONE_TIMEOUT = _event(  # no metrics: the runtime never answered
    "platform.runtimeDone",
    {"requestId": REQUEST, "status": "timeout", "errorType": "Sandbox.Timedout"},
)
REPORT_COLD = _event(
    "platform.report",
    {
        "requestId": REQUEST,
        "status": "success",
        "metrics": {
            "billedDurationMs": 694,
            "durationMs": 693.92,
            "initDurationMs": 397.68,
            "maxMemoryUsedMB": 84,
            "memorySizeMB": 128,
        },
        "tracing": TRACING,
    },
)
REPORT_OUT_OF_MEMORY = _event(
    "platform.report",
    {
        "requestId": REQUEST,
        "status": "error",
        "errorType": "Runtime.OutOfMemory",
        "metrics": {
            "durationMs": 800.1,
            "billedDurationMs": 801,
            "memorySizeMB": 128,
            "maxMemoryUsedMB": 128,
        },
    },
)
INIT_START_EVENT = _event(
    "platform.initStart",
    {
        "initializationType": "on-demand",
        "phase": "init",
        "runtimeVersion": "python:3.12.v40",
        "runtimeVersionArn": "arn:aws:lambda:us-east-1::runtime:abc",
        "functionName": "orders",
        "functionVersion": "$LATEST",
        "instanceId": "i-1",
        "instanceMaxMemory": 134217728,
    },
)
INIT_RUNTIME_DONE_FAILED = _event(
    "platform.initRuntimeDone",
    {
        "initializationType": "on-demand",
        "phase": "init",
        "status": "error",
        "errorType": "Runtime.ExitError",
    },
    "2022-10-12T00:00:16.500Z",
)
INIT_REPORT_EVENT = _event(
    "platform.initReport",
    {
        "initializationType": "provisioned-concurrency",
        "phase": "init",
        "metrics": {"durationMs": 125.33},
        "spans": [
            {"name": "someTimeSpan", "start": "2022-06-02T12:02:33.913Z", "durationMs": 90.1}
        ],
    },
    "2022-10-12T00:00:15.190Z",
)
SUPPRESSED_INIT_REPORT = _event(  # init re-run at the first invoke, newer schema with a status
    "platform.initReport",
    {
        "initializationType": "on-demand",
        "phase": "invoke",
        "status": "timeout",
        "errorType": "Sandbox.Timedout",
        "metrics": {"durationMs": 10000.0},
    },
)

OTHER_EVENTS = [
    _event("platform.start", {"requestId": REQUEST, "version": "$LATEST", "tracing": TRACING}),
    _event("platform.extension", {"name": "xraylayer", "state": "Ready", "events": ["INVOKE"]}),
    _event(
        "platform.telemetrySubscription",
        {"name": "xraylayer", "state": "Subscribed", "types": ["platform"]},
    ),
    _event(
        "platform.logsDropped",
        {"droppedBytes": 12345, "droppedRecords": 123, "reason": "Consumer fell behind"},
    ),
    _event("platform.restoreStart", {"runtimeVersion": "python:3.12.v40"}),
    _event("function", "[INFO] Hello world, I am a function!"),
    _event("extension", {"message": "a JSON log line"}),
]


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (RUNTIME_DONE_SUCCESS, RuntimeDone(REQUEST, "success", None, 140.0)),
        (RUNTIME_DONE_TIMEOUT, RuntimeDone(REQUEST, "timeout", "Sandbox.Timedout", None)),
        (
            REPORT_COLD,
            Report(
                REQUEST,
                "success",
                None,
                693.92,
                max_memory_used_mb=84,
                memory_size_mb=128,
                init_duration_ms=397.68,
            ),
        ),
        (
            REPORT_OUT_OF_MEMORY,
            Report(
                REQUEST,
                "error",
                "Runtime.OutOfMemory",
                800.1,
                max_memory_used_mb=128,
                memory_size_mb=128,
                init_duration_ms=None,
            ),
        ),
        (
            INIT_START_EVENT,
            InitPhase(
                INIT_START,
                initialization_type="on-demand",
                phase="init",
                status=None,
                error_type=None,
                time=STAMP_EPOCH,
                duration_ms=None,
            ),
        ),
        (
            INIT_RUNTIME_DONE_FAILED,
            InitPhase(
                INIT_RUNTIME_DONE,
                initialization_type="on-demand",
                phase="init",
                status="error",
                error_type="Runtime.ExitError",
                time=STAMP_EPOCH + 1.436,
                duration_ms=None,
            ),
        ),
        (
            INIT_REPORT_EVENT,
            InitPhase(
                INIT_REPORT,
                initialization_type="provisioned-concurrency",
                phase="init",
                status=None,
                error_type=None,
                time=STAMP_EPOCH + 0.126,
                duration_ms=125.33,
            ),
        ),
        (
            SUPPRESSED_INIT_REPORT,
            InitPhase(
                INIT_REPORT,
                initialization_type="on-demand",
                phase="invoke",
                status="timeout",
                error_type="Sandbox.Timedout",
                time=STAMP_EPOCH,
                duration_ms=10000.0,
            ),
        ),
    ],
    ids=lambda value: value["type"] if isinstance(value, dict) else None,
)
def test_each_event_acted_on_becomes_its_record(event: dict, expected: Any) -> None:
    batch = parse_batch(_body(event))
    (record,) = batch.records
    if isinstance(expected, InitPhase):  # times are floats computed two ways
        assert record.time == pytest.approx(expected.time, abs=1e-6)
        record.time = expected.time
    assert record == expected
    assert batch.ignored == 0
    assert batch.malformed == {}


def test_a_batch_keeps_the_order_and_ignores_the_other_types() -> None:
    events = [INIT_START_EVENT, *OTHER_EVENTS, RUNTIME_DONE_SUCCESS, REPORT_COLD]
    batch = parse_batch(_body(*events))
    assert [type(record) for record in batch.records] == [InitPhase, RuntimeDone, Report]
    assert batch.ignored == len(OTHER_EVENTS)
    assert batch.malformed == {}


def test_an_empty_batch_holds_nothing() -> None:
    batch = parse_batch(b"[]")
    assert (batch.records, batch.ignored, batch.malformed) == ([], 0, {})


# --- what is not an event of ours ----------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", NOT_JSON),
        (b"[", NOT_JSON),
        (b"\xff\xfe\x00garbage", NOT_JSON),
        (b"[" * 100_000 + b"]" * 100_000, NOT_JSON),  # deeper than the parser recurses
        (b"[1e999999, " + b"9" * 5000 + b"]", NOT_JSON),  # more digits than int() reads
        (b'"OK"', NOT_AN_ARRAY),
        (b"{}", NOT_AN_ARRAY),
        (b"null", NOT_AN_ARRAY),
        (b"[" + b" " * MAX_BATCH_BYTES + b"]", TOO_LARGE),
    ],
    ids=["empty", "truncated", "binary", "deep", "digits", "string", "object", "null", "huge"],
)
def test_a_body_that_is_no_batch_counts_once(body: bytes, reason: str) -> None:
    batch = parse_batch(body)
    assert batch.malformed == {reason: 1}
    assert batch.records == []


@pytest.mark.parametrize(
    "event",
    [1, "platform.report", None, [], {}, {"type": 7}, {"type": None, "record": {}}],
)
def test_what_is_not_an_event_is_malformed(event: Any) -> None:
    batch = parse_batch(_body(event, RUNTIME_DONE_SUCCESS))
    assert batch.malformed == {NOT_AN_EVENT: 1}
    assert len(batch.records) == 1  # the good event next to it still counts


def _runtime_done(**record: Any) -> dict:
    return _event("platform.runtimeDone", record)


@pytest.mark.parametrize(
    "event",
    [
        {"type": "platform.runtimeDone"},  # no record
        _event("platform.runtimeDone", "a string"),
        _event("platform.report", ["requestId", REQUEST]),
        _event("platform.initStart", None),
        _runtime_done(status="success"),  # no requestId
        _runtime_done(requestId="", status="success"),
        _runtime_done(requestId=7, status="success"),
        _runtime_done(requestId=REQUEST),  # no status
        _runtime_done(requestId=REQUEST, status=None),
        _runtime_done(requestId=REQUEST, status=["success"]),
        _event("platform.report", {"status": "success", "metrics": {}}),
    ],
)
def test_a_record_without_what_it_needs_is_malformed(event: dict) -> None:
    batch = parse_batch(_body(event))
    assert batch.malformed == {BAD_RECORD: 1}
    assert batch.records == []


@pytest.mark.parametrize(
    "value", [-1, -0.5, True, False, "12", None, [], {}, float("nan"), float("inf")]
)
def test_a_figure_that_is_no_finite_non_negative_number_is_none(value: Any) -> None:
    names = ("durationMs", "maxMemoryUsedMB", "memorySizeMB", "initDurationMs")
    metrics = dict.fromkeys(names, value)
    report = _event(
        "platform.report", {"requestId": REQUEST, "status": "success", "metrics": metrics}
    )
    (record,) = parse_batch(_body(report)).records  # json writes NaN and Infinity; Lambda won't
    assert (record.duration_ms, record.max_memory_used_mb, record.memory_size_mb) == (None,) * 3
    assert record.init_duration_ms is None


@pytest.mark.parametrize("metrics", [None, "fast", [], 3])
def test_metrics_of_the_wrong_shape_leave_the_figures_out(metrics: Any) -> None:
    record = {"requestId": REQUEST, "status": "error", "errorType": "", "metrics": metrics}
    (done,) = parse_batch(_body(_event("platform.runtimeDone", record))).records
    assert done == RuntimeDone(REQUEST, "error", None, None)


def test_an_init_event_with_a_bad_time_keeps_the_rest() -> None:
    event = {**INIT_REPORT_EVENT, "time": "2022-08-02T12:01:23:521Z"}  # as misprinted in the docs
    (record,) = parse_batch(_body(event)).records
    assert record.time is None
    assert record.duration_ms == 125.33


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
TYPES = st.sampled_from(
    [RUNTIME_DONE, REPORT, INIT_START, INIT_RUNTIME_DONE, INIT_REPORT, "platform.start", "function"]
)
RECORD_KEYS = st.sampled_from(
    ["requestId", "status", "errorType", "metrics", "initializationType", "phase"]
)
METRIC_KEYS = st.sampled_from(["durationMs", "maxMemoryUsedMB", "memorySizeMB", "initDurationMs"])
EVENTS = st.one_of(
    JSON,
    st.fixed_dictionaries(
        {
            "type": TYPES,
            "time": st.text(max_size=30) | JSON,
            "record": st.dictionaries(
                RECORD_KEYS, JSON | st.dictionaries(METRIC_KEYS, JSON, max_size=4), max_size=6
            )
            | JSON,
        }
    ),
)


@given(st.binary(max_size=512))
def test_any_bytes_parse_without_raising(body: bytes) -> None:
    parse_batch(body)


@given(st.lists(EVENTS, max_size=12))
def test_every_event_is_a_record_ignored_or_malformed(events: list) -> None:
    batch = parse_batch(json.dumps(events).encode())
    assert len(batch.records) + batch.ignored + sum(batch.malformed.values()) == len(events)
    for record in batch.records:
        assert isinstance(record, (RuntimeDone, Report, InitPhase))
        if not isinstance(record, InitPhase):
            assert isinstance(out_of_memory(record), bool)


NAMES = st.text(min_size=1, max_size=40)
FIGURES = st.none() | st.integers(0, 10**6) | st.floats(0, 1e9, allow_nan=False)


@given(
    request_id=NAMES,
    status=st.sampled_from(["success", "error", "timeout", "failure"]) | NAMES,
    error_type=st.none() | NAMES,
    figures=st.lists(FIGURES, min_size=4, max_size=4),
)
def test_reports_read_back_as_written(
    request_id: str, status: str, error_type: str | None, figures: list
) -> None:
    duration, used, size, init = figures
    record: dict[str, Any] = {"requestId": request_id, "status": status}
    if error_type is not None:
        record["errorType"] = error_type
    names = ("durationMs", "maxMemoryUsedMB", "memorySizeMB", "initDurationMs")
    record["metrics"] = {
        name: value for name, value in zip(names, figures, strict=True) if value is not None
    }
    batch = parse_batch(_body(_event("platform.report", record), _runtime_done(**record)))
    expected = Report(
        request_id,
        status,
        error_type,
        duration,
        max_memory_used_mb=used,
        memory_size_mb=size,
        init_duration_ms=init,
    )
    assert batch.records == [expected, RuntimeDone(request_id, status, error_type, duration)]


# --- out of memory ---------------------------------------------------------------------------


def _report(status: str, error_type: str | None, used: float | None, size: float | None) -> Report:
    return Report(
        REQUEST,
        status,
        error_type,
        10.0,
        max_memory_used_mb=used,
        memory_size_mb=size,
        init_duration_ms=None,
    )


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (RuntimeDone(REQUEST, "error", "Runtime.OutOfMemory", 5.0), True),
        (_report("error", "Runtime.OutOfMemory", 90, 128), True),  # sampled below the limit
        (_report("error", "Runtime.OutOfMemory", None, None), True),
        (_report("failure", "Function.OutOfMemory", None, None), True),
        (RuntimeDone(REQUEST, "error", "OutOfMemory", None), True),
        (_report("error", "Runtime.ExitError", 128, 128), True),  # "signal: killed" at the limit
        (_report("failure", "Runtime.ExitError", 130, 128), True),
        (RuntimeDone(REQUEST, "error", "Runtime.ExitError", 5.0), False),  # no figures to tell
        (_report("error", "Runtime.ExitError", 127, 128), False),
        (_report("error", "Runtime.ExitError", None, 128), False),
        (_report("error", "Runtime.ExitError", 128, None), False),
        (_report("error", "Runtime.ExitError", 0, 0), False),
        (_report("success", None, 128, 128), False),  # it finished: close, not out
        (_report("timeout", "Sandbox.Timedout", 60, 128), False),
        (RuntimeDone(REQUEST, "error", "Runtime.OutOfMemoryError", 5.0), False),
        (RuntimeDone(REQUEST, "error", "MemoryError", 5.0), False),  # the handler's exception
        (RuntimeDone(REQUEST, "success", None, 5.0), False),
    ],
)
def test_out_of_memory_from_error_type_or_figures(record: Any, expected: bool) -> None:
    assert out_of_memory(record) is expected


def test_out_of_memory_is_read_from_the_report_lambda_sends() -> None:
    (report,) = parse_batch(_body(REPORT_OUT_OF_MEMORY)).records
    assert out_of_memory(report)
    (cold,) = parse_batch(_body(REPORT_COLD)).records
    assert not out_of_memory(cold)


# --- times -----------------------------------------------------------------------------------


def _utc(*fields: int) -> float:
    return datetime(*fields, tzinfo=timezone.utc).timestamp()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (STAMP, STAMP_EPOCH),
        ("1970-01-01T00:00:00Z", 0.0),
        ("1970-01-01T00:00:00.5Z", 0.5),
        ("2024-02-29T23:59:59.123456789Z", _utc(2024, 2, 29, 23, 59, 59) + 0.123456789),
        ("2022-10-12t00:00:15.064z", STAMP_EPOCH),
        ("2022-10-12T02:00:15.064+02:00", STAMP_EPOCH),
        ("2022-10-11T23:30:15.064-00:30", STAMP_EPOCH),
        ("2000-03-01T00:00:00Z", _utc(2000, 3, 1)),
        ("1900-02-28T12:00:00Z", _utc(1900, 2, 28, 12)),
        ("0001-01-01T00:00:00Z", _utc(1, 1, 1)),
        ("9999-12-31T23:59:59Z", _utc(9999, 12, 31, 23, 59, 59)),
    ],
)
def test_lambda_times_read_as_epoch_seconds(text: str, expected: float) -> None:
    assert epoch_seconds(text) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    "text",
    [
        None,
        1665532815.064,
        "",
        "2022-10-12",
        "2022-10-12T00:00:15",  # no zone: local time of who knows where
        "2022-10-12T00:00:15.064",
        "2022-10-12 00:00:15.064Z",
        "2022-10-12T00:00:15.Z",
        "2022-10-12T00:00:15,064Z",
        "2022-08-02T12:01:23:521Z",
        "2023-02-29T00:00:00Z",
        "1900-02-29T00:00:00Z",
        "2022-13-01T00:00:00Z",
        "2022-00-01T00:00:00Z",
        "2022-04-31T00:00:00Z",
        "2022-10-00T00:00:00Z",
        "0000-01-01T00:00:00Z",
        "2022-10-12T24:00:00Z",
        "2022-10-12T23:60:00Z",
        "2022-10-12T23:59:60Z",
        "2022-10-12T00:00:15+24:00",
        "2022-10-12T00:00:15+01:60",
        "2022-10-12T00:00:15+0100",
        "2022-10-12T00:00:15 +01:00",
        "2022-10-12T00:00:15+a1:00",
        "+022-10-12T00:00:15Z",
        "2022-1a-12T00:00:15Z",
        "\uff12\uff10\uff12\uff12-10-12T00:00:15Z",  # fullwidth digits
        "2022-10-12T00:00:15." + "1" * 30 + "Z",
    ],
)
def test_anything_else_is_no_time(text: Any) -> None:
    assert epoch_seconds(text) is None


OFFSETS = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))


def _iso(moment: datetime, digits: int) -> str:
    """``moment`` as ISO-8601 with ``digits`` fraction digits (0-9) and its offset."""
    text = (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    )
    if digits:
        text += "." + f"{moment.microsecond:06d}000"[:digits]
    offset = moment.utcoffset()
    assert offset is not None
    minutes = int(offset.total_seconds()) // 60
    if minutes == 0:
        return text + "Z"
    sign = "-" if minutes < 0 else "+"
    return text + f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


@given(
    moment=st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=OFFSETS
    ),
    digits=st.integers(0, 9),
)
def test_times_agree_with_datetime(moment: datetime, digits: int) -> None:
    kept = int(f"{moment.microsecond:06d}"[: min(digits, 6)].ljust(6, "0"))
    expected = moment.replace(microsecond=kept).timestamp()
    assert epoch_seconds(_iso(moment, digits)) == pytest.approx(expected, rel=1e-14, abs=1e-6)


@given(st.text(max_size=40))
def test_any_text_is_a_time_or_none(text: str) -> None:
    value = epoch_seconds(text)
    assert value is None or math.isfinite(value)
