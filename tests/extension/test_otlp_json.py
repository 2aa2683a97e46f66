"""Spans as OTLP JSON: every request must be one that ``opentelemetry-proto`` parses, with ids,
times and attributes intact.

OTLP/JSON writes ids as hex where proto3 JSON has base64 (lambda-platform.md §7), so the
receiver side here (``parse_request``) does what an OTLP receiver does: hex ids to bytes, then
``google.protobuf.json_format.Parse`` into ``ExportTraceServiceRequest``. Any other deviation
from the proto schema (a snake_case key, an enum name, a bad number) fails the parse.
"""

from __future__ import annotations

import base64
import json
import math
from decimal import Decimal
from typing import Any

import pytest
from google.protobuf import json_format
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from xraylayer import __version__, xray_rules
from xraylayer.json_values import json_safe
from xraylayer.otel_bridge import stack_frames
from xraylayer.spans import CLIENT, CONSUMER, INTERNAL, PRODUCER, SERVER, Span
from xraylayer_extension import otlp_json

TRACE_ID = "5b8efff798038103d269b633813fc60c"
SPAN_ID = "eee19b7ec3c1b174"
PARENT_ID = "eee19b7ec3c1b173"
LAMBDA_ENV = {
    "AWS_LAMBDA_FUNCTION_NAME": "orders",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
    "AWS_REGION": "eu-west-1",
}


# --- the receiver's side -----------------------------------------------------------------------


def parse_request(request: dict | bytes | str) -> ExportTraceServiceRequest:
    """Parse OTLP JSON as an OTLP/HTTP receiver does: hex ids decoded, the rest by protobuf's
    own JSON parser (which fails on anything the schema does not allow)."""
    data = (
        json.loads(request)
        if isinstance(request, (bytes, str))
        else json.loads(
            json.dumps(request, allow_nan=False)  # a bare NaN is not JSON
        )
    )
    _check_otlp_form(data)
    for resource_spans in data.get("resourceSpans", []):
        for scope_spans in resource_spans.get("scopeSpans", []):
            for span in scope_spans.get("spans", []):
                _ids_to_base64(span)
                for link in span.get("links", []):
                    _ids_to_base64(link)
    return json_format.Parse(json.dumps(data), ExportTraceServiceRequest())


_INT64_FIELDS = ("startTimeUnixNano", "endTimeUnixNano", "timeUnixNano", "intValue")


def _check_otlp_form(value: Any) -> None:
    """What protobuf's parser lets pass but OTLP/JSON forbids or asks otherwise: snake_case
    keys, enum names instead of numbers; 64-bit integers are written as strings here."""
    if isinstance(value, list):
        for item in value:
            _check_otlp_form(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            assert key.isalpha() and key[0].islower(), f"key {key!r} is not lowerCamelCase"
            if key in ("kind", "code"):
                assert type(item) is int, f"{key} {item!r} is not an enum number"
            if key in _INT64_FIELDS:
                assert isinstance(item, str) and item.lstrip("-").isdigit(), (key, item)
            _check_otlp_form(item)


def _ids_to_base64(item: dict[str, Any]) -> None:
    for key, size in (("traceId", 16), ("spanId", 8), ("parentSpanId", 8)):
        if key in item:
            raw = bytes.fromhex(item[key])
            assert len(raw) == size, f"{key} {item[key]!r} is not {size} bytes"
            item[key] = base64.b64encode(raw).decode()


def python_value(value: AnyValue) -> Any:
    """The Python value of a parsed AnyValue."""
    field = value.WhichOneof("value")
    if field is None:
        return None
    if field == "array_value":
        return [python_value(v) for v in value.array_value.values]
    if field == "kvlist_value":
        return {kv.key: python_value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, field)


def attributes_of(message: Any) -> dict[str, Any]:
    keys = [kv.key for kv in message.attributes]
    assert len(keys) == len(set(keys)), f"duplicate attribute keys: {keys}"
    return {kv.key: python_value(kv.value) for kv in message.attributes}


def only_span(request: dict) -> Any:
    parsed = parse_request(request)
    (resource_spans,) = parsed.resource_spans
    (scope_spans,) = resource_spans.scope_spans
    (span,) = scope_spans.spans
    return span


def same(a: Any, b: Any) -> bool:
    """Equality with NaN equal to NaN, and an int equal to the same float."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def expected_value(value: Any) -> Any:
    """What a Python attribute value becomes after OTLP and back."""
    if isinstance(value, (list, tuple)):
        return [expected_value(v) for v in value]
    if isinstance(value, dict):
        return {k: expected_value(v) for k, v in value.items()}
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
        return str(value)
    return value


def expected_nanos(seconds: float) -> int:
    return int((Decimal(seconds) * 10**9).to_integral_value())


def span(**changes: Any) -> Span:
    result = Span("handler", TRACE_ID, PARENT_ID, span_id=SPAN_ID, start_time=1544712660.0)
    result.end_time = 1544712661.5
    for name, value in changes.items():
        setattr(result, name, value)
    return result


# --- hypothesis: any span parses and round-trips -----------------------------------------------

trace_ids = st.binary(min_size=16, max_size=16).filter(any).map(bytes.hex)
span_ids = st.binary(min_size=8, max_size=8).filter(any).map(bytes.hex)
times = st.floats(min_value=0, max_value=4_102_444_800, allow_nan=False)  # up to 2100
keys = st.text(min_size=1, max_size=12)
values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats()
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=12,
)
annotation_values = st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
frames = st.fixed_dictionaries(
    {
        "path": st.text(min_size=1, max_size=20).filter(lambda p: '"' not in p and "\n" not in p),
        "line": st.integers(min_value=1, max_value=10**6),
        "label": st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True),
    }
)
exceptions = st.fixed_dictionaries(
    {
        "id": span_ids,
        "type": st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,15}", fullmatch=True),
        "message": st.text(max_size=30),
        "remote": st.booleans(),
        "stack": st.lists(frames, max_size=4),
    }
)


@st.composite
def spans(draw: st.DrawFn) -> Span:
    start = draw(times)
    result = Span(
        draw(st.text(max_size=30)),
        draw(trace_ids),
        draw(st.none() | span_ids),
        kind=draw(st.sampled_from([INTERNAL, SERVER, CLIENT, PRODUCER, CONSUMER])),
        sampled=draw(st.booleans()),
        attributes=draw(st.dictionaries(keys.filter(lambda k: "." in k), values, max_size=6)),
        start_time=start,
        span_id=draw(span_ids),
    )
    result.end_time = draw(st.none() | st.floats(min_value=start, max_value=4_102_444_800))
    result.annotations = draw(st.dictionaries(keys, annotation_values, max_size=4))
    result.metadata = draw(
        st.dictionaries(keys, st.dictionaries(keys, values, max_size=3), max_size=3)
    )
    result.exceptions = draw(st.lists(exceptions, max_size=2))
    result.links = draw(st.lists(st.tuples(trace_ids, span_ids), max_size=2))
    result.error, result.fault = draw(st.booleans()), draw(st.booleans())
    return result


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(spans(), min_size=1, max_size=4))
def test_any_span_parses_and_round_trips(originals: list[Span]) -> None:
    request = otlp_json.export_request(originals, otlp_json.resource_attributes(LAMBDA_ENV))
    parsed = parse_request(otlp_json.encode(request))
    assert parse_request(request) == parsed  # the dict and its encoding say the same

    (resource_spans,) = parsed.resource_spans
    (scope_spans,) = resource_spans.scope_spans
    assert (scope_spans.scope.name, scope_spans.scope.version) == ("xraylayer", __version__)
    assert len(scope_spans.spans) == len(originals)
    for original, converted in zip(originals, scope_spans.spans, strict=True):
        assert converted.trace_id.hex() == original.trace_id
        assert converted.span_id.hex() == original.span_id
        assert converted.parent_span_id.hex() == (original.parent_id or "")
        assert converted.name == original.name
        assert converted.flags == (1 if original.sampled else 0)
        start = converted.start_time_unix_nano
        assert abs(start - expected_nanos(original.start_time)) <= 1
        end = original.start_time if original.end_time is None else original.end_time
        assert abs(converted.end_time_unix_nano - expected_nanos(end)) <= 1

        attributes = attributes_of(converted)
        for key, value in original.attributes.items():
            if value is None:
                assert key not in attributes
            else:
                assert same(attributes[key], expected_value(value)), key
        annotation_keys = [xray_rules.annotation_key(k) for k in original.annotations]
        if annotation_keys:
            assert attributes["aws.xray.annotations"] == list(dict.fromkeys(annotation_keys))
        annotations = {  # keys made X-Ray-valid: a later look-alike key wins
            xray_rules.annotation_key(k): xray_rules.annotation_value(v)
            for k, v in original.annotations.items()
        }
        for key, value in annotations.items():
            assert same(attributes[key], expected_value(value)), key
        for namespace, entries in original.metadata.items():
            stored = attributes["aws.xray.metadata." + xray_rules.metadata_namespace(namespace)]
            assert json.loads(stored) == json_safe(entries)

        assert [(e.name, attributes_of(e)["exception.type"]) for e in converted.events] == [
            ("exception", record["type"]) for record in original.exceptions
        ]
        assert [(link.trace_id.hex(), link.span_id.hex()) for link in converted.links] == [
            tuple(link) for link in original.links
        ]
        failed = original.error or original.fault
        assert converted.status.code == (2 if failed else 0)


# --- the request's shape -----------------------------------------------------------------------


def test_the_request_has_otlps_json_shape() -> None:
    request = otlp_json.export_request([span(kind=SERVER)], {"service.name": "orders"})
    (resource_spans,) = request["resourceSpans"]
    assert resource_spans["resource"] == {
        "attributes": [{"key": "service.name", "value": {"stringValue": "orders"}}]
    }
    (scope_spans,) = resource_spans["scopeSpans"]
    assert scope_spans["scope"] == {"name": "xraylayer", "version": __version__}
    (body,) = scope_spans["spans"]
    assert body == {
        "traceId": TRACE_ID,
        "spanId": SPAN_ID,
        "parentSpanId": PARENT_ID,
        "flags": 1,
        "name": "handler",
        "kind": 2,
        "startTimeUnixNano": "1544712660000000000",
        "endTimeUnixNano": "1544712661500000000",
        "attributes": [],
        "status": {"code": 0},
    }


@pytest.mark.parametrize(
    ("kind", "number"),
    [(INTERNAL, 1), (SERVER, 2), (CLIENT, 3), (PRODUCER, 4), (CONSUMER, 5), ("odd", 1)],
)
def test_span_kinds_are_otlp_enum_numbers(kind: str, number: int) -> None:
    request = otlp_json.export_request([span(kind=kind)], {})
    assert request["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["kind"] == number
    assert only_span(request).kind == number


def test_ids_are_lowercase_hex_and_an_xray_trace_id_is_converted() -> None:
    converted = only_span(
        otlp_json.export_request(
            [span(trace_id="1-5B8EFFF7-98038103D269B633813FC60C", span_id=SPAN_ID.upper())], {}
        )
    )
    assert converted.trace_id.hex() == TRACE_ID
    assert converted.span_id.hex() == SPAN_ID


def test_a_root_span_has_no_parent_span_id() -> None:
    request = otlp_json.export_request([span(parent_id=None)], {})
    assert "parentSpanId" not in request["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert only_span(request).parent_span_id == b""


@pytest.mark.parametrize(
    "changes",
    [
        {"trace_id": "not-a-trace-id"},
        {"trace_id": "0" * 32},
        {"trace_id": TRACE_ID[:-1] + "g"},
        {"span_id": "abc"},
        {"span_id": "0" * 16},
        {"span_id": None},
    ],
)
def test_spans_with_ids_otlp_cannot_carry_are_left_out(changes: dict[str, Any]) -> None:
    bad = span(**changes)
    assert not otlp_json.exportable(bad)
    request = otlp_json.export_request([bad, span()], {})
    assert len(parse_request(request).resource_spans[0].scope_spans[0].spans) == 1


def test_an_invalid_parent_or_link_id_is_left_out_not_the_span() -> None:
    converted = only_span(
        otlp_json.export_request(
            [span(parent_id="xyz", links=[("bad", SPAN_ID), (TRACE_ID, PARENT_ID), "junk"])], {}
        )
    )
    assert converted.parent_span_id == b""
    assert [(link.trace_id.hex(), link.span_id.hex()) for link in converted.links] == [
        (TRACE_ID, PARENT_ID)
    ]


def test_times_are_nanosecond_strings_without_float_error() -> None:
    request = otlp_json.export_request([span(start_time=1700000000.123456, end_time=None)], {})
    body = request["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert body["startTimeUnixNano"] == "1700000000123456001"  # the float's exact value, rounded
    assert body["endTimeUnixNano"] == body["startTimeUnixNano"]
    assert {"key": "aws.xray.inprogress", "value": {"boolValue": True}} in body["attributes"]


@pytest.mark.parametrize("bad_time", [math.nan, math.inf, -1.0, 1e300, "soon", True])
def test_a_time_that_is_no_time_becomes_zero(bad_time: Any) -> None:
    converted = only_span(otlp_json.export_request([span(start_time=bad_time)], {}))
    assert converted.start_time_unix_nano == 0


def test_sampled_flag_follows_the_span_unless_overridden() -> None:
    unsampled = span(sampled=False)
    assert only_span(otlp_json.export_request([unsampled], {})).flags == 0
    assert only_span(otlp_json.export_request([unsampled], {}, sampled=True)).flags == 1
    assert only_span(otlp_json.export_request([span()], {}, sampled=False)).flags == 0


# --- attribute values --------------------------------------------------------------------------


class Opaque:
    def __repr__(self) -> str:
        return "<Opaque>"


def test_attribute_values_of_every_type() -> None:
    attributes = {
        "s": "text",
        "b": False,
        "i": -42,
        "i64": 2**63 - 1,
        "big": 2**64,
        "f": 1.5,
        "nan": math.nan,
        "inf": math.inf,
        "-inf": -math.inf,
        "list": [1, "two", [3.0], None],
        "tuple": (1, 2),
        "dict": {"a": {"b": True}, 1: "int key"},
        "set": {7},
        "bytes": b"raw",
        "object": Opaque(),
        "none": None,
    }
    request = otlp_json.export_request([span(attributes=attributes)], {})
    json.dumps(request, allow_nan=False)  # strict JSON: non-finite floats are strings
    values = attributes_of(only_span(request))
    assert "none" not in values
    assert values["s"] == "text"
    assert values["b"] is False
    assert values["i"] == -42
    assert values["i64"] == 2**63 - 1
    assert values["big"] == str(2**64)
    assert values["f"] == 1.5
    assert math.isnan(values["nan"])
    assert values["inf"] == math.inf
    assert values["-inf"] == -math.inf
    assert values["list"] == [1, "two", [3.0], None]
    assert values["tuple"] == [1, 2]
    assert values["dict"] == {"a": {"b": True}, "1": "int key"}
    assert values["set"] == [7]
    assert values["bytes"] == "raw"
    assert values["object"] == "<Opaque>"


def test_a_cyclic_value_does_not_break_the_request() -> None:
    cycle: list[Any] = [1]
    cycle.append(cycle)
    values = attributes_of(only_span(otlp_json.export_request([span(attributes={"c": cycle})], {})))
    assert values["c"][0] == 1


def test_text_that_is_not_unicode_is_replaced_in_the_encoded_request() -> None:
    request = otlp_json.export_request([span(name="bad \ud800 name")], {})
    assert only_span(otlp_json.encode(request)).name == "bad ? name"


# --- X-Ray notions -----------------------------------------------------------------------------


def test_annotations_are_attributes_listed_in_aws_xray_annotations() -> None:
    annotated = span(
        attributes={"aws.xray.annotations": ["tenant"], "tenant": "t-1"},
        annotations={"ColdStart": True, "user id": "u-1", "count": 3, "ratio": math.nan},
    )
    values = attributes_of(only_span(otlp_json.export_request([annotated], {})))
    assert values["aws.xray.annotations"] == ["tenant", "ColdStart", "user_id", "count", "ratio"]
    assert values["ColdStart"] is True
    assert values["user_id"] == "u-1"
    assert values["count"] == 3
    assert values["ratio"] == "NaN"  # as X-Ray takes it
    assert values["tenant"] == "t-1"


def test_metadata_namespaces_are_json_strings_under_aws_xray_metadata() -> None:
    described = span(metadata={"default": {"order": {"id": 7}}, "AWS.x": {"y": 1}, "raw": [1]})
    values = attributes_of(only_span(otlp_json.export_request([described], {})))
    assert json.loads(values["aws.xray.metadata.default"]) == {"order": {"id": 7}}
    assert json.loads(values["aws.xray.metadata.user.AWS.x"]) == {"y": 1}
    assert json.loads(values["aws.xray.metadata.raw"]) == {"value": [1]}


def test_an_exception_is_an_exception_event_with_a_python_stacktrace() -> None:
    def fail() -> None:
        raise ValueError("bad order")

    failed = span()
    try:
        fail()
    except ValueError as error:
        record = failed.record_exception(error)
    converted = only_span(otlp_json.export_request([failed], {}))
    (event,) = converted.events
    assert event.name == "exception"
    assert event.time_unix_nano == converted.end_time_unix_nano
    attributes = attributes_of(event)
    assert attributes["exception.type"] == "ValueError"
    assert attributes["exception.message"] == "bad order"
    assert attributes["aws.xray.exception.id"] == record["id"]
    assert attributes["aws.xray.exception.remote"] is False
    stacktrace = attributes["exception.stacktrace"]
    assert stacktrace.startswith("Traceback (most recent call last):\n")
    assert stacktrace.endswith("\nValueError: bad order")
    assert stack_frames(stacktrace) == record["stack"]  # what the layer's OTel bridge reads back
    assert (converted.status.code, converted.status.message) == (2, "bad order")


def test_a_truncated_stack_says_so() -> None:
    record = {
        "id": SPAN_ID,
        "type": "RecursionError",
        "message": "",
        "stack": [{"path": "a.py", "line": 1, "label": "f"}],
        "truncated": 950,
    }
    event = only_span(otlp_json.export_request([span(exceptions=[record], fault=True)], {})).events[
        0
    ]
    attributes = attributes_of(event)
    assert "[950 outer frames not recorded]" in attributes["exception.stacktrace"]
    assert attributes["exception.stacktrace"].endswith("\nRecursionError")
    assert attributes["aws.xray.exception.truncated"] == 950


@pytest.mark.parametrize(
    ("flags", "message", "status"),
    [
        ({}, None, (0, "")),
        ({"error": True}, "HTTP 404", (2, "HTTP 404")),
        ({"throttle": True, "error": True}, None, (2, "")),
        ({"fault": True}, "boom", (2, "boom")),
    ],
)
def test_status_is_error_when_the_span_failed(
    flags: dict[str, bool], message: str | None, status: tuple[int, str]
) -> None:
    converted = only_span(otlp_json.export_request([span(status_message=message, **flags)], {}))
    assert (converted.status.code, converted.status.message) == status


def test_links_are_otlp_links() -> None:
    converted = only_span(otlp_json.export_request([span(links=[(TRACE_ID, PARENT_ID)])], {}))
    (link,) = converted.links
    assert (link.trace_id.hex(), link.span_id.hex()) == (TRACE_ID, PARENT_ID)


def test_spans_of_the_otel_bridge_keep_their_scope_and_events() -> None:
    bridged = span(
        attributes={"otel.scope.name": "my.lib", "k": "v"},
        metadata={
            "otel": {
                "events": [{"name": "cache miss", "time": 1544712660.5, "attributes": {"key": "a"}}]
            }
        },
    )
    parsed = parse_request(otlp_json.export_request([bridged, span(span_id=PARENT_ID)], {}))
    scopes = {s.scope.name: s for s in parsed.resource_spans[0].scope_spans}
    assert set(scopes) == {"my.lib", "xraylayer"}
    assert scopes["my.lib"].scope.version == ""
    (converted,) = scopes["my.lib"].spans
    assert attributes_of(converted) == {"k": "v"}
    (event,) = converted.events
    assert (event.name, event.time_unix_nano) == ("cache miss", 1544712660500000000)
    assert attributes_of(event) == {"key": "a"}


# --- resource ----------------------------------------------------------------------------------


def test_resource_attributes_from_the_lambda_environment() -> None:
    assert otlp_json.resource_attributes(LAMBDA_ENV) == {
        "cloud.provider": "aws",
        "cloud.platform": "aws_lambda",
        "cloud.region": "eu-west-1",
        "faas.name": "orders",
        "faas.version": "$LATEST",
        "faas.max_memory": 512 * 1024 * 1024,
        "telemetry.sdk.name": "xraylayer",
        "telemetry.sdk.language": "python",
        "telemetry.sdk.version": __version__,
        "service.name": "orders",
    }


def test_resource_attributes_parse_as_an_otlp_resource() -> None:
    request = otlp_json.export_request([span()], otlp_json.resource_attributes(LAMBDA_ENV))
    resource = attributes_of(parse_request(request).resource_spans[0].resource)
    assert resource["faas.max_memory"] == 512 * 1024 * 1024
    assert resource["service.name"] == "orders"


@pytest.mark.parametrize(
    ("environ", "service"),
    [
        ({}, "unknown_service"),
        ({"AWS_LAMBDA_FUNCTION_NAME": "fn"}, "fn"),
        ({"AWS_LAMBDA_FUNCTION_NAME": "fn", "POWERTOOLS_SERVICE_NAME": "pt"}, "pt"),
        ({"POWERTOOLS_SERVICE_NAME": "pt", "OTEL_RESOURCE_ATTRIBUTES": "service.name=ra"}, "ra"),
        ({"OTEL_SERVICE_NAME": "otel", "OTEL_RESOURCE_ATTRIBUTES": "service.name=ra"}, "otel"),
    ],
)
def test_service_name_precedence(environ: dict[str, str], service: str) -> None:
    assert otlp_json.resource_attributes(environ)["service.name"] == service


def test_otel_resource_attributes_are_percent_decoded_and_override() -> None:
    attributes = otlp_json.resource_attributes(
        {
            **LAMBDA_ENV,
            "OTEL_RESOURCE_ATTRIBUTES": " team = a%2Cb%3Dc%20d ,cloud.region=x, broken ,=v,"
            "deployment.environment=prod%",
        }
    )
    assert attributes["team"] == "a,b=c d"
    assert attributes["cloud.region"] == "x"
    assert attributes["deployment.environment"] == "prod%"
    assert "broken" not in attributes and "" not in attributes


@pytest.mark.parametrize("memory", ["", "lots", "-1", "1.5", "٣"])
def test_an_unusable_memory_size_is_left_out(memory: str) -> None:
    attributes = otlp_json.resource_attributes({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": memory})
    assert "faas.max_memory" not in attributes


def test_parse_key_values_reports_malformed_entries() -> None:
    pairs, invalid = otlp_json.parse_key_values("a=1, b ,c=x=y,=d,,e=%E2%9C%93,f=%ZZ%C3")
    assert pairs == {"a": "1", "c": "x=y", "e": "✓", "f": "%ZZ\ufffd"}
    assert invalid == ["b", "=d"]
