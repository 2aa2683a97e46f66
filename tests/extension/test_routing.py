"""Routing: the daemon gets what Lambda sampled, the full-trace exporters what the OTLP sampler
or tail keep kept; a trace is never split."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from xraylayer import semconv as sc
from xraylayer.spans import CLIENT, SERVER, Span
from xraylayer_extension.routing import route
from xraylayer_extension.tail_keep import TAIL_KEPT, TailKeep
from xraylayer_extension.trace_sampler import TraceSampler

ALWAYS_ON, ALWAYS_OFF = TraceSampler("always_on"), TraceSampler("always_off")
FOLLOW_LAMBDA = TraceSampler("parentbased_always_off")


def invocation(trace_id: str, *, sampled: bool, fault: bool = False) -> list[Span]:
    """An invocation span and one child, children first, as the extension receives them."""
    root = Span("fn", trace_id, kind=SERVER, sampled=sampled)
    root.attributes[sc.FAAS_INVOCATION_ID] = f"rid-{trace_id[:4]}"
    child = Span("S3", trace_id, root.span_id, kind=CLIENT, sampled=sampled)
    child.end()
    root.fault = fault
    root.end()
    return [child, root]


def trace_id(n: int) -> str:
    return f"{n:032x}"


def test_the_daemon_gets_only_what_lambda_sampled_and_full_trace_exporters_all_by_default():
    sampled, unsampled = (
        invocation(trace_id(1), sampled=True),
        invocation(trace_id(2), sampled=False),
    )
    routed = route(sampled + unsampled, ALWAYS_ON, TailKeep())
    assert routed.daemon == sampled
    assert routed.full_trace == sampled + unsampled
    assert routed.tail_kept == 0


def test_a_faulted_invocation_head_sampling_dropped_is_kept_and_marked():
    quiet, failed = (
        invocation(trace_id(3), sampled=False),
        invocation(trace_id(4), sampled=False, fault=True),
    )
    routed = route(quiet + failed, FOLLOW_LAMBDA, TailKeep())
    assert routed.daemon == []
    assert routed.full_trace == failed
    assert routed.tail_kept == 1
    assert failed[1].attributes[TAIL_KEPT] == "fault"
    assert TAIL_KEPT not in quiet[1].attributes


def test_with_tail_keep_off_nothing_is_rescued():
    failed = invocation(trace_id(5), sampled=False, fault=True)
    routed = route(failed, ALWAYS_OFF, TailKeep(enabled=False))
    assert (routed.daemon, routed.full_trace, routed.tail_kept) == ([], [], 0)


@given(
    st.lists(
        st.tuples(st.integers(1, 50), st.booleans(), st.booleans()),
        max_size=20,
        unique_by=lambda invocation: invocation[0],  # one invocation per trace
    )
)
def test_every_trace_goes_whole_or_not_at_all_in_the_order_given(traces):
    spans = [
        span
        for n, sampled, fault in traces
        for span in invocation(trace_id(n), sampled=sampled, fault=fault)
    ]
    routed = route(spans, TraceSampler("traceidratio", 0.5), TailKeep())
    for chosen in (routed.daemon, routed.full_trace):
        ids = {span.trace_id for span in chosen}
        assert chosen == [span for span in spans if span.trace_id in ids]
    assert {s.trace_id for s in routed.daemon} == {s.trace_id for s in spans if s.sampled}
