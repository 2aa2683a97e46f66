"""Telemetry API subscriptions, the batching decision and delivery to a real local listener."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from xraylayer_local.telemetry_delivery import (
    Buffering,
    Destination,
    Subscription,
    SubscriptionInvalid,
    TelemetryDispatcher,
    category,
    due_in,
    event,
    validate_subscription,
)

DOC_EXAMPLE = {
    "schemaVersion": "2022-12-13",
    "types": ["platform", "function", "extension"],
    "buffering": {"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 100},
    "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain:8080/lambda_telemetry"},
}


def body(**changes) -> dict:
    result = json.loads(json.dumps(DOC_EXAMPLE))
    for key, value in changes.items():
        if value is None:
            result.pop(key)
        else:
            result[key] = value
    return result


# --- validate_subscription ---------------------------------------------------------------------


def test_documented_example_is_valid():
    subscription = validate_subscription(DOC_EXAMPLE)
    assert subscription == Subscription(
        schema_version="2022-12-13",
        types=frozenset({"platform", "function", "extension"}),
        destination=Destination("HTTP", 8080, "/lambda_telemetry"),
        buffering=Buffering(max_items=1000, max_bytes=262144, timeout_ms=100),
    )


@pytest.mark.parametrize("version", ["2022-07-01", "2022-12-13", "2025-01-29"])
def test_every_documented_schema_version_is_accepted(version):
    assert validate_subscription(body(schemaVersion=version)).schema_version == version


def test_buffering_defaults():
    subscription = validate_subscription(body(buffering=None))
    assert subscription.buffering == Buffering(max_items=10000, max_bytes=262144, timeout_ms=1000)
    partial = validate_subscription(body(buffering={"timeoutMs": 25}))
    assert partial.buffering == Buffering(max_items=10000, max_bytes=262144, timeout_ms=25)


@pytest.mark.parametrize(
    ("uri", "port", "path"),
    [
        ("http://sandbox.localdomain:8080", 8080, "/"),
        ("http://sandbox.localdomain:4243/", 4243, "/"),
        ("http://sandbox.localdomain/telemetry", 80, "/telemetry"),
        ("http://SANDBOX.localdomain:9000/a/b?x=1", 9000, "/a/b?x=1"),
    ],
)
def test_http_destinations(uri, port, path):
    destination = {"protocol": "HTTP", "URI": uri}
    assert validate_subscription(body(destination=destination)).destination == Destination(
        "HTTP", port, path
    )


def test_tcp_destination():
    subscription = validate_subscription(body(destination={"protocol": "TCP", "port": 4000}))
    assert subscription.destination == Destination("TCP", 4000)


def test_unknown_top_level_keys_are_ignored_as_lambda_does():
    assert validate_subscription(body(extra=1)) == validate_subscription(body())


def test_types_may_be_a_subset():
    assert validate_subscription(body(types=["function"])).types == frozenset({"function"})


@pytest.mark.parametrize(
    "request_body",
    [
        [],
        "subscription",
        body(schemaVersion=None),
        body(schemaVersion="2020-08-15"),
        body(types=None),
        body(types=[]),
        body(types="platform"),
        body(types=["platform", "logs"]),
        body(destination=None),
        body(destination="http://sandbox.localdomain:8080"),
        body(destination={"protocol": "UDP", "port": 4000}),
        body(destination={"protocol": "HTTP"}),
        body(destination={"protocol": "HTTP", "URI": ""}),
        body(destination={"protocol": "HTTP", "URI": "https://sandbox.localdomain:8080/"}),
        body(destination={"protocol": "HTTP", "URI": "http://localhost:8080/"}),
        body(destination={"protocol": "HTTP", "URI": "http://0.0.0.0:8080/"}),
        body(destination={"protocol": "HTTP", "URI": "http://sandbox.localdomain:9001/"}),
        body(destination={"protocol": "HTTP", "URI": "http://sandbox.localdomain:http/"}),
        body(destination={"protocol": "HTTP", "URI": "http://sandbox.localdomain:70000/"}),
        body(destination={"protocol": "TCP"}),
        body(destination={"protocol": "TCP", "port": "4000"}),
        body(destination={"protocol": "TCP", "port": True}),
        body(destination={"protocol": "TCP", "port": 0}),
        body(destination={"protocol": "TCP", "port": 65536}),
        body(destination={"protocol": "TCP", "port": 9001}),
        body(buffering=[]),
        body(buffering={"maxItems": 999}),
        body(buffering={"maxItems": 10001}),
        body(buffering={"maxItems": 1000.0}),
        body(buffering={"maxBytes": 262143}),
        body(buffering={"maxBytes": 1048577}),
        body(buffering={"timeoutMs": 24}),
        body(buffering={"timeoutMs": 30001}),
        body(buffering={"timeoutMs": True}),
        body(buffering={"timeoutMs": None}),
    ],
)
def test_invalid_subscriptions_are_refused(request_body):
    with pytest.raises(SubscriptionInvalid) as refused:
        validate_subscription(request_body)
    assert refused.value.message


@pytest.mark.parametrize(
    ("name", "minimum", "maximum"),
    [("maxItems", 1000, 10000), ("maxBytes", 262144, 1048576), ("timeoutMs", 25, 30000)],
)
def test_buffering_limits_are_inclusive(name, minimum, maximum):
    for value in (minimum, maximum):
        validate_subscription(body(buffering={name: value}))


# --- events ------------------------------------------------------------------------------------


def test_event_time_is_iso_utc_with_milliseconds():
    built = event("platform.start", {"requestId": "r1"}, 1665532815.064)
    assert built == {
        "time": "2022-10-12T00:00:15.064Z",
        "type": "platform.start",
        "record": {"requestId": "r1"},
    }
    assert event("function", "line", 1665532815.0)["time"] == "2022-10-12T00:00:15.000Z"


@pytest.mark.parametrize(
    ("event_type", "expected"),
    [
        ("platform.start", "platform"),
        ("platform.report", "platform"),
        ("platform.telemetrySubscription", "platform"),
        ("function", "function"),
        ("extension", "extension"),
    ],
)
def test_events_are_routed_by_category(event_type, expected):
    assert category(event_type) == expected


@pytest.mark.parametrize("event_type", ["platform", "functions", "log", ""])
def test_unknown_event_types_are_a_bug(event_type):
    with pytest.raises(ValueError):
        category(event_type)


# --- the batching decision ----------------------------------------------------------------------

POLICY = Buffering(max_items=1000, max_bytes=262144, timeout_ms=100)


class FakeClock:
    def __init__(self, now: float = 500.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_nothing_queued_is_never_due():
    assert due_in(POLICY, items=0, size=0, oldest=None, now=1e9) is None


@pytest.mark.parametrize("items", [1, 2, 999, 1000, 1001])
@pytest.mark.parametrize("size", [10, 262143, 262144, 262145])
@pytest.mark.parametrize("age_ms", [0, 50, 99, 100, 101, 100_000])
def test_batch_is_due_when_full_or_old(items, size, age_ms):
    clock = FakeClock()
    oldest = clock()
    clock.advance(age_ms / 1000)
    wait = due_in(POLICY, items=items, size=size, oldest=oldest, now=clock())
    full = items >= 1000 or size >= 262144
    if full or age_ms >= 100:
        assert wait == 0.0
    else:
        assert wait == pytest.approx((100 - age_ms) / 1000)


def test_waiting_the_announced_time_makes_the_batch_due():
    clock = FakeClock()
    oldest = clock()
    for _ in range(5):
        wait = due_in(POLICY, items=3, size=300, oldest=oldest, now=clock())
        if wait == 0.0:
            break
        clock.advance(wait)
    assert due_in(POLICY, items=3, size=300, oldest=oldest, now=clock()) == 0.0
    assert clock() - oldest == pytest.approx(0.1)


# --- delivery to a real listener ---------------------------------------------------------------


class Listener:
    """A local Telemetry API listener: records each POST; answers ``statuses`` first, then 200."""

    def __init__(self, statuses=()) -> None:
        self.requests: list[dict] = []
        self.statuses = list(statuses)
        self.cond = threading.Condition()
        self.entered = threading.Event()
        self.release = threading.Event()
        self.release.set()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler(), False)
        self.server.server_bind()  # bound but not listening: connections are refused
        self.thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def start(self) -> None:
        self.server.server_activate()
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        if self.thread is not None:
            self.server.shutdown()
        self.server.server_close()

    def batches(self, status: int = 200) -> list[list[dict]]:
        with self.cond:
            return [r["events"] for r in self.requests if r["status"] == status]

    def wait_for_events(self, count: int, timeout: float = 5.0) -> None:
        with self.cond:
            assert self.cond.wait_for(lambda: self._delivered() >= count, timeout)

    def _delivered(self) -> int:
        return sum(len(r["events"]) for r in self.requests if r["status"] == 200)

    def _handler(self):
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                data = self.rfile.read(int(self.headers["Content-Length"]))
                listener.entered.set()
                listener.release.wait(10)
                with listener.cond:
                    status = listener.statuses.pop(0) if listener.statuses else 200
                    listener.requests.append(
                        {
                            "path": self.path,
                            "headers": dict(self.headers),
                            "events": json.loads(data),
                            "status": status,
                        }
                    )
                    listener.cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        return Handler


@pytest.fixture
def listener():
    server = Listener()
    server.start()
    yield server
    server.close()


@pytest.fixture
def dispatcher():
    running = TelemetryDispatcher(backoff=lambda attempt: 0.0)
    yield running
    running.close()


def subscribe(dispatcher, name, port, types=("platform", "function", "extension"), **buffering):
    policy = {"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 30000, **buffering}
    request = {
        "schemaVersion": "2022-12-13",
        "types": list(types),
        "buffering": policy,
        "destination": {"protocol": "HTTP", "URI": f"http://sandbox.localdomain:{port}/telemetry"},
    }
    dispatcher.subscribe(name, validate_subscription(request))


def log_line(n: int, size: int = 10) -> dict:
    return event("function", f"{n:06d} " + "x" * size, 1665532815.0)


def test_batches_are_posted_as_json_arrays(dispatcher, listener):
    subscribe(dispatcher, "ext", listener.port)
    start = event("platform.start", {"requestId": "r1"}, 1665532815.0)
    dispatcher.emit(start)
    dispatcher.emit(log_line(1))
    assert dispatcher.flush()
    [request] = listener.requests
    assert request["path"] == "/telemetry"
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["headers"]["Host"] == f"sandbox.localdomain:{listener.port}"
    assert request["events"] == [start, log_line(1)]
    assert dispatcher.delivered == {"ext": 2} and dispatcher.dropped == {"ext": 0}


def test_full_batches_go_out_without_waiting_for_the_timeout(dispatcher, listener):
    subscribe(dispatcher, "ext", listener.port, maxItems=1000, timeoutMs=30000)
    for n in range(2500):
        dispatcher.emit(log_line(n))
    listener.wait_for_events(2000)  # well before the 30 s timeout
    assert dispatcher.flush()
    sizes = [len(batch) for batch in listener.batches()]
    assert sizes == [1000, 1000, 500]
    received = [e["record"] for batch in listener.batches() for e in batch]
    assert received == [log_line(n)["record"] for n in range(2500)]


def test_batches_close_when_max_bytes_is_reached(dispatcher, listener):
    subscribe(dispatcher, "ext", listener.port, maxBytes=262144)
    line_size = len(json.dumps(log_line(0, 4000), separators=(",", ":")))
    for n in range(150):
        dispatcher.emit(log_line(n, 4000))
    assert dispatcher.flush()
    per_batch = -(-262144 // line_size)  # the event that reaches maxBytes closes the batch
    sizes = [len(batch) for batch in listener.batches()]
    assert sizes[:-1] == [per_batch] * (len(sizes) - 1)
    assert sum(sizes) == 150


def test_a_batch_goes_out_when_its_timeout_passes(dispatcher, listener):
    subscribe(dispatcher, "ext", listener.port, timeoutMs=25)
    dispatcher.emit(log_line(1))
    listener.wait_for_events(1)  # no flush: only the timeout can have sent it


def test_each_subscriber_gets_only_its_types(dispatcher, listener):
    subscribe(dispatcher, "platform-only", listener.port, types=["platform"])
    other = Listener()
    other.start()
    try:
        subscribe(dispatcher, "logs", other.port, types=["function", "extension"])
        dispatcher.emit(event("platform.start", {"requestId": "r1"}, 0.0))
        dispatcher.emit(event("function", "hello", 0.0))
        dispatcher.emit(event("extension", "ext says hi", 0.0))
        assert dispatcher.flush()
        assert [e["type"] for b in listener.batches() for e in b] == ["platform.start"]
        assert [e["type"] for b in other.batches() for e in b] == ["function", "extension"]
    finally:
        other.close()


def test_replayed_events_go_only_to_the_named_subscriber(dispatcher, listener):
    subscribe(dispatcher, "early", listener.port)
    other = Listener()
    other.start()
    try:
        subscribe(dispatcher, "late", other.port, types=["platform"])
        dispatcher.emit(event("platform.start", {"requestId": "r1"}, 0.0), only="late")
        dispatcher.emit(event("function", "not a platform event", 0.0), only="late")
        assert dispatcher.flush()
        assert listener.requests == []
        assert [e["type"] for b in other.batches() for e in b] == ["platform.start"]
    finally:
        other.close()


def test_nothing_is_delivered_while_paused(dispatcher, listener):
    subscribe(dispatcher, "ext", listener.port, timeoutMs=25)
    dispatcher.pause()
    dispatcher.emit(log_line(1))
    assert dispatcher.flush(timeout=0.3) is False
    assert listener.requests == []
    dispatcher.resume()
    assert dispatcher.flush()
    assert listener.batches() == [[log_line(1)]]


def test_pause_waits_for_the_request_on_the_wire(dispatcher, listener):
    subscribe(dispatcher, "ext", listener.port)
    listener.release.clear()
    dispatcher.emit(log_line(1))
    flusher = threading.Thread(target=dispatcher.flush)
    flusher.start()
    assert listener.entered.wait(5)
    threading.Timer(0.1, listener.release.set).start()
    dispatcher.pause()
    assert listener.release.is_set()  # pause returned only after the listener answered
    assert len(listener.requests) == 1
    dispatcher.resume()
    flusher.join(5)


def test_retries_until_the_listener_answers_2xx(listener):
    listener.statuses = [500, 503]
    dispatcher = TelemetryDispatcher(backoff=lambda attempt: 0.0, retries=2)
    try:
        subscribe(dispatcher, "ext", listener.port)
        dispatcher.emit(log_line(1))
        assert dispatcher.flush()
        assert [r["status"] for r in listener.requests] == [500, 503, 200]
        assert dispatcher.delivered == {"ext": 1} and dispatcher.dropped == {"ext": 0}
    finally:
        dispatcher.close()


def test_listener_that_refuses_at_first_gets_the_batch_on_retry():
    listener = Listener()  # bound, not yet listening
    retries = []

    def backoff(attempt: int) -> float:
        retries.append(attempt)
        listener.start()  # the extension's listener comes up after the first refusal
        return 0.0

    dispatcher = TelemetryDispatcher(backoff=backoff)
    try:
        subscribe(dispatcher, "ext", listener.port)
        dispatcher.emit(log_line(1))
        assert dispatcher.flush()
        assert retries == [1]
        assert listener.batches() == [[log_line(1)]]
    finally:
        dispatcher.close()
        listener.close()


def test_a_batch_is_dropped_and_counted_after_the_last_retry(listener):
    listener.statuses = [500] * 3
    dispatcher = TelemetryDispatcher(backoff=lambda attempt: 0.0, retries=2)
    try:
        subscribe(dispatcher, "ext", listener.port)
        dispatcher.emit(log_line(1))
        dispatcher.emit(log_line(2))
        assert dispatcher.flush()
        assert len(listener.requests) == 3
        assert dispatcher.dropped == {"ext": 2} and dispatcher.delivered == {"ext": 0}
    finally:
        dispatcher.close()


def test_events_still_queued_at_close_count_as_dropped(listener):
    dispatcher = TelemetryDispatcher()
    subscribe(dispatcher, "ext", listener.port)
    dispatcher.pause()
    for n in range(5):
        dispatcher.emit(log_line(n))
    dispatcher.close()
    dispatcher.emit(log_line(6))
    assert dispatcher.dropped == {"ext": 6}
    assert listener.requests == []


def test_subscribing_again_replaces_the_destination(dispatcher, listener):
    other = Listener()
    other.start()
    try:
        subscribe(dispatcher, "ext", other.port)
        subscribe(dispatcher, "ext", listener.port)
        dispatcher.emit(log_line(1))
        assert dispatcher.flush()
        assert other.requests == [] and listener.batches() == [[log_line(1)]]
    finally:
        other.close()


def test_tcp_destination_gets_one_json_event_per_line(dispatcher):
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        dispatcher.subscribe(
            "ext", validate_subscription(body(destination={"protocol": "TCP", "port": port}))
        )
        for n in range(3):
            dispatcher.emit(log_line(n))
        assert dispatcher.flush()
        connection, _ = server.accept()
        with connection, connection.makefile("rb") as stream:
            lines = [json.loads(stream.readline()) for _ in range(3)]
    assert lines == [log_line(n) for n in range(3)]
