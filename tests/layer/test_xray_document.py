"""A finished span becomes the X-Ray document the console needs, always valid and under 64 KB."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from xraylayer import semconv as sc
from xraylayer import xray_document as xd
from xraylayer.spans import CLIENT, INTERNAL, PRODUCER, SERVER, Span
from xraylayer.xray_udp import HEADER
from xraylayer_local.xray_daemon import parse_datagram

TRACE_ID = "5759e988bd862e3fe1be46a994272793"
ROOT = "1-5759e988-bd862e3fe1be46a994272793"
PARENT = "53995c3f42cd8ad8"
HEX16 = set("0123456789abcdef")


def strict_loads(data: bytes) -> dict:
    """JSON as Go's decoder (the daemon, X-Ray) reads it: no NaN, no Infinity."""

    def refuse(name: str) -> None:
        raise ValueError(f"{name} is not JSON")

    return json.loads(data.decode("utf-8"), parse_constant=refuse)


def finished(name: str = "work", *, kind: str = INTERNAL, **attributes: object) -> Span:
    span = Span(name, TRACE_ID, PARENT, kind=kind, attributes=attributes, start_time=1000.5)
    span.end(1001.25)
    return span


def raised(exception: BaseException) -> BaseException:
    try:
        raise exception
    except BaseException as caught:
        return caught


# --- the subsegment ----------------------------------------------------------------------------


def test_subsegment_has_the_fields_x_ray_requires_of_an_independent_subsegment():
    document = xd.subsegment_document(finished("work"))
    assert document["type"] == "subsegment"
    assert document["trace_id"] == ROOT
    assert document["parent_id"] == PARENT
    assert len(document["id"]) == 16 and set(document["id"]) <= HEX16
    assert document["name"] == "work"
    assert document["start_time"] == 1000.5
    assert document["end_time"] == 1001.25
    assert "in_progress" not in document
    assert "namespace" not in document  # work inside the function


def test_the_invocations_subsegment_names_the_layer_and_its_version_and_only_it():
    """Lambda writes the function's segment, so the layer's ``aws.xray`` cannot be there: every
    trace finds the layer's version on the invocation's subsegment instead."""
    from xraylayer import __version__

    cold = {sc.FAAS_COLDSTART: True}
    invocation = xd.subsegment_document(finished("orders", kind=SERVER, **cold))
    child = xd.subsegment_document(finished("work"))
    assert invocation["metadata"]["xraylayer"] == {"sdk": "xraylayer", "sdk_version": __version__}
    assert "metadata" not in child
    segment = xd.segment_document(finished("orders", kind=SERVER, **cold))
    assert segment["aws"]["xray"] == {"sdk": "xraylayer", "sdk_version": __version__}


def test_an_open_span_is_in_progress():
    span = Span("open", TRACE_ID, PARENT)
    document = xd.subsegment_document(span)
    assert document["in_progress"] is True
    assert "end_time" not in document


def test_aws_sdk_span_has_namespace_aws_and_the_aws_block():
    span = finished(
        "DynamoDB",
        kind=CLIENT,
        **{
            sc.RPC_SYSTEM: "aws-api",
            sc.RPC_SERVICE: "DynamoDB",
            sc.RPC_METHOD: "PutItem",
            sc.AWS_REGION: "eu-west-1",
            sc.AWS_REQUEST_ID: "REQ123",
            sc.AWS_RETRIES: 2,
            sc.AWS_DYNAMODB_TABLE_NAMES: ["orders"],
            sc.HTTP_RESPONSE_STATUS_CODE: 200,
            sc.SERVER_ADDRESS: "dynamodb.eu-west-1.amazonaws.com",
        },
    )
    document = xd.subsegment_document(span)
    assert document["namespace"] == "aws"
    assert document["aws"] == {
        "operation": "PutItem",
        "region": "eu-west-1",
        "request_id": "REQ123",
        "retries": 2,
        "table_name": "orders",
    }
    assert document["http"] == {"response": {"status": 200}}
    # Attributes with no X-Ray field are kept under metadata.otel; mapped ones are not repeated.
    assert document["metadata"]["otel"] == {
        sc.RPC_SYSTEM: "aws-api",
        sc.RPC_SERVICE: "DynamoDB",
        sc.SERVER_ADDRESS: "dynamodb.eu-west-1.amazonaws.com",
    }


def test_several_tables_are_listed_as_table_names():
    span = finished("DynamoDB", **{sc.AWS_DYNAMODB_TABLE_NAMES: ["a", "b"]})
    assert xd.subsegment_document(span)["aws"] == {"table_names": ["a", "b"]}


@pytest.mark.parametrize(
    ("attribute", "field", "value"),
    [
        (sc.AWS_S3_BUCKET, "bucket_name", "my-bucket"),
        (sc.AWS_S3_KEY, "key", "path/to/object"),
        (sc.AWS_SQS_QUEUE_URL, "queue_url", "https://sqs.us-east-1.amazonaws.com/1/q"),
        (sc.AWS_SNS_TOPIC_ARN, "topic_arn", "arn:aws:sns:us-east-1:1:t"),
        (sc.AWS_LAMBDA_FUNCTION_NAME, "function_name", "other-fn"),
        (sc.AWS_KINESIS_STREAM_NAME, "stream_name", "clicks"),
        (sc.AWS_SFN_STATE_MACHINE_ARN, "state_machine_arn", "arn:aws:states:us-east-1:1:sm"),
        (sc.AWS_EVENTBRIDGE_BUS, "event_bus_name", "default"),
        (sc.AWS_SECRETSMANAGER_SECRET_ARN, "secret_arn", "arn:aws:secretsmanager:x"),
        (sc.CLOUD_ACCOUNT_ID, "account_id", "123456789012"),
    ],
)
def test_resource_attributes_map_to_the_aws_fields_x_ray_shows(attribute, field, value):
    document = xd.subsegment_document(finished("S3", **{attribute: value}))
    assert document["aws"] == {field: value}
    assert attribute not in document.get("metadata", {}).get("otel", {})


def test_an_attribute_of_the_wrong_type_is_not_mapped_but_kept_in_metadata():
    document = xd.subsegment_document(
        finished("S3", **{sc.AWS_RETRIES: "two", sc.AWS_S3_BUCKET: 7})
    )
    assert "aws" not in document
    assert document["metadata"]["otel"] == {sc.AWS_RETRIES: "two", sc.AWS_S3_BUCKET: 7}


def test_http_span_has_namespace_remote_and_the_http_block():
    span = finished(
        "api.example.com",
        kind=CLIENT,
        **{
            sc.HTTP_REQUEST_METHOD: "GET",
            sc.URL_FULL: "https://api.example.com/items",
            sc.HTTP_RESPONSE_STATUS_CODE: 404,
            sc.HTTP_RESPONSE_BODY_SIZE: 17,
        },
    )
    span.set_status_code(404)
    document = xd.subsegment_document(span)
    assert document["namespace"] == "remote"
    assert document["http"] == {
        "request": {"method": "GET", "url": "https://api.example.com/items"},
        "response": {"status": 404, "content_length": 17},
    }
    assert document["error"] is True
    assert "fault" not in document and "throttle" not in document


def test_older_http_attribute_names_from_user_instrumentations_are_understood():
    span = finished(
        "h",
        kind=CLIENT,
        **{"http.method": "POST", "http.url": "http://h/x", "http.status_code": 503},
    )
    assert xd.subsegment_document(span)["http"] == {
        "request": {"method": "POST", "url": "http://h/x"},
        "response": {"status": 503},
    }


@pytest.mark.parametrize(
    ("kind", "namespace", "expected"),
    [
        (PRODUCER, None, "remote"),
        (SERVER, None, None),
        (INTERNAL, "remote", "remote"),
        (CLIENT, "aws", "aws"),
        (CLIENT, "bogus", "remote"),
    ],
)
def test_namespace(kind, namespace, expected):
    span = finished("x", kind=kind)
    span.namespace = namespace
    assert xd.subsegment_document(span).get("namespace") == expected


@pytest.mark.parametrize(
    ("status", "flags"),
    [
        (200, set()),
        (400, {"error"}),
        (429, {"error", "throttle"}),
        (500, {"fault"}),
    ],
)
def test_error_throttle_fault(status, flags):
    span = finished("x")
    span.set_status_code(status)
    document = xd.subsegment_document(span)
    assert {flag for flag in ("error", "throttle", "fault") if document.get(flag)} == flags


# --- names, annotations, metadata --------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("api.example.com:443", "api.example.com:443"),
        ("## handler", "## handler"),
        ("a?b;c*d(e)f!g$h~i^j<k>l", "abcdefghijkl"),
        ("tab\tand\nnewline", "tab and newline"),
        ("Überprüfung_日本", "Überprüfung_日本"),
        ("?!*", "unnamed"),
        ("", "unnamed"),
        ("x" * 300, "x" * 200),
    ],
)
def test_names_follow_x_ray_rules(name, expected):
    assert xd.subsegment_document(finished(name))["name"] == expected


def test_annotations_keep_only_valid_keys_and_values():
    span = finished("x")
    span.annotations.update(
        {
            "ok_key": "v",
            "with space": 1,
            "dotted.key": True,
            "n": float("nan"),
            "inf": float("inf"),
            "obj": object,  # type: ignore[dict-item]
            "big": 2**100,
        }
    )
    annotations = xd.subsegment_document(span)["annotations"]
    assert annotations["ok_key"] == "v"
    assert annotations["with_space"] == 1
    assert annotations["dotted_key"] is True
    assert annotations["n"] == "NaN"
    assert annotations["inf"] == "Infinity"
    assert annotations["obj"] == "<class 'object'>"
    assert annotations["big"] == str(2**100)


def test_metadata_values_of_any_type_become_json():
    class Thing:
        def __repr__(self) -> str:
            return "<Thing>"

    span = finished("x")
    span.metadata["default"] = {
        "order": {"id": 1, "items": ("a", "b")},
        "thing": Thing(),
        "tags": {"x"},
        "raw": b"bytes\xff",
        "nan": float("nan"),
        "tuple_key": {(1, 2): "v"},
    }
    span.metadata["AWS.reserved"] = {"k": 1}
    document = xd.subsegment_document(span)
    decoded = strict_loads(xd.encode(document))
    default = decoded["metadata"]["default"]
    assert default["order"] == {"id": 1, "items": ["a", "b"]}
    assert default["thing"] == "<Thing>"
    assert default["tags"] == ["x"]
    assert default["raw"] == "bytes\\xff"
    assert default["nan"] == "NaN"
    assert default["tuple_key"] == {"(1, 2)": "v"}
    assert decoded["metadata"]["user.AWS.reserved"] == {"k": 1}
    assert "AWS.reserved" not in decoded["metadata"]


def test_links_and_status_message_are_kept_as_layer_notes():
    span = finished("consumer")
    span.links.append(("0123456789abcdef0123456789abcdef", "1111111111111111"))
    span.status_message = "failed without an exception"
    notes = xd.subsegment_document(span)["metadata"]["xraylayer"]
    assert notes["links"] == [
        {"trace_id": "1-01234567-89abcdef0123456789abcdef", "id": "1111111111111111"}
    ]
    assert notes["status_message"] == "failed without an exception"


# --- cause ---------------------------------------------------------------------------------------


def test_an_exception_becomes_the_cause_with_its_stack():
    span = finished("x")
    record = span.record_exception(raised(ValueError("bad input")))
    document = xd.subsegment_document(span)
    assert document["fault"] is True
    (exception,) = document["cause"]["exceptions"]
    assert exception["id"] == record["id"]
    assert exception["type"] == "ValueError"
    assert exception["message"] == "bad input"
    assert exception["remote"] is False
    assert exception["stack"][0]["label"] == "raised"
    assert exception["stack"][0]["path"].endswith("test_xray_document.py")
    assert isinstance(exception["stack"][0]["line"], int)


def test_a_remote_exception_is_an_error_not_a_fault():
    span = finished("x")
    span.record_exception(raised(RuntimeError("503 from downstream")), remote=True)
    document = xd.subsegment_document(span)
    assert document["error"] is True and "fault" not in document
    assert document["cause"]["exceptions"][0]["remote"] is True


def test_an_exception_that_propagates_is_referenced_by_id_in_the_parent():
    error = raised(KeyError("k"))
    child, parent = finished("child"), finished("parent")
    child.record_exception(error)
    parent.record_exception(error)
    child_document = xd.subsegment_document(child)
    known = set(xd.recorded_exception_ids(child))
    parent_document = xd.subsegment_document(parent, known_exception_ids=known)
    exception_id = child_document["cause"]["exceptions"][0]["id"]
    assert parent_document["cause"] == exception_id


def test_a_parent_with_an_exception_of_its_own_keeps_the_full_cause():
    child_error, own_error = raised(KeyError("k")), raised(ValueError("v"))
    child, parent = finished("child"), finished("parent")
    child.record_exception(child_error)
    parent.record_exception(child_error)
    parent.record_exception(own_error)
    known = set(xd.recorded_exception_ids(child))
    cause = xd.subsegment_document(parent, known_exception_ids=known)["cause"]
    assert [e["type"] for e in cause["exceptions"]] == ["KeyError", "ValueError"]


def test_malformed_exception_records_still_give_a_valid_cause():
    span = finished("x")
    span.exceptions.extend(
        [
            {"id": "not-an-id", "type": 3, "stack": [{"path": None, "line": "x"}, "frame"]},
            "not a record",
        ]
    )
    (exception,) = xd.subsegment_document(span)["cause"]["exceptions"]
    assert len(exception["id"]) == 16 and set(exception["id"]) <= HEX16
    assert exception["type"] == "3"
    assert exception["stack"] == [{}]


# --- the full segment ----------------------------------------------------------------------------


def test_segment_document_for_an_unsampled_invocation():
    span = finished(
        "my-function",
        kind=SERVER,
        **{sc.CLOUD_RESOURCE_ID: "arn:aws:lambda:us-east-1:1:function:my-function"},
    )
    document = xd.segment_document(span)
    assert document["origin"] == "AWS::Lambda::Function"
    assert "type" not in document and "parent_id" not in document
    assert document["trace_id"] == ROOT and document["id"] == span.span_id
    assert document["aws"]["function_arn"] == "arn:aws:lambda:us-east-1:1:function:my-function"
    assert document["aws"]["xray"]["sdk"] == "xraylayer"
    assert (
        xd.segment_document(span, parent_id="1234567890abcdef")["parent_id"] == "1234567890abcdef"
    )


def test_trace_id_already_in_x_ray_form_or_invalid_is_passed_through():
    span = finished("x")
    span.trace_id = ROOT
    assert xd.subsegment_document(span)["trace_id"] == ROOT
    span.trace_id = "garbage"
    assert xd.subsegment_document(span)["trace_id"] == "garbage"


# --- encoding and size ---------------------------------------------------------------------------


def test_encode_is_compact_strict_json_the_daemon_accepts():
    span = finished("x", weird=float("inf"))
    body = xd.encode(xd.subsegment_document(span))
    assert b": " not in body and b", " not in body
    assert strict_loads(body)["metadata"]["otel"]["weird"] == "Infinity"
    assert parse_datagram(HEADER + body)["id"] == span.span_id


def test_encode_survives_values_no_json_encoder_takes():
    body = xd.encode({"a": {1j: float("nan")}, "b": [object()], "c": "\ud800"})
    decoded = strict_loads(body)
    assert decoded["a"] == {"1j": "NaN"}
    assert decoded["c"] == "?"


def deep_stack_span(frames: int) -> Span:
    span = finished("x")
    span.exceptions.append(
        {
            "id": "1234567890abcdef",
            "type": "RecursionError",
            "message": "deep",
            "remote": False,
            "stack": [
                {"path": f"/var/task/m{i}.py", "line": i, "label": f"f{i}"} for i in range(frames)
            ],
        }
    )
    span.fault = True
    return span


def notes(document: dict) -> list[str]:
    return document["metadata"]["xraylayer"]["truncated"]


def test_a_huge_stack_is_cut_first_and_the_cut_is_counted():
    span = deep_stack_span(5000)
    span.metadata["default"] = {"kept": "small"}
    document = xd.subsegment_document(span)
    assert len(xd.encode(document)) <= xd.MAX_DOCUMENT_BYTES
    (exception,) = document["cause"]["exceptions"]
    assert len(exception["stack"]) == xd.STACK_FRAMES_KEPT
    assert exception["truncated"] == 5000 - xd.STACK_FRAMES_KEPT
    assert exception["stack"][0]["label"] == "f0"  # innermost frames kept
    assert notes(document) == ["stack"]
    assert document["metadata"]["default"] == {"kept": "small"}


def test_huge_metadata_is_shortened_before_strings_elsewhere():
    span = finished("x", **{sc.URL_FULL: "https://h/" + "p" * 2000})
    span.kind = CLIENT
    span.metadata["default"] = {"blob": "y" * 100_000, "small": 1}
    document = xd.subsegment_document(span)
    assert len(xd.encode(document)) <= xd.MAX_DOCUMENT_BYTES
    assert "metadata" in notes(document) and "strings" not in notes(document)
    assert document["metadata"]["default"]["small"] == 1
    assert document["metadata"]["default"]["blob"].startswith('"yyy')
    assert document["http"]["request"]["url"].endswith("p" * 100)


def test_many_large_metadata_values_are_dropped_as_a_whole():
    span = finished("x")
    span.metadata["default"] = {f"k{i}": "z" * 900 for i in range(200)}
    document = xd.subsegment_document(span)
    assert len(xd.encode(document)) <= xd.MAX_DOCUMENT_BYTES
    assert "default" not in document["metadata"]
    assert notes(document) == ["metadata"]


def test_long_strings_outside_metadata_are_cut():
    span = finished("x", **{sc.URL_FULL: "https://h/" + "p" * 100_000})
    document = xd.subsegment_document(span)
    assert len(xd.encode(document)) <= xd.MAX_DOCUMENT_BYTES
    assert "strings" in notes(document)
    assert document["http"]["request"]["url"].endswith("…")
    assert document["id"] == span.span_id and document["trace_id"] == ROOT


def test_when_nothing_else_helps_the_core_of_the_document_is_sent():
    span = finished("x")
    span.fault = True
    span.annotations.update({f"key_{i}": i for i in range(10_000)})
    document = xd.subsegment_document(span)
    assert len(xd.encode(document)) <= xd.MAX_DOCUMENT_BYTES
    assert notes(document)[-1] == "document"
    assert document["id"] == span.span_id
    assert document["parent_id"] == PARENT
    assert document["fault"] is True
    assert "annotations" not in document


def test_fit_to_a_small_limit():
    span = deep_stack_span(100)
    span.metadata["default"] = {"a": "b" * 5000}
    document = xd.fit(xd.subsegment_document(span), 1000)
    assert len(xd.encode(document)) <= 1000


# --- any span at all ---------------------------------------------------------------------------

big_strings = st.integers(0, 150_000).map(lambda n: "s" * n)
leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(-(2**2000), 2**2000)
    | st.floats()
    | st.text(max_size=50)
    | st.binary(max_size=50)
    | st.builds(object)
    | big_strings
)
values = st.recursive(
    leaves,
    lambda children: (
        st.lists(children, max_size=5)
        | st.tuples(children, children)
        | st.frozensets(st.integers(), max_size=5)
        | st.dictionaries(
            st.text(max_size=10) | st.integers() | st.tuples(st.integers()), children, max_size=5
        )
        | st.integers(0, 30_000).map(lambda n: list(range(n)))
        | st.integers(0, 3000).map(lambda n: {f"k{i}": i for i in range(n)})
    ),
    max_leaves=12,
)
frames = st.lists(
    st.fixed_dictionaries(
        {"path": st.text(max_size=30), "line": st.integers(), "label": st.text(max_size=20)}
    ),
    max_size=3,
).map(lambda fs: fs * 500)
exception_records = st.fixed_dictionaries(
    {"id": st.text("0123456789abcdef", min_size=16, max_size=16), "type": st.text(max_size=20)},
    optional={
        "message": values,
        "remote": st.booleans(),
        "stack": frames,
        "truncated": st.integers(),
    },
)


ATTRIBUTE_NAMES = [v for k, v in vars(sc).items() if k.isupper()] + ["x", "y"]


@st.composite
def spans(draw: st.DrawFn) -> Span:
    span = Span(
        draw(st.text(max_size=300)),
        draw(st.text("0123456789abcdef", min_size=32, max_size=32)),
        draw(st.none() | st.text("0123456789abcdef", min_size=16, max_size=16)),
        kind=draw(st.sampled_from([INTERNAL, CLIENT, SERVER, PRODUCER])),
        attributes=draw(st.dictionaries(st.sampled_from(ATTRIBUTE_NAMES), values, max_size=6)),
        start_time=draw(st.floats(0, 2e9)),
    )
    if draw(st.booleans()):
        span.end(span.start_time + draw(st.floats(0, 1000)))
    span.annotations = draw(st.dictionaries(st.text(max_size=20), values, max_size=5))
    span.metadata = draw(
        st.dictionaries(
            st.text(max_size=10),
            st.dictionaries(st.text(max_size=10), values, max_size=4),
            max_size=3,
        )
    )
    span.exceptions = draw(st.lists(exception_records, max_size=3))
    span.error, span.throttle, span.fault = draw(
        st.tuples(st.booleans(), st.booleans(), st.booleans())
    )
    span.links = draw(st.lists(st.tuples(st.text(max_size=32), st.text(max_size=16)), max_size=2))
    return span


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(spans(), st.booleans())
def test_any_span_gives_a_valid_document_under_64_kb(span, as_segment):
    document = xd.segment_document(span) if as_segment else xd.subsegment_document(span)
    body = xd.encode(document)
    assert len(body) <= xd.MAX_DOCUMENT_BYTES
    decoded = parse_datagram(HEADER + body)  # the daemon's own acceptance rules
    assert strict_loads(body) == decoded
    for field in ("id", "trace_id", "name", "start_time"):
        assert field in decoded
    assert ("end_time" in decoded) != ("in_progress" in decoded)
    assert decoded["id"] == span.span_id
    assert decoded["name"] and len(decoded["name"]) <= 200
    assert all(
        isinstance(value, (str, int, float, bool))
        for value in decoded.get("annotations", {}).values()
    )
    assert all(
        k.replace("_", "a").isascii() and k.replace("_", "a").isalnum()
        for k in decoded.get("annotations", {})
    )
