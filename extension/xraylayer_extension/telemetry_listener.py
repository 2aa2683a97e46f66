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

One thread serves one connection at a time and answers in HTTP/1.0, so every batch comes on a
connection of its own and no idle keep-alive connection can hold the thread (a stalled one is
dropped after ``REQUEST_TIMEOUT_S``). It answers 200 before parsing, so Lambda's delivery never
waits on the extension, then hands the records to ``on_records`` on that thread; nothing a
delivery holds, and no error of the callback, ends the thread. A bad batch is answered 200 too:
any other answer makes Lambda send it again.

Imports: ``http.server`` / ``socketserver`` (~6 ms on top of ``http.client``) and
``http.client`` are imported inside functions, after registration, like the rest of main_loop.
"""

from __future__ import annotations

import _socket
import sys
import threading

TYPE_CHECKING = False  # `typing` is not imported before registration
if TYPE_CHECKING:
    from collections.abc import Callable
    from socketserver import TCPServer

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
        self._server = _listening_server(self)
        self.host, self.port = self._server.server_address[:2]
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
            self._server.socket.shutdown(_socket.SHUT_RDWR)  # wakes the waiting thread
        self._thread.join(REQUEST_TIMEOUT_S)
        self._server.server_close()

    def _serve(self) -> None:
        while not self._closed:
            self._server.handle_request()


def subscribe(runtime_api: str, identifier: str, listener: TelemetryListener) -> SubscribeOutcome:
    """Subscribe ``listener`` to the ``platform`` events; never raises."""
    import http.client

    connection = None
    try:
        host, _, port = runtime_api.rpartition(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=REQUEST_TIMEOUT_S)
        connection.request(
            "PUT",
            TELEMETRY_PATH,
            body=subscription_body(listener.uri),
            headers={"Lambda-Extension-Identifier": identifier, "Content-Type": "application/json"},
        )
        response = connection.getresponse()
        return outcome_of(response.status, response.read())
    except (OSError, ValueError, http.client.HTTPException) as error:
        message = f"cannot reach the Telemetry API at {runtime_api}: {error}"
        return SubscribeOutcome(UNREACHABLE, None, message)
    finally:
        if connection is not None:
            connection.close()


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
        found = _socket.getaddrinfo(host, None, _socket.AF_INET, _socket.SOCK_STREAM)
    except OSError:
        return []
    return [address[4][0] for address in found]


def _listening_server(listener: TelemetryListener) -> TCPServer:
    """A bound server on a free port that is not 9001: on ``sandbox.localdomain``'s address
    when it may listen there, else (or when binding there fails) on 127.0.0.1."""
    server_class = _server_class(listener)
    host = listen_host(_resolve(SANDBOX_HOST))
    try:
        return _bind(server_class, host)
    except OSError:
        if host == LOOPBACK:
            raise
        return _bind(server_class, LOOPBACK)


def _bind(server_class: Callable[[tuple[str, int]], TCPServer], host: str) -> TCPServer:
    """A server on a port the system picks; if that is 9001, another one, picked while 9001 is
    still held so it cannot come back."""
    server = server_class((host, 0))
    if server.server_address[1] != RUNTIME_API_PORT:
        return server
    try:
        return _bind(server_class, host)
    finally:
        server.server_close()


def _server_class(listener: TelemetryListener) -> Callable[[tuple[str, int]], TCPServer]:
    """The server class for ``listener``: one request at a time, failures counted (made here:
    ``socketserver`` is imported only now)."""
    import socketserver

    handler_class = _handler_class(listener)

    class TelemetryServer(socketserver.TCPServer):
        def __init__(self, address: tuple[str, int]) -> None:
            super().__init__(address, handler_class)

        def handle_error(self, request: object, client_address: object) -> None:
            """Counted: socketserver would print a traceback into the function's log."""
            listener.count_malformed(REQUEST_FAILED)

    return TelemetryServer


def _handler_class(listener: TelemetryListener) -> type:
    """The request handler for ``listener`` (made here: ``http.server`` is imported only now)."""
    from http.server import BaseHTTPRequestHandler

    from .telemetry_events import MAX_BATCH_BYTES

    class TelemetryHandler(BaseHTTPRequestHandler):
        timeout = REQUEST_TIMEOUT_S

        def do_POST(self) -> None:
            body = self._body()
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
            listener.accept(body)

        def _body(self) -> bytes:
            """Up to one byte more than ``MAX_BATCH_BYTES``, which ``parse_batch`` counts as
            too large; the rest is read and dropped so the answer reaches Lambda."""
            length = _content_length(self.headers.get("Content-Length"))
            if length is None:
                return b""  # not a batch Lambda sends; HTTP/1.0 closes the connection
            body = self.rfile.read(min(length, MAX_BATCH_BYTES + 1))
            _drain(self.rfile, length - len(body))
            return body

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the extension's output is the function's log."""

    return TelemetryHandler


def _content_length(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isascii() and value.isdigit() else None


def _drain(stream: object, remaining: int) -> None:
    while remaining > 0:
        chunk = stream.read(min(remaining, _DRAIN_CHUNK))  # type: ignore[attr-defined]
        if not chunk:
            return
        remaining -= len(chunk)


def _log(message: str) -> None:
    print(f"xraylayer: {message}", file=sys.stderr, flush=True)
