"""Telemetry API (lambda-platform.md §3): subscription rules and what reaches a subscriber.

One sandbox runs two invokes and a shutdown; its probe subscribed to every type and lingers at
SHUTDOWN until the platform.report of every invoke arrived, so its log is complete.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sandbox_harness import FUNCTIONS, LAYER, PYTHON, Harness, ProbeLog
from xraylayer_local.results import InvokeResult
from xraylayer_local.sandbox import Sandbox

ISO_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


@dataclass
class Run:
    """The probe's view of the run, the invokes' results and the platform's own event list."""

    probe: ProbeLog
    results: list[InvokeResult]
    telemetry_seen: list[dict[str, Any]]


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Run:
    folder = tmp_path_factory.mktemp("telemetry")
    probe_out = folder / "probe.jsonl"
    env = {
        "PROBE_OUT": str(probe_out),
        "PROBE_CHECKS": "1",
        "PROBE_ON_SHUTDOWN": "linger",
        "AWS_LAMBDA_EXEC_WRAPPER": "/opt/wrapper.sh",
    }
    sandbox = Sandbox(FUNCTIONS, "basic.hello", layers=[LAYER], env=env, python=PYTHON)
    harness = Harness(sandbox, ProbeLog(probe_out), folder / "wrapper.txt", Path(folder))
    results = [harness.invoke({"name": "one"}), harness.invoke({"name": "two"})]
    telemetry_seen = list(sandbox.telemetry)
    harness.shutdown()
    return Run(harness.probe, results, telemetry_seen)


def _records(run: Run, event_type: str) -> list[dict]:
    return [event["record"] for event in run.probe.telemetry_of(event_type)]


def _by_request(run: Run, event_type: str) -> dict[str, dict]:
    return {record["requestId"]: record for record in _records(run, event_type)}


def test_subscribing_answers_200_ok(run) -> None:
    (subscribed,) = run.probe.records("subscribed")
    assert subscribed["status"] == 200
    assert subscribed["body"] == "OK"


@pytest.mark.parametrize(
    "check",
    [
        "subscribe_max_items_low",
        "subscribe_max_bytes_low",
        "subscribe_timeout_low",
        "subscribe_timeout_high",
        "subscribe_bad_schema",
        "subscribe_bad_type",
        "subscribe_no_types",
    ],
)
def test_an_invalid_subscription_is_400_validation_error(run, check) -> None:
    answer = run.probe.checks()[check]
    assert answer["status"] == 400
    assert answer["body"]["errorType"] == "ValidationError"


def test_subscribing_needs_an_extension_identifier(run) -> None:
    answer = run.probe.checks()["subscribe_without_identifier"]
    assert answer["status"] == 403
    assert answer["body"]["errorType"] == "Extension.MissingExtensionIdentifier"


def test_batches_are_json_arrays_of_time_type_record(run) -> None:
    batches = run.probe.records("telemetry")
    assert batches
    assert {batch["content_type"] for batch in batches} == {"application/json"}
    for event in run.probe.telemetry():
        assert ISO_MS.fullmatch(event["time"]), event
        assert set(event) == {"time", "type", "record", "received"}


def test_init_events_reach_the_subscriber(run) -> None:
    (start,) = _records(run, "platform.initStart")
    assert start["initializationType"] == "on-demand"
    assert start["phase"] == "init"
    (done,) = _records(run, "platform.initRuntimeDone")
    assert done["status"] == "success"
    assert done["initializationType"] == "on-demand" and done["phase"] == "init"
    (report,) = _records(run, "platform.initReport")
    assert report["phase"] == "init"
    assert report["metrics"]["durationMs"] > 0


def test_extension_and_subscription_events(run) -> None:
    assert {"name": "probe", "state": "Ready", "events": ["INVOKE", "SHUTDOWN"]} in [
        {**record, "events": sorted(record["events"])}
        for record in _records(run, "platform.extension")
    ]
    (subscription,) = _records(run, "platform.telemetrySubscription")
    assert subscription["name"] == "probe"
    assert subscription["state"] == "Subscribed"
    assert sorted(subscription["types"]) == ["extension", "function", "platform"]


def test_every_invoke_has_start_runtime_done_and_report(run) -> None:
    starts = _by_request(run, "platform.start")
    dones = _by_request(run, "platform.runtimeDone")
    reports = _by_request(run, "platform.report")
    for result in run.results:
        rid = result.request_id
        assert rid in starts
        assert dones[rid]["status"] == "success"
        assert dones[rid]["metrics"]["durationMs"] >= 0
        spans = {span["name"]: span for span in dones[rid]["spans"]}
        assert {"responseLatency", "responseDuration"} <= set(spans)
        for span in spans.values():
            assert ISO_MS.fullmatch(span["start"]) and span["durationMs"] >= 0
        metrics = reports[rid]["metrics"]
        assert reports[rid]["status"] == "success"
        assert metrics["memorySizeMB"] == 128
        assert isinstance(metrics["billedDurationMs"], int)
        assert metrics["billedDurationMs"] >= metrics["durationMs"]
        assert isinstance(metrics["maxMemoryUsedMB"], int)
    first, second = (reports[r.request_id]["metrics"] for r in run.results)
    assert first["initDurationMs"] > 0
    assert "initDurationMs" not in second


def test_platform_order_per_invoke(run) -> None:
    types = [(e["type"], e["record"]) for e in run.telemetry_seen]
    for result in run.results:
        positions = [
            index
            for index, (kind, record) in enumerate(types)
            if isinstance(record, dict) and record.get("requestId") == result.request_id
        ]
        kinds = [types[index][0] for index in positions]
        assert kinds == ["platform.start", "platform.runtimeDone", "platform.report"]


def test_a_report_arrives_only_after_the_extension_called_next_for_that_invoke(run) -> None:
    records = run.probe.records()
    for result in run.results:
        invoke_at = next(
            index
            for index, r in enumerate(records)
            if r["kind"] == "event" and r["event"].get("requestId") == result.request_id
        )
        next_call = next(r for r in records[invoke_at:] if r["kind"] == "next")
        (report,) = [
            e
            for e in run.probe.telemetry_of("platform.report")
            if e["record"]["requestId"] == result.request_id
        ]
        assert report["received"] >= next_call["t"]


def test_function_log_lines_reach_the_subscriber(run) -> None:
    lines = _records(run, "function")
    assert all(isinstance(line, str) for line in lines)
    for result in run.results:
        assert any(f"hello-log-line {result.request_id}" in line for line in lines), lines


def test_extension_log_lines_reach_the_subscriber(run) -> None:
    lines = _records(run, "extension")
    assert any("probe: registered" in line for line in lines), lines
    for result in run.results:
        assert any(f"probe: got INVOKE {result.request_id}" in line for line in lines)


def test_the_lingering_probe_got_every_report_before_the_deadline(run) -> None:
    (done,) = run.probe.records("linger_done")
    assert done["missing"] == []
