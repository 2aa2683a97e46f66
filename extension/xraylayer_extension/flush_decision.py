"""The flush decision: given the policy and what has happened, what to do now.

The lifecycle feeds one `FlushDecision` per sandbox with events and the state of its pending
buffer, and acts on each answer:

- `FLUSH_BLOCKING`: export what is pending now and finish before calling `next`. Only given at
  an invocation's end and at SHUTDOWN.
- `FLUSH_BACKGROUND`: start exporting what is pending now without waiting for it. Given at an
  invocation's start, or when spans arrive, while the function is working. A background flush
  still running when the invocation ends must be awaited (within the export deadline) before
  `next`, because the freeze would stop it in the middle of a request.
- `WAIT`: leave the spans pending.

The object is pure: every event carries `now`, read by the caller from its clock
(`time.monotonic()` in the extension, a fake in the tests), plus what is pending: `spans`,
`size` (bytes as received) and `oldest_age` (seconds the oldest pending span has waited). The
decision keeps no count of the spans themselves. It assumes the caller acts on every flush
answer, so a flush answer counts as a flush from then on. `reason` says why the last answer
was given, for debug logs and tests.

The adaptive rule (numbers and reasons in flush_policy.py):

- At an invocation's end, defer (`WAIT`) only when all of these hold: the last
  `RECENT_INVOCATIONS` starts are known, their mean gap and the latest gap are both under
  `FREQUENT_INTERVAL_S`, and the oldest pending span plus the expected gap stays under
  `MAX_STALENESS_S`. Otherwise `FLUSH_BLOCKING`.
- At an invocation's start, `FLUSH_BACKGROUND` once the oldest pending span is
  `BACKGROUND_INTERVAL_S` old. These are spans deferred by busy traffic, or late spans of a
  previous invocation. Younger leftovers go with the end-of-invocation flush.

For every policy: reaching `MAX_PENDING_SPANS` or `MAX_PENDING_BYTES` flushes at once (in the
background at a start or on arrival, blocking at an end); spans older than the policy's
`max_staleness_s` go in the background at a start or on arrival; SHUTDOWN always answers
`FLUSH_BLOCKING`, so everything pending is exported.
"""

from __future__ import annotations

from .flush_policy import (
    ADAPTIVE,
    DEFAULT_POLICY,
    END,
    FREQUENT_INTERVAL_S,
    MAX_PENDING_BYTES,
    MAX_PENDING_SPANS,
    MAX_STALENESS_S,
    PERIODIC,
    RECENT_INVOCATIONS,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .flush_policy import FlushPolicy

FLUSH_BLOCKING = "flush-blocking"
FLUSH_BACKGROUND = "flush-background"
WAIT = "wait"


class FlushDecision:
    """What to do about pending spans at each event of one sandbox's life, under `policy`."""

    __slots__ = ("_last_flush", "_starts", "policy", "reason")

    def __init__(self, policy: FlushPolicy = DEFAULT_POLICY) -> None:
        self.policy = policy
        self.reason = "no event yet"
        self._starts: list[float] = []  # the latest invocation starts, oldest first
        self._last_flush: float | None = None

    # Traffic, as the adaptive policy sees it.
    def mean_interval(self) -> float | None:
        """Mean gap between the remembered invocation starts (None before two starts)."""
        starts = self._starts
        if len(starts) < 2:
            return None
        return (starts[-1] - starts[0]) / (len(starts) - 1)

    def frequent(self) -> bool:
        """Whether the learning window is full and its mean gap and latest gap are both under
        `FREQUENT_INTERVAL_S`: whether the next invocation can be counted on to come soon."""
        starts = self._starts
        if len(starts) < RECENT_INVOCATIONS:
            return False
        latest_gap = starts[-1] - starts[-2]
        return self.mean_interval() < FREQUENT_INTERVAL_S and latest_gap < FREQUENT_INTERVAL_S

    # Events.
    def invocation_started(
        self, now: float, *, spans: int = 0, size: int = 0, oldest_age: float = 0.0
    ) -> str:
        """An INVOKE event arrived: `FLUSH_BACKGROUND` or `WAIT`."""
        starts = self._starts
        starts.append(now)
        if len(starts) > RECENT_INVOCATIONS:
            del starts[0]
        if not spans:
            return self._wait("nothing pending")
        if spans >= MAX_PENDING_SPANS or size >= MAX_PENDING_BYTES:
            return self._flush(now, FLUSH_BACKGROUND, "buffer cap")
        policy = self.policy
        if oldest_age >= policy.max_staleness_s:
            return self._flush(now, FLUSH_BACKGROUND, "stale")
        if policy.mode == ADAPTIVE and oldest_age >= policy.interval_s:
            return self._flush(now, FLUSH_BACKGROUND, "ripe")
        if policy.mode == PERIODIC and (
            self._last_flush is None or now - self._last_flush >= policy.interval_s
        ):
            return self._flush(now, FLUSH_BACKGROUND, "period elapsed")
        return self._wait(f"{policy.mode} policy: not yet")

    def invocation_finished(
        self, now: float, *, spans: int = 0, size: int = 0, oldest_age: float = 0.0
    ) -> str:
        """The runtime is done with the invocation (the extension is about to call `next`):
        `FLUSH_BLOCKING` or `WAIT`."""
        if not spans:
            return self._wait("nothing pending")
        if spans >= MAX_PENDING_SPANS or size >= MAX_PENDING_BYTES:
            return self._flush(now, FLUSH_BLOCKING, "buffer cap")
        mode = self.policy.mode
        if mode == END:
            return self._flush(now, FLUSH_BLOCKING, "end policy")
        if mode != ADAPTIVE:
            return self._wait(f"{mode} policy: not at the end")
        if len(self._starts) < RECENT_INVOCATIONS:
            return self._flush(now, FLUSH_BLOCKING, "learning")
        if not self.frequent():
            return self._flush(now, FLUSH_BLOCKING, "sparse traffic")
        expected_gap = max(self.mean_interval(), self._starts[-1] - self._starts[-2])
        if oldest_age + expected_gap >= MAX_STALENESS_S:
            return self._flush(now, FLUSH_BLOCKING, "would go stale")
        return self._wait("frequent traffic: flush at a later start")

    def spans_received(self, now: float, *, spans: int, size: int, oldest_age: float) -> str:
        """Spans arrived between an invocation's start and end (or outside any invocation):
        `FLUSH_BACKGROUND` when the buffer reached its cap or holds stale spans, else `WAIT`.
        Long invocations rely on this to keep within the staleness bound."""
        if spans >= MAX_PENDING_SPANS or size >= MAX_PENDING_BYTES:
            return self._flush(now, FLUSH_BACKGROUND, "buffer cap")
        if spans and oldest_age >= self.policy.max_staleness_s:
            return self._flush(now, FLUSH_BACKGROUND, "stale")
        return self._wait("nothing due")

    def shutdown(self, now: float) -> str:
        """SHUTDOWN: always `FLUSH_BLOCKING`, so that everything pending is exported, and any
        background flush still running is awaited, before the deadline."""
        return self._flush(now, FLUSH_BLOCKING, "shutdown")

    def _flush(self, now: float, kind: str, reason: str) -> str:
        self._last_flush = now
        self.reason = reason
        return kind

    def _wait(self, reason: str) -> str:
        self.reason = reason
        return WAIT

    def __repr__(self) -> str:
        return (
            f"FlushDecision({self.policy}, {len(self._starts)} starts, "
            f"mean interval {self.mean_interval()}, last reason {self.reason!r})"
        )
