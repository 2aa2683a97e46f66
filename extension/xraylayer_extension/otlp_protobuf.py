"""OTLP trace requests in protobuf's binary wire format, from their OTLP JSON form.

The OTLP/UDP path (the X-Ray daemon's port, for CloudWatch Transaction Search) carries
``ExportTraceServiceRequest`` as protobuf bytes, not JSON. The ``protobuf`` package would cost
import time and a dependency in the layer for a handful of messages, so this module writes the
wire format itself (https://protobuf.dev/programming-guides/encoding/): each field is a tag
(field number and wire type, as a varint) and then a varint, 8 or 4 little-endian bytes, or a
length-prefixed byte string; nested messages are length-prefixed too.

Input is the dict ``otlp_json.export_request`` makes, in OTLP's JSON conventions: hex ids,
64-bit integers as decimal strings, enums as integers, doubles possibly ``"NaN"`` /
``"Infinity"`` / ``"-Infinity"``. ``SCHEMA`` lists each message's fields; the stable fields of
the trace protos are all there (the development-only ``entityRefs`` and ``*Strindex`` fields are
not). Keys the schema does not know are ignored, as OTLP receivers ignore unknown fields.
Fields are written in field-number order and proto3 defaults left out, so the output is the same
bytes protobuf's own ``SerializeToString`` gives for the same message.

``encode_batches`` cuts one request into requests of at most a given size (a UDP datagram's),
encoding each span once.

Pure functions; imported only at the first export, never at start-up.
"""

from __future__ import annotations

import binascii
import struct

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence
    from typing import Any, TypeAlias

    # A compiled field: JSON key, tag, writer (None for a message), message name, oneof member.
    Field: TypeAlias = tuple[str, bytes, Callable[[Any], bytes] | None, str | None, bool]
    # A batch being filled: resource spans, their scope spans, the encoded spans of each.
    Scopes: TypeAlias = list[tuple[Mapping[str, Any], list[bytes]]]
    Batch: TypeAlias = list[tuple[Mapping[str, Any], Scopes]]
    Shrink: TypeAlias = Sequence[Callable[[dict[str, Any]], dict[str, Any]]]

# Field kinds: how the JSON value is written (and its wire type).
STRING, HEX_BYTES, BASE64_BYTES = "string", "hex", "base64"  # length-delimited
VARINT, BOOL = "varint", "bool"  # int64, uint32 and enums; bool
FIXED64, FIXED32, DOUBLE = "fixed64", "fixed32", "double"
MESSAGE = "message"  # the fourth item names the message; a list value is a repeated field

REQUEST = "ExportTraceServiceRequest"
RESOURCE_SPANS = "ResourceSpans"
SCOPE_SPANS = "ScopeSpans"
SPAN = "Span"

# message -> (JSON key, field number, kind, message of a MESSAGE field), as in
# opentelemetry-proto's collector/trace/v1, trace/v1, resource/v1 and common/v1 protos; in
# field-number order, the order protobuf writes them in.
SCHEMA: dict[str, tuple[tuple[str, int, str, str | None], ...]] = {
    REQUEST: (("resourceSpans", 1, MESSAGE, RESOURCE_SPANS),),
    RESOURCE_SPANS: (
        ("resource", 1, MESSAGE, "Resource"),
        ("scopeSpans", 2, MESSAGE, SCOPE_SPANS),
        ("schemaUrl", 3, STRING, None),
    ),
    "Resource": (
        ("attributes", 1, MESSAGE, "KeyValue"),
        ("droppedAttributesCount", 2, VARINT, None),
    ),
    SCOPE_SPANS: (
        ("scope", 1, MESSAGE, "InstrumentationScope"),
        ("spans", 2, MESSAGE, SPAN),
        ("schemaUrl", 3, STRING, None),
    ),
    "InstrumentationScope": (
        ("name", 1, STRING, None),
        ("version", 2, STRING, None),
        ("attributes", 3, MESSAGE, "KeyValue"),
        ("droppedAttributesCount", 4, VARINT, None),
    ),
    SPAN: (
        ("traceId", 1, HEX_BYTES, None),
        ("spanId", 2, HEX_BYTES, None),
        ("traceState", 3, STRING, None),
        ("parentSpanId", 4, HEX_BYTES, None),
        ("name", 5, STRING, None),
        ("kind", 6, VARINT, None),
        ("startTimeUnixNano", 7, FIXED64, None),
        ("endTimeUnixNano", 8, FIXED64, None),
        ("attributes", 9, MESSAGE, "KeyValue"),
        ("droppedAttributesCount", 10, VARINT, None),
        ("events", 11, MESSAGE, "Span.Event"),
        ("droppedEventsCount", 12, VARINT, None),
        ("links", 13, MESSAGE, "Span.Link"),
        ("droppedLinksCount", 14, VARINT, None),
        ("status", 15, MESSAGE, "Status"),
        ("flags", 16, FIXED32, None),
    ),
    "Span.Event": (
        ("timeUnixNano", 1, FIXED64, None),
        ("name", 2, STRING, None),
        ("attributes", 3, MESSAGE, "KeyValue"),
        ("droppedAttributesCount", 4, VARINT, None),
    ),
    "Span.Link": (
        ("traceId", 1, HEX_BYTES, None),
        ("spanId", 2, HEX_BYTES, None),
        ("traceState", 3, STRING, None),
        ("attributes", 4, MESSAGE, "KeyValue"),
        ("droppedAttributesCount", 5, VARINT, None),
        ("flags", 6, FIXED32, None),
    ),
    "Status": (
        ("message", 2, STRING, None),
        ("code", 3, VARINT, None),
    ),
    "KeyValue": (
        ("key", 1, STRING, None),
        ("value", 2, MESSAGE, "AnyValue"),
    ),
    "AnyValue": (  # the oneof ``value``: written even at its default (``""``, ``0``, false)
        ("stringValue", 1, STRING, None),
        ("boolValue", 2, BOOL, None),
        ("intValue", 3, VARINT, None),
        ("doubleValue", 4, DOUBLE, None),
        ("arrayValue", 5, MESSAGE, "ArrayValue"),
        ("kvlistValue", 6, MESSAGE, "KeyValueList"),
        ("bytesValue", 7, BASE64_BYTES, None),
    ),
    "ArrayValue": (("values", 1, MESSAGE, "AnyValue"),),
    "KeyValueList": (("values", 1, MESSAGE, "KeyValue"),),
}
ONEOF_MESSAGES = frozenset({"AnyValue"})

_WIRE_TYPES = {
    VARINT: 0,
    BOOL: 0,
    FIXED64: 1,
    DOUBLE: 1,
    STRING: 2,
    HEX_BYTES: 2,
    BASE64_BYTES: 2,
    MESSAGE: 2,
    FIXED32: 5,
}
_UINT64 = (1 << 64) - 1
_UINT32 = (1 << 32) - 1
_SMALL_VARINTS = [bytes((n,)) for n in range(128)]


# --- whole requests ----------------------------------------------------------------------------


def encode_request(request: Mapping[str, Any]) -> bytes:
    """The ``ExportTraceServiceRequest`` in binary form.

    Any message in ``request`` may already be encoded: a ``bytes`` value is written as is
    (``encode_batches`` encodes each span once that way).
    """
    return _message(request, _FIELDS[REQUEST])


def encode_span(span: Mapping[str, Any]) -> bytes:
    """One OTLP ``Span`` (its JSON form) in binary form, without field tag or length."""
    return _message(span, _FIELDS[SPAN])


def encode_batches(
    request: Mapping[str, Any],
    max_bytes: int,
    shrink: Shrink = (),
) -> Iterator[tuple[bytes | None, int]]:
    """The request cut into binary requests of at most ``max_bytes`` each: ``(payload,
    number of spans in it)``, spans in their order, each under its own resource and scope.

    Batches are filled greedily, so a datagram carries as many spans as fit. A span too large
    to fit alone is given to the ``shrink`` steps in turn (each takes the previous result) until
    it fits; if it still does not, it comes out as ``(None, 1)``. Lazy: the caller can stop
    between batches (at a deadline) without encoding the rest.
    """
    batch: Batch = []
    size = count = 0
    for resource_spans in request.get("resourceSpans") or ():
        resource_cost = _wrapper_size(resource_spans, RESOURCE_SPANS, "scopeSpans", max_bytes)
        for scope_spans in resource_spans.get("scopeSpans") or ():
            scope_cost = _wrapper_size(scope_spans, SCOPE_SPANS, "spans", max_bytes)
            room = max_bytes - resource_cost - scope_cost
            for span in scope_spans.get("spans") or ():
                body = _fitting_span(span, room, shrink)
                if body is None:
                    yield None, 1
                    continue
                cost = _entry_size(body)
                if not (batch and batch[-1][0] is resource_spans):
                    cost += resource_cost + scope_cost
                elif batch[-1][1][-1][0] is not scope_spans:
                    cost += scope_cost
                if batch and size + cost > max_bytes:
                    yield _assembled(batch), count
                    batch, size, count = [], 0, 0
                    cost = _entry_size(body) + resource_cost + scope_cost
                _add(batch, resource_spans, scope_spans, body)
                size += cost
                count += 1
    if batch:
        yield _assembled(batch), count


def _fitting_span(span: Mapping[str, Any], room: int, shrink: Shrink) -> bytes | None:
    """The span's encoding if its entry fits in ``room`` bytes, shrunk as far as needed."""
    body = encode_span(span)
    steps = iter(shrink)
    while _entry_size(body) > room:
        step = next(steps, None)
        if step is None:
            return None
        span = step(dict(span))
        body = encode_span(span)
    return body


def _add(
    batch: Batch,
    resource_spans: Mapping[str, Any],
    scope_spans: Mapping[str, Any],
    body: bytes,
) -> None:
    if not (batch and batch[-1][0] is resource_spans):
        batch.append((resource_spans, []))
    scopes = batch[-1][1]
    if not (scopes and scopes[-1][0] is scope_spans):
        scopes.append((scope_spans, []))
    scopes[-1][1].append(body)


def _assembled(batch: Batch) -> bytes:
    return encode_request(
        {
            "resourceSpans": [
                {
                    **resource_spans,
                    "scopeSpans": [{**scope, "spans": bodies} for scope, bodies in scopes],
                }
                for resource_spans, scopes in batch
            ]
        }
    )


def _entry_size(body: bytes) -> int:
    """The bytes a message takes as a field numbered below 16: tag, length, body."""
    return 1 + _varint_size(len(body)) + len(body)


def _wrapper_size(value: Mapping[str, Any], message: str, inner: str, max_bytes: int) -> int:
    """At most the bytes ``value`` (resource or scope spans) adds around its ``inner`` list
    in a batch of at most ``max_bytes``: its other fields, tag and length."""
    fields = _message({**value, inner: ()}, _FIELDS[message])
    return 1 + _varint_size(max_bytes) + len(fields)


# --- messages and values -----------------------------------------------------------------------


def _compiled(message: str) -> tuple[Field, ...]:
    """The fields of ``message``, each with its tag ready."""
    oneof = message in ONEOF_MESSAGES
    return tuple(
        (
            key,
            _varint(number << 3 | _WIRE_TYPES[kind]),
            None if kind == MESSAGE else _WRITERS[kind],
            submessage,
            oneof,
        )
        for key, number, kind, submessage in SCHEMA[message]
    )


def _message(value: Mapping[str, Any], fields: tuple[Field, ...]) -> bytes:
    parts: list[bytes] = []
    for key, tag, writer, submessage, always in fields:
        item = value.get(key)
        if item is None:
            continue
        if writer is None:  # a message, or a list of them (repeated)
            for element in item if isinstance(item, (list, tuple)) else (item,):
                body = (
                    element
                    if isinstance(element, bytes)
                    else _message(element, _FIELDS[submessage])  # type: ignore[index]
                )
                parts += (tag, _varint(len(body)), body)
            continue
        written = writer(item)
        # proto3 leaves out a scalar at its default. Every default (0, "", false, +0.0) is
        # written as zero bytes only, and no other value is, so a zero-only value is left out.
        if always or any(written):
            parts += (tag, written)
    return b"".join(parts)


def _varint(value: int) -> bytes:
    """Base-128, least significant group first; a negative int64 as its 64-bit two's
    complement (ten bytes), as protobuf writes it."""
    if 0 <= value < 128:
        return _SMALL_VARINTS[value]
    value &= _UINT64
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _varint_size(value: int) -> int:
    return max(1, (value.bit_length() + 6) // 7)


def _length_delimited(data: bytes) -> bytes:
    return _varint(len(data)) + data


def _string(value: str) -> bytes:
    # "replace": a lone surrogate (not valid UTF-8, which protobuf requires) becomes "?".
    return _length_delimited(value.encode("utf-8", "replace"))


def _hex_bytes(value: str) -> bytes:
    return _length_delimited(bytes.fromhex(value))


def _base64_bytes(value: str) -> bytes:
    return _length_delimited(binascii.a2b_base64(value))


def _int(value: int | str) -> bytes:
    return _varint(int(value))


def _bool(value: bool) -> bytes:
    return b"\x01" if value else b"\x00"


def _fixed64(value: int | str) -> bytes:
    return (int(value) & _UINT64).to_bytes(8, "little")


def _fixed32(value: int | str) -> bytes:
    return (int(value) & _UINT32).to_bytes(4, "little")


def _double(value: float | str) -> bytes:
    return struct.pack("<d", float(value))  # float() reads "NaN", "Infinity", "-Infinity"


_WRITERS: dict[str, Callable[[Any], bytes]] = {
    STRING: _string,
    HEX_BYTES: _hex_bytes,
    BASE64_BYTES: _base64_bytes,
    VARINT: _int,
    BOOL: _bool,
    FIXED64: _fixed64,
    FIXED32: _fixed32,
    DOUBLE: _double,
}
_FIELDS = {message: _compiled(message) for message in SCHEMA}
