"""Documents joined into traces: embedded and independent pieces, duplicates, orphans, kinds."""

from __future__ import annotations

from views_fixtures import T0, lambda_documents, subsegment
from xraylayer_local.lambda_segments import LambdaTraceIds
from xraylayer_local.views.model import (
    Flags,
    flattened,
    index,
    is_cold_start,
    is_downstream,
    is_function_segment,
    is_invocation_span,
    is_service_segment,
    join,
)

ROOT = "1-5759e988-bd862e3fe1be46a994272793"


def _names(trace) -> list[tuple[int, str]]:
    return [(visit.depth, visit.node.name) for visit in trace.walk()]


def test_independent_subsegments_join_lambdas_embedded_ones_in_any_order():
    ids = LambdaTraceIds.new()
    child = subsegment("a2", "a1", "DynamoDB", T0 + 0.52, T0 + 0.53, trace_id=ROOT)
    handler = subsegment("a1", ids.invocation, "handler", T0 + 0.51, T0 + 0.6, trace_id=ROOT)
    documents = lambda_documents(ROOT, ids, function="f", request_id="r", start=T0, duration=0.2)
    [trace] = join([child, handler, *documents])
    assert _names(trace) == [
        (0, "f"),
        (1, "f"),
        (2, "Invocation"),
        (3, "handler"),
        (4, "DynamoDB"),
        (2, "Overhead"),
    ]
    assert trace.nodes["a2"].parent is trace.nodes["a1"]


def test_branches_say_which_node_is_the_last_of_its_siblings():
    documents = [
        {"id": "r", "trace_id": ROOT, "name": "root", "start_time": T0, "end_time": T0 + 1},
        subsegment("x", "r", "first", T0 + 0.1, T0 + 0.2, trace_id=ROOT),
        subsegment("y", "r", "second", T0 + 0.3, T0 + 0.4, trace_id=ROOT),
    ]
    [trace] = join(documents)
    assert [visit.branches for visit in trace.walk()] == [(), (False,), (True,)]


def test_a_complete_document_wins_over_an_in_progress_one_whatever_the_order():
    open_ = subsegment("w", None, "work", T0, None, trace_id=ROOT)
    done = subsegment("w", None, "work", T0, T0 + 0.05, trace_id=ROOT)
    for order in ([open_, done], [done, open_]):
        [trace] = join(order)
        assert not trace.nodes["w"].in_progress
        assert round(trace.nodes["w"].duration_ms, 3) == 50.0


def test_orphans_and_cycles_are_tops_with_a_note():
    documents = [
        subsegment("o", "feedfacefeedface", "lost", T0, T0 + 1, trace_id=ROOT),
        subsegment("p", "q", "p", T0 + 2, T0 + 3, trace_id=ROOT),
        subsegment("q", "p", "q", T0 + 2, T0 + 3, trace_id=ROOT),
    ]
    [trace] = join(documents)
    notes = {visit.node.name: visit.note for visit in trace.walk()}
    assert notes["lost"] == "(parent feedfacefeedface not received)"
    assert "in a cycle" in (notes["p"] or "")
    assert len(trace.walk()) == 3


def test_traces_are_apart_and_ordered_by_start_then_id():
    later = subsegment("b", None, "later", T0 + 5, T0 + 6, trace_id="1-00000002-x")
    earlier = subsegment("a", None, "earlier", T0, T0 + 1, trace_id="1-00000001-x")
    assert [t.trace_id for t in join([later, earlier])] == ["1-00000001-x", "1-00000002-x"]


def test_malformed_documents_read_as_missing_fields():
    documents = [
        "not a document",
        {"name": "no ids"},
        {"id": "1", "trace_id": ROOT, "start_time": "soon", "end_time": None, "error": "yes"},
        {"id": "2", "trace_id": ROOT, "subsegments": "nope", "annotations": [1], "cause": 3},
    ]
    traces = join(documents)
    node = next(t for t in traces if t.trace_id == ROOT).nodes["1"]
    assert (node.start, node.duration_ms, node.flags, node.name) == (
        None,
        None,
        Flags(),
        "(no name)",
    )
    other = next(t for t in traces if t.trace_id == ROOT).nodes["2"]
    assert other.annotations == {} and other.exception_type is None and other.links == []


def test_flags_words_and_severity():
    assert Flags(error=True, throttle=True).words() == ["ERROR", "THROTTLE"]
    assert Flags(error=True, throttle=True).severity == "throttle"
    assert Flags(error=True, fault=True).severity == "fault"
    assert Flags().severity is None
    assert Flags(error=True) | Flags(fault=True) == Flags(error=True, fault=True)


def test_what_a_node_is():
    ids = LambdaTraceIds.new()
    documents = lambda_documents(
        ROOT, ids, function="f", request_id="r", start=T0, duration=0.1, init=0.3
    )
    span = subsegment(
        "s",
        ids.invocation,
        "f",
        T0 + 0.31,
        T0 + 0.39,
        trace_id=ROOT,
        metadata={"otel": {"faas.invocation_id": "r"}},
    )
    init = subsegment("i", "s", "Init", T0, T0 + 0.3, trace_id=ROOT)
    call = subsegment("c", "s", "S3", T0 + 0.32, T0 + 0.33, trace_id=ROOT, namespace="aws")
    [trace] = join([*documents, span, init, call])
    by_name = {(n.name, n.parent.name if n.parent else None): n for n in trace.nodes.values()}
    service, function = by_name[("f", None)], by_name[("f", "f")]
    assert is_service_segment(service) and not is_function_segment(service)
    assert is_function_segment(function)
    assert is_invocation_span(trace.nodes["s"]) and not is_function_segment(trace.nodes["s"])
    assert is_cold_start(by_name[("Initialization", "f")]) and is_cold_start(trace.nodes["i"])
    assert not is_cold_start(by_name[("Invocation", "f")])
    assert is_downstream(trace.nodes["c"]) and not is_downstream(trace.nodes["s"])


def test_links_and_the_index_reach_across_traces():
    other = "1-00000001-00000000000000000000abcd"
    target = subsegment("t", None, "SNS", T0, T0 + 1, trace_id=other, namespace="aws")
    linked = subsegment(
        "l",
        None,
        "consumer",
        T0 + 2,
        T0 + 3,
        trace_id=ROOT,
        metadata={"xraylayer": {"links": [{"trace_id": other, "id": "t"}, {"bad": 1}]}},
    )
    traces = join([target, linked])
    nodes = index(traces)
    [reference] = nodes[(ROOT, "l")].links
    assert nodes[reference].name == "SNS"


def test_a_parent_chain_deeper_than_the_recursion_limit():
    documents = [subsegment("n0", None, "top", T0, T0 + 1, trace_id=ROOT)]
    documents += [
        subsegment(f"n{i}", f"n{i - 1}", "deeper", T0, T0 + 1, trace_id=ROOT)
        for i in range(1, 3000)
    ]
    [trace] = join(documents)
    visits = trace.walk()
    assert len(visits) == 3000 and visits[-1].depth == 2999


def test_flattened_gives_every_document_its_trace_and_parent():
    segment = {
        "id": "a",
        "trace_id": "1-t",
        "subsegments": [{"id": "b", "subsegments": [{"id": "c"}]}],
    }
    independent = {"id": "d", "trace_id": "1-t", "parent_id": "c", "type": "subsegment"}
    found = {d["id"]: (d["trace_id"], d["parent_id"]) for d in flattened([segment, independent])}
    assert found == {"a": ("1-t", None), "b": ("1-t", "a"), "c": ("1-t", "b"), "d": ("1-t", "c")}
