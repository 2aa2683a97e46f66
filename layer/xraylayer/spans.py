"""The span: one timed operation of the function, as the layer records it.

A span is neutral about where it goes. Its ``attributes`` follow OpenTelemetry's semantic
conventions (``rpc.service``, ``http.request.method``, ``faas.trigger`` ...), from which both
the X-Ray document (``aws`` and ``http`` blocks) and the OTLP span are derived; X-Ray's own
notions that have no OpenTelemetry equivalent (annotations, metadata namespaces, the
error / throttle / fault split) are fields of their own.

Kept small and import-light: spans are made on every SDK and HTTP call.
"""

from __future__ import annotations

import contextlib
import os
import time

from .trace_header import new_id

# Type names only: `typing` costs 2 ms at every cold start.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import TracebackType
    from typing import Any

# Span kinds, as in OpenTelemetry.
INTERNAL, SERVER, CLIENT, PRODUCER, CONSUMER = (
    "internal",
    "server",
    "client",
    "producer",
    "consumer",
)

MAX_STACK_FRAMES = 50  # X-Ray documents must stay under 64 KB; deep stacks are truncated


class Span:
    """One operation: name, ids, times, attributes, and how it failed if it did.

    ``trace_id`` is the 32-hex OpenTelemetry form (an X-Ray ``Root`` without ``1-`` and its
    dashes); ``parent_id`` is the 16-hex id of the parent span or of Lambda's Invocation
    subsegment. ``end_time`` is ``None`` while the span is open.
    """

    __slots__ = (
        "annotations",
        "attributes",
        "end_time",
        "error",
        "exceptions",
        "fault",
        "kind",
        "links",
        "metadata",
        "name",
        "namespace",
        "parent_id",
        "sampled",
        "span_id",
        "start_time",
        "status_message",
        "throttle",
        "trace_id",
    )

    def __init__(
        self,
        name: str,
        trace_id: str,
        parent_id: str | None = None,
        *,
        kind: str = INTERNAL,
        sampled: bool = True,
        namespace: str | None = None,
        attributes: dict[str, Any] | None = None,
        start_time: float | None = None,
        span_id: str | None = None,
    ) -> None:
        self.name = name
        self.trace_id = trace_id
        self.span_id = span_id or new_id()
        self.parent_id = parent_id
        self.kind = kind
        self.sampled = sampled
        self.namespace = namespace
        self.start_time = time.time() if start_time is None else start_time
        self.end_time: float | None = None
        self.attributes: dict[str, Any] = dict(attributes) if attributes else {}
        self.annotations: dict[str, str | int | float | bool] = {}
        self.metadata: dict[str, dict[str, Any]] = {}
        self.error = self.throttle = self.fault = False
        self.status_message: str | None = None
        self.exceptions: list[dict[str, Any]] = []
        self.links: list[tuple[str, str]] = []

    @property
    def ended(self) -> bool:
        return self.end_time is not None

    def end(self, end_time: float | None = None) -> None:
        """Close the span (once; later calls keep the first end time)."""
        if self.end_time is None:
            self.end_time = time.time() if end_time is None else end_time

    def set_status_code(self, status: int) -> None:
        """Mark error (4xx), throttle (429, also an error) or fault (5xx), as X-Ray does."""
        if status == 429:
            self.throttle = self.error = True
        elif 400 <= status < 500:
            self.error = True
        elif status >= 500:
            self.fault = True

    def record_exception(
        self,
        exception: BaseException,
        *,
        remote: bool = False,
        traceback: TracebackType | None = None,
    ) -> dict[str, Any]:
        """Record an exception with its stack; a local one is a fault, a remote one an error.

        The same exception object recorded again (as it propagates to a parent span) keeps
        its id, so X-Ray can show one cause instead of a copy per level.
        """
        record = {
            "id": _exception_id(exception),
            "type": type(exception).__name__,
            "message": _message(exception),
            "remote": remote,
            **_stack(traceback or exception.__traceback__),
        }
        self.exceptions.append(record)
        if remote:
            self.error = True
        else:
            self.fault = True
        self.status_message = record["message"] or record["type"]
        return record

    def __repr__(self) -> str:
        state = "open" if self.end_time is None else f"{self.duration_ms():.1f} ms"
        return f"<Span {self.name!r} {self.span_id} parent={self.parent_id} {state}>"

    def duration_ms(self) -> float:
        end = time.time() if self.end_time is None else self.end_time
        return (end - self.start_time) * 1000


def _message(exception: BaseException) -> str:
    """``str(exception)``, or what Python's own traceback printer writes when that raises."""
    try:
        return str(exception)
    except Exception:
        return "<exception str() failed>"


def _exception_id(exception: BaseException) -> str:
    """A stable id per exception object: its first record names it, later ones reuse it."""
    known = getattr(exception, "__xraylayer_id__", None)
    if known is not None:
        return known
    exception_id = new_id()
    # Exceptions with __slots__ cannot carry it; they get a fresh id per record.
    with contextlib.suppress(AttributeError):
        exception.__xraylayer_id__ = exception_id  # type: ignore[attr-defined]
    return exception_id


def _stack(traceback: TracebackType | None) -> dict[str, Any]:
    """Stack frames, innermost first as X-Ray shows them, with paths relative to the task root."""
    frames = []
    while traceback is not None:
        code = traceback.tb_frame.f_code
        frames.append(
            {
                "path": _relative(code.co_filename),
                "line": traceback.tb_lineno,
                "label": code.co_name,
            }
        )
        traceback = traceback.tb_next
    frames.reverse()
    if len(frames) <= MAX_STACK_FRAMES:
        return {"stack": frames}
    return {"stack": frames[:MAX_STACK_FRAMES], "truncated": len(frames) - MAX_STACK_FRAMES}


def _relative(path: str) -> str:
    root = os.environ.get("LAMBDA_TASK_ROOT")
    if root and path.startswith(root.rstrip("/") + "/"):
        return path[len(root.rstrip("/")) + 1 :]
    return path
