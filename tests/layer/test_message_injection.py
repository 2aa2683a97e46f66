"""Which parameters of an AWS call carry trace context, and where a message has no room for it.

Pure: plain parameter dicts in, parameter dicts out. Every call goes through `injected`, which
also checks that the user's own parameters were not modified. What leaves botocore on the wire
is tested with real clients in test_botocore_instrumentation.py.
"""

from __future__ import annotations

import copy
import io
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from xraylayer import config
from xraylayer import message_injection as mi
from xraylayer.spans import CLIENT, Span

TRACE_ID = "5759e988bd862e3fe1be46a994272793"
SPAN_ID = "1f2e3d4c5b6a7988"
XRAY = (
    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=1f2e3d4c5b6a7988;Sampled=1;"
    "Lineage=a87bd80c:1%7C68fd508a:5"
)
TRACEPARENT = f"00-{TRACE_ID}-{SPAN_ID}-01"
SPAN = Span("SQS", TRACE_ID, "53995c3f42cd8ad8", span_id=SPAN_ID, kind=CLIENT)
DEFAULTS = config.Settings({})
WITH_TRACEPARENT = config.Settings({"XRAYLAYER_MESSAGE_TRACEPARENT": "true"})
QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/jobs"
TOPIC = "arn:aws:sns:us-east-1:123456789012:events"
SQS_LIMIT = mi.SQS_MAX_MESSAGE_BYTES
SNS_LIMIT = mi.SNS_MAX_MESSAGE_BYTES
OURS = {"AWSTraceHeader", "traceparent"}
# What one added attribute costs: name, type and value.
TRACEPARENT_BYTES = len("traceparent") + len("String") + len(TRACEPARENT)
XRAY_ATTRIBUTE_BYTES = len("AWSTraceHeader") + len("String") + len(XRAY)


def injected(
    service: str,
    operation: str,
    params: Any,
    settings: config.Settings = DEFAULTS,
    span: Span = SPAN,
) -> mi.Injection:
    """`inject`, checking on the way that the user's parameters came back untouched."""
    before = copy.deepcopy(params)
    injection = mi.inject(
        service, operation, params, span=span, xray_header=XRAY, settings=settings
    )
    assert params == before
    return injection


def string(value: str) -> dict[str, str]:
    return {"DataType": "String", "StringValue": value}


def user_attributes(count: int) -> dict[str, dict[str, str]]:
    return {f"attribute-{index}": string(str(index)) for index in range(count)}


SYSTEM_ATTRIBUTES = {"AWSTraceHeader": string(XRAY)}


def sqs_message(attributes: int = 0, body: str = "job-1", **more: Any) -> dict[str, Any]:
    message = {"QueueUrl": QUEUE, "MessageBody": body, **more}
    if attributes:
        message["MessageAttributes"] = user_attributes(attributes)
    return message


def sns_message(attributes: int = 0, message: str = "hello", **more: Any) -> dict[str, Any]:
    params = {"TopicArn": TOPIC, "Message": message, **more}
    if attributes:
        params["MessageAttributes"] = user_attributes(attributes)
    return params


def sqs_size(message: dict[str, Any]) -> int:
    size = mi.message_size(message, ("MessageBody",))
    assert size is not None
    return size


# --- SQS SendMessage: the system attribute, and traceparent where it fits -------------------


def test_an_sqs_message_gets_the_aws_trace_header_system_attribute():
    params = sqs_message(3, DelaySeconds=5)
    sent = injected("SQS", "SendMessage", params).params

    assert sent == {**params, "MessageSystemAttributes": SYSTEM_ATTRIBUTES}
    assert sent["MessageAttributes"] is params["MessageAttributes"]  # shared, not copied


@pytest.mark.parametrize("count", [0, 9, 10, 11])
def test_the_system_attribute_goes_whatever_the_number_of_message_attributes(count):
    params = sqs_message(count)
    injection = injected("SQS", "SendMessage", params)

    assert injection.params["MessageSystemAttributes"] == SYSTEM_ATTRIBUTES
    assert injection.params.get("MessageAttributes") == params.get("MessageAttributes")
    assert injection.skipped == ()


def test_the_users_own_aws_trace_header_wins():
    own = {"AWSTraceHeader": string("Root=1-5759e988-bd862e3fe1be46a994272793")}
    params = sqs_message(2, MessageSystemAttributes=own)
    injection = injected("SQS", "SendMessage", params)

    assert injection.params is params
    assert injection.skipped == ()


def test_other_system_attributes_of_the_user_are_kept_next_to_ours():
    """SQS knows only AWSTraceHeader today; whatever the user sends goes as they sent it."""
    params = sqs_message(MessageSystemAttributes={"Future": string("x")})
    sent = injected("SQS", "SendMessage", params).params

    assert sent["MessageSystemAttributes"] == {"Future": string("x"), **SYSTEM_ATTRIBUTES}


def test_no_traceparent_unless_configured():
    params = sqs_message()
    assert "MessageAttributes" not in injected("SQS", "SendMessage", params).params


@pytest.mark.parametrize("count", [0, 1, 9])
def test_traceparent_is_added_while_the_message_keeps_at_most_10_attributes(count):
    params = sqs_message(count)
    injection = injected("SQS", "SendMessage", params, WITH_TRACEPARENT)

    attributes = injection.params["MessageAttributes"]
    assert attributes == {**params.get("MessageAttributes", {}), "traceparent": string(TRACEPARENT)}
    assert len(attributes) == count + 1 <= 10
    assert injection.skipped == ()


@pytest.mark.parametrize("count", [10, 11])
def test_no_traceparent_on_a_message_with_10_attributes_or_more(count):
    params = sqs_message(count)
    injection = injected("SQS", "SendMessage", params, WITH_TRACEPARENT)

    assert injection.params["MessageAttributes"] is params["MessageAttributes"]
    assert injection.params["MessageSystemAttributes"] == SYSTEM_ATTRIBUTES
    assert injection.skipped == (mi.NO_ROOM,)


def test_the_users_own_traceparent_wins():
    params = sqs_message(MessageAttributes={"traceparent": string("00-mine")})
    injection = injected("SQS", "SendMessage", params, WITH_TRACEPARENT)

    assert injection.params["MessageAttributes"] is params["MessageAttributes"]
    assert injection.skipped == ()


def test_traceparent_follows_the_spans_sampling_decision():
    unsampled = Span("SQS", TRACE_ID, "53995c3f42cd8ad8", span_id=SPAN_ID, sampled=False)
    sent = injected("SQS", "SendMessage", sqs_message(), WITH_TRACEPARENT, unsampled).params
    assert sent["MessageAttributes"]["traceparent"] == string(f"00-{TRACE_ID}-{SPAN_ID}-00")


@pytest.mark.parametrize(("room", "added"), [(0, True), (1, True), (-1, False)])
def test_traceparent_only_while_the_message_stays_within_1_mib(room, added):
    """The message at exactly 1,048,576 bytes with the traceparent is fine; a byte more is not."""
    attributes = user_attributes(3)
    base = sqs_size({"MessageBody": "", "MessageAttributes": attributes})
    body = "x" * (SQS_LIMIT - base - TRACEPARENT_BYTES - room)
    params = sqs_message(MessageAttributes=attributes, body=body)
    injection = injected("SQS", "SendMessage", params, WITH_TRACEPARENT)

    assert ("traceparent" in injection.params["MessageAttributes"]) is added
    assert injection.skipped == (() if added else (mi.TOO_LARGE,))
    assert injection.params["MessageSystemAttributes"] == SYSTEM_ATTRIBUTES  # counts toward nothing
    if added:
        assert sqs_size(injection.params) == SQS_LIMIT - room


def test_sizes_count_utf8_bytes_and_binary_values():
    """'é' is two bytes; a binary value counts its bytes; name and type count too."""
    attributes = {"blob": {"DataType": "Binary", "BinaryValue": b"\x00" * 100}}
    message = {"MessageBody": "é" * 10, "MessageAttributes": attributes}
    assert mi.message_size(message, ("MessageBody",)) == 20 + len("blob") + len("Binary") + 100

    body = "é" * ((SQS_LIMIT - TRACEPARENT_BYTES) // 2 + 1)  # fits by characters, not by bytes
    injection = injected("SQS", "SendMessage", sqs_message(body=body), WITH_TRACEPARENT)
    assert injection.skipped == (mi.TOO_LARGE,)


def test_byte_length():
    assert mi.byte_length("abc") == 3
    assert mi.byte_length("€") == 3
    assert mi.byte_length(b"\x00\x01") == mi.byte_length(bytearray(2)) == 2
    assert mi.byte_length(["ab", b"c"]) == 3
    assert mi.byte_length(None) is None
    assert mi.byte_length(["ab", None]) is None
    assert mi.byte_length(io.BytesIO(b"abc")) is None


def test_a_file_like_binary_value_has_no_known_size_so_only_the_system_attribute_goes():
    stream = io.BytesIO(b"data")
    attributes = {"blob": {"DataType": "Binary", "BinaryValue": stream}}
    params = sqs_message(MessageAttributes=attributes)
    injection = mi.inject(
        "SQS", "SendMessage", params, span=SPAN, xray_header=XRAY, settings=WITH_TRACEPARENT
    )

    assert injection.params["MessageAttributes"] is attributes
    assert injection.params["MessageSystemAttributes"] == SYSTEM_ATTRIBUTES
    assert injection.skipped == (mi.SIZE_UNKNOWN,)
    assert stream.tell() == 0  # not read: botocore sends it from where the user left it


@pytest.mark.parametrize(
    "params",
    [
        None,
        ["SendMessage"],
        "QueueUrl=x",
        {"QueueUrl": QUEUE},  # no body
        {"QueueUrl": QUEUE, "MessageBody": 7},
        {"QueueUrl": QUEUE, "MessageBody": None},
        sqs_message(MessageAttributes=None),
        sqs_message(MessageAttributes=[("a", string("1"))]),
        sqs_message(MessageAttributes={"a": "1"}),
        sqs_message(MessageAttributes={1: string("1")}),
        sqs_message(MessageAttributes={"a": {"DataType": "String", "StringValue": None}}),
        sqs_message(MessageAttributes={"a": {"DataType": "Number", "StringValue": 1}}),
        sqs_message(MessageSystemAttributes=None),
        sqs_message(MessageSystemAttributes=[]),
    ],
    ids=repr,
)
def test_parameters_of_the_wrong_types_are_left_as_they_are(params):
    """botocore rejects them; with them untouched it rejects them exactly as without the layer."""
    injection = injected("SQS", "SendMessage", params, WITH_TRACEPARENT)
    assert injection.params is params
    assert injection.skipped == (mi.MALFORMED,)


# --- SQS SendMessageBatch: each entry ------------------------------------------------------


def batch_entry(index: int, attributes: int = 0, body: str = "", **more: Any) -> dict[str, Any]:
    entry = {"Id": f"m{index}", "MessageBody": body or f"job-{index}", **more}
    if attributes:
        entry["MessageAttributes"] = user_attributes(attributes)
    return entry


def test_each_batch_entry_gets_the_system_attribute_unless_it_has_its_own():
    own = {"AWSTraceHeader": string("Root=1-5759e988-00000000000000000000000a")}
    entries = [batch_entry(0, 10), batch_entry(1), batch_entry(2, MessageSystemAttributes=own)]
    params = {"QueueUrl": QUEUE, "Entries": entries}
    sent = injected("SQS", "SendMessageBatch", params).params

    assert sent["QueueUrl"] == QUEUE
    assert sent["Entries"][0] == {**entries[0], "MessageSystemAttributes": SYSTEM_ATTRIBUTES}
    assert sent["Entries"][1] == {**entries[1], "MessageSystemAttributes": SYSTEM_ATTRIBUTES}
    assert sent["Entries"][2] is entries[2]


def test_batch_entries_of_mixed_fullness():
    entries = [
        batch_entry(0, 10),
        batch_entry(1, 9),
        batch_entry(2),
        batch_entry(3, 9, MessageSystemAttributes={"AWSTraceHeader": string("Root=mine")}),
        batch_entry(4, MessageAttributes={"traceparent": string("00-mine")}),
        batch_entry(5, 11),
    ]
    injection = injected(
        "SQS", "SendMessageBatch", {"QueueUrl": QUEUE, "Entries": entries}, WITH_TRACEPARENT
    )
    sent = injection.params["Entries"]

    assert [len(entry.get("MessageAttributes", {})) for entry in sent] == [10, 10, 1, 10, 1, 11]
    assert [("traceparent" in entry["MessageAttributes"]) for entry in sent] == [
        False,
        True,
        True,
        True,
        True,
        False,
    ]
    assert sent[4]["MessageAttributes"]["traceparent"] == string("00-mine")
    assert [
        entry["MessageSystemAttributes"]["AWSTraceHeader"]["StringValue"] for entry in sent
    ] == [
        XRAY,
        XRAY,
        XRAY,
        "Root=mine",
        XRAY,
        XRAY,
    ]
    assert injection.skipped == (mi.NO_ROOM,)  # once, though two entries had no room


def test_a_batch_stays_within_1_mib_in_total():
    """Two entries of half the limit each: the first takes the room there is, the second goes
    without its traceparent (and still gets its system attribute)."""
    half = SQS_LIMIT // 2
    entries = [batch_entry(0, body="x" * (half - 50)), batch_entry(1, body="y" * (half - 50))]
    injection = injected(
        "SQS", "SendMessageBatch", {"QueueUrl": QUEUE, "Entries": entries}, WITH_TRACEPARENT
    )
    first, second = injection.params["Entries"]

    assert "traceparent" in first["MessageAttributes"]
    assert "MessageAttributes" not in second
    assert first["MessageSystemAttributes"] == second["MessageSystemAttributes"]
    assert injection.skipped == (mi.TOO_LARGE,)
    assert sum(sqs_size(entry) for entry in (first, second)) <= SQS_LIMIT


def test_a_tuple_of_entries_is_accepted_as_botocore_accepts_it():
    entries = (batch_entry(0), batch_entry(1))
    sent = injected("SQS", "SendMessageBatch", {"QueueUrl": QUEUE, "Entries": entries}).params
    assert [entry["MessageSystemAttributes"] for entry in sent["Entries"]] == [
        SYSTEM_ATTRIBUTES
    ] * 2


@pytest.mark.parametrize(
    "entries",
    [None, "m0", {"Id": "m0"}, [batch_entry(0), None], [batch_entry(0), {"Id": "m1"}]],
    ids=repr,
)
def test_a_batch_with_a_malformed_entry_is_left_as_it_is(entries):
    params = {"QueueUrl": QUEUE, "Entries": entries}
    injection = injected("SQS", "SendMessageBatch", params, WITH_TRACEPARENT)
    assert injection.params is params
    assert injection.skipped == (mi.MALFORMED,)


# --- SNS Publish / PublishBatch: an AWSTraceHeader message attribute -----------------------


def test_a_topic_message_gets_an_aws_trace_header_attribute():
    params = sns_message(2, Subject="hi")
    sent = injected("SNS", "Publish", params).params

    assert sent == {
        **params,
        "MessageAttributes": {**params["MessageAttributes"], "AWSTraceHeader": string(XRAY)},
    }


@pytest.mark.parametrize(
    ("count", "settings", "added", "skipped"),
    [
        (0, DEFAULTS, ["AWSTraceHeader"], ()),
        (0, WITH_TRACEPARENT, ["AWSTraceHeader", "traceparent"], ()),
        (8, WITH_TRACEPARENT, ["AWSTraceHeader", "traceparent"], ()),
        (9, DEFAULTS, ["AWSTraceHeader"], ()),
        (9, WITH_TRACEPARENT, ["AWSTraceHeader"], (mi.NO_ROOM,)),
        (10, DEFAULTS, [], (mi.NO_ROOM,)),
        (10, WITH_TRACEPARENT, [], (mi.NO_ROOM,)),
        (11, DEFAULTS, [], (mi.NO_ROOM,)),
    ],
)
def test_sns_attributes_only_while_the_total_stays_within_10(count, settings, added, skipped):
    params = sns_message(count)
    injection = injected("SNS", "Publish", params, settings)

    attributes = injection.params.get("MessageAttributes", {})
    assert list(attributes)[count:] == added
    assert len(attributes) == max(count, min(count + len(added), 10))
    assert injection.skipped == skipped
    if not added:
        assert injection.params is params


def test_the_users_own_sns_attributes_win():
    own = {"AWSTraceHeader": string("Root=mine"), "traceparent": string("00-mine")}
    params = sns_message(MessageAttributes=own)
    injection = injected("SNS", "Publish", params, WITH_TRACEPARENT)
    assert injection.params is params

    partly = sns_message(MessageAttributes={"AWSTraceHeader": string("Root=mine")})
    sent = injected("SNS", "Publish", partly, WITH_TRACEPARENT).params
    assert sent["MessageAttributes"] == {
        "AWSTraceHeader": string("Root=mine"),
        "traceparent": string(TRACEPARENT),
    }


@pytest.mark.parametrize("structure", ["json", "string", None])
def test_never_with_message_structure(structure):
    """With MessageStructure=json SNS delivers no attributes; any other value SNS rejects."""
    params = sns_message(MessageStructure=structure, Message='{"default": "hello"}')
    injection = injected("SNS", "Publish", params, WITH_TRACEPARENT)
    assert injection.params is params
    assert injection.skipped == (mi.STRUCTURED,)


@pytest.mark.parametrize(
    "target",
    [
        {"PhoneNumber": "+15555550100"},
        {"TargetArn": "arn:aws:sns:us-east-1:123456789012:endpoint/APNS/app/0f1e2d3c"},
    ],
)
def test_no_attribute_on_a_publish_to_a_phone_or_a_mobile_endpoint(target):
    params = {"Message": "hello", **target}
    injection = injected("SNS", "Publish", params)
    assert injection.params is params
    assert injection.skipped == (mi.NOT_A_TOPIC,)


@pytest.mark.parametrize(("room", "added"), [(0, True), (-1, False)])
def test_sns_attributes_only_within_256_kib_subject_included(room, added):
    subject = "Subject line"
    body = "x" * (SNS_LIMIT - len(subject) - XRAY_ATTRIBUTE_BYTES - room)
    params = sns_message(message=body, Subject=subject)
    injection = injected("SNS", "Publish", params)

    assert ("MessageAttributes" in injection.params) is added
    assert injection.skipped == (() if added else (mi.TOO_LARGE,))


def test_sns_traceparent_takes_the_room_the_aws_trace_header_leaves():
    body = "x" * (SNS_LIMIT - XRAY_ATTRIBUTE_BYTES - TRACEPARENT_BYTES + 1)
    injection = injected("SNS", "Publish", sns_message(message=body), WITH_TRACEPARENT)

    assert list(injection.params["MessageAttributes"]) == ["AWSTraceHeader"]
    assert injection.skipped == (mi.TOO_LARGE,)


def test_publish_batch_entries_of_mixed_fullness():
    entries = [
        {"Id": "0", "Message": "a", "MessageAttributes": user_attributes(10)},
        {"Id": "1", "Message": "b", "MessageAttributes": user_attributes(9)},
        {"Id": "2", "Message": "c"},
        {"Id": "3", "Message": "{}", "MessageStructure": "json"},
        {"Id": "4", "Message": "d", "MessageAttributes": {"AWSTraceHeader": string("Root=mine")}},
    ]
    params = {"TopicArn": TOPIC, "PublishBatchRequestEntries": entries}
    injection = injected("SNS", "PublishBatch", params, WITH_TRACEPARENT)
    sent = injection.params["PublishBatchRequestEntries"]

    assert sent[0] is entries[0]
    assert list(sent[1]["MessageAttributes"])[9:] == ["AWSTraceHeader"]
    assert list(sent[2]["MessageAttributes"]) == ["AWSTraceHeader", "traceparent"]
    assert sent[3] is entries[3]
    assert sent[4]["MessageAttributes"] == {
        "AWSTraceHeader": string("Root=mine"),
        "traceparent": string(TRACEPARENT),
    }
    assert injection.skipped == (mi.NO_ROOM, mi.STRUCTURED)


def test_a_publish_batch_stays_within_256_kib_in_total():
    size = (SNS_LIMIT - XRAY_ATTRIBUTE_BYTES - 10) // 2  # room for one attribute, not two
    entries = [{"Id": str(index), "Message": "x" * size} for index in range(2)]
    injection = injected(
        "SNS", "PublishBatch", {"TopicArn": TOPIC, "PublishBatchRequestEntries": entries}
    )
    first, second = injection.params["PublishBatchRequestEntries"]

    assert "AWSTraceHeader" in first["MessageAttributes"]
    assert second is entries[1]
    assert injection.skipped == (mi.TOO_LARGE,)


# --- EventBridge and Step Functions: a trace header parameter -------------------------------


def test_each_event_gets_a_trace_header_unless_it_has_one():
    entries = [
        {"Source": "orders", "DetailType": "created", "Detail": "{}"},
        {"Source": "orders", "DetailType": "paid", "Detail": "{}", "TraceHeader": "Root=mine"},
    ]
    params = {"Entries": entries, "EndpointId": "abc.veo"}
    sent = injected("EventBridge", "PutEvents", params).params

    assert sent == {
        "Entries": [{**entries[0], "TraceHeader": XRAY}, entries[1]],
        "EndpointId": "abc.veo",
    }
    assert sent["Entries"][1] is entries[1]


def test_events_that_all_have_a_trace_header_are_left_as_they_are():
    params = {"Entries": [{"Source": "s", "DetailType": "d", "TraceHeader": "Root=mine"}]}
    assert injected("EventBridge", "PutEvents", params).params is params


@pytest.mark.parametrize(("length", "added"), [(500, True), (501, False)])
def test_an_event_trace_header_has_at_most_500_characters(length, added):
    header = XRAY + ";Custom=" + "a" * (length - len(XRAY) - len(";Custom="))
    params = {"Entries": [{"Source": "s", "DetailType": "d", "Detail": "{}"}]}
    injection = mi.inject(
        "EventBridge", "PutEvents", params, span=SPAN, xray_header=header, settings=DEFAULTS
    )
    assert ("TraceHeader" in injection.params["Entries"][0]) is added
    assert injection.skipped == (() if added else (mi.HEADER_DOES_NOT_FIT,))


@pytest.mark.parametrize("entries", [None, "e", [{"Source": "s"}, "e"]], ids=repr)
def test_malformed_events_are_left_as_they_are(entries):
    params = {"Entries": entries}
    injection = injected("EventBridge", "PutEvents", params)
    assert injection.params is params
    assert injection.skipped == (mi.MALFORMED,)


@pytest.mark.parametrize("operation", ["StartExecution", "StartSyncExecution"])
def test_a_step_functions_execution_gets_a_trace_header_unless_it_has_one(operation):
    params = {"stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:flow"}
    assert injected("SFN", operation, params).params == {**params, "traceHeader": XRAY}

    own = {**params, "traceHeader": "Root=mine"}
    assert injected("SFN", operation, own).params is own


@pytest.mark.parametrize(
    ("header", "added"),
    [("a" * 256, True), ("a" * 257, False), ("Root=1-é", False)],
)
def test_an_execution_trace_header_has_at_most_256_ascii_characters(header, added):
    params = {"stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:flow"}
    injection = mi.inject(
        "SFN", "StartExecution", params, span=SPAN, xray_header=header, settings=DEFAULTS
    )
    assert ("traceHeader" in injection.params) is added
    assert injection.skipped == (() if added else (mi.HEADER_DOES_NOT_FIT,))


# --- what carries nothing, and the propagators ----------------------------------------------


@pytest.mark.parametrize(
    ("service", "operation", "params"),
    [
        ("Lambda", "Invoke", {"FunctionName": "fn", "Payload": b"{}"}),
        ("SQS", "ReceiveMessage", {"QueueUrl": QUEUE}),
        ("DynamoDB", "PutItem", {"TableName": "t", "Item": {}}),
        ("SNS", "CreateTopic", {"Name": "t"}),
        ("Kinesis", "PutRecord", {"StreamName": "s", "Data": b"", "PartitionKey": "k"}),
    ],
)
def test_other_operations_carry_nothing_in_their_parameters(service, operation, params):
    """Lambda Invoke included: its X-Amzn-Trace-Id request header carries the context."""
    assert not mi.carries_context(service, operation)
    injection = injected(service, operation, params, WITH_TRACEPARENT)
    assert injection.params is params
    assert injection.skipped == ()


@pytest.mark.parametrize(
    "operation",
    [
        ("SQS", "SendMessage"),
        ("SQS", "SendMessageBatch"),
        ("SNS", "Publish"),
        ("SNS", "PublishBatch"),
        ("EventBridge", "PutEvents"),
        ("SFN", "StartExecution"),
        ("SFN", "StartSyncExecution"),
    ],
)
def test_the_operations_that_carry_context(operation):
    assert mi.carries_context(*operation)


def test_without_the_xray_propagator_only_traceparent_goes():
    only_w3c = config.Settings(
        {"OTEL_PROPAGATORS": "tracecontext", "XRAYLAYER_MESSAGE_TRACEPARENT": "true"}
    )
    sqs = injected("SQS", "SendMessage", sqs_message(), only_w3c).params
    assert "MessageSystemAttributes" not in sqs
    assert sqs["MessageAttributes"] == {"traceparent": string(TRACEPARENT)}

    sns = injected("SNS", "Publish", sns_message(), only_w3c).params
    assert sns["MessageAttributes"] == {"traceparent": string(TRACEPARENT)}

    events = {"Entries": [{"Source": "s", "DetailType": "d"}]}
    assert injected("EventBridge", "PutEvents", events, only_w3c).params is events


def test_without_the_tracecontext_propagator_no_traceparent_even_when_configured():
    only_xray = config.Settings(
        {"OTEL_PROPAGATORS": "xray", "XRAYLAYER_MESSAGE_TRACEPARENT": "true"}
    )
    sent = injected("SNS", "Publish", sns_message(), only_xray).params
    assert sent["MessageAttributes"] == {"AWSTraceHeader": string(XRAY)}


def test_with_no_propagators_nothing_changes():
    none = config.Settings({"OTEL_PROPAGATORS": "none", "XRAYLAYER_MESSAGE_TRACEPARENT": "true"})
    for service, operation, params in (
        ("SQS", "SendMessage", sqs_message()),
        ("SNS", "Publish", sns_message()),
        ("SFN", "StartExecution", {"stateMachineArn": "arn"}),
    ):
        injection = injected(service, operation, params, none)
        assert injection.params is params
        assert injection.skipped == ()


# --- properties over arbitrary parameters ---------------------------------------------------

names = st.sampled_from(["traceparent", "AWSTraceHeader"]) | st.text(
    "abcXYZ09_-.", min_size=1, max_size=12
)
attribute_values = st.builds(string, st.text(max_size=20)) | st.builds(
    lambda value: {"DataType": "Binary", "BinaryValue": value}, st.binary(max_size=20)
)
# Maps of every size from 0 to 12, so that 9, 10 and 11 attributes come up often.
attribute_maps = st.sampled_from(range(13)).flatmap(
    lambda count: st.dictionaries(names, attribute_values, min_size=count, max_size=count)
)
bodies = st.one_of(
    st.text(max_size=40),
    st.integers(0, 400).map(lambda room: "x" * (SNS_LIMIT - room)),
    st.integers(0, 400).map(lambda room: "é" * ((SQS_LIMIT - room) // 2)),
)
wrong_types = st.one_of(
    st.none(),
    st.integers(),
    st.lists(st.none(), max_size=1),
    st.dictionaries(names, st.none() | st.integers() | st.text(max_size=2), min_size=1, max_size=2),
    st.dictionaries(names, st.fixed_dictionaries({"StringValue": st.none() | st.integers()})),
)


def messages(text: str, extra: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Messages as botocore accepts them, and about one in ten with a field of a type it
    rejects."""
    valid = st.fixed_dictionaries(
        {text: bodies},
        optional={
            "MessageAttributes": attribute_maps,
            "MessageSystemAttributes": st.dictionaries(
                st.just("AWSTraceHeader"), attribute_values, max_size=1
            ),
            **extra,
        },
    )
    fields = st.sampled_from([text, "MessageAttributes", "MessageSystemAttributes"])
    broken = st.builds(
        lambda message, key, value: {**message, key: value}, valid, fields, wrong_types
    )
    return now_and_then(valid, broken)


def now_and_then(usual: st.SearchStrategy, rare: st.SearchStrategy) -> st.SearchStrategy:
    """``usual`` nine times in ten, ``rare`` the tenth (``one_of`` would draw each as often)."""
    return st.builds(
        lambda first, second, rarely: second if rarely else first,
        usual,
        rare,
        st.sampled_from([False] * 9 + [True]),
    )


sqs_messages = messages("MessageBody", {"MessageGroupId": st.text(max_size=5)})
sns_messages = messages(
    "Message",
    {"Subject": st.text(max_size=10), "MessageStructure": st.just("json")},
)
batches = lambda entries: now_and_then(st.lists(entries, max_size=10), wrong_types)  # noqa: E731
CASES = {
    ("SQS", "SendMessage"): (sqs_messages.map(lambda m: {"QueueUrl": QUEUE, **m}), SQS_LIMIT),
    ("SQS", "SendMessageBatch"): (
        st.fixed_dictionaries({"QueueUrl": st.just(QUEUE), "Entries": batches(sqs_messages)}),
        SQS_LIMIT,
    ),
    ("SNS", "Publish"): (sns_messages.map(lambda m: {"TopicArn": TOPIC, **m}), SNS_LIMIT),
    ("SNS", "PublishBatch"): (
        st.fixed_dictionaries(
            {"TopicArn": st.just(TOPIC), "PublishBatchRequestEntries": batches(sns_messages)}
        ),
        SNS_LIMIT,
    ),
}
BATCH_KEYS = {"SendMessageBatch": "Entries", "PublishBatch": "PublishBatchRequestEntries"}


def sent_messages(operation: str, params: dict[str, Any]) -> list[Any]:
    key = BATCH_KEYS.get(operation)
    return [params] if key is None else list(params[key])


def assert_only_added_ours(before: Any, after: Any) -> None:
    """``after`` is ``before`` plus our attributes: every user key and value as it was."""
    if after is before:
        return
    assert isinstance(after, dict)
    for key, value in before.items():
        if key in ("MessageAttributes", "MessageSystemAttributes"):
            assert {name: after[key][name] for name in value} == value
            assert set(after[key]) - set(value) <= OURS
        else:
            assert after[key] is value
    assert set(after) - set(before) <= {"MessageAttributes", "MessageSystemAttributes"}


@hypothesis_settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(CASES)), st.data(), st.sampled_from([DEFAULTS, WITH_TRACEPARENT]))
def test_injection_never_breaks_a_message(operation, data, settings):
    strategy, limit = CASES[operation]
    params = data.draw(strategy)
    before = copy.deepcopy(params)
    injection = mi.inject(*operation, params, span=SPAN, xray_header=XRAY, settings=settings)

    assert params == before  # the user's parameters are never modified
    assert set(injection.skipped) <= {
        mi.NO_ROOM,
        mi.TOO_LARGE,
        mi.SIZE_UNKNOWN,
        mi.STRUCTURED,
        mi.MALFORMED,
    }
    if injection.params is params:
        return
    text = ("MessageBody",) if operation[0] == "SQS" else ("Message", "Subject")
    originals, sent = (
        sent_messages(operation[1], params),
        sent_messages(operation[1], injection.params),
    )
    assert len(sent) == len(originals)
    total_before, total_after = 0, 0
    for original, message in zip(originals, sent, strict=True):
        assert_only_added_ours(original, message)
        count = len(original.get("MessageAttributes", {}))
        assert len(message.get("MessageAttributes", {})) <= max(count, 10)
        if message.get("MessageAttributes") is not original.get("MessageAttributes"):
            assert "MessageStructure" not in message
            assert mi.message_size(message, text) <= limit
        total_before += mi.message_size(original, text) or 0
        total_after += mi.message_size(message, text) or 0
    if total_after > total_before:
        assert total_after <= limit


@given(
    st.sampled_from(sorted(CASES)),
    st.integers(0, 12),
    st.sets(st.sampled_from(sorted(OURS))),
    st.sampled_from([DEFAULTS, WITH_TRACEPARENT]),
)
def test_never_an_11th_attribute_and_never_one_of_the_users_replaced(
    operation, count, own, settings
):
    attributes = {name: string("users") for name in own}
    attributes.update(user_attributes(count - len(attributes)))
    text = "MessageBody" if operation[0] == "SQS" else "Message"
    message = {text: "body", "MessageAttributes": attributes}
    key = BATCH_KEYS.get(operation[1])
    params = {"QueueUrl": QUEUE, "TopicArn": TOPIC, **({key: [message]} if key else message)}
    injection = injected(*operation, params, settings)

    (sent,) = sent_messages(operation[1], injection.params)
    assert len(sent["MessageAttributes"]) == max(
        len(attributes), min(10, len(attributes) + len(wanted(operation, settings) - own))
    )
    assert {name: sent["MessageAttributes"][name] for name in attributes} == attributes


def wanted(operation: tuple[str, str], settings: config.Settings) -> set[str]:
    """The message attributes the layer adds where there is room."""
    names = {"AWSTraceHeader"} if operation[0] == "SNS" else set()
    return names | ({"traceparent"} if settings.message_traceparent else set())


DIGEST = {"MD5OfMessageSystemAttributes": "d"}


@pytest.mark.parametrize(
    ("operation", "params", "response", "expected"),
    [
        ("SendMessage", {}, {**DIGEST, "MessageId": "m"}, {"MessageId": "m"}),
        ("SendMessage", {"MessageSystemAttributes": {"AWSTraceHeader": {}}}, DIGEST, DIGEST),
        (
            "SendMessageBatch",
            {"Entries": [{"Id": "a"}, {"Id": "b", "MessageSystemAttributes": {"x": {}}}]},
            {"Successful": [{"Id": "a", **DIGEST}, {"Id": "b", **DIGEST}]},
            {"Successful": [{"Id": "a"}, {"Id": "b", **DIGEST}]},
        ),
        ("SendMessageBatch", {"Entries": "odd"}, {"Successful": None}, {"Successful": None}),
        ("SendMessage", None, ["odd"], ["odd"]),
        ("ReceiveMessage", {}, DIGEST, DIGEST),
    ],
)
def test_the_digest_of_the_layers_system_attribute_is_taken_out_and_only_it(
    operation: str, params: Any, response: Any, expected: Any
) -> None:
    response = copy.deepcopy(response)
    mi.without_added_digests("SQS", operation, params, response)
    assert response == expected
