"""The extension's Telemetry API subscription: the HTTP listener Lambda delivers platform events
to, and the ``PUT /2022-07-01/telemetry`` request that points Lambda at it.

Why subscribe: ``platform.runtimeDone`` tells the extension how an invocation ended (a timeout,
a crash, running out of memory) as soon as the runtime is done with it, and ``platform.report``
and the init events carry what only Lambda knows (memory used, init duration, a failed init).
The extension works without them: AWS's emulator answers the subscription with 202
``Telemetry.NotSupported``, which ``subscribe`` reports as ``NOT_SUPPORTED`` for the caller to
note quietly.

Where Lambda delivers (lambda-platform.md §3.1): the destination must be
``http://sandbox.localdomain:PORT/...``, the listener must be up before subscribing, and the
port must not be 9001. The listener binds to what ``sandbox.localdomain`` resolves to when that
is an address of this sandbox (loopback or link-local, as in Lambda), else to 127.0.0.1, where
local emulators deliver (AWS's emulator posts to ``127.0.0.1:PORT`` and drops the path, so any
path is accepted). Never to a routable address: the listener has no authentication, so being
reachable only from inside the sandbox is its protection.

One thread serves one connection at a time and answers ``Connection: close``, so every batch
comes on a connection of its own and no idle keep-alive connection can hold the thread (a
stalled one is dropped after ``REQUEST_TIMEOUT_S``). It answers 200 before parsing, so Lambda's
delivery never waits on the extension, then hands the records to ``on_records`` on that
thread; nothing a delivery holds, and no error of the callback, ends the thread. A bad batch is
answered 200 too: any other answer makes Lambda send it again.

Imports: nothing but ``_socket`` and ``threading``. The listener is made, and the subscription
sent, before the extension's first ``next``, where ``http.server`` (~20 ms with the ``email``
and ``ssl`` it loads) would compete with the runtime's init: a POST with a Content-Length body
is all Lambda sends, so it is read by hand (lambda_api.py does the same for the requests).
"""

from __future__ import annotations

import _socket
import sys
import threading

TYPE_CHECKING = False  # `typing` is not imported before registration
if TYPE_CHECKING:
    from collections.abc import Callable

TELEMETRY_PATH = "/2022-07-01/telemetry"
SCHEMA_VERSION = "2022-12-13"
SANDBOX_HOST = "sandbox.localdomain"
LOOPBACK = "127.0.0.1"
LISTENER_PATH = "/xraylayer/telemetry"
RUNTIME_API_PORT = 9001  # Lambda's APIs; the docs forbid it as a destination
BUFFERING = {"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 25}
"""The smallest batches Lambda allows: ``runtimeDone`` is due 25 ms after it was written (the
default is a second), and a batch is at most 256 KiB of events."""

SUBSCRIBED = "subscribed"
NOT_SUPPORTED = "not_supported"  # 202: an emulator without the Telemetry API
REFUSED = "refused"  # 400 and any other answer
UNREACHABLE = "unreachable"  # no answer at all

REQUEST_FAILED = "request failed"  # a delivery the handler could not answer (counted as malformed)
REQUEST_TIMEOUT_S = 5.0  # both for subscribing and for a delivery that stalls mid-body
_DRAIN_CHUNK = 64 << 10
_MAX_HEAD_BYTES = 16 << 10
_ANSWERS = {
    200: b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    400: b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    501: b"HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
}
_MAX_MESSAGE = 300


class SubscribeOutcome:
    """How the subscription went: ``kind`` (SUBSCRIBED, NOT_SUPPORTED, REFUSED, UNREACHABLE),
    the HTTP ``status`` when there was one, and a ``message`` worth a log line."""

    __slots__ = ("kind", "message", "status")

    def __init__(self, kind: str, status: int | None, message: str) -> None:
        self.kind = kind
        self.status = status
        self.message = message

    def __repr__(self) -> str:
        return f"SubscribeOutcome({self.kind!r}, {self.status!r}, {self.message!r})"


class TelemetryListener:
    """The HTTP server Lambda POSTs batches to, serving on its own thread from construction
    until ``close``.

    ``on_records`` gets the records of each batch that has any (telemetry_events), always on
    the listener's thread, one batch at a time. The counts say what was not used: ``ignored``
    events of other types, ``malformed`` by reason, ``callback_errors``. Raises OSError when it
    cannot listen at all.
    """

    def __init__(self, on_records: Callable[[list], None]) -> None:
        self._on_records = on_records
        self.batches = 0
        self.ignored = 0
        self.malformed: dict[str, int] = {}
        self.callback_errors = 0
        self._socket = _listening_socket()
        self.host, self.port = self._socket.getsockname()[:2]
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name="xraylayer-telemetry", daemon=True)
        self._thread.start()

    @property
    def uri(self) -> str:
        """The destination to subscribe: Lambda accepts ``sandbox.localdomain`` only."""
        return f"http://{SANDBOX_HOST}:{self.port}{LISTENER_PATH}"

    def accept(self, body: bytes) -> None:
        """Parse one delivered body, count what is not used, hand the records on; never raises.
        The listener's thread calls this after answering the delivery."""
        from .telemetry_events import parse_batch

        batch = parse_batch(body)
        self.batches += 1
        self.ignored += batch.ignored
        for reason, count in batch.malformed.items():
            self.count_malformed(reason, count)
        if not batch.records:
            return
        try:
            self._on_records(batch.records)
        except Exception as error:
            self.callback_errors += 1
            if self.callback_errors == 1:  # once: the count shows the rest
                _log(f"telemetry callback failed: {type(error).__name__}: {error}")

    def count_malformed(self, reason: str, count: int = 1) -> None:
        self.malformed[reason] = self.malformed.get(reason, 0) + count

    def close(self) -> None:
        """Stop serving and release the port; a delivery being handled is finished first."""
        if self._closed:
            return
        import contextlib

        self._closed = True
        with contextlib.suppress(OSError):
            self._socket.shutdown(_socket.SHUT_RDWR)  # wakes the waiting thread
        self._thread.join(REQUEST_TIMEOUT_S)
        self._socket.close()

    def _serve(self) -> None:
        while not self._closed:
            try:
                connection, _ = self._socket._accept()
            except OSError:
                continue
            try:
                self._handle(_socket.socket(fileno=connection))
            except Exception:
                self.count_malformed(REQUEST_FAILED)

    def _handle(self, connection: _socket.socket) -> None:
        """Read one request, answer it, close; then hand a POST's body to ``accept``."""
        try:
            connection.settimeout(REQUEST_TIMEOUT_S)
            method, length, rest = _read_head(connection)
            if method is None:
                connection.sendall(_ANSWERS[400])
                return
            if method != "POST":
                connection.sendall(_ANSWERS[501])
                return
            body = _read_body(connection, rest, length) if length is not None else b""
            connection.sendall(_ANSWERS[200])
        finally:
            connection.close()
        self.accept(body)  # an empty body (no Content-Length) is counted by parse_batch


def subscribe(runtime_api: str, identifier: str, listener: TelemetryListener) -> SubscribeOutcome:
    """Subscribe ``listener`` to the ``platform`` events; never raises."""
    from .lambda_api import ApiError, request

    headers = {"Lambda-Extension-Identifier": identifier, "Content-Type": "application/json"}
    body = subscription_body(listener.uri)
    try:
        answer = request(
            runtime_api, "PUT", TELEMETRY_PATH, headers, body, timeout_s=REQUEST_TIMEOUT_S
        )
    except ApiError as error:
        detail = error.__cause__ or error
        message = f"cannot reach the Telemetry API at {runtime_api}: {detail}"
        return SubscribeOutcome(UNREACHABLE, None, message)
    return outcome_of(answer.status, answer.body)


def subscription_body(uri: str) -> bytes:
    """The subscription request: ``platform`` events only, in the smallest batches."""
    import json

    return json.dumps(
        {
            "schemaVersion": SCHEMA_VERSION,
            "types": ["platform"],
            "buffering": BUFFERING,
            "destination": {"protocol": "HTTP", "URI": uri},
        }
    ).encode()


def outcome_of(status: int, body: bytes) -> SubscribeOutcome:
    """What the Telemetry API's answer means: 200 subscribed, 202 not supported (AWS's
    emulator), anything else refused, with Lambda's ``errorType: errorMessage`` if it sent one."""
    if status == 200:
        return SubscribeOutcome(SUBSCRIBED, status, "subscribed to platform events")
    if status == 202:
        return SubscribeOutcome(NOT_SUPPORTED, status, _error_text(body) or "not supported")
    text = _error_text(body)
    return SubscribeOutcome(REFUSED, status, f"HTTP {status}: {text}" if text else f"HTTP {status}")


def _error_text(body: bytes) -> str:
    """``errorType: errorMessage`` of an API error body, else the body itself, shortened."""
    import json

    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        document = None
    if isinstance(document, dict) and ("errorType" in document or "errorMessage" in document):
        parts = (document.get("errorType"), document.get("errorMessage"))
        text = ": ".join(str(part) for part in parts if part is not None)
    else:
        text = body.decode("utf-8", "replace").strip()
    return text[:_MAX_MESSAGE]


def listen_host(addresses: list[str]) -> str:
    """Where to listen, given what ``sandbox.localdomain`` resolves to: the first address that
    is loopback or link-local (only this sandbox reaches those), else 127.0.0.1."""
    for address in addresses:
        if address.startswith(("127.", "169.254.")):
            return address
    return LOOPBACK


def _resolve(host: str) -> list[str]:
    """The IPv4 addresses of ``host``; none when it does not resolve (outside Lambda)."""
    try:
        # bytes: a str host makes getaddrinfo import the idna codec (~1 ms before `next`)
        found = _socket.getaddrinfo(host.encode(), None, _socket.AF_INET, _socket.SOCK_STREAM)
    except OSError:
        return []
    return [address[4][0] for address in found]


def _listening_socket() -> _socket.socket:
    """A listening socket on a free port that is not 9001: on ``sandbox.localdomain``'s address
    when it may listen there, else (or when binding there fails) on 127.0.0.1."""
    host = listen_host(_resolve(SANDBOX_HOST))
    try:
        return _bind(host)
    except OSError:
        if host == LOOPBACK:
            raise
        return _bind(LOOPBACK)


def _bind(host: str) -> _socket.socket:
    """A socket listening on a port the system picks; if that is 9001, another one, picked
    while 9001 is still held so it cannot come back."""
    listening = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
    try:
        listening.bind((host, 0))
        listening.listen(8)
    except OSError:
        listening.close()
        raise
    if listening.getsockname()[1] != RUNTIME_API_PORT:
        return listening
    try:
        return _bind(host)
    finally:
        listening.close()


def _read_head(connection: _socket.socket) -> tuple[str | None, int | None, bytes]:
    """(method, Content-Length, the bytes read past the head); method None when what came is
    not an HTTP request."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(4096)
        if not chunk or len(data) > _MAX_HEAD_BYTES:
            return None, None, b""
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    request_line, *lines = head.decode("latin-1").split("\r\n")
    parts = request_line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        return None, None, b""
    length = None
    for line in lines:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = _content_length(value)
    return parts[0], length, rest


def _read_body(connection: _socket.socket, rest: bytes, length: int | None) -> bytes:
    """Up to one byte more than ``MAX_BATCH_BYTES``, which ``parse_batch`` counts as too
    large; the rest is read and dropped so the answer reaches Lambda."""
    from .telemetry_events import MAX_BATCH_BYTES

    length = length or 0
    limit = min(length, MAX_BATCH_BYTES + 1)
    chunks, received = [rest[:limit]], len(rest)
    while received < length:
        chunk = connection.recv(min(_DRAIN_CHUNK, length - received))
        if not chunk:
            break
        if sum(map(len, chunks)) < limit:
            chunks.append(chunk[: limit - sum(map(len, chunks))])
        received += len(chunk)
    return b"".join(chunks)


def _content_length(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isascii() and value.isdigit() else None


def _log(message: str) -> None:
    print(f"xraylayer: {message}", file=sys.stderr, flush=True)
