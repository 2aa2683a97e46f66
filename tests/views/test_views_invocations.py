"""Each invocation found once, whichever of Lambda's segments and the layer's span arrived."""

from __future__ import annotations

import pytest
from views_fixtures import T0, invocation_span, lambda_documents, orders_demo, subsegment
from xraylayer_local.lambda_segments import LambdaTraceIds
from xraylayer_local.views.invocations import find_invocations, owner, owners
from xraylayer_local.views.model import Flags, join

ROOT = "1-5759e988-bd862e3fe1be46a994272793"
OTHER = "1-5759e989-000000000000000000000001"


def _invocations(documents: list[dict]):
    return find_invocations(join(documents))


def _span(parent: str | None, start: float, end: float, **fields: object) -> dict:
    """The layer's invocation span ``s1`` of function ``f`` (request ``r``), warm unless told."""
    fields = {"trace_id": ROOT, "function": "f", "request_id": "r", "cold": False, **fields}
    return invocation_span("s1", parent, start, end, **fields)


def test_lambdas_two_segments_and_the_layers_span_are_one_invocation():
    ids = LambdaTraceIds.new()
    documents = [
        *lambda_documents(
            ROOT, ids, function="orders", request_id="r1", start=T0, duration=0.05, init=0.3
        ),
        _span(
            ids.invocation,
            T0 + 0.301,
            T0 + 0.345,
            function="orders",
            request_id="r1",
            cold=True,
            init_ms=290.0,
        ),
    ]
    [invocation] = _invocations(documents)
    assert (invocation.function, invocation.request_id, invocation.trace_id) == (
        "orders",
        "r1",
        ROOT,
    )
    assert invocation.cold
    assert invocation.duration_ms == pytest.approx(50.0, abs=0.01)  # Lambda's Invocation phase
    assert invocation.init_ms == pytest.approx(300.0, abs=0.01)  # Lambda's Initialization phase
    assert invocation.response_ms == pytest.approx(350.0, abs=0.01)
    assert invocation.start == T0
    assert invocation.span is not None and invocation.service is not None


def test_the_layers_span_alone_from_the_file_exporter():
    span = _span(
        "0123456789abcdef",
        T0,
        T0 + 0.02,
        function="orders",
        request_id="r1",
        cold=True,
        init_ms=250.0,
    )
    [invocation] = _invocations([span])
    assert invocation.duration_ms == pytest.approx(20.0, abs=0.01)
    assert invocation.init_ms == 250.0
    assert invocation.response_ms == pytest.approx(270.0, abs=0.01)
    assert invocation.service is None and invocation.function_segment is None


def test_a_cold_span_without_a_measured_init_takes_its_init_span():
    span = _span(None, T0 + 0.5, T0 + 0.52, cold=True)
    init = subsegment("i1", "s1", "Init", T0, T0 + 0.4, trace_id=ROOT)
    [invocation] = _invocations([span, init])
    assert invocation.init_ms == pytest.approx(400.0, abs=0.01)


def test_a_warm_invocation_adds_no_init():
    span = _span(
        None,
        T0,
        T0 + 0.02,
        init_ms=999.0,
    )
    [invocation] = _invocations([span])
    assert not invocation.cold and invocation.init_ms is None
    assert invocation.response_ms == pytest.approx(20.0, abs=0.01)


def test_an_unsampled_invocation_the_layer_wrote_as_a_segment():
    segment = _span(
        None,
        T0,
        T0 + 0.02,
        origin="AWS::Lambda::Function",
    )
    segment.pop("type")
    [invocation] = _invocations([segment])
    assert invocation.span is not None and invocation.function_segment is None


def test_a_consumer_span_in_its_producers_trace_joins_lambdas_segments_by_request_id():
    ids = LambdaTraceIds.new()
    documents = [
        *lambda_documents(ROOT, ids, function="consumer", request_id="r9", start=T0, duration=0.03),
        invocation_span(
            "s9",
            "feedfacefeedface",
            T0 + 0.001,
            T0 + 0.02,
            trace_id=OTHER,
            function="consumer",
            request_id="r9",
            cold=False,
        ),
    ]
    [invocation] = _invocations(documents)
    assert invocation.trace_id == OTHER  # where its work is
    assert invocation.service is not None


def test_without_request_ids_the_span_under_lambdas_invocation_belongs_to_it():
    ids = LambdaTraceIds.new()
    documents = lambda_documents(ROOT, ids, function="f", request_id="", start=T0, duration=0.03)
    documents.append(
        subsegment(
            "s1",
            ids.invocation,
            "f",
            T0,
            T0 + 0.02,
            trace_id=ROOT,
            annotations={"ColdStart": False},
        )
    )
    [invocation] = _invocations(documents)
    assert invocation.span is not None and invocation.function_segment is not None


def test_flags_of_every_writer_add_up():
    ids = LambdaTraceIds.new()
    documents = [
        *lambda_documents(
            ROOT,
            ids,
            function="f",
            request_id="r",
            start=T0,
            duration=0.03,
            status="error",
            error_type="Runtime.Unhandled",
        ),
        _span(
            ids.invocation,
            T0,
            T0 + 0.02,
            error=True,
        ),
    ]
    [invocation] = _invocations(documents)
    assert invocation.flags == Flags(error=True, fault=True)


def test_the_demo_has_four_invocations_in_start_order_and_owners_of_their_calls():
    traces = join(orders_demo())
    invocations = find_invocations(traces)
    assert [(i.function, i.request_id, i.cold) for i in invocations] == [
        ("orders", "orders-1", True),
        ("orders", "orders-2", False),
        ("orders", "orders-3", False),
        ("receipts", "receipts-1", True),
    ]
    by_member = owners(invocations)
    dynamodb = next(t for t in traces).nodes["b000000000000001"]
    assert owner(dynamodb, by_member) is invocations[0]
