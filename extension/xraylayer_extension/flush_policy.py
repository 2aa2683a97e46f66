"""The flush policy: what the user asks for in `XRAYLAYER_FLUSH`, and the numbers behind it.

This module holds what is *configured*; flush_decision.py holds what to do *now*, given the
policy and what has happened (Datadog's extension splits its flush strategy from its flush
decision the same way). Both are pure: no clock, no I/O, no environment reads; the caller passes
the environment and the times in. They are two modules because they change for different
reasons and are read by different code: the lifecycle parses the policy once at start (and
logs a bad value once), the decision object lives for the whole sandbox and is fed events.

Values of `XRAYLAYER_FLUSH` (case and spaces around the comma do not matter):

=================  ============================================================================
`adaptive`         the default. Flush at the end of each invocation (blocking, before `next`)
                   while invocations are rare; once they are frequent, flush without blocking at
                   the start of later invocations, while the function works, so the flush adds
                   no billed time after the response. Spans never wait past `MAX_STALENESS_S`
                   at an invocation boundary.
`end`              flush at the end of every invocation, before calling `next`.
`periodic,<ms>`    flush without blocking at invocation starts, at most every `<ms>` ms
                   (`periodic` alone: every `BACKGROUND_INTERVAL_S`). Spans of the last
                   invocation before a quiet spell wait for the next invocation or SHUTDOWN.
`shutdown`         flush only at SHUTDOWN (tests, benchmarks).
=================  ============================================================================

Whatever the policy, SHUTDOWN flushes everything, and a pending buffer reaching
`MAX_PENDING_SPANS` or `MAX_PENDING_BYTES` is flushed at once, so memory stays bounded.

The platform facts behind the numbers (../shared/docs/lambda-platform.md):
- The sandbox is frozen between invocations: nothing of ours runs while idle, so spans left
  pending at the end of an invocation can only leave at the next invocation's start or at
  SHUTDOWN. Deferring is a bet that the next invocation comes soon.
- The invoke phase, and billing, last until the extension calls `next`: a flush at the end is
  billed to every invocation (`PostRuntimeExtensionsDuration`), though the caller does not wait.
- A flush started at an invocation's start runs while the function works: it is not billed
  beyond the function's own duration, but it shares the sandbox's CPU (a 128 MB function gets a
  small fraction of a vCPU), so it is batched rather than done at every start.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

ENV_VAR = "XRAYLAYER_FLUSH"

END = "end"
ADAPTIVE = "adaptive"
PERIODIC = "periodic"
SHUTDOWN = "shutdown"
MODES = (END, ADAPTIVE, PERIODIC, SHUTDOWN)

RECENT_INVOCATIONS = 20
"""How many recent invocation start times the adaptive policy keeps: its learning window.

Until this many invocations have started in the sandbox, the adaptive policy flushes at the end
of every invocation. Twenty is the window Datadog's extension uses in production. The mean of 19
gaps is steady (one odd gap moves it by at most a nineteenth), and the many sandboxes of a
sparse function that serve only a handful of invocations never defer at all. A busy sandbox
serves thousands of invocations, so 20 end-of-invocation flushes while it learns cost little.
"""

FREQUENT_INTERVAL_S = 30.0
"""Invocations are "frequent" when both the mean gap between the recent starts and the latest
gap are shorter than this (seconds).

Deferring a flush to the next start saves the same billed time per invocation whatever the
gap, but spans wait about one gap longer. So the threshold is the delay a user watching traces
arrive will accept routinely. It is half of `MAX_STALENESS_S`, which leaves the other half for
the invocation's own duration and a slower-than-average gap. Datadog uses 120 s, a weaker bound
on staleness. The latest gap counts too, so one long silence (traffic going quiet) brings back
end-of-invocation flushes at the very next invocation, without waiting for the mean to catch up.
"""

BACKGROUND_INTERVAL_S = 10.0
"""Under frequent traffic, pending spans are flushed at an invocation's start once the oldest
has waited this long (seconds). It is also the interval of a bare `periodic`.

Each background flush shares the CPU with one invocation, so batching matters: at most one
invocation in ten seconds carries an export. Traces still show up within seconds. New Relic
ships batches older than 7 s at invocation starts; Datadog flushes continuously every 20 s.
"""

MAX_STALENESS_S = 60.0
"""No span waits past this age (seconds) at an invocation boundary (`end` and `adaptive`).

The adaptive policy defers at an invocation's end only if the oldest pending span plus the
expected gap stays under it. A span found older at a start, or when spans arrive during a long
invocation, is flushed in the background at once. One minute is about as long as anyone
watching live traffic waits before deciding that a trace is missing. Datadog forces a flush
during long invocations after the same 60 s.
"""

MAX_PENDING_SPANS = 2_000
"""A pending buffer reaching this many spans is flushed at once, whatever the policy.

It bounds the extension's memory (a decoded span costs roughly a kilobyte of Python objects,
however small it was on the wire) and the size of one export. A sandbox of a 128 MB function
shares those 128 MB with the function. Typical invocations make 1 to 50 spans, so the cap only
triggers under heavy traffic or in span-heavy invocations, and then mostly in the background.
"""

MAX_PENDING_BYTES = 1_048_576
"""A pending buffer reaching this many bytes (as received over the span intake) is flushed at
once, whatever the policy. 1 MiB is under 1% of the smallest memory size Lambda offers
(128 MB), and a few percent once the wire bytes are expanded into Python objects. Large spans
(long stacks, metadata) reach this before the span cap does.
"""


class FlushPolicyError(ValueError):
    """`XRAYLAYER_FLUSH` holds something that is not a flush policy; the message says what."""


class FlushPolicy:
    """One flush policy: its `mode` (END, ADAPTIVE, PERIODIC or SHUTDOWN) and, where it has
    one, `interval_s`: periodic's minimum time between flushes, or adaptive's age at which
    pending spans are flushed in the background at a start."""

    __slots__ = ("interval_s", "mode")

    def __init__(self, mode: str, interval_s: float | None = None) -> None:
        if mode not in MODES:
            raise FlushPolicyError(f"unknown flush mode {mode!r}")
        if mode == PERIODIC:
            if interval_s is None:
                interval_s = BACKGROUND_INTERVAL_S
            if not interval_s > 0:  # also refuses NaN
                raise FlushPolicyError("the periodic interval must be above 0")
        elif mode == ADAPTIVE:
            interval_s = BACKGROUND_INTERVAL_S
        else:
            interval_s = None
        self.mode = mode
        self.interval_s = interval_s

    @property
    def max_staleness_s(self) -> float:
        """Age at which pending spans go at the next chance that blocks nobody (an invocation
        start, or spans arriving): `MAX_STALENESS_S`, periodic's own interval if longer, and
        never for `shutdown`."""
        if self.mode == SHUTDOWN:
            return float("inf")
        if self.mode == PERIODIC:
            return max(self.interval_s, MAX_STALENESS_S)
        return MAX_STALENESS_S

    def __str__(self) -> str:
        """The policy as `XRAYLAYER_FLUSH` spells it."""
        if self.mode == PERIODIC:
            return f"{PERIODIC},{round(self.interval_s * 1000)}"
        return self.mode

    def __repr__(self) -> str:
        return f"FlushPolicy({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FlushPolicy):
            return NotImplemented
        return self.mode == other.mode and self.interval_s == other.interval_s

    def __hash__(self) -> int:
        return hash((self.mode, self.interval_s))


DEFAULT_POLICY = FlushPolicy(ADAPTIVE)

_LONGEST_PERIOD_MS = 86_400_000  # a day: any longer and periodic is shutdown by another name
_EXPECTED = "expected end, adaptive, periodic,<ms> or shutdown"


def parse_flush_policy(text: str | None) -> FlushPolicy:
    """The policy `text` names; unset or blank means the default (adaptive).

    Raises FlushPolicyError with a message that quotes the value and says what was expected.
    """
    if text is None or not text.strip():
        return DEFAULT_POLICY
    shown = f"{ENV_VAR}={text!r}" if len(text) <= 60 else f"{ENV_VAR}={text[:57]!r}..."
    mode, comma, argument = text.strip().lower().partition(",")
    mode = mode.strip()
    argument = argument.strip()
    if mode not in MODES:
        raise FlushPolicyError(f"{shown} is not a flush policy: {_EXPECTED}")
    if mode != PERIODIC:
        if comma:
            raise FlushPolicyError(f"{shown}: {mode} takes no value after a comma")
        return FlushPolicy(mode)
    if not comma:
        return FlushPolicy(PERIODIC)
    if (
        not (argument.isascii() and argument.isdigit())
        or len(argument) > len(str(_LONGEST_PERIOD_MS))
        or not 0 < int(argument) <= _LONGEST_PERIOD_MS
    ):
        raise FlushPolicyError(
            f"{shown}: the periodic interval must be a whole number of milliseconds "
            f"from 1 to {_LONGEST_PERIOD_MS} (a day), such as periodic,10000; "
            f"shutdown flushes only at SHUTDOWN"
        )
    return FlushPolicy(PERIODIC, int(argument) / 1000)


def flush_policy_from(environ: Mapping[str, str]) -> tuple[FlushPolicy, str | None]:
    """The policy `environ` asks for, and None; or, for a bad value, the default and the one
    line to log (prefixed `xraylayer:`), so the extension never fails over it."""
    try:
        return parse_flush_policy(environ.get(ENV_VAR)), None
    except FlushPolicyError as error:
        return DEFAULT_POLICY, f"xraylayer: {error}; using {ENV_VAR}={DEFAULT_POLICY}"
