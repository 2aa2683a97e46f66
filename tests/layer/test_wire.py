"""The versioned format between the function process and the extension: every message decodes to
what was sent, any datagram at all decodes without raising, and no message outgrows a datagram."""

from __future__ import annotations

import json
import socket

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from xraylayer import intake_address, wire
from xraylayer.spans import CLIENT, SERVER, Span
from xraylayer.wire import (
    DecodeError,
    Hello,
    InvocationEnd,
    InvocationStart,
    SpanBatch,
    SpanMessage,
    decode,
)

TRACE_ID = "5759e988bd862e3fe1be46a994272793"
PARENT = "53995c3f42cd8ad8"
FIELDS = (
    "name",
    "trace_id",
    "span_id",
    "parent_id",
    "kind",
    "sampled",
    "namespace",
    "start_time",
    "end_time",
    "attributes",
    "annotations",
    "metadata",
    "exceptions",
    "links",
    "error",
    "throttle",
    "fault",
    "status_message",
)


def fields(span: Span) -> dict:
    return {field: getattr(span, field) for field in FIELDS}


def full_span() -> Span:
    span = Span(
        "DynamoDB",
        TRACE_ID,
        PARENT,
        kind=CLIENT,
        sampled=False,
        namespace="aws",
        attributes={"rpc.method": "PutItem", "aws.retries": 1, "list": ["a", "b"], "f": 1.5},
        start_time=1700000000.123456,
    )
    span.end(1700000000.5)
    span.annotations["ColdStart"] = True
    span.metadata["default"] = {"order": {"id": 7}}
    try:
        raise ValueError("boom")
    except ValueError as error:
        span.record_exception(error)
    span.set_status_code(429)
    span.links.append(("0123456789abcdef0123456789abcdef", "1111111111111111"))
    return span


def decoded_span(data: bytes) -> Span:
    message = decode(data)
    assert isinstance(message, (SpanMessage, InvocationStart)), message
    return message.span


# --- the intake address ------------------------------------------------------------------------


def test_intake_path_default_and_override(capsys):
    assert intake_address.intake_path({}) == "/tmp/xraylayer-intake.sock"
    assert intake_address.intake_path({"XRAYLAYER_INTAKE": "/tmp/x.sock"}) == "/tmp/x.sock"
    assert intake_address.intake_path({"XRAYLAYER_INTAKE": ""}) == "/tmp/xraylayer-intake.sock"
    assert intake_address.intake_path({"TMPDIR": "/t/env-1/"}) == "/t/env-1/xraylayer-intake.sock"
    assert intake_address.intake_path({"TMPDIR": "/" + "t" * 120}) == "/tmp/xraylayer-intake.sock"
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("value", ["/tmp/" + "x" * 200, "/tmp/a\0b"])
def test_an_unusable_intake_path_warns_and_uses_the_default(value, capsys):
    default = intake_address.DEFAULT_INTAKE_PATH
    assert intake_address.intake_path({"XRAYLAYER_INTAKE": value}) == default
    assert "xraylayer: WARNING XRAYLAYER_INTAKE=" in capsys.readouterr().err


# --- round trips ---------------------------------------------------------------------------------


def test_a_span_round_trips_with_every_field():
    span = full_span()
    assert fields(decoded_span(wire.encode_span(span, "req-1"))) == {
        **fields(span),
        "links": [("0123456789abcdef0123456789abcdef", "1111111111111111")],
    }
    assert decode(wire.encode_span(span, "req-1")).request_id == "req-1"


def test_a_span_at_its_defaults_is_small_and_round_trips():
    span = Span("work", TRACE_ID, start_time=12.5, span_id="1234567890abcdef")
    span.end(13.0)
    data = wire.encode_span(span)
    assert json.loads(data) == {
        "v": 1,
        "t": "span",
        "rid": None,
        "span": {
            "name": "work",
            "trace_id": TRACE_ID,
            "span_id": "1234567890abcdef",
            "start": 12.5,
            "end": 13.0,
        },
    }
    assert fields(decoded_span(data)) == fields(span)


def test_messages_are_compact_json_with_version_and_type_first():
    data = wire.encode_span(full_span())
    assert data.startswith(b'{"v":1,"t":"span",')
    assert b'": ' not in data and b'", "' not in data


def test_invocation_start_carries_the_open_invocation_span():
    span = Span(
        "my-function", TRACE_ID, PARENT, kind=SERVER, attributes={"faas.invocation_id": "r"}
    )
    message = decode(wire.encode_invocation_start(span, "r"))
    assert isinstance(message, InvocationStart)
    assert message.request_id == "r"
    assert message.span.end_time is None
    assert fields(message.span) == fields(span)


def test_hello_round_trips():
    assert decode(wire.encode_hello("169.254.79.129:2000", pid=42, layer_version="0.1.0")) == Hello(
        42, "0.1.0", "169.254.79.129:2000"
    )
    assert decode(wire.encode_hello(None, pid=1, layer_version="x")) == Hello(1, "x", None)


def test_invocation_end_round_trips():
    span = full_span()
    data = wire.encode_invocation_end(span, "r", handed_off=3, exported=2, dropped={"unsampled": 1})
    assert decode(data) == InvocationEnd("r", TRACE_ID, span.span_id, 3, 2, {"unsampled": 1})


def test_several_items_make_one_batch_message_in_order():
    spans = [Span(f"s{i}", TRACE_ID, PARENT) for i in range(3)]
    items = [wire.encode_span_item(span, f"r{i}") for i, span in enumerate(spans)]
    message = decode(wire.encode_span_items(items))
    assert isinstance(message, SpanBatch)
    assert [(m.request_id, m.span.name) for m in message.items] == [
        ("r0", "s0"),
        ("r1", "s1"),
        ("r2", "s2"),
    ]
    single = decode(wire.encode_span_items(items[:1]))
    assert isinstance(single, SpanMessage) and single.span.name == "s0"


def test_values_json_cannot_hold_are_converted_not_fatal():
    span = Span(
        "x",
        TRACE_ID,
        attributes={"nan": float("nan"), "inf": float("-inf"), "obj": object(), "set": {1}},
    )
    span.metadata["m"] = {"tuple_key": {(1, 2): "v"}, "bytes": b"\x00\xff"}
    data = wire.encode_span(span)
    json.loads(data, parse_constant=lambda name: pytest.fail(f"{name} on the wire"))
    decoded = decoded_span(data)
    assert decoded.attributes["nan"] == "NaN"
    assert decoded.attributes["inf"] == "-Infinity"
    assert decoded.attributes["obj"].startswith("<object object at")
    assert decoded.attributes["set"] == [1]
    assert decoded.metadata["m"] == {"tuple_key": {"(1, 2)": "v"}, "bytes": "\x00\\xff"}


# --- size ----------------------------------------------------------------------------------------


def wire_notes(span: Span) -> list[str]:
    return span.metadata["xraylayer"]["wire_truncated"]


def test_a_deep_stack_is_cut_to_fit_one_datagram():
    span = full_span()
    frame = {"path": "/var/task/" + "d" * 100 + ".py", "line": 1, "label": "f"}
    span.exceptions[0]["stack"] = [frame] * 2000
    data = wire.encode_span(span)
    assert len(data) <= wire.MAX_DATAGRAM_BYTES
    decoded = decoded_span(data)
    assert len(decoded.exceptions[0]["stack"]) == 10
    assert decoded.exceptions[0]["truncated"] == 1990
    assert wire_notes(decoded) == ["stack"]
    assert decoded.attributes == span.attributes


def test_a_huge_attribute_is_cut_and_marked():
    span = full_span()
    span.attributes["url.full"] = "https://h/" + "q" * 500_000
    data = wire.encode_span(span)
    assert len(data) <= wire.MAX_DATAGRAM_BYTES
    decoded = decoded_span(data)
    assert len(decoded.attributes["url.full"]) == 1025
    assert wire_notes(decoded) == ["strings"]
    assert (decoded.span_id, decoded.trace_id, decoded.parent_id) == (
        span.span_id,
        TRACE_ID,
        PARENT,
    )


def test_too_many_attributes_leave_the_core_of_the_span():
    span = full_span()
    span.attributes.update({f"attribute.{i}": "v" * 100 for i in range(20_000)})
    data = wire.encode_span(span)
    assert len(data) <= wire.MAX_DATAGRAM_BYTES
    decoded = decoded_span(data)
    assert decoded.attributes == {}
    assert wire_notes(decoded)[-1] == "fields"
    assert decoded.exceptions[0]["type"] == "ValueError"
    assert (decoded.throttle, decoded.error, decoded.end_time) == (True, True, span.end_time)


def test_the_largest_message_passes_through_a_unix_datagram_socket():
    span = full_span()
    span.attributes["blob"] = "b" * 70_000
    data = wire.encode_span(span)
    receiver, sender = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    with receiver, sender:
        sender.send(data)
        assert receiver.recv(wire.MAX_DATAGRAM_BYTES) == data


# --- decoding anything -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "not JSON"),
        (b"\xff\xfe\x00garbage", "not JSON"),
        (b"[" * 100_000, "not JSON"),
        (b"[]", "not a JSON object"),
        (b"{}", "no version field"),
        (b'{"v":"1","t":"span"}', "no version field"),
        (b'{"v":true,"t":"span"}', "no version field"),
        (b'{"v":2,"t":"span"}', "unsupported version 2"),
        (b'{"v":1,"t":"telemetry"}', "unknown message type 'telemetry'"),
        (b'{"v":1,"t":["span"]}', "unknown message type ['span']"),
        (b'{"v":1,"t":"span"}', "field 'span' is not an object"),
        (
            b'{"v":1,"t":"span","span":{"name":"x","trace_id":"t","start":1}}',
            "field 'span_id' is missing",
        ),
        (
            b'{"v":1,"t":"span","span":{"name":"x","trace_id":"t","span_id":"s","start":"1"}}',
            "field 'start' is not a number",
        ),
        (
            b'{"v":1,"t":"span","span":{"name":"x","trace_id":"t","span_id":"s","start":1e999999}}',
            None,
        ),
        (
            b'{"v":1,"t":"span","span":{"name":"x","trace_id":"t","span_id":"s","start":1,'
            b'"attributes":[]}}',
            "field 'attributes' is not of type dict",
        ),
        (
            b'{"v":1,"t":"span","span":{"name":"x","trace_id":"t","span_id":"s","start":1,'
            b'"links":[["a"]]}}',
            "a link is not [trace_id, span_id]",
        ),
        (
            b'{"v":1,"t":"span","span":{"name":"x","trace_id":"t","span_id":"s","start":1,'
            b'"end":' + b"9" * 400 + b"}}",
            "a time is out of range",
        ),
        (b'{"v":1,"t":"spans","items":{}}', "field 'items' is not a list"),
        (b'{"v":1,"t":"spans","items":[1]}', "an item of 'items' is not an object"),
        (b'{"v":1,"t":"end","dropped":{"x":"1"}}', "field 'dropped' is not a map of counts"),
        (b'{"v":1,"t":"end","handed_off":true}', "field 'handed_off' is not an integer"),
        (b'{"v":1,"t":"hello","pid":"1"}', "field 'pid' is not an integer"),
    ],
)
def test_garbage_decodes_to_a_clear_error(data, reason):
    message = decode(data)
    if reason is None:  # accepted by the codec (an infinite time); nothing raised
        assert isinstance(message, SpanMessage)
    else:
        assert message == DecodeError(reason) or (
            isinstance(message, DecodeError) and message.reason.startswith(reason)
        )


@given(st.binary(max_size=300))
def test_decode_never_raises_on_any_bytes(data):
    assert isinstance(
        decode(data), (DecodeError, Hello, InvocationStart, SpanMessage, SpanBatch, InvocationEnd)
    )


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(
        [
            wire.encode_span(full_span()),
            wire.encode_invocation_start(full_span(), "r"),
            wire.encode_invocation_end(full_span(), "r", handed_off=1, exported=0, dropped={}),
            wire.encode_hello("a:1", pid=1, layer_version="v"),
            wire.encode_span_items([wire.encode_span_item(full_span(), None)] * 2),
        ]
    ),
    st.data(),
)
def test_decode_never_raises_on_damaged_messages(data, draw):
    message = json.loads(data)
    target = message.get("span") or message
    key = draw.draw(st.sampled_from(sorted(target)))
    target[key] = draw.draw(json_values)
    assert decode(json.dumps(message).encode()) is not None


spans = st.builds(
    Span,
    st.text(max_size=30),
    st.text("0123456789abcdef", min_size=32, max_size=32),
    st.none() | st.text("0123456789abcdef", min_size=16, max_size=16),
    kind=st.sampled_from(["internal", "server", "client", "producer", "consumer"]),
    sampled=st.booleans(),
    namespace=st.none() | st.sampled_from(["aws", "remote"]),
    attributes=st.dictionaries(st.text(max_size=20), json_values, max_size=5),
    start_time=st.floats(0, 2e9),
)


@given(spans, st.none() | st.floats(0, 2e9), st.none() | st.text(max_size=36))
def test_any_span_of_json_values_round_trips(span, end, request_id):
    span.end_time = end
    data = wire.encode_span(span, request_id)
    assert len(data) <= wire.MAX_DATAGRAM_BYTES
    message = decode(data)
    assert isinstance(message, SpanMessage)
    assert message.request_id == request_id
    assert fields(message.span) == fields(span)
