"""The Telemetry API subscription: the listener on real loopback sockets, the subscription
request against small local APIs, and both end to end in the local Lambda sandbox, where an
extension built on them gets Lambda's verdict on invocations that succeed, raise, time out,
exit and run out of memory."""

from __future__ import annotations

import http.client
import json
import queue
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from xraylayer_extension.telemetry_events import (
    MAX_BATCH_BYTES,
    NOT_AN_ARRAY,
    NOT_JSON,
    TOO_LARGE,
    RuntimeDone,
    parse_batch,
)
from xraylayer_extension.telemetry_listener import (
    BUFFERING,
    NOT_SUPPORTED,
    REFUSED,
    SUBSCRIBED,
    TELEMETRY_PATH,
    UNREACHABLE,
    TelemetryListener,
    listen_host,
    outcome_of,
    subscribe,
    subscription_body,
)
from xraylayer_local import Sandbox
from xraylayer_local.runtimes import SUPPORTED_VERSIONS
from xraylayer_local.telemetry_delivery import validate_subscription

REPO = Path(__file__).resolve().parents[2]
FUNCTIONS = REPO / "tests" / "sandbox" / "fixtures" / "functions"  # basic.py: one per behaviour
IDENTIFIER = "0d7c2a8e-4f6b-4b8e-9d0e-5a1c2b3d4e5f"
REQUEST = "6d68ca91-49c9-448d-89b8-7ca3e6dc66aa"
WAIT_S = 10.0
NOT_SUPPORTED_BODY = (
    b'{"errorType":"Telemetry.NotSupported","errorMessage":"Telemetry API is not supported"}'
)
VALIDATION_BODY = (
    b'{"errorType":"ValidationError","errorMessage":"buffering.timeoutMs must be 25-30000"}'
)


def _runtime_done_body(request_id: str = REQUEST, status: str = "success") -> bytes:
    record = {"requestId": request_id, "status": status, "metrics": {"durationMs": 12.5}}
    event = {"time": "2022-10-12T00:00:15.064Z", "type": "platform.runtimeDone", "record": record}
    return json.dumps([event]).encode()


# --- pure parts ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("addresses", "host"),
    [
        ([], "127.0.0.1"),  # sandbox.localdomain does not resolve: a local emulator
        (["127.0.0.1"], "127.0.0.1"),
        (["127.0.0.2"], "127.0.0.2"),
        (["169.254.100.1"], "169.254.100.1"),
        (["10.0.0.5"], "127.0.0.1"),  # a VPC name that happens to match: never listen there
        (["203.0.113.7", "169.254.79.130"], "169.254.79.130"),
        (["169.254.1.1", "127.0.0.1"], "169.254.1.1"),
        (["0.0.0.0"], "127.0.0.1"),
    ],
)
def test_the_listener_host_is_loopback_or_link_local(addresses: list[str], host: str) -> None:
    assert listen_host(addresses) == host


def test_the_subscription_asks_for_platform_events_soon() -> None:
    uri = "http://sandbox.localdomain:4243/xraylayer/telemetry"
    document = json.loads(subscription_body(uri))
    assert document == {
        "schemaVersion": "2022-12-13",
        "types": ["platform"],
        "buffering": {"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 25},
        "destination": {"protocol": "HTTP", "URI": uri},
    }
    subscription = validate_subscription(document)  # the sandbox's checks of Lambda's rules
    assert subscription.buffering.timeout_ms == BUFFERING["timeoutMs"] == 25
    assert subscription.destination.port == 4243


@pytest.mark.parametrize(
    ("status", "body", "kind", "message"),
    [
        (200, b'"OK"', SUBSCRIBED, "subscribed to platform events"),
        (
            202,
            NOT_SUPPORTED_BODY,
            NOT_SUPPORTED,
            "Telemetry.NotSupported: Telemetry API is not supported",
        ),
        (202, b"", NOT_SUPPORTED, "not supported"),
        (
            400,
            VALIDATION_BODY,
            REFUSED,
            "HTTP 400: ValidationError: buffering.timeoutMs must be 25-30000",
        ),
        (
            403,
            b'{"errorType":"Telemetry.SubscriptionClosed"}',
            REFUSED,
            "HTTP 403: Telemetry.SubscriptionClosed",
        ),
        (500, b"", REFUSED, "HTTP 500"),
        (500, b"  internal error\n", REFUSED, "HTTP 500: internal error"),
        (502, b"\xff<html>", REFUSED, "HTTP 502: \ufffd<html>"),
        (400, b'["ValidationError"]', REFUSED, 'HTTP 400: ["ValidationError"]'),
        (400, b"x" * 5000, REFUSED, "HTTP 400: " + "x" * 300),
    ],
)
def test_the_answer_decides_the_outcome(status: int, body: bytes, kind: str, message: str) -> None:
    outcome = outcome_of(status, body)
    assert (outcome.kind, outcome.status, outcome.message) == (kind, status, message)


# --- the listener on loopback ----------------------------------------------------------------


@pytest.fixture
def received() -> queue.Queue:
    return queue.Queue()


@pytest.fixture
def listener(received: queue.Queue) -> Iterator[TelemetryListener]:
    server = TelemetryListener(received.put)
    yield server
    server.close()


def _post(listener: TelemetryListener, body: bytes, path: str = "/xraylayer/telemetry") -> int:
    """POST as Lambda does (to the address sandbox.localdomain stands for); the status."""
    connection = http.client.HTTPConnection(listener.host, listener.port, timeout=WAIT_S)
    try:
        connection.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def _raw(listener: TelemetryListener, request: bytes) -> bytes:
    """Send ``request`` as is and read the answer until the listener closes the connection."""
    with socket.create_connection((listener.host, listener.port), timeout=WAIT_S) as connection:
        connection.sendall(request)
        connection.shutdown(socket.SHUT_WR)
        return b"".join(iter(lambda: connection.recv(65536), b""))


def _handled_so_far(listener: TelemetryListener, received: queue.Queue) -> None:
    """Deliver one good batch and wait for its records: the listener takes one request at a
    time, so everything sent before it has been handled by then."""
    assert _post(listener, _runtime_done_body("barrier")) == 200
    (record,) = received.get(timeout=WAIT_S)
    assert record.request_id == "barrier"


def test_it_listens_on_loopback_on_a_port_that_is_not_9001(listener: TelemetryListener) -> None:
    assert listener.host.startswith(("127.", "169.254."))
    assert listener.port not in (0, 9001)
    assert listener.uri == f"http://sandbox.localdomain:{listener.port}/xraylayer/telemetry"


def test_a_batch_is_answered_and_its_records_handed_on(
    listener: TelemetryListener, received: queue.Queue
) -> None:
    assert _post(listener, _runtime_done_body()) == 200
    assert received.get(timeout=WAIT_S) == [RuntimeDone(REQUEST, "success", None, 12.5)]
    assert (listener.batches, listener.ignored, listener.malformed) == (1, 0, {})


@pytest.mark.parametrize("path", ["/", "/lambda_telemetry", "/xraylayer/telemetry?x=1"])
def test_any_path_is_accepted(
    listener: TelemetryListener, received: queue.Queue, path: str
) -> None:
    """AWS's emulator posts to the port alone, dropping the subscribed path."""
    assert _post(listener, _runtime_done_body(), path) == 200
    assert received.get(timeout=WAIT_S)[0].request_id == REQUEST


def test_a_batch_of_other_types_calls_nobody(
    listener: TelemetryListener, received: queue.Queue
) -> None:
    body = json.dumps([{"time": "2022-10-12T00:00:15.064Z", "type": "function", "record": "hi"}])
    assert _post(listener, body.encode()) == 200
    _handled_so_far(listener, received)
    assert received.empty()
    assert listener.ignored == 1


def test_the_delivery_is_answered_before_the_records_are_handled() -> None:
    entered, release, finished = threading.Event(), threading.Event(), threading.Event()

    def slow(records: list) -> None:
        entered.set()
        release.wait(WAIT_S)
        finished.set()

    listener = TelemetryListener(slow)
    try:
        assert _post(listener, _runtime_done_body()) == 200  # while the callback still waits
        assert entered.wait(WAIT_S)
        assert not finished.is_set()
    finally:
        release.set()
        listener.close()


def test_a_failing_callback_is_counted_logged_once_and_the_listener_goes_on(
    capsys: pytest.CaptureFixture[str],
) -> None:
    calls: queue.Queue = queue.Queue()

    def broken(records: list) -> None:
        calls.put(records)
        raise RuntimeError("bug in the extension")

    listener = TelemetryListener(broken)
    try:
        for request_id in ("first", "second"):
            assert _post(listener, _runtime_done_body(request_id)) == 200
            assert calls.get(timeout=WAIT_S)[0].request_id == request_id
        assert _post(listener, b"[]") == 200  # served after both failures
    finally:
        listener.close()  # waits for the request in hand: the counts are final
    assert listener.callback_errors == 2
    assert listener.batches == 3
    log = capsys.readouterr().err
    assert log.count("xraylayer: telemetry callback failed: RuntimeError: bug in the") == 1


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", NOT_JSON),
        (b'{"type": "platform.runtimeDone"}', NOT_AN_ARRAY),
        (b"[" + b" " * MAX_BATCH_BYTES + b"]", TOO_LARGE),
    ],
    ids=["garbage", "object", "too-large"],
)
def test_a_bad_batch_is_answered_200_and_counted(
    listener: TelemetryListener, received: queue.Queue, body: bytes, reason: str
) -> None:
    """Any other answer would make Lambda send the same batch again."""
    assert _post(listener, body) == 200
    _handled_so_far(listener, received)
    assert listener.malformed == {reason: 1}


@pytest.mark.parametrize(
    "request_head",
    [
        b"POST / HTTP/1.1\r\nHost: sandbox.localdomain\r\n\r\n",  # no Content-Length
        b"POST / HTTP/1.1\r\nContent-Length: lots\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: \xb2\r\n\r\n",  # a digit to str.isdigit only
    ],
)
def test_a_body_of_unknown_length_is_answered_and_counted(
    listener: TelemetryListener, received: queue.Queue, request_head: bytes
) -> None:
    answer = _raw(listener, request_head + _runtime_done_body())
    assert answer.startswith(b"HTTP/1.1 200 ")
    _handled_so_far(listener, received)
    assert listener.malformed == {NOT_JSON: 1}


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"GET / HTTP/1.1\r\n\r\n", b"501"),
        (b"\x16\x03\x01garbage\r\n\r\n", b"400"),  # a TLS hello: read as HTTP/0.9
    ],
)
def test_what_is_no_post_gets_an_error_and_the_listener_goes_on(
    listener: TelemetryListener, received: queue.Queue, raw: bytes, code: bytes
) -> None:
    assert code in _raw(listener, raw)
    _handled_so_far(listener, received)


def test_a_client_that_hangs_up_early_does_not_stop_the_listener(
    listener: TelemetryListener, received: queue.Queue
) -> None:
    with socket.create_connection((listener.host, listener.port), timeout=WAIT_S) as connection:
        connection.sendall(b"POST / HTTP/1.1\r\nContent-Length: 100000\r\n\r\n[{")
    _handled_so_far(listener, received)


def test_close_stops_listening(received: queue.Queue) -> None:
    listener = TelemetryListener(received.put)
    address = (listener.host, listener.port)
    listener.close()
    listener.close()  # twice is fine
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(address, timeout=WAIT_S).close()


# --- subscribing against small local APIs ----------------------------------------------------


@dataclass
class ApiRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@contextmanager
def _telemetry_api(status: int, body: bytes) -> Iterator[tuple[str, list[ApiRequest]]]:
    """A Telemetry API on loopback that answers every request with ``status`` and ``body``."""
    requests: list[ApiRequest] = []

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            requests.append(
                ApiRequest("PUT", self.path, dict(self.headers), self.rfile.read(length))
            )
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()


def test_the_subscription_request_is_the_documented_put(listener: TelemetryListener) -> None:
    with _telemetry_api(200, b'"OK"') as (api, requests):
        outcome = subscribe(api, IDENTIFIER, listener)
    assert outcome.kind == SUBSCRIBED
    (request,) = requests
    assert (request.method, request.path) == ("PUT", TELEMETRY_PATH)
    assert request.headers["Lambda-Extension-Identifier"] == IDENTIFIER
    assert request.headers["Content-Type"] == "application/json"
    assert request.body == subscription_body(listener.uri)


def test_aws_emulator_answers_202_not_supported(listener: TelemetryListener) -> None:
    with _telemetry_api(202, NOT_SUPPORTED_BODY) as (api, _):
        outcome = subscribe(api, IDENTIFIER, listener)
    assert (outcome.kind, outcome.status) == (NOT_SUPPORTED, 202)
    assert "Telemetry.NotSupported" in outcome.message


def test_a_400_is_refused_with_lambdas_message(listener: TelemetryListener) -> None:
    with _telemetry_api(400, VALIDATION_BODY) as (api, _):
        outcome = subscribe(api, IDENTIFIER, listener)
    assert (outcome.kind, outcome.status) == (REFUSED, 400)
    assert outcome.message == "HTTP 400: ValidationError: buffering.timeoutMs must be 25-30000"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _hang_up_api() -> tuple[str, Callable[[], None]]:
    """An API that accepts the connection and closes it without answering."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        connection, _ = server.accept()
        connection.recv(65536)
        connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()

    def stop() -> None:
        thread.join(WAIT_S)
        server.close()

    return f"127.0.0.1:{server.getsockname()[1]}", stop


@pytest.mark.parametrize("api", ["closed", "hang-up", "127.0.0.1", "no-host:x", ""])
def test_an_api_that_does_not_answer_is_unreachable(listener: TelemetryListener, api: str) -> None:
    stop = None
    if api == "closed":
        api = f"127.0.0.1:{_closed_port()}"
    elif api == "hang-up":
        api, stop = _hang_up_api()
    outcome = subscribe(api, IDENTIFIER, listener)
    if stop is not None:
        stop()
    assert (outcome.kind, outcome.status) == (UNREACHABLE, None)
    assert outcome.message.startswith(f"cannot reach the Telemetry API at {api}: ")


# --- end to end in the local Lambda sandbox --------------------------------------------------

PROBE = '''
"""Test extension: registers, subscribes with xraylayer's listener, writes what it received
to $PROBE_OUT as JSON lines, and at SHUTDOWN waits for the report of every invoke it saw."""

import http.client
import json
import os
import sys
import threading
import time

sys.path.insert(0, sys.argv[1])
from xraylayer_extension.registration import register
from xraylayer_extension.telemetry_events import InitPhase, Report, out_of_memory
from xraylayer_extension.telemetry_listener import TelemetryListener, subscribe

API = os.environ["AWS_LAMBDA_RUNTIME_API"]
changed = threading.Condition()
reports = set()


def write(kind, **fields):
    with changed, open(os.environ["PROBE_OUT"], "a") as out:
        out.write(json.dumps({"kind": kind, "pid": os.getpid(), **fields}) + "\\n")


def on_records(records):
    for record in records:
        fields = {name: getattr(record, name) for name in type(record).__slots__}
        oom = None if isinstance(record, InitPhase) else out_of_memory(record)
        write("record", type=type(record).__name__, out_of_memory=oom, **fields)
    with changed:
        reports.update(r.request_id for r in records if isinstance(r, Report))
        changed.notify_all()


def main():
    identifier = register(API, "telemetry-probe", ("INVOKE", "SHUTDOWN"))
    listener = TelemetryListener(on_records)
    outcome = subscribe(API, identifier, listener)
    write("subscribed", outcome=outcome.kind, status=outcome.status, message=outcome.message,
          host=listener.host, port=listener.port)
    host, _, port = API.rpartition(":")
    connection = http.client.HTTPConnection(host, int(port))
    invokes = set()
    while True:
        connection.request("GET", "/2020-01-01/extension/event/next",
                           headers={"Lambda-Extension-Identifier": identifier})
        event = json.loads(connection.getresponse().read())
        if event["eventType"] == "SHUTDOWN":
            linger_s = event["deadlineMs"] / 1000 - 0.3 - time.time()
            with changed:
                changed.wait_for(lambda: invokes <= reports, max(0.0, linger_s))
            write("shutdown", reason=event["shutdownReason"], missing=sorted(invokes - reports))
            listener.close()
            return
        invokes.add(event["requestId"])


main()
'''
LAUNCHER = '#!/bin/sh\nexec python3 -I -S "$(dirname "$0")/../telemetry_probe.py" "{extension}"\n'


@dataclass
class Run:
    """What the probe extension wrote, the invokes' results, and every event Lambda emitted."""

    results: list[Any]
    lines: list[dict[str, Any]]
    emitted: list[dict[str, Any]]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [line for line in self.lines if line["kind"] == kind]

    def records(self, type_name: str) -> list[dict[str, Any]]:
        return [line for line in self.of_kind("record") if line["type"] == type_name]

    def record(self, type_name: str, request_id: str) -> dict[str, Any]:
        (found,) = [r for r in self.records(type_name) if r["request_id"] == request_id]
        return found

    def init(self, event_type: str) -> list[dict[str, Any]]:
        return [r for r in self.records("InitPhase") if r["event_type"] == event_type]


def _as_written(record: Any) -> dict[str, Any]:
    """A record as the probe writes it, without the probe's own fields."""
    return {"type": type(record).__name__} | {
        name: getattr(record, name) for name in type(record).__slots__
    }


def _run(tmp_path: Path, handler: str, events: list[Any], **options: Any) -> Run:
    """Invoke ``handler`` with ``events`` in a sandbox whose only extension is the probe, then
    shut it down: by then every extension process has written all it will."""
    layer = tmp_path / "layer"
    (layer / "extensions").mkdir(parents=True)
    (layer / "telemetry_probe.py").write_text(PROBE)
    launcher = layer / "extensions" / "telemetry-probe"
    launcher.write_text(LAUNCHER.format(extension=REPO / "extension"))
    launcher.chmod(0o755)
    out = tmp_path / "probe.jsonl"
    options.setdefault("timeout_s", 2.0)
    sandbox = Sandbox(FUNCTIONS, handler, layers=[layer], env={"PROBE_OUT": str(out)}, **options)
    try:
        results = [sandbox.invoke(event) for event in events]
    finally:
        sandbox.shutdown()
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    return Run(results, lines, list(sandbox.telemetry))


def _check_everything_arrived(run: Run) -> None:
    """Subscribed in every environment, and got every platform event Lambda emitted that the
    extension acts on, in order, with nothing malformed."""
    subscriptions = run.of_kind("subscribed")
    assert subscriptions
    assert {(s["outcome"], s["status"]) for s in subscriptions} == {(SUBSCRIBED, 200)}
    assert all(s["port"] != 9001 for s in subscriptions)
    expected = [_as_written(r) for r in parse_batch(json.dumps(run.emitted).encode()).records]
    got = [
        {k: v for k, v in r.items() if k not in ("kind", "pid", "out_of_memory")}
        for r in (run.of_kind("record"))
    ]
    assert got == expected
    assert all(not s["missing"] for s in run.of_kind("shutdown"))


@pytest.mark.parametrize("version", SUPPORTED_VERSIONS)
def test_successful_invocations_and_the_init_reach_the_extension(
    tmp_path: Path, version: str
) -> None:
    run = _run(tmp_path, "basic.hello", [{"name": "one"}, {"name": "two"}], python=version)
    _check_everything_arrived(run)
    first, second = (result.request_id for result in run.results)
    for request_id in (first, second):
        done = run.record("RuntimeDone", request_id)
        assert (done["status"], done["error_type"]) == ("success", None)
        assert done["duration_ms"] >= 0 and done["out_of_memory"] is False
        report = run.record("Report", request_id)
        assert (report["status"], report["error_type"], report["out_of_memory"]) == (
            "success",
            None,
            False,
        )
        assert report["memory_size_mb"] == 128
        assert 0 < report["max_memory_used_mb"] <= 128
    assert run.record("Report", first)["init_duration_ms"] > 0  # the cold start
    assert run.record("Report", second)["init_duration_ms"] is None
    (start,) = run.init("platform.initStart")
    (done,) = run.init("platform.initRuntimeDone")
    (report,) = run.init("platform.initReport")
    assert (start["initialization_type"], start["phase"]) == ("on-demand", "init")
    assert (done["status"], done["error_type"]) == ("success", None)
    assert report["duration_ms"] > 0
    assert start["time"] <= done["time"]  # ms resolution: init may take under a millisecond
    (shutdown,) = run.of_kind("shutdown")
    assert shutdown["reason"] == "spindown"


@dataclass
class Failure:
    """An invocation that fails, and Lambda's verdict on it."""

    handler: str
    event: dict[str, Any]
    status: str
    error_type: str | None  # None: the handler's own error, as the runtime posted it
    shutdown_reason: str  # "spindown": no reset, the sandbox spins down at the end


FAILURES = {
    "raises": Failure("basic.fail", {}, "error", None, "spindown"),
    "times-out": Failure("basic.sleep", {"seconds": 30}, "timeout", "Sandbox.Timedout", "timeout"),
    "exits": Failure("basic.exit_hard", {}, "error", "Runtime.ExitError", "failure"),
}


@pytest.mark.parametrize("failure", FAILURES.values(), ids=FAILURES.keys())
def test_a_failed_invocation_reaches_the_extension_with_lambdas_verdict(
    tmp_path: Path, failure: Failure
) -> None:
    run = _run(tmp_path, failure.handler, [failure.event])
    _check_everything_arrived(run)
    (result,) = run.results
    error_type = failure.error_type or result.error_type
    assert error_type
    for type_name in ("RuntimeDone", "Report"):
        record = run.record(type_name, result.request_id)
        assert (record["status"], record["error_type"]) == (failure.status, error_type)
        assert record["out_of_memory"] is False
    (shutdown,) = run.of_kind("shutdown")
    assert shutdown["reason"] == failure.shutdown_reason


def test_running_out_of_memory_reaches_the_extension(tmp_path: Path) -> None:
    run = _run(tmp_path, "basic.allocate", [{"mb": 400, "hold_s": 30}], memory_mb=128)
    _check_everything_arrived(run)
    (result,) = run.results
    for type_name in ("RuntimeDone", "Report"):
        record = run.record(type_name, result.request_id)
        assert (record["status"], record["error_type"]) == ("error", "Runtime.OutOfMemory")
        assert record["out_of_memory"] is True
    (shutdown,) = run.of_kind("shutdown")
    assert shutdown["reason"] == "failure"
