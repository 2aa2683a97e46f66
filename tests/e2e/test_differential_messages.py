"""SQS and SNS sends from inside the sandbox, with and without the layer: the same to the caller,
the same messages in the queues.

functions/diff_messages.py sends what its event says to a moto server (over HTTP, the endpoint
from its environment) and returns what boto3 returned, less what differs by nature (message
ids, sequence numbers, request metadata). The same sends run once plain and once with the
layer, both with Active tracing, each run against queues and a topic of its own, so that the
runs never see each other's messages. The sends are the ones with no room for a trace
attribute: 10 message attributes, a FIFO message, a batch of 10, an SNS publish and batch;
and one to a queue that does not exist, whose error (stack trace included) the caller gets.

What may differ, by design: an SQS message carries its trace context in the ``AWSTraceHeader``
system attribute, and an SNS message with fewer than 10 attributes gets an ``AWSTraceHeader``
message attribute. moto keeps no system attribute of ``SendMessageBatch``, so for the batch
the entries are read where they reach moto, from its request recorder.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from moto_recording import json_bodies, recording, recording_server
from xraylayer.trace_header import parse
from xraylayer_local import InvokeResult, Sandbox
from xraylayer_local.moto_server import MotoServer

FUNCTIONS = Path(__file__).parent / "functions"
WRAPPER = {"AWS_LAMBDA_EXEC_WRAPPER": "/opt/xray-instrument"}
RUNS = ("plain", "layer")
RECEIVE_TIMEOUT_S = 10.0
# Loopback requests must never go through a proxy configured in the environment.
BINARY = b"\x00\xffbinary\x01"


def attributes(count: int, *, binary: bool = True) -> dict[str, dict[str, Any]]:
    """``count`` message attributes of every data type (without Binary ones for SNS: moto
    delivers no raw SNS message with a Binary attribute to SQS)."""
    kinds = [
        {"DataType": "String", "StringValue": "text ✓"},
        {"DataType": "Number", "StringValue": "42.5"},
        {"DataType": "String.custom", "StringValue": "custom"},
    ]
    if binary:
        kinds.append({"DataType": "Binary", "BinaryValue": BINARY})
    return {f"attr{index}": kinds[index % len(kinds)] for index in range(count)}


def as_event(value: Any) -> Any:
    """``value`` with its bytes as the ``{"base64": ...}`` objects the function decodes."""
    if isinstance(value, bytes):
        return {"base64": base64.b64encode(value).decode()}
    if isinstance(value, dict):
        return {key: as_event(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_event(item) for item in value]
    return value


@dataclass(frozen=True)
class Resources:
    """One run's queues (by role) and topic; the topic delivers raw to the "from_topic" queue."""

    queues: dict[str, str]
    topic_arn: str


# Entries of the batches: every other one full (10 attributes), the others with 0, 2, 4, ...
BATCH_ATTRIBUTE_COUNTS = [10, 0, 10, 2, 10, 4, 10, 6, 10, 9]
PUBLISH_BATCH_ATTRIBUTE_COUNTS = [10, 3, 10, 0]


def sends(resources: Resources) -> dict[str, dict[str, Any]]:
    """The function's events, by name: the same sends for every run, to its own resources."""
    queues, topic = resources.queues, resources.topic_arn
    return {
        "sqs-10-attributes": {
            "service": "sqs",
            "operation": "send_message",
            "params": {
                "QueueUrl": queues["standard"],
                "MessageBody": "ten attributes",
                "MessageAttributes": attributes(10),
            },
        },
        "sqs-to-missing-queue": {  # an uncaught AWS error: the caller gets it from the SDK
            "service": "sqs",
            "operation": "send_message",
            "params": {"QueueUrl": f"{queues['standard']}-missing", "MessageBody": "lost"},
        },
        "sqs-fifo": {
            "service": "sqs",
            "operation": "send_message",
            "params": {
                "QueueUrl": queues["fifo"],
                "MessageBody": "first in, first out",
                "MessageGroupId": "orders",
                "MessageDeduplicationId": "order-1",
                "MessageAttributes": attributes(10),
            },
        },
        "sqs-batch": {
            "service": "sqs",
            "operation": "send_message_batch",
            "params": {
                "QueueUrl": queues["batch"],
                "Entries": [
                    {
                        "Id": f"entry-{index}",
                        "MessageBody": f"batch entry {index}",
                        **({"MessageAttributes": attributes(count)} if count else {}),
                    }
                    for index, count in enumerate(BATCH_ATTRIBUTE_COUNTS)
                ],
            },
        },
        "sns-10-attributes": {
            "service": "sns",
            "operation": "publish",
            "params": {
                "TopicArn": topic,
                "Message": "published with ten attributes",
                "Subject": "orders",
                "MessageAttributes": attributes(10, binary=False),
            },
        },
        "sns-batch": {
            "service": "sns",
            "operation": "publish_batch",
            "params": {
                "TopicArn": topic,
                "PublishBatchRequestEntries": [
                    {
                        "Id": f"entry-{index}",
                        "Message": f"published in a batch {index}",
                        **({"MessageAttributes": attributes(count, binary=False)} if count else {}),
                    }
                    for index, count in enumerate(PUBLISH_BATCH_ATTRIBUTE_COUNTS)
                ],
            },
        },
    }


EXPECTED_MESSAGES = {
    "standard": 1,
    "fifo": 1,
    "batch": len(BATCH_ATTRIBUTE_COUNTS),
    "from_topic": 1 + len(PUBLISH_BATCH_ATTRIBUTE_COUNTS),
}


@dataclass(frozen=True)
class Run:
    """One run: each send's invoke result, what each queue received, what reached moto."""

    results: dict[str, InvokeResult]
    received: dict[str, list[dict[str, Any]]]  # by queue role, sorted by body
    batch_entries: list[dict[str, Any]]  # the SendMessageBatch entries as they reached moto


# --- moto: the server, its recorder, the resources ----------------------------------------------


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    with recording_server(tmp_path_factory.mktemp("moto")) as server:
        yield server


def _resources(moto: MotoServer, run: str) -> Resources:
    sqs, sns = moto.client("sqs"), moto.client("sns")
    prefix = f"diff-{uuid.uuid4().hex[:8]}-{run}"
    queues = {
        role: sqs.create_queue(QueueName=f"{prefix}-{role}")["QueueUrl"]
        for role in ("standard", "batch", "from_topic")
    }
    queues["fifo"] = sqs.create_queue(
        QueueName=f"{prefix}-fifo.fifo", Attributes={"FifoQueue": "true"}
    )["QueueUrl"]
    topic = sns.create_topic(Name=f"{prefix}-topic")["TopicArn"]
    arn = sqs.get_queue_attributes(QueueUrl=queues["from_topic"], AttributeNames=["QueueArn"])
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=arn["Attributes"]["QueueArn"],
        Attributes={"RawMessageDelivery": "true"},
    )
    return Resources(queues, topic)


def _receive_once(sqs: Any, queue_url: str, wait_s: int) -> list[dict[str, Any]]:
    answer = sqs.receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=10,
        WaitTimeSeconds=wait_s,
        MessageSystemAttributeNames=["All"],
        MessageAttributeNames=["All"],
    )
    return answer.get("Messages", [])


def _receive(sqs: Any, queue_url: str, count: int) -> list[dict[str, Any]]:
    """``count`` messages with every attribute, long-polling until they are there, and then
    none more."""
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + RECEIVE_TIMEOUT_S
    while len(messages) < count and time.monotonic() < deadline:
        messages.extend(_receive_once(sqs, queue_url, wait_s=1))
    messages.extend(_receive_once(sqs, queue_url, wait_s=0))
    assert len(messages) == count, f"{queue_url}: {len(messages)} messages, expected {count}"
    return sorted(messages, key=lambda message: message["Body"])


def _run(moto: MotoServer, layers: list[Path], env: dict[str, str], run: str) -> Run:
    resources = _resources(moto, run)
    with (
        recording(moto) as requests,
        Sandbox(
            FUNCTIONS,
            "diff_messages.handler",
            layers=layers,
            env={**moto.env(), **env},
            tracing="Active",
            region=moto.region,
            timeout_s=10,
        ) as sandbox,
    ):
        results = {
            name: sandbox.invoke(as_event(event)) for name, event in sends(resources).items()
        }
    (batch,) = json_bodies(requests, "AmazonSQS.SendMessageBatch")
    sqs = moto.client("sqs")
    received = {
        role: _receive(sqs, resources.queues[role], count)
        for role, count in EXPECTED_MESSAGES.items()
    }
    return Run(results, received, batch["Entries"])


@pytest.fixture(scope="module")
def runs(moto: MotoServer, built_layer: Path) -> dict[str, Run]:
    return {
        "plain": _run(moto, [], {}, "plain"),
        "layer": _run(moto, [built_layer], WRAPPER, "layer"),
    }


# --- the tests ----------------------------------------------------------------------------------

SEND_NAMES = tuple(sends(Resources(dict.fromkeys(EXPECTED_MESSAGES, ""), "")))
# Per message, what differs from one send to the next by nature, and the trace attribute.
OWN_PER_MESSAGE = {
    "SenderId",
    "SentTimestamp",
    "ApproximateReceiveCount",
    "ApproximateFirstReceiveTimestamp",
    "SequenceNumber",
    "AWSTraceHeader",
}


def caller_view(result: InvokeResult) -> dict[str, Any]:
    """What the caller gets, without the request id."""
    error = {key: value for key, value in (result.error or {}).items() if key != "requestId"}
    return {"status": result.status, "payload": result.payload, "error": error or None}


def message_view(message: dict[str, Any]) -> dict[str, Any]:
    """A received message without its id, receipt handle and what differs by nature."""
    system = message.get("Attributes", {})
    return {
        "Body": message["Body"],
        "MD5OfBody": message["MD5OfBody"],
        "MessageAttributes": message.get("MessageAttributes"),
        "MD5OfMessageAttributes": message.get("MD5OfMessageAttributes"),
        "Attributes": {key: value for key, value in system.items() if key not in OWN_PER_MESSAGE},
    }


def invocation_root(run: Run, send: str) -> str:
    header = parse(run.results[send].trace_header)
    assert header is not None and header.root
    return header.root


def assert_carries_the_invocations_context(value: str, run: Run, send: str) -> None:
    header = parse(value)
    assert header is not None, value
    assert (header.root, header.sampled) == (invocation_root(run, send), "1")


FAILING_SENDS = {"sqs-to-missing-queue": "QueueDoesNotExist"}


@pytest.mark.parametrize("send", SEND_NAMES)
def test_each_send_returns_the_same_to_the_caller(runs: dict[str, Run], send: str) -> None:
    """The response, or the error with its stack trace, byte for byte."""
    plain, layered = (caller_view(runs[run].results[send]) for run in RUNS)
    assert layered == plain
    error_type = plain["error"] and plain["error"]["errorType"]
    assert error_type == FAILING_SENDS.get(send), plain["error"]


def test_what_the_caller_gets_keeps_its_digests_and_entry_ids(runs: dict[str, Run]) -> None:
    results = runs["layer"].results
    single = results["sqs-10-attributes"].response
    assert set(single) == {"MD5OfMessageBody", "MD5OfMessageAttributes"}
    batch = results["sqs-batch"].response
    assert [entry["Id"] for entry in batch["Successful"]] == [
        f"entry-{index}" for index in range(len(BATCH_ATTRIBUTE_COUNTS))
    ]
    assert batch["Failed"] == []
    published = results["sns-batch"].response
    assert [entry["Id"] for entry in published["Successful"]] == [
        f"entry-{index}" for index in range(len(PUBLISH_BATCH_ATTRIBUTE_COUNTS))
    ]


@pytest.mark.parametrize("queue", ["standard", "fifo", "batch"])
def test_sqs_queues_receive_the_same_messages(runs: dict[str, Run], queue: str) -> None:
    plain, layered = (
        [message_view(message) for message in runs[run].received[queue]] for run in RUNS
    )
    assert layered == plain
    if queue == "fifo":
        (message,) = plain
        assert message["Attributes"]["MessageGroupId"] == "orders"
        assert message["Attributes"]["MessageDeduplicationId"] == "order-1"


@pytest.mark.parametrize(
    ("queue", "send"), [("standard", "sqs-10-attributes"), ("fifo", "sqs-fifo")]
)
def test_with_the_layer_an_sqs_message_carries_the_trace_in_its_system_attribute(
    runs: dict[str, Run], queue: str, send: str
) -> None:
    (plain,) = runs["plain"].received[queue]
    (layered,) = runs["layer"].received[queue]
    assert "AWSTraceHeader" not in plain.get("Attributes", {})
    assert_carries_the_invocations_context(
        layered["Attributes"]["AWSTraceHeader"], runs["layer"], send
    )
    assert len(layered["MessageAttributes"]) == 10


def test_with_the_layer_each_batch_entry_reaches_sqs_with_the_trace_and_nothing_else_added(
    runs: dict[str, Run],
) -> None:
    """Read from moto's recorder: moto keeps no system attribute of SendMessageBatch."""
    plain, layered = runs["plain"].batch_entries, runs["layer"].batch_entries
    assert [entry.get("MessageSystemAttributes") for entry in plain] == [None] * len(plain)
    added = [entry.pop("MessageSystemAttributes") for entry in layered]
    assert layered == plain
    for system_attributes in added:
        assert list(system_attributes) == ["AWSTraceHeader"]
        assert system_attributes["AWSTraceHeader"]["DataType"] == "String"
        value = system_attributes["AWSTraceHeader"]["StringValue"]
        assert_carries_the_invocations_context(value, runs["layer"], "sqs-batch")


def test_sns_deliveries_are_the_same_but_for_a_trace_attribute_where_there_was_room(
    runs: dict[str, Run],
) -> None:
    """A message with 10 attributes arrives exactly as without the layer; one with room also
    carries the AWSTraceHeader message attribute (and so another attribute digest)."""
    plain = [message_view(message) for message in runs["plain"].received["from_topic"]]
    layered = [message_view(message) for message in runs["layer"].received["from_topic"]]
    assert [view["Body"] for view in layered] == [view["Body"] for view in plain]
    with_room = 0
    for plain_view, layered_view in zip(plain, layered, strict=True):
        own = plain_view["MessageAttributes"] or {}
        if len(own) == 10:
            assert layered_view == plain_view
            continue
        with_room += 1
        trace = layered_view["MessageAttributes"].pop("AWSTraceHeader")
        assert trace["DataType"] == "String"
        assert_carries_the_invocations_context(trace["StringValue"], runs["layer"], "sns-batch")
        assert layered_view["MessageAttributes"] == own
        for view in (plain_view, layered_view):
            del view["MessageAttributes"], view["MD5OfMessageAttributes"]
        assert layered_view == plain_view
    assert with_room == PUBLISH_BATCH_ATTRIBUTE_COUNTS.count(0) + sum(
        0 < count < 10 for count in PUBLISH_BATCH_ATTRIBUTE_COUNTS
    )
