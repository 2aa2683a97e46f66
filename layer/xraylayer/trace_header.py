"""The X-Ray trace header (``X-Amzn-Trace-Id``, ``_X_AMZN_TRACE_ID``) and X-Ray ids.

This module runs in every traced invocation, so it imports only ``os`` (already loaded by the
interpreter) and validates hex with ``str.strip`` instead of compiling regular expressions.

Parsing is tolerant, as the X-Ray SDKs are: headers arrive from API Gateway, ALB, SQS, botocore
and Lambda in any key order, sometimes without ``Parent`` or ``Sampled``, with keys no SDK knows
(``Lineage``, ``Self``). Unknown keys are kept verbatim and re-emitted, because Lambda's recursion
detection breaks when ``Lineage`` is not forwarded.
"""

from __future__ import annotations

import os

_HEX = "0123456789abcdefABCDEF"
_SAMPLED_VALUES = ("1", "0", "?")
_KNOWN_KEYS = ("Root", "Parent", "Sampled")


class _Keep:
    """Default of ``with_parent(sampled=...)``: keep the sampling decision the header had."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "KEEP"


KEEP = _Keep()


def _is_hex(value: str, length: int) -> bool:
    return len(value) == length and not value.strip(_HEX)


def is_trace_id(value: str) -> bool:
    """Whether ``value`` has the X-Ray trace id shape ``1-{8 hex}-{24 hex}``."""
    return (
        len(value) == 35
        and value[:2] == "1-"
        and value[10] == "-"
        and _is_hex(value[2:10], 8)
        and _is_hex(value[11:], 24)
    )


def is_span_id(value: str) -> bool:
    """Whether ``value`` is a 16-hex (sub)segment id, the form ``Parent`` must have."""
    return _is_hex(value, 16)


class TraceHeader:
    """One parsed ``X-Amzn-Trace-Id`` value; immutable, compared by value.

    ``extra`` holds every key other than Root, Parent and Sampled (``Lineage``, ``Self``, ...)
    as ``(key, value)`` pairs in their original order, values untouched (``%7C`` stays ``%7C``).
    """

    __slots__ = ("extra", "parent", "root", "sampled")

    root: str | None
    parent: str | None
    sampled: str | None
    extra: tuple[tuple[str, str], ...]

    def __init__(
        self,
        root: str | None,
        parent: str | None = None,
        sampled: str | None = None,
        extra: tuple[tuple[str, str], ...] = (),
    ) -> None:
        object.__setattr__(self, "root", root)
        object.__setattr__(self, "parent", parent)
        object.__setattr__(self, "sampled", sampled)
        object.__setattr__(self, "extra", tuple(extra))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("TraceHeader is immutable; use with_parent()")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("TraceHeader is immutable")

    def _fields(self) -> tuple:
        return (self.root, self.parent, self.sampled, self.extra)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TraceHeader):
            return NotImplemented
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        return (
            f"TraceHeader(root={self.root!r}, parent={self.parent!r}, "
            f"sampled={self.sampled!r}, extra={self.extra!r})"
        )

    def to_header(self) -> str:
        """The header value: ``Root=..;Parent=..;Sampled=..`` then the extra keys; absent fields
        are left out rather than written empty."""
        parts = []
        if self.root is not None:
            parts.append("Root=" + self.root)
        if self.parent is not None:
            parts.append("Parent=" + self.parent)
        if self.sampled is not None:
            parts.append("Sampled=" + self.sampled)
        parts.extend(key + "=" + value for key, value in self.extra)
        return ";".join(parts)

    def with_parent(self, span_id: str, sampled: str | _Keep | None = KEEP) -> TraceHeader:
        """A copy for a downstream call made from span ``span_id``, keeping Root and the extra
        keys (so ``Lineage`` travels on); ``sampled`` replaces the decision when given."""
        if not is_span_id(span_id):
            raise ValueError(f"span id must be 16 hex digits: {span_id!r}")
        if isinstance(sampled, _Keep):
            sampled = self.sampled
        elif sampled is not None and sampled not in _SAMPLED_VALUES:
            raise ValueError(f"Sampled must be one of 1, 0, ?: {sampled!r}")
        return TraceHeader(self.root, span_id, sampled, self.extra)


def parse(value: str | None) -> TraceHeader | None:
    """The header in ``value``, or None when it has no valid Root (then it carries no trace).

    Never raises on a string. Parts without ``=`` or with an empty key are skipped; a malformed
    Parent or Sampled is treated as absent; for a repeated Root, Parent or Sampled the last one
    counts, as in the X-Ray SDK.
    """
    if not isinstance(value, str):
        return None
    known: dict[str, str] = {}
    extra: list[tuple[str, str]] = []
    for part in value.strip().split(";"):
        key, sep, item = part.partition("=")
        key = key.strip()
        if not sep or not key:
            continue
        item = item.strip()
        if key in _KNOWN_KEYS:
            known[key] = item
        else:
            extra.append((key, item))
    root = known.get("Root")
    if root is None or not is_trace_id(root):
        return None
    parent = known.get("Parent")
    if parent is not None and not is_span_id(parent):
        parent = None
    sampled = known.get("Sampled")
    if sampled not in _SAMPLED_VALUES:
        sampled = None
    return TraceHeader(root, parent, sampled, tuple(extra))


def new_trace_id(now: float) -> str:
    """A fresh X-Ray trace id whose first part is ``now`` in epoch seconds, as X-Ray expects."""
    seconds = max(0, int(now)) & 0xFFFFFFFF
    return f"1-{seconds:08x}-{os.urandom(12).hex()}"


def new_id() -> str:
    """A fresh 16-hex (sub)segment id; never all zeros (W3C treats that as invalid)."""
    while True:
        span_id = os.urandom(8).hex()
        if span_id != "0000000000000000":
            return span_id


def to_w3c_trace_id(root: str) -> str:
    """The 32-hex OpenTelemetry/W3C form of an X-Ray trace id (``1-`` and dashes dropped)."""
    if not is_trace_id(root):
        raise ValueError(f"not an X-Ray trace id: {root!r}")
    return (root[2:10] + root[11:]).lower()


def from_w3c_trace_id(trace_id: str) -> str:
    """The X-Ray form ``1-{8 hex}-{24 hex}`` of a 32-hex OpenTelemetry/W3C trace id."""
    if not _is_hex(trace_id, 32):
        raise ValueError(f"not a 32-hex trace id: {trace_id!r}")
    trace_id = trace_id.lower()
    return f"1-{trace_id[:8]}-{trace_id[8:]}"
