"""The HTTP part of the exporters that POST spans (``otlp_http``, ``xray_api``): one kept
connection to one endpoint, and "send this request body, with retries, until the deadline".

Both exporters meet the same conditions, so they share one answer to them and differ only in
what they send and how they read the answers:

- an export runs after each invocation, in time the sandbox is billed for, so the connection
  is kept for the next export rather than paying for a TCP (and TLS) handshake every time;
- the sandbox is frozen between invocations, and the server may close an idle connection
  meanwhile: the first request over a kept connection then fails at once. That attempt is made
  again on a new connection straight away, without a backoff;
- what may succeed later (answers the exporter's ``retry`` judges worth it, timeouts,
  connection errors) is tried again with exponential backoff and jitter (so that many sandboxes
  do not come back in step), or after the server's ``Retry-After``, for at most
  ``MAX_ATTEMPTS`` attempts and only while the next attempt can start before the deadline: an
  extension must never hold the sandbox past it. Each attempt waits for an answer no longer
  than the exporter's per-request timeout, nor past the deadline.

Cold start: this module imports ``os`` and ``time`` only; ``http.client`` and ``json`` are
imported at the first request, after a response has gone back.
"""

from __future__ import annotations

import os
import time

from .export_result import CONNECTION_ERROR, DEADLINE, TIMEOUT, ExportResult

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from http.client import HTTPConnection
    from typing import Protocol

    class Target(Protocol):
        """Where requests go: each exporter's ``Settings`` is one."""

        https: bool
        host: str
        port: int
        path: str  # with the query, if any


MAX_ATTEMPTS = 8  # per request, within the deadline
BACKOFF_INITIAL_S = 0.1
BACKOFF_MAX_S = 2.0
MAX_MESSAGE_CHARS = 300  # of an error message kept in an ExportResult or a log line


class Reply:
    """One HTTP answer: status, headers (an ``http.client.HTTPMessage``) and body."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def ok(self) -> bool:
        """A 2xx: the request landed (what the body says of its spans is the exporter's)."""
        return 200 <= self.status < 300


class Retry:
    """What an exporter's ``retry`` says of an answer worth trying again: the ``message`` its
    spans are dropped with (as ``http_<status>``) if no later attempt lands, and ``after``, the
    seconds the server asked to wait (``Retry-After``), or None for the backoff."""

    __slots__ = ("after", "message")

    def __init__(self, message: str, after: float | None = None) -> None:
        self.message = message
        self.after = after


class Delivery:
    """What came of ``HttpSender.send``, after ``attempts`` requests.

    ``reply`` is the answer that ended the attempts: a 2xx, or one ``retry`` did not think worth
    trying again. None when time or attempts ran out first: ``reason`` (``deadline``,
    ``timeout``, ``connection_error`` or ``http_<status>``) and ``message`` then say what the
    last attempt met.
    """

    __slots__ = ("attempts", "message", "reason", "reply")

    def __init__(
        self,
        reply: Reply | None,
        attempts: int,
        reason: str = DEADLINE,
        message: str | None = None,
    ) -> None:
        self.reply = reply
        self.attempts = attempts
        self.reason = reason
        self.message = message

    def dropped(self, count: int) -> ExportResult:
        """The request's ``count`` spans dropped for ``reason`` (when no ``reply`` came)."""
        return ExportResult(
            dropped={self.reason: count}, attempts=self.attempts, message=self.message
        )

    def refused(self, count: int, message: str) -> ExportResult:
        """The request's ``count`` spans after a ``reply`` that ended the attempts without a
        2xx: rejected by a 400 (the receiver read them and will not take them), else dropped
        as ``http_<status>`` (credentials, permissions, a wrong URL: not the spans' fault)."""
        status = self.reply.status if self.reply is not None else 0
        if status == 400:
            return ExportResult(rejected=count, attempts=self.attempts, message=message)
        return ExportResult(
            dropped={f"http_{status}": count}, attempts=self.attempts, message=message
        )


class HttpSender:
    """POSTs request bodies to one endpoint over a connection kept between exports, retrying
    what may succeed later until the deadline.

    ``clock`` is the monotonic clock deadlines are measured on and ``sleep`` the wait between
    attempts; tests replace both. Not thread-safe: one sender per exporter.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.clock = clock
        self.sleep = sleep
        self._connection: HTTPConnection | None = None
        self._connection_used = False  # it has carried an answer: the server may have closed it

    def send(
        self,
        target: Target,
        body: bytes,
        deadline: float,
        *,
        headers: Callable[[], Mapping[str, str]],
        timeout: float,
        retry: Callable[[Reply], Retry | None],
    ) -> Delivery:
        """POST ``body`` to ``target`` until an answer ends it, or time or attempts run out;
        never runs past ``deadline``. ``headers()`` gives each attempt's headers (so that a
        signature is as fresh as its attempt); ``retry`` judges every answer that is not a 2xx:
        a ``Retry`` to try again, None to stop at it. ``timeout`` bounds each attempt."""
        import http.client

        attempts = 0
        backoff = BACKOFF_INITIAL_S
        reason, message = DEADLINE, None
        while True:
            remaining = deadline - self.clock()
            if remaining <= 0:
                return Delivery(None, attempts, reason, message)
            attempts += 1
            reused = self._connection_used
            wait = None
            try:
                reply = self.post(target, body, headers(), min(remaining, timeout))
            except TimeoutError as error:
                self.close()
                reason, message = TIMEOUT, error_text(error)
            except (OSError, http.client.HTTPException) as error:
                self.close()
                reason, message = CONNECTION_ERROR, error_text(error)
                if reused:
                    continue  # a kept connection the server closed meanwhile: a new one, now
            else:
                again = None if reply.ok else retry(reply)
                if again is None:
                    return Delivery(reply, attempts)
                reason, message, wait = f"http_{reply.status}", again.message, again.after
            if attempts >= MAX_ATTEMPTS:
                return Delivery(None, attempts, reason, message)
            if wait is None:
                wait = backoff * (0.5 + os.urandom(1)[0] / 510)  # jitter: 50-100 %
                backoff = min(backoff * 2, BACKOFF_MAX_S)
            if self.clock() + wait >= deadline:
                return Delivery(None, attempts, reason, message)
            if wait > 0:
                self.sleep(wait)

    def post(
        self, target: Target, body: bytes, headers: Mapping[str, str], timeout: float
    ) -> Reply:
        """One request over the kept connection (a new one when there is none), waiting at
        most ``timeout`` for its answer; raises what ``http.client`` raises."""
        import http.client

        connection = self._connection
        if connection is None:
            kind = http.client.HTTPSConnection if target.https else http.client.HTTPConnection
            connection = self._connection = kind(target.host, target.port, timeout=timeout)
            self._connection_used = False
        connection.timeout = timeout
        if connection.sock is not None:
            connection.sock.settimeout(timeout)
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        reply = Reply(response.status, response.headers, response.read())
        self._connection_used = not response.will_close
        if response.will_close:
            self.close()
        return reply

    def close(self) -> None:
        """Close the kept connection (the next request opens a new one)."""
        connection, self._connection = self._connection, None
        self._connection_used = False
        if connection is not None:
            import contextlib

            with contextlib.suppress(Exception):  # closing must never fail an export
                connection.close()


# --- what both exporters read and write --------------------------------------------------------


def usable_url(url: str) -> bool:
    """Whether ``url`` can be an endpoint: http(s), with a host and a port that is a number."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  # raises ValueError for a port out of range or not a number
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def user_agent() -> str:
    """``xraylayer/<version>``: receivers and AWS see which exporter sent what."""
    from xraylayer import __version__

    return f"xraylayer/{__version__}"


def json_object(body: bytes) -> dict:
    """``body`` as a JSON object; {} for anything else (error pages, empty bodies)."""
    if not body:
        return {}
    import json

    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delay-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    from email.utils import parsedate_to_datetime  # loaded by http.client already

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def error_text(error: BaseException) -> str:
    """``Type: message`` of an exception, short enough for a result or a log line."""
    return short(f"{type(error).__name__}: {error}")


def short(text: str) -> str:
    """``text`` cut at ``MAX_MESSAGE_CHARS``: a server's error page can be long."""
    return text if len(text) <= MAX_MESSAGE_CHARS else text[:MAX_MESSAGE_CHARS] + "…"


def warn(message: str) -> None:
    """Log a warning once per process: a bad setting would otherwise repeat every export."""
    from xraylayer import diagnostics

    diagnostics.log("warning", message, once=message)


def internal_error(where: str, error: BaseException) -> None:
    """Report a bug of ours; never raises, since exports promise not to."""
    try:
        from xraylayer import diagnostics

        diagnostics.internal_error(where, error)
    except Exception:  # reporting must not raise either
        pass
