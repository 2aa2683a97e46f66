"""message_context: the trace context each kind of event carries, read from events shaped as
Lambda delivers them, and where it puts the invocation span (parent or links); malformed and
hostile values are passed over, never raised, and the work stays bounded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from xraylayer import message_context, semconv, triggers
from xraylayer.message_context import (
    MAX_LINKS,
    MAX_PARSED_VALUES,
    MAX_RECORDS,
    MAX_VALUE_CHARS,
    Batch,
    Context,
    attachment,
    read,
)
from xraylayer.propagation import format_traceparent
from xraylayer.trace_header import parse

EVENTS = Path(__file__).parent / "events"
HEX = "0123456789abcdef"

LAMBDA_TRACE = "6560a1b20123456789abcdef01234567"
LAMBDA_PARENT = "53995c3f42cd8ad8"
LAMBDA_SAMPLED = parse(f"Root=1-6560a1b2-0123456789abcdef01234567;Parent={LAMBDA_PARENT};Sampled=1")
LAMBDA_UNSAMPLED = parse(
    "Root=1-6560a1b2-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=0"
)
LAMBDA_WITHOUT_PARENT = parse("Root=1-6560a1b2-0123456789abcdef01234567")
# Where a context was found (Context.source), as the layer names it.
SYSTEM = "SQS attribute AWSTraceHeader"
SQS, SNS, ENVELOPE = "SQS message attribute ", "SNS message attribute ", "SNS envelope attribute "
HTTP = "HTTP header "


def load(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"{name}.json").read_text())


def xray(trace_id: str, span_id: str, sampled: str = "1") -> str:
    """An X-Ray header naming the span ``span_id`` of the 32-hex trace ``trace_id``."""
    return f"Root=1-{trace_id[:8]}-{trace_id[8:]};Parent={span_id};Sampled={sampled}"


def traceparent(trace_id: str, span_id: str, flags: str = "01") -> str:
    return f"00-{trace_id}-{span_id}-{flags}"


def lambda_attribute(value: Any, data_type: Any = "String") -> dict[str, Any]:
    """A message attribute as Lambda writes it into an SQS record."""
    return {
        "stringValue": value,
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": data_type,
    }


def sqs_record(
    attributes: dict[str, Any] | None = None,
    message_attributes: dict[str, Any] | None = None,
    body: str = '{"order_id": "o-1"}',
    message_id: str = "2e1424d4-f796-459a-8184-9c92662be6da",
) -> dict[str, Any]:
    record = load("sqs")["Records"][0]
    record.update(
        messageId=message_id,
        body=body,
        attributes={"ApproximateReceiveCount": "1", **(attributes or {})},
        messageAttributes=message_attributes or {},
    )
    return record


def sqs_event(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


def contexts(event: Any, trigger_type: str | None = None) -> list[list[Context]]:
    """The contexts of each record of ``event``."""
    trigger_type = trigger_type or triggers.detect(event)[0]
    return [record.contexts for record in read(event, trigger_type).records]


def rejected(event: Any) -> list[list[str]]:
    return [record.rejected for record in read(event, triggers.detect(event)[0]).records]


def span_of(context: Context) -> tuple[str, str]:
    return context.trace_id, context.span_id


# --- each kind of event -------------------------------------------------------------------------

# fixture -> per record, each context it carried: (its span as a traceparent, where it was found).
FOUND = {
    "sqs": [[("00-6560a1b20123456789abcdef01234567-0123456789abcdef-01", SYSTEM)]],
    "sqs_fifo": [[("00-6560a1b50123456789abcdef01234567-1a2b3c4d5e6f7a8b-00", SYSTEM)]],
    "sqs_sns_raw": [
        [("00-6560a1b4fedcba9876543210fedcba98-fedcba9876543210-01", SQS + "traceparent")]
    ],
    "sqs_sns_envelope": [
        [("00-6560a1b389abcdef0123456789abcdef-89abcdef01234567-01", ENVELOPE + "X-Amzn-Trace-Id")]
    ],
    "sqs_api_casing": [
        [("00-6560a1b600112233445566778899aabb-0011223344556677-01", SQS + "X-Amzn-Trace-Id")]
    ],
    "sqs_batch": [
        [("00-6560a1b7aaaaaaaaaaaaaaaaaaaaaaaa-aaaaaaaaaaaaaaa1-01", SYSTEM)],
        [("00-6560a1b7aaaaaaaaaaaaaaaaaaaaaaaa-aaaaaaaaaaaaaaa1-01", SYSTEM)],
        [("00-6560a1b8bbbbbbbbbbbbbbbbbbbbbbbb-bbbbbbbbbbbbbbb2-01", SQS + "traceparent")],
        [],  # Root only (an API Gateway integration): no span to link to
        [],  # untraced
    ],
    "sns": [[]],
    "sns_trace_attribute": [
        [("00-6560a1ba0123456789abcdef01234567-2b3c4d5e6f7a8b9c-01", SNS + "AWSTraceHeader")]
    ],
    "api_gateway_rest": [[]],  # Root only
    "api_gateway_rest_trace_headers": [
        [("00-6560a1bb0123456789abcdef01234567-3c4d5e6f7a8b9c0d-01", HTTP + "traceparent")]
    ],
    "api_gateway_http_v1": [[]],
    "api_gateway_http_v2": [[]],
    "api_gateway_http_v2_trace_headers": [
        [("00-6560a1bc0123456789abcdef01234567-4d5e6f7a8b9c0d1e-01", HTTP + "X-Amzn-Trace-Id")]
    ],
    "alb": [[]],
    # The client sent both headers for one span: it is read once, X-Ray's first.
    "alb_multi_value_headers": [
        [("00-6560a1bd0123456789abcdef01234567-5e6f7a8b9c0d1e2f-01", HTTP + "X-Amzn-Trace-Id")]
    ],
    "function_url": [[]],
    # Their context is not in the event (EventBridge and Step Functions hand it to Lambda).
    "eventbridge": [],
    "schedule": [],
    "s3": [],
    "dynamodb_stream": [],
    "kinesis": [],
    "step_functions": [],
    "websocket": [],
}


def test_every_fixture_is_read() -> None:
    assert sorted(path.stem for path in EVENTS.glob("*.json")) == sorted(FOUND)


@pytest.mark.parametrize("name", sorted(FOUND))
def test_each_event_gives_the_contexts_its_records_carry(name: str) -> None:
    found = contexts(load(name))
    described = [
        [(format_traceparent(c.trace_id, c.span_id, c.sampled), c.source) for c in each]
        for each in found
    ]
    assert described == FOUND[name]
    assert rejected(load(name)) == [[] for _ in FOUND[name]]


@pytest.mark.parametrize(
    ("name", "message_id", "destination"),
    [
        ("sqs", "2e1424d4-f796-459a-8184-9c92662be6da", "orders"),
        ("sqs_fifo", "e2cafa5b-8d3a-4b9c-9f4e-5a6b7c8d9e0f", "orders.fifo"),
        ("sqs_sns_envelope", "c0a8d3f2-6b1e-4f7a-9d2c-3e4f5a6b7c8d", "orders-from-sns"),
        ("sns_trace_attribute", "5a6b7c8d-9e0f-5a1b-8c2d-3e4f5a6b7c8d", "orders"),
        ("api_gateway_rest_trace_headers", None, None),
    ],
)
def test_a_record_says_which_message_and_where_it_came_from(
    name: str, message_id: str | None, destination: str | None
) -> None:
    (record,) = read(load(name), triggers.detect(load(name))[0]).records
    assert (record.message_id, record.destination) == (message_id, destination)


# --- SQS and SNS carriers -----------------------------------------------------------------------

A = ("6560a1b7aaaaaaaaaaaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaa1")
B = ("6560a1b8bbbbbbbbbbbbbbbbbbbbbbbb", "bbbbbbbbbbbbbbb2")
C = ("6560a1b9cccccccccccccccccccccccc", "ccccccccccccccc3")
D = ("6560a1bedddddddddddddddddddddddd", "ddddddddddddddd4")


def envelope(attributes: dict[str, Any], **changes: Any) -> str:
    """The body of a message an SNS subscription without raw delivery put in an SQS queue."""
    notification = {
        "Type": "Notification",
        "MessageId": "b1946ac9-2f9e-5c6d-8a1b-4c0d2e3f4a5b",
        "TopicArn": "arn:aws:sns:eu-west-1:123456789012:orders",
        "Message": '{"order_id": "o-2"}',
        "Timestamp": "2026-11-24T10:00:01.000Z",
        "MessageAttributes": attributes,
        **changes,
    }
    return json.dumps(notification, indent=2, separators=(",", " : "))


def test_a_message_is_read_from_every_carrier_system_attribute_first() -> None:
    record = sqs_record(
        attributes={"AWSTraceHeader": xray(*A)},
        message_attributes={
            "traceparent": lambda_attribute(traceparent(*C)),
            "X-Amzn-Trace-Id": lambda_attribute(xray(*B)),
        },
        body=envelope({"AWSTraceHeader": {"Type": "String", "Value": xray(*D)}}),
    )
    ((first, second, third, fourth),) = contexts(sqs_event(record))
    assert [span_of(c) for c in (first, second, third, fourth)] == [A, B, C, D]
    assert [c.source for c in (first, second, third, fourth)] == [
        SYSTEM,
        SQS + "X-Amzn-Trace-Id",
        SQS + "traceparent",
        ENVELOPE + "AWSTraceHeader",
    ]


def test_one_span_carried_twice_is_one_context() -> None:
    record = sqs_record(
        attributes={"AWSTraceHeader": xray(*A)},
        message_attributes={"traceparent": lambda_attribute(traceparent(*A))},
    )
    ((only,),) = contexts(sqs_event(record))
    assert only.source == SYSTEM


@pytest.mark.parametrize(
    "attribute",
    [
        lambda_attribute(xray(*A)),
        {"StringValue": xray(*A), "DataType": "String"},
        lambda_attribute(xray(*A), "String.trace"),  # a custom type suffix is still a String
    ],
)
def test_message_attributes_are_read_in_either_casing(attribute: dict[str, Any]) -> None:
    ((context,),) = contexts(
        sqs_event(sqs_record(message_attributes={"AWSTraceHeader": attribute}))
    )
    assert span_of(context) == A


@pytest.mark.parametrize(
    ("flags", "sampled"), [("01", True), ("00", False), ("03", True), ("02", False)]
)
def test_the_sampled_flag_is_the_messages(flags: str, sampled: bool) -> None:
    attributes = {"traceparent": lambda_attribute(traceparent(*A, flags))}
    ((context,),) = contexts(sqs_event(sqs_record(message_attributes=attributes)))
    assert context.sampled is sampled


@pytest.mark.parametrize("sampled", ["0", "?", None])
def test_an_xray_header_is_sampled_only_with_sampled_1(sampled: str | None) -> None:
    header = f"Root=1-{A[0][:8]}-{A[0][8:]};Parent={A[1]}" + (
        f";Sampled={sampled}" if sampled else ""
    )
    ((context,),) = contexts(sqs_event(sqs_record(attributes={"AWSTraceHeader": header})))
    assert context.sampled is False


def test_an_sns_envelope_with_a_binary_attribute_still_gives_its_string_one() -> None:
    body = envelope(
        {
            "blob": {"Type": "Binary", "Value": "AAE="},
            "traceparent": {"Type": "String", "Value": traceparent(*B)},
        }
    )
    ((context,),) = contexts(sqs_event(sqs_record(body=body)))
    assert (span_of(context), context.source) == (B, ENVELOPE + "traceparent")


@pytest.mark.parametrize(
    "body",
    [
        envelope({"traceparent": {"Type": "String", "Value": traceparent(*B)}}, Type="Other"),
        envelope({"traceparent": {"Type": "String", "Value": traceparent(*B)}})[:-1],  # cut
        '{"note": "Notification", "MessageAttributes": {"traceparent": "not read"}}',
        '["Notification", "MessageAttributes"]',
        "[" * 100_000 + '"Notification", "MessageAttributes"' + "]" * 100_000,
        '{"order_id": "o-1"}',
    ],
    ids=["not-a-notification", "not-json", "user-json", "not-an-object", "deep", "plain"],
)
def test_a_body_that_is_no_sns_envelope_is_the_users_data(body: str) -> None:
    event = sqs_event(sqs_record(body=body))
    assert contexts(event) == [[]]
    assert rejected(event) == [[]]


def test_an_envelope_over_the_size_bound_is_not_parsed() -> None:
    attributes = {"traceparent": {"Type": "String", "Value": traceparent(*B)}}
    padding = "x" * message_context.MAX_ENVELOPE_CHARS
    assert contexts(sqs_event(sqs_record(body=envelope(attributes, Message=padding)))) == [[]]


def test_envelopes_are_parsed_until_the_events_budget_is_spent() -> None:
    attributes = {"traceparent": {"Type": "String", "Value": traceparent(*B)}}
    body = envelope(attributes, Message="x" * (message_context.MAX_ENVELOPE_CHARS - 1_000))
    fit = message_context.ENVELOPE_BUDGET_CHARS // len(body)
    event = sqs_event(*[sqs_record(body=body) for _ in range(fit + 2)])
    found = contexts(event)
    assert all(len(each) == 1 for each in found[:fit])
    assert found[fit:] == [[], []]


def test_an_sns_record_without_its_sns_part_has_nothing() -> None:
    event = load("sns_trace_attribute")
    event["Records"][0]["Sns"] = "gone"
    (record,) = read(event, "sns").records
    assert (record.message_id, record.destination, record.contexts) == (None, None, [])


# --- malformed and hostile values ---------------------------------------------------------------

MALFORMED_ATTRIBUTES = {
    "binary": {"binaryValue": "AAE=", "stringValue": None, "dataType": "Binary"},
    "number": lambda_attribute("12", "Number"),
    "no type": {"stringValue": xray(*A)},
    "no value": {"dataType": "String"},
    "not a string": lambda_attribute(12),
    "a list": lambda_attribute([xray(*A)]),
    "not an attribute": "dataType String " + xray(*A),
    "oversized": lambda_attribute(xray(*A) + ";Lineage=" + "a" * MAX_VALUE_CHARS),
    "garbage": lambda_attribute("Root=1-nope;Parent=also-nope"),
    "bad parent": lambda_attribute(f"Root=1-{A[0][:8]}-{A[0][8:]};Parent=xyz;Sampled=1"),
    "zero trace id": lambda_attribute(xray("0" * 32, A[1])),
    "zero span id": lambda_attribute(xray(A[0], "0" * 16)),
    "two joined": lambda_attribute(xray(*A) + "," + xray(*B)),
}


@pytest.mark.parametrize("attribute", MALFORMED_ATTRIBUTES.values(), ids=MALFORMED_ATTRIBUTES)
def test_a_malformed_attribute_is_rejected_and_its_source_named(attribute: Any) -> None:
    event = sqs_event(sqs_record(message_attributes={"X-Amzn-Trace-Id": attribute}))
    assert contexts(event) == [[]]
    assert rejected(event) == [[SQS + "X-Amzn-Trace-Id"]]


@pytest.mark.parametrize(
    "value",
    [
        traceparent("0" * 32, A[1]),
        traceparent(A[0], "0" * 16),
        "ff" + traceparent(*A)[2:],
        traceparent(*A) + "," + traceparent(*B),
        traceparent(*A) + "-extra",
        "",
    ],
)
def test_a_malformed_traceparent_is_rejected(value: str) -> None:
    event = sqs_event(sqs_record(message_attributes={"traceparent": lambda_attribute(value)}))
    assert (contexts(event), rejected(event)) == ([[]], [[SQS + "traceparent"]])


def test_a_bad_value_leaves_the_good_ones_of_the_same_message() -> None:
    record = sqs_record(
        attributes={"AWSTraceHeader": "Root=garbage"},
        message_attributes={"traceparent": lambda_attribute(traceparent(*B))},
    )
    assert [[span_of(c) for c in each] for each in contexts(sqs_event(record))] == [[B]]
    assert rejected(sqs_event(record)) == [[SYSTEM]]


@pytest.mark.parametrize(
    "event",
    [None, [], "text", 3, {"Records": "x"}, {"Records": [1, "two", None]}, {"Records": {}}],
)
def test_an_event_of_the_wrong_shape_has_no_records(event: Any) -> None:
    assert read(event, "sqs").records == []


def test_records_past_the_bound_are_counted_not_read() -> None:
    # One header parsed once: all the messages of one send are read up to the bound.
    records = [sqs_record(attributes={"AWSTraceHeader": xray(*A)})] * MAX_RECORDS
    records.append(sqs_record(attributes={"AWSTraceHeader": xray(*B)}))
    batch = read(sqs_event(*records), "sqs")
    assert (len(batch.records), batch.count) == (MAX_RECORDS, MAX_RECORDS + 1)
    assert {span_of(c) for record in batch.records for c in record.contexts} == {A}
    attributes = attachment(batch, "sqs", LAMBDA_SAMPLED, "auto").attributes
    assert attributes[semconv.XRAYLAYER_MESSAGES_UNREAD] == 1


def test_reading_stops_once_the_distinct_values_to_parse_are_spent() -> None:
    def carrying_three(number: int) -> dict[str, Any]:
        span = (f"{number + 1:032x}", f"{number + 1:016x}")
        return sqs_record(
            attributes={"AWSTraceHeader": xray(*span)},
            message_attributes={
                "X-Amzn-Trace-Id": lambda_attribute(xray(*span)),
                "traceparent": lambda_attribute(traceparent(*span)),
            },
        )

    batch = read(sqs_event(*[carrying_three(n) for n in range(MAX_PARSED_VALUES)]), "sqs")
    assert len(batch.records) == -(-MAX_PARSED_VALUES // 3)  # the record that crossed it counts
    assert batch.count == MAX_PARSED_VALUES
    assert all(len(record.contexts) == 1 for record in batch.records)


@pytest.mark.parametrize(
    "arn",
    [None, 7, "", "orders", "arn:aws:sqs:eu-west-1", "arn:aws:sqs:eu-west-1:1:", "arn:x:" * 100],
)
def test_an_unusable_source_arn_names_no_destination(arn: Any) -> None:
    record = sqs_record()
    record["eventSourceARN"] = arn
    assert read(sqs_event(record), "sqs").records[0].destination is None


# --- HTTP headers -------------------------------------------------------------------------------


def http_event(
    headers: dict[str, Any] | None = None, multi: dict[str, Any] | None = None
) -> dict[str, Any]:
    event = load("api_gateway_rest")
    event["headers"] = headers
    event["multiValueHeaders"] = multi
    return event


@pytest.mark.parametrize(
    "name", ["X-Amzn-Trace-Id", "x-amzn-trace-id", "X-AMZN-TRACE-ID", "x-Amzn-trace-ID"]
)
def test_the_xray_header_is_found_in_any_case(name: str) -> None:
    ((context,),) = contexts(http_event({name: xray(*A)}))
    assert (span_of(context), context.source) == (A, HTTP + "X-Amzn-Trace-Id")


@pytest.mark.parametrize("name", ["traceparent", "Traceparent", "TRACEPARENT"])
def test_traceparent_is_found_in_any_case(name: str) -> None:
    ((context,),) = contexts(http_event({name: traceparent(*B)}))
    assert (span_of(context), context.source) == (B, HTTP + "traceparent")


def test_multi_value_headers_are_read_when_headers_lack_them() -> None:
    event = http_event({"Host": "x"}, {"traceparent": [traceparent(*B)]})
    assert [[span_of(c) for c in each] for each in contexts(event)] == [[B]]


def test_a_repeated_header_is_rejected() -> None:
    event = http_event(None, {"traceparent": [traceparent(*A), traceparent(*B)]})
    assert (contexts(event), rejected(event)) == ([[]], [[HTTP + "traceparent"]])


def test_only_the_first_keys_of_a_huge_header_map_are_looked_at() -> None:
    headers = {f"x-filler-{i}": "v" for i in range(message_context.MAX_HEADERS)}
    headers["traceparent"] = traceparent(*B)
    assert contexts(http_event(headers)) == [[]]


@pytest.mark.parametrize(
    "headers",
    [{"traceparent": 5}, {"traceparent": None}, {"traceparent": [traceparent(*B)]}],
)
def test_a_header_that_is_no_text_is_rejected(headers: dict[str, Any]) -> None:
    assert rejected(http_event(headers)) == [[HTTP + "traceparent"]]


# --- where the contexts put the invocation span --------------------------------------------------


def batch_of(*records: list[tuple[str, str]]) -> Batch:
    """A batch whose records carry the spans given, each record's list in order."""
    made = []
    for spans in records:
        record = message_context.Record("m", "orders")
        record.contexts = [Context(t, s, True, SYSTEM) for t, s in spans]
        made.append(record)
    return Batch(made, len(made))


@pytest.mark.parametrize(
    ("mode", "header", "is_parent"),
    [
        ("auto", LAMBDA_SAMPLED, False),
        ("auto", LAMBDA_UNSAMPLED, True),
        ("auto", LAMBDA_WITHOUT_PARENT, True),
        ("auto", None, True),
        ("parent", LAMBDA_SAMPLED, True),
        ("parent", LAMBDA_UNSAMPLED, True),
        ("link", LAMBDA_SAMPLED, False),
        ("link", LAMBDA_UNSAMPLED, False),
        ("link", None, False),
    ],
)
@pytest.mark.parametrize("trigger_type", ["sqs", "sns"])
def test_a_single_message_is_the_parent_or_a_link_as_configured(
    mode: str, header: Any, is_parent: bool, trigger_type: str
) -> None:
    attached = attachment(batch_of([A]), trigger_type, header, mode)
    if is_parent:
        assert span_of(attached.parent) == A
        assert attached.attributes[semconv.XRAYLAYER_PARENT_SOURCE] == SYSTEM
        assert A not in attached.links
    else:
        assert attached.parent is None
        assert attached.links == [A]
        assert semconv.XRAYLAYER_PARENT_SOURCE not in attached.attributes


def test_a_parent_from_the_message_links_back_to_the_trace_lambda_records() -> None:
    attached = attachment(batch_of([A, B]), "sqs", LAMBDA_SAMPLED, "parent")
    assert span_of(attached.parent) == A
    assert attached.links == [(LAMBDA_TRACE, LAMBDA_PARENT), B]


def test_a_trace_lambda_does_not_record_is_not_linked() -> None:
    attached = attachment(batch_of([A]), "sqs", LAMBDA_UNSAMPLED, "auto")
    assert attached.links == []


@pytest.mark.parametrize("mode", ["auto", "parent", "link"])
def test_a_batch_links_to_every_distinct_span_in_order(mode: str) -> None:
    attached = attachment(batch_of([A], [B], [A], [], [C, A]), "sqs", LAMBDA_UNSAMPLED, mode)
    assert attached.parent is None
    assert attached.links == [A, B, C]


def test_spans_of_the_invocations_own_trace_are_not_links() -> None:
    own = (LAMBDA_TRACE, "0123456789abcdef")
    attached = attachment(batch_of([own], [A]), "sqs", LAMBDA_SAMPLED, "auto")
    assert attached.links == [A]


def test_the_other_contexts_of_a_parent_message_are_links_unless_in_its_trace() -> None:
    same_trace = (A[0], "fedcba9876543210")
    attached = attachment(batch_of([A, same_trace, B]), "sqs", None, "auto")
    assert span_of(attached.parent) == A
    assert attached.links == [B]


def test_links_stop_at_the_limit_and_the_rest_are_counted() -> None:
    spans = [(f"{i:032x}", f"{i + 1:016x}") for i in range(1, MAX_LINKS + 6)]
    attached = attachment(batch_of(*[[span] for span in spans]), "sqs", LAMBDA_SAMPLED, "auto")
    assert attached.links == spans[:MAX_LINKS]
    assert attached.attributes[semconv.XRAYLAYER_LINKS_DROPPED] == 5


def test_no_links_dropped_no_count() -> None:
    attached = attachment(batch_of([A]), "sqs", LAMBDA_SAMPLED, "auto")
    assert semconv.XRAYLAYER_LINKS_DROPPED not in attached.attributes


@pytest.mark.parametrize("mode", ["auto", "parent", "link"])
@pytest.mark.parametrize(
    ("header", "is_parent"),
    [
        (LAMBDA_SAMPLED, False),
        (LAMBDA_UNSAMPLED, True),
        (LAMBDA_WITHOUT_PARENT, True),
        (None, True),
    ],
)
def test_an_http_callers_context_is_the_parent_when_lambda_did_not_sample(
    mode: str, header: Any, is_parent: bool
) -> None:
    batch = read(http_event({"traceparent": traceparent(*B)}), "api-gateway-rest")
    attached = attachment(batch, "api-gateway-rest", header, mode)
    assert (attached.parent is not None) is is_parent
    assert attached.links == ([] if is_parent else [B])  # another trace than Lambda's: a link
    assert not any(key.startswith("messaging.") for key in attached.attributes)


def test_an_http_header_lambda_already_continues_is_neither_parent_nor_link() -> None:
    event = http_event({"X-Amzn-Trace-Id": xray(LAMBDA_TRACE, "1111111111111111")})
    attached = attachment(
        read(event, "api-gateway-rest"), "api-gateway-rest", LAMBDA_SAMPLED, "auto"
    )
    assert (attached.parent, attached.links) == (None, [])


@pytest.mark.parametrize("name", ["sqs", "sqs_batch", "sqs_sns_envelope", "sns_trace_attribute"])
def test_a_message_invocation_says_what_it_processed(name: str) -> None:
    event = load(name)
    trigger_type = triggers.detect(event)[0]
    attributes = attachment(
        read(event, trigger_type), trigger_type, LAMBDA_SAMPLED, "auto"
    ).attributes
    count = len(event["Records"])
    expected = {
        semconv.MESSAGING_SYSTEM: triggers.MESSAGING_SYSTEMS[trigger_type],
        semconv.MESSAGING_OPERATION_TYPE: "process",
        semconv.MESSAGING_BATCH_MESSAGE_COUNT: count,
        semconv.MESSAGING_DESTINATION_NAME: read(event, trigger_type).records[0].destination,
    }
    if count == 1:
        expected[semconv.MESSAGING_MESSAGE_ID] = read(event, trigger_type).records[0].message_id
    assert {k: v for k, v in attributes.items() if k.startswith("messaging.")} == expected


def test_messages_from_several_queues_name_no_destination() -> None:
    other = sqs_record()
    other["eventSourceARN"] = "arn:aws:sqs:eu-west-1:123456789012:returns"
    batch = read(sqs_event(sqs_record(), other), "sqs")
    attributes = attachment(batch, "sqs", None, "auto").attributes
    assert semconv.MESSAGING_DESTINATION_NAME not in attributes


def test_each_rejected_source_is_named_once() -> None:
    bad = sqs_record(message_attributes={"traceparent": lambda_attribute("nope")})
    worse = sqs_record(attributes={"AWSTraceHeader": "Root=nope"})
    attached = attachment(read(sqs_event(bad, bad, worse), "sqs"), "sqs", None, "auto")
    assert attached.rejected == [SQS + "traceparent", SYSTEM]


@pytest.mark.parametrize("trigger_type", ["eventbridge", "s3", "direct", "kinesis"])
def test_other_triggers_leave_the_span_alone(trigger_type: str) -> None:
    attached = attachment(read(load("sqs"), trigger_type), trigger_type, LAMBDA_UNSAMPLED, "auto")
    assert (attached.parent, attached.links, attached.attributes) == (None, [], {})


# --- anything at all ----------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
trace_ids, span_ids = st.text(HEX, min_size=32, max_size=32), st.text(HEX, min_size=16, max_size=16)
header_like = (
    st.text(alphabet="Root=1-abcdef0123456789;ParentSampled?,Lineage:|% \t-0f", max_size=120)
    | st.builds(xray, trace_ids, span_ids)
    | st.builds(traceparent, trace_ids, span_ids, st.text(HEX, min_size=2, max_size=2))
)
values = header_like | json_values
names = st.sampled_from(
    [*message_context.ATTRIBUTE_NAMES, "x-amzn-trace-id", "TRACEPARENT", "kind"]
)
attributes = st.dictionaries(
    names,
    st.fixed_dictionaries(
        {},
        optional={
            "stringValue": values,
            "dataType": st.sampled_from(["String", "Binary", "Number", "String.x"]) | values,
            "StringValue": values,
            "DataType": values,
            "Type": st.sampled_from(["String", "Binary"]) | values,
            "Value": values,
        },
    )
    | values,
    max_size=4,
)
sqs_items = st.fixed_dictionaries(
    {"eventSource": st.just("aws:sqs")},
    optional={
        "messageId": values,
        "eventSourceARN": values,
        "attributes": st.dictionaries(st.just("AWSTraceHeader"), values) | values,
        "messageAttributes": attributes | values,
        "body": st.builds(envelope, attributes) | values,
    },
)
sns_items = st.fixed_dictionaries(
    {"EventSource": st.just("aws:sns")},
    optional={
        "Sns": st.fixed_dictionaries(
            {}, optional={"MessageId": values, "TopicArn": values, "MessageAttributes": attributes}
        )
        | values
    },
)
header_maps = st.dictionaries(names | st.text(max_size=20), values, max_size=6)
http_events = st.builds(
    lambda headers, multi: {
        **load("api_gateway_rest"),
        "headers": headers,
        "multiValueHeaders": multi,
    },
    header_maps | values,
    st.dictionaries(names, st.lists(values, max_size=3) | values, max_size=4) | values,
)
events = (
    st.builds(
        lambda items: {"Records": items}, st.lists(sqs_items | sns_items | values, max_size=6)
    )
    | http_events
    | json_values
)
trigger_types = st.sampled_from([row[0] for row in triggers.TRIGGERS])
lambda_headers = st.none() | header_like.map(parse)
modes = st.sampled_from(["auto", "link", "parent"])


def is_span(trace_id: Any, span_id: Any) -> bool:
    return (
        isinstance(trace_id, str)
        and len(trace_id) == 32
        and not trace_id.strip(HEX)
        and trace_id != "0" * 32
        and isinstance(span_id, str)
        and len(span_id) == 16
        and not span_id.strip(HEX)
        and span_id != "0" * 16
    )


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(events, trigger_types, lambda_headers, modes)
def test_any_event_gives_valid_contexts_and_never_raises(
    event: Any, trigger_type: str, header: Any, mode: str
) -> None:
    attached = attachment(read(event, trigger_type), trigger_type, header, mode)
    assert len(attached.links) <= MAX_LINKS
    assert all(is_span(*link) for link in attached.links)
    assert len(set(attached.links)) == len(attached.links)
    if attached.parent is not None:
        assert is_span(attached.parent.trace_id, attached.parent.span_id)
        assert (attached.parent.trace_id, attached.parent.span_id) not in attached.links


@given(events)
def test_any_event_reads_the_same_whatever_its_detected_trigger(event: Any) -> None:
    trigger_type = triggers.detect(event)[0]
    batch = read(event, trigger_type)
    assert len(batch.records) <= max(batch.count, 0)
    for record in batch.records:
        assert all(is_span(c.trace_id, c.span_id) for c in record.contexts)
        assert all(isinstance(source, str) for source in record.rejected)
