"""Trace context in the messages an AWS call sends, where it fits and never at the cost of a send.

The botocore instrumentation hands each call's parameters to `inject` before botocore sees them
and sends what comes back: the very same object when nothing changes, otherwise a new dict that
shares every part it leaves alone, so the user's own dicts and lists are never modified. Pure
(no I/O, no environment, no logging): the reasons a message went without its context come back
with the parameters, and the caller logs each once at debug level (peers that warn per message
fill users' log pipelines with what those treat as errors).

The X-Ray header is the ``X-Amzn-Trace-Id`` value this call's request carries: the call's own
span as ``Parent`` (the producer of its messages), the function's ``Lineage`` and other extra
keys kept (Lambda's recursion detection needs them). Where it goes:

- SQS ``SendMessage`` and each ``SendMessageBatch`` entry: the ``AWSTraceHeader`` message system
  attribute. It is not one of the 10 message attributes and counts toward no size limit (SQS
  API reference, ``MessageSystemAttributes``); content-based deduplication of FIFO queues hashes
  the body only, "not the attributes of the message" (``MessageDeduplicationId``), so it changes
  no deduplication. SQS also copies the request header into it; set explicitly, the context is
  each message's own. It is the very string the request header carries, and SQS rejects a
  malformed header as it would a malformed attribute (boto/boto3#3372), so it adds no way for
  a send to fail.
- SNS ``Publish`` to a topic and each ``PublishBatch`` entry: a message attribute named
  ``AWSTraceHeader`` (SNS has no system attributes): the name consumers already read on SQS, so
  an SNS, SNS-to-SQS or SQS consumer looks for one name; legal for SNS and SQS attributes alike
  (letters only; the reserved prefixes are ``AWS.`` and ``Amazon.``, dot included), so raw
  delivery to SQS passes it on. Only while the message keeps at most 10 attributes (SNS rejects
  more, and discards raw deliveries to SQS with more), never with ``MessageStructure`` (SNS
  delivers no attributes with ``json``), never to a phone number or a mobile endpoint (no
  tracing consumer there), and only while body, subject and attributes stay within 256 KiB, the
  default ``MaximumMessageSize`` of a topic, per message and per batch. A topic (or, for
  ``traceparent``, a queue) configured with a smaller ``MaximumMessageSize`` cannot be seen from
  here: a message within a hundred-odd bytes of such a limit is the one case left where an
  attribute could cost a send.
- EventBridge ``PutEvents``: each entry's ``TraceHeader`` (at most 500 characters; not part of
  the entry size).
- Step Functions ``StartExecution`` / ``StartSyncExecution``: ``traceHeader`` (at most 256 ASCII
  characters).
- Lambda ``Invoke``: nothing here, the request header carries the context.

With ``XRAYLAYER_MESSAGE_TRACEPARENT`` on, SQS and SNS messages also get a W3C ``traceparent``
message attribute (after SNS's ``AWSTraceHeader``), on the same terms: at most 10 attributes, and
within the size limit (SQS: 1 MiB per message and per batch), where each attribute's name, type
and value count. The X-Ray values follow the ``xray`` propagator of ``OTEL_PROPAGATORS``,
``traceparent`` the ``tracecontext`` one, as headers of HTTP calls do.

Whatever the user set stays theirs: an ``AWSTraceHeader``, a ``traceparent``, a ``TraceHeader``
or a ``traceHeader``. Parameters not of the types botocore accepts are left as they are, so that
botocore reports exactly the error it would report without the layer.
"""

from __future__ import annotations

from .propagation import TRACECONTEXT, XRAY, format_traceparent

# Type names only: `typing` costs 2 ms at every cold start.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any

    from .config import Settings
    from .spans import Span

    _MessageRule = Callable[[dict, "_Carried", "_Budget"], tuple[dict, list[str]]]

AWS_TRACE_HEADER = "AWSTraceHeader"
TRACEPARENT = "traceparent"
STRING = "String"
MAX_MESSAGE_ATTRIBUTES = 10
SQS_MAX_MESSAGE_BYTES = 1_048_576  # per message and per batch
SNS_MAX_MESSAGE_BYTES = 262_144  # a topic's default MaximumMessageSize; per message and per batch
EVENTBRIDGE_MAX_TRACE_HEADER = 500
SFN_MAX_TRACE_HEADER = 256

# Why a message went without (part of) its trace context: fixed texts, each logged once.
NO_ROOM = "no room: a message carries at most 10 message attributes"
TOO_LARGE = "the attribute would take the message past the service's size limit"
SIZE_UNKNOWN = "the message's size cannot be measured (a file-like binary attribute)"
STRUCTURED = "MessageStructure is set: SNS delivers no message attributes then"
NOT_A_TOPIC = "a publish to a phone number or a mobile endpoint carries no trace context"
HEADER_DOES_NOT_FIT = "the X-Ray header is longer than the parameter allows, or not ASCII"
MALFORMED = "the parameters are not of the types botocore accepts"

_ATTRIBUTE_MAPS = ("MessageAttributes", "MessageSystemAttributes")
_UNMEASURED = -1
SYSTEM_ATTRIBUTES_DIGEST = "MD5OfMessageSystemAttributes"  # in SQS send results


class Injection:
    """What to send: ``params`` (the user's own object when nothing changed), and ``skipped``,
    why some message went without (part of) its trace context, each reason once."""

    __slots__ = ("params", "skipped")

    def __init__(self, params: Any, skipped: Iterable[str] = ()) -> None:
        self.params = params
        self.skipped = tuple(dict.fromkeys(skipped))

    def __repr__(self) -> str:
        return f"Injection(params={self.params!r}, skipped={self.skipped!r})"


class _Carried:
    """The values one call's messages carry (None: that form is not wanted)."""

    __slots__ = ("traceparent", "xray")

    def __init__(self, xray: str | None, traceparent: str | None) -> None:
        self.xray = xray
        self.traceparent = traceparent


class _Budget:
    """The bytes a request's messages may grow by. SQS and SNS limit each message and the sum of
    a batch's messages alike, so keeping the sum within ``limit`` keeps each message there too.
    Measured on first use: most sends add no attribute, and measure nothing."""

    __slots__ = ("_messages", "_text", "_total", "limit")

    def __init__(self, limit: int, text: tuple[str, ...], messages: Iterable[dict]) -> None:
        self.limit = limit
        self._text = text
        self._messages = messages
        self._total: int | None = _UNMEASURED

    def spend(self, extra: int) -> str | None:
        """Grow the request by ``extra`` bytes, or say why it may not."""
        if self._total == _UNMEASURED:
            self._total = _sum([message_size(message, self._text) for message in self._messages])
        if self._total is None:
            return SIZE_UNKNOWN
        if self._total + extra > self.limit:
            return TOO_LARGE
        self._total += extra
        return None


def carries_context(service_id: str, operation: str) -> bool:
    """Whether an operation sends something that can carry trace context (see `inject`)."""
    return (service_id, operation) in _RULES


def inject(
    service_id: str,
    operation: str,
    params: Any,
    *,
    span: Span,
    xray_header: str,
    settings: Settings,
) -> Injection:
    """The parameters to send for a call of ``operation`` made from ``span`` (the producer),
    whose request carries ``xray_header``, with trace context where it fits (module doc).

    ``service_id`` is botocore's (``SQS``, ``SNS``, ``EventBridge``, ``SFN``); ``settings``
    gives the propagators and ``message_traceparent``.
    """
    rule = _RULES.get((service_id, operation))
    if rule is None:
        return Injection(params)
    carried = _carried(span, xray_header, settings)
    if carried.xray is None and carried.traceparent is None:
        return Injection(params)
    if not isinstance(params, dict):
        return Injection(params, (MALFORMED,))
    return rule(params, carried)


def _carried(span: Span, xray_header: str, settings: Settings) -> _Carried:
    propagators = settings.propagators
    traceparent = None
    if settings.message_traceparent and TRACECONTEXT in propagators:
        traceparent = format_traceparent(span.trace_id, span.span_id, span.sampled)
    return _Carried(xray_header if XRAY in propagators else None, traceparent)


# --- SQS and SNS: messages with attributes --------------------------------------------------


class _Kind:
    """One service's messages: what to add to one (``rule``), the text fields its size counts
    (the first one required) and the size limit, per message and per request."""

    __slots__ = ("limit", "rule", "text")

    def __init__(self, rule: _MessageRule, text: tuple[str, ...], limit: int) -> None:
        self.rule = rule
        self.text = text
        self.limit = limit


def _sqs_send(params: dict, carried: _Carried) -> Injection:
    return _one_message(params, carried, _SQS)


def _sqs_batch(params: dict, carried: _Carried) -> Injection:
    return _batch(params, "Entries", carried, _SQS)


def _sns_publish(params: dict, carried: _Carried) -> Injection:
    if "TopicArn" not in params:
        return Injection(params, (NOT_A_TOPIC,))
    return _one_message(params, carried, _SNS)


def _sns_batch(params: dict, carried: _Carried) -> Injection:
    return _batch(params, "PublishBatchRequestEntries", carried, _SNS)


def _one_message(params: dict, carried: _Carried, kind: _Kind) -> Injection:
    if not _is_message(params, kind.text):
        return Injection(params, (MALFORMED,))
    return Injection(*kind.rule(params, carried, _Budget(kind.limit, kind.text, (params,))))


def _batch(params: dict, key: str, carried: _Carried, kind: _Kind) -> Injection:
    """Each entry of ``params[key]`` as ``kind`` has it, within one budget for the request.
    One malformed entry leaves the whole batch as it is: botocore rejects it anyway."""
    entries = params.get(key)
    if not isinstance(entries, (list, tuple)) or not all(
        _is_message(entry, kind.text) for entry in entries
    ):
        return Injection(params, (MALFORMED,))
    budget = _Budget(kind.limit, kind.text, entries)
    results = [kind.rule(entry, carried, budget) for entry in entries]
    reasons = [reason for _, why in results for reason in why]
    sent = [message for message, _ in results]
    if all(new is old for new, old in zip(sent, entries, strict=True)):
        return Injection(params, reasons)
    return Injection({**params, key: sent}, reasons)


def without_added_digests(service_id: str, operation: str, params: Any, response: Any) -> None:
    """Take out of an SQS send's ``response`` (in place) the digest of system attributes that
    SQS returns only because the layer added ``AWSTraceHeader`` to a message that had no
    system attribute of its own: the caller gets the keys it gets without the layer. Where the
    user sent system attributes too, the digest is theirs to have, and stays."""
    if service_id != "SQS" or not isinstance(params, dict) or not isinstance(response, dict):
        return
    if operation == "SendMessage":
        if not params.get("MessageSystemAttributes"):
            response.pop(SYSTEM_ATTRIBUTES_DIGEST, None)
        return
    if operation == "SendMessageBatch":
        entries = params.get("Entries")
        entries = entries if isinstance(entries, (list, tuple)) else ()
        bare = {
            entry.get("Id")
            for entry in entries
            if isinstance(entry, dict) and not entry.get("MessageSystemAttributes")
        }
        for result in response.get("Successful") or ():
            if isinstance(result, dict) and result.get("Id") in bare:
                result.pop(SYSTEM_ATTRIBUTES_DIGEST, None)


def _sqs_message(message: dict, carried: _Carried, budget: _Budget) -> tuple[dict, list[str]]:
    """The ``AWSTraceHeader`` system attribute, and a ``traceparent`` where it fits."""
    changes = {}
    system = message.get("MessageSystemAttributes", {})
    if carried.xray is not None and AWS_TRACE_HEADER not in system:
        changes["MessageSystemAttributes"] = {**system, AWS_TRACE_HEADER: _string(carried.xray)}
    attributes, reasons = _with_attributes(message, ((TRACEPARENT, carried.traceparent),), budget)
    if attributes is not None:
        changes["MessageAttributes"] = attributes
    return ({**message, **changes} if changes else message), reasons


def _sns_message(message: dict, carried: _Carried, budget: _Budget) -> tuple[dict, list[str]]:
    """An ``AWSTraceHeader`` attribute, then a ``traceparent``, each where it fits."""
    if "MessageStructure" in message:
        return message, [STRUCTURED]
    wanted = ((AWS_TRACE_HEADER, carried.xray), (TRACEPARENT, carried.traceparent))
    attributes, reasons = _with_attributes(message, wanted, budget)
    if attributes is None:
        return message, reasons
    return {**message, "MessageAttributes": attributes}, reasons


def _with_attributes(
    message: dict, wanted: Iterable[tuple[str, str | None]], budget: _Budget
) -> tuple[dict | None, list[str]]:
    """The message's attributes plus each wanted ``(name, value)`` it has room for, in order
    (None when none is added), and why any was left out. A name the user has is theirs."""
    attributes = message.get("MessageAttributes", {})
    wanted = [(name, value) for name, value in wanted if value and name not in attributes]
    if not wanted:
        return None, []
    added, reasons = dict(attributes), []
    for name, value in wanted:
        attribute = _string(value)
        reason = NO_ROOM if len(added) >= MAX_MESSAGE_ATTRIBUTES else None
        reason = reason or budget.spend(attribute_size(name, attribute))
        if reason is None:
            added[name] = attribute
        else:
            reasons.append(reason)
    return (added if len(added) > len(attributes) else None), reasons


def _string(value: str) -> dict[str, str]:
    return {"DataType": STRING, "StringValue": value}


def _is_message(message: object, text: tuple[str, ...]) -> bool:
    """Whether ``message`` has the types botocore accepts where the layer looks: its text
    fields strings (the first one present), its attribute maps dicts of dicts with string keys
    whose fields are strings, bytes, lists of them or file-like objects."""
    if not isinstance(message, dict) or not isinstance(message.get(text[0]), str):
        return False
    if any(not isinstance(message.get(key, ""), str) for key in text[1:]):
        return False
    return all(_is_attribute_map(message.get(key, {})) for key in _ATTRIBUTE_MAPS)


def _is_attribute_map(attributes: object) -> bool:
    return isinstance(attributes, dict) and all(
        isinstance(name, str)
        and isinstance(value, dict)
        and all(_is_field(field) for field in value.values())
        for name, value in attributes.items()
    )


def _is_field(value: object) -> bool:
    return isinstance(value, (str, bytes, bytearray, list, tuple)) or hasattr(value, "read")


def message_size(message: dict, text: tuple[str, ...]) -> int | None:
    """The bytes the service counts for ``message``: its text fields, and the name, type and
    value of every message attribute (None when a value cannot be measured)."""
    sizes = [byte_length(message.get(key, "")) for key in text]
    attributes = message.get("MessageAttributes", {})
    sizes.extend(attribute_size(name, value) for name, value in attributes.items())
    return _sum(sizes)


def attribute_size(name: str, value: dict) -> int | None:
    """An attribute's name plus every field of its value (type, string or binary value)."""
    return _sum([byte_length(name), *(byte_length(field) for field in value.values())])


def byte_length(value: object) -> int | None:
    """UTF-8 bytes of a string (as the services count), bytes of a binary value, the sum for a
    list of them; None for anything else (a file-like binary value is not read here)."""
    if isinstance(value, str):
        return len(value) if value.isascii() else len(value.encode("utf-8", "surrogatepass"))
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    if isinstance(value, (list, tuple)):
        return _sum([byte_length(item) for item in value])
    return None


def _sum(sizes: list[int | None]) -> int | None:
    return None if None in sizes else sum(sizes)  # type: ignore[arg-type]


# --- EventBridge and Step Functions: a trace header parameter -------------------------------


def _put_events(params: dict, carried: _Carried) -> Injection:
    """``TraceHeader`` on each entry that has none."""
    header, entries = carried.xray, params.get("Entries")
    if header is None:
        return Injection(params)
    if not isinstance(entries, (list, tuple)) or not all(isinstance(e, dict) for e in entries):
        return Injection(params, (MALFORMED,))
    if len(header) > EVENTBRIDGE_MAX_TRACE_HEADER:
        return Injection(params, (HEADER_DOES_NOT_FIT,))
    sent = [
        entry if "TraceHeader" in entry else {**entry, "TraceHeader": header} for entry in entries
    ]
    if all(new is old for new, old in zip(sent, entries, strict=True)):
        return Injection(params)
    return Injection({**params, "Entries": sent})


def _start_execution(params: dict, carried: _Carried) -> Injection:
    """``traceHeader``, unless the user set one."""
    header = carried.xray
    if header is None or "traceHeader" in params:
        return Injection(params)
    if len(header) > SFN_MAX_TRACE_HEADER or not header.isascii():
        return Injection(params, (HEADER_DOES_NOT_FIT,))
    return Injection({**params, "traceHeader": header})


_SQS = _Kind(_sqs_message, ("MessageBody",), SQS_MAX_MESSAGE_BYTES)
_SNS = _Kind(_sns_message, ("Message", "Subject"), SNS_MAX_MESSAGE_BYTES)

# (botocore service id, operation) -> what its parameters carry.
_RULES: dict[tuple[str, str], Callable[[dict, _Carried], Injection]] = {
    ("SQS", "SendMessage"): _sqs_send,
    ("SQS", "SendMessageBatch"): _sqs_batch,
    ("SNS", "Publish"): _sns_publish,
    ("SNS", "PublishBatch"): _sns_batch,
    ("EventBridge", "PutEvents"): _put_events,
    ("SFN", "StartExecution"): _start_execution,
    ("SFN", "StartSyncExecution"): _start_execution,
}
