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
429, 502, 503 and 504, timeouts and connection errors are retried with exponential backoff
and jitter, ``Retry-After`` honoured, as long as the next attempt can start before the deadline;
the connection is kept for the next export (``http_export``, shared with ``xray_api``).

Cold start: this module imports ``os`` and ``time`` only. ``http.client`` (tens of ms), the
JSON conversion and ``zlib`` are imported at the first export, after a response has gone back.
"""

from __future__ import annotations

import os
import time

from .export_result import DEADLINE, INTERNAL_ERROR, INVALID_SPAN, ExportResult
from .http_export import (
    HttpSender,
    Retry,
    internal_error,
    json_object,
    retry_after,
    short,
    usable_url,
    user_agent,
    warn,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from xraylayer.spans import Span

    from .http_export import Reply

DEFAULT_ENDPOINT = "http://localhost:4318/v1/traces"
TRACES_PATH = "v1/traces"
DEFAULT_TIMEOUT_MS = 10_000
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
MAX_SPANS_PER_REQUEST = 512  # OpenTelemetry's default export batch size
_PROTECTED_HEADERS = frozenset({"content-type", "content-encoding", "content-length"})
_TOKEN_CHARACTERS = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)

# Reasons for dropped spans (keys of ExportResult.dropped), besides export_result's deadline,
# timeout, connection_error and internal_error, and http_<status>.


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
        if usable_url(traces):
            return traces
        warn(f"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT={traces!r} is not an http(s) URL; ignored")
    base = (environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or "").strip()
    if base:
        if usable_url(base):
            return base + ("" if base.endswith("/") else "/") + TRACES_PATH
        warn(f"OTEL_EXPORTER_OTLP_ENDPOINT={base!r} is not an http(s) URL; ignored")
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
        warn(f"{variable}: malformed entry #{position} (expected key=value); skipped")
    headers = {}
    for name, value in pairs.items():
        if not name or not set(name) <= _TOKEN_CHARACTERS:
            warn(f"{variable}: {name!r} is not a valid header name; skipped")
        elif any(c in value for c in "\r\n\0"):
            warn(f"{variable}: the value of {name!r} holds a line break; skipped")
        elif name.lower() in _PROTECTED_HEADERS:
            warn(f"{variable}: {name!r} is set by the exporter itself; skipped")
        else:
            headers[name] = value
    return headers


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
    warn(f"{variable}={value!r}: expected gzip or none; sending uncompressed")
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
        warn(f"{variable}={value!r}: expected milliseconds above 0; using {DEFAULT_TIMEOUT_MS}")
        return DEFAULT_TIMEOUT_MS
    return milliseconds


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
        self._sender = HttpSender(clock=clock, sleep=sleep)
        self._max_spans = max(1, max_spans_per_request)
        self._settings: Settings | None = None
        self._resource: dict | None = None

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
            internal_error("OTLP export (reading the spans)", error)
            return ExportResult()
        try:
            return self._export(spans, deadline, sampled)
        except Exception as error:
            internal_error("OTLP export", error)
            self.close()
            return ExportResult(dropped={INTERNAL_ERROR: len(spans)})

    def close(self) -> None:
        """Close the kept connection (the next export opens a new one)."""
        self._sender.close()

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
                warn(f"OTEL_RESOURCE_ATTRIBUTES: malformed entry #{position}; skipped")
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
                internal_error("OTLP export", error)
                self.close()
                result.drop(INTERNAL_ERROR, len(batch))
        return result

    def _send(self, settings: Settings, body: bytes, count: int, deadline: float) -> ExportResult:
        """One request of ``count`` spans, retried as ``http_export`` does: a 2xx exports them
        (but for the rejected spans of a partial success), a 400 rejects them."""
        headers = {
            "Content-Type": "application/json",
            "User-Agent": user_agent(),
            **settings.headers,
        }
        if settings.gzip:
            body = _gzip_compress(body)
            headers["Content-Encoding"] = "gzip"
        sent = self._sender.send(
            settings,
            body,
            deadline,
            headers=lambda: headers,
            timeout=settings.timeout,
            retry=_retry,
        )
        reply = sent.reply
        if reply is None:
            return sent.dropped(count)
        if reply.ok:
            return _success(count, reply.body, sent.attempts)
        return sent.refused(count, _reply_message(reply.body, reply.status))


# --- replies -----------------------------------------------------------------------------------


def _retry(reply: Reply) -> Retry | None:
    """429, 502, 503 and 504 are worth another attempt (after ``Retry-After``, if given)."""
    if reply.status not in RETRYABLE_STATUSES:
        return None
    after = retry_after(reply.headers.get("Retry-After"))
    return Retry(_reply_message(reply.body, reply.status), after)


def _success(count: int, reply: bytes, attempts: int) -> ExportResult:
    """A 2xx: all exported, unless its ``partialSuccess`` names rejected spans."""
    partial = json_object(reply).get("partialSuccess")
    if not isinstance(partial, dict):
        return ExportResult(exported=count, attempts=attempts)
    rejected = _count(partial.get("rejectedSpans"), count)
    message = partial.get("errorMessage")
    message = short(message) if isinstance(message, str) and message else None
    if message and not rejected:
        warn(f"the OTLP receiver accepted the spans with a warning: {message}")
    return ExportResult(
        exported=count - rejected, rejected=rejected, attempts=attempts, message=message
    )


def _count(value: object, most: int) -> int:
    """A span count from the receiver (an int, or its JSON text) within 0..``most``; an
    infinite one (valid JSON: ``1e999``) is all of them."""
    import math

    try:
        number = float(value or 0)  # type: ignore[arg-type]
    except OverflowError:  # an int beyond any float: more than any batch
        return most
    except (TypeError, ValueError):
        return 0
    return 0 if math.isnan(number) else int(min(max(number, 0), most))


def _reply_message(reply: bytes, status: int) -> str:
    """The receiver's error message: a ``google.rpc.Status`` JSON ``message``, else the text."""
    message = json_object(reply).get("message")
    if isinstance(message, str) and message:
        return short(message)
    text = reply.decode("utf-8", "replace").strip()
    return short(text) if text else f"HTTP {status}"


def _gzip_compress(body: bytes) -> bytes:
    import zlib

    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # wbits 31: gzip container
    return compressor.compress(body) + compressor.flush()


# --- a process-wide exporter -------------------------------------------------------------------

_DEFAULT: list[OtlpHttpExporter] = []


def export(spans: Iterable[Span], deadline: float, *, sampled: bool | None = None) -> ExportResult:
    """``OtlpHttpExporter().export`` with one exporter per process, configured from
    ``os.environ`` at its first export."""
    if not _DEFAULT:
        _DEFAULT.append(OtlpHttpExporter())
    return _DEFAULT[0].export(spans, deadline, sampled=sampled)
