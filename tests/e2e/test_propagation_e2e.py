"""Trace context across SQS, SNS (to SQS raw and enveloped, to Lambda) and EventBridge, end to end.

A producer function (functions/propagation_producer.py, no tracing code) runs the built layer in
the sandbox with Active tracing and sends to moto in server mode. The messages are received from
moto as an event source would receive them, shaped by ``xraylayer_local.event_sources`` exactly
as Lambda delivers them, and a consumer function (functions/propagation_consumer.py) is invoked
with each event in a second sandbox. In the daemon documents, the consumer's invocation span must
link to the producer's call span that sent its message (X-Ray keeps span links as metadata under
``xraylayer``), or, for a single message with ``XRAYLAYER_MESSAGE_CONTEXT=parent``, be its child.

EventBridge hands a ``PutEvents`` entry's ``TraceHeader`` to the target as the invocation's trace
header, not inside the event, and moto forwards it nowhere. moto's request recorder shows what the
producer put on the wire; the consumer is invoked with that header, as EventBridge would.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from moto_recording import json_bodies, recording, recording_server
from xraylayer.trace_header import parse
from xraylayer_local import InvokeResult, Sandbox
from xraylayer_local.event_sources import (
    eventbridge_event,
    eventbridge_trace_header,
    sns_envelope,
    sns_event,
    sqs_event,
)
from xraylayer_local.moto_server import MotoServer
from xraylayer_local.sandbox import ACCOUNT_ID
from xraylayer_local.views.model import flattened

FUNCTIONS = Path(__file__).parent / "functions"
WRAPPER = {"AWS_LAMBDA_EXEC_WRAPPER": "/opt/xray-instrument"}
EVENT_SOURCE = "xraylayer.e2e.orders"
BATCH_SIZE = 3
# As many user attributes as SQS and SNS allow: no room left for a trace attribute.
TEN_ATTRIBUTES = {
    f"attribute{index}": {"DataType": "String", "StringValue": f"value {index}"}
    for index in range(10)
}
QUEUES = ("single", "batch", "sns-enveloped", "sns-raw", "crowded-raw", "events")
RECEIVE_TIMEOUT_S = 10.0
# Loopback requests must never go through a proxy configured in the environment.


@dataclass(frozen=True)
class World:
    """The producer's AWS resources on moto."""

    queue_urls: dict[str, str]  # by role, one of QUEUES
    queue_arns: dict[str, str]
    topic_arn: str  # subscribed by sns-enveloped (raw delivery off) and sns-raw
    crowded_topic_arn: str  # subscribed by crowded-raw (raw delivery on)
    subscription_arns: dict[str, str]  # by the subscribed queue's role


@dataclass(frozen=True)
class Produced:
    """The producer's invoke, and every request that reached moto during it."""

    result: InvokeResult
    requests: list[dict[str, Any]]


# --- moto: the server, its recorder, the resources ----------------------------------------------


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    with recording_server(tmp_path_factory.mktemp("moto")) as server:
        yield server


def _subscribe(sns: Any, topic_arn: str, queue_arn: str, *, raw: bool) -> str:
    return sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": "true" if raw else "false"},
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]


@pytest.fixture(scope="module")
def world(moto: MotoServer) -> World:
    sqs, sns, events = (moto.client(name) for name in ("sqs", "sns", "events"))
    urls = {role: sqs.create_queue(QueueName=f"propagation-{role}")["QueueUrl"] for role in QUEUES}
    arns = {
        role: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        for role, url in urls.items()
    }
    topic = sns.create_topic(Name="propagation-orders")["TopicArn"]
    crowded = sns.create_topic(Name="propagation-crowded")["TopicArn"]
    subscriptions = {
        "sns-enveloped": _subscribe(sns, topic, arns["sns-enveloped"], raw=False),
        "sns-raw": _subscribe(sns, topic, arns["sns-raw"], raw=True),
        "crowded-raw": _subscribe(sns, crowded, arns["crowded-raw"], raw=True),
    }
    events.put_rule(Name="propagation-orders", EventPattern=json.dumps({"source": [EVENT_SOURCE]}))
    events.put_targets(Rule="propagation-orders", Targets=[{"Id": "queue", "Arn": arns["events"]}])
    return World(urls, arns, topic, crowded, subscriptions)


# --- the producer, what moto delivered, the consumers -------------------------------------------


def _own_intake(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A span intake socket of the sandbox's own. Lambda gives every environment its own /tmp;
    the sandbox shares this machine's, so the layer's default /tmp/xraylayer-intake.sock would
    be taken over by any sandbox running at the same time (another test session), which would
    then receive this one's spans."""
    return {"XRAYLAYER_INTAKE": str(tmp_path_factory.mktemp("sandbox") / "intake.sock")}


@pytest.fixture(scope="module")
def produced(
    built_layer: Path, moto: MotoServer, world: World, tmp_path_factory: pytest.TempPathFactory
) -> Produced:
    env = {
        **moto.env(),
        **WRAPPER,
        **_own_intake(tmp_path_factory),
        "SINGLE_QUEUE_URL": world.queue_urls["single"],
        "BATCH_QUEUE_URL": world.queue_urls["batch"],
        "TOPIC_ARN": world.topic_arn,
        "CROWDED_TOPIC_ARN": world.crowded_topic_arn,
        "EVENT_SOURCE": EVENT_SOURCE,
    }
    event = {"order_id": "o-9", "batch_size": BATCH_SIZE, "crowded_attributes": TEN_ATTRIBUTES}
    with (
        Sandbox(
            FUNCTIONS,
            "propagation_producer.handler",
            layers=[built_layer],
            env=env,
            tracing="Active",
            region=moto.region,
            timeout_s=20,
        ) as sandbox,
        recording(moto) as requests,
    ):
        result = sandbox.invoke(event)
    assert result.status == "success", result.error
    return Produced(result, requests)


def _receive(sqs: Any, queue_url: str, count: int) -> list[dict[str, Any]]:
    """``count`` messages from the queue with every attribute, as an event source mapping asks
    for them; long polls until they are there or RECEIVE_TIMEOUT_S has passed."""
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + RECEIVE_TIMEOUT_S
    while len(messages) < count and time.monotonic() < deadline:
        answer = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages.extend(answer.get("Messages", []))
    assert len(messages) == count, f"{queue_url}: {len(messages)} messages, expected {count}"
    return messages


@pytest.fixture(scope="module")
def delivered(moto: MotoServer, world: World, produced: Produced) -> dict[str, list[dict]]:
    """What each queue received from the producer, by queue role."""
    sqs = moto.client("sqs")
    counts = {role: 1 for role in QUEUES} | {"batch": BATCH_SIZE}
    return {role: _receive(sqs, world.queue_urls[role], counts[role]) for role in QUEUES}


@pytest.fixture(scope="module")
def invocations(
    moto: MotoServer, world: World, produced: Produced, delivered: dict[str, list[dict]]
) -> dict[str, tuple[dict[str, Any], str | None]]:
    """Each consumer event as Lambda delivers it, with the trace header of its invoke.

    The SNS event is the notification the non-raw subscription received, delivered as SNS
    delivers to a function (with that subscription's ARN). The EventBridge event is what the
    rule put on its SQS target; its trace header is the ``TraceHeader`` the producer's
    ``PutEvents`` entry carried on the wire, read from moto's recording.
    """

    def from_queue(role: str) -> tuple[dict[str, Any], None]:
        return sqs_event(delivered[role], world.queue_arns[role], moto.region), None

    (envelope_message,) = delivered["sns-enveloped"]
    envelope = sns_envelope(envelope_message["Body"])
    (bridged,) = delivered["events"]
    event = eventbridge_event(json.loads(bridged["Body"]), ACCOUNT_ID)
    put = json_bodies(produced.requests, "AWSEvents.PutEvents")
    entries = [entry for body in put for entry in body["Entries"]]
    return {
        "sqs": from_queue("single"),
        "sqs-batch": from_queue("batch"),
        "sns-in-sqs": from_queue("sns-enveloped"),
        "sns-raw-in-sqs": from_queue("sns-raw"),
        "sns": (sns_event([envelope], world.subscription_arns["sns-enveloped"]), None),
        "eventbridge": (event, eventbridge_trace_header(event, entries)),
    }


def _consume(
    built_layer: Path,
    invocations: dict[str, tuple[dict[str, Any], str | None]],
    env: dict[str, str],
) -> dict[str, InvokeResult]:
    with Sandbox(
        FUNCTIONS,
        "propagation_consumer.handler",
        layers=[built_layer],
        env={**WRAPPER, **env},
        tracing="Active",
        timeout_s=10,
    ) as sandbox:
        return {
            name: sandbox.invoke(event, trace_header=header)
            for name, (event, header) in invocations.items()
        }


@pytest.fixture(scope="module")
def consumed(
    built_layer: Path, invocations: dict, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, InvokeResult]:
    """Every event through one consumer with the default message context (auto: a link, since
    Active tracing samples every invoke)."""
    return _consume(built_layer, invocations, _own_intake(tmp_path_factory))


@pytest.fixture(scope="module")
def consumed_as_child(
    built_layer: Path, invocations: dict, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, InvokeResult]:
    """The single SQS message through a consumer configured to take it as the parent."""
    env = {**_own_intake(tmp_path_factory), "XRAYLAYER_MESSAGE_CONTEXT": "parent"}
    return _consume(built_layer, {"sqs": invocations["sqs"]}, env)


# --- reading the documents ----------------------------------------------------------------------


def _invocation(result: InvokeResult) -> dict[str, Any]:
    """The layer's invocation span: the one document with a ColdStart annotation."""
    (span,) = [
        document
        for document in flattened(result.segments)
        if document.get("origin") is None and "ColdStart" in document.get("annotations", {})
    ]
    return span


def _calls(produced: Produced, operation: str, **aws: str) -> list[dict[str, Any]]:
    """The producer's AWS call spans of ``operation`` whose ``aws`` fields include ``aws``."""
    return [
        document
        for document in flattened(produced.result.segments)
        if document.get("aws", {}).get("operation") == operation
        and all(document["aws"].get(key) == value for key, value in aws.items())
    ]


def _reference(span: dict[str, Any]) -> tuple[str, str]:
    return span["trace_id"], span["id"]


def _links(span: dict[str, Any]) -> list[tuple[str, str]]:
    """The span's links as (trace id, span id), from the metadata X-Ray keeps them in."""
    links = span.get("metadata", {}).get("xraylayer", {}).get("links", [])
    return [(link["trace_id"], link["id"]) for link in links]


def _ancestors(span: dict[str, Any], result: InvokeResult) -> list[str]:
    """The ids above ``span``, nearest first, ending with the first parent that is not among
    the invoke's documents (the caller's span, when the trace came with the invoke)."""
    by_id = {document["id"]: document for document in flattened(result.segments)}
    chain: list[str] = []
    parent = span.get("parent_id")
    while parent and parent not in chain:
        chain.append(parent)
        parent = by_id.get(parent, {}).get("parent_id")
    return chain


def _lambda_root(result: InvokeResult) -> str | None:
    header = parse(result.trace_header)
    return header.root if header is not None else None


# --- the tests ----------------------------------------------------------------------------------


def test_the_producer_sends_everything_and_each_queue_gets_its_messages(
    produced: Produced, delivered: dict[str, list[dict]]
) -> None:
    assert produced.result.response["failed_events"] == 0
    assert [message["Body"] for message in delivered["single"]] == ["single"]
    bodies = sorted(message["Body"] for message in delivered["batch"])
    assert bodies == [f"batch {index}" for index in range(BATCH_SIZE)]
    assert [message["Body"] for message in delivered["sns-raw"]] == ["notified"]


def test_every_consumer_invocation_succeeds_with_its_step_under_its_invocation_span(
    consumed: dict[str, InvokeResult],
) -> None:
    for name, result in consumed.items():
        assert result.status == "success", (name, result.error)
        (step,) = [d for d in flattened(result.segments) if d["name"] == "handle-messages"]
        assert step["parent_id"] == _invocation(result)["id"], name


def test_a_single_sqs_message_links_the_invocation_to_its_send(
    produced: Produced, world: World, consumed: dict[str, InvokeResult]
) -> None:
    (send,) = _calls(produced, "SendMessage", queue_url=world.queue_urls["single"])
    invocation = _invocation(consumed["sqs"])
    assert _links(invocation) == [_reference(send)]
    # A link, not a parent: the invocation stays in the trace Lambda gave the invoke.
    assert invocation["trace_id"] == _lambda_root(consumed["sqs"]) != send["trace_id"]


def test_a_batch_links_the_invocation_to_the_send_of_every_message(
    produced: Produced, world: World, consumed: dict[str, InvokeResult]
) -> None:
    sends = _calls(produced, "SendMessage", queue_url=world.queue_urls["batch"])
    assert len(sends) == BATCH_SIZE
    links = _links(_invocation(consumed["sqs-batch"]))
    assert sorted(links) == sorted(_reference(send) for send in sends)


def test_with_message_context_parent_a_single_message_makes_the_invocation_a_child_of_its_send(
    produced: Produced, world: World, consumed_as_child: dict[str, InvokeResult]
) -> None:
    (send,) = _calls(produced, "SendMessage", queue_url=world.queue_urls["single"])
    invocation = _invocation(consumed_as_child["sqs"])
    assert (invocation["trace_id"], invocation["parent_id"]) == _reference(send)


@pytest.mark.parametrize("delivery", ["sns-in-sqs", "sns-raw-in-sqs", "sns"])
def test_a_notification_links_the_invocation_to_its_publish(
    produced: Produced, world: World, consumed: dict[str, InvokeResult], delivery: str
) -> None:
    (publish,) = _calls(produced, "Publish", topic_arn=world.topic_arn)
    assert _links(_invocation(consumed[delivery])) == [_reference(publish)]


def test_an_eventbridge_event_continues_the_producers_trace_below_its_put(
    produced: Produced, invocations: dict, consumed: dict[str, InvokeResult]
) -> None:
    (put,) = _calls(produced, "PutEvents")
    _, header = invocations["eventbridge"]
    assert header is not None, "the PutEvents entry went out without a TraceHeader"
    assert parse(header).parent == put["id"]
    result = consumed["eventbridge"]
    invocation = _invocation(result)
    assert invocation["trace_id"] == _lambda_root(result) == put["trace_id"]
    # Lambda's own segments sit between: the service segment's parent is the put.
    assert _ancestors(invocation, result)[-1] == put["id"]


def test_a_notification_with_ten_attributes_still_reaches_a_raw_delivery_subscription(
    delivered: dict[str, list[dict]],
) -> None:
    """SNS discards a message with more than 10 attributes bound for a raw-delivery SQS
    subscription (moto does not): the attributes must arrive exactly as the user sent them."""
    (message,) = delivered["crowded-raw"]
    assert message["Body"] == "crowded"
    assert message["MessageAttributes"] == TEN_ATTRIBUTES
