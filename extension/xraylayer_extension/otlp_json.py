"""Spans as an OTLP ``ExportTraceServiceRequest`` in its JSON form (lambda-platform.md §7).

Pure functions: layer ``Span`` objects in, plain dicts out, ready for ``json.dumps`` and
``POST /v1/traces``. OTLP's JSON deviates from the proto3 mapping, and this module writes the
OTLP form: ids as lowercase hex (not base64), enums as integers, 64-bit integers as decimal
strings, keys in lowerCamelCase.

X-Ray's own notions travel the way AWS's OpenTelemetry tooling (the collector's ``awsxray``
exporter and receiver, ADOT) writes them, so a collector that forwards to X-Ray restores them:

- each annotation is an attribute of its own under its (X-Ray-valid) key, and the string list
  ``aws.xray.annotations`` names those keys;
- each metadata namespace is one attribute ``aws.xray.metadata.<namespace>`` holding the
  namespace's entries as a JSON object in a string;
- a span still open when converted (the extension closes timed-out invocations itself, so
  this is rare) gets ``aws.xray.inprogress`` and its start time as end time.

Exceptions become ``exception`` events (``exception.type`` / ``.message`` / ``.stacktrace``,
plus ``aws.xray.exception.id`` / ``.remote``); an error or fault sets status ERROR.

Values of any type are accepted and never make a request invalid: integers outside int64
become strings, NaN and infinities the strings proto3 JSON allows for doubles, and anything
else goes through the layer's ``json_values``. A span whose trace or span id is not valid hex
of the right length (or all zeros) cannot be expressed in OTLP: ``exportable`` says so, and
``export_request`` leaves it out rather than make the whole request fail with a 400.
"""

from __future__ import annotations

import math

from xraylayer import __version__, xray_rules
from xraylayer.json_values import dumps, json_safe

TYPE_CHECKING = False  # type names only: ``typing`` is not free to import
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any

    from xraylayer.spans import Span

SCOPE_NAME = "xraylayer"
SDK_NAME = "xraylayer"

# Attribute names of AWS's OTel <-> X-Ray translation (collector-contrib internal/aws/xray).
ANNOTATIONS_ATTRIBUTE = "aws.xray.annotations"
METADATA_PREFIX = "aws.xray.metadata."
IN_PROGRESS_ATTRIBUTE = "aws.xray.inprogress"
EXCEPTION_ID_ATTRIBUTE = "aws.xray.exception.id"
EXCEPTION_REMOTE_ATTRIBUTE = "aws.xray.exception.remote"
EXCEPTION_TRUNCATED_ATTRIBUTE = "aws.xray.exception.truncated"

# What the layer's OpenTelemetry bridge (xraylayer.otel_bridge) writes for an OTel span: its
# scope name as an attribute, and its non-exception events under metadata ``otel.events``.
# Both are turned back into their OTLP form here. (Names repeated, not imported: importing
# the bridge would load the layer's tracer into the extension.)
BRIDGE_SCOPE_ATTRIBUTE = "otel.scope.name"
BRIDGE_EVENTS_NAMESPACE = "otel"
BRIDGE_EVENTS_KEY = "events"

# Span kinds (opentelemetry/proto/trace/v1/trace.proto SpanKind).
KIND_UNSPECIFIED, KIND_INTERNAL, KIND_SERVER, KIND_CLIENT, KIND_PRODUCER, KIND_CONSUMER = range(6)
_KINDS = {
    "internal": KIND_INTERNAL,
    "server": KIND_SERVER,
    "client": KIND_CLIENT,
    "producer": KIND_PRODUCER,
    "consumer": KIND_CONSUMER,
}
STATUS_UNSET, STATUS_OK, STATUS_ERROR = 0, 1, 2
FLAG_SAMPLED = 0x01  # the W3C trace flags, low 8 bits of Span.flags

_HEX = "0123456789abcdefABCDEF"
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_UINT64_MAX = 2**64 - 1
_NANOS = 1_000_000_000
_NON_FINITE = {math.inf: "Infinity", -math.inf: "-Infinity"}


# --- the request -------------------------------------------------------------------------------


def export_request(
    spans: Iterable[Span],
    resource: Mapping[str, Any],
    *,
    sampled: bool | None = None,
) -> dict[str, Any]:
    """An ``ExportTraceServiceRequest`` (OTLP JSON) holding ``spans`` under one resource.

    ``resource``: attribute name -> value, as ``resource_attributes`` makes it. Spans go under
    the scope ``xraylayer`` (version = the layer's), except those the OpenTelemetry bridge made,
    which keep their own instrumentation scope. Spans that are not ``exportable`` are left out.

    ``sampled``: the sampled bit written in every span's ``flags``; by default each span's own
    ``sampled`` (Lambda's X-Ray decision). Pass ``True`` when the OTLP path exports spans its
    own sampler kept although Lambda said ``Sampled=0``.
    """
    scopes: dict[str, list[dict[str, Any]]] = {}
    for span in spans:
        converted = otlp_span(span, sampled=sampled)
        if converted is None:
            continue
        scope, body = converted
        scopes.setdefault(scope, []).append(body)
    scope_spans = []
    for name, bodies in scopes.items():
        scope: dict[str, Any] = {"name": name}
        if name == SCOPE_NAME:
            scope["version"] = __version__
        scope_spans.append({"scope": scope, "spans": bodies})
    return {
        "resourceSpans": [
            {"resource": {"attributes": key_values(resource)}, "scopeSpans": scope_spans}
        ]
    }


def encode(request: Mapping[str, Any]) -> bytes:
    """The request as compact UTF-8 JSON; never raises (text that is not valid Unicode, such
    as a lone surrogate, becomes ``?``)."""
    return dumps(request).encode("utf-8", "replace")


def exportable(span: Span) -> bool:
    """Whether ``span`` has ids OTLP can carry: a 32-hex (or X-Ray form) trace id and a 16-hex
    span id, neither all zeros."""
    return _trace_id(span.trace_id) is not None and _span_id(span.span_id) is not None


def otlp_span(span: Span, *, sampled: bool | None = None) -> tuple[str, dict[str, Any]] | None:
    """(scope name, OTLP ``Span`` JSON) of one span, or ``None`` if it is not ``exportable``."""
    trace_id = _trace_id(span.trace_id)
    span_id = _span_id(span.span_id)
    if trace_id is None or span_id is None:
        return None
    attributes = dict(span.attributes) if isinstance(span.attributes, dict) else {}
    scope = attributes.pop(BRIDGE_SCOPE_ATTRIBUTE, None)
    if not isinstance(scope, str) or not scope:
        scope = SCOPE_NAME
    start = _nanos(span.start_time)
    end = start if span.end_time is None else _nanos(span.end_time)
    if span.end_time is None:
        attributes[IN_PROGRESS_ATTRIBUTE] = True
    metadata = span.metadata if isinstance(span.metadata, dict) else {}
    events, metadata = _bridge_events(metadata)
    _add_annotations(attributes, span.annotations)
    _add_metadata(attributes, metadata)

    body: dict[str, Any] = {"traceId": trace_id, "spanId": span_id}
    parent_id = _span_id(span.parent_id)
    if parent_id is not None:
        body["parentSpanId"] = parent_id
    is_sampled = bool(span.sampled) if sampled is None else sampled
    body["flags"] = FLAG_SAMPLED if is_sampled else 0
    body["name"] = _text(span.name)
    kind = span.kind
    body["kind"] = _KINDS.get(kind, KIND_INTERNAL) if isinstance(kind, str) else KIND_INTERNAL
    body["startTimeUnixNano"] = str(start)
    body["endTimeUnixNano"] = str(end)
    body["attributes"] = key_values(attributes)
    exceptions = span.exceptions if isinstance(span.exceptions, list) else []
    events.extend(
        _exception_event(record, end) for record in exceptions if isinstance(record, dict)
    )
    if events:
        body["events"] = events
    links = [_link(link) for link in span.links] if isinstance(span.links, list) else []
    links = [link for link in links if link is not None]
    if links:
        body["links"] = links
    body["status"] = _status(span, exceptions)
    return scope, body


# --- resource ----------------------------------------------------------------------------------


def resource_attributes(environ: Mapping[str, str]) -> dict[str, Any]:
    """The resource of this function's spans, from the environment the extension sees
    (lambda-platform.md §2.5: no log stream, no ``AWS_EXECUTION_ENV``).

    ``service.name``: ``OTEL_SERVICE_NAME``, else ``service.name`` in
    ``OTEL_RESOURCE_ATTRIBUTES``, else ``POWERTOOLS_SERVICE_NAME`` (as the layer's ``Service``
    annotation), else the function name, else ``unknown_service``. Other entries of
    ``OTEL_RESOURCE_ATTRIBUTES`` (``key=value,...``, percent-encoded) override the detected
    ones; malformed entries are skipped (``parse_key_values`` lists them).
    """
    attributes: dict[str, Any] = {
        "cloud.provider": "aws",
        "cloud.platform": "aws_lambda",
    }
    region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
    if region:
        attributes["cloud.region"] = region
    function_name = environ.get("AWS_LAMBDA_FUNCTION_NAME")
    if function_name:
        attributes["faas.name"] = function_name
    version = environ.get("AWS_LAMBDA_FUNCTION_VERSION")
    if version:
        attributes["faas.version"] = version
    memory = (environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE") or "").strip()
    if memory.isascii() and memory.isdigit():
        attributes["faas.max_memory"] = int(memory) * 1024 * 1024  # MB in Lambda, bytes in OTel
    attributes["telemetry.sdk.name"] = SDK_NAME
    attributes["telemetry.sdk.language"] = "python"
    attributes["telemetry.sdk.version"] = __version__
    configured, _ = parse_key_values(environ.get("OTEL_RESOURCE_ATTRIBUTES") or "")
    attributes.update(configured)
    attributes["service.name"] = (
        environ.get("OTEL_SERVICE_NAME")
        or configured.get("service.name")
        or environ.get("POWERTOOLS_SERVICE_NAME")
        or function_name
        or "unknown_service"
    )
    return attributes


def parse_key_values(text: str) -> tuple[dict[str, str], list[str]]:
    """``key1=value1,key2=value2`` (the W3C-baggage-like form of ``OTEL_RESOURCE_ATTRIBUTES``
    and ``OTEL_EXPORTER_OTLP_HEADERS``) as a dict, keys and values stripped and
    percent-decoded; and the entries that are not ``key=value`` with a non-empty key."""
    pairs: dict[str, str] = {}
    invalid: list[str] = []
    for item in text.split(","):
        if not item.strip():
            continue
        key, separator, value = item.partition("=")
        key = percent_decode(key.strip())
        if not separator or not key:
            invalid.append(item.strip())
            continue
        pairs[key] = percent_decode(value.strip())
    return pairs, invalid


def percent_decode(text: str) -> str:
    """``text`` with each ``%XX`` replaced by its byte, the bytes read as UTF-8 (a malformed
    sequence becomes U+FFFD, a ``%`` not followed by two hex digits stays as it is).

    Written out rather than ``urllib.parse.unquote``: that import is not free at start-up.
    """
    if "%" not in text:
        return text
    data = bytearray()
    index = 0
    while index < len(text):
        character = text[index]
        digits = text[index + 1 : index + 3]
        if character == "%" and len(digits) == 2 and not digits.strip(_HEX):
            data.append(int(digits, 16))
            index += 3
        else:
            data.extend(character.encode("utf-8", "surrogatepass"))
            index += 1
    return data.decode("utf-8", "replace")


# --- values ------------------------------------------------------------------------------------


def key_values(attributes: Mapping[Any, Any]) -> list[dict[str, Any]]:
    """``[{"key": ..., "value": AnyValue}, ...]``; ``None`` values are left out (OTel
    attributes cannot be null)."""
    return [
        {"key": key if isinstance(key, str) else _text(key), "value": any_value(value)}
        for key, value in attributes.items()
        if value is not None
    ]


def any_value(value: Any) -> dict[str, Any]:
    """The OTLP ``AnyValue`` of a Python value.

    str, bool, int (int64 range; larger ones as a string), float (NaN and infinities as the
    strings proto3 JSON allows), list / tuple (``arrayValue``), dict (``kvlistValue``); None is
    the empty AnyValue. Anything else, and containers too deep, too long or cyclic, first go
    through ``json_values.json_safe``.
    """
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, (bool, int, float)) or value is None:
        return _scalar(value)
    return _any_safe(json_safe(value, finite=False))  # non-finite floats stay doubles


def _scalar(value: bool | int | float | None) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        if _INT64_MIN <= value <= _INT64_MAX:
            return {"intValue": str(int(value))}
        safe = json_safe(value)  # beyond 1024 bits: a shortened repr, as elsewhere in the layer
        return {"stringValue": str(safe) if isinstance(safe, int) else safe}
    number = float(value)
    if math.isfinite(number):
        return {"doubleValue": number}
    return {"doubleValue": _NON_FINITE.get(number, "NaN")}


def _any_safe(value: Any) -> dict[str, Any]:
    """``any_value`` of a value already made JSON-safe (str keys, bounded, acyclic)."""
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, list):
        return {"arrayValue": {"values": [_any_safe(item) for item in value]}}
    if isinstance(value, dict):
        return {
            "kvlistValue": {
                "values": [{"key": key, "value": _any_safe(item)} for key, item in value.items()]
            }
        }
    return _scalar(value)


# --- parts of a span ---------------------------------------------------------------------------


def _add_annotations(attributes: dict[str, Any], annotations: Any) -> None:
    """Annotations as attributes of their own, listed in ``aws.xray.annotations``; keys and
    values made X-Ray-valid as in the X-Ray document. An annotation wins over an attribute of
    the same key (keys are ``[A-Za-z0-9_]``, so OTel's dotted names never collide)."""
    if not isinstance(annotations, dict) or not annotations:
        return
    listed = attributes.get(ANNOTATIONS_ATTRIBUTE)
    keys = [k for k in listed if isinstance(k, str)] if isinstance(listed, (list, tuple)) else []
    for key, value in annotations.items():
        name = xray_rules.annotation_key(key)
        attributes[name] = xray_rules.annotation_value(value)
        if name not in keys:
            keys.append(name)
    attributes[ANNOTATIONS_ATTRIBUTE] = keys


def _add_metadata(attributes: dict[str, Any], metadata: dict[Any, Any]) -> None:
    for namespace, entries in metadata.items():
        name = METADATA_PREFIX + xray_rules.metadata_namespace(namespace)
        attributes[name] = dumps(entries if isinstance(entries, dict) else {"value": entries})


def _bridge_events(metadata: dict[Any, Any]) -> tuple[list[dict[str, Any]], dict[Any, Any]]:
    """OTLP events from the bridge's ``otel.events`` metadata, and the metadata without them."""
    namespace = metadata.get(BRIDGE_EVENTS_NAMESPACE)
    if not isinstance(namespace, dict) or not isinstance(namespace.get(BRIDGE_EVENTS_KEY), list):
        return [], metadata
    events = []
    for event in namespace[BRIDGE_EVENTS_KEY]:
        if not isinstance(event, dict):
            continue
        body: dict[str, Any] = {
            "timeUnixNano": str(_nanos(event.get("time"))),
            "name": _text(event.get("name", "")),
        }
        event_attributes = event.get("attributes")
        if isinstance(event_attributes, dict) and event_attributes:
            body["attributes"] = key_values(event_attributes)
        events.append(body)
    rest = {k: v for k, v in namespace.items() if k != BRIDGE_EVENTS_KEY}
    metadata = {k: v for k, v in metadata.items() if k != BRIDGE_EVENTS_NAMESPACE}
    if rest:
        metadata[BRIDGE_EVENTS_NAMESPACE] = rest
    return events, metadata


def _exception_event(record: dict[str, Any], time: int) -> dict[str, Any]:
    """An ``exception`` event (OTel semantic conventions) at the span's end."""
    exception_type = _text(record.get("type") or "Exception")
    message = _text(record.get("message") or "")
    attributes: dict[str, Any] = {"exception.type": exception_type, "exception.message": message}
    stack = record.get("stack")
    if isinstance(stack, list) and stack:
        attributes["exception.stacktrace"] = _stacktrace(
            stack, exception_type, message, record.get("truncated")
        )
    if isinstance(record.get("id"), str):
        attributes[EXCEPTION_ID_ATTRIBUTE] = record["id"]
    if "remote" in record:
        attributes[EXCEPTION_REMOTE_ATTRIBUTE] = bool(record["remote"])
    truncated = record.get("truncated")
    if isinstance(truncated, int) and not isinstance(truncated, bool) and truncated > 0:
        attributes[EXCEPTION_TRUNCATED_ATTRIBUTE] = truncated
    return {"timeUnixNano": str(time), "name": "exception", "attributes": key_values(attributes)}


def _stacktrace(stack: list[Any], exception_type: str, message: str, truncated: Any) -> str:
    """Python's own traceback text (outermost frame first) from X-Ray frames (innermost
    first), so the OTel bridge and every OTel backend read it as they read the SDK's."""
    lines = ["Traceback (most recent call last):"]
    if isinstance(truncated, int) and not isinstance(truncated, bool) and truncated > 0:
        lines.append(f"  [{truncated} outer frames not recorded]")
    for frame in reversed(stack):
        if not isinstance(frame, dict):
            continue
        line = frame.get("line")
        line_text = line if isinstance(line, int) and not isinstance(line, bool) else "?"
        lines.append(
            f'  File "{_text(frame.get("path", "?"))}", line {line_text}, '
            f"in {_text(frame.get('label', '?'))}"
        )
    lines.append(f"{exception_type}: {message}" if message else exception_type)
    return "\n".join(lines)


def _status(span: Span, exceptions: list[Any]) -> dict[str, Any]:
    """ERROR with a message when the span failed (X-Ray error, throttle or fault), else UNSET."""
    if not (span.error or span.fault or span.throttle):
        return {"code": STATUS_UNSET}
    message = span.status_message
    if not message:
        last = next((e for e in reversed(exceptions) if isinstance(e, dict)), None)
        if last is not None:
            message = last.get("message") or last.get("type")
    status: dict[str, Any] = {"code": STATUS_ERROR}
    if message:
        status["message"] = _text(message)
    return status


def _link(link: Any) -> dict[str, Any] | None:
    if not (isinstance(link, (tuple, list)) and len(link) == 2):
        return None
    trace_id, span_id = _trace_id(link[0]), _span_id(link[1])
    if trace_id is None or span_id is None:
        return None
    return {"traceId": trace_id, "spanId": span_id}


# --- ids, times, text --------------------------------------------------------------------------


def _trace_id(value: Any) -> str | None:
    """The 32-hex lowercase trace id of a W3C or X-Ray (``1-8hex-24hex``) id; None if invalid."""
    if not isinstance(value, str):
        return None
    if len(value) == 35 and value[:2] == "1-" and value[10] == "-":
        value = value[2:10] + value[11:]
    if len(value) != 32 or value.strip(_HEX) or not value.strip("0"):
        return None
    return value.lower()


def _span_id(value: Any) -> str | None:
    """The 16-hex lowercase span id; None if absent or invalid."""
    if not isinstance(value, str) or len(value) != 16 or value.strip(_HEX) or not value.strip("0"):
        return None
    return value.lower()


def _nanos(seconds: Any) -> int:
    """Epoch seconds (float) as integer nanoseconds, exact to the float's precision; 0 for
    anything that is not a finite number in the fixed64 range."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        return 0
    if isinstance(seconds, int):
        nanos = seconds * _NANOS
    else:
        if not math.isfinite(seconds):
            return 0
        whole = math.floor(seconds)
        # ``seconds - whole`` is exact, so only the fraction is rounded, not 1.7e18 ns.
        nanos = int(whole) * _NANOS + round((seconds - whole) * _NANOS)
    return nanos if 0 <= nanos <= _UINT64_MAX else 0


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    safe = json_safe(value)
    return safe if isinstance(safe, str) else dumps(safe)
