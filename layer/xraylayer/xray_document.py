"""A finished span as an X-Ray segment document (lambda-platform.md §5.3).

Pure functions, shared by the function process (its fallback when no extension takes the spans)
and by the extension. The span's OpenTelemetry-style attributes become the ``aws`` and ``http``
blocks X-Ray draws its service map from; every attribute with no X-Ray field goes to metadata
under ``otel``, so nothing the instrumentation recorded is lost. The layer's own notes (what was
truncated, span links) go under ``xraylayer``.

A document is at most ``MAX_DOCUMENT_BYTES`` when encoded, because the daemon drops a datagram
larger than 64 KiB whole. A larger one is shrunk, in order, by cutting stack traces, then
metadata, then long strings, and finally to its core fields; the steps taken are listed in
``metadata.xraylayer.truncated``. A document is never dropped.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable

from . import __version__, xray_rules
from . import semconv as sc
from .json_values import ELLIPSIS, dumps, json_safe, truncate_strings
from .spans import CLIENT, PRODUCER, Span
from .trace_header import from_w3c_trace_id, is_span_id, is_trace_id, new_id

# Type names only: `typing` costs 2 ms at every cold start.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MAX_DOCUMENT_BYTES = 64_000  # under the daemon's 64 KiB datagram with its 30-byte header
ORIGIN_FUNCTION = "AWS::Lambda::Function"
ATTRIBUTES_NAMESPACE = "otel"  # metadata namespace for attributes with no X-Ray field
LAYER_NAMESPACE = "xraylayer"  # metadata namespace for the layer's notes
SDK_INFO = {"sdk": "xraylayer", "sdk_version": __version__}

# Attribute -> field of the ``aws`` block (strings). Table names and retries are handled apart.
_AWS_FIELDS = (
    (sc.RPC_METHOD, "operation"),
    (sc.AWS_REGION, "region"),
    (sc.AWS_REQUEST_ID, "request_id"),
    (sc.CLOUD_ACCOUNT_ID, "account_id"),
    (sc.AWS_S3_BUCKET, "bucket_name"),
    (sc.AWS_S3_KEY, "key"),
    (sc.AWS_SQS_QUEUE_URL, "queue_url"),
    (sc.AWS_SNS_TOPIC_ARN, "topic_arn"),
    (sc.AWS_LAMBDA_FUNCTION_NAME, "function_name"),
    (sc.AWS_KINESIS_STREAM_NAME, "stream_name"),
    (sc.AWS_SFN_STATE_MACHINE_ARN, "state_machine_arn"),
    (sc.AWS_EVENTBRIDGE_BUS, "event_bus_name"),
    (sc.AWS_SECRETSMANAGER_SECRET_ARN, "secret_arn"),
)
# (current semconv name, older name user instrumentations still write) -> field.
_HTTP_REQUEST_FIELDS = (
    ((sc.HTTP_REQUEST_METHOD, "http.method"), "method"),
    ((sc.URL_FULL, "http.url"), "url"),
    ((sc.USER_AGENT, "http.user_agent"), "user_agent"),
)
_HTTP_RESPONSE_FIELDS = (
    ((sc.HTTP_RESPONSE_STATUS_CODE, "http.status_code"), "status"),
    ((sc.HTTP_RESPONSE_BODY_SIZE, "http.response_content_length"), "content_length"),
)
_NAMESPACES = ("aws", "remote", "local")
_FLAGS = ("error", "throttle", "fault")

# Shrinking: how much is kept at each step.
STACK_FRAMES_KEPT = 10
EXCEPTIONS_KEPT = 10
METADATA_VALUE_CHARS_KEPT = 1024
_ID_KEYS = frozenset({"id", "trace_id", "parent_id", "cause"})
_CORE_KEYS = (
    "id",
    "trace_id",
    "parent_id",
    "type",
    "name",
    "start_time",
    "end_time",
    "in_progress",
    "namespace",
    "origin",
    *_FLAGS,
)


def subsegment_document(span: Span, *, known_exception_ids: Collection[str] = ()) -> dict:
    """An independent subsegment (``type: subsegment`` with ``trace_id`` and ``parent_id``),
    the form in which each span joins the segment Lambda writes for the invocation.

    ``known_exception_ids``: exceptions already sent in a child's document. When every
    exception of this span is one of them (it propagated up), ``cause`` is just its id, as the
    X-Ray SDK writes it, instead of a second copy of the stack.
    """
    body = _body(span, known_exception_ids)
    document: dict[str, Any] = {"type": "subsegment", "id": body.pop("id")}
    document["trace_id"] = body.pop("trace_id")
    if span.parent_id:
        document["parent_id"] = _string(span.parent_id)
    document.update(body)
    return fit(document)


def segment_document(
    span: Span,
    *,
    parent_id: str | None = None,
    known_exception_ids: Collection[str] = (),
) -> dict:
    """A full segment (``origin: AWS::Lambda::Function``) for an invocation that is not part of
    a sampled Lambda trace, so no segment of Lambda's exists to hang it under. ``parent_id`` is
    set only when given: the span's own parent is Lambda's unsent Invocation subsegment."""
    document = _body(span, known_exception_ids)
    document["origin"] = ORIGIN_FUNCTION
    if parent_id:
        document["parent_id"] = parent_id
    aws = document.setdefault("aws", {})
    attributes = span.attributes if isinstance(span.attributes, dict) else {}
    if isinstance(attributes.get(sc.CLOUD_RESOURCE_ID), str):
        aws["function_arn"] = attributes[sc.CLOUD_RESOURCE_ID]
    aws["xray"] = dict(SDK_INFO)
    return fit(document)


def encode(document: dict) -> bytes:
    """Compact UTF-8 JSON, as the daemon and ``PutTraceSegments`` take it; never raises
    (a value JSON cannot hold is converted, NaN becomes a string)."""
    return dumps(document, finite=True).encode("utf-8", "replace")


def recorded_exception_ids(span: Span) -> list[str]:
    """The ids of the exceptions ``span`` recorded: pass them as ``known_exception_ids`` when
    converting its ancestors, so an exception that propagates is referenced, not repeated."""
    records = span.exceptions if isinstance(span.exceptions, list) else []
    return [str(r["id"]) for r in records if isinstance(r, dict) and "id" in r]


def subsegment_documents(
    spans: Iterable[Span], on_error: Callable[[Span, Exception], None]
) -> list[dict]:
    """One subsegment document per span, in the order given (children first, as they
    finished), so an exception that propagated is sent once and referenced by id in its
    ancestors. A span that cannot be converted is passed to ``on_error`` and left out."""
    documents = []
    known: set[str] = set()
    for span in spans:
        try:
            documents.append(subsegment_document(span, known_exception_ids=known))
            known.update(recorded_exception_ids(span))
        except Exception as error:
            on_error(span, error)
    return documents


# --- the document body -------------------------------------------------------------------------


def _body(span: Span, known_exception_ids: Collection[str]) -> dict[str, Any]:
    attributes = span.attributes if isinstance(span.attributes, dict) else {}
    document: dict[str, Any] = {
        "id": _string(span.span_id),
        "trace_id": _trace_id(span.trace_id),
        "name": xray_rules.segment_name(span.name),
        "start_time": _time(span.start_time),
    }
    if span.end_time is None:
        document["in_progress"] = True
    else:
        document["end_time"] = _time(span.end_time)
    namespace = _namespace(span, attributes)
    if namespace:
        document["namespace"] = namespace
    aws, aws_used = _aws_block(attributes)
    http, http_used = _http_block(attributes)
    if aws:
        document["aws"] = aws
    if http:
        document["http"] = http
    for flag in _FLAGS:
        if getattr(span, flag, False):
            document[flag] = True
    cause = _cause(span.exceptions, known_exception_ids)
    if cause:
        document["cause"] = cause
    annotations = _annotations(span.annotations)
    if annotations:
        document["annotations"] = annotations
    remaining = {k: v for k, v in attributes.items() if k not in aws_used and k not in http_used}
    metadata = _metadata(span, remaining)
    if metadata:
        document["metadata"] = metadata
    return document


def _namespace(span: Span, attributes: dict) -> str | None:
    """``aws`` for AWS SDK calls (X-Ray names the node after the service), ``remote`` for other
    outgoing calls, none for work inside the function."""
    if span.namespace in _NAMESPACES:
        return span.namespace
    if attributes.get(sc.RPC_SYSTEM) == "aws-api":
        return "aws"
    if span.kind in (CLIENT, PRODUCER):
        return "remote"
    return None


def _aws_block(attributes: dict) -> tuple[dict[str, Any], set[str]]:
    aws: dict[str, Any] = {}
    used: set[str] = set()
    for attribute, field in _AWS_FIELDS:
        value = attributes.get(attribute)
        if isinstance(value, str):
            aws[field] = value
            used.add(attribute)
    retries = attributes.get(sc.AWS_RETRIES)
    if isinstance(retries, int) and not isinstance(retries, bool):
        aws["retries"] = retries
        used.add(sc.AWS_RETRIES)
    tables = attributes.get(sc.AWS_DYNAMODB_TABLE_NAMES)
    if isinstance(tables, str):
        tables = [tables]
    if isinstance(tables, (list, tuple)) and tables and all(isinstance(t, str) for t in tables):
        if len(tables) == 1:
            aws["table_name"] = tables[0]
        else:
            aws["table_names"] = list(tables)
        used.add(sc.AWS_DYNAMODB_TABLE_NAMES)
    return aws, used


def _http_block(attributes: dict) -> tuple[dict[str, Any], set[str]]:
    used: set[str] = set()
    request = {}
    for names, field in _HTTP_REQUEST_FIELDS:
        name, value = _first_present(attributes, names, str)
        if name:
            request[field] = value
            used.add(name)
    response = {}
    for names, field in _HTTP_RESPONSE_FIELDS:
        name, value = _first_present(attributes, names, int)
        if name:
            response[field] = value
            used.add(name)
    http: dict[str, Any] = {}
    if request:
        http["request"] = request
    if response:
        http["response"] = response
    return http, used


def _first_present(attributes: dict, names: tuple[str, ...], kind: type) -> tuple[str | None, Any]:
    for name in names:
        value = attributes.get(name)
        if isinstance(value, kind) and not isinstance(value, bool):
            return name, value
    return None, None


def _cause(exceptions: Any, known_exception_ids: Collection[str]) -> str | dict | None:
    records = [r for r in exceptions if isinstance(r, dict)] if isinstance(exceptions, list) else []
    if not records:
        return None
    ids = [str(record.get("id")) for record in records]
    if known_exception_ids and all(i in known_exception_ids for i in ids):
        return ids[-1]  # the exception that left the span, already in a child's document
    return {"exceptions": [_exception(record) for record in records]}


def _exception(record: dict) -> dict[str, Any]:
    exception_id = record.get("id")
    if not (isinstance(exception_id, str) and is_span_id(exception_id)):
        exception_id = new_id()  # X-Ray requires an id; this one is referenced by no one
    exception: dict[str, Any] = {"id": exception_id}
    for key in ("message", "type", "cause"):
        if record.get(key) is not None:
            exception[key] = _string(record[key])
    if "remote" in record:
        exception["remote"] = bool(record["remote"])
    for key in ("truncated", "skipped"):
        count = record.get(key)
        if isinstance(count, int) and not isinstance(count, bool) and count > 0:
            exception[key] = count
    stack = record.get("stack")
    if isinstance(stack, list):
        exception["stack"] = [_frame(frame) for frame in stack if isinstance(frame, dict)]
    return exception


def _frame(frame: dict) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key in ("path", "label"):
        if frame.get(key) is not None:
            result[key] = _string(frame[key])
    line = frame.get("line")
    if isinstance(line, int) and not isinstance(line, bool):
        result["line"] = line
    return result


def _annotations(annotations: Any) -> dict[str, Any]:
    if not isinstance(annotations, dict):
        return {}
    return {
        xray_rules.annotation_key(key): xray_rules.annotation_value(value)
        for key, value in annotations.items()
    }


def _metadata(span: Span, remaining_attributes: dict) -> dict[str, Any]:
    metadata: dict[str, dict[str, Any]] = {}
    if isinstance(span.metadata, dict):
        for namespace, entries in span.metadata.items():
            target = metadata.setdefault(xray_rules.metadata_namespace(namespace), {})
            if isinstance(entries, dict):
                target.update(json_safe(entries))
            else:
                target["value"] = json_safe(entries)
    if remaining_attributes:
        metadata.setdefault(ATTRIBUTES_NAMESPACE, {}).update(json_safe(remaining_attributes))
    notes = _layer_notes(span)
    if notes:
        metadata.setdefault(LAYER_NAMESPACE, {}).update(notes)
    return metadata


def _layer_notes(span: Span) -> dict[str, Any]:
    """What X-Ray has no field for: span links (X-Ray's link fields are not documented for the
    daemon path), the status message of a span that failed without an exception, and on the
    invocation's own span the layer's name and version (``aws.xray`` is a segment's field, and
    in Lambda the function's segment is Lambda's: the invocation is a subsegment)."""
    notes: dict[str, Any] = {}
    attributes = span.attributes if isinstance(span.attributes, dict) else {}
    if sc.FAAS_COLDSTART in attributes:
        notes.update(SDK_INFO)
    links = span.links if isinstance(span.links, list) else []
    link_notes = [_link(link) for link in links]
    if link_notes:
        notes["links"] = [link for link in link_notes if link]
    if span.status_message and not span.exceptions:
        notes["status_message"] = _string(span.status_message)
    return notes


def _link(link: Any) -> dict[str, str] | None:
    if isinstance(link, (tuple, list)) and len(link) == 2:
        return {"trace_id": _trace_id(link[0]), "id": _string(link[1])}
    return None


def _trace_id(value: Any) -> str:
    """The X-Ray form ``1-8hex-24hex`` of a 32-hex trace id; any other value as a string."""
    text = _string(value)
    if is_trace_id(text):
        return text
    try:
        return from_w3c_trace_id(text)
    except ValueError:
        return text


def _time(value: Any) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            seconds = float(value)
        except OverflowError:
            return 0.0
        if math.isfinite(seconds):
            return seconds
    return 0.0


def _string(value: Any) -> str:
    if isinstance(value, str):
        return value
    safe = json_safe(value)
    return safe if isinstance(safe, str) else dumps(safe)


# --- keeping under the size limit --------------------------------------------------------------


def fit(document: dict, limit: int = MAX_DOCUMENT_BYTES) -> dict:
    """``document`` if it encodes within ``limit`` bytes, else a shrunk copy that does.

    ``limit`` must leave room for the core fields (a few hundred bytes).
    """
    if len(encode(document)) <= limit:
        return document
    for step in _SHRINK_STEPS:
        document = step(document)
        if len(encode(document)) <= limit:
            return document
    return document


def _noted(document: dict, what: str) -> dict:
    """A copy of ``document`` whose metadata lists ``what`` among the truncated parts."""
    metadata = dict(document.get("metadata") or {})
    notes = dict(metadata.get(LAYER_NAMESPACE) or {})
    truncated = list(notes.get("truncated") or [])
    if what not in truncated:
        truncated.append(what)
    notes["truncated"] = truncated
    metadata[LAYER_NAMESPACE] = notes
    return {**document, "metadata": metadata}


def _with_stacks(frames_kept: int) -> Callable[[dict], dict]:
    def shrink(document: dict) -> dict:
        cause = document.get("cause")
        if not isinstance(cause, dict):
            return document
        exceptions = cause.get("exceptions") or []
        kept = [_cut_stack(e, frames_kept) for e in exceptions if isinstance(e, dict)]
        cause = {**cause, "exceptions": kept[-EXCEPTIONS_KEPT:]}
        return _noted({**document, "cause": cause}, "stack")

    return shrink


def _cut_stack(exception: dict, frames_kept: int) -> dict:
    stack = exception.get("stack") or []
    if len(stack) <= frames_kept:
        return exception
    truncated = exception.get("truncated", 0)
    truncated = (truncated if isinstance(truncated, int) else 0) + len(stack) - frames_kept
    return {**exception, "stack": stack[:frames_kept], "truncated": truncated}


def _short_metadata(document: dict) -> dict:
    """Each metadata value whose JSON is longer than 1024 characters becomes the start of it."""
    metadata = document.get("metadata") or {}
    shortened: dict[str, Any] = {}
    for namespace, entries in metadata.items():
        if namespace == LAYER_NAMESPACE or not isinstance(entries, dict):
            shortened[namespace] = entries
            continue
        shortened[namespace] = {key: _short_value(value) for key, value in entries.items()}
    return _noted({**document, "metadata": shortened}, "metadata")


def _short_value(value: Any) -> Any:
    text = dumps(value)
    if len(text) <= METADATA_VALUE_CHARS_KEPT:
        return value
    return text[:METADATA_VALUE_CHARS_KEPT] + ELLIPSIS


def _no_metadata(document: dict) -> dict:
    notes = (document.get("metadata") or {}).get(LAYER_NAMESPACE) or {}
    return _noted({**document, "metadata": {LAYER_NAMESPACE: notes}}, "metadata")


def _with_strings(max_chars: int) -> Callable[[dict], dict]:
    def shrink(document: dict) -> dict:
        return _noted(truncate_strings(document, max_chars, _ID_KEYS), "strings")

    return shrink


def _core(document: dict) -> dict:
    """The last resort: ids, name, times and flags, which always fit."""
    core = {key: document[key] for key in _CORE_KEYS if key in document}
    notes = (document.get("metadata") or {}).get(LAYER_NAMESPACE) or {}
    truncated = [*(notes.get("truncated") or []), "document"]
    core["metadata"] = {LAYER_NAMESPACE: {"truncated": truncated}}
    return truncate_strings(core, xray_rules.NAME_MAX_CHARS)


_SHRINK_STEPS: tuple[Callable[[dict], dict], ...] = (
    _with_stacks(STACK_FRAMES_KEPT),
    _with_stacks(0),
    _short_metadata,
    _no_metadata,
    _with_strings(1024),
    _with_strings(256),
    _with_strings(64),
    _core,
)
