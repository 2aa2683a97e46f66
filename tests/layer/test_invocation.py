"""invocation: the span of each invocation, its attributes, cold start, init and errors.

The spans go to a list (the tracer's sink) instead of the extension; the context object has
the attributes awslambdaric's LambdaContext has.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import hypothesis
import pytest
from hypothesis import HealthCheck, given
from hypothesis import strategies as st
from span_sink import CollectingSink
from xraylayer import config, context, diagnostics, message_context, semconv, wire, xray_document
from xraylayer.import_profile import ImportProfile
from xraylayer.invocation import Invocations, response_status
from xraylayer.spans import SERVER, Span
from xraylayer.tracer import Tracer
from xraylayer.xray_document import subsegment_document

ROOT = "1-6560a1b2-0123456789abcdef01234567"
W3C = "6560a1b20123456789abcdef01234567"
PARENT = "53995c3f42cd8ad8"
ARN = "arn:aws:lambda:eu-west-1:123456789012:function:orders:live"
EVENTS = Path(__file__).parent / "events"


class RecordingHandoff:
    def __init__(self, sink: CollectingSink) -> None:
        self.sink = sink
        self.calls: list[tuple[str, Span, int]] = []

    def invocation_started(self, span: Span) -> None:
        self.calls.append(("started", span, len(self.sink.spans)))

    def invocation_finished(self, span: Span) -> None:
        self.calls.append(("finished", span, len(self.sink.spans)))


def event(name: str) -> dict[str, Any]:
    """A real-shaped event from tests/layer/events."""
    return json.loads((EVENTS / f"{name}.json").read_text())


def lambda_context(request_id: str = "req-1") -> SimpleNamespace:
    return SimpleNamespace(
        function_name="orders",
        function_version="7",
        invoked_function_arn=ARN,
        memory_limit_in_mb="512",
        aws_request_id=request_id,
    )


@pytest.fixture(autouse=True)
def settings() -> Iterator[None]:
    config.reload({"OTEL_SERVICE_NAME": "order-service"})
    yield
    config.reload()


@pytest.fixture
def sink() -> CollectingSink:
    return CollectingSink()


def invocations(sink: CollectingSink, header: str | None = None, **options: Any) -> Invocations:
    environ = {"AWS_REGION": "eu-west-1"}
    if header is not None:
        environ["_X_AMZN_TRACE_ID"] = header
    made = Invocations(tracer=Tracer(sink), environ=environ, **options)
    made.init_done()
    return made


def call(made: Invocations, handler: Any, event: Any = None) -> Any:
    """What xraylayer.bootstrap's handler does around the user's handler."""
    running = made.start(event if event is not None else {}, lambda_context())
    try:
        result = handler(event, None)
    except BaseException as error:
        made.fail(running, error)
        raise
    made.succeed(running, result)
    return result


def only_invocation(sink: CollectingSink) -> Span:
    (span,) = [span for span in sink.spans if span.kind == SERVER]
    return span


@pytest.mark.parametrize(
    ("header", "trace_id", "parent", "sampled"),
    [
        (f"Root={ROOT};Parent={PARENT};Sampled=1", W3C, PARENT, True),
        (f"Root={ROOT};Parent={PARENT};Sampled=0", W3C, PARENT, False),
        (f"Root={ROOT};Lineage=a87bd80c:1%7C68fd508a:5", W3C, None, False),
        (f"Sampled=1;Root={ROOT};Parent={PARENT}", W3C, PARENT, True),
    ],
)
def test_the_span_joins_the_trace_in_the_header(
    sink: CollectingSink, header: str, trace_id: str, parent: str | None, sampled: bool
) -> None:
    call(invocations(sink, header), lambda event, ctx: "ok")
    span = only_invocation(sink)
    assert (span.trace_id, span.parent_id, span.sampled) == (trace_id, parent, sampled)
    assert span.name == "orders" and span.kind == SERVER and span.ended


@pytest.mark.parametrize("header", [None, "", "Root=not-a-trace-id;Sampled=1"])
def test_without_a_valid_header_the_span_starts_an_unsampled_trace(
    sink: CollectingSink, header: str | None
) -> None:
    call(invocations(sink, header), lambda event, ctx: "ok")
    span = only_invocation(sink)
    assert len(span.trace_id) == 32 and span.parent_id is None and span.sampled is False


def test_the_span_says_which_function_version_request_and_trigger(sink: CollectingSink) -> None:
    call(invocations(sink), lambda event, ctx: None, event("sqs"))
    attributes = only_invocation(sink).attributes
    assert attributes[semconv.FAAS_NAME] == "orders"
    assert attributes[semconv.FAAS_VERSION] == "7"
    assert attributes[semconv.FAAS_INVOCATION_ID] == "req-1"
    assert attributes[semconv.CLOUD_RESOURCE_ID] == ARN
    assert attributes[semconv.CLOUD_REGION] == "eu-west-1"
    assert attributes[semconv.CLOUD_ACCOUNT_ID] == "123456789012"
    assert attributes[semconv.CLOUD_PROVIDER] == "aws"
    assert attributes[semconv.FAAS_MAX_MEMORY] == 512 * 1024 * 1024
    assert attributes[semconv.FAAS_TRIGGER] == "pubsub"
    assert attributes[semconv.FAAS_TRIGGER_TYPE] == "sqs"


def test_cold_start_is_true_on_the_first_invocation_only(sink: CollectingSink) -> None:
    made = invocations(sink, profile=ImportProfile(process_start=0.0, threshold_ms=5))
    made.init_done(now=1.0)  # a process that started at 0 and was ready at 1 (epoch seconds)
    made.init_type = "on-demand"
    for _ in range(3):
        call(made, lambda event, ctx: None)
    spans = [span for span in sink.spans if span.kind == SERVER]
    assert [span.annotations["ColdStart"] for span in spans] == [True, False, False]
    assert [span.attributes[semconv.FAAS_COLDSTART] for span in spans] == [True, False, False]
    assert spans[0].attributes[semconv.FAAS_INIT_DURATION_MS] == 1000.0
    assert all(semconv.FAAS_INIT_DURATION_MS not in span.attributes for span in spans[1:])
    assert {span.annotations["Service"] for span in spans} == {"order-service"}


@pytest.mark.parametrize("declared", ["provisioned-concurrency", "snap-start"])
def test_an_init_ahead_of_demand_is_no_cold_start(sink: CollectingSink, declared: str) -> None:
    config.reload({"AWS_LAMBDA_INITIALIZATION_TYPE": declared})
    call(invocations(sink, profile=ImportProfile(0.0, 5)), lambda event, ctx: None)
    span = only_invocation(sink)
    assert span.annotations["ColdStart"] is False
    assert span.attributes[semconv.FAAS_INITIALIZATION_TYPE] == declared
    assert [s.name for s in sink.spans] == ["orders"]  # no Init span either


def test_an_on_demand_init_long_before_the_first_invoke_was_proactive(sink: CollectingSink) -> None:
    made = invocations(sink, profile=ImportProfile(0.0, 5))
    made.init_done(now=1.0)  # epoch second 1: the first invocation comes decades later
    call(made, lambda event, ctx: None)
    span = only_invocation(sink)
    assert span.annotations["ColdStart"] is False
    assert span.attributes[semconv.FAAS_INITIALIZATION_TYPE] == "proactive-initialization"


def test_the_cold_start_carries_init_and_the_slow_imports(sink: CollectingSink) -> None:
    profile = ImportProfile(process_start=10.0, threshold_ms=5)
    profile.records += [("boto3.session", 10.4, 10.5, 1), ("boto3", 10.3, 10.9, 1)]
    made = invocations(sink, f"Root={ROOT};Parent={PARENT};Sampled=1", profile=profile)
    made.init_done(now=11.0)
    made.init_type = "on-demand"
    call(made, lambda event, ctx: None)
    init, boto3, session, invocation = sink.spans
    assert (init.name, boto3.name, session.name) == ("Init", "boto3", "boto3.session")
    assert init.parent_id == invocation.span_id
    assert (init.start_time, init.end_time) == (10.0, 11.0)
    assert boto3.parent_id == init.span_id and session.parent_id == boto3.span_id
    assert (session.start_time, session.end_time) == (10.4, 10.5)
    assert {span.trace_id for span in sink.spans} == {W3C}
    assert all(span.sampled for span in sink.spans)


@pytest.mark.parametrize(
    ("status", "error", "throttle", "fault"),
    [
        (200, False, False, False),
        (404, True, False, False),
        (429, True, True, False),
        (503, False, False, True),
        ("500", False, False, True),
    ],
)
def test_an_http_response_status_marks_the_span(
    sink: CollectingSink, status: Any, error: bool, throttle: bool, fault: bool
) -> None:
    api = event("api_gateway_rest")
    call(invocations(sink), lambda event, ctx: {"statusCode": status, "body": ""}, api)
    span = only_invocation(sink)
    assert (span.error, span.throttle, span.fault) == (error, throttle, fault)
    assert span.attributes[semconv.HTTP_RESPONSE_STATUS_CODE] == int(status)


def test_a_status_code_from_a_non_http_trigger_means_nothing(sink: CollectingSink) -> None:
    call(invocations(sink), lambda event, ctx: {"statusCode": 500}, {"order_id": "o-1"})
    span = only_invocation(sink)
    assert not (span.error or span.fault)
    assert semconv.HTTP_RESPONSE_STATUS_CODE not in span.attributes


@pytest.mark.parametrize(
    ("result", "status"),
    [
        ({"statusCode": 201}, 201),
        ({"statusCode": True}, None),
        ({"statusCode": "2x"}, None),
        ({}, None),
        ("text", None),
        (None, None),
        ([{"statusCode": 500}], None),
    ],
)
def test_response_status_reads_only_a_real_status(result: Any, status: int | None) -> None:
    assert response_status(result) == status


def user_handler(event: Any, ctx: Any) -> None:
    raise ValueError("order o-8 rejected")


def test_an_exception_is_recorded_from_the_users_frame_and_the_span_ended(
    sink: CollectingSink,
) -> None:
    made = invocations(sink)
    with pytest.raises(ValueError, match="order o-8 rejected"):
        call(made, user_handler)
    span = only_invocation(sink)
    (exception,) = span.exceptions
    assert (exception["type"], exception["message"]) == ("ValueError", "order o-8 rejected")
    assert [frame["label"] for frame in exception["stack"]] == ["user_handler"]
    assert span.fault and span.ended


def test_the_span_is_current_while_the_handler_runs(sink: CollectingSink) -> None:
    seen = []
    call(invocations(sink), lambda event, ctx: seen.append(context.current_span()))
    assert seen == [only_invocation(sink)]
    assert context.current_span() is None


def test_the_handoff_hears_of_each_invocation_around_its_spans(sink: CollectingSink) -> None:
    handoff = RecordingHandoff(sink)
    made = invocations(sink, handoff=handoff, profile=ImportProfile(0.0, 5))
    made.init_done(now=1.0)
    made.init_type = "on-demand"
    call(made, lambda event, ctx: None)
    span = only_invocation(sink)
    assert handoff.calls == [("started", span, 0), ("finished", span, 2)]  # Init, invocation


class BrokenHandoff:
    def invocation_started(self, span: Span) -> None:
        raise OSError("socket gone")

    def invocation_finished(self, span: Span) -> None:
        raise OSError("socket gone")


def test_a_failing_handoff_is_logged_and_the_span_still_ends(
    sink: CollectingSink, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(diagnostics, "_seen", set())
    assert call(invocations(sink, handoff=BrokenHandoff()), lambda event, ctx: "ok") == "ok"
    assert only_invocation(sink).ended
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 2 and all("OSError: socket gone" in line for line in errors)


class BrokenEnvironment(dict):
    def get(self, key: str, default: Any = None) -> Any:
        raise RuntimeError("environment unreadable")


def test_when_the_span_cannot_start_the_handler_runs_untraced(
    sink: CollectingSink, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(diagnostics, "_seen", set())
    made = Invocations(tracer=Tracer(sink), environ=BrokenEnvironment())
    assert call(made, lambda event, ctx: "ok") == "ok"
    with pytest.raises(ValueError):
        call(made, user_handler)
    assert sink.spans == []
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("xraylayer: ERROR starting the invocation span failed")


# --- the trace context the event carries ---------------------------------------------------------

UNSAMPLED = f"Root={ROOT};Parent={PARENT};Sampled=0"
SAMPLED = f"Root={ROOT};Parent={PARENT};Sampled=1"
# The span the SNS envelope of sqs_sns_envelope.json names.
PRODUCER_TRACE, PRODUCER_SPAN = "6560a1b389abcdef0123456789abcdef", "89abcdef01234567"
PRODUCER_ROOT = "1-6560a1b3-89abcdef0123456789abcdef"


def run_with(
    sink: CollectingSink, header: str | None, event: Any, message_context: str = "auto"
) -> Span:
    """The invocation span of one call with ``event`` under Lambda's ``header``."""
    config.reload({"XRAYLAYER_MESSAGE_CONTEXT": message_context})
    call(invocations(sink, header), lambda event, ctx: None, event)
    return only_invocation(sink)


def test_a_message_lambda_did_not_sample_makes_the_producer_the_parent(
    sink: CollectingSink,
) -> None:
    span = run_with(sink, UNSAMPLED, event("sqs_sns_envelope"))
    assert (span.trace_id, span.parent_id, span.sampled) == (PRODUCER_TRACE, PRODUCER_SPAN, True)
    assert span.links == []  # Lambda records no trace to link back to
    assert (
        span.attributes[semconv.XRAYLAYER_PARENT_SOURCE] == "SNS envelope attribute X-Amzn-Trace-Id"
    )
    assert span.attributes[semconv.MESSAGING_MESSAGE_ID] == "c0a8d3f2-6b1e-4f7a-9d2c-3e4f5a6b7c8d"


def test_a_message_lambda_sampled_is_a_link_that_x_ray_keeps_as_metadata(
    sink: CollectingSink,
) -> None:
    span = run_with(sink, SAMPLED, event("sqs_sns_envelope"))
    assert (span.trace_id, span.parent_id, span.sampled) == (W3C, PARENT, True)
    assert span.links == [(PRODUCER_TRACE, PRODUCER_SPAN)]
    document = subsegment_document(span)
    assert document["metadata"]["xraylayer"]["links"] == [
        {"trace_id": PRODUCER_ROOT, "id": PRODUCER_SPAN}
    ]
    otel = document["metadata"]["otel"]
    assert otel[semconv.MESSAGING_SYSTEM] == "aws_sqs"
    assert otel[semconv.MESSAGING_DESTINATION_NAME] == "orders-from-sns"


def test_configured_as_parent_a_message_leaves_a_link_to_lambdas_trace(
    sink: CollectingSink,
) -> None:
    span = run_with(sink, SAMPLED, event("sqs_sns_envelope"), message_context="parent")
    assert (span.trace_id, span.parent_id) == (PRODUCER_TRACE, PRODUCER_SPAN)
    assert span.links == [(W3C, PARENT)]


def test_configured_as_link_a_message_never_becomes_the_parent(sink: CollectingSink) -> None:
    span = run_with(sink, UNSAMPLED, event("sqs_sns_envelope"), message_context="link")
    assert (span.trace_id, span.parent_id, span.sampled) == (W3C, PARENT, False)
    assert span.links == [(PRODUCER_TRACE, PRODUCER_SPAN)]


def test_a_batch_links_to_each_producer_and_the_links_reach_the_extension(
    sink: CollectingSink,
) -> None:
    span = run_with(sink, UNSAMPLED, event("sqs_batch"))
    assert (span.trace_id, span.parent_id) == (W3C, PARENT)
    assert span.links == [
        ("6560a1b7aaaaaaaaaaaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaa1"),
        ("6560a1b8bbbbbbbbbbbbbbbbbbbbbbbb", "bbbbbbbbbbbbbbb2"),
    ]
    assert span.attributes[semconv.MESSAGING_BATCH_MESSAGE_COUNT] == 5
    assert semconv.MESSAGING_MESSAGE_ID not in span.attributes
    handed_over = wire.decode(wire.encode_span(span, "req-1"))
    assert isinstance(handed_over, wire.SpanMessage)
    assert handed_over.span.links == span.links


def test_a_huge_batch_gives_at_most_the_link_limit_and_counts_the_rest(
    sink: CollectingSink,
) -> None:
    records = []
    for number in range(message_context.MAX_RECORDS + 5):
        record = event("sqs")["Records"][0]
        record["attributes"]["AWSTraceHeader"] = (
            f"Root=1-6560a1b2-{number + 1:024x};Parent={number + 1:016x};Sampled=1"
        )
        records.append(record)
    span = run_with(sink, SAMPLED, {"Records": records})
    assert len(span.links) == message_context.MAX_LINKS
    read = message_context.MAX_PARSED_VALUES  # one distinct header per message
    assert span.attributes[semconv.XRAYLAYER_LINKS_DROPPED] == read - message_context.MAX_LINKS
    assert span.attributes[semconv.XRAYLAYER_MESSAGES_UNREAD] == len(records) - read
    assert span.attributes[semconv.MESSAGING_BATCH_MESSAGE_COUNT] == len(records)
    document = subsegment_document(span)
    assert len(document["metadata"]["xraylayer"]["links"]) == message_context.MAX_LINKS
    assert len(xray_document.encode(document)) <= xray_document.MAX_DOCUMENT_BYTES


@pytest.mark.parametrize(
    ("header", "parent", "links"),
    [
        # Lambda did not sample: the caller's traceparent is the parent.
        (UNSAMPLED, ("6560a1bb0123456789abcdef01234567", "3c4d5e6f7a8b9c0d"), []),
        # Lambda sampled (API Gateway's trace continued): the caller's other trace is a link.
        (SAMPLED, (W3C, PARENT), [("6560a1bb0123456789abcdef01234567", "3c4d5e6f7a8b9c0d")]),
    ],
)
def test_an_http_callers_context_is_the_parent_only_when_lambda_did_not_sample(
    sink: CollectingSink, header: str, parent: tuple[str, str], links: list
) -> None:
    span = run_with(sink, header, event("api_gateway_rest_trace_headers"))
    assert (span.trace_id, span.parent_id) == parent
    assert span.links == links


def test_an_api_gateway_header_lambda_continues_adds_nothing(sink: CollectingSink) -> None:
    api = event("api_gateway_rest")
    api["headers"]["X-Amzn-Trace-Id"] = f"Root={ROOT};Parent=0a0b0c0d0e0f0a0b;Sampled=1"
    span = run_with(sink, SAMPLED, api)
    assert (span.trace_id, span.parent_id, span.links) == (W3C, PARENT, [])


def test_a_malformed_context_is_logged_once_at_debug_and_ignored(
    sink: CollectingSink, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XRAYLAYER_LOG_LEVEL", "debug")
    hostile = event("sqs")
    hostile["Records"][0]["attributes"]["AWSTraceHeader"] = "Root=1-" + "z" * 5000
    made = invocations(sink, UNSAMPLED)
    for _ in range(2):
        call(made, lambda event, ctx: None, hostile)
    spans = [span for span in sink.spans if span.kind == SERVER]
    assert [(s.trace_id, s.parent_id, s.links) for s in spans] == [(W3C, PARENT, [])] * 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("xraylayer: DEBUG ignored a malformed trace context")
    assert "SQS attribute AWSTraceHeader" in line and "zzz" not in line


def test_failing_to_read_the_event_leaves_the_span_as_lambdas_header_says(
    sink: CollectingSink, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(event: Any, trigger_type: str) -> None:
        raise RuntimeError("unexpected")

    monkeypatch.setattr(message_context, "read", broken)
    span = run_with(sink, SAMPLED, event("sqs_sns_envelope"))
    assert (span.trace_id, span.parent_id, span.links) == (W3C, PARENT, [])
    assert span.attributes[semconv.FAAS_TRIGGER_TYPE] == "sqs"
    (line,) = capsys.readouterr().err.splitlines()
    assert "reading the trace context of the event failed" in line


def paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value inside a JSON document (dict keys and list indexes)."""
    found = [prefix]
    if isinstance(value, (dict, list)):
        for key, child in value.items() if isinstance(value, dict) else enumerate(value):
            found.extend(paths(child, (*prefix, key)))
    return found


def replaced(document: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    node = document
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return document


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=12,
)
FIXTURES = sorted(path.stem for path in EVENTS.glob("*.json"))


@st.composite
def damaged_events(draw: st.DrawFn) -> Any:
    """A real-shaped event with a few of its values (any of them) swapped for anything."""
    document = event(draw(st.sampled_from(FIXTURES)))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(paths(document)))
        document = replaced(document, path, draw(json_values))
    return document


@hypothesis.settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    damaged_events(),
    st.sampled_from([None, "", SAMPLED, UNSAMPLED, f"Root={ROOT}", "Root=1-zz;Parent=zz"]),
    st.sampled_from(["auto", "link", "parent"]),
)
def test_any_event_starts_a_traced_invocation_and_never_raises(
    hostile: Any, header: str | None, mode: str
) -> None:
    config.reload({"XRAYLAYER_MESSAGE_CONTEXT": mode})
    sink = CollectingSink()
    made = invocations(sink, header)
    running = made.start(hostile, lambda_context())
    assert running is not None
    made.succeed(running, None)
    span = only_invocation(sink)
    assert len(span.links) <= message_context.MAX_LINKS
    subsegment_document(span)  # converts, whatever the event held
