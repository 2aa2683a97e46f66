"""The service map: nodes, edges with counts, rates and latency, callers through links."""

from __future__ import annotations

import pytest
from views_fixtures import T0, TRACE_A, call, invocation_span, orders_demo, subsegment
from xraylayer_local.views.invocations import find_invocations
from xraylayer_local.views.model import Flags, join
from xraylayer_local.views.service_map import (
    AWS,
    CLIENT_NODE,
    FUNCTION,
    REMOTE,
    Edge,
    NodeKey,
    Sample,
    ServiceMap,
    Stats,
    layout_columns,
    service_map,
)

ORDERS, RECEIPTS = NodeKey(FUNCTION, "orders"), NodeKey(FUNCTION, "receipts")
DYNAMODB, SNS, S3 = NodeKey(AWS, "DynamoDB"), NodeKey(AWS, "SNS"), NodeKey(AWS, "S3")
PAYMENTS = NodeKey(REMOTE, "payments.local")


def _map(documents: list[dict]) -> ServiceMap:
    traces = join(documents)
    return service_map(traces, find_invocations(traces))


def _edges(graph: ServiceMap) -> dict[tuple[str, str], Edge]:
    return {(e.source.name, e.target.name): e for e in graph.edges}


@pytest.fixture(scope="module")
def demo() -> ServiceMap:
    return _map(orders_demo())


def test_nodes_are_the_client_the_functions_and_what_they_call(demo):
    assert {n.key for n in demo.nodes} == {
        CLIENT_NODE,
        ORDERS,
        RECEIPTS,
        DYNAMODB,
        SNS,
        S3,
        PAYMENTS,
    }


def test_edges_count_requests(demo):
    counts = {pair: edge.stats.count for pair, edge in _edges(demo).items()}
    assert counts == {
        ("Client", "orders"): 3,
        ("orders", "DynamoDB"): 3,
        ("orders", "payments.local"): 3,
        ("orders", "SNS"): 1,
        ("SNS", "receipts"): 1,
        ("receipts", "S3"): 1,
    }


def test_a_consumer_an_sqs_queue_triggered_is_drawn_behind_the_queue():
    documents = orders_demo()
    (receipts,) = [d for d in documents if d.get("name") == "receipts" and "metadata" in d]
    receipts["metadata"]["otel"]["xraylayer.trigger_type"] = "sqs"
    counts = {pair: edge.stats.count for pair, edge in _edges(_map(documents)).items()}
    assert (counts[("SNS", "SQS")], counts[("SQS", "receipts")]) == (1, 1)
    assert ("SNS", "receipts") not in counts


def test_edges_carry_failure_rates_and_average_latency(demo):
    edges = _edges(demo)
    payments = edges[("orders", "payments.local")].stats
    assert (payments.faults, payments.errors, payments.rate("faults")) == (
        1,
        0,
        pytest.approx(1 / 3),
    )
    assert payments.average_ms == pytest.approx(10.0, abs=0.01)
    dynamodb = edges[("orders", "DynamoDB")].stats
    assert (dynamodb.errors, dynamodb.throttles, dynamodb.severity) == (1, 1, "throttle")
    client = edges[("Client", "orders")].stats
    # What the client waited: 400 ms init + 30 ms, then 30 ms twice.
    assert client.average_ms == pytest.approx((430 + 30 + 30) / 3, abs=0.01)
    assert (client.faults, client.throttles) == (1, 1)


def test_function_nodes_count_invocations_and_cold_starts(demo):
    orders = demo.node(ORDERS)
    assert (orders.stats.count, orders.cold) == (3, 1)
    assert orders.stats.average_ms == pytest.approx(
        30.0, abs=0.01
    )  # their own duration, without init
    assert demo.node(SNS).stats.count == 1
    assert demo.node(CLIENT_NODE).stats.count == 3


def test_columns_run_from_the_client_to_the_furthest_callee(demo):
    assert demo.columns == (
        (CLIENT_NODE,),
        (ORDERS,),
        (DYNAMODB, SNS, PAYMENTS),
        (RECEIPTS,),
        (S3,),
    )


def test_a_consumer_without_a_known_sender_is_called_by_the_client():
    span = invocation_span(
        "s1",
        "0123456789abcdef",
        T0,
        T0 + 0.02,
        trace_id=TRACE_A,
        function="receipts",
        request_id="r",
        cold=False,
        links=[{"trace_id": TRACE_A, "id": "not-received"}],
    )
    graph = _map([span])
    assert set(_edges(graph)) == {("Client", "receipts")}


def test_a_call_inside_a_call_counts_once_and_calls_without_invocation_are_counted():
    span = invocation_span(
        "s1", None, T0, T0 + 0.1, trace_id=TRACE_A, function="f", request_id="r", cold=False
    )
    outer = call(
        "c1", "s1", "api.example.com", T0 + 0.01, T0 + 0.05, trace_id=TRACE_A, namespace="remote"
    )
    inner = call(
        "c2", "c1", "api.example.com", T0 + 0.02, T0 + 0.04, trace_id=TRACE_A, namespace="remote"
    )
    stray = call("c3", "gone", "S3", T0 + 0.02, T0 + 0.04, trace_id=TRACE_A)
    graph = _map([span, outer, inner, stray])
    assert _edges(graph)[("f", "api.example.com")].stats.count == 1
    assert graph.unattributed == 1


def test_a_function_calling_a_function_directly():
    caller = invocation_span(
        "s1", None, T0, T0 + 0.1, trace_id=TRACE_A, function="front", request_id="r1", cold=False
    )
    step = subsegment("w1", "s1", "work", T0 + 0.01, T0 + 0.09, trace_id=TRACE_A)
    callee = invocation_span(
        "s2",
        "w1",
        T0 + 0.02,
        T0 + 0.05,
        trace_id=TRACE_A,
        function="back",
        request_id="r2",
        cold=False,
    )
    graph = _map([caller, step, callee])
    assert ("front", "back") in _edges(graph)


def test_a_cycle_still_gets_columns():
    a, b = NodeKey(FUNCTION, "a"), NodeKey(FUNCTION, "b")
    stats = Stats.of([Sample(1.0, Flags())])
    columns = layout_columns([a, b], (Edge(a, b, stats), Edge(b, a, stats)))
    assert sorted(k for column in columns for k in column) == [a, b]


def test_stats_of_nothing_and_untimed_requests():
    assert Stats.of([]).average_ms is None and Stats.of([]).rate("faults") == 0.0
    stats = Stats.of([Sample(None, Flags(fault=True)), Sample(4.0, Flags())])
    assert (stats.count, stats.timed, stats.average_ms, stats.severity) == (2, 1, 4.0, "fault")


def test_no_documents_no_map():
    graph = _map([])
    assert graph.nodes == () and graph.edges == () and graph.columns == ()
