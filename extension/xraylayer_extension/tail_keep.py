"""Tail keep: an unsampled invocation that went wrong is still exported to the full-trace
exporters, marked with why.

Head sampling (Lambda's flag, then `TraceSampler.keeps`) decides before anything happened, so
with a low ratio the invocations worth looking at are the likeliest to be missed. The
extension holds every span of an invocation until it is over, so it can look at the outcome
for the price of one pass over spans already in memory. The X-Ray daemon exporter is not
concerned: it follows Lambda's decision, as Lambda's own segments do.

An invocation is kept, for the first reason that holds in this order:

============  ==================================================================================
`timeout`     the function timed out: the extension closed its invocation span at the deadline
              (`invocations.close_unfinished` with `causes.TIMEOUT_CAUSE`).
`fault`       any of its spans is a fault: the handler raised, a call failed on its way (a
              connection error) or got a 5xx, the runtime crashed (`Runtime.ExitError`) or the
              sandbox shut down mid-invocation.
`throttle`    any of its spans was throttled (429, or an AWS throttling error code), even when
              the code handled it: throttling is a capacity signal, not an answer the code
              asked for.
`error`       the invocation itself answered its caller with a 4xx. A 4xx answer to one of the
              function's own calls (S3 `NoSuchKey`, DynamoDB `ConditionalCheckFailed`) is
              often how the code asks a question, so it does not count; when it was not
              handled, the handler raised, which is a fault.
`slow`        the invocation ran longer than `XRAYLAYER_TAIL_KEEP_SLOW_MS`.
============  ==================================================================================

The reason is recorded on the invocation span as the attribute `xraylayer.tail_kept`, so that a
backend can tell these traces from sampled ones (their count is not a sample of the traffic).

Pure: the caller passes the environment in and logs the warning line it gets back.
"""

from __future__ import annotations

from xraylayer.semconv import FAAS_INVOCATION_ID
from xraylayer.spans import SERVER

from .causes import TIMEOUT_CAUSE

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from xraylayer.spans import Span

ENABLED_ENV = "XRAYLAYER_TAIL_KEEP"
SLOW_MS_ENV = "XRAYLAYER_TAIL_KEEP_SLOW_MS"
TAIL_KEPT = "xraylayer.tail_kept"

TIMEOUT, FAULT, THROTTLE, ERROR, SLOW = "timeout", "fault", "throttle", "error", "slow"
REASONS = (TIMEOUT, FAULT, THROTTLE, ERROR, SLOW)
"""Every reason, the most telling first: the one reported when several hold."""

DEFAULT_SLOW_MS = 0.0
"""No invocation is kept for being slow unless `XRAYLAYER_TAIL_KEEP_SLOW_MS` says how slow.

Durations differ by orders of magnitude between functions (a 20 ms API handler, a 10-minute
batch job), and one variable covers the whole function, so no fixed number means "slow": too
low, and every invocation of a slow function is kept, undoing the sampler; too high, and it
never fires. The worst case, a timeout, is kept anyway. The user who knows the function's
latency goal sets it.
"""

_ON = ("on", "true", "1", "yes")  # the spellings the layer's own boolean variables accept
_OFF = ("off", "false", "0", "no")
_RANK = {reason: rank for rank, reason in enumerate(REASONS)}


def _is_threshold(slow_ms: float) -> bool:
    """Whether `slow_ms` is a usable threshold: a finite number, 0 or more (not NaN)."""
    return 0.0 <= slow_ms < float("inf")


class TailKeepError(ValueError):
    """A tail-keep setting that cannot be used; the message quotes it and says why."""


class TailKeep:
    """Whether tail keep is on, and the duration (ms) above which an invocation is slow
    (0: none is). Immutable, compared by value."""

    __slots__ = ("enabled", "slow_ms")
    enabled: bool
    slow_ms: float

    def __init__(self, enabled: bool = True, slow_ms: float = DEFAULT_SLOW_MS) -> None:
        if not _is_threshold(slow_ms):
            raise TailKeepError(f"the slow threshold must be 0 ms or more, not {slow_ms!r}")
        object.__setattr__(self, "enabled", bool(enabled))
        object.__setattr__(self, "slow_ms", float(slow_ms))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("TailKeep is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("TailKeep is immutable")

    def reason(self, spans: Iterable[Span]) -> str | None:
        """Why the invocation made of `spans` is exported although head sampling said no (one
        of `REASONS`), or None: it is not. `spans` are one invocation's, its invocation span
        among them; given several invocations' spans, the reason covers them all."""
        if not self.enabled:
            return None
        found = None
        for span in spans:
            shown = self._shown_by(span)
            if shown is not None and (found is None or _RANK[shown] < _RANK[found]):
                found = shown
                if found == REASONS[0]:
                    break
        return found

    def _shown_by(self, span: Span) -> str | None:
        """The most telling reason `span` alone shows, or None."""
        if span.fault:
            return TIMEOUT if _timed_out(span) else FAULT
        if span.throttle:
            return THROTTLE
        if not is_invocation_span(span):
            return None
        if span.error:
            return ERROR
        if self._slow(span):
            return SLOW
        return None

    def _slow(self, span: Span) -> bool:
        """Whether `span`, ended, lasted longer than the slow threshold (if there is one)."""
        end_time = span.end_time
        return (
            bool(self.slow_ms)
            and end_time is not None
            and ((end_time - span.start_time) * 1000 > self.slow_ms)
        )

    @staticmethod
    def mark(spans: Iterable[Span], reason: str) -> None:
        """Record `reason` on the invocation span among `spans` (attribute
        `xraylayer.tail_kept`); nothing else changes, on it or on the other spans."""
        for span in spans:
            if is_invocation_span(span):
                span.attributes[TAIL_KEPT] = reason

    def describe(self) -> str:
        """Tail keep for the extension's start and summary lines: `tail keep off`, `tail keep
        on (timeout, fault, throttle, error)`, `... error, slow over 2000 ms)`."""
        if not self.enabled:
            return "tail keep off"
        reasons = ", ".join(REASONS[:-1])
        if self.slow_ms:
            reasons += f", {SLOW} over {self.slow_ms:g} ms"
        return f"tail keep on ({reasons})"

    def __repr__(self) -> str:
        return f"TailKeep(enabled={self.enabled!r}, slow_ms={self.slow_ms!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TailKeep):
            return NotImplemented
        return self.enabled == other.enabled and self.slow_ms == other.slow_ms

    def __hash__(self) -> int:
        return hash((self.enabled, self.slow_ms))


DEFAULT_TAIL_KEEP = TailKeep()


def is_invocation_span(span: Span) -> bool:
    """Whether `span` is an invocation's own span (the server span with the request id), as
    opposed to its children and the spans of init."""
    return span.kind == SERVER and FAAS_INVOCATION_ID in span.attributes


def _timed_out(span: Span) -> bool:
    """Whether the extension closed `span` at the invocation's deadline."""
    error_type = TIMEOUT_CAUSE[0]
    return any(record.get("type") == error_type for record in span.exceptions)


def parse_enabled(text: str | None) -> bool:
    """`XRAYLAYER_TAIL_KEEP`: on, true, 1, yes / off, false, 0, no (any case); unset or blank
    means on. Raises TailKeepError for anything else."""
    if text is None or not text.strip():
        return DEFAULT_TAIL_KEEP.enabled
    value = text.strip().lower()
    if value in _ON or value in _OFF:
        return value in _ON
    raise TailKeepError(f"{ENABLED_ENV}={text!r} is not a switch: expected on or off")


def parse_slow_ms(text: str | None) -> float:
    """`XRAYLAYER_TAIL_KEEP_SLOW_MS`: milliseconds, 0 or more (0: off); unset or blank means
    off. Raises TailKeepError for anything else."""
    if text is None or not text.strip():
        return DEFAULT_SLOW_MS
    try:
        slow_ms = float(text.strip())
    except ValueError:
        slow_ms = -1.0
    if not _is_threshold(slow_ms):
        raise TailKeepError(
            f"{SLOW_MS_ENV}={text!r} is not a duration: expected a number of milliseconds, "
            "such as 2000, or 0 for off"
        )
    return slow_ms


def tail_keep_from(environ: Mapping[str, str]) -> tuple[TailKeep, str | None]:
    """The tail keep `environ` asks for, and None; or, for bad values, the defaults in their
    place and one line to log (prefixed `xraylayer:`) naming each, so the extension never
    fails over them."""
    problems = []
    try:
        enabled = parse_enabled(environ.get(ENABLED_ENV))
    except TailKeepError as error:
        enabled = DEFAULT_TAIL_KEEP.enabled
        problems.append(str(error))
    try:
        slow_ms = parse_slow_ms(environ.get(SLOW_MS_ENV))
    except TailKeepError as error:
        slow_ms = DEFAULT_SLOW_MS
        problems.append(str(error))
    keep = TailKeep(enabled, slow_ms)
    if not problems:
        return keep, None
    return keep, f"xraylayer: {'; '.join(problems)}; using {keep.describe()}"
