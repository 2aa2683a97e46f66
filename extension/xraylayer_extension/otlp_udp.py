"""OTLP spans to the X-Ray daemon's UDP port, for CloudWatch Transaction Search.

The X-Ray SDKs and the daemon's segment protocol are in maintenance; AWS's OpenTelemetry
distribution (ADOT) sends OTLP to the same daemon port instead, and this exporter writes what
it writes, so moving to Transaction Search takes one setting. The form (ADOT Python,
``amazon/opentelemetry/distro/otlp_udp_exporter.py``; ADOT JavaScript and Ruby write the same):

- a datagram is the daemon's header line ``{"format":"json","version":1}`` and a newline, then
  ``T1S`` for sampled spans or ``T1U`` for unsampled ones, then the base64 of one protobuf
  ``ExportTraceServiceRequest``;
- the address is ``AWS_XRAY_DAEMON_ADDRESS``, else ``127.0.0.1:2000`` (extensions are not given
  the variable, so here it is the value the function process reports);
- ADOT marks the spans it sends as ``T1U`` with ``aws.trace.flag.sampled = false``; so does this
  exporter.

Spans go as ``T1S`` or ``T1U`` by their own ``sampled`` (Lambda's X-Ray decision), unless the
caller says otherwise. Datagrams stay within ``MAX_DATAGRAM_BYTES`` (the daemon reads at most
64 KiB): spans are packed into as few as fit, and a span too large alone is shrunk (long
strings cut, then its attributes, events and links dropped and counted in OTLP's dropped
counts, noted in ``xraylayer.truncated``); one that still does not fit is dropped as
``too_large``. No datagram over the limit is ever sent.

``export`` never raises and does not run past ``deadline``: the clock is checked before each
datagram (spans are converted a thousand at a time, so little work falls between two checks),
and a send waits for room in a full socket buffer only until then. Every span is counted
once: exported (the kernel took its datagram; UDP tells no more), or dropped by reason
(``invalid_span``, ``too_large``, ``deadline``, ``timeout``, ``daemon_unresolvable``,
``send_<errno>`` such as ``send_eacces``, ``internal_error``).

Cold start: this module imports ``os``, ``time``, ``_socket`` and the reasons' names (from
``otlp_http``, which imports no more); the conversion, the encoder and the layer's daemon
address parser load at the first export.
"""

from __future__ import annotations

import _socket as socket  # the C module: what a UDP sender needs, without `socket`'s 3 ms
import os
import time

from .export_result import DEADLINE, INTERNAL_ERROR, INVALID_SPAN, TIMEOUT, ExportResult

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping
    from types import ModuleType
    from typing import Any

    from xraylayer.spans import Span

SAMPLED_PREFIX = b"T1S"
UNSAMPLED_PREFIX = b"T1U"
MAX_DATAGRAM_BYTES = 64_000  # header, prefix and base64 included; the daemon reads 64 KiB
DEFAULT_ENDPOINT = ("127.0.0.1", 2000)
UNSAMPLED_ATTRIBUTE = "aws.trace.flag.sampled"  # ADOT's mark on spans it sends as T1U
TRUNCATED_ATTRIBUTE = "xraylayer.truncated"  # what was cut from a span to make it fit
MAX_STRING_CHARS = 4096  # a span too large for a datagram has its strings cut to this
SPANS_PER_CONVERSION = 1000  # about 15 ms of work: what may run past a deadline at most

# Reasons for dropped spans (keys of ExportResult.dropped), besides those of export_result.
TOO_LARGE = "too_large"  # does not fit in a datagram even shrunk
UNRESOLVABLE = "daemon_unresolvable"  # the daemon's host name does not resolve
SEND_ERROR = "send_error"  # the kernel refused the datagram, errno unknown; else send_<errno>


# --- configuration -----------------------------------------------------------------------------


def daemon_endpoint(
    environ: Mapping[str, str], daemon_address: str | None = None
) -> tuple[str, int]:
    """The daemon's UDP ``(host, port)``: ``daemon_address`` if given (the extension does not
    see ``AWS_XRAY_DAEMON_ADDRESS``; the function process tells it), else that variable in
    ``environ``, else ``127.0.0.1:2000``. A malformed value is logged once and the default used.
    """
    from xraylayer.xray_udp import ADDRESS_VARIABLE, parse_address

    value = (daemon_address or environ.get(ADDRESS_VARIABLE) or "").strip()
    if not value:
        return DEFAULT_ENDPOINT
    parsed = parse_address(value)
    if parsed is None:
        host, port = DEFAULT_ENDPOINT
        _warn(
            f"{ADDRESS_VARIABLE}={value!r} is neither host:port nor 'tcp:host:port "
            f"udp:host:port'; sending OTLP spans to {host}:{port}"
        )
        return DEFAULT_ENDPOINT
    return parsed


# --- pure parts --------------------------------------------------------------------------------


def partition(spans: list[Span], sampled: bool | None) -> list[tuple[bytes, list[Span]]]:
    """``(prefix, spans)`` per datagram kind: every span under ``T1S`` or ``T1U`` as
    ``sampled`` says, or, when it is None, each span by its own ``sampled``. Empty groups are
    left out."""
    if sampled is not None:
        groups = [(SAMPLED_PREFIX if sampled else UNSAMPLED_PREFIX, spans)]
    else:
        groups = [
            (SAMPLED_PREFIX, [span for span in spans if span.sampled]),
            (UNSAMPLED_PREFIX, [span for span in spans if not span.sampled]),
        ]
    return [(prefix, group) for prefix, group in groups if group]


def mark_unsampled(request: dict[str, Any]) -> None:
    """Give every span of ``request`` ADOT's ``aws.trace.flag.sampled = false``."""
    mark = {"key": UNSAMPLED_ATTRIBUTE, "value": {"boolValue": False}}
    for resource_spans in request["resourceSpans"]:
        for scope_spans in resource_spans["scopeSpans"]:
            for span in scope_spans["spans"]:
                attributes = span.setdefault("attributes", [])
                if all(attribute.get("key") != UNSAMPLED_ATTRIBUTE for attribute in attributes):
                    attributes.append(mark)


def datagram(prefix: bytes, payload: bytes) -> bytes:
    """The daemon header line, the prefix, and the base64 of a protobuf request."""
    import binascii

    from xraylayer.xray_udp import HEADER

    return HEADER + prefix + binascii.b2a_base64(payload, newline=False)


def max_payload_bytes(max_datagram_bytes: int = MAX_DATAGRAM_BYTES) -> int:
    """The largest protobuf request whose datagram stays within ``max_datagram_bytes``
    (base64 writes 4 characters for every 3 bytes, the last group padded)."""
    from xraylayer.xray_udp import HEADER

    return (max_datagram_bytes - len(HEADER) - len(SAMPLED_PREFIX)) // 4 * 3


def batches(
    prefix: bytes, spans: list[Span], resource: dict[str, Any]
) -> Iterator[tuple[bytes | None, int]]:
    """``(protobuf request, its span count)`` per datagram, ``(None, 1)`` per span that
    cannot fit. Made as they are asked for, converting ``SPANS_PER_CONVERSION`` spans at a
    time, so the work between two deadline checks stays small."""
    from . import otlp_json, otlp_protobuf

    limit = max_payload_bytes()
    for start in range(0, len(spans), SPANS_PER_CONVERSION):
        chunk = spans[start : start + SPANS_PER_CONVERSION]
        request = otlp_json.export_request(chunk, resource, sampled=prefix == SAMPLED_PREFIX)
        if prefix == UNSAMPLED_PREFIX:
            mark_unsampled(request)
        yield from otlp_protobuf.encode_batches(request, limit, SHRINK_STEPS)


def short_strings(span: dict[str, Any]) -> dict[str, Any]:
    """The first shrinking step: every string of the OTLP span cut to ``MAX_STRING_CHARS``."""
    from xraylayer.json_values import truncate_strings

    return _noted(truncate_strings(span, MAX_STRING_CHARS, frozenset({"bytesValue"})), "strings")


def without_details(span: dict[str, Any]) -> dict[str, Any]:
    """The last shrinking step: the span without its attributes, events and links, each
    counted in the dropped count OTLP has for it."""
    attributes = span.get("attributes") or ()
    notes = [a for a in attributes if a.get("key") == TRUNCATED_ATTRIBUTE]
    details = {
        "attributes": [a for a in attributes if a.get("key") != TRUNCATED_ATTRIBUTE],
        "events": span.get("events") or (),
        "links": span.get("links") or (),
    }
    core = {key: value for key, value in span.items() if key not in details}
    core["attributes"] = notes
    removed = [key for key, items in details.items() if items]
    for key in removed:
        counter = _DROPPED_COUNTS[key]
        core[counter] = int(span.get(counter) or 0) + len(details[key])
    return _noted(core, *removed)


_DROPPED_COUNTS = {
    "attributes": "droppedAttributesCount",
    "events": "droppedEventsCount",
    "links": "droppedLinksCount",
}
SHRINK_STEPS: tuple[Callable[[dict[str, Any]], dict[str, Any]], ...] = (
    short_strings,
    without_details,
)


def _noted(span: dict[str, Any], *what: str) -> dict[str, Any]:
    """A copy of ``span`` whose ``xraylayer.truncated`` attribute also lists ``what``."""
    attributes = []
    notes: list[str] = []
    for attribute in span.get("attributes") or ():
        if attribute.get("key") == TRUNCATED_ATTRIBUTE:
            values = attribute["value"].get("arrayValue", {}).get("values", ())
            notes.extend(value.get("stringValue", "") for value in values)
        else:
            attributes.append(attribute)
    notes.extend(note for note in what if note not in notes)
    values = [{"stringValue": note} for note in notes]
    attributes.append({"key": TRUNCATED_ATTRIBUTE, "value": {"arrayValue": {"values": values}}})
    return {**span, "attributes": attributes}


def send_failure_reason(error: OSError) -> str:
    """``send_<errno name>`` (``send_eacces``, ``send_emsgsize`` ...), or ``send_error``."""
    import errno

    name = errno.errorcode.get(error.errno) if isinstance(error.errno, int) else None
    return f"send_{name.lower()}" if name else SEND_ERROR


# --- the exporter ------------------------------------------------------------------------------


class OtlpUdpExporter:
    """Exports spans as OTLP in datagrams to the X-Ray daemon, keeping one socket.

    ``daemon_address()``: the daemon's ``AWS_XRAY_DAEMON_ADDRESS`` value as the function
    process said it, or None; asked at each export, as extensions are not given the variable.
    ``environ`` (default: the process environment) gives that variable otherwise, and the
    resource, read at the first export. ``clock`` is the monotonic clock ``deadline`` is
    measured on. Not thread-safe.
    """

    name = "otlp-udp"

    def __init__(
        self,
        environ: Mapping[str, str] | None = None,
        *,
        daemon_address: Callable[[], str | None] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._environ = environ
        self._daemon_address = daemon_address
        self._clock = clock
        self._resource: dict[str, Any] | None = None
        self._daemon: _DaemonSocket | None = None

    def export(
        self,
        spans: Iterable[Span],
        deadline: float,
        *,
        sampled: bool | None = None,
    ) -> ExportResult:
        """Send ``spans`` before ``deadline``; never raises. ``sampled`` puts every span in
        ``T1S`` (True) or ``T1U`` (False) datagrams, with that flag; by default each span goes
        by its own ``sampled``."""
        try:
            spans = list(spans)
        except Exception as error:
            _diagnostics().internal_error("OTLP/UDP export (reading the spans)", error)
            return ExportResult()
        result = ExportResult()
        try:
            self._export(spans, deadline, sampled, result)
        except Exception as error:  # a bug of ours: the spans not counted yet are lost
            _diagnostics().internal_error("OTLP/UDP export", error)
            self.close()
            result.drop(INTERNAL_ERROR, len(spans) - result.total)
        return result

    def close(self) -> None:
        """Close the socket (the next export opens a new one)."""
        daemon, self._daemon = self._daemon, None
        if daemon is not None:
            daemon.close()

    # --- one export ---

    def _export(
        self,
        spans: list[Span],
        deadline: float,
        sampled: bool | None,
        result: ExportResult,
    ) -> None:
        from . import otlp_json

        valid = [span for span in spans if otlp_json.exportable(span)]
        result.drop(INVALID_SPAN, len(spans) - len(valid))
        if not valid:
            return
        environ = os.environ if self._environ is None else self._environ
        daemon = self._daemon_socket(daemon_endpoint(environ, self._daemon_address()))
        resource = self._resource_attributes(environ)
        for prefix, group in partition(valid, sampled):
            self._send_group(daemon, prefix, group, resource, deadline=deadline, result=result)

    def _send_group(
        self,
        daemon: _DaemonSocket,
        prefix: bytes,
        spans: list[Span],
        resource: dict[str, Any],
        *,
        deadline: float,
        result: ExportResult,
    ) -> None:
        """Spans of one kind (``T1S`` or ``T1U``) in as few datagrams as fit."""
        left = len(spans)
        if self._clock() >= deadline:
            result.drop(DEADLINE, left)
            return
        for payload, count in batches(prefix, spans, resource):
            if payload is None:
                _warn(f"a span does not fit in a {MAX_DATAGRAM_BYTES}-byte datagram; dropped")
                result.drop(TOO_LARGE, count)
            elif self._clock() >= deadline:
                result.drop(DEADLINE, left)
                return
            else:
                result.attempts += 1
                failure = daemon.send(datagram(prefix, payload), deadline - self._clock())
                if failure is None:
                    result.exported += count
                else:
                    reason, result.message = failure
                    result.drop(reason, count)
            left -= count

    def _daemon_socket(self, endpoint: tuple[str, int]) -> _DaemonSocket:
        if self._daemon is None or self._daemon.endpoint != endpoint:
            self.close()
            self._daemon = _DaemonSocket(endpoint)
        return self._daemon

    def _resource_attributes(self, environ: Mapping[str, str]) -> dict[str, Any]:
        """The resource, as the OTLP/HTTP exporter makes it (read once)."""
        if self._resource is None:
            from . import otlp_json

            self._resource = otlp_json.resource_attributes(environ)
            _, invalid = otlp_json.parse_key_values(environ.get("OTEL_RESOURCE_ATTRIBUTES") or "")
            for position, _ in enumerate(invalid, 1):
                _warn(f"OTEL_RESOURCE_ATTRIBUTES: malformed entry #{position}; skipped")
        return self._resource


class _DaemonSocket:
    """A UDP socket to one daemon endpoint. The host is resolved at the first send, once (a
    name look-up can block, and has no deadline); a failed one is not retried."""

    def __init__(self, endpoint: tuple[str, int]) -> None:
        self.endpoint = endpoint
        self._socket: socket.socket | None = None
        self._target: Any = None
        self._unusable: tuple[str, str] | None = None

    def send(self, data: bytes, timeout: float) -> tuple[str, str] | None:
        """Send one datagram, waiting at most ``timeout`` seconds for room in the socket's
        buffer; None, or why it failed: (reason, error text)."""
        sock = self._socket or self._open()
        if sock is None:
            return self._unusable
        try:
            sock.settimeout(max(timeout, 0.0))
            sock.sendto(data, self._target)
        except TimeoutError:
            return TIMEOUT, "no room in the socket's send buffer before the deadline"
        except OSError as error:
            reason = send_failure_reason(error)
            host, port = self.endpoint
            _warn(f"OTLP/UDP send to {host}:{port} failed ({error}); dropped as {reason}")
            return reason, f"{type(error).__name__}: {error}"
        return None

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def _open(self) -> socket.socket | None:
        if self._unusable is not None:
            return None
        host, port = self.endpoint
        try:
            family, kind, protocol, _, self._target = socket.getaddrinfo(
                host, port, type=socket.SOCK_DGRAM
            )[0]
            self._socket = socket.socket(family, kind, protocol)
            from xraylayer.xray_udp import bind_beside

            bind_beside(self._socket, self._target)
        except (OSError, UnicodeError) as error:  # UnicodeError: a name IDNA refuses
            self._unusable = UNRESOLVABLE, f"{type(error).__name__}: {error}"
            _warn(f"X-Ray daemon {host}:{port} unusable ({error}); OTLP spans for it dropped")
        return self._socket


def _warn(message: str) -> None:
    _diagnostics().log("warning", message, once=message)


def _diagnostics() -> ModuleType:
    """The layer's ``xraylayer:`` log (loaded when there is something to say)."""
    from xraylayer import diagnostics

    return diagnostics
