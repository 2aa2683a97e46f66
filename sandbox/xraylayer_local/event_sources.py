"""Lambda events made from what the services hand out, shaped as Lambda delivers them.

A consumer in the sandbox should see the event an event source mapping or a subscription would
give it, built from real messages (a moto server's ``ReceiveMessage``, an SNS envelope, an
EventBridge event that a rule delivered), not from hand-written fixtures. Lambda reshapes what
it delivers (lambda-platform.md §6): SQS records use lowerCamel keys where the SQS API uses
UpperCamel, SNS records spell ``SigningCertUrl`` where the envelope spells ``SigningCertURL``,
and the trace header of an EventBridge entry is not in the event at all but arrives as the
invocation's trace header. Those differences are exactly what the layer's extraction has to cope
with, so they live here once, as pure functions of their inputs.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

SQS_EVENT_SOURCE = "aws:sqs"
SNS_EVENT_SOURCE = "aws:sns"
SNS_EVENT_VERSION = "1.0"
# The keys of an EventBridge event as Lambda gets it, in the documented order.
EVENTBRIDGE_KEYS = (
    "version",
    "id",
    "detail-type",
    "source",
    "account",
    "time",
    "region",
    "resources",
    "detail",
)
# SNS envelope key (SQS body of a non-raw subscription) -> key in a Lambda SNS record.
_SNS_RENAMED = {"SigningCertURL": "SigningCertUrl", "UnsubscribeURL": "UnsubscribeUrl"}
_SNS_RECORD_KEYS = (
    "Type",
    "MessageId",
    "TopicArn",
    "Subject",
    "Message",
    "Timestamp",
    "SignatureVersion",
    "Signature",
    "SigningCertUrl",
    "UnsubscribeUrl",
)


# --- SQS ----------------------------------------------------------------------------------------


def sqs_event(messages: Iterable[Mapping[str, Any]], queue_arn: str, region: str) -> dict:
    """The event an SQS event source mapping hands the function for one batch of ``messages``.

    ``messages`` are ``ReceiveMessage`` results (boto3's form: ``MessageId``, ``ReceiptHandle``,
    ``Body``, ``MD5OfBody``, ``Attributes``, ``MessageAttributes``, ``MD5OfMessageAttributes``),
    received with ``MessageSystemAttributeNames=["All"]`` so that ``AWSTraceHeader`` comes along
    as it does for Lambda.
    """
    return {"Records": [sqs_record(message, queue_arn, region) for message in messages]}


def sqs_record(message: Mapping[str, Any], queue_arn: str, region: str) -> dict:
    """One SQS record, keys in the order Lambda writes them; ``md5OfMessageAttributes`` only
    when the message has attributes, as in captured events."""
    attributes = message.get("MessageAttributes") or {}
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes") or {}),
        "messageAttributes": {
            name: sqs_message_attribute(value) for name, value in attributes.items()
        },
    }
    if attributes:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    record["md5OfBody"] = message["MD5OfBody"]
    record["eventSource"] = SQS_EVENT_SOURCE
    record["eventSourceARN"] = queue_arn
    record["awsRegion"] = region
    return record


def sqs_message_attribute(value: Mapping[str, Any]) -> dict:
    """An SQS API message attribute (``DataType``, ``StringValue`` | ``BinaryValue``) in Lambda's
    lowerCamel form, both value keys present (the unused one null) and binary values base64.

    boto3 hands binary values over decoded (``bytes``); a ``str`` is taken to be the base64 text
    already, as it appears on the wire.
    """
    return {
        "stringValue": value.get("StringValue"),
        "binaryValue": _base64(value.get("BinaryValue")),
        "stringListValues": list(value.get("StringListValues") or []),
        "binaryListValues": [_base64(item) for item in value.get("BinaryListValues") or []],
        "dataType": value["DataType"],
    }


def _base64(value: bytes | str | None) -> str | None:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value


# --- SNS ----------------------------------------------------------------------------------------


def sns_envelope(body: str) -> dict:
    """The SNS notification inside the body of a message that a non-raw SQS subscription got.

    Raises ``ValueError`` when the body is not an SNS notification (a raw delivery, say), so a
    test cannot quietly build an SNS event from the wrong queue.
    """
    envelope = json.loads(body)
    if not isinstance(envelope, dict) or envelope.get("Type") != "Notification":
        raise ValueError(f"not an SNS notification envelope: {body[:80]!r}")
    return envelope


def sns_event(notifications: Sequence[Mapping[str, Any]], subscription_arn: str) -> dict:
    """The event SNS hands a subscribed function, one record per notification envelope."""
    return {"Records": [sns_record(envelope, subscription_arn) for envelope in notifications]}


def sns_record(envelope: Mapping[str, Any], subscription_arn: str) -> dict:
    """One SNS record: the envelope's fields with Lambda's casing (``SigningCertUrl``,
    ``UnsubscribeUrl``), ``Subject`` null when there was none and ``MessageAttributes`` ``{}``
    when there were none, as Lambda always writes both."""
    renamed = {_SNS_RENAMED.get(key, key): value for key, value in envelope.items()}
    sns = {key: renamed.get(key) if key == "Subject" else renamed[key] for key in _SNS_RECORD_KEYS}
    sns["MessageAttributes"] = {
        name: {"Type": value["Type"], "Value": value["Value"]}
        for name, value in (envelope.get("MessageAttributes") or {}).items()
    }
    return {
        "EventSource": SNS_EVENT_SOURCE,
        "EventVersion": SNS_EVENT_VERSION,
        "EventSubscriptionArn": subscription_arn,
        "Sns": sns,
    }


# --- EventBridge --------------------------------------------------------------------------------


def eventbridge_event(delivered: Mapping[str, Any], account: str) -> dict:
    """The event EventBridge hands a target function: the documented keys only, in order.

    ``delivered`` is the event as a rule target received it (moto's SQS target adds fields such
    as ``ingestion-time`` and may leave out ``account``); ``account`` fills the latter.
    """
    event = {key: delivered[key] for key in EVENTBRIDGE_KEYS if key in delivered}
    event.setdefault("account", account)
    missing = [key for key in EVENTBRIDGE_KEYS if key not in event]
    if missing:
        raise ValueError(f"not an EventBridge event, missing {missing}")
    return {key: event[key] for key in EVENTBRIDGE_KEYS}


def eventbridge_trace_header(
    event: Mapping[str, Any], entries: Iterable[Mapping[str, Any]]
) -> str | None:
    """The ``TraceHeader`` of the ``PutEvents`` entry that became ``event``: EventBridge gives
    it to the target as the invocation's trace header, never inside the event.

    An entry matches on ``Source``, ``DetailType`` and ``Detail`` (compared as JSON). None when
    the matching entry had no ``TraceHeader``; ``LookupError`` when no entry matches or matching
    entries disagree, since the answer would then be a guess.
    """
    headers = {entry.get("TraceHeader") for entry in entries if _became(entry, event)}
    if len(headers) != 1:
        found = "no entry" if not headers else f"entries with {len(headers)} different headers"
        raise LookupError(f"{found} for the event from {event.get('source')!r}")
    return headers.pop()


def _became(entry: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    try:
        detail = json.loads(entry.get("Detail") or "null")
    except ValueError:
        return False
    return (
        entry.get("Source") == event.get("source")
        and entry.get("DetailType") == event.get("detail-type")
        and detail == event.get("detail")
    )
