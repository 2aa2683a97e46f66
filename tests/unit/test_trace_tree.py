"""Collected segment documents rendered as the trace trees a developer reads."""

from __future__ import annotations

import re

from xraylayer_local.lambda_segments import LambdaTraceIds, lambda_segments
from xraylayer_local.trace_tree import render

ROOT = "1-5759e988-bd862e3fe1be46a994272793"
OTHER_ROOT = "1-5759e989-000000000000000000000001"
ARN = "arn:aws:lambda:eu-west-1:123456789012:function:orders"
T0 = 1_700_000_000.0
ANSI = re.compile(r"\033\[[0-9;]*m")
LABEL = re.compile(r"^(.*?)\s+(?:[0-9.]+ ms|-)\s")


def lambda_documents(ids: LambdaTraceIds, **overrides) -> list[dict]:
    arguments = dict(
        trace_id=ROOT,
        ids=ids,
        function_name="orders",
        function_arn=ARN,
        region="eu-west-1",
        request_id="req-1",
        invoke_start=T0 + 0.5,
        response_end=T0 + 0.7,
        phase_end=T0 + 0.75,
        init_span=(T0, T0 + 0.4),
    )
    return lambda_segments(**{**arguments, **overrides})


def subsegment(span_id: str, parent_id: str, name: str, start: float, end: float | None, **extra):
    document = {
        "type": "subsegment",
        "id": span_id,
        "trace_id": extra.pop("trace_id", ROOT),
        "parent_id": parent_id,
        "name": name,
        "start_time": start,
        **extra,
    }
    if end is None:
        document["in_progress"] = True
    else:
        document["end_time"] = end
    return document


def labels(text: str) -> list[str]:
    """The first column of every node line (tree prefix, name, kind): all before the duration."""
    return [LABEL.match(line).group(1) for line in text.splitlines()[1:] if line]


def line_of(text: str, name: str) -> str:
    """The one line of the node called ``name`` (colour codes ignored for the match)."""
    [line] = [line for line in text.splitlines() if re.search(rf"(^| ){name} ", ANSI.sub("", line))]
    return line


def test_function_subsegments_nest_under_lambdas_invocation():
    ids = LambdaTraceIds.new()
    handler = subsegment(
        "a000000000000001",
        ids.invocation,
        "## handler",
        T0 + 0.51,
        T0 + 0.69,
        annotations={"ColdStart": True},
    )
    dynamodb = subsegment(
        "a000000000000002",
        "a000000000000001",
        "DynamoDB",
        T0 + 0.52,
        T0 + 0.532,
        namespace="aws",
        aws={"operation": "GetItem", "table_name": "orders"},
    )
    # Sent before its parent closed, as the layer streams subsegments: order must not matter.
    text = render([dynamodb, handler, *lambda_documents(ids)])
    assert labels(text) == [
        "orders [AWS::Lambda]",
        "└─ orders [AWS::Lambda::Function]",
        "   ├─ Initialization",
        "   ├─ Invocation",
        "   │  └─ ## handler",
        "   │     └─ DynamoDB [aws] GetItem",
        "   └─ Overhead",
    ]
    assert "ColdStart=true" in line_of(text, "## handler")


def test_durations_and_offsets_are_in_milliseconds_from_the_trace_start():
    ids = LambdaTraceIds.new()
    text = render(lambda_documents(ids))
    assert re.search(r"Invocation\s+200\.0 ms\s+\+500\.0 ms", text)
    assert re.search(r"Initialization\s+400\.0 ms\s+\+0\.0 ms", text)
    assert text.splitlines()[0] == f"trace {ROOT}  750.0 ms  (5 segments and subsegments)"


def test_exact_layout_of_a_small_trace():
    documents = [
        {"id": "1111111111111111", "trace_id": ROOT, "name": "api", "start_time": T0,
         "end_time": T0 + 1.25, "origin": "AWS::Lambda",
         "subsegments": [{"id": "2222222222222222", "name": "work", "start_time": T0 + 0.25,
                          "end_time": T0 + 0.5, "fault": True}]},
    ]  # fmt: skip
    assert render(documents) == (
        f"trace {ROOT}  1250.0 ms  (2 segments and subsegments)\n"
        "api [AWS::Lambda]  1250.0 ms    +0.0 ms  1111111111111111\n"
        "└─ work             250.0 ms  +250.0 ms  2222222222222222  FAULT"
    )


def test_durations_are_right_aligned():
    ids = LambdaTraceIds.new()
    lines = render(lambda_documents(ids)).splitlines()[1:]
    ends = {line.index(" ms") for line in lines}
    assert len(ends) == 1


def test_error_throttle_fault_and_in_progress_are_marked():
    ids = LambdaTraceIds.new()
    documents = [
        *lambda_documents(ids),
        subsegment("b000000000000001", ids.invocation, "DynamoDB", T0 + 0.6, T0 + 0.61,
                   namespace="aws", error=True, throttle=True),
        subsegment("b000000000000002", ids.invocation, "api.example.com", T0 + 0.62, T0 + 0.63,
                   namespace="remote", fault=True,
                   cause={"exceptions": [{"id": "c000000000000001", "type": "ConnectionError"}]}),
        subsegment("b000000000000003", ids.invocation, "slow", T0 + 0.64, None),
    ]  # fmt: skip
    text = render(documents)
    assert line_of(text, "DynamoDB").endswith("ERROR THROTTLE")
    assert line_of(text, "api.example.com").endswith("FAULT ConnectionError")
    slow = line_of(text, "slow")
    assert slow.endswith("IN PROGRESS")
    assert re.search(r"slow\s+-\s+\+640\.0 ms", slow)


def test_orphans_are_shown_under_their_trace_with_the_missing_parent():
    ids = LambdaTraceIds.new()
    orphan = subsegment("d000000000000001", "feedfacefeedface", "lost", T0 + 0.6, T0 + 0.61)
    child = subsegment("d000000000000002", "d000000000000001", "child", T0 + 0.6, T0 + 0.605)
    text = render([*lambda_documents(ids), orphan, child])
    assert labels(text)[-2:] == ["lost", "└─ child"]
    assert line_of(text, "lost").endswith("(parent feedfacefeedface not received)")
    assert text.count("trace ") == 1


def test_traces_are_separate_and_ordered_by_start():
    later = subsegment("e000000000000001", "feedfacefeedface", "later", T0 + 5, T0 + 6)
    later["trace_id"] = OTHER_ROOT
    ids = LambdaTraceIds.new()
    text = render([later, *lambda_documents(ids)])
    blocks = text.split("\n\n")
    assert [block.splitlines()[0].split()[1] for block in blocks] == [ROOT, OTHER_ROOT]


def test_siblings_with_the_same_start_are_ordered_by_id():
    ids = LambdaTraceIds.new()
    b = subsegment("f000000000000002", ids.invocation, "b", T0 + 0.6, T0 + 0.61)
    a = subsegment("f000000000000001", ids.invocation, "a", T0 + 0.6, T0 + 0.61)
    assert render([b, a, *lambda_documents(ids)]) == render([*lambda_documents(ids), a, b])
    names = [label.split()[-1] for label in labels(render([b, a, *lambda_documents(ids)]))]
    assert names.index("a") < names.index("b")


def test_complete_document_replaces_the_in_progress_one_for_the_same_id():
    ids = LambdaTraceIds.new()
    open_ = subsegment("f000000000000001", ids.invocation, "work", T0 + 0.6, None)
    done = subsegment("f000000000000001", ids.invocation, "work", T0 + 0.6, T0 + 0.65)
    for order in ([open_, done], [done, open_]):
        text = render([*lambda_documents(ids), *order])
        assert "IN PROGRESS" not in text
        assert re.search(r"work\s+50\.0 ms", text)


def test_colour_marks_faults_red_errors_yellow_and_dims_ids():
    ids = LambdaTraceIds.new()
    documents = [
        *lambda_documents(ids, status="error", error_type="Runtime.Unhandled"),
        subsegment("b000000000000001", ids.invocation, "DynamoDB", T0 + 0.6, T0 + 0.61,
                   namespace="aws", error=True),
    ]  # fmt: skip
    coloured = render(documents, color=True)
    assert "   ├─ \033[31mInvocation\033[0m" in coloured
    assert "\033[33m" in line_of(coloured, "DynamoDB")
    assert f"\033[2m{ids.invocation}" in coloured
    assert ANSI.sub("", coloured) == render(documents)
    assert "\033[" not in render(documents)


def test_malformed_documents_do_not_break_the_view():
    documents = [
        {"name": "no ids at all"},
        {"id": "1", "trace_id": ROOT, "start_time": "soon", "end_time": None},
        {"id": "2", "trace_id": ROOT, "parent_id": "3", "start_time": 1.0, "end_time": 2.0},
        {"id": "3", "trace_id": ROOT, "parent_id": "2", "start_time": 1.0, "end_time": 2.0},
        {"id": "4", "trace_id": ROOT, "subsegments": "nope", "annotations": [1]},
        "not a document",
    ]
    text = render(documents)
    assert "(no name)" in text
    assert "in a cycle" in text
    assert text.count("\n") >= 5


def test_nothing_to_show():
    assert render([]) == "(no trace documents)"
