"""Bad input, property-based: everything the layer and the extension read from outside.

What a user relies on, whatever arrives: nothing raises into their code (the public API, the
trace header and ``traceparent`` parsers, trigger detection), the extension's readers never raise
(intake datagrams, Telemetry API batches, exporter answers), what comes out stays well-formed
(ids valid, counts balanced, every X-Ray document under 64 KB) and hostile inputs take bounded
time. The modules' own unit tests hold the example-based cases and the plain "any text" checks;
this file adds the hostile shapes, sizes and the whole intake -> document path.

The quick variant runs in CI (``--quick``); the ``slow`` variants run the same properties with
many more examples.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from xraylayer import context, propagation, trace_header, triggers, wire, xray_document
from xraylayer.api import annotate, capture, metadata
from xraylayer.spans import Span
from xraylayer.tracer import TRACER
from xraylayer_extension import http_export, otlp_http, telemetry_events, xray_api
from xraylayer_extension.intake import MAX_MALFORMED_REASONS, Intake
from xraylayer_extension.invocations import InvocationStore
from xraylayer_extension.xray_trace_documents import trace_documents

QUICK = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,  # the sink is cleared per example
    ],
)
LONG = settings(
    max_examples=1500,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,  # the sink is cleared per example
    ],
)
MAX_DOCUMENT_BYTES = 64_000
HOSTILE_SECONDS = 2.0  # a generous bound for one hostile input; each takes milliseconds
TRACE_ID = "5759e988bd862e3fe1be46a994272793"
SPAN_ID = "53995c3f42cd8ad8"

# --- strategies --------------------------------------------------------------------------------

finite = st.floats(allow_nan=False, allow_infinity=False)
any_float = st.floats()  # NaN and infinities too
ints = st.integers(min_value=-(2**200), max_value=2**200)
hostile_text = st.one_of(
    st.text(max_size=50),
    st.text(alphabet='\x00\ud800\udfff\u202e\ufeff\n\t"\\;=-,', max_size=50),  # lone surrogates
    st.integers(min_value=0, max_value=200_000).map(lambda n: "x" * n),
)
json_scalars = st.one_of(st.none(), st.booleans(), ints, any_float, st.text(max_size=30))
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=25,
)


class _Hostile:
    """A value whose str() and repr() raise: what user code may pass to annotate/metadata."""

    def __str__(self) -> str:
        raise RuntimeError("no str for you")

    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")


class _Slots:
    __slots__ = ("a",)


def _recursive_dict() -> dict:
    value: dict = {"a": 1}
    value["self"] = value
    return value


def _recursive_list() -> list:
    value: list = [1]
    value.append(value)
    return value


user_values = st.one_of(
    json_values,
    hostile_text,
    st.binary(max_size=100),
    any_float,
    st.integers(min_value=-(2**2000), max_value=2**2000),  # beyond int -> str digit limits
    st.sampled_from(
        [
            _Hostile(),
            _Slots(),
            object(),
            _recursive_dict(),
            _recursive_list(),
            {1, 2, 3},
            frozenset(),
            complex(1, 2),
            b"\xff\xfe",
            bytearray(b"abc"),
            memoryview(b"xyz"),
            type,
            len,
            Ellipsis,
            NotImplemented,
            {(1, 2): "tuple key", None: "none key", 1.5: "float key"},
            [[[[[[[[[[[[[[[[[[[[["deep"]]]]]]]]]]]]]]]]]]]]],
        ]
    ),
)
user_keys = st.one_of(hostile_text, st.sampled_from([None, 1, 2.5, b"k", _Hostile(), ("t",)]))


# --- the public API: nothing raises into user code, the span still makes a valid document -------


class _Sink:
    def __init__(self) -> None:
        self.spans: list[Span] = []

    def emit(self, span: Span) -> None:
        self.spans.append(span)


@pytest.fixture
def sink() -> Iterator[_Sink]:
    previous, TRACER.sink = TRACER.sink, _Sink()
    try:
        yield TRACER.sink
    finally:
        TRACER.sink = previous


def _assert_valid_document(document: dict) -> None:
    encoded = xray_document.encode(document)
    assert len(encoded) <= MAX_DOCUMENT_BYTES
    json.loads(encoded)  # strict enough: the daemon and PutTraceSegments read it as JSON
    assert trace_header.is_span_id(document["id"]), document["id"]
    assert trace_header.is_trace_id(document["trace_id"]), document["trace_id"]
    assert math.isfinite(document["start_time"])


def _through_the_wire(span: Span) -> Span:
    """What the extension makes of ``span`` after the function hands it over."""
    datagram = wire.encode_span(span, "request-1")
    assert len(datagram) <= wire.MAX_DATAGRAM_BYTES
    message = wire.decode(datagram)
    assert isinstance(message, wire.SpanMessage), message
    return message.span


def _api_calls(calls: list[tuple[str, Any, Any]]) -> Span:
    invocation = Span("handler", TRACE_ID, SPAN_ID)
    token = context.activate(invocation)
    try:
        with capture("block") as span:
            for kind, key, value in calls:
                if kind == "annotate":
                    annotate(key, value)
                elif kind == "metadata":
                    metadata(key, value)
                else:
                    metadata(key, value, namespace=kind)
        return span
    finally:
        context.deactivate(token)


api_calls = st.lists(
    st.tuples(
        st.one_of(st.sampled_from(["annotate", "metadata"]), hostile_text),
        user_keys,
        user_values,
    ),
    max_size=8,
)


def _check_api_calls(sink: _Sink, calls: list) -> None:
    sink.spans.clear()
    span = _api_calls(calls)  # raises into the test if anything escapes
    assert sink.spans[-1] is span
    document = xray_document.subsegment_document(_through_the_wire(span))
    _assert_valid_document(document)
    _assert_valid_document(xray_document.subsegment_document(span))  # the fallback path


@QUICK
@given(calls=api_calls)
def test_annotate_and_metadata_take_any_key_and_value(sink: _Sink, calls: list) -> None:
    _check_api_calls(sink, calls)


@pytest.mark.slow
@LONG
@given(calls=api_calls)
def test_annotate_and_metadata_take_any_key_and_value_long(sink: _Sink, calls: list) -> None:
    _check_api_calls(sink, calls)


@QUICK
@given(name=st.one_of(hostile_text, st.sampled_from([None, b"n", _Hostile()])))
def test_capture_takes_any_name_and_keeps_the_user_result_and_exception(
    sink: _Sink, name: Any
) -> None:
    _check_capture(sink, name)


@pytest.mark.parametrize("name", [3, 2.5, True], ids=["int", "float", "bool"])
def test_capture_with_a_name_that_is_not_text_still_reaches_the_extension(
    sink: _Sink, name: Any
) -> None:
    _check_capture(sink, name)


def _check_capture(sink: _Sink, name: Any) -> None:
    sink.spans.clear()
    invocation = Span("handler", TRACE_ID, SPAN_ID)
    token = context.activate(invocation)
    try:
        with capture(name):
            pass

        @capture(name)
        def double(x: int) -> int:
            return 2 * x

        assert double(21) == 42

        @capture(name)
        def fails() -> None:
            raise KeyError("mine")

        with pytest.raises(KeyError, match="mine"):
            fails()
    finally:
        context.deactivate(token)
    for span in sink.spans:
        _assert_valid_document(xray_document.subsegment_document(_through_the_wire(span)))


def test_a_huge_annotation_and_metadata_value_still_give_one_document(sink: _Sink) -> None:
    span = _api_calls(
        [
            ("annotate", "big", "a" * 5_000_000),
            ("metadata", "big", {"k" * 100_000: ["v" * 1_000_000] * 5}),
            ("metadata", "many", {str(i): i for i in range(50_000)}),
        ]
    )
    started = time.monotonic()
    document = xray_document.subsegment_document(_through_the_wire(span))
    _assert_valid_document(document)
    assert time.monotonic() - started < 10 * HOSTILE_SECONDS


# --- trace headers and traceparent ------------------------------------------------------------

hex_chars = "0123456789abcdefABCDEF"
header_parts = st.one_of(
    st.builds(
        lambda key, value: f"{key}={value}",
        st.sampled_from(["Root", "Parent", "Sampled", "Lineage", "Self", " Root ", "root"]),
        st.one_of(
            st.text(alphabet=hex_chars + "-1", max_size=40),
            st.sampled_from(["1-5759e988-bd862e3fe1be46a994272793", "53995c3f42cd8ad8", "1"]),
            hostile_text,
        ),
    ),
    hostile_text,
)


@QUICK
@given(parts=st.lists(header_parts, max_size=10), separator=st.sampled_from([";", "; ", ";;"]))
def test_a_parsed_trace_header_always_holds_valid_ids_and_round_trips(
    parts: list[str], separator: str
) -> None:
    header = trace_header.parse(separator.join(parts))
    if header is None:
        return
    assert trace_header.is_trace_id(header.root)
    assert header.parent is None or trace_header.is_span_id(header.parent)
    assert header.sampled in (None, "0", "1", "?")
    again = trace_header.parse(header.to_header())
    assert again is not None
    assert (again.root, again.parent, again.sampled) == (header.root, header.parent, header.sampled)


@QUICK
@given(value=st.one_of(hostile_text, json_values, st.binary(max_size=60)))
def test_traceparent_parsing_never_raises_and_gives_valid_ids(value: Any) -> None:
    parsed = propagation.parse_traceparent(value)
    if parsed is not None:
        trace_id, span_id, sampled = parsed
        assert len(trace_id) == 32 and int(trace_id, 16) != 0 and trace_id == trace_id.lower()
        assert len(span_id) == 16 and int(span_id, 16) != 0 and span_id == span_id.lower()
        assert isinstance(sampled, bool)


@QUICK
@given(
    trace_id=st.text(alphabet=hex_chars, min_size=32, max_size=32),
    span_id=st.text(alphabet=hex_chars, min_size=16, max_size=16),
    flags=st.text(alphabet=hex_chars, min_size=2, max_size=2),
    tail=st.text(max_size=20),
    version=st.text(alphabet=hex_chars, min_size=2, max_size=2),
)
def test_traceparent_like_values_never_raise(
    trace_id: str, span_id: str, flags: str, tail: str, version: str
) -> None:
    value = f"{version}-{trace_id}-{span_id}-{flags}{tail}"
    parsed = propagation.parse_traceparent(value)
    if parsed is not None:
        assert parsed[0] == trace_id.lower() and parsed[1] == span_id.lower()


@pytest.mark.parametrize(
    "value",
    [
        ";" * 1_000_000,
        "=" * 1_000_000,
        "Root=" + "1-" * 500_000,
        "Lineage=" + "a" * 1_000_000,
        "Root=1-5759e988-bd862e3fe1be46a994272793;" * 50_000,
        "a=b;" * 250_000,
    ],
    ids=["semicolons", "equals", "root-dashes", "long-lineage", "repeated-root", "many-extras"],
)
def test_hostile_headers_parse_in_bounded_time(value: str) -> None:
    started = time.monotonic()
    trace_header.parse(value)
    propagation.parse_traceparent(value)
    assert time.monotonic() - started < HOSTILE_SECONDS


# --- trigger detection ------------------------------------------------------------------------

TRIGGER_KEYS = sorted(
    {
        str(key)
        for _, _, conditions in triggers.TRIGGERS
        for path, _, _ in conditions
        for key in path
    }
    | {"Records", "eventSource", "EventSource", "requestContext", "httpMethod", "version"}
)
trigger_like = st.recursive(
    json_scalars | st.sampled_from(["aws:sqs", "aws:sns", "aws.events", "2.0", "1.0", "GET"]),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(TRIGGER_KEYS) | st.text(max_size=5), inner, max_size=6),
    ),
    max_leaves=30,
)
KNOWN_TRIGGERS = {(row[0], row[1]) for row in triggers.TRIGGERS}


@QUICK
@given(event=trigger_like)
def test_any_event_gets_one_known_trigger(event: Any) -> None:
    assert triggers.detect(event) in KNOWN_TRIGGERS


@pytest.mark.slow
@LONG
@given(event=trigger_like)
def test_any_event_gets_one_known_trigger_long(event: Any) -> None:
    assert triggers.detect(event) in KNOWN_TRIGGERS


def test_a_huge_event_is_detected_in_bounded_time() -> None:
    event = {"Records": [{"eventSource": "aws:sqs", "body": "x" * 1000}] * 100_000}
    started = time.monotonic()
    assert triggers.detect(event)[0] == "sqs"
    assert time.monotonic() - started < HOSTILE_SECONDS


# --- the intake: any datagram, and hostile spans through to documents ---------------------------

id_like = st.one_of(
    st.text(alphabet="0123456789abcdef", min_size=16, max_size=16),
    st.text(alphabet="0123456789abcdef", min_size=32, max_size=32),
    hostile_text,
)
span_payloads = st.fixed_dictionaries(
    {
        "name": hostile_text,
        "trace_id": id_like,
        "span_id": id_like,
        "start": st.one_of(finite, ints),
    },
    optional={
        "parent_id": id_like,
        "end": st.one_of(finite, ints),
        "kind": st.sampled_from(["server", "client", "producer", "consumer", "internal", "odd"]),
        "sampled": st.booleans(),
        "namespace": st.sampled_from(["aws", "remote", "local", ""]) | hostile_text,
        "attributes": st.dictionaries(
            st.sampled_from(
                [
                    "faas.invocation_id",
                    "http.request.method",
                    "url.full",
                    "rpc.system",
                    "rpc.service",
                    "http.response.status_code",
                    "aws.request_id",
                    "cloud.region",
                ]
            )
            | st.text(max_size=10),
            json_values | hostile_text,
            max_size=8,
        ),
        "annotations": st.dictionaries(hostile_text, json_values, max_size=5),
        "metadata": st.dictionaries(
            hostile_text, st.dictionaries(st.text(max_size=5), json_values, max_size=4), max_size=3
        ),
        "exceptions": st.lists(json_values, max_size=4),
        "links": st.lists(st.tuples(id_like, id_like).map(list), max_size=3),
        "error": st.booleans(),
        "throttle": st.booleans(),
        "fault": st.booleans(),
        "status": hostile_text,
    },
)
request_ids = st.one_of(st.none(), st.sampled_from(["r-1", "r-2"]), hostile_text)


@st.composite
def datagrams(draw: st.DrawFn) -> bytes:
    """A datagram as the function sends them, with hostile field values, or damaged."""
    kind = draw(st.sampled_from(["span", "spans", "start", "end", "hello", "junk", "cut"]))
    if kind in ("span", "start"):
        message = {"v": 1, "t": kind, "rid": draw(request_ids), "span": draw(span_payloads)}
    elif kind == "spans":
        items = draw(
            st.lists(st.fixed_dictionaries({"rid": request_ids, "span": span_payloads}), max_size=4)
        )
        message = {"v": 1, "t": "spans", "items": items}
    elif kind == "end":
        message = {
            "v": 1,
            "t": "end",
            "rid": draw(request_ids),
            "handed_off": draw(ints),
            "exported": draw(st.integers(min_value=-(10**6), max_value=10**6)),
            "dropped": draw(
                st.dictionaries(st.text(max_size=8), st.integers(0, 10**6), max_size=3)
            ),
        }
    elif kind == "hello":
        message = {
            "v": 1,
            "t": "hello",
            "pid": draw(ints),
            "daemon": draw(hostile_text | st.none()),
        }
    elif kind == "junk":
        return draw(st.binary(max_size=300))
    else:
        message = {"v": 1, "t": "span", "span": draw(span_payloads)}
        data = json.dumps(message).encode()
        return data[: draw(st.integers(0, len(data)))]
    return json.dumps(message, allow_nan=True).encode("utf-8", "surrogatepass")[
        : wire.MAX_DATAGRAM_BYTES
    ]


class _OfflineIntake(Intake):
    """The intake's filing logic with no socket: ``accept`` is what the receiver thread calls."""

    def __init__(self) -> None:
        import threading

        self.path = ""
        self.store = InvocationStore()
        self.condition = threading.Condition()
        self.malformed = {}
        self.daemon_address = None
        self.runtime_pid = None
        self.function_exported = 0


def _check_datagrams(batch: list[bytes]) -> None:
    intake = _OfflineIntake()
    for data in batch:
        started = time.monotonic()
        intake.accept(data)  # never raises
        assert time.monotonic() - started < HOSTILE_SECONDS
    assert len(intake.malformed) <= MAX_MALFORMED_REASONS + 1
    spans: list[Span] = []
    for request_id in ("r-1", "r-2"):
        taken, _ = intake.store.take(request_id)
        spans.extend(taken)
    held, unfinished = intake.store.take_all()
    spans.extend(held)
    spans.extend(unfinished)
    failed: list[tuple[Span, Exception]] = []
    documents = trace_documents(spans, lambda span, error: failed.append((span, error)))
    assert not failed, failed[:1]
    assert len(documents) == len(spans)  # counts balance: every span is one document
    for document in documents:
        encoded = xray_document.encode(document)
        assert len(encoded) <= MAX_DOCUMENT_BYTES
        json.loads(encoded)
    for span in spans:  # the daemon path, too
        encoded = xray_document.encode(xray_document.subsegment_document(span))
        assert len(encoded) <= MAX_DOCUMENT_BYTES


@QUICK
@given(batch=st.lists(datagrams(), min_size=1, max_size=6))
def test_any_datagrams_are_filed_or_counted_and_convert_to_documents(batch: list[bytes]) -> None:
    _check_datagrams(batch)


@pytest.mark.slow
@LONG
@given(batch=st.lists(datagrams(), min_size=1, max_size=6))
def test_any_datagrams_are_filed_or_counted_and_convert_to_documents_long(
    batch: list[bytes],
) -> None:
    _check_datagrams(batch)


def _span_datagram(**fields: Any) -> bytes:
    span = {"name": "n", "trace_id": TRACE_ID, "span_id": SPAN_ID, "start": 1.0, **fields}
    return json.dumps({"v": 1, "t": "span", "rid": "r-1", "span": span}).encode()


HOSTILE_DATAGRAMS = {
    "deep-nesting": b"[" * 100_000 + b"]" * 100_000,
    "deep-object": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    "huge-number": b'{"v":1,"t":"hello","pid":' + b"9" * 60_000 + b"}",
    "huge-float": _span_datagram(start=1e308, end=-1e308),
    "huge-id": _span_datagram(span_id="f" * 60_000),
    "huge-trace-id": _span_datagram(trace_id="1-" * 30_000),
    "huge-name": _span_datagram(name="n" * 60_000),
    "many-attributes": _span_datagram(attributes={str(i): i for i in range(6_000)}),
    "many-exceptions": _span_datagram(
        exceptions=[{"id": str(i), "stack": []} for i in range(3_000)]
    ),
    "deep-metadata": _span_datagram(metadata={"m": {"k": json.loads("[" * 500 + "]" * 500)}}),
    "nul-and-surrogates": _span_datagram(name="\x00\ud800", attributes={"\udfff": "\x00"}),
}


@pytest.mark.parametrize("data", HOSTILE_DATAGRAMS.values(), ids=HOSTILE_DATAGRAMS.keys())
def test_hostile_datagrams_take_bounded_time_and_still_give_small_documents(data: bytes) -> None:
    started = time.monotonic()
    _check_datagrams([data])
    assert time.monotonic() - started < 5 * HOSTILE_SECONDS


def test_a_real_intake_socket_survives_any_bytes(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The receiver thread itself: garbage, then a good span still arrives and is filed."""
    import socket
    import tempfile

    folder = tempfile.mkdtemp(prefix="xl-", dir="/tmp")
    path = f"{folder}/intake.sock"
    intake = Intake(path)
    try:
        sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        for data in [b"\xff" * 100, b"[" * 60_000, b"{}", b"null", *HOSTILE_DATAGRAMS.values()]:
            sender.sendto(data[: wire.MAX_DATAGRAM_BYTES], path)
        sender.sendto(_span_datagram(name="good"), path)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with intake.condition:
                names = [s.name for s in intake.store.take("r-1")[0]]
            if "good" in names:
                break
            time.sleep(0.05)
        assert "good" in names
        assert intake._thread.is_alive()
        assert sum(intake.malformed.values()) >= 4
    finally:
        intake.close()
        sender.close()
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


# --- the Telemetry API --------------------------------------------------------------------------

telemetry_events_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(
                [
                    "platform.runtimeDone",
                    "platform.report",
                    "platform.initStart",
                    "platform.initRuntimeDone",
                    "platform.initReport",
                    "platform.start",
                    "function",
                ]
            )
            | hostile_text,
        },
        optional={
            "time": hostile_text | json_values,
            "record": st.fixed_dictionaries(
                {},
                optional={
                    "requestId": hostile_text | json_values,
                    "status": st.sampled_from(["success", "error", "timeout"]) | json_values,
                    "errorType": hostile_text | json_values,
                    "metrics": st.dictionaries(
                        st.sampled_from(
                            ["durationMs", "maxMemoryUsedMB", "memorySizeMB", "initDurationMs"]
                        ),
                        json_values,
                    )
                    | json_values,
                },
            )
            | json_values,
        },
    )
    | json_values,
    max_size=10,
)


@QUICK
@given(events=telemetry_events_strategy)
def test_telemetry_batches_balance_and_read_finite_figures(events: list) -> None:
    body = json.dumps(events, allow_nan=True).encode("utf-8", "surrogatepass")
    batch = telemetry_events.parse_batch(body)
    assert len(batch.records) + batch.ignored + sum(batch.malformed.values()) == len(events)
    for record in batch.records:
        for name in ("duration_ms", "max_memory_used_mb", "memory_size_mb", "init_duration_ms"):
            figure = getattr(record, name, None)
            assert figure is None or (math.isfinite(figure) and figure >= 0)
        if not isinstance(record, telemetry_events.InitPhase):
            assert isinstance(telemetry_events.out_of_memory(record), bool)


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 200_000 + b"]" * 200_000,
        b"[" + b'{"type":"platform.report","record":{}},' * 20_000 + b"1]",
        b'[{"type":"platform.runtimeDone","record":{"requestId":"r","status":"success",'
        b'"metrics":{"durationMs":1e999}}}]',
        b"\xef\xbb\xbf[]",
        b"[" + b"9" * 100_000 + b"]",
    ],
    ids=["deep", "many", "overflowing-figure", "bom", "huge-integer"],
)
def test_hostile_telemetry_bodies_parse_in_bounded_time(body: bytes) -> None:
    started = time.monotonic()
    telemetry_events.parse_batch(body)
    assert time.monotonic() - started < HOSTILE_SECONDS


# --- exporter answers -----------------------------------------------------------------------------

answer_bodies = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps(v, allow_nan=True).encode()),
    st.fixed_dictionaries(
        {},
        optional={
            "partialSuccess": st.fixed_dictionaries(
                {},
                optional={
                    "rejectedSpans": st.one_of(json_values, st.text(max_size=30), finite),
                    "errorMessage": json_values | hostile_text,
                },
            )
            | json_values,
            "message": json_values | hostile_text,
            "UnprocessedTraceSegments": st.lists(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "Id": st.sampled_from(["a", "b", "c"]) | json_values,
                        "ErrorCode": json_values | hostile_text,
                        "Message": json_values | hostile_text,
                    },
                )
                | json_values,
                max_size=5,
            )
            | json_values,
            "__type": json_values | hostile_text,
        },
    ).map(lambda v: json.dumps(v, allow_nan=True).encode("utf-8", "surrogatepass")),
)


def _no_infinity(body: bytes) -> bool:
    """Bodies whose numbers are all finite; the infinite case is its own test."""
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return True

    def finite_all(v: Any) -> bool:
        if isinstance(v, float):
            return math.isfinite(v)
        if isinstance(v, list):
            return all(finite_all(x) for x in v)
        if isinstance(v, dict):
            return all(finite_all(x) for x in v.values())
        return True

    return finite_all(value)


@QUICK
@given(
    body=answer_bodies.filter(_no_infinity),
    count=st.integers(1, 1000),
    status=st.integers(100, 599),
)
def test_otlp_answers_never_raise_and_balance(body: bytes, count: int, status: int) -> None:
    result = otlp_http._success(count, body, 1)
    assert result.exported + result.rejected == count
    assert 0 <= result.rejected <= count
    assert result.message is None or len(result.message) <= http_export.MAX_MESSAGE_CHARS + 1
    message = otlp_http._reply_message(body, status)
    assert isinstance(message, str) and 0 < len(message) <= http_export.MAX_MESSAGE_CHARS + 1


@pytest.mark.parametrize("number", [b"1e999", b"-1e999", b"Infinity"])
def test_an_infinite_rejected_count_is_read_not_raised(number: bytes) -> None:
    body = b'{"partialSuccess":{"rejectedSpans":' + number + b"}}"
    result = otlp_http._success(5, body, 1)
    assert result.exported + result.rejected == 5


@QUICK
@given(
    body=answer_bodies,
    headers=st.dictionaries(
        st.sampled_from(["x-amzn-ErrorType", "Retry-After", "Content-Type"]), st.text(max_size=40)
    ),
    status=st.integers(100, 599),
    ids=st.lists(st.sampled_from(["a", "b", "c", "d"]), max_size=6),
)
def test_xray_api_answers_never_raise(
    body: bytes, headers: dict[str, str], status: int, ids: list[str]
) -> None:
    code, message = xray_api.aws_error(headers, body, status)
    assert isinstance(code, str) and isinstance(message, str)
    assert len(message) <= http_export.MAX_MESSAGE_CHARS + 1
    assert isinstance(xray_api.retryable(status, code), bool)
    refused = xray_api.unprocessed(http_export.json_object(body), ids)
    assert set(refused) <= set(range(len(ids)))
    for error_code, error_message in refused.values():
        assert isinstance(error_code, str) and isinstance(error_message, str)
    if refused:
        assert xray_api._refused_message(refused.values()).startswith("unprocessed: ")


@QUICK
@given(
    value=st.one_of(
        st.none(),
        st.text(max_size=60),
        st.text(alphabet="0123456789", min_size=1, max_size=400),
        st.sampled_from(
            [
                "Wed, 21 Oct 2015 07:28:00 GMT",
                "Wed, 21 Oct 99999 07:28:00 GMT",
                "Wed, 21 Oct 2015 07:28:00 +9999",
                "Wed, 32 Foo 2015 25:61:61 GMT",
                "-1",
                "1e9",
                "٣",
                "0x10",
            ]
        ),
    )
)
def test_retry_after_is_none_or_a_non_negative_wait(value: str | None) -> None:
    after = http_export.retry_after(value)
    assert after is None or (after >= 0 and not math.isnan(after))


class _Scripted(http_export.HttpSender):
    """A sender whose posts answer from a script, on a fake clock: no network, no waiting."""

    def __init__(self, answers: list[Any]) -> None:
        self.now = 0.0
        self.slept = 0.0
        super().__init__(clock=lambda: self.now, sleep=self._sleep)
        self.answers = list(answers)
        self.posts = 0

    def _sleep(self, seconds: float) -> None:
        assert seconds >= 0 and math.isfinite(seconds)
        self.slept += seconds
        self.now += seconds

    def post(self, target: Any, body: bytes, headers: Any, timeout: float) -> http_export.Reply:
        self.posts += 1
        self.now += 0.01
        answer = self.answers.pop(0) if self.answers else (200, {}, b"")
        if isinstance(answer, BaseException):
            raise answer
        status, answer_headers, answer_body = answer
        return http_export.Reply(status, answer_headers, answer_body)


answers = st.lists(
    st.one_of(
        st.tuples(
            st.sampled_from([200, 202, 400, 401, 403, 413, 429, 500, 502, 503, 504]),
            st.fixed_dictionaries(
                {},
                optional={
                    "Retry-After": st.one_of(
                        st.text(alphabet="0123456789", min_size=1, max_size=400),
                        st.sampled_from(["Wed, 21 Oct 2099 07:28:00 GMT", "soon", "-5"]),
                    ),
                    "x-amzn-ErrorType": st.sampled_from(["ThrottlingException", "Bad", ""]),
                },
            ),
            answer_bodies,
        ),
        st.sampled_from([TimeoutError("slow"), ConnectionResetError("reset"), OSError("down")]),
    ),
    max_size=12,
)


@QUICK
@given(script=answers, budget=st.floats(0.0, 30.0), exporter=st.sampled_from(["otlp", "xray"]))
def test_any_answers_end_within_the_deadline_and_the_attempt_limit(
    script: list[Any], budget: float, exporter: str
) -> None:
    sender = _Scripted(script)
    retry = otlp_http._retry if exporter == "otlp" else xray_api._retry
    delivery = sender.send(
        None,
        b"{}",
        budget,
        headers=lambda: {},
        timeout=5.0,
        retry=retry,  # type: ignore[arg-type]
    )
    assert sender.posts <= http_export.MAX_ATTEMPTS
    assert sender.now <= budget + 0.01 * http_export.MAX_ATTEMPTS  # no sleep past the deadline
    assert delivery.attempts == sender.posts
    if delivery.reply is None:
        assert delivery.dropped(7).total == 7
