"""The trace context an invocation's event carries, and where it puts the invocation span.

An SQS or SNS event holds a batch of messages, each of which may carry the span context of the
code that sent it; an HTTP event (API Gateway, ALB, function URL) carries the caller's in its
headers. ``read`` reads them, one ``Record`` per message (or per request), every record of a
batch within the bounds below. ``attachment`` then decides what they make of the invocation span:
which of them, if any, becomes its parent instead of Lambda's header, which become span links,
and the messaging attributes that go with them.

Where a context is read, best first (the order decides which one is a message's parent):

- SQS: the system attribute ``attributes.AWSTraceHeader`` (what the AWS services carry from
  hop to hop), then the message attributes ``AWSTraceHeader``, ``X-Amzn-Trace-Id`` and
  ``traceparent`` in Lambda's casing (``stringValue``, ``dataType``) or the SQS API's
  (``StringValue``, ``DataType``), then the same names in the ``MessageAttributes`` of an SNS
  notification envelope that is the message's body (an SNS subscription without raw delivery);
- SNS: the same names in ``Sns.MessageAttributes`` (``Type``, ``Value``);
- HTTP: the ``X-Amzn-Trace-Id`` then the ``traceparent`` header, in any letter case, from
  ``headers``, else ``multiValueHeaders`` (REST API payload 1.0, ALB with multi-value headers).

A context names a span: an X-Ray header without ``Parent`` (API Gateway's ``Root=`` only) names
none, so there is nothing to link to or continue from, and it is passed over without a word.
What is malformed is rejected and its source listed in ``Record.rejected``, for one debug line:
an unparsable header, a value over ``MAX_VALUE_CHARS``, a binary, number or missing value,
all-zero ids, two values of one multi-value header.

The work is bounded whatever the event, to a few milliseconds: records are read in order, at
most ``MAX_RECORDS`` of them, and reading stops once ``MAX_PARSED_VALUES`` distinct values have
been parsed (each distinct value is parsed once: the messages of one send carry the same header);
the records not read are only counted (``xraylayer.messages_unread``). At most ``MAX_HEADERS``
keys of a header map are looked at. An SQS body is parsed as JSON only when it starts with
``{``, mentions ``"Notification"`` and ``"MessageAttributes"``, is at most
``MAX_ENVELOPE_CHARS`` long (an SNS message is at most 256 KiB) and fits in what is left of
``ENVELOPE_BUDGET_CHARS`` for the whole event.

Pure: no I/O, no logging; ``xraylayer.invocation`` applies the result and logs.
"""

from __future__ import annotations

import json

from . import semconv
from .propagation import TRACEPARENT_HEADER, XRAY_HEADER, parse_traceparent
from .trace_header import parse, to_w3c_trace_id
from .triggers import HTTP_TRIGGERS, MESSAGING_SYSTEMS

# Type names only: `typing` costs 2 ms at every cold start.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .trace_header import TraceHeader

MAX_RECORDS = 1_000  # records read per event (SQS batches reach 10,000): about 2 ms
MAX_PARSED_VALUES = 512  # distinct values parsed per event, then reading stops: about 2 ms
MAX_HEADERS = 256  # keys of a header map looked at; real requests have a few dozen
MAX_VALUE_CHARS = 1_024  # a trace header with Lineage and Self is under 200 characters
MAX_NAME_CHARS = 256  # SNS topic names are at most 256 characters, SQS queue names 80
MAX_ENVELOPE_CHARS = 300_000  # an SNS envelope of the largest SNS message, escaped
ENVELOPE_BUDGET_CHARS = 1_000_000  # envelope JSON parsed per event: about 1 ms
MAX_LINKS = 128  # OpenTelemetry SDKs' default limit; the rest are counted
AWS_TRACE_HEADER = "AWSTraceHeader"
# Message attribute names that carry a context, best first; each is parsed as its name says.
ATTRIBUTE_NAMES = (AWS_TRACE_HEADER, XRAY_HEADER, TRACEPARENT_HEADER)
HEADER_NAMES = (XRAY_HEADER, TRACEPARENT_HEADER)
_LOWER_HEADER_NAMES = tuple(name.lower() for name in HEADER_NAMES)
_LONGEST_HEADER_NAME = max(len(name) for name in HEADER_NAMES)
# (type key, value key) of a message attribute: Lambda's SQS casing, the SQS API's, SNS's.
_ATTRIBUTE_FIELDS = (("dataType", "stringValue"), ("DataType", "StringValue"), ("Type", "Value"))
LAMBDA_SOURCE = "Lambda's trace header"
_ZERO_TRACE_ID = "0" * 32
_ZERO_SPAN_ID = "0" * 16
_REJECTED = object()  # what _context gives for a malformed value
_UNSEEN = object()


class Context:
    """A span elsewhere: its trace id (32 hex, the form of ``Span.trace_id``), span id (16 hex),
    whether it was sampled, and where it was found (``"SQS message attribute traceparent"``)."""

    __slots__ = ("sampled", "source", "span_id", "trace_id")

    def __init__(self, trace_id: str, span_id: str, sampled: bool, source: str) -> None:
        self.trace_id = trace_id
        self.span_id = span_id
        self.sampled = sampled
        self.source = source

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Context):
            return NotImplemented
        return (self.trace_id, self.span_id, self.sampled, self.source) == (
            other.trace_id,
            other.span_id,
            other.sampled,
            other.source,
        )

    __hash__ = None  # type: ignore[assignment] - mutable, compared by value

    def __repr__(self) -> str:
        return f"Context({self.trace_id!r}, {self.span_id!r}, {self.sampled!r}, {self.source!r})"


class Record:
    """One message of the event (or the HTTP request): its id and the name of the queue or
    topic it came from when the event says, the contexts it carried, best first and each span
    once, and the sources whose value was malformed."""

    __slots__ = ("contexts", "destination", "message_id", "rejected")

    def __init__(self, message_id: str | None = None, destination: str | None = None) -> None:
        self.message_id = message_id
        self.destination = destination
        self.contexts: list[Context] = []
        self.rejected: list[str] = []

    def __repr__(self) -> str:
        return (
            f"Record({self.message_id!r}, {self.destination!r}, contexts={self.contexts!r}, "
            f"rejected={self.rejected!r})"
        )


# --- reading an event ---------------------------------------------------------------------------


class Batch:
    """The records read from an event (the first ones, within the bounds) and how many records
    the event held."""

    __slots__ = ("count", "records")

    def __init__(self, records: list[Record], count: int) -> None:
        self.records = records
        self.count = count

    def __repr__(self) -> str:
        return f"Batch({self.records!r}, {self.count!r})"


def read(event: object, trigger_type: str) -> Batch:
    """The records of ``event``, a ``trigger_type`` (``triggers.detect``) event, with the
    contexts each carried; none for a trigger that carries no context in its event."""
    if not isinstance(event, dict):
        return Batch([], 0)
    reader = _Reader()
    if trigger_type in HTTP_TRIGGERS:
        return Batch([reader.http_request(event)], 1)
    items = event.get("Records")
    if trigger_type not in MESSAGING_SYSTEMS or not isinstance(items, list):
        return Batch([], 0)
    read_item = reader.sqs_message if trigger_type == "sqs" else reader.sns_message
    found = []
    for item in items[:MAX_RECORDS]:
        if len(reader.parsed) >= MAX_PARSED_VALUES:
            break
        if isinstance(item, dict):
            found.append(read_item(item))
    return Batch(found, len(items))


class _Reader:
    """Reads the records of one event. ``parsed`` holds what each (source, value) gave, parsed
    once: the messages of one send all carry the same header. ``envelope_chars`` is what is left
    of ENVELOPE_BUDGET_CHARS."""

    __slots__ = ("envelope_chars", "parsed")

    def __init__(self) -> None:
        self.parsed: dict[tuple[str, str], object] = {}
        self.envelope_chars = ENVELOPE_BUDGET_CHARS

    def sqs_message(self, item: dict) -> Record:
        record = Record(_short_text(item.get("messageId")), _arn_name(item.get("eventSourceARN")))
        system = item.get("attributes")
        if isinstance(system, dict) and AWS_TRACE_HEADER in system:
            value = system[AWS_TRACE_HEADER]
            self.value(record, AWS_TRACE_HEADER, value, "SQS attribute AWSTraceHeader")
        self.attributes(record, item.get("messageAttributes"), "SQS message attribute")
        body = item.get("body")
        if _may_be_envelope(body, self.envelope_chars):
            self.envelope_chars -= len(body)
            self.attributes(record, _envelope_attributes(body), "SNS envelope attribute")
        return record

    def sns_message(self, item: dict) -> Record:
        sns = item.get("Sns")
        if not isinstance(sns, dict):
            return Record()
        record = Record(_short_text(sns.get("MessageId")), _arn_name(sns.get("TopicArn")))
        self.attributes(record, sns.get("MessageAttributes"), "SNS message attribute")
        return record

    def http_request(self, event: dict) -> Record:
        record = Record()
        single = _named_headers(event.get("headers"))
        multiple = _named_headers(event.get("multiValueHeaders"))
        for name in HEADER_NAMES:
            key = name.lower()
            if key in single:
                value = single[key]
            elif key in multiple:
                values = multiple[key]
                value = values[0] if isinstance(values, list) and len(values) == 1 else None
            else:
                continue
            self.value(record, name, value, "HTTP header " + name)
        return record

    def attributes(self, record: Record, attributes: object, carrier: str) -> None:
        if not isinstance(attributes, dict):
            return
        for name in ATTRIBUTE_NAMES:
            if name in attributes:
                value = _attribute_value(attributes[name])
                self.value(record, name, value, f"{carrier} {name}")

    def value(self, record: Record, name: str, value: object, source: str) -> None:
        """Give ``record`` the context in ``value``, a carrier named ``name`` found at
        ``source``, or note the source as rejected."""
        if isinstance(value, str):
            key = (source, value)
            context = self.parsed.get(key, _UNSEEN)
            if context is _UNSEEN:
                context = self.parsed[key] = _context(name, value, source)
        else:
            context = _REJECTED
        if context is _REJECTED:
            record.rejected.append(source)
        elif isinstance(context, Context) and all(
            (c.trace_id, c.span_id) != (context.trace_id, context.span_id) for c in record.contexts
        ):
            record.contexts.append(context)


# --- carriers -----------------------------------------------------------------------------------


def _attribute_value(attribute: object) -> str | None:
    """The text of a String message attribute in any of the three casings; None for any other
    type (Binary, Number) or shape."""
    if not isinstance(attribute, dict):
        return None
    for type_key, value_key in _ATTRIBUTE_FIELDS:
        if type_key in attribute:
            data_type = attribute[type_key]
            is_string = data_type == "String" or (
                isinstance(data_type, str) and data_type.startswith("String.")
            )
            value = attribute.get(value_key)
            return value if is_string and isinstance(value, str) else None
    return None


def _may_be_envelope(body: object, budget: int) -> bool:
    """Whether an SQS body is worth parsing as an SNS envelope with message attributes: a JSON
    object within the bounds that mentions both; the scans are fast, the parse is what costs."""
    return (
        isinstance(body, str)
        and len(body) <= min(MAX_ENVELOPE_CHARS, budget)
        and body[:64].lstrip()[:1] == "{"
        and '"Notification"' in body
        and '"MessageAttributes"' in body
    )


def _envelope_attributes(body: str) -> object:
    """The ``MessageAttributes`` of the SNS notification that ``body`` is, or None: a body
    that does not parse as one is the user's own data, not a malformed context."""
    try:
        envelope = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if isinstance(envelope, dict) and envelope.get("Type") == "Notification":
        return envelope.get("MessageAttributes")
    return None


def _arn_name(arn: object) -> str | None:
    """The last part of an ARN (``arn:aws:sqs:REGION:ACCOUNT:NAME``): the queue or topic."""
    if not isinstance(arn, str) or not arn.startswith("arn:") or arn.count(":") < 5:
        return None
    return _short_text(arn.rpartition(":")[2])


def _short_text(value: object) -> str | None:
    if isinstance(value, str) and 0 < len(value) <= MAX_NAME_CHARS:
        return value
    return None


def _named_headers(headers: object) -> dict[str, object]:
    """The trace headers of a header map by lower-case name (the first spelling found wins),
    looking at no more than MAX_HEADERS keys."""
    found: dict[str, object] = {}
    if not isinstance(headers, dict):
        return found
    for count, (key, value) in enumerate(headers.items()):
        if count == MAX_HEADERS:
            break
        # Longer keys are other headers: not lower-casing them keeps a hostile one cheap.
        if isinstance(key, str) and len(key) <= _LONGEST_HEADER_NAME:
            lowered = key.lower()
            if lowered in _LOWER_HEADER_NAMES and lowered not in found:
                found[lowered] = value
    return found


# --- one value ----------------------------------------------------------------------------------


def _context(name: str, value: str, source: str) -> object:
    """The Context in ``value``; None when it names no span; _REJECTED when malformed."""
    if len(value) > MAX_VALUE_CHARS:
        return _REJECTED
    if name == TRACEPARENT_HEADER:
        parsed = parse_traceparent(value)
        return _REJECTED if parsed is None else Context(*parsed, source)
    # No valid X-Ray header holds a comma; joined repeats (HTTP API 2.0) would mix two.
    header = parse(value) if "," not in value else None
    if header is None or (header.parent is None and "Parent=" in value):
        return _REJECTED  # parse() drops a malformed Parent; here it makes the value malformed
    return _header_context(header, source)


def _header_context(header: TraceHeader, source: str) -> object:
    if header.root is None or header.parent is None:
        return None
    trace_id = to_w3c_trace_id(header.root)
    if trace_id == _ZERO_TRACE_ID or header.parent == _ZERO_SPAN_ID:
        return _REJECTED
    return Context(trace_id, header.parent, header.sampled == "1", source)


# --- what the invocation span makes of them ------------------------------------------------------


class Attachment:
    """What the event's contexts make of the invocation span: its ``parent`` (None: Lambda's
    header names it), its ``links`` as ``Span.links`` holds them, the ``attributes`` that say
    so, and the ``rejected`` sources of malformed values, each once."""

    __slots__ = ("attributes", "links", "parent", "rejected")

    def __init__(
        self,
        parent: Context | None,
        links: list[tuple[str, str]],
        attributes: dict[str, Any],
        rejected: list[str],
    ) -> None:
        self.parent = parent
        self.links = links
        self.attributes = attributes
        self.rejected = rejected


def attachment(
    batch: Batch, trigger_type: str, lambda_header: TraceHeader | None, mode: str
) -> Attachment:
    """Where the contexts of ``batch`` (``read``) put the invocation span.

    The parent: a single message's first context when ``mode`` (XRAYLAYER_MESSAGE_CONTEXT) is
    ``parent``, or ``auto`` and Lambda did not sample the invocation; an HTTP request's first
    context when Lambda did not sample the invocation (under Active tracing Lambda already
    continues API Gateway's header, and a sampled trace is not left). A batch never has one.

    The links: every other context, each span once, in the order found, except those in the
    invocation's own trace (they are its ancestors); with a parent from the event while Lambda
    records its own trace (``Sampled=1``), Lambda's context first, as OpenTelemetry's Lambda
    conventions link it. At most MAX_LINKS, in the form ``Span.links`` holds; the contexts
    left out are counted.
    """
    lambda_sampled = lambda_header is not None and lambda_header.sampled == "1"
    lambda_context = _lambda_context(lambda_header)
    parent = _parent(batch, trigger_type, lambda_sampled, mode)
    candidates = [c for record in batch.records for c in record.contexts]
    if parent is not None and lambda_context is not None and lambda_sampled:
        candidates.insert(0, lambda_context)  # the trace Lambda records, left for the event's
    trace_id = parent.trace_id if parent is not None else _lambda_trace_id(lambda_header)
    links = list(
        dict.fromkeys((c.trace_id, c.span_id) for c in candidates if c.trace_id != trace_id)
    )
    attributes = _messaging_attributes(batch, trigger_type)
    if parent is not None:
        attributes[semconv.XRAYLAYER_PARENT_SOURCE] = parent.source
    if len(links) > MAX_LINKS:
        attributes[semconv.XRAYLAYER_LINKS_DROPPED] = len(links) - MAX_LINKS
    rejected = list(dict.fromkeys(s for record in batch.records for s in record.rejected))
    return Attachment(parent, links[:MAX_LINKS], attributes, rejected)


def _parent(batch: Batch, trigger_type: str, lambda_sampled: bool, mode: str) -> Context | None:
    if trigger_type in HTTP_TRIGGERS:
        takes_parent = not lambda_sampled
    else:
        single = trigger_type in MESSAGING_SYSTEMS and batch.count == 1
        takes_parent = single and (mode == "parent" or (mode == "auto" and not lambda_sampled))
    if takes_parent and batch.records and batch.records[0].contexts:
        return batch.records[0].contexts[0]
    return None


def _lambda_context(header: TraceHeader | None) -> Context | None:
    """Lambda's own header (``_X_AMZN_TRACE_ID``) as a Context, when it names a span."""
    if header is None:
        return None
    context = _header_context(header, LAMBDA_SOURCE)
    return context if isinstance(context, Context) else None


def _lambda_trace_id(header: TraceHeader | None) -> str | None:
    if header is None or header.root is None:
        return None
    return to_w3c_trace_id(header.root)


def _messaging_attributes(batch: Batch, trigger_type: str) -> dict[str, Any]:
    """messaging.* of an SQS or SNS invocation: Lambda hands over a batch (of one, perhaps), so
    the count is always there; the message id only for a single message, the queue or topic
    when every message read came from the same one."""
    system = MESSAGING_SYSTEMS.get(trigger_type)
    if system is None:
        return {}
    attributes: dict[str, Any] = {
        semconv.MESSAGING_SYSTEM: system,
        semconv.MESSAGING_OPERATION_TYPE: "process",
        semconv.MESSAGING_BATCH_MESSAGE_COUNT: batch.count,
    }
    destinations = {record.destination for record in batch.records}
    if len(destinations) == 1 and None not in destinations:
        attributes[semconv.MESSAGING_DESTINATION_NAME] = destinations.pop()
    if batch.count == 1 and batch.records and batch.records[0].message_id is not None:
        attributes[semconv.MESSAGING_MESSAGE_ID] = batch.records[0].message_id
    if batch.count > len(batch.records):
        attributes[semconv.XRAYLAYER_MESSAGES_UNREAD] = batch.count - len(batch.records)
    return attributes
