"""Outgoing trace headers (X-Ray and W3C) and the W3C traceparent format, as properties."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from xraylayer.propagation import (
    TRACEPARENT_HEADER,
    XRAY_HEADER,
    format_traceparent,
    outgoing_headers,
    parse_traceparent,
)
from xraylayer.spans import Span
from xraylayer.trace_header import TraceHeader, from_w3c_trace_id, parse

HEX = "0123456789abcdef"
hex_text = lambda n: st.text(HEX, min_size=n, max_size=n)  # noqa: E731
trace_ids = hex_text(32).filter(lambda value: value != "0" * 32)
span_ids = hex_text(16).filter(lambda value: value != "0" * 16)
ALL = ("xray", "tracecontext")
propagator_lists = st.lists(
    st.sampled_from(["xray", "tracecontext", "none", "baggage"]), max_size=4
)
extra_keys = st.sampled_from(["Lineage", "Self", "Custom"])
extra_values = st.text("0123456789abcdef:|%7C", min_size=1, max_size=20)
extras = st.lists(st.tuples(extra_keys, extra_values), max_size=3).map(tuple)
spans = st.builds(
    lambda trace_id, span_id, sampled: Span("call", trace_id, span_id=span_id, sampled=sampled),
    trace_ids,
    span_ids,
    st.booleans(),
)
incoming_headers = st.builds(
    lambda trace_id, parent, sampled, extra: TraceHeader(
        from_w3c_trace_id(trace_id), parent, sampled, extra
    ),
    trace_ids,
    st.none() | span_ids,
    st.sampled_from([None, "1", "0", "?"]),
    extras,
)


# -- traceparent -------------------------------------------------------------------------------


@given(trace_ids, span_ids, st.booleans())
def test_traceparent_round_trips(trace_id, span_id, sampled):
    value = format_traceparent(trace_id, span_id, sampled)
    assert len(value) == 55
    assert parse_traceparent(value) == (trace_id, span_id, sampled)


@given(st.text() | st.binary() | st.none() | st.integers())
def test_parse_traceparent_never_raises(value):
    result = parse_traceparent(value)
    assert result is None or (len(result[0]), len(result[1])) == (32, 16)


@given(st.text("0123456789abcdefABCDEF- \t", max_size=70))
def test_parse_traceparent_never_raises_on_traceparent_like_text(value):
    result = parse_traceparent(value)
    if result is not None:
        assert not result[0].strip(HEX) and not result[1].strip(HEX)


@given(trace_ids, span_ids, hex_text(2))
def test_sampled_is_the_low_bit_of_the_flags(trace_id, span_id, flags):
    assert parse_traceparent(f"00-{trace_id}-{span_id}-{flags}")[2] == bool(int(flags, 16) & 1)


@given(trace_ids, span_ids, st.text("-abc0123", max_size=10))
def test_a_future_version_may_append_fields(trace_id, span_id, tail):
    value = f"cc-{trace_id}-{span_id}-01-{tail}"
    assert parse_traceparent(value) == (trace_id, span_id, True)


def test_traceparent_tolerance_and_strictness():
    good = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    ids = ("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", True)
    assert parse_traceparent(good) == ids
    assert parse_traceparent("  " + good.upper() + "\n") == ids  # whitespace, upper case
    invalid = [
        "",
        good[:-1],
        good + "-extra",  # version 00 has exactly four fields
        "ff" + good[2:],  # version ff is forbidden
        "00-" + "0" * 32 + "-b7ad6b7169203331-01",  # all-zero trace id
        "00-0af7651916cd43dd8448eb211c80319c-" + "0" * 16 + "-01",  # all-zero span id
        good.replace("-", "_"),
        "00-0af7651916cd43dd8448eb211c80319g-b7ad6b7169203331-01",  # not hex
        "0-0af7651916cd43dd8448eb211c80319ca-b7ad6b7169203331-01",  # misplaced dashes
    ]
    assert [parse_traceparent(value) for value in invalid] == [None] * len(invalid)


# -- outgoing headers from a span ----------------------------------------------------------------


@given(spans, st.none() | incoming_headers)
def test_xray_header_names_the_span_as_parent_and_keeps_extra_keys(span, incoming):
    header = parse(outgoing_headers(span, incoming, ALL)[XRAY_HEADER])
    assert header.root == from_w3c_trace_id(span.trace_id)
    assert header.parent == span.span_id
    assert header.sampled == ("1" if span.sampled else "0")
    assert header.extra == (incoming.extra if incoming else ())


@given(spans, st.none() | incoming_headers)
def test_traceparent_names_the_span_and_its_sampling(span, incoming):
    value = outgoing_headers(span, incoming, ALL)[TRACEPARENT_HEADER]
    assert parse_traceparent(value) == (span.trace_id, span.span_id, span.sampled)


@given(spans, st.none() | incoming_headers, propagator_lists)
def test_one_header_per_configured_propagator(span, incoming, propagators):
    headers = outgoing_headers(span, incoming, propagators)
    expected = {XRAY_HEADER} if "xray" in propagators else set()
    expected |= {TRACEPARENT_HEADER} if "tracecontext" in propagators else set()
    assert set(headers) == expected


def test_lambda_header_with_lineage_becomes_this_spans_header():
    incoming = parse(
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;"
        "Lineage=a87bd80c:1|68fd508a:5"
    )
    span = Span("call", "5759e988bd862e3fe1be46a994272793", span_id="1234567890abcdef")
    assert outgoing_headers(span, incoming, ALL) == {
        "X-Amzn-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=1234567890abcdef;"
        "Sampled=1;Lineage=a87bd80c:1|68fd508a:5",
        "traceparent": "00-5759e988bd862e3fe1be46a994272793-1234567890abcdef-01",
    }


# -- outgoing headers without a span: the function's own header passes through ------------------


@given(incoming_headers)
def test_without_a_span_the_incoming_header_passes_unchanged(incoming):
    headers = outgoing_headers(None, incoming, ALL)
    assert parse(headers[XRAY_HEADER]) == incoming
    if incoming.parent is None:  # W3C cannot say "no parent"
        assert TRACEPARENT_HEADER not in headers
    else:
        trace_id, parent, sampled = parse_traceparent(headers[TRACEPARENT_HEADER])
        assert from_w3c_trace_id(trace_id) == incoming.root
        assert (parent, sampled) == (incoming.parent, incoming.sampled == "1")


@given(propagator_lists)
def test_without_span_or_header_there_is_nothing_to_send(propagators):
    assert outgoing_headers(None, None, propagators) == {}
    assert outgoing_headers(None, TraceHeader(None, "53995c3f42cd8ad8"), propagators) == {}
