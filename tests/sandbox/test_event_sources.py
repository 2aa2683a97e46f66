"""Lambda-shaped events from what moto hands out (xraylayer_local.event_sources).

The inputs are small copies of what a moto server returned (ReceiveMessage in boto3's form,
the body of a non-raw SNS subscription, the body an EventBridge rule delivered to SQS); the
expected shapes are lambda-platform.md §6 and the real-shaped fixtures in tests/layer/events,
which the layer's own trigger detection is tested with.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from xraylayer import triggers
from xraylayer_local.event_sources import (
    EVENTBRIDGE_KEYS,
    eventbridge_event,
    eventbridge_trace_header,
    sns_envelope,
    sns_event,
    sns_record,
    sqs_event,
    sqs_message_attribute,
    sqs_record,
)

EVENTS = Path(__file__).resolve().parents[1] / "layer" / "events"
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:orders"
SUBSCRIPTION_ARN = "arn:aws:sns:us-east-1:123456789012:orders:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55"
HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
OTHER_HEADER = "Root=1-5759e988-bd862e3fe1be46a994272794;Parent=53995c3f42cd8ad9;Sampled=1"


def _fixture(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


def _received(**changes: Any) -> dict[str, Any]:
    """One ReceiveMessage result as boto3 returns it from moto (attributes requested: All)."""
    message = {
        "MessageId": "67a67c18-e09c-42a4-9923-9b67c64e8cb4",
        "ReceiptHandle": "vznxshrzahwetyrq",
        "MD5OfBody": "49f68a5c8493ec2c0bf489821c21fc3b",
        "Body": "hi",
        "Attributes": {
            "SenderId": "AIDAIT2UOQQY3AUEKVGXU",
            "SentTimestamp": "1795448735507",
            "ApproximateReceiveCount": "1",
            "ApproximateFirstReceiveTimestamp": "1795448735552",
            "AWSTraceHeader": HEADER,
        },
        "MD5OfMessageAttributes": "87db471465ad9c7d7f3076088259f92f",
        "MessageAttributes": {"kind": {"StringValue": "order", "DataType": "String"}},
    }
    message.update(changes)
    return {key: value for key, value in message.items() if value is not None}


def _envelope(**changes: Any) -> dict[str, Any]:
    """The SNS notification a non-raw SQS subscription received from moto (body, parsed)."""
    envelope = {
        "Message": "snsmsg",
        "MessageAttributes": {
            "AWSTraceHeader": {"Type": "String", "Value": HEADER},
            "blob": {"Type": "Binary", "Value": "AAE="},
        },
        "MessageId": "7b4e51f7-7b16-41d1-b0ce-8479c146ea64",
        "Signature": "i/YXWcza==",
        "SignatureVersion": "2",
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-9b.pem",
        "Subject": "hello",
        "Timestamp": "2026-11-23T15:45:35.525Z",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:orders",
        "Type": "Notification",
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
    }
    envelope.update(changes)
    return {key: value for key, value in envelope.items() if value is not None}


def _delivered(**changes: Any) -> dict[str, Any]:
    """An event as moto's EventBridge rule put it on its SQS target (body, parsed)."""
    event = {
        "id": "e72d825f-ce41-4fa8-84a4-814665a36f8d",
        "time": "2026-11-23T15:45:35Z",
        "version": "0",
        "detail-type": "OrderPlaced",
        "source": "com.example.orders",
        "region": "us-east-1",
        "resources": [],
        "detail": {"order_id": "o-1", "total": 7},
        "ingestion-time": 1795448735.5,
    }
    event.update(changes)
    return {key: value for key, value in event.items() if value is not None}


def _entry(**changes: Any) -> dict[str, Any]:
    """A PutEvents request entry as it left botocore."""
    entry = {
        "Source": "com.example.orders",
        "DetailType": "OrderPlaced",
        "Detail": '{"total": 7, "order_id": "o-1"}',
        "TraceHeader": HEADER,
    }
    entry.update(changes)
    return {key: value for key, value in entry.items() if value is not None}


# --- SQS ----------------------------------------------------------------------------------------


def test_an_sqs_record_has_the_keys_of_a_real_lambda_sqs_record() -> None:
    (real,) = _fixture("sqs.json")["Records"]
    record = sqs_record(_received(), QUEUE_ARN, "us-east-1")
    assert set(record) == set(real)
    assert list(record)[:5] == [
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
    ]
    assert list(record)[-3:] == ["eventSource", "eventSourceARN", "awsRegion"]


def test_an_sqs_record_carries_the_message_and_where_it_came_from() -> None:
    message = _received()
    record = sqs_record(message, QUEUE_ARN, "eu-west-1")
    assert record["messageId"] == message["MessageId"]
    assert record["receiptHandle"] == message["ReceiptHandle"]
    assert record["body"] == "hi"
    assert record["md5OfBody"] == message["MD5OfBody"]
    assert record["md5OfMessageAttributes"] == message["MD5OfMessageAttributes"]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == QUEUE_ARN
    assert record["awsRegion"] == "eu-west-1"


def test_the_system_attributes_and_the_trace_header_arrive_under_attributes() -> None:
    message = _received()
    record = sqs_record(message, QUEUE_ARN, "us-east-1")
    assert record["attributes"] == message["Attributes"]
    assert record["attributes"]["AWSTraceHeader"] == HEADER
    assert record["attributes"] is not message["Attributes"]


def test_a_message_without_system_attributes_gets_an_empty_attributes_map() -> None:
    record = sqs_record(_received(Attributes=None), QUEUE_ARN, "us-east-1")
    assert record["attributes"] == {}


def test_a_message_without_attributes_has_an_empty_map_and_no_attributes_digest() -> None:
    message = _received(MessageAttributes=None, MD5OfMessageAttributes=None)
    record = sqs_record(message, QUEUE_ARN, "us-east-1")
    assert record["messageAttributes"] == {}
    assert "md5OfMessageAttributes" not in record


@pytest.mark.parametrize(
    ("api", "lambda_form"),
    [
        (
            {"StringValue": "order", "DataType": "String"},
            {"stringValue": "order", "binaryValue": None, "dataType": "String"},
        ),
        (
            {"StringValue": "3", "DataType": "Number"},
            {"stringValue": "3", "binaryValue": None, "dataType": "Number"},
        ),
        (
            {"StringValue": "x", "DataType": "String.custom"},
            {"stringValue": "x", "binaryValue": None, "dataType": "String.custom"},
        ),
        (
            {"BinaryValue": b"\x00\x01", "DataType": "Binary"},
            {"stringValue": None, "binaryValue": "AAE=", "dataType": "Binary"},
        ),
        (
            {"BinaryValue": "AAE=", "DataType": "Binary.gif"},
            {"stringValue": None, "binaryValue": "AAE=", "dataType": "Binary.gif"},
        ),
    ],
)
def test_message_attributes_take_lambdas_lower_camel_form(
    api: dict[str, Any], lambda_form: dict[str, Any]
) -> None:
    converted = sqs_message_attribute(api)
    assert converted == {**lambda_form, "stringListValues": [], "binaryListValues": []}
    assert list(converted) == [
        "stringValue",
        "binaryValue",
        "stringListValues",
        "binaryListValues",
        "dataType",
    ]


def test_list_values_are_kept_and_binary_list_items_become_base64() -> None:
    api = {
        "DataType": "String",
        "StringValue": "a",
        "StringListValues": ["b", "c"],
        "BinaryListValues": [b"\xff", "AAE="],
    }
    converted = sqs_message_attribute(api)
    assert converted["stringListValues"] == ["b", "c"]
    assert converted["binaryListValues"] == [base64.b64encode(b"\xff").decode(), "AAE="]


def test_every_message_attribute_of_a_record_is_converted_by_name() -> None:
    attributes = {
        "kind": {"StringValue": "order", "DataType": "String"},
        "AWSTraceHeader": {"StringValue": HEADER, "DataType": "String"},
    }
    record = sqs_record(_received(MessageAttributes=attributes), QUEUE_ARN, "us-east-1")
    assert set(record["messageAttributes"]) == {"kind", "AWSTraceHeader"}
    assert record["messageAttributes"]["AWSTraceHeader"]["stringValue"] == HEADER


def test_an_sqs_event_is_one_record_per_message_in_order() -> None:
    messages = [_received(MessageId=f"m-{index}", Body=f"body {index}") for index in range(3)]
    event = sqs_event(messages, QUEUE_ARN, "us-east-1")
    assert list(event) == ["Records"]
    assert [record["messageId"] for record in event["Records"]] == ["m-0", "m-1", "m-2"]
    assert {record["eventSourceARN"] for record in event["Records"]} == {QUEUE_ARN}


def test_an_sqs_event_is_recognised_by_the_layer_as_an_sqs_trigger() -> None:
    assert triggers.detect(sqs_event([_received()], QUEUE_ARN, "us-east-1")) == ("sqs", "pubsub")


def test_a_message_missing_a_field_lambda_always_sends_is_refused() -> None:
    with pytest.raises(KeyError):
        sqs_record(_received(ReceiptHandle=None), QUEUE_ARN, "us-east-1")


# --- SNS ----------------------------------------------------------------------------------------


def test_the_envelope_of_a_non_raw_subscription_is_read_from_the_sqs_body() -> None:
    body = json.dumps(_envelope(), indent=2, sort_keys=True)
    assert sns_envelope(body) == _envelope()


@pytest.mark.parametrize(
    "body",
    [
        "snsmsg",  # a raw delivery: the message itself
        '{"Type": "SubscriptionConfirmation", "Message": "confirm"}',
        '["Notification"]',
        '{"order_id": "o-1"}',
    ],
)
def test_a_body_that_is_no_sns_notification_is_refused(body: str) -> None:
    with pytest.raises(ValueError):
        sns_envelope(body)


def test_an_sns_record_has_the_keys_of_a_real_lambda_sns_record() -> None:
    (real,) = _fixture("sns.json")["Records"]
    record = sns_record(_envelope(), SUBSCRIPTION_ARN)
    assert list(record) == list(real)
    assert list(record["Sns"]) == list(real["Sns"])


def test_an_sns_record_uses_lambdas_casing_for_the_certificate_and_unsubscribe_urls() -> None:
    envelope = _envelope()
    sns = sns_record(envelope, SUBSCRIPTION_ARN)["Sns"]
    assert sns["SigningCertUrl"] == envelope["SigningCertURL"]
    assert sns["UnsubscribeUrl"] == envelope["UnsubscribeURL"]
    assert "SigningCertURL" not in sns
    assert "UnsubscribeURL" not in sns


def test_an_sns_record_carries_the_notification_and_the_subscription() -> None:
    envelope = _envelope()
    record = sns_record(envelope, SUBSCRIPTION_ARN)
    assert record["EventSource"] == "aws:sns"
    assert record["EventVersion"] == "1.0"
    assert record["EventSubscriptionArn"] == SUBSCRIPTION_ARN
    for key in ("Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp", "Signature"):
        assert record["Sns"][key] == envelope[key]
    assert record["Sns"]["SignatureVersion"] == "2"


def test_message_attributes_keep_the_sns_type_and_value_form() -> None:
    sns = sns_record(_envelope(), SUBSCRIPTION_ARN)["Sns"]
    assert sns["MessageAttributes"] == {
        "AWSTraceHeader": {"Type": "String", "Value": HEADER},
        "blob": {"Type": "Binary", "Value": "AAE="},
    }


def test_subject_and_message_attributes_are_always_there_as_lambda_writes_them() -> None:
    sns = sns_record(_envelope(Subject=None, MessageAttributes=None), SUBSCRIPTION_ARN)["Sns"]
    assert sns["Subject"] is None
    assert sns["MessageAttributes"] == {}


def test_an_envelope_missing_a_field_sns_always_sends_is_refused() -> None:
    with pytest.raises(KeyError):
        sns_record(_envelope(MessageId=None), SUBSCRIPTION_ARN)


def test_an_sns_event_is_one_record_per_notification_and_recognised_by_the_layer() -> None:
    notifications = [_envelope(MessageId="n-1"), _envelope(MessageId="n-2")]
    event = sns_event(notifications, SUBSCRIPTION_ARN)
    assert [record["Sns"]["MessageId"] for record in event["Records"]] == ["n-1", "n-2"]
    assert triggers.detect(event) == ("sns", "pubsub")


# --- EventBridge --------------------------------------------------------------------------------


def test_an_eventbridge_event_has_the_documented_keys_in_order_and_nothing_else() -> None:
    event = eventbridge_event(_delivered(), "123456789012")
    assert list(event) == list(EVENTBRIDGE_KEYS) == list(_fixture("eventbridge.json"))
    assert "ingestion-time" not in event


def test_an_eventbridge_event_keeps_what_the_rule_delivered() -> None:
    delivered = _delivered()
    event = eventbridge_event(delivered, "123456789012")
    for key in ("version", "id", "detail-type", "source", "time", "region", "resources"):
        assert event[key] == delivered[key]
    assert event["detail"] == {"order_id": "o-1", "total": 7}
    assert triggers.detect(event) == ("eventbridge", "pubsub")


def test_the_account_is_filled_in_only_where_the_delivery_left_it_out() -> None:
    assert eventbridge_event(_delivered(), "111111111111")["account"] == "111111111111"
    delivered = _delivered(account="222222222222")
    assert eventbridge_event(delivered, "111111111111")["account"] == "222222222222"


def test_a_delivery_without_a_detail_is_refused() -> None:
    with pytest.raises(ValueError, match="detail"):
        eventbridge_event(_delivered(detail=None), "123456789012")


def test_the_trace_header_is_the_one_of_the_entry_the_event_came_from() -> None:
    event = eventbridge_event(_delivered(), "123456789012")
    entries = [
        _entry(Source="com.example.other", TraceHeader=OTHER_HEADER),
        _entry(DetailType="OrderShipped", TraceHeader=OTHER_HEADER),
        _entry(Detail='{"order_id": "o-2", "total": 7}', TraceHeader=OTHER_HEADER),
        _entry(Detail="{not json", TraceHeader=OTHER_HEADER),
        _entry(),  # same detail, other key order and spacing
    ]
    assert eventbridge_trace_header(event, entries) == HEADER


def test_an_entry_sent_without_a_trace_header_gives_none() -> None:
    event = eventbridge_event(_delivered(), "123456789012")
    assert eventbridge_trace_header(event, [_entry(TraceHeader=None)]) is None


def test_the_same_entry_sent_twice_with_the_same_header_is_no_ambiguity() -> None:
    event = eventbridge_event(_delivered(), "123456789012")
    assert eventbridge_trace_header(event, [_entry(), _entry()]) == HEADER


@pytest.mark.parametrize(
    "entries",
    [
        [],
        [_entry(Source="com.example.other")],
        [_entry(), _entry(TraceHeader=OTHER_HEADER)],
        [_entry(), _entry(TraceHeader=None)],
    ],
)
def test_no_matching_entry_or_disagreeing_entries_are_refused(entries: list[dict]) -> None:
    event = eventbridge_event(_delivered(), "123456789012")
    with pytest.raises(LookupError):
        eventbridge_trace_header(event, entries)
