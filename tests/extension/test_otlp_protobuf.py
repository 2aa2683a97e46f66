"""OTLP requests in protobuf's wire format, checked against ``opentelemetry-proto`` itself.

Two checks for every request: the bytes are exactly the ones protobuf's own
``SerializeToString`` gives for the same message (parsed from the OTLP JSON as a receiver
does), and decoding them with ``ExportTraceServiceRequest.FromString`` and converting back
with ``MessageToDict`` gives the OTLP JSON request again (in proto3's form: defaults left out,
ids decoded from base64 to hex).
"""

from __future__ import annotations

import base64
import math
from typing import Any

import pytest
from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from test_otlp_json import LAMBDA_ENV, PARENT_ID, SPAN_ID, TRACE_ID, parse_request, span, spans
from xraylayer.spans import Span
from xraylayer_extension import otlp_json, otlp_protobuf
from xraylayer_extension.otlp_protobuf import encode_batches, encode_request

RESOURCE = otlp_json.resource_attributes(LAMBDA_ENV)

# --- the receiver's side -----------------------------------------------------------------------

_ID_KEYS = ("traceId", "spanId", "parentSpanId")
_ANY_VALUE_KEYS = frozenset(field[0] for field in otlp_protobuf.SCHEMA["AnyValue"])
_FIXED64_KEYS = frozenset({"startTimeUnixNano", "endTimeUnixNano", "timeUnixNano"})


def decoded(data: bytes) -> dict[str, Any]:
    """Protobuf bytes back to OTLP JSON, as protobuf reads them: ids as hex."""
    message = ExportTraceServiceRequest.FromString(data)
    return _hex_ids(json_format.MessageToDict(message, use_integers_for_enums=True))


def _hex_ids(value: Any) -> Any:
    if isinstance(value, list):
        return [_hex_ids(item) for item in value]
    if isinstance(value, dict):
        return {
            key: base64.b64decode(item).hex() if key in _ID_KEYS else _hex_ids(item)
            for key, item in value.items()
        }
    return value


def proto3_form(value: Any, in_any_value: bool = False) -> Any:
    """The OTLP JSON ``value`` as proto3 JSON writes it back: a field at its default (0, "0"
    for 64-bit times, "", false, empty list) left out, except the members of AnyValue's oneof,
    which are there whenever set; messages stay, even empty."""
    if isinstance(value, list):
        return [proto3_form(item, in_any_value) for item in value]
    if not isinstance(value, dict):
        return value
    kept = {}
    for key, item in value.items():
        oneof = in_any_value and key in _ANY_VALUE_KEYS
        default = item in ("", [], 0) or (key in _FIXED64_KEYS and item == "0")
        if oneof or not default or isinstance(item, dict):
            kept[key] = proto3_form(item, in_any_value=key in ("value", "values"))
    return kept


def check(request: dict[str, Any]) -> bytes:
    """Encode ``request`` and check it against protobuf both ways; the bytes."""
    data = encode_request(request)
    assert data == parse_request(request).SerializeToString()
    assert decoded(data) == proto3_form(request)
    return data


# --- the schema --------------------------------------------------------------------------------

_KINDS = {
    otlp_protobuf.STRING: {FieldDescriptor.TYPE_STRING},
    otlp_protobuf.HEX_BYTES: {FieldDescriptor.TYPE_BYTES},
    otlp_protobuf.BASE64_BYTES: {FieldDescriptor.TYPE_BYTES},
    otlp_protobuf.VARINT: {
        FieldDescriptor.TYPE_INT64,
        FieldDescriptor.TYPE_UINT32,
        FieldDescriptor.TYPE_ENUM,
    },
    otlp_protobuf.BOOL: {FieldDescriptor.TYPE_BOOL},
    otlp_protobuf.FIXED64: {FieldDescriptor.TYPE_FIXED64},
    otlp_protobuf.FIXED32: {FieldDescriptor.TYPE_FIXED32},
    otlp_protobuf.DOUBLE: {FieldDescriptor.TYPE_DOUBLE},
    otlp_protobuf.MESSAGE: {FieldDescriptor.TYPE_MESSAGE},
}
# Development-stage fields (entities, the profiles string table) no trace exporter writes.
LEFT_OUT = {"Resource.entityRefs", "KeyValue.keyStrindex", "AnyValue.stringValueStrindex"}


def _descriptors() -> dict[str, Any]:
    """Every message reachable from ExportTraceServiceRequest but through a field left out,
    by the schema's short name."""
    found: dict[str, Any] = {}
    pending = [ExportTraceServiceRequest.DESCRIPTOR]
    while pending:
        descriptor = pending.pop()
        name = descriptor.full_name.split(".v1.")[-1]
        if name not in found:
            found[name] = descriptor
            pending.extend(
                field.message_type
                for field in descriptor.fields
                if field.message_type and f"{name}.{field.json_name}" not in LEFT_OUT
            )
    return found


def test_the_schema_is_opentelemetry_protos() -> None:
    descriptors = _descriptors()
    assert set(otlp_protobuf.SCHEMA) == set(descriptors)
    for message, fields in otlp_protobuf.SCHEMA.items():
        numbers = [field[1] for field in fields]
        assert numbers == sorted(numbers), f"{message}: not in the order protobuf writes"
        by_json_name = {field.json_name: field for field in descriptors[message].fields}
        for key, number, kind, submessage in fields:
            field = by_json_name[key]
            assert field.number == number, (message, key)
            assert field.type in _KINDS[kind], (message, key)
            assert (field.message_type is not None) == (submessage is not None), (message, key)
            if submessage is not None:
                assert descriptors[submessage] is field.message_type, (message, key)
            in_oneof = field.containing_oneof is not None
            assert in_oneof == (message in otlp_protobuf.ONEOF_MESSAGES), (message, key)
        missing = {f"{message}.{name}" for name in by_json_name} - {
            f"{message}.{field[0]}" for field in fields
        }
        assert missing <= LEFT_OUT, missing


# --- any span: the same bytes as protobuf's, and back ------------------------------------------


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(spans(), min_size=1, max_size=4), st.sampled_from([None, True, False]))
def test_any_request_is_protobufs_bytes_and_decodes_back(
    originals: list[Span], sampled: bool | None
) -> None:
    check(otlp_json.export_request(originals, RESOURCE, sampled=sampled))


def test_every_field_of_the_schema() -> None:
    attributes = [
        {"key": "s", "value": {"stringValue": "naïve ✓"}},
        {"key": "empty", "value": {"stringValue": ""}},
        {"key": "false", "value": {"boolValue": False}},
        {"key": "zero", "value": {"intValue": "0"}},
        {"key": "min", "value": {"intValue": str(-(2**63))}},
        {"key": "max", "value": {"intValue": str(2**63 - 1)}},
        {"key": "-0", "value": {"doubleValue": -0.0}},
        {"key": "0.0", "value": {"doubleValue": 0.0}},
        {"key": "nan", "value": {"doubleValue": "NaN"}},
        {"key": "inf", "value": {"doubleValue": "Infinity"}},
        {"key": "-inf", "value": {"doubleValue": "-Infinity"}},
        {"key": "bytes", "value": {"bytesValue": base64.b64encode(b"\x00\xff").decode()}},
        {"key": "no value", "value": {}},
        {"key": "array", "value": {"arrayValue": {"values": [{"intValue": "1"}, {}]}}},
        {"key": "empty array", "value": {"arrayValue": {}}},
        {
            "key": "kvlist",
            "value": {"kvlistValue": {"values": [{"key": "k", "value": {"boolValue": True}}]}},
        },
    ]
    request = {
        "resourceSpans": [
            {
                "resource": {"attributes": attributes, "droppedAttributesCount": 3},
                "schemaUrl": "https://opentelemetry.io/schemas/1.26.0",
                "scopeSpans": [
                    {
                        "scope": {
                            "name": "lib",
                            "version": "1.0",
                            "attributes": attributes[:2],
                            "droppedAttributesCount": 1,
                        },
                        "schemaUrl": "https://opentelemetry.io/schemas/1.25.0",
                        "spans": [
                            {
                                "traceId": TRACE_ID,
                                "spanId": SPAN_ID,
                                "traceState": "vendor=value",
                                "parentSpanId": PARENT_ID,
                                "flags": 0x301,
                                "name": "handler",
                                "kind": 5,
                                "startTimeUnixNano": "1544712660000000000",
                                "endTimeUnixNano": str(2**64 - 1),
                                "attributes": attributes,
                                "droppedAttributesCount": 4294967295,
                                "events": [
                                    {
                                        "timeUnixNano": "1544712660500000000",
                                        "name": "event",
                                        "attributes": attributes[:3],
                                        "droppedAttributesCount": 2,
                                    },
                                    {"timeUnixNano": "0", "name": ""},
                                ],
                                "droppedEventsCount": 5,
                                "links": [
                                    {
                                        "traceId": TRACE_ID,
                                        "spanId": PARENT_ID,
                                        "traceState": "k=v",
                                        "attributes": attributes[:1],
                                        "droppedAttributesCount": 6,
                                        "flags": 1,
                                    }
                                ],
                                "droppedLinksCount": 7,
                                "status": {"code": 2, "message": "failed"},
                            },
                            {"traceId": TRACE_ID, "spanId": PARENT_ID, "status": {"code": 0}},
                        ],
                    }
                ],
            }
        ]
    }
    check(request)


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        ({"intValue": "0"}, b"\x18\x00"),
        ({"intValue": "300"}, b"\x18\xac\x02"),
        ({"intValue": "-1"}, b"\x18" + b"\xff" * 9 + b"\x01"),  # 64-bit two's complement
        ({"boolValue": False}, b"\x10\x00"),
        ({"stringValue": ""}, b"\x0a\x00"),
        ({"doubleValue": 1.0}, b"\x21\x00\x00\x00\x00\x00\x00\xf0\x3f"),
    ],
)
def test_any_value_wire_bytes(value: dict[str, Any], encoded: bytes) -> None:
    """The oneof members are written even at their default; varints are base 128."""
    request = {"resourceSpans": [{"resource": {"attributes": [{"key": "", "value": value}]}}]}
    data = encode_request(request)
    assert data.endswith(encoded)
    assert data == parse_request(request).SerializeToString()


def test_defaults_outside_the_oneof_are_left_out_but_empty_messages_kept() -> None:
    body = {"traceId": TRACE_ID, "spanId": SPAN_ID, "flags": 0, "kind": 0, "name": ""}
    span_bytes = b"\x0a\x10" + bytes.fromhex(TRACE_ID) + b"\x12\x08" + bytes.fromhex(SPAN_ID)
    request = {"resourceSpans": [{"scopeSpans": [{"spans": [body]}]}]}
    assert encode_request(request) == b"\x0a\x20\x12\x1e\x12\x1c" + span_bytes
    assert otlp_protobuf.encode_span({"status": {"code": 0}}) == b"\x7a\x00"


def test_a_lone_surrogate_becomes_a_question_mark() -> None:
    """Protobuf strings must be UTF-8; one from Python's surrogateescape must not fail."""
    request = otlp_json.export_request([span(name="bad \udcff name")], {})
    data = encode_request(request)
    (converted,) = ExportTraceServiceRequest.FromString(data).resource_spans[0].scope_spans[0].spans
    assert converted.name == "bad ? name"


def test_unknown_keys_are_ignored_and_encoded_messages_kept_as_they_are() -> None:
    body = {"traceId": TRACE_ID, "spanId": SPAN_ID, "name": "x"}
    plain = {"resourceSpans": [{"scopeSpans": [{"spans": [body]}]}]}
    extra = {"resourceSpans": [{"scopeSpans": [{"spans": [{**body, "future": 1}]}], "x": []}]}
    preencoded = {"resourceSpans": [{"scopeSpans": [{"spans": [otlp_protobuf.encode_span(body)]}]}]}
    assert encode_request(extra) == encode_request(plain) == encode_request(preencoded)


# --- batches -----------------------------------------------------------------------------------


def spans_of(data: bytes | None) -> list[tuple[Any, Any, Any]]:
    """(resource, scope, span) of every span in a binary request, as proto3 JSON."""
    assert data is not None
    return [
        (resource_spans.get("resource"), scope_spans.get("scope"), body)
        for resource_spans in decoded(data).get("resourceSpans", [])
        for scope_spans in resource_spans.get("scopeSpans", [])
        for body in scope_spans.get("spans", [])
    ]


def scoped_spans(count: int, scope_every: int = 1000) -> list[Span]:
    """Spans with distinct ids, a new instrumentation scope every ``scope_every`` of them."""
    return [
        span(span_id=f"{i + 1:016x}", attributes={"otel.scope.name": f"lib{i // scope_every}"})
        for i in range(count)
    ]


def test_batches_hold_every_span_once_in_order_under_the_limit() -> None:
    request = otlp_json.export_request(scoped_spans(60, scope_every=7), RESOURCE)
    batches = list(encode_batches(request, 1500))
    assert len(batches) > 3
    for payload, count in batches:
        assert payload is not None and len(payload) <= 1500
        assert count == len(spans_of(payload))
        assert payload == parse_request(decoded(payload)).SerializeToString()
    received = [entry for payload, _ in batches for entry in spans_of(payload)]
    assert received == spans_of(encode_request(request))


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(spans(), min_size=1, max_size=12),
    st.lists(st.sampled_from(["a", "b", "c"]), min_size=12, max_size=12),
    st.integers(min_value=200, max_value=8000),
)
def test_any_batching_keeps_every_span_that_fits_alone(
    originals: list[Span], scopes: list[str], max_bytes: int
) -> None:
    for original, scope in zip(originals, scopes, strict=False):
        original.attributes["otel.scope.name"] = scope
    request = otlp_json.export_request(originals, RESOURCE)
    (resource_spans,) = request["resourceSpans"]
    whole, must_keep, cannot_keep = [], [], []
    for scope_spans in resource_spans["scopeSpans"]:
        for body in scope_spans["spans"]:
            alone = {
                "resourceSpans": [
                    {**resource_spans, "scopeSpans": [{**scope_spans, "spans": [body]}]}
                ]
            }
            (entry,) = spans_of(encode_request(alone))
            whole.append(entry)
            size = len(encode_request(alone))
            if size + 4 <= max_bytes:  # 4: the two outer lengths, reckoned at their largest
                must_keep.append(entry)
            elif size > max_bytes:
                cannot_keep.append(entry)

    kept, too_large = [], 0
    for payload, count in encode_batches(request, max_bytes):
        if payload is None:
            assert count == 1
            too_large += 1
        else:
            assert len(payload) <= max_bytes
            assert count == len(spans_of(payload))
            kept.extend(spans_of(payload))
    assert len(kept) + too_large == len(whole)
    remaining = iter(whole)
    assert all(any(entry == other for other in remaining) for entry in kept)  # in order, once
    assert all(entry in kept for entry in must_keep)
    assert not any(entry in kept for entry in cannot_keep)


def test_batches_are_filled() -> None:
    """Greedy packing: each batch but the last carries as many spans as fit."""
    request = otlp_json.export_request(scoped_spans(3000), RESOURCE)
    bodies = request["resourceSpans"][0]["scopeSpans"][0]["spans"]
    largest = max(len(otlp_protobuf.encode_span(body)) for body in bodies) + 3
    batches = list(encode_batches(request, 47_973))
    assert sum(count for _, count in batches) == 3000
    for payload, _ in batches[:-1]:
        assert payload is not None
        assert 47_973 - largest - 4 < len(payload) <= 47_973


def test_a_span_too_large_alone_is_shrunk_by_the_steps_in_turn_or_left_out() -> None:
    big = span(span_id="00000000000000b1", attributes={key: "x" * 1000 for key in "abcd"})
    small = span(span_id="00000000000000a1")
    request = otlp_json.export_request([small, big, small], RESOURCE)
    seen: list[list[str]] = []

    def without_first_attribute(body: dict[str, Any]) -> dict[str, Any]:
        seen.append([attribute["key"] for attribute in body["attributes"]])
        return {**body, "attributes": body["attributes"][1:]}

    unshrunk = list(encode_batches(request, 2700))
    assert [(payload is None, count) for payload, count in unshrunk] == [(True, 1), (False, 2)]
    shrunk = list(encode_batches(request, 2700, [without_first_attribute] * 3))
    assert seen == [list("abcd"), list("bcd")]  # each step takes the previous one's result
    ((payload, count),) = shrunk
    assert count == 3
    (_, _, body), *_ = (entry for entry in spans_of(payload) if entry[2]["spanId"].endswith("b1"))
    assert [attribute["key"] for attribute in body["attributes"]] == ["c", "d"]


def test_a_resource_too_large_for_any_batch_leaves_every_span_out() -> None:
    request = otlp_json.export_request([span(), span()], {"huge": "x" * 5000})
    assert list(encode_batches(request, 4000)) == [(None, 1), (None, 1)]


def test_no_spans_no_batches() -> None:
    assert list(encode_batches(otlp_json.export_request([], RESOURCE), 1000)) == []
    assert list(encode_batches({}, 1000)) == []


def test_batches_are_made_one_at_a_time() -> None:
    """The caller can stop at a deadline without the rest being encoded."""
    request = otlp_json.export_request(scoped_spans(50), RESOURCE)
    payload, count = next(encode_batches(request, 1000))
    assert payload is not None and 0 < count < 50


def test_values_at_the_edges_of_their_types() -> None:
    request = otlp_json.export_request(
        [span(attributes={"big": 2**63 - 1, "small": -(2**63), "nan": math.nan}, start_time=0)],
        {},
    )
    check(request)
