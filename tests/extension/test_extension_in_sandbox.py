"""The extension in the local sandbox, from the built layer: spans reach the daemon through the
extension, after the response; failed invocations arrive faulted; shutdown exports the rest."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from orders_environment import ORDER, orders_environment
from otlp_request import spans_of
from xraylayer_local import Sandbox
from xraylayer_local.layers import merge_layers

REPO = Path(__file__).resolve().parents[2]
ORDERS = REPO / "tests" / "e2e" / "functions"
SLOW = Path(__file__).parent / "functions"
TABLE, BUCKET = "ext-loop-orders", "ext-loop-prices"
SUMMARY = re.compile(
    r"xraylayer: extension received (\d+) spans \(function exported (\d+) itself, lost before "
    r"export \d+ \(.*?\), malformed datagrams (\d+)\); xray-daemon exported (\d+), "
    r"dropped (\d+) \((.*?)\)"
)


@contextmanager
def _own_intake() -> Iterator[dict[str, str]]:
    """The exec wrapper, and a socket path of this sandbox's own (short: socket paths are
    limited to 107 bytes, more than pytest's tmp_path may take)."""
    folder = tempfile.mkdtemp(prefix="xl-", dir="/tmp")
    try:
        yield {
            "AWS_LAMBDA_EXEC_WRAPPER": "/opt/xray-instrument",
            "XRAYLAYER_INTAKE": os.path.join(folder, "intake.sock"),
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def intake_env() -> Iterator[dict[str, str]]:
    with _own_intake() as env:
        yield env


@pytest.fixture
def traced(built_layer: Path, intake_env: dict[str, str]) -> Callable[..., Sandbox]:
    """A sandbox for one of this folder's functions: the built layer, the exec wrapper, Active
    tracing, 10 s timeout; ``env`` and keyword arguments add to or replace those."""

    def make(handler: str, env: dict[str, str] | None = None, **kwargs: object) -> Sandbox:
        settings: dict = {"tracing": "Active", "timeout_s": 10, **kwargs}
        return Sandbox(
            SLOW, handler, layers=[built_layer], env={**intake_env, **(env or {})}, **settings
        )

    return make


@pytest.fixture(scope="module")
def orders_env(moto_server) -> Iterator[dict[str, str]]:
    with orders_environment(moto_server, TABLE, BUCKET) as env:
        yield env


def _ours(documents: list[dict]) -> list[dict]:
    """The layer's documents: independent subsegments (Lambda's own are segments)."""
    return [d for d in documents if d.get("type") == "subsegment"]


def _summary(lines: list[str]) -> tuple[int, int, str, int, int, int]:
    (match,) = [m for m in map(SUMMARY.search, lines) if m]
    received, direct, malformed, exported, dropped, reasons = match.groups()
    return int(exported), int(dropped), reasons, int(received), int(direct), int(malformed)


@pytest.fixture(scope="module")
def orders_run(built_layer: Path, orders_env: dict[str, str]) -> tuple[list, list[str]]:
    """Two orders and a rejected one, then a spindown; the results and every log line."""
    events = (ORDER, ORDER, {"fail": True, "order_id": "o-8"})
    with (
        _own_intake() as intake,
        Sandbox(
            ORDERS,
            "orders_app.handler",
            layers=[built_layer],
            env={**orders_env, **intake},
            tracing="Active",
            timeout_s=10,
        ) as sandbox,
    ):
        results = [sandbox.invoke(event) for event in events]
    return results, [line for _, line in sandbox.logs]


def test_the_whole_trace_arrives_through_the_extension_after_the_response(
    orders_run: tuple[list, list[str]],
) -> None:
    results, logs = orders_run
    assert [result.status for result in results] == ["success", "success", "error"]
    from xraylayer import __version__

    started = [line for line in logs if "xraylayer: extension " in line and "started" in line]
    assert started == [
        f"xraylayer: extension {__version__} started: span intake ready, Telemetry API subscribed"
    ]
    for result in results:
        assert result.post_runtime_ms > 0  # the extension worked after the response
        ours = _ours(result.segments)
        (invocation,) = [d for d in ours if "ColdStart" in d.get("annotations", {})]
        (lambda_invocation,) = [
            s
            for d in result.segments
            for s in d.get("subsegments", [])
            if s["name"] == "Invocation"
        ]
        assert invocation["parent_id"] == lambda_invocation["id"]
    names = {d["name"] for d in _ours(results[1].segments)}
    assert {"S3", "DynamoDB", "127.0.0.1", "compute-total"} <= names
    failed = [d for d in _ours(results[2].segments) if "ColdStart" in d.get("annotations", {})]
    assert failed[0]["fault"] is True
    assert failed[0]["cause"]["exceptions"][0]["type"] == "ValueError"


def test_the_extension_exported_every_span_and_the_function_none(
    orders_run: tuple[list, list[str]],
) -> None:
    results, logs = orders_run
    exported, dropped, reasons, received, direct, malformed = _summary(logs)
    documents = sum(len(_ours(result.segments)) for result in results)
    assert (exported, dropped, reasons, direct, malformed) == (documents, 0, "none", 0, 0)
    assert received == exported


def test_a_timed_out_invocation_arrives_faulted_with_its_earlier_children(
    traced: Callable[..., Sandbox],
) -> None:
    with traced("slow_app.handler", timeout_s=1) as sandbox:
        result = sandbox.invoke({"sleep_s": 5})
    assert result.status == "timeout"
    ours = _ours(sandbox.daemon.documents)
    (invocation,) = [d for d in ours if "ColdStart" in d.get("annotations", {})]
    assert invocation["fault"] is True
    (cause,) = invocation["cause"]["exceptions"]
    assert cause["message"] == "Task timed out"
    (child,) = [d for d in ours if d["name"] == "before-sleep"]
    assert child["parent_id"] == invocation["id"]
    assert invocation["end_time"] - invocation["start_time"] == pytest.approx(1.0, abs=0.3)
    exported, dropped, *_ = _summary([line for _, line in sandbox.logs])
    assert (exported, dropped) == (len(ours), 0)  # init-time spans (imports) went too


def test_a_crashed_invocation_arrives_faulted_at_once_not_at_the_deadline(
    traced: Callable[..., Sandbox],
) -> None:
    with traced("crash_app.handler") as sandbox:
        result = sandbox.invoke({})
        sandbox.daemon.sync()
    assert result.error_type == "Runtime.ExitError"
    ours = _ours(sandbox.daemon.documents)
    (invocation,) = [d for d in ours if "ColdStart" in d.get("annotations", {})]
    assert invocation["fault"] is True
    (cause,) = invocation["cause"]["exceptions"]
    assert cause["type"] == "Runtime.ExitError"
    assert invocation["end_time"] - invocation["start_time"] < 2
    (child,) = [d for d in ours if d["name"] == "before-crash"]
    assert child["parent_id"] == invocation["id"]


def test_without_the_exec_wrapper_invocations_are_not_held_back(
    built_layer: Path, intake_env: dict[str, str]
) -> None:
    env = {key: value for key, value in intake_env.items() if key != "AWS_LAMBDA_EXEC_WRAPPER"}
    with Sandbox(SLOW, "plain_app.handler", layers=[built_layer], env=env, timeout_s=10) as sandbox:
        first, second = sandbox.invoke({}), sandbox.invoke({})
        shutdown = sandbox.shutdown()
    assert first.response == second.response == {"ok": True}
    assert first.post_runtime_ms < 1500  # one grace period, while a start might still come
    assert second.post_runtime_ms < 300
    assert shutdown.extension_exit_codes == {"xraylayer": 0}


def test_a_spindown_ends_the_extension_cleanly_with_its_counts(
    traced: Callable[..., Sandbox], intake_env: dict[str, str]
) -> None:
    with traced("slow_app.handler") as sandbox:
        result = sandbox.invoke({"sleep_s": 0})
        shutdown = sandbox.shutdown()
    assert result.status == "success"
    assert shutdown.extension_exit_codes == {"xraylayer": 0}
    assert not os.path.exists(intake_env["XRAYLAYER_INTAKE"])  # the socket file was removed
    exported, dropped, *_ = _summary([line for _, line in sandbox.logs])
    assert exported == len(_ours(sandbox.daemon.documents)) and dropped == 0


def test_busy_traffic_defers_export_and_shutdown_exports_the_rest(
    traced: Callable[..., Sandbox],
) -> None:
    with traced("slow_app.handler") as sandbox:
        results = [sandbox.invoke({"sleep_s": 0}) for _ in range(25)]
        sandbox.daemon.sync()
        before_shutdown = len(_ours(sandbox.daemon.documents))
    # Adaptive: flushed at each end until 20 starts are known, then left for later.
    assert all(_ours(result.segments) for result in results[:19])
    assert not any(_ours(result.segments) for result in results[19:])
    ours = _ours(sandbox.daemon.documents)
    assert len([d for d in ours if d["name"] == "before-sleep"]) == 25
    assert len(ours) > before_shutdown
    exported, dropped, *_ = _summary([line for _, line in sandbox.logs])
    assert (exported, dropped) == (len(ours), 0)


def test_without_the_layers_code_the_extension_steps_aside_and_the_function_runs(
    built_layer: Path, tmp_path: Path, intake_env: dict[str, str]
) -> None:
    opt = merge_layers([built_layer], tmp_path / "opt")
    shutil.rmtree(opt / "xraylayer" / "python" / "xraylayer")
    env = {key: value for key, value in intake_env.items() if key != "AWS_LAMBDA_EXEC_WRAPPER"}
    with Sandbox(SLOW, "plain_app.handler", layers=[opt], env=env, timeout_s=10) as sandbox:
        result = sandbox.invoke({})
        shutdown = sandbox.shutdown()
    assert result.response == {"ok": True}, (result, sandbox.logs)
    assert shutdown.extension_exit_codes == {"xraylayer": 0}, (result, sandbox.logs)
    assert any("span intake not available" in line for _, line in sandbox.logs)


def test_an_invocation_killed_for_memory_arrives_faulted_as_out_of_memory(
    traced: Callable[..., Sandbox],
) -> None:
    with traced("oom_app.handler", memory_mb=128) as sandbox:
        result = sandbox.invoke({"mb": 256})
        sandbox.daemon.sync()
    assert "OutOfMemory" in (result.error_type or ""), result
    ours = _ours(sandbox.daemon.documents)
    (invocation,) = [d for d in ours if "ColdStart" in d.get("annotations", {})]
    assert invocation["fault"] is True
    (cause,) = invocation["cause"]["exceptions"]
    assert cause["type"] == "Runtime.OutOfMemory"
    (child,) = [d for d in ours if d["name"] == "before-oom"]
    assert child["parent_id"] == invocation["id"]


class _SlowCollector(BaseHTTPRequestHandler):
    """An OTLP/HTTP receiver that takes 200 ms to answer each request, and keeps the bodies."""

    bodies: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        time.sleep(0.2)
        self.bodies.append(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def slow_collector() -> Iterator[tuple[str, list[bytes]]]:
    collector = type("Collector", (_SlowCollector,), {"bodies": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", collector.bodies
    server.shutdown()


def test_a_slow_otlp_collector_adds_nothing_to_the_callers_latency(
    built_layer: Path, intake_env: dict[str, str], slow_collector: tuple[str, list[bytes]]
) -> None:
    from google.protobuf.json_format import Parse
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    endpoint, bodies = slow_collector
    env = {
        **intake_env,
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_SERVICE_NAME": "orders-api",
        "XRAYLAYER_FLUSH": "end",
    }
    with Sandbox(SLOW, "slow_app.handler", layers=[built_layer], env=env, timeout_s=10) as sandbox:
        results = [sandbox.invoke({"sleep_s": 0}) for _ in range(4)]
    for result in results[1:]:  # warm: the export's 200 ms come after the response
        assert result.status == "success"
        # The caller never waits for the collector, and the export is over before the phase
        # ends (billed time). It starts at the function's end marker, which the layer sends
        # just before the runtime posts the response: the two may overlap by a millisecond, so
        # the 200 ms are measured over the whole phase, not from the response.
        assert result.response_latency_ms < 200, result
        assert result.response_latency_ms + result.post_runtime_ms >= 200, result
    requests = [Parse(body, ExportTraceServiceRequest()) for body in bodies]
    spans = [(resource, span) for request in requests for resource, span in spans_of(request)]
    # PassThrough, no caller: Lambda says Sampled=0, and OTLP still gets every invocation.
    assert [span.name for _, span in spans].count("before-sleep") == 4
    service = {a.key: a.value.string_value for a in spans[0][0].attributes}["service.name"]
    assert service == "orders-api"


def test_shutdown_right_after_a_burst_of_10000_spans_accounts_for_every_one(
    traced: Callable[..., Sandbox], tmp_path: Path
) -> None:
    traces, accounting = tmp_path / "traces.jsonl", tmp_path / "accounting.json"
    env = {
        "XRAYLAYER_EXPORTERS": "file",
        "XRAYLAYER_FILE": str(traces),
        "XRAYLAYER_ACCOUNTING": str(accounting),
        "XRAYLAYER_FLUSH": "shutdown",
    }
    with traced("burst_app.handler", env, timeout_s=30) as sandbox:
        result = sandbox.invoke({"spans": 10_000})
        shutdown = sandbox.shutdown()
    assert result.status == "success" and shutdown.extension_exit_codes == {"xraylayer": 0}
    made = result.response["made"] + 1  # the burst, the init's spans, then the invocation's
    counts = json.loads(accounting.read_text())
    file = counts["exporters"]["file"]
    intake_full = counts["lost"].get("intake_full", 0)  # received, but not held
    from_function = counts["received"] + counts["function_exported"] - intake_full
    assert from_function + sum(counts["lost"].values()) == made  # nothing unaccounted
    assert file["exported"] + sum(file["dropped"].values()) + intake_full == counts["received"]
    lines = traces.read_text().splitlines()
    assert len(lines) == file["exported"]
    assert sum(json.loads(line)["name"].startswith("step-") for line in lines) <= 10_000
    print(f"burst of {made} spans: {counts}")


def test_a_failed_init_arrives_as_a_faulted_init_span(
    traced: Callable[..., Sandbox], tmp_path: Path
) -> None:
    """The sandbox, like AWS's emulator, resets after a failed init rather than re-running it
    in the invoke: the Init span is then a trace of its own, for the full-trace exporters."""
    traces = tmp_path / "traces.jsonl"
    env = {"XRAYLAYER_EXPORTERS": "xray-daemon,file", "XRAYLAYER_FILE": str(traces)}
    with traced("broken_init_app.handler", env) as sandbox:
        result = sandbox.invoke({})
    assert result.status != "success"
    (init,) = [json.loads(line) for line in traces.read_text().splitlines()]
    assert (init["name"], init["fault"], init["origin"]) == ("Init", True, "AWS::Lambda::Function")
    assert init["cause"]["exceptions"][0]["type"] == result.error_type
    assert init["end_time"] > init["start_time"]


def test_an_unreachable_collector_never_turns_a_success_into_a_timeout(
    traced: Callable[..., Sandbox],
) -> None:
    """Lambda counts the extension's work before `next` against the function's timeout: the
    export gives up in time, and its spans are counted, not the invocation lost."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"  # nobody listens once closed
    env = {"XRAYLAYER_EXPORTERS": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": closed}
    with traced("slow_app.handler", {**env, "XRAYLAYER_FLUSH": "end"}, timeout_s=1) as sandbox:
        # 0.45 s of work leaves less than the retries of an unbounded export would take
        results = [sandbox.invoke({"sleep_s": 0.4}) for _ in range(3)]
    assert [result.status for result in results] == ["success"] * 3
