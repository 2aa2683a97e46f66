"""What became of the spans handed to one exporter: every span counted exactly once.

Shared by every exporter (daemon, X-Ray API, OTLP/HTTP, OTLP/UDP, file) so the extension's
accounting adds their results up the same way: exported, rejected by the receiver, or dropped
with a reason.
"""

from __future__ import annotations

# Reasons for dropped spans (keys of ExportResult.dropped) that several exporters give; each
# exporter names its own besides (``http_<status>``, ``invalid_span``, ``file_error`` ...).
DEADLINE = "deadline"  # no time left to try
TIMEOUT = "timeout"  # the receiver did not answer before the deadline
CONNECTION_ERROR = "connection_error"  # refused, reset, DNS, TLS ... until the deadline
INTERNAL_ERROR = "internal_error"  # a bug of ours, logged
CONVERSION_FAILED = "conversion_failed"  # a span that could not become an X-Ray document
INVALID_SPAN = "invalid_span"  # ids OTLP cannot carry


class ExportResult:
    """What became of the spans of one ``export`` call: each is counted exactly once.

    ``dropped`` maps a reason (``timeout``, ``connection_error``, ``http_503``, ``deadline``,
    ``invalid_span``, ``internal_error``, ...) to a count. ``message`` is the receiver's error
    message (partial success, 400) or the last error seen.
    """

    __slots__ = ("attempts", "dropped", "exported", "message", "rejected")

    def __init__(
        self,
        exported: int = 0,
        rejected: int = 0,
        dropped: dict[str, int] | None = None,
        *,
        attempts: int = 0,
        message: str | None = None,
    ) -> None:
        self.exported = exported
        self.rejected = rejected
        self.dropped = {reason: n for reason, n in (dropped or {}).items() if n}
        self.attempts = attempts
        self.message = message

    @property
    def dropped_count(self) -> int:
        return sum(self.dropped.values())

    @property
    def total(self) -> int:
        return self.exported + self.rejected + self.dropped_count

    def add(self, other: ExportResult) -> None:
        """Count ``other``'s spans in this result too."""
        self.exported += other.exported
        self.rejected += other.rejected
        for reason, count in other.dropped.items():
            self.drop(reason, count)
        self.attempts += other.attempts
        self.message = other.message or self.message

    def drop(self, reason: str, count: int) -> None:
        if count:
            self.dropped[reason] = self.dropped.get(reason, 0) + count

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ExportResult):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self.__slots__)

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return (
            f"ExportResult(exported={self.exported}, rejected={self.rejected}, "
            f"dropped={self.dropped}, attempts={self.attempts}, message={self.message!r})"
        )
