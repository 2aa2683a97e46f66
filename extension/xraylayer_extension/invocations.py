"""What the extension holds of each invocation until it exports it: pure state, no I/O.

The function process announces an invocation (``start``, with the still-open invocation span),
hands over finished spans, and says when its handler returned (``end``). The extension keeps
those per request id so that, when Lambda's INVOKE for that id is over, it can export exactly
that invocation's spans - and, when the end marker never comes (timeout, crash), close the
invocation span itself with a fault, keeping the children that did arrive.

Spans without a request id (made during init) and spans arriving for an invocation already
exported (a late thread) are kept apart as *loose* spans and go out with the next export.
Memory is bounded: beyond ``max_spans`` held spans, new ones are dropped and counted (the
invocation spans themselves are never dropped: one per invocation, and the one that matters).
The bound follows the function's memory size (``held_span_bound``), since the extension's
memory is taken from the function's: a held span costs about 2 KiB.
"""

from __future__ import annotations

from collections import deque

from xraylayer.spans import Span
from xraylayer.trace_header import new_id

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

MAX_HELD_SPANS = 10_000
MIN_HELD_SPANS = 1_000
HELD_SPANS_PER_MB = 40  # ~80 KiB per MB of the function's memory: under a tenth of it
MEMORY_SIZE_VARIABLE = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"  # set by Lambda, in MB
REMEMBERED_CLOSED = 256  # request ids already exported, to recognise late spans
INTAKE_FULL = "intake_full"
# The function's own invocation span, arriving after the extension closed and exported its
# open copy (the end marker came too late): exporting both would show the invocation twice.
ALREADY_CLOSED = "already_closed"
LOST_AFTER_RECEIPT = (INTAKE_FULL, ALREADY_CLOSED)  # counted in `received` and in `dropped`


def held_span_bound(environ: Mapping[str, str]) -> int:
    """How many spans the extension may hold at once in a function of this memory size:
    40 per MB, from 1,000 to 10,000 (128 MB: 5,120, about 10 MiB); 10,000 when not known."""
    text = environ.get(MEMORY_SIZE_VARIABLE, "")
    if not (text.isascii() and text.isdigit()):
        return MAX_HELD_SPANS
    return max(MIN_HELD_SPANS, min(MAX_HELD_SPANS, int(text) * HELD_SPANS_PER_MB))


class Invocation:
    """One request id's share: the open invocation span, finished spans, the end marker."""

    __slots__ = ("ended", "open_span", "request_id", "spans", "started")

    def __init__(self, request_id: str) -> None:
        self.request_id = request_id
        self.open_span: Span | None = None
        self.spans: list[Span] = []
        self.started = False
        self.ended = False


class InvocationStore:
    """Spans grouped per request id, with a bound on how many are held at once.

    A plain class, not a dataclass: ``dataclasses`` costs 7 ms to import, paid before the
    extension's first ``next``.
    """

    def __init__(self, max_spans: int = MAX_HELD_SPANS) -> None:
        self.max_spans = max_spans
        self.invocations: dict[str, Invocation] = {}
        self.loose: list[Span] = []  # init-time spans, and late ones of exported invocations
        self.held = 0
        self.received = 0
        self.dropped: dict[str, int] = {}
        self.closed: deque[str] = deque(maxlen=REMEMBERED_CLOSED)
        self.closed_here = 0  # open invocation spans handed out for the extension to close
        self._closed_span_ids: deque[str] = deque(maxlen=REMEMBERED_CLOSED)

    def started(self, request_id: str | None, span: Span) -> None:
        """An invocation began; its span is open and counts once it is held."""
        if request_id is None:
            return
        invocation = self._invocation(request_id)
        invocation.started = True
        if invocation.open_span is None:  # one per invocation: not counted against the bound
            invocation.open_span = span

    def add(self, request_id: str | None, span: Span) -> None:
        """A finished span; the invocation span itself replaces its open copy."""
        self.received += 1
        if request_id is None or request_id in self.closed:
            if span.span_id in self._closed_span_ids:  # only an exported invocation's span
                self.drop(ALREADY_CLOSED)
                return
            self._hold(self.loose, span)
            return
        invocation = self._invocation(request_id)
        open_span = invocation.open_span
        if open_span is not None and open_span.span_id == span.span_id:
            invocation.open_span = None
            invocation.spans.append(span)  # the invocation's own span is never dropped
            self.held += 1
            return
        self._hold(invocation.spans, span)

    def ended(self, request_id: str | None) -> None:
        if request_id is not None and request_id not in self.closed:
            self._invocation(request_id).ended = True

    def has_started(self, request_id: str) -> bool:
        invocation = self.invocations.get(request_id)
        return invocation is not None and invocation.started

    def has_ended(self, request_id: str) -> bool:
        invocation = self.invocations.get(request_id)
        return invocation is not None and invocation.ended

    def take(self, request_id: str) -> tuple[list[Span], Span | None]:
        """The finished spans of ``request_id``, of every other invocation that has ended (one
        the extension stopped waiting for early), and all loose ones; plus ``request_id``'s
        invocation span if still open. ``request_id`` is then closed: later spans are loose."""
        invocation = self.invocations.pop(request_id, None)
        self.closed.append(request_id)
        spans, self.loose = self.loose, []
        for other in [i for i in self.invocations.values() if i.ended]:
            del self.invocations[other.request_id]
            self.closed.append(other.request_id)
            spans.extend(other.spans)
            if other.open_span is not None:  # ended, yet its span never came: close it as is
                spans.append(self._closing(other.open_span))
        open_span = None
        if invocation is not None:
            spans.extend(invocation.spans)
            if invocation.open_span is not None:
                open_span = self._closing(invocation.open_span)
        self.held = len(self.loose) + sum(len(i.spans) for i in self.invocations.values())
        return spans, open_span

    def take_all(self) -> tuple[list[Span], list[Span]]:
        """Everything held (finished spans, and the invocation spans still open)."""
        spans, open_spans = self.loose, []
        self.loose = []
        for invocation in self.invocations.values():
            spans.extend(invocation.spans)
            if invocation.open_span is not None:
                open_spans.append(self._closing(invocation.open_span))
        self.invocations.clear()
        self.held = 0
        return spans, open_spans

    def drop(self, reason: str, count: int = 1) -> None:
        if count:
            self.dropped[reason] = self.dropped.get(reason, 0) + count

    def _closing(self, span: Span) -> Span:
        """An open invocation span the extension now closes and exports itself: remembered,
        so that the function's own copy, if it still comes, is not exported a second time."""
        self.closed_here += 1
        self._closed_span_ids.append(span.span_id)
        return span

    def _invocation(self, request_id: str) -> Invocation:
        invocation = self.invocations.get(request_id)
        if invocation is None:
            invocation = self.invocations[request_id] = Invocation(request_id)
        return invocation

    def _hold(self, spans: list[Span], span: Span) -> None:
        if self._room():
            spans.append(span)
            self.held += 1

    def _room(self) -> bool:
        if self.held < self.max_spans:
            return True
        self.drop(INTAKE_FULL)
        return False


def close_unfinished(span: Span, end_time: float, cause: str, error_type: str) -> Span:
    """Close an invocation span the function could not close (timeout, crash): a fault whose
    cause is what Lambda reports, so the failed invocation shows in X-Ray like one that raised."""
    span.end(end_time)
    span.fault = True
    span.status_message = cause
    span.exceptions.append({"id": new_id(), "type": error_type, "message": cause, "remote": False})
    return span
