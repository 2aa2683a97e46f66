"""The X-Ray documents of a batch of spans, whether or not Lambda sampled their invocation.

For the exporters that send whole traces themselves (the X-Ray API, the JSON-lines file), not
through the daemon into a trace Lambda writes. A span of a sampled invocation joins Lambda's
segments as an independent subsegment, exactly as on the daemon path
(``xray_document.subsegment_documents``). An unsampled invocation (PassThrough without
``Sampled=1``, or tracing off) has no Lambda segment to hang under, so its invocation span
becomes the segment (``origin: AWS::Lambda::Function``, no parent) and every other span of
that trace an independent subsegment, under it through its ``parent_id``. A span whose parent
was sent in an earlier batch, or never reached the extension, is such a subsegment too: it
joins the segment when that arrives, and X-Ray shows it unattached otherwise.

So does a span with no parent at all in such a trace (the extension's own ``Init`` span of a
failed init that no invocation followed).

The invocation span is recognised by what ``xraylayer.invocation`` gives it and no other span
has: kind SERVER with a non-empty ``faas.invocation_id`` (the request id), and no parent in
the batch. The last condition keeps a SERVER span that a user's OpenTelemetry code opened
inside the handler with the same attribute a subsegment, since a segment cannot nest.

Pure: spans in, dicts out, in the order given (children first, as they finished), so an
exception that propagated is sent once and referenced by id in its ancestors.
"""

from __future__ import annotations

from xraylayer import semconv
from xraylayer.spans import SERVER
from xraylayer.xray_document import recorded_exception_ids, segment_document, subsegment_document

TYPE_CHECKING = False  # type names only: ``typing`` is not free to import
if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterable

    from xraylayer.spans import Span


def trace_documents(
    spans: Iterable[Span], on_error: Callable[[Span, Exception], None]
) -> list[dict]:
    """One document per span, in the order given: a segment for the invocation span of an
    unsampled invocation, an independent subsegment for every other span. A span that cannot
    be converted is passed to ``on_error`` and left out."""
    spans = list(spans)
    in_batch = {(s.trace_id, s.span_id) for s in spans if isinstance(s.span_id, str)}
    documents = []
    known: set[str] = set()
    for span in spans:
        try:
            documents.append(_document(span, in_batch, known))
            known.update(recorded_exception_ids(span))
        except Exception as error:
            on_error(span, error)
    return documents


def is_unsampled_invocation(span: Span, in_batch: Collection[tuple[str, str]] = ()) -> bool:
    """Whether ``span`` is the invocation span of an invocation Lambda did not sample, and
    the top of its part of the trace: no span of ``in_batch`` ((trace id, span id) pairs) is
    its parent."""
    if span.sampled or span.kind != SERVER:
        return False
    attributes = span.attributes if isinstance(span.attributes, dict) else {}
    invocation_id = attributes.get(semconv.FAAS_INVOCATION_ID)
    if not (isinstance(invocation_id, str) and invocation_id):
        return False
    return (span.trace_id, span.parent_id) not in in_batch


def _document(span: Span, in_batch: Collection[tuple[str, str]], known: set[str]) -> dict:
    if is_unsampled_invocation(span, in_batch) or _unsampled_root(span):
        return segment_document(span, parent_id=_event_parent(span), known_exception_ids=known)
    return subsegment_document(span, known_exception_ids=known)


def _event_parent(span: Span) -> str | None:
    """The parent the invocation took from its event (a message's producer, an HTTP caller):
    the segment's ``parent_id``, so X-Ray joins it to that trace. Lambda's own Invocation
    subsegment, the usual parent, was never sent for an unsampled invocation."""
    attributes = span.attributes if isinstance(span.attributes, dict) else {}
    if attributes.get(semconv.XRAYLAYER_PARENT_SOURCE) and isinstance(span.parent_id, str):
        return span.parent_id
    return None


def _unsampled_root(span: Span) -> bool:
    """A span with no parent at all in a trace Lambda did not sample: the top of a trace the
    extension started itself (a failed init's), which only a segment can be."""
    return not span.sampled and not span.parent_id
