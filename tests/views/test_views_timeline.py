"""The timeline: rows with offsets and durations, status words, cold starts, folding."""

from __future__ import annotations

import pytest
from views_fixtures import T0, TRACE_A, TRACE_B, TRACE_D, orders_demo, subsegment
from xraylayer_local.views.invocations import find_invocations
from xraylayer_local.views.model import Flags, join
from xraylayer_local.views.timeline import Waterfall, label, tree_prefix, waterfall, waterfalls


@pytest.fixture(scope="module")
def demo() -> dict[str, Waterfall]:
    traces = join(orders_demo())
    return {w.trace_id: w for w in waterfalls(traces, find_invocations(traces))}


def _row(found: Waterfall, text: str):
    [row] = [r for r in found.rows if r.label == text]
    return row


def test_rows_follow_the_tree_with_offsets_from_the_trace_start(demo):
    cold = demo[TRACE_A]
    assert [(r.depth, r.label) for r in cold.rows] == [
        (0, "orders [AWS::Lambda]"),
        (1, "orders [AWS::Lambda::Function]"),
        (2, "Initialization"),
        (2, "Invocation"),
        (3, "orders"),
        (4, "DynamoDB [aws] PutItem"),
        (4, "payments.local [remote]"),
        (4, "SNS [aws] Publish"),
        (2, "Overhead"),
    ]
    dynamodb = _row(cold, "DynamoDB [aws] PutItem")
    assert dynamodb.offset_ms == pytest.approx(402.0, abs=0.01)
    assert dynamodb.duration_ms == pytest.approx(5.0, abs=0.01)
    assert cold.duration_ms == pytest.approx(432.0, abs=0.01)


def test_the_cold_start_is_marked_on_the_init_row_and_the_trace(demo):
    cold = demo[TRACE_A]
    init = _row(cold, "Initialization")
    assert init.cold and "COLD START" in init.words
    assert cold.cold and cold.functions == ("orders",)
    assert not demo[TRACE_B].cold


def test_failures_are_words_on_their_rows_and_on_the_trace(demo):
    faulted = demo[TRACE_B]
    payments = _row(faulted, "payments.local [remote]")
    assert payments.words == ("FAULT",) and payments.flags.severity == "fault"
    assert faulted.flags.fault


def test_exception_type_in_progress_and_annotations():
    documents = [
        subsegment(
            "a",
            None,
            "handler",
            T0,
            None,
            trace_id=TRACE_A,
            fault=True,
            cause={"exceptions": [{"id": "e", "type": "ValueError"}]},
            annotations={"ColdStart": True, "Service": "orders"},
        ),
    ]
    [row] = waterfall(join(documents)[0]).rows
    assert row.words == ("FAULT", "ValueError", "IN PROGRESS")
    assert row.annotations == ("ColdStart=true", "Service=orders")
    assert row.notes == "FAULT ValueError IN PROGRESS ColdStart=true Service=orders"
    assert row.duration_ms is None


def test_deeper_rows_fold_into_the_deepest_row_shown_with_their_failures():
    documents = [subsegment("n0", None, "level 0", T0, T0 + 1, trace_id=TRACE_A)]
    for depth in range(1, 5):
        documents.append(
            subsegment(
                f"n{depth}",
                f"n{depth - 1}",
                f"level {depth}",
                T0,
                T0 + 1,
                trace_id=TRACE_A,
                fault=depth == 4,
            )
        )
    [trace] = join(documents)
    folded = waterfall(trace, max_depth=2)
    assert [r.label for r in folded.rows] == ["level 0", "level 1", "level 2"]
    deepest = folded.rows[-1]
    assert (deepest.folded, deepest.folded_flags) == (2, Flags(fault=True))
    assert deepest.status == "(+2 nested: FAULT)"
    assert len(waterfall(trace).rows) == 5


def test_tree_prefix_and_label():
    assert tree_prefix(()) == ""
    assert tree_prefix((False,)) == "├─ "
    assert tree_prefix((True, False)) == "   ├─ "
    assert tree_prefix((False, True)) == "│  └─ "
    [trace] = join(
        [
            {
                "id": "x",
                "trace_id": TRACE_A,
                "name": "S3",
                "namespace": "aws",
                "aws": {"operation": "GetObject"},
                "start_time": T0,
                "end_time": T0,
            }
        ]
    )
    assert label(trace.nodes["x"]) == "S3 [aws] GetObject"


def test_a_linked_invocation_names_the_trace_it_links_to(demo):
    [consumer] = [r for r in demo[TRACE_D].rows if r.label == "receipts"]
    assert f"(linked to trace {TRACE_A})" in consumer.words
