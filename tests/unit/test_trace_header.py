"""The X-Ray trace header as it arrives from Lambda, API Gateway, ALB, SQS and botocore."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from xraylayer import trace_header
from xraylayer.trace_header import TraceHeader, parse

ROOT = "1-5759e988-bd862e3fe1be46a994272793"
PARENT = "53995c3f42cd8ad8"

HEX = "0123456789abcdef"
hex_text = lambda n: st.text(HEX, min_size=n, max_size=n)  # noqa: E731
roots = st.builds(lambda a, b: f"1-{a}-{b}", hex_text(8), hex_text(24))
span_ids = hex_text(16)
# Extra keys as a header can carry them: no separators, no surrounding whitespace.
KNOWN_KEYS = ("Root", "Parent", "Sampled")
extra_keys = st.text(min_size=1, max_size=12).filter(
    lambda k: ";" not in k and "=" not in k and k == k.strip() and k not in KNOWN_KEYS
)
extra_values = st.text(max_size=20).filter(lambda v: ";" not in v and v == v.strip())
headers = st.builds(
    TraceHeader,
    roots,
    st.none() | span_ids,
    st.sampled_from([None, "1", "0", "?"]),
    st.lists(st.tuples(extra_keys, extra_values), max_size=4).map(tuple),
)


@given(st.text())
def test_parse_never_raises_on_any_text(value):
    result = parse(value)
    assert result is None or trace_header.is_trace_id(result.root)


@given(st.text(alphabet="Root=1-abcdef0123456789;ParentSampled?Lineage: \t%7C|", max_size=80))
def test_parse_never_raises_on_header_like_text(value):
    parse(value)


@given(headers)
def test_header_round_trips_through_its_text(header):
    assert parse(header.to_header()) == header


@given(roots, st.text("0123456789abcdef:|", min_size=1, max_size=30))
def test_lineage_is_forwarded_verbatim(root, lineage):
    value = f"Root={root};Lineage={lineage}"
    forwarded = parse(value).with_parent(PARENT).to_header()
    assert forwarded == f"Root={root};Parent={PARENT};Lineage={lineage}"


def test_lambda_header_with_lineage():
    header = parse(f"Root={ROOT};Parent={PARENT};Sampled=1;Lineage=a87bd80c:1|68fd508a:5")
    assert header == TraceHeader(ROOT, PARENT, "1", (("Lineage", "a87bd80c:1|68fd508a:5"),))


def test_root_and_lineage_only():
    header = parse(f"Root={ROOT};Lineage=1:bd4cecd5:0")
    assert (header.root, header.parent, header.sampled) == (ROOT, None, None)
    assert header.to_header() == f"Root={ROOT};Lineage=1:bd4cecd5:0"


def test_any_key_order_is_accepted_and_emitted_in_canonical_order():
    header = parse(f"Root={ROOT};Sampled=0;Parent={PARENT}")
    assert header.to_header() == f"Root={ROOT};Parent={PARENT};Sampled=0"


def test_percent_encoded_lineage_is_kept_as_is():
    # botocore writes '|' as %7C into the HTTP header; the value must not be decoded.
    header = parse(f"Root={ROOT};Parent={PARENT};Sampled=1;Lineage=a87bd80c:1%7C68fd508a:5")
    assert header.extra == (("Lineage", "a87bd80c:1%7C68fd508a:5"),)
    assert header.to_header().endswith(";Lineage=a87bd80c:1%7C68fd508a:5")


def test_alb_self_field_is_kept_in_extra():
    value = f"Self=1-67891234-12456789abcdef012345678;Root={ROOT};Sampled=1"
    header = parse(value)
    assert header.root == ROOT
    assert header.extra == (("Self", "1-67891234-12456789abcdef012345678"),)


def test_whitespace_and_empty_parts_are_tolerated():
    header = parse(f"  Root = {ROOT} ;; Parent={PARENT} ;Sampled=1; \n")
    assert header == TraceHeader(ROOT, PARENT, "1")


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        ";;",
        f"Parent={PARENT};Sampled=1",  # no Root
        "Root=1-5759e988-bd862e3fe1be46a99427279;Sampled=1",  # 23 hex
        "Root=2-5759e988-bd862e3fe1be46a994272793",  # wrong version
        "Root=1-5759e98g-bd862e3fe1be46a994272793",  # not hex
        f"root={ROOT}",  # keys are case-sensitive
        ROOT,  # bare id, no key
    ],
)
def test_header_without_valid_root_carries_no_trace(value):
    assert parse(value) is None


@pytest.mark.parametrize("parent", ["", "53995c3f42cd8ad", "53995c3f42cd8ad8a", "zz995c3f42cd8ad8"])
def test_invalid_parent_is_dropped_not_fatal(parent):
    header = parse(f"Root={ROOT};Parent={parent};Sampled=1")
    assert (header.root, header.parent, header.sampled) == (ROOT, None, "1")


@pytest.mark.parametrize("sampled", ["", "2", "yes", "true"])
def test_invalid_sampled_is_dropped(sampled):
    assert parse(f"Root={ROOT};Sampled={sampled}").sampled is None


def test_sampled_question_mark_is_kept():
    assert parse(f"Root={ROOT};Sampled=?").sampled == "?"


def test_repeated_key_last_one_counts():
    header = parse(f"Root={ROOT};Parent=0000000000000001;Parent={PARENT}")
    assert header.parent == PARENT


def test_with_parent_keeps_sampling_unless_told():
    header = parse(f"Root={ROOT};Parent={PARENT};Sampled=1;Lineage=a:1")
    child = header.with_parent("1111111111111111")
    assert child == TraceHeader(ROOT, "1111111111111111", "1", (("Lineage", "a:1"),))
    assert header.parent == PARENT  # the original is unchanged
    assert header.with_parent("1111111111111111", sampled="0").sampled == "0"
    assert header.with_parent("1111111111111111", sampled=None).sampled is None


def test_with_parent_rejects_a_malformed_span_id():
    with pytest.raises(ValueError):
        TraceHeader(ROOT).with_parent("not-an-id")
    with pytest.raises(ValueError):
        TraceHeader(ROOT).with_parent(PARENT, sampled="yes")


def test_header_is_immutable_and_hashable():
    header = TraceHeader(ROOT, PARENT, "1")
    with pytest.raises(AttributeError):
        header.parent = None
    assert {header: 1}[TraceHeader(ROOT, PARENT, "1")] == 1


def test_to_header_leaves_out_missing_fields():
    assert TraceHeader(ROOT).to_header() == f"Root={ROOT}"
    assert TraceHeader(ROOT, sampled="0").to_header() == f"Root={ROOT};Sampled=0"


def test_new_trace_id_carries_the_epoch_seconds():
    trace_id = trace_header.new_trace_id(0x5759E988 + 0.75)
    assert trace_id.startswith("1-5759e988-")
    assert trace_header.is_trace_id(trace_id)
    assert trace_header.new_trace_id(1.0) != trace_header.new_trace_id(1.0)


def test_new_id_is_16_hex_and_random():
    ids = {trace_header.new_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(trace_header.is_span_id(i) and i != "0" * 16 for i in ids)


def test_w3c_conversion_matches_the_documented_example():
    assert trace_header.to_w3c_trace_id(ROOT) == "5759e988bd862e3fe1be46a994272793"
    assert trace_header.from_w3c_trace_id("5759E988BD862E3FE1BE46A994272793") == ROOT


@given(roots)
def test_w3c_conversion_round_trips(root):
    w3c = trace_header.to_w3c_trace_id(root)
    assert len(w3c) == 32
    assert trace_header.from_w3c_trace_id(w3c) == root


@pytest.mark.parametrize("bad", ["", "5759e988-bd862e3fe1be46a994272793", "x" * 32])
def test_w3c_conversion_rejects_malformed_ids(bad):
    with pytest.raises(ValueError):
        trace_header.from_w3c_trace_id(bad)
    with pytest.raises(ValueError):
        trace_header.to_w3c_trace_id(bad)
