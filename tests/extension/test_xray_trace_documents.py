"""Whole traces as X-Ray documents: an unsampled invocation is a segment with its spans under
it; everything else is the independent subsegment the daemon path sends."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from xraylayer import semconv as sc
from xraylayer import xray_document
from xraylayer.spans import CLIENT, INTERNAL, SERVER, Span
from xraylayer.trace_header import from_w3c_trace_id
from xraylayer_extension.xray_trace_documents import is_unsampled_invocation, trace_documents

TRACE_ID = "5759e988bd862e3fe1be46a994272793"
OTHER_TRACE_ID = "6759e988bd862e3fe1be46a994272794"
LAMBDA_PARENT = "53995c3f42cd8ad8"  # Lambda's Invocation subsegment (sent only when sampled)
ARN = "arn:aws:lambda:eu-west-1:123456789012:function:orders"


def invocation(*, sampled: bool, trace_id: str = TRACE_ID, **attributes: Any) -> Span:
    span = Span(
        "orders",
        trace_id,
        LAMBDA_PARENT,
        kind=SERVER,
        sampled=sampled,
        attributes={sc.FAAS_INVOCATION_ID: "req-1", sc.CLOUD_RESOURCE_ID: ARN, **attributes},
        start_time=1000.0,
    )
    span.end(1002.0)
    return span


def child(parent: Span, name: str = "work", *, kind: str = INTERNAL, **attributes: Any) -> Span:
    span = Span(
        name,
        parent.trace_id,
        parent.span_id,
        kind=kind,
        sampled=parent.sampled,
        attributes=attributes,
        start_time=1000.5,
    )
    span.end(1001.5)
    return span


def raised(message: str) -> ValueError:
    try:
        raise ValueError(message)
    except ValueError as caught:
        return caught


def convert(spans: list[Span]) -> list[dict]:
    errors: list[tuple[Span, Exception]] = []
    documents = trace_documents(spans, lambda span, error: errors.append((span, error)))
    assert errors == []
    return documents


# --- unsampled invocations ---------------------------------------------------------------------


def test_an_unsampled_invocation_is_a_segment_with_its_spans_under_it() -> None:
    root = invocation(sampled=False)
    dynamodb = child(root, "DynamoDB", kind=CLIENT, **{sc.RPC_SYSTEM: "aws-api"})
    nested = child(dynamodb, "retry")
    segment, *subsegments = reversed(convert([nested, dynamodb, root]))

    assert segment["id"] == root.span_id
    assert segment["trace_id"] == from_w3c_trace_id(TRACE_ID)
    assert segment["origin"] == xray_document.ORIGIN_FUNCTION
    assert "parent_id" not in segment  # Lambda's Invocation subsegment was never sent
    assert "type" not in segment
    assert segment["aws"]["function_arn"] == ARN
    assert segment["aws"]["xray"] == xray_document.SDK_INFO
    assert [(d["type"], d["id"], d["parent_id"]) for d in subsegments] == [
        ("subsegment", dynamodb.span_id, root.span_id),
        ("subsegment", nested.span_id, dynamodb.span_id),
    ]
    assert subsegments[0]["namespace"] == "aws"


def test_an_exception_that_propagated_to_the_segment_is_referenced_by_id() -> None:
    root = invocation(sampled=False)
    failing = child(root, "call")
    error = raised("boom")
    failing.record_exception(error)
    root.record_exception(error)
    subsegment, segment = convert([failing, root])
    (recorded,) = subsegment["cause"]["exceptions"]
    assert recorded["message"] == "boom"
    assert segment["cause"] == recorded["id"]
    assert segment["fault"] is True


def test_the_segment_is_the_same_document_the_layer_makes_for_it() -> None:
    root = invocation(sampled=False)
    (segment,) = convert([root])
    assert segment == xray_document.segment_document(root)


def test_spans_whose_parent_is_not_in_the_batch_are_independent_subsegments() -> None:
    root = invocation(sampled=False)
    earlier = child(root, "sent-before")  # its parent comes in a later batch, or never
    (document,) = convert([earlier])
    assert document == xray_document.subsegment_document(earlier)
    assert document["parent_id"] == root.span_id


def test_a_server_span_under_another_span_of_the_batch_stays_a_subsegment() -> None:
    root = invocation(sampled=False)
    inner = child(root, "inner-server", kind=SERVER, **{sc.FAAS_INVOCATION_ID: "req-1"})
    inner_document, root_document = convert([inner, root])
    assert inner_document["type"] == "subsegment"
    assert inner_document["parent_id"] == root.span_id
    assert root_document["origin"] == xray_document.ORIGIN_FUNCTION


def test_what_makes_an_invocation_span() -> None:
    assert is_unsampled_invocation(invocation(sampled=False))
    assert not is_unsampled_invocation(invocation(sampled=True))
    assert not is_unsampled_invocation(invocation(sampled=False, **{sc.FAAS_INVOCATION_ID: ""}))
    assert not is_unsampled_invocation(invocation(sampled=False, **{sc.FAAS_INVOCATION_ID: 7}))
    no_id = invocation(sampled=False)
    del no_id.attributes[sc.FAAS_INVOCATION_ID]
    assert not is_unsampled_invocation(no_id)
    internal = invocation(sampled=False)
    internal.kind = INTERNAL
    assert not is_unsampled_invocation(internal)
    odd = invocation(sampled=False)
    odd.attributes = None  # type: ignore[assignment]
    assert not is_unsampled_invocation(odd)
    root = invocation(sampled=False)
    assert not is_unsampled_invocation(root, {(TRACE_ID, LAMBDA_PARENT)})
    assert is_unsampled_invocation(root, {(OTHER_TRACE_ID, LAMBDA_PARENT)})


# --- sampled invocations -----------------------------------------------------------------------


def test_a_sampled_invocation_joins_lambdas_segment_as_on_the_daemon_path() -> None:
    root = invocation(sampled=True)
    work = child(root)
    documents = convert([work, root])
    assert documents == xray_document.subsegment_documents([work, root], lambda *_: None)
    assert documents[1]["parent_id"] == LAMBDA_PARENT
    assert all(d["type"] == "subsegment" for d in documents)


def test_sampled_and_unsampled_traces_in_one_batch_keep_their_order() -> None:
    sampled = invocation(sampled=True)
    unsampled = invocation(sampled=False, trace_id=OTHER_TRACE_ID)
    spans = [child(sampled), child(unsampled), sampled, unsampled]
    documents = convert(spans)
    assert [d["id"] for d in documents] == [s.span_id for s in spans]
    assert ["origin" in d for d in documents] == [False, False, False, True]


# --- failures ----------------------------------------------------------------------------------


class Exploding(dict):
    """Attributes whose every read fails: a span the converter cannot read."""

    def get(self, *args: Any) -> Any:
        raise RuntimeError("unreadable")


def test_a_span_that_cannot_be_converted_is_reported_and_the_rest_still_are() -> None:
    root = invocation(sampled=False)
    broken = child(root, "broken")
    broken.attributes = Exploding()
    errors: list[tuple[Span, Exception]] = []
    documents = trace_documents([broken, root], lambda span, error: errors.append((span, error)))
    assert [d["id"] for d in documents] == [root.span_id]
    assert [(span, str(error)) for span, error in errors] == [(broken, "unreadable")]


def test_an_empty_batch_has_no_documents() -> None:
    assert convert([]) == []


# --- any batch ---------------------------------------------------------------------------------


@st.composite
def batches(draw: st.DrawFn) -> list[Span]:
    """Spans of a few traces: each a tree under an invocation span (sampled or not), with
    SERVER spans and invocation ids sprinkled inside, in any order, some spans missing."""
    spans: list[Span] = []
    for trace_number in range(draw(st.integers(1, 3))):
        trace_id = f"{trace_number + 1:08x}" + "a" * 24
        root = invocation(sampled=draw(st.booleans()), trace_id=trace_id)
        tree = [root]
        for _ in range(draw(st.integers(0, 6))):
            parent = draw(st.sampled_from(tree))
            attributes = {sc.FAAS_INVOCATION_ID: "req"} if draw(st.booleans()) else {}
            tree.append(child(parent, kind=draw(st.sampled_from([SERVER, INTERNAL])), **attributes))
        spans.extend(span for span in tree if draw(st.booleans()) or span is root)
    return draw(st.permutations(spans))


@settings(max_examples=200, deadline=None)
@given(batches())
def test_every_span_is_one_document_and_only_unsampled_roots_are_segments(
    spans: list[Span],
) -> None:
    documents = convert(spans)
    assert [d["id"] for d in documents] == [s.span_id for s in spans]
    in_batch = {(s.trace_id, s.span_id) for s in spans}
    for span, document in zip(spans, documents, strict=True):
        root = (
            not span.sampled
            and span.kind == SERVER
            and span.attributes.get(sc.FAAS_INVOCATION_ID)
            and (span.trace_id, span.parent_id) not in in_batch
        )
        if root:
            assert document["origin"] == xray_document.ORIGIN_FUNCTION
            assert "parent_id" not in document and "type" not in document
        else:
            assert document["type"] == "subsegment"
            assert document["parent_id"] == span.parent_id
        assert len(xray_document.encode(document)) <= xray_document.MAX_DOCUMENT_BYTES


def test_a_parentless_span_of_an_unsampled_trace_is_a_segment() -> None:
    """The extension's own Init span of a failed init no invocation followed."""
    init = Span("Init", "5759e988bd862e3fe1be46a994272793", sampled=False)
    init.end()
    (document,) = trace_documents([init], lambda span, error: None)
    assert document["origin"] == "AWS::Lambda::Function" and "parent_id" not in document


def test_an_invocation_parented_by_its_message_keeps_that_parent_as_a_segment() -> None:
    invocation = Span(
        "consumer",
        "5759e988bd862e3fe1be46a994272793",
        "53995c3f42cd8ad8",
        kind=SERVER,
        sampled=False,
    )
    invocation.attributes[sc.FAAS_INVOCATION_ID] = "rid-1"
    invocation.attributes[sc.XRAYLAYER_PARENT_SOURCE] = "SQS AWSTraceHeader"
    invocation.end()
    (document,) = trace_documents([invocation], lambda span, error: None)
    assert (document["origin"], document["parent_id"]) == (
        "AWS::Lambda::Function",
        "53995c3f42cd8ad8",
    )
