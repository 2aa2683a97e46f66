"""Spans made with the OpenTelemetry API land in the layer's trace, correctly nested both ways,
through the real opentelemetry-api and opentelemetry-sdk; a provider of the user's own is left
alone."""

from __future__ import annotations

import traceback
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util._once import Once
from span_sink import CollectingSink
from xraylayer import context, otel_bridge, xray_document
from xraylayer import handoff as handoff_module
from xraylayer.api import annotate, capture
from xraylayer.handoff import Handoff
from xraylayer.spans import SERVER, Span
from xraylayer.tracer import TRACER

TRACE_ID = "5759e988bd862e3fe1be46a994272793"
LAMBDA_PARENT = "53995c3f42cd8ad8"


@pytest.fixture
def handoff(monkeypatch: pytest.MonkeyPatch) -> Handoff:
    """The process's HANDOFF, replaced by one that talks to no real intake."""
    fresh = Handoff("/tmp/xraylayer-test-no-intake.sock", environ={})
    monkeypatch.setattr(handoff_module, "_instance", {"HANDOFF": fresh})
    return fresh


@pytest.fixture
def otel(collected: CollectingSink, handoff: Handoff) -> Iterator[None]:
    """OpenTelemetry's globals and the bridge as a fresh process has them, restored after."""
    saved = (trace.get_current_span, trace.use_span)
    trace._TRACER_PROVIDER = None
    trace._TRACER_PROVIDER_SET_ONCE = Once()
    otel_bridge._BRIDGE.__init__()
    yield
    trace.get_current_span, trace.use_span = saved
    trace._TRACER_PROVIDER = None
    trace._TRACER_PROVIDER_SET_ONCE = Once()
    otel_bridge._BRIDGE.__init__()


def invocation_span(sampled: bool = True) -> Span:
    return Span("my-function", TRACE_ID, LAMBDA_PARENT, kind=SERVER, sampled=sampled)


@pytest.fixture
def invocation(otel: None) -> Iterator[Span]:
    """The bridge installed, and an invocation span current."""
    otel_bridge.patch(trace)
    span = invocation_span()
    token = context.activate(span)
    assert otel_bridge.install()
    yield span
    context.deactivate(token)


# --- installing ----------------------------------------------------------------------------------


def test_patched_at_init_the_provider_waits_for_the_first_invocation(otel, collected, handoff):
    otel_bridge.patch(trace)
    tracer = trace.get_tracer("user.module")  # taken at import time, as user code does
    with tracer.start_as_current_span("during init"):
        pass
    assert collected.spans == []  # init spans are no-ops, as with the X-Ray SDK
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)

    invocation = invocation_span()
    handoff.invocation_started(invocation)  # runs the install scheduled by patch
    token = context.activate(invocation)
    try:
        with tracer.start_as_current_span("in handler"):
            pass
    finally:
        context.deactivate(token)
    assert isinstance(trace.get_tracer_provider(), TracerProvider)
    span = collected.one("in handler")
    assert (span.trace_id, span.parent_id, span.sampled) == (TRACE_ID, invocation.span_id, True)


def test_patched_inside_an_invocation_installs_at_once(otel, collected):
    invocation = invocation_span()
    token = context.activate(invocation)
    try:
        otel_bridge.patch(trace)
        with trace.get_tracer("lazy").start_as_current_span("lazy import"):
            pass
    finally:
        context.deactivate(token)
    assert collected.one("lazy import").parent_id == invocation.span_id


def test_a_provider_of_the_users_own_is_respected(otel, collected, monkeypatch, capsys):
    monkeypatch.setenv("XRAYLAYER_LOG_LEVEL", "info")
    theirs = TracerProvider()
    trace.set_tracer_provider(theirs)
    otel_bridge.patch(trace)
    assert otel_bridge.install() is False
    assert otel_bridge.install() is False
    assert trace.get_tracer_provider() is theirs
    invocation = invocation_span()
    token = context.activate(invocation)
    try:
        assert not trace.get_current_span().get_span_context().is_valid  # we stay out
        with trace.get_tracer("user").start_as_current_span("theirs") as span:
            assert span.get_span_context().trace_id != int(TRACE_ID, 16)
    finally:
        context.deactivate(token)
    assert collected.spans == []
    assert capsys.readouterr().err.count("TracerProvider is already set") == 1


def test_patch_twice_is_harmless(invocation, collected):
    wrapped = trace.get_current_span
    otel_bridge.patch(trace)
    assert trace.get_current_span is wrapped
    with trace.get_tracer("t").start_as_current_span("once"):
        pass
    assert len(collected.spans) == 1


# --- nesting -------------------------------------------------------------------------------------


def test_otel_and_layer_spans_nest_both_ways(invocation, collected):
    tracer = trace.get_tracer("user")
    with tracer.start_as_current_span("outer"):
        # TRACER.span is what the botocore patch does around an AWS call.
        with TRACER.span("DynamoDB"), tracer.start_as_current_span("inner"):
            pass
        with capture("captured"), tracer.start_as_current_span("under capture"):
            pass
    outer, dynamodb = collected.one("outer"), collected.one("DynamoDB")
    inner, captured = collected.one("inner"), collected.one("captured")
    assert outer.parent_id == invocation.span_id
    assert dynamodb.parent_id == outer.span_id
    assert inner.parent_id == dynamodb.span_id
    assert captured.parent_id == outer.span_id
    assert collected.one("under capture").parent_id == captured.span_id
    assert {s.trace_id for s in collected.spans} == {TRACE_ID}
    assert context.current_span() is invocation


def test_use_span_and_plain_start_span(invocation, collected):
    tracer = trace.get_tracer("user")
    parent = tracer.start_span("manual")
    with trace.use_span(parent, end_on_exit=True), TRACER.span("child"):
        pass
    assert collected.one("manual").parent_id == invocation.span_id
    assert collected.one("child").parent_id == collected.one("manual").span_id


def test_an_explicit_context_is_respected(invocation, collected):
    remote = trace.NonRecordingSpan(
        trace.SpanContext(
            trace_id=0xABC, span_id=0xDEF, is_remote=True, trace_flags=trace.TraceFlags(1)
        )
    )
    explicit = trace.set_span_in_context(remote)
    assert trace.get_current_span(explicit) is remote
    with trace.get_tracer("user").start_as_current_span("linked elsewhere", context=explicit):
        pass
    span = collected.one("linked elsewhere")
    assert (span.trace_id, span.parent_id) == (f"{0xABC:032x}", f"{0xDEF:016x}")


def test_otel_propagators_inject_the_layers_current_span(invocation):
    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier)
    assert carrier["traceparent"] == f"00-{TRACE_ID}-{invocation.span_id}-01"
    with trace.get_tracer("user").start_as_current_span("otel") as span:
        TraceContextTextMapPropagator().inject(carrier)
        span_id = f"{span.get_span_context().span_id:016x}"
    assert carrier["traceparent"] == f"00-{TRACE_ID}-{span_id}-01"


def test_the_current_otel_span_is_the_real_one_inside_start_as_current_span(invocation):
    with trace.get_tracer("user").start_as_current_span("real") as span:
        assert trace.get_current_span() is span
        span.set_attribute("set.by.user", 1)


# --- what arrives --------------------------------------------------------------------------------


def test_a_converted_span_keeps_what_the_otel_span_had(invocation, collected):
    tracer = trace.get_tracer("user.lib", "1.0")
    other = trace.SpanContext(0x1234, 0x5678, is_remote=True)
    with tracer.start_as_current_span(
        "publish",
        kind=trace.SpanKind.PRODUCER,
        attributes={"messaging.system": "custom", "tags": ("a", "b")},
        links=[trace.Link(other)],
    ) as span:
        span.add_event("retry", {"attempt": 2})
        annotate("order_id", "o-1")
    published = collected.one("publish")
    assert published.kind == "producer"
    assert published.attributes == {
        "messaging.system": "custom",
        "tags": ["a", "b"],
        "otel.scope.name": "user.lib",
    }
    assert published.links == [(f"{0x1234:032x}", f"{0x5678:016x}")]
    (event,) = published.metadata["otel"]["events"]
    assert event["name"] == "retry" and event["attributes"] == {"attempt": 2}
    assert published.annotations == {"order_id": "o-1"}
    assert published.end_time >= published.start_time > 1e9
    document = xray_document.subsegment_document(published)
    assert document["namespace"] == "remote"
    assert document["annotations"] == {"order_id": "o-1"}


def test_an_exception_becomes_a_fault_with_its_stack(invocation, collected):
    def failing() -> None:
        raise ValueError("bad payload")

    with pytest.raises(ValueError), trace.get_tracer("user").start_as_current_span("work"):
        failing()
    span = collected.one("work")
    assert span.fault and not span.error
    (record,) = span.exceptions
    assert (record["type"], record["message"], record["remote"]) == (
        "ValueError",
        "bad payload",
        False,
    )
    assert record["stack"][0]["label"] == "failing"
    assert record["stack"][0]["path"].endswith("test_otel_bridge.py")
    assert span.status_message == "ValueError: bad payload"


@pytest.mark.parametrize(
    ("status", "flags"), [(404, (True, False, False)), (429, (True, True, False))]
)
def test_an_http_status_decides_error_or_throttle(invocation, collected, status, flags):
    tracer = trace.get_tracer("user")
    with tracer.start_as_current_span(
        "call", attributes={"http.response.status_code": status}
    ) as s:
        s.set_status(trace.Status(trace.StatusCode.ERROR))
    span = collected.one("call")
    assert (span.error, span.throttle, span.fault) == flags


def test_sampling_follows_the_invocation(otel, collected):
    otel_bridge.patch(trace)
    otel_bridge.install()
    tracer = trace.get_tracer("user")
    for sampled in (False, True):
        invocation = invocation_span(sampled=sampled)
        token = context.activate(invocation)
        try:
            with (
                tracer.start_as_current_span(f"sampled={sampled}"),
                tracer.start_as_current_span(f"child {sampled}"),
            ):
                pass
        finally:
            context.deactivate(token)
        assert collected.one(f"sampled={sampled}").sampled is sampled
        assert collected.one(f"child {sampled}").sampled is sampled
    with tracer.start_as_current_span("no invocation"):
        pass
    root = collected.one("no invocation")
    assert root.sampled is False and root.parent_id is None


def test_a_broken_conversion_is_logged_not_raised(invocation, collected, monkeypatch, capsys):
    def broken(*args: object) -> Span:
        raise RuntimeError("converter bug")

    monkeypatch.setattr(otel_bridge, "to_layer_span", broken)
    with trace.get_tracer("user").start_as_current_span("lost"):
        pass
    assert collected.spans == []
    assert "xraylayer: ERROR converting an OpenTelemetry span failed" in capsys.readouterr().err


# --- stack traces --------------------------------------------------------------------------------


def test_stack_frames_of_a_chained_traceback_are_those_of_the_last_exception():
    def inner() -> None:
        raise KeyError("k")

    def outer() -> None:
        try:
            inner()
        except KeyError as error:
            raise RuntimeError("wrapped") from error

    try:
        outer()
    except RuntimeError:
        text = traceback.format_exc()
    frames = otel_bridge.stack_frames(text)
    assert [f["label"] for f in frames] == [
        "outer",
        "test_stack_frames_of_a_chained_traceback_are_those_of_the_last_exception",
    ]
    assert all(f["path"].endswith("test_otel_bridge.py") and f["line"] > 0 for f in frames)


@given(st.text())
def test_stack_frames_never_raise(text):
    for frame in otel_bridge.stack_frames(text):
        assert set(frame) == {"path", "line", "label"}
