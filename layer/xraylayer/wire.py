"""The format between the function process and the layer's extension, version 1.

Transport
    A unix datagram socket bound by the extension at ``intake_address.intake_path()``:
    ``XRAYLAYER_INTAKE``, default ``/tmp/xraylayer-intake.sock`` (``/tmp`` is the one writable
    place both processes share). One message per datagram. Datagrams are reliable and ordered on
    a unix socket, and a non-blocking send either queues the whole message or fails at once
    (EAGAIN when the extension is behind, ENOENT / ECONNREFUSED when it is not there), which is
    what lets the function hand a span over in microseconds and never wait for the extension.

Encoding
    Each datagram is one UTF-8 JSON object (strict JSON: NaN and infinities are sent as strings)
    with ``"v"``, the format version, and ``"t"``, the message type. JSON because the function
    process has ``json`` loaded anyway (no new import on the hot path), both ends are Python,
    a human can read a captured datagram, and spans are small (a few hundred bytes).

Messages (``SPAN`` is a span object, below)
    ``hello``  ``{"v":1,"t":"hello","pid":int,"layer":str,"daemon":str|null}`` - first thing
               the function sends; ``daemon`` is its ``AWS_XRAY_DAEMON_ADDRESS``, which Lambda
               gives to functions but not to extensions.
    ``start``  ``{"v":1,"t":"start","rid":str|null,"span":SPAN}`` - an invocation began; the
               span is the invocation span, still open (no ``end``), so the extension can close
               it itself at a timeout or crash.
    ``span``   ``{"v":1,"t":"span","rid":str|null,"span":SPAN}`` - one finished span;
               ``rid`` is the request id of the invocation it finished in (null during init).
    ``spans``  ``{"v":1,"t":"spans","items":[{"rid":..,"span":SPAN},...]}`` - several finished
               spans at once, sent when spans had queued up in the function (the kernel caps the
               number of datagrams waiting on a unix socket, by default at 10, not their size).
    ``end``    ``{"v":1,"t":"end","rid":..,"trace_id":..,"span_id":..,"handed_off":int,
               "exported":int,"dropped":{reason:int}}`` - the invocation's handler returned;
               the counts say how many of its spans the function handed over, exported itself
               to the daemon, or dropped, so the extension can tell when it has them all.

SPAN
    ``name``, ``trace_id`` (32 hex), ``span_id`` (16 hex), ``start`` (epoch seconds) always;
    ``parent_id``, ``end``, ``kind`` (default ``internal``), ``sampled`` (default true),
    ``namespace``, ``attributes``, ``annotations``, ``metadata`` (namespace -> key -> value),
    ``exceptions`` (records as ``Span.record_exception`` makes them), ``links`` (``[[trace_id,
    span_id], ...]``), ``error`` / ``throttle`` / ``fault`` (default false), ``status`` only
    when not at their default.

Size
    A datagram is at most ``MAX_DATAGRAM_BYTES`` (64 KiB, the receiver's buffer). A span too
    large for it is not split (a lost part would lose the whole span, and X-Ray takes 64 KB
    documents at most anyway): it is shrunk in steps (stacks cut to 10 frames, then long strings
    cut, then attributes, annotations and metadata left out) and the steps taken are listed in
    its metadata under ``xraylayer`` / ``wire_truncated``.

Versions
    Within version 1 fields may be added, never renamed or retyped; a receiver ignores fields it
    does not know and a sender leaves out fields at their default. Any other change is version 2;
    a receiver answers a version it does not know with a ``DecodeError``, never a guess.
"""

from __future__ import annotations

import json
from collections import namedtuple

from .intake_address import MAX_DATAGRAM_BYTES
from .json_values import dumps, json_safe, truncate_strings
from .spans import INTERNAL, Span

# Type names only: `typing` costs 2 ms at every cold start.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

VERSION = 1
BATCH_BYTES = 16_384  # a batch this size leaves room for 10 queued in the default 208 KiB sndbuf

HELLO, START, SPAN, SPANS, END = "hello", "start", "span", "spans", "end"
TRUNCATION_NAMESPACE = "xraylayer"
TRUNCATION_KEY = "wire_truncated"
_ID_FIELDS = frozenset({"trace_id", "span_id", "parent_id", "rid"})
_ENVELOPE_BYTES = 64  # room for {"v":1,"t":"spans","items":[...]} around the items


# --- messages as the receiver sees them ----------------------------------------------------
# Named tuples made with `collections.namedtuple`: `typing.NamedTuple` classes cost `typing`
# and 1.5 ms more at every cold start, in a module the function process imports to encode.

# pid: int | None, layer_version: str | None, daemon_address: str | None
Hello = namedtuple("Hello", ["pid", "layer_version", "daemon_address"])
# request_id: str | None, span: Span
InvocationStart = namedtuple("InvocationStart", ["request_id", "span"])
# request_id: str | None, span: Span
SpanMessage = namedtuple("SpanMessage", ["request_id", "span"])
# items: list[SpanMessage]
SpanBatch = namedtuple("SpanBatch", ["items"])
# request_id, trace_id, span_id: str | None; handed_off, exported: int; dropped: dict[str, int]
InvocationEnd = namedtuple(
    "InvocationEnd",
    ["request_id", "trace_id", "span_id", "handed_off", "exported", "dropped"],
)
# reason: str
DecodeError = namedtuple("DecodeError", ["reason"])
DecodeError.__doc__ = "A datagram that is not a message of this version; ``reason`` says why."

Message = Hello | InvocationStart | SpanMessage | SpanBatch | InvocationEnd | DecodeError


# --- encoding ------------------------------------------------------------------------------


def encode_hello(daemon_address: str | None, *, pid: int, layer_version: str) -> bytes:
    return _encode(
        {"v": VERSION, "t": HELLO, "pid": pid, "layer": layer_version, "daemon": daemon_address}
    )


def encode_invocation_start(span: Span, request_id: str | None) -> bytes:
    return _message(START, encode_span_item(span, request_id))


def encode_span(span: Span, request_id: str | None = None) -> bytes:
    """A ``span`` message; at most ``MAX_DATAGRAM_BYTES`` (see Size)."""
    return _message(SPAN, encode_span_item(span, request_id))


def encode_span_item(span: Span, request_id: str | None) -> bytes:
    """``{"rid":..,"span":{..}}``, the part of a ``span`` message that batches are made of.

    Kept small enough that the message around it fits one datagram.
    """
    item = {"rid": request_id, "span": span_payload(span)}
    data = dumps(item).encode("utf-8", "replace")
    if len(data) + _ENVELOPE_BYTES <= MAX_DATAGRAM_BYTES:
        return data
    return _shrunk_item(item)


def span_message(item: bytes) -> bytes:
    """The ``span`` message carrying one item made by ``encode_span_item``."""
    return _message(SPAN, item)


def encode_span_items(items: list[bytes]) -> bytes:
    """A ``span`` message for one item, a ``spans`` message for several; the caller keeps
    the total under ``MAX_DATAGRAM_BYTES``."""
    if len(items) == 1:
        return _message(SPAN, items[0])
    return b'{"v":1,"t":"spans","items":[' + b",".join(items) + b"]}"


def encode_invocation_end(
    span: Span,
    request_id: str | None,
    *,
    handed_off: int,
    exported: int,
    dropped: dict[str, int],
) -> bytes:
    return _encode(
        {
            "v": VERSION,
            "t": END,
            "rid": request_id,
            "trace_id": span.trace_id,
            "span_id": span.span_id,
            "handed_off": handed_off,
            "exported": exported,
            "dropped": dropped,
        }
    )


def span_payload(span: Span) -> dict[str, Any]:
    """The span as a SPAN object: fields at their default are left out."""
    payload: dict[str, Any] = {
        "name": span.name if isinstance(span.name, str) else str(json_safe(span.name)),
        "trace_id": span.trace_id,
        "span_id": span.span_id,
        "start": span.start_time,
    }
    optional = (
        ("parent_id", span.parent_id, None),
        ("end", span.end_time, None),
        ("kind", span.kind, INTERNAL),
        ("sampled", span.sampled, True),
        ("namespace", span.namespace, None),
        ("status", span.status_message, None),
    )
    for field, value, default in optional:
        if value != default:
            payload[field] = value
    for field in ("attributes", "annotations", "metadata", "exceptions", "links"):
        value = getattr(span, field)
        if value:
            payload[field] = value
    for flag in ("error", "throttle", "fault"):
        if getattr(span, flag):
            payload[flag] = True
    return payload


def _message(kind: str, item: bytes) -> bytes:
    """Splice the version and type in front of an item's fields (it starts with ``{"rid"``)."""
    return b'{"v":1,"t":"' + kind.encode() + b'",' + item[1:]


def _encode(message: dict[str, Any]) -> bytes:
    return dumps(message).encode("utf-8", "replace")


def _shrunk_item(item: dict[str, Any]) -> bytes:
    """The item cut down step by step until it fits; the steps are noted in the span."""
    span = _short_stacks(item["span"])
    steps = [] if span is item["span"] else ["stack"]
    item = json_safe({**item, "span": span})
    data = _noted(item, steps)
    for name, shrink in _SHRINK_STEPS:
        if len(data) + _ENVELOPE_BYTES <= MAX_DATAGRAM_BYTES:
            break
        item["span"] = shrink(item["span"])
        steps.append(name)
        data = _noted(item, steps)
    return data


def _noted(item: dict[str, Any], steps: list[str]) -> bytes:
    """The encoded item, its span's metadata listing the shrinking ``steps`` taken."""
    metadata = item["span"].setdefault("metadata", {})
    notes = metadata.setdefault(TRUNCATION_NAMESPACE, {})
    if isinstance(notes, dict):
        notes[TRUNCATION_KEY] = list(steps)
    return dumps(item).encode("utf-8", "replace")


def _short_stacks(span: dict[str, Any]) -> dict[str, Any]:
    """A copy of the span payload with at most 10 exceptions of at most 10 frames each."""
    exceptions = span.get("exceptions")
    if not isinstance(exceptions, list):
        return span
    shortened = [_short_stack(e) for e in exceptions[-10:]]
    unchanged = len(shortened) == len(exceptions) and all(
        new is old for new, old in zip(shortened, exceptions, strict=True)
    )
    if unchanged:
        return span
    return {**span, "exceptions": shortened}


def _short_stack(exception: Any) -> Any:
    if not isinstance(exception, dict):
        return exception
    stack = exception.get("stack")
    if not isinstance(stack, list) or len(stack) <= 10:
        return exception
    truncated = len(stack) - 10 + _int(exception.get("truncated"))
    return {**exception, "stack": stack[:10], "truncated": truncated}


def _short_strings(max_chars: int):
    def shrink(span: dict[str, Any]) -> dict[str, Any]:
        return truncate_strings(span, max_chars, _ID_FIELDS)

    return shrink


def _core(span: dict[str, Any]) -> dict[str, Any]:
    core = {k: v for k, v in span.items() if k not in ("attributes", "annotations", "metadata")}
    core.pop("links", None)
    core["exceptions"] = [
        {k: v for k, v in e.items() if k != "stack"}
        for e in core.get("exceptions") or []
        if isinstance(e, dict)
    ]
    return truncate_strings(core, 200)  # valid ids are far shorter; invalid ones are cut too


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


_SHRINK_STEPS = (
    ("strings", _short_strings(1024)),
    ("strings", _short_strings(128)),
    ("fields", _core),
)


# --- decoding ------------------------------------------------------------------------------


def decode(data: bytes) -> Message:
    """The message in one datagram; anything else gives a ``DecodeError``, never an exception."""
    try:
        message = json.loads(data)
    except (ValueError, TypeError, RecursionError) as error:
        return DecodeError(f"not JSON: {type(error).__name__}")
    if not isinstance(message, dict):
        return DecodeError("not a JSON object")
    version = message.get("v")
    if type(version) is not int:
        return DecodeError("no version field")
    if version != VERSION:
        return DecodeError(f"unsupported version {version}")
    kind = message.get("t")
    decoder = _DECODERS.get(kind) if isinstance(kind, str) else None
    if decoder is None:
        return DecodeError(f"unknown message type {message.get('t')!r}")
    try:
        return decoder(message)
    except _Invalid as invalid:
        return DecodeError(str(invalid))


class _Invalid(Exception):
    """A field of the wrong shape; becomes a DecodeError."""


def _decode_hello(message: dict[str, Any]) -> Hello:
    return Hello(
        _field(message, "pid", int, None),
        _field(message, "layer", str, None),
        _field(message, "daemon", str, None),
    )


def _decode_start(message: dict[str, Any]) -> InvocationStart:
    return InvocationStart(_field(message, "rid", str, None), _span(message.get("span")))


def _decode_span(message: dict[str, Any]) -> SpanMessage:
    return SpanMessage(_field(message, "rid", str, None), _span(message.get("span")))


def _decode_spans(message: dict[str, Any]) -> SpanBatch:
    items = message.get("items")
    if not isinstance(items, list):
        raise _Invalid("field 'items' is not a list")
    decoded = []
    for item in items:
        if not isinstance(item, dict):
            raise _Invalid("an item of 'items' is not an object")
        decoded.append(_decode_span(item))
    return SpanBatch(decoded)


def _decode_end(message: dict[str, Any]) -> InvocationEnd:
    dropped = _field(message, "dropped", dict, {})
    if not all(isinstance(k, str) and _is_int(v) for k, v in dropped.items()):
        raise _Invalid("field 'dropped' is not a map of counts")
    return InvocationEnd(
        _field(message, "rid", str, None),
        _field(message, "trace_id", str, None),
        _field(message, "span_id", str, None),
        _field(message, "handed_off", int, 0),
        _field(message, "exported", int, 0),
        dropped,
    )


_DECODERS = {
    HELLO: _decode_hello,
    START: _decode_start,
    SPAN: _decode_span,
    SPANS: _decode_spans,
    END: _decode_end,
}
_REQUIRED = object()


def _field(source: dict[str, Any], name: str, kind: type, default: Any = _REQUIRED) -> Any:
    """``source[name]`` if it has type ``kind``; ``default`` when absent or null."""
    value = source.get(name)
    if value is None:
        if default is _REQUIRED:
            raise _Invalid(f"field {name!r} is missing")
        return default
    if kind is int and not _is_int(value):
        raise _Invalid(f"field {name!r} is not an integer")
    if kind is float and not (_is_int(value) or isinstance(value, float)):
        raise _Invalid(f"field {name!r} is not a number")
    if kind not in (int, float) and not isinstance(value, kind):
        raise _Invalid(f"field {name!r} is not of type {kind.__name__}")
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _span(payload: Any) -> Span:
    if not isinstance(payload, dict):
        raise _Invalid("field 'span' is not an object")
    span = Span(
        _field(payload, "name", str),
        _field(payload, "trace_id", str),
        _field(payload, "parent_id", str, None),
        kind=_field(payload, "kind", str, INTERNAL),
        sampled=_field(payload, "sampled", bool, True),
        namespace=_field(payload, "namespace", str, None),
        attributes=_field(payload, "attributes", dict, None),
        start_time=_seconds(_field(payload, "start", float)),
        span_id=_field(payload, "span_id", str),
    )
    end = _field(payload, "end", float, None)
    span.end_time = None if end is None else _seconds(end)
    span.annotations = _field(payload, "annotations", dict, {})
    span.metadata = _field(payload, "metadata", dict, {})
    span.exceptions = _field(payload, "exceptions", list, [])
    span.links = [_link(link) for link in _field(payload, "links", list, [])]
    span.status_message = _field(payload, "status", str, None)
    for flag in ("error", "throttle", "fault"):
        setattr(span, flag, _field(payload, flag, bool, False))
    return span


def _seconds(value: float) -> float:
    try:
        return float(value)
    except OverflowError:
        raise _Invalid("a time is out of range") from None


def _link(link: Any) -> tuple[str, str]:
    if isinstance(link, list) and len(link) == 2 and all(isinstance(p, str) for p in link):
        return link[0], link[1]
    raise _Invalid("a link is not [trace_id, span_id]")
