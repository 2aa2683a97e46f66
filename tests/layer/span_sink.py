"""The tests' span sink: keeps every span the tracer finishes, in the order they finished."""

from __future__ import annotations

import threading

from xraylayer import semconv
from xraylayer.spans import Span


class CollectingSink:
    """Stands in for the hand-off: collects finished spans (thread-safe: workers emit too)."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self._lock = threading.Lock()

    def emit(self, span: Span) -> None:
        with self._lock:
            self.spans.append(span)

    def named(self, name: str) -> list[Span]:
        return [span for span in self.spans if span.name == name]

    def one(self, name: str) -> Span:
        """The single span called `name` (fails the test if there are none or several)."""
        (span,) = self.named(name)
        return span

    def aws(self) -> list[Span]:
        """The AWS SDK spans, in the order they finished."""
        return [span for span in self.spans if span.attributes.get(semconv.RPC_SYSTEM)]

    def one_aws(self) -> Span:
        (span,) = self.aws()
        return span

    def clear(self) -> None:
        with self._lock:
            self.spans.clear()
