"""The OTLP/HTTP exporter's I/O edge: POST spans as OTLP JSON to ``/v1/traces``.

Configuration (OpenTelemetry's variables, read at the first export):

- ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` (used as is), else ``OTEL_EXPORTER_OTLP_ENDPOINT`` with
  ``/v1/traces`` appended, else ``http://localhost:4318/v1/traces``;
- ``OTEL_EXPORTER_OTLP_HEADERS`` then ``OTEL_EXPORTER_OTLP_TRACES_HEADERS`` (``k=v,k2=v2``,
  percent-encoded values; the traces one wins per header);
- ``OTEL_EXPORTER_OTLP_[TRACES_]COMPRESSION`` (``gzip`` or ``none``) and
  ``OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT`` (milliseconds per request, default 10000).

A bad value is logged once (never a header's value: they hold API keys) and the default applies.

``export(spans, deadline)`` never raises and never runs past ``deadline`` (a
``time.monotonic()`` value; the caller bounds it by the invocation's deadline). Its result
accounts for every span: ``exported``, ``rejected`` by the receiver (a 400, or the
``rejectedSpans`` of a partial success; neither is retried), or ``dropped`` by reason. Answers
429, 502, 503 and 504 and connection errors are retried with exponential backoff and jitter,
``Retry-After`` honoured, as long as the next attempt can start before the deadline.

Cold start: this module imports ``os`` and ``time`` only. ``http.client`` (tens of ms), the
JSON conversion and ``zlib`` are imported at the first export, after a response has gone back.
The connection is kept for the next export; one that went stale while the sandbox was frozen is
replaced at once, without a backoff.
"""

from __future__ import annotations

import os
import time

from .export_result import ExportResult

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from http.client import HTTPConnection

    from xraylayer.spans import Span

DEFAULT_ENDPOINT = "http://localhost:4318/v1/traces"
TRACES_PATH = "v1/traces"
DEFAULT_TIMEOUT_MS = 10_000
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
MAX_ATTEMPTS = 8  # per request, within the deadline
BACKOFF_INITIAL_S = 0.1
BACKOFF_MAX_S = 2.0
MAX_SPANS_PER_REQUEST = 512  # OpenTelemetry's default export batch size
MAX_MESSAGE_CHARS = 300
_PROTECTED_HEADERS = frozenset({"content-type", "content-encoding", "content-length"})
_TOKEN_CHARACTERS = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)

# Reasons for dropped spans (keys of ExportResult.dropped).
INVALID_SPAN = "invalid_span"  # ids OTLP cannot carry
DEADLINE = "deadline"  # no time left to try
TIMEOUT = "timeout"  # the receiver did not answer before the deadline
CONNECTION_ERROR = "connection_error"  # refused, reset, DNS, TLS ... until the deadline
INTERNAL_ERROR = "internal_error"  # a bug of ours, logged


# --- configuration -----------------------------------------------------------------------------


class Settings:
    """The exporter's resolved configuration."""

    __slots__ = ("endpoint", "gzip", "headers", "host", "https", "path", "port", "timeout")

    def __init__(self, endpoint: str, headers: dict[str, str], gzip: bool, timeout: float) -> None:
        from urllib.parse import urlsplit

        parts = urlsplit(endpoint)
        self.endpoint = endpoint
        self.https = parts.scheme == "https"
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (443 if self.https else 80)
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.headers = headers
        self.gzip = gzip
        self.timeout = timeout


def settings(environ: Mapping[str, str]) -> Settings:
    """Everything the exporter reads from the environment; bad values logged, defaults used."""
    timeout_ms = _timeout_ms(environ)
    return Settings(
        resolve_endpoint(environ), request_headers(environ), _gzip(environ), timeout_ms / 1000
    )


def resolve_endpoint(environ: Mapping[str, str]) -> str:
    """The URL spans are POSTed to (OpenTelemetry's rules: the traces endpoint as is, the
    general one with ``v1/traces`` appended after a ``/``)."""
    traces = (environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or "").strip()
    if traces:
        if _usable_url(traces):
            return traces
        _warn(f"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT={traces!r} is not an http(s) URL; ignored")
    base = (environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or "").strip()
    if base:
        if _usable_url(base):
            return base + ("" if base.endswith("/") else "/") + TRACES_PATH
        _warn(f"OTEL_EXPORTER_OTLP_ENDPOINT={base!r} is not an http(s) URL; ignored")
    return DEFAULT_ENDPOINT


def request_headers(environ: Mapping[str, str]) -> dict[str, str]:
    """The user's headers: ``OTEL_EXPORTER_OTLP_HEADERS``, then the traces-specific ones."""
    merged: dict[str, tuple[str, str]] = {}  # lowercased name -> (name, value)
    for variable in ("OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"):
        for name, value in parse_headers(environ.get(variable) or "", variable).items():
            merged[name.lower()] = (name, value)
    return dict(merged.values())


def parse_headers(text: str, variable: str = "OTEL_EXPORTER_OTLP_HEADERS") -> dict[str, str]:
    """``k=v,k2=v2`` (percent-decoded) as headers; entries that cannot be HTTP headers, and
    the ones the exporter sets itself, are skipped with a warning naming only the key."""
    from .otlp_json import parse_key_values

    pairs, invalid = parse_key_values(text)
    for position, _ in enumerate(invalid, 1):
        _warn(f"{variable}: malformed entry #{position} (expected key=value); skipped")
    headers = {}
    for name, value in pairs.items():
        if not name or not set(name) <= _TOKEN_CHARACTERS:
            _warn(f"{variable}: {name!r} is not a valid header name; skipped")
        elif any(c in value for c in "\r\n\0"):
            _warn(f"{variable}: the value of {name!r} holds a line break; skipped")
        elif name.lower() in _PROTECTED_HEADERS:
            _warn(f"{variable}: {name!r} is set by the exporter itself; skipped")
        else:
            headers[name] = value
    return headers


def _usable_url(url: str) -> bool:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  # raises ValueError for a port out of range or not a number
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _signal_value(environ: Mapping[str, str], suffix: str) -> tuple[str, str]:
    """(variable, value) of the traces-specific variable if set, else the general one."""
    for variable in (f"OTEL_EXPORTER_OTLP_TRACES_{suffix}", f"OTEL_EXPORTER_OTLP_{suffix}"):
        value = (environ.get(variable) or "").strip()
        if value:
            return variable, value
    return "", ""


def _gzip(environ: Mapping[str, str]) -> bool:
    variable, value = _signal_value(environ, "COMPRESSION")
    if value.lower() in ("", "none"):
        return False
    if value.lower() == "gzip":
        return True
    _warn(f"{variable}={value!r}: expected gzip or none; sending uncompressed")
    return False


def _timeout_ms(environ: Mapping[str, str]) -> float:
    variable, value = _signal_value(environ, "TIMEOUT")
    if not value:
        return DEFAULT_TIMEOUT_MS
    try:
        milliseconds = float(value)
    except ValueError:
        milliseconds = -1.0
    if not 0 < milliseconds < float("inf"):
        _warn(f"{variable}={value!r}: expected milliseconds above 0; using {DEFAULT_TIMEOUT_MS}")
        return DEFAULT_TIMEOUT_MS
    return milliseconds


def _warn(message: str) -> None:
    from xraylayer import diagnostics

    diagnostics.log("warning", message, once=message)


# --- the exporter ------------------------------------------------------------------------------


class OtlpHttpExporter:
    """Exports spans to one OTLP/HTTP receiver, keeping its connection between exports.

    ``environ`` is read at the first export (default: the process environment then).
    ``clock`` and ``sleep`` are the monotonic clock ``deadline`` is measured on and the wait
    between attempts; both can be replaced in tests. Not thread-safe: one exporter per thread.
    """

    def __init__(
        self,
        environ: Mapping[str, str] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        max_spans_per_request: int = MAX_SPANS_PER_REQUEST,
    ) -> None:
        self._environ = environ
        self._clock = clock
        self._sleep = sleep
        self._max_spans = max(1, max_spans_per_request)
        self._settings: Settings | None = None
        self._resource: dict | None = None
        self._connection: HTTPConnection | None = None
        self._connection_used = False

    @property
    def settings(self) -> Settings:
        """The configuration, resolved (and any bad value logged) on first use."""
        if self._settings is None:
            self._settings = settings(os.environ if self._environ is None else self._environ)
        return self._settings

    def export(
        self, spans: Iterable[Span], deadline: float, *, sampled: bool | None = None
    ) -> ExportResult:
        """Send ``spans``, in requests of at most ``max_spans_per_request``, before
        ``deadline``; never raises. ``sampled`` is passed to ``otlp_json.export_request``."""
        try:
            spans = list(spans)
        except Exception as error:
            _internal_error("OTLP export (reading the spans)", error)
            return ExportResult()
        try:
            return self._export(spans, deadline, sampled)
        except Exception as error:
            _internal_error("OTLP export", error)
            self.close()
            return ExportResult(dropped={INTERNAL_ERROR: len(spans)})

    def close(self) -> None:
        """Close the kept connection (the next export opens a new one)."""
        connection, self._connection = self._connection, None
        self._connection_used = False
        if connection is not None:
            import contextlib

            with contextlib.suppress(Exception):  # closing must never fail an export
                connection.close()

    # --- one export ---

    def _export(self, spans: list[Span], deadline: float, sampled: bool | None) -> ExportResult:
        from . import otlp_json

        result = ExportResult()
        valid = [span for span in spans if otlp_json.exportable(span)]
        result.drop(INVALID_SPAN, len(spans) - len(valid))
        if not valid:
            return result
        settings = self.settings
        if self._resource is None:
            environ = os.environ if self._environ is None else self._environ
            self._resource = otlp_json.resource_attributes(environ)
            _, invalid = otlp_json.parse_key_values(environ.get("OTEL_RESOURCE_ATTRIBUTES") or "")
            for position, _ in enumerate(invalid, 1):
                _warn(f"OTEL_RESOURCE_ATTRIBUTES: malformed entry #{position}; skipped")
        for start in range(0, len(valid), self._max_spans):
            batch = valid[start : start + self._max_spans]
            if self._clock() >= deadline:
                result.drop(DEADLINE, len(valid) - start)
                break
            try:
                request = otlp_json.export_request(batch, self._resource, sampled=sampled)
                body = otlp_json.encode(request)
                result.add(self._send(settings, body, len(batch), deadline))
            except Exception as error:
                _internal_error("OTLP export", error)
                self.close()
                result.drop(INTERNAL_ERROR, len(batch))
        return result

    def _send(self, settings: Settings, body: bytes, count: int, deadline: float) -> ExportResult:
        """POST one request, retrying what may succeed later, until it lands or time is up."""
        import http.client

        headers = {
            "Content-Type": "application/json",
            "User-Agent": _user_agent(),
            **settings.headers,
        }
        if settings.gzip:
            body = _gzip_compress(body)
            headers["Content-Encoding"] = "gzip"
        attempts = 0
        backoff = BACKOFF_INITIAL_S
        reason, message = DEADLINE, None
        while True:
            remaining = deadline - self._clock()
            if remaining <= 0:
                return _dropped(count, reason, attempts, message)
            attempts += 1
            reused = self._connection_used
            retry_after = None
            try:
                status, reply_headers, reply = self._post(
                    settings, body, headers, min(remaining, settings.timeout)
                )
            except TimeoutError as error:
                self.close()
                reason, message = TIMEOUT, _error_text(error) or "no answer in time"
            except (OSError, http.client.HTTPException) as error:
                self.close()
                reason, message = CONNECTION_ERROR, _error_text(error)
                if reused:
                    continue  # a kept connection the receiver closed meanwhile: a new one, now
            else:
                if 200 <= status < 300:
                    return _success(count, reply, attempts)
                if status == 400:
                    return ExportResult(
                        rejected=count, attempts=attempts, message=_reply_message(reply, status)
                    )
                reason, message = f"http_{status}", _reply_message(reply, status)
                if status not in RETRYABLE_STATUSES:
                    return _dropped(count, reason, attempts, message)
                retry_after = _retry_after(reply_headers.get("Retry-After"))
            if attempts >= MAX_ATTEMPTS:
                return _dropped(count, reason, attempts, message)
            if retry_after is not None:
                delay = retry_after
            else:
                delay = backoff * (0.5 + os.urandom(1)[0] / 510)  # jitter: 50-100 %
                backoff = min(backoff * 2, BACKOFF_MAX_S)
            if self._clock() + delay >= deadline:
                return _dropped(count, reason, attempts, message)
            if delay > 0:
                self._sleep(delay)

    def _post(
        self, settings: Settings, body: bytes, headers: dict[str, str], timeout: float
    ) -> tuple[int, object, bytes]:
        import http.client

        connection = self._connection
        if connection is None:
            if settings.https:
                connection = http.client.HTTPSConnection(
                    settings.host, settings.port, timeout=timeout
                )
            else:
                connection = http.client.HTTPConnection(
                    settings.host, settings.port, timeout=timeout
                )
            self._connection = connection
            self._connection_used = False
        connection.timeout = timeout
        if connection.sock is not None:
            connection.sock.settimeout(timeout)
        connection.request("POST", settings.path, body=body, headers=headers)
        response = connection.getresponse()
        reply = response.read()
        self._connection_used = not response.will_close
        if response.will_close:
            self.close()
        return response.status, response.headers, reply


# --- replies -----------------------------------------------------------------------------------


def _success(count: int, reply: bytes, attempts: int) -> ExportResult:
    """A 2xx: all exported, unless its ``partialSuccess`` names rejected spans."""
    partial = _json_object(reply).get("partialSuccess")
    if not isinstance(partial, dict):
        return ExportResult(exported=count, attempts=attempts)
    try:
        rejected = int(partial.get("rejectedSpans") or 0)
    except (TypeError, ValueError):
        rejected = 0
    rejected = min(max(rejected, 0), count)
    message = partial.get("errorMessage")
    message = _short(message) if isinstance(message, str) and message else None
    if message and not rejected:
        _warn(f"the OTLP receiver accepted the spans with a warning: {message}")
    return ExportResult(
        exported=count - rejected, rejected=rejected, attempts=attempts, message=message
    )


def _dropped(count: int, reason: str, attempts: int, message: str | None) -> ExportResult:
    return ExportResult(dropped={reason: count}, attempts=attempts, message=message)


def _reply_message(reply: bytes, status: int) -> str:
    """The receiver's error message: a ``google.rpc.Status`` JSON ``message``, else the text."""
    message = _json_object(reply).get("message")
    if isinstance(message, str) and message:
        return _short(message)
    text = reply.decode("utf-8", "replace").strip()
    return _short(text) if text else f"HTTP {status}"


def _json_object(reply: bytes) -> dict:
    if not reply:
        return {}
    import json

    try:
        value = json.loads(reply)
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def _retry_after(value: str | None) -> float | None:
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


def _gzip_compress(body: bytes) -> bytes:
    import zlib

    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # wbits 31: gzip container
    return compressor.compress(body) + compressor.flush()


def _user_agent() -> str:
    from xraylayer import __version__

    return f"xraylayer/{__version__}"


def _error_text(error: BaseException) -> str:
    return _short(f"{type(error).__name__}: {error}")


def _short(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE_CHARS else text[:MAX_MESSAGE_CHARS] + "…"


def _internal_error(where: str, error: BaseException) -> None:
    try:
        from xraylayer import diagnostics

        diagnostics.internal_error(where, error)
    except Exception:  # reporting must not raise either
        pass


# --- a process-wide exporter -------------------------------------------------------------------

_DEFAULT: list[OtlpHttpExporter] = []


def export(spans: Iterable[Span], deadline: float, *, sampled: bool | None = None) -> ExportResult:
    """``OtlpHttpExporter().export`` with one exporter per process, configured from
    ``os.environ`` at its first export."""
    if not _DEFAULT:
        _DEFAULT.append(OtlpHttpExporter())
    return _DEFAULT[0].export(spans, deadline, sampled=sampled)
