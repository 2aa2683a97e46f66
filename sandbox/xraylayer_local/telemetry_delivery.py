"""Telemetry API subscriptions and the delivery of events to subscribed extensions.

An extension subscribes during init (``PUT /2022-07-01/telemetry``) with a destination on
``sandbox.localdomain`` and a buffering policy; Lambda then POSTs JSON arrays of events to it,
a batch whenever ``maxItems`` or ``maxBytes`` is reached or ``timeoutMs`` has passed since the
batch's first event, retrying with backoff when the listener fails or is not there yet.

The batching decision (``due_in``) is a pure function of the queue and the time, so it can be
tested exhaustively; ``TelemetryDispatcher`` only moves bytes: one thread per subscriber, which
makes no delivery attempt at all while the environment is paused (frozen between invokes).
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

SCHEMA_VERSIONS = ("2022-07-01", "2022-12-13", "2025-01-29")
CATEGORIES = ("platform", "function", "extension")
SANDBOX_HOST = "sandbox.localdomain"
RUNTIME_API_PORT = 9001  # the documented port of the Lambda APIs, never a listener's
BUFFERING_LIMITS = {  # JSON name: (minimum, maximum, default)
    "maxItems": (1000, 10000, 10000),
    "maxBytes": (262144, 1048576, 262144),
    "timeoutMs": (25, 30000, 1000),
}


class SubscriptionInvalid(Exception):
    """A subscription request Lambda answers with 400 ``ValidationError``."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Buffering:
    """When a batch is due: ``max_items`` events, ``max_bytes`` of JSON, or ``timeout_ms``."""

    max_items: int = 10000
    max_bytes: int = 262144
    timeout_ms: int = 1000


@dataclass(frozen=True)
class Destination:
    """Where batches go: an HTTP ``path`` on ``127.0.0.1:port`` or a TCP stream to it."""

    protocol: str  # "HTTP" or "TCP"
    port: int
    path: str = "/"  # HTTP only: path and query of the subscribed URI


@dataclass(frozen=True)
class Subscription:
    """A validated subscription request."""

    schema_version: str
    types: frozenset[str]
    destination: Destination
    buffering: Buffering = field(default_factory=Buffering)


# --- validation ---------------------------------------------------------------------------------


def validate_subscription(body: object) -> Subscription:
    """The subscription in a decoded request body; raises ``SubscriptionInvalid`` otherwise."""
    if not isinstance(body, dict):
        raise SubscriptionInvalid("the subscription must be a JSON object")
    # Unknown top-level keys pass: Lambda's own schema does not forbid them, and an extension
    # that subscribes fine in Lambda must subscribe fine here.
    version = body.get("schemaVersion")
    if version not in SCHEMA_VERSIONS:
        raise SubscriptionInvalid(f"schemaVersion must be one of {', '.join(SCHEMA_VERSIONS)}")
    return Subscription(
        schema_version=version,
        types=_validate_types(body.get("types")),
        destination=_validate_destination(body.get("destination")),
        buffering=_validate_buffering(body.get("buffering", {})),
    )


def _validate_types(types: object) -> frozenset[str]:
    if not isinstance(types, list) or not types:
        raise SubscriptionInvalid("types must be a non-empty array")
    for item in types:
        if item not in CATEGORIES:
            raise SubscriptionInvalid(f"types may only hold {', '.join(CATEGORIES)}: {item!r}")
    return frozenset(types)


def _validate_destination(destination: object) -> Destination:
    if not isinstance(destination, dict):
        raise SubscriptionInvalid("destination must be an object")
    protocol = destination.get("protocol")
    if protocol == "HTTP":
        return _http_destination(destination.get("URI"))
    if protocol == "TCP":
        return Destination("TCP", _listener_port(destination.get("port")))
    raise SubscriptionInvalid("destination.protocol must be HTTP or TCP")


def _http_destination(uri: object) -> Destination:
    if not isinstance(uri, str) or not uri:
        raise SubscriptionInvalid("destination.URI must be a non-empty string")
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError as error:
        raise SubscriptionInvalid(f"destination.URI is not a URI: {error}") from None
    if parts.scheme != "http":
        raise SubscriptionInvalid("destination.URI must use http (never https)")
    if parts.hostname != SANDBOX_HOST:
        raise SubscriptionInvalid(f"destination.URI host must be {SANDBOX_HOST}")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Destination("HTTP", _listener_port(80 if port is None else port), path)


def _listener_port(port: object) -> int:
    if type(port) is not int or not 1 <= port <= 65535:
        raise SubscriptionInvalid("destination port must be an integer from 1 to 65535")
    if port == RUNTIME_API_PORT:
        raise SubscriptionInvalid(f"destination port must not be {RUNTIME_API_PORT}")
    return port


def _validate_buffering(buffering: object) -> Buffering:
    if not isinstance(buffering, dict):
        raise SubscriptionInvalid("buffering must be an object")
    values = {}
    for name, (minimum, maximum, default) in BUFFERING_LIMITS.items():
        value = buffering.get(name, default)
        if type(value) is not int or not minimum <= value <= maximum:
            raise SubscriptionInvalid(f"buffering.{name} must be an integer {minimum}-{maximum}")
        values[name] = value
    return Buffering(values["maxItems"], values["maxBytes"], values["timeoutMs"])


# --- events and the batching decision -----------------------------------------------------------


def event(type: str, record: Any, now: float) -> dict:
    """A Telemetry API event; ``now`` (epoch seconds) becomes ``time``, ISO-8601 UTC with ms."""
    moment = datetime.fromtimestamp(now, timezone.utc)
    stamp = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {"time": stamp, "type": type, "record": record}


def category(event_type: str) -> str:
    """The subscription type that receives events of ``event_type``."""
    if event_type.startswith("platform."):
        return "platform"
    if event_type in ("function", "extension"):
        return event_type
    raise ValueError(f"not a Telemetry API event type: {event_type!r}")


def due_in(
    buffering: Buffering, *, items: int, size: int, oldest: float | None, now: float
) -> float | None:
    """Seconds until the open batch must be sent: 0.0 when it is due now, None when it is
    empty (nothing to wait for). ``oldest`` is when its first event was queued."""
    if items == 0 or oldest is None:
        return None
    if items >= buffering.max_items or size >= buffering.max_bytes:
        return 0.0
    return max(0.0, oldest + buffering.timeout_ms / 1000 - now)


def default_backoff(attempt: int) -> float:
    """Seconds to wait before retry number ``attempt`` (1, 2, ...): doubling from 50 ms to 1 s."""
    return min(0.05 * 2 ** (attempt - 1), 1.0)


# --- delivery -----------------------------------------------------------------------------------


class DeliveryFailed(Exception):
    """The listener answered, but not with 2xx."""


def post_batch(destination: Destination, body: bytes, timeout: float) -> None:
    """POST ``body`` to an HTTP destination; ``sandbox.localdomain`` is this machine."""
    connection = http.client.HTTPConnection("127.0.0.1", destination.port, timeout=timeout)
    headers = {
        "Host": f"{SANDBOX_HOST}:{destination.port}",
        "Content-Type": "application/json",
    }
    try:
        connection.request("POST", destination.path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
    finally:
        connection.close()
    if not 200 <= response.status < 300:
        raise DeliveryFailed(f"listener answered HTTP {response.status}")


@dataclass(eq=False)
class _Subscriber:
    """One extension's queue; guarded by the dispatcher's condition, except ``stream``."""

    name: str
    subscription: Subscription
    open_batch: list[bytes] = field(default_factory=list)
    open_size: int = 0
    open_since: float | None = None
    ready: deque[list[bytes]] = field(default_factory=deque)
    busy: bool = False  # holds a batch (sending or waiting to retry)
    attempting: bool = False  # a send is on the wire right now
    delivered: int = 0
    dropped: int = 0
    stream: socket.socket | None = None  # TCP destinations; used by the delivery thread only
    stream_port: int = 0
    thread: threading.Thread | None = None

    def due_in(self, now: float) -> float | None:
        return due_in(
            self.subscription.buffering,
            items=len(self.open_batch),
            size=self.open_size,
            oldest=self.open_since,
            now=now,
        )

    def close_open_batch(self) -> None:
        if self.open_batch:
            self.ready.append(self.open_batch)
        self.open_batch, self.open_size, self.open_since = [], 0, None

    def queued(self) -> int:
        return len(self.open_batch) + sum(len(batch) for batch in self.ready)

    def idle(self) -> bool:
        return not self.open_batch and not self.ready and not self.busy


class TelemetryDispatcher:
    """Routes events to subscribers and delivers them in batches, one thread per subscriber.

    ``clock`` (seconds, monotonic) times the batches; the delivery threads wait on real time.
    A batch that still fails after ``retries`` retries is dropped and counted in ``dropped``.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        retries: int = 4,
        backoff: Callable[[int], float] = default_backoff,
        request_timeout: float = 5.0,
    ) -> None:
        self._clock = clock
        self._retries = retries
        self._backoff = backoff
        self._request_timeout = request_timeout
        self._cond = threading.Condition()
        self._subscribers: dict[str, _Subscriber] = {}
        self._paused = False
        self._closed = False
        self._flushes = 0

    # --- the sandbox's side ---

    def subscribe(self, extension_name: str, subscription: Subscription) -> None:
        """Start delivering to ``extension_name``; subscribing again replaces its settings."""
        with self._cond:
            if self._closed:
                raise RuntimeError("TelemetryDispatcher is closed")
            existing = self._subscribers.get(extension_name)
            if existing is not None:
                existing.subscription = subscription
                self._cond.notify_all()
                return
            subscriber = _Subscriber(extension_name, subscription)
            subscriber.thread = threading.Thread(
                target=self._deliver_loop,
                args=(subscriber,),
                name=f"telemetry-{extension_name}",
                daemon=True,
            )
            self._subscribers[extension_name] = subscriber
            subscriber.thread.start()

    def emit(self, event_dict: dict, *, only: str | None = None) -> None:
        """Queue an event (as built by ``event()``) for every subscriber of its type, or for
        the subscriber ``only`` alone (replaying earlier events to a new subscriber)."""
        kind = category(event_dict["type"])
        data = json.dumps(event_dict, separators=(",", ":")).encode()
        with self._cond:
            now = self._clock()
            for name, subscriber in self._subscribers.items():
                if kind not in subscriber.subscription.types or only not in (None, name):
                    continue
                if self._closed:
                    subscriber.dropped += 1
                    continue
                self._enqueue(subscriber, data, now)
            self._cond.notify_all()

    def pause(self) -> None:
        """Stop all delivery attempts (the environment is being frozen); returns once no
        attempt is on the wire, or after the request timeout."""
        with self._cond:
            self._paused = True
            self._cond.wait_for(self._nothing_on_the_wire, self._request_timeout + 1.0)

    def resume(self) -> None:
        """Allow delivery again; batches that fell due while paused go out at once."""
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    def flush(self, timeout: float = 2.0) -> bool:
        """Send every queued event now, batches still respecting ``maxItems``/``maxBytes``.

        True when every subscriber's queue is empty (delivered or counted as dropped); False
        when ``timeout`` passed first, which is always the case while paused.
        """
        with self._cond:
            self._flushes += 1
            self._cond.notify_all()
            try:
                return self._cond.wait_for(self._all_idle, timeout)
            finally:
                self._flushes -= 1

    def close(self, timeout: float = 2.0) -> None:
        """Stop the delivery threads; whatever was not delivered counts as dropped."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            subscribers = list(self._subscribers.values())
        for subscriber in subscribers:
            if subscriber.thread is not None:
                subscriber.thread.join(timeout)
        with self._cond:
            for subscriber in subscribers:
                subscriber.dropped += subscriber.queued()
                subscriber.close_open_batch()
                subscriber.ready.clear()

    @property
    def subscriptions(self) -> dict[str, Subscription]:
        with self._cond:
            return {name: s.subscription for name, s in self._subscribers.items()}

    @property
    def delivered(self) -> dict[str, int]:
        """Events delivered per extension."""
        with self._cond:
            return {name: s.delivered for name, s in self._subscribers.items()}

    @property
    def dropped(self) -> dict[str, int]:
        """Events given up on per extension (retries exhausted, or still queued at close)."""
        with self._cond:
            return {name: s.dropped for name, s in self._subscribers.items()}

    # --- queue state (call with the condition held) ---

    def _enqueue(self, subscriber: _Subscriber, data: bytes, now: float) -> None:
        if not subscriber.open_batch:
            subscriber.open_since = now
        subscriber.open_batch.append(data)
        subscriber.open_size += len(data)
        if subscriber.due_in(now) == 0.0:
            subscriber.close_open_batch()  # full: later events start the next batch

    def _take_batch(self, subscriber: _Subscriber) -> list[bytes] | None:
        if not subscriber.ready:
            wait = subscriber.due_in(self._clock())
            if wait is None or (wait > 0 and not self._flushes):
                return None
            subscriber.close_open_batch()
        return subscriber.ready.popleft()

    def _seconds_to_wait(self, subscriber: _Subscriber) -> float | None:
        return None if self._paused else subscriber.due_in(self._clock())

    def _nothing_on_the_wire(self) -> bool:
        return not any(s.attempting for s in self._subscribers.values())

    def _all_idle(self) -> bool:
        return all(s.idle() for s in self._subscribers.values())

    # --- the delivery thread ---

    def _deliver_loop(self, subscriber: _Subscriber) -> None:
        while True:
            batch = self._next_batch(subscriber)
            if batch is None:
                break
            delivered = self._deliver(subscriber, batch)
            with self._cond:
                subscriber.busy = False
                if delivered:
                    subscriber.delivered += len(batch)
                else:
                    subscriber.dropped += len(batch)
                self._cond.notify_all()
        if subscriber.stream is not None:
            subscriber.stream.close()

    def _next_batch(self, subscriber: _Subscriber) -> list[bytes] | None:
        """Wait for a batch that is due (None once closed) and mark the subscriber busy."""
        with self._cond:
            while not self._closed:
                batch = None if self._paused else self._take_batch(subscriber)
                if batch is not None:
                    subscriber.busy = True
                    return batch
                self._cond.wait(self._seconds_to_wait(subscriber))
            return None

    def _deliver(self, subscriber: _Subscriber, batch: list[bytes]) -> bool:
        """Send ``batch``, retrying with backoff; False when it has to be dropped."""
        for attempt in range(self._retries + 1):
            if attempt and not self._wait_before_retry(attempt):
                return False
            if not self._begin_attempt(subscriber):
                return False
            try:
                self._send(subscriber, batch)
                return True
            except (OSError, http.client.HTTPException, DeliveryFailed):
                continue
            finally:
                with self._cond:
                    subscriber.attempting = False
                    self._cond.notify_all()
        return False

    def _wait_before_retry(self, attempt: int) -> bool:
        delay = self._backoff(attempt)
        with self._cond:
            return not self._cond.wait_for(lambda: self._closed, delay)

    def _begin_attempt(self, subscriber: _Subscriber) -> bool:
        """Wait until not paused and mark an attempt on the wire; False once closed."""
        with self._cond:
            self._cond.wait_for(lambda: self._closed or not self._paused)
            if self._closed:
                return False
            subscriber.attempting = True
            return True

    def _send(self, subscriber: _Subscriber, batch: list[bytes]) -> None:
        destination = subscriber.subscription.destination
        if destination.protocol == "HTTP":
            body = b"[" + b",".join(batch) + b"]"
            post_batch(destination, body, self._request_timeout)
            return
        stream = self._stream_to(subscriber, destination.port)
        try:
            stream.sendall(b"".join(line + b"\n" for line in batch))
        except OSError:
            stream.close()
            subscriber.stream = None
            raise

    def _stream_to(self, subscriber: _Subscriber, port: int) -> socket.socket:
        """The subscriber's TCP connection, (re)opened when missing or pointed elsewhere."""
        stream = subscriber.stream
        if stream is not None and subscriber.stream_port != port:
            stream.close()
            stream = None
        if stream is None:
            address = ("127.0.0.1", port)
            stream = socket.create_connection(address, timeout=self._request_timeout)
            subscriber.stream, subscriber.stream_port = stream, port
        return stream
