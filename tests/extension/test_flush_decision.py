"""FlushDecision driven by a fake clock: sparse traffic, bursts, quiet spells, long invocations,
the buffer cap, SHUTDOWN, every policy; and properties over any sequence of events."""

from __future__ import annotations

from itertools import pairwise

import hypothesis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from xraylayer_extension.flush_decision import (
    FLUSH_BACKGROUND,
    FLUSH_BLOCKING,
    WAIT,
    FlushDecision,
)
from xraylayer_extension.flush_policy import (
    ADAPTIVE,
    BACKGROUND_INTERVAL_S,
    END,
    FREQUENT_INTERVAL_S,
    MAX_PENDING_BYTES,
    MAX_PENDING_SPANS,
    MAX_STALENESS_S,
    PERIODIC,
    RECENT_INVOCATIONS,
    SHUTDOWN,
    FlushPolicy,
)

SPAN_SIZE = 400


class FakeClock:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


class Sandbox:
    """One sandbox as the extension sees it: a clock, the pending buffer (arrival time and size
    of each span, oldest first), the decision, and every answer given. A flush answer empties
    the buffer, as the lifecycle hands everything pending to the exporters.

    Times are sums of binary fractions (durations of 1/8 s), so they add up exactly."""

    def __init__(self, policy: FlushPolicy | None = None) -> None:
        self.clock = FakeClock()
        self.decision = FlushDecision(policy) if policy else FlushDecision()
        self.pending: list[tuple[float, int]] = []
        self.size = 0
        self.answers: list[tuple[str, float, str, str]] = []  # (event, time, answer, reason)

    def pending_state(self) -> dict[str, float]:
        now = self.clock.now
        return {
            "spans": len(self.pending),
            "size": self.size,
            "oldest_age": now - self.pending[0][0] if self.pending else 0.0,
        }

    def _record(self, event: str, answer: str) -> str:
        self.answers.append((event, self.clock.now, answer, self.decision.reason))
        if answer != WAIT:
            self.pending.clear()
            self.size = 0
        return answer

    def start(self) -> str:
        answer = self.decision.invocation_started(self.clock.now, **self.pending_state())
        return self._record("start", answer)

    def finish(self) -> str:
        answer = self.decision.invocation_finished(self.clock.now, **self.pending_state())
        return self._record("finish", answer)

    def receive(self, count: int = 1, size: int = SPAN_SIZE) -> str:
        """`count` spans of `size` bytes each arrive now."""
        self.pending.extend([(self.clock.now, size)] * count)
        self.size += count * size
        answer = self.decision.spans_received(self.clock.now, **self.pending_state())
        return self._record("spans", answer)

    def shutdown(self) -> str:
        return self._record("shutdown", self.decision.shutdown(self.clock.now))

    def invoke(self, duration: float = 0.125, spans: int = 3) -> tuple[str, str]:
        """One invocation: start, `spans` spans spread over `duration`, finish."""
        started = self.start()
        for _ in range(spans):
            self.clock.advance(duration / (spans + 1))
            self.receive()
        self.clock.advance(duration / (spans + 1))
        return started, self.finish()

    def traffic(self, count: int, gap: float, duration: float = 0.125) -> list[tuple[str, str]]:
        """`count` invocations, one start every `gap` seconds (the first one now)."""
        results = []
        for index in range(count):
            if index:
                self.clock.advance(gap - duration)
            results.append(self.invoke(duration))
        return results

    def flushes(self, since: int = 0) -> list[tuple[str, float, str, str]]:
        return [answer for answer in self.answers[since:] if answer[2] != WAIT]


# Adaptive (the default).
def test_the_default_policy_is_adaptive() -> None:
    assert FlushDecision().policy == FlushPolicy(ADAPTIVE)


def test_sparse_traffic_flushes_at_every_end() -> None:
    sandbox = Sandbox()
    results = sandbox.traffic(60, gap=300.0)
    assert results == [(WAIT, FLUSH_BLOCKING)] * 60
    reasons = [reason for event, _, _, reason in sandbox.answers if event == "finish"]
    assert reasons == ["learning"] * (RECENT_INVOCATIONS - 1) + ["sparse traffic"] * (
        60 - RECENT_INVOCATIONS + 1
    )
    assert not sandbox.decision.frequent()


def test_gaps_of_the_frequent_interval_count_as_sparse() -> None:
    sandbox = Sandbox()
    sandbox.traffic(RECENT_INVOCATIONS + 5, gap=FREQUENT_INTERVAL_S)
    assert sandbox.decision.mean_interval() == FREQUENT_INTERVAL_S
    assert not sandbox.decision.frequent()
    assert sandbox.answers[-1][2:] == (FLUSH_BLOCKING, "sparse traffic")


def test_a_burst_switches_to_background_flushes_at_starts_after_the_learning_window() -> None:
    sandbox = Sandbox()
    results = sandbox.traffic(100, gap=1.0)
    finishes = [finish for _, finish in results]
    # Learning: the first RECENT_INVOCATIONS - 1 invocations flush at their end...
    assert finishes[: RECENT_INVOCATIONS - 1] == [FLUSH_BLOCKING] * (RECENT_INVOCATIONS - 1)
    # ... then, with the window full of 1 s gaps, no invocation ends with a blocking flush.
    assert set(finishes[RECENT_INVOCATIONS - 1 :]) == {WAIT}
    assert sandbox.decision.frequent()
    assert sandbox.decision.mean_interval() == 1.0
    # Spans go in the background at starts, once the oldest has waited BACKGROUND_INTERVAL_S.
    background = [answer for answer in sandbox.flushes() if answer[2] == FLUSH_BACKGROUND]
    assert background
    assert {(event, reason) for event, _, _, reason in background} == {("start", "ripe")}
    times = [at for _, at, _, _ in background]
    gaps = [later - earlier for earlier, later in pairwise(times)]
    assert all(gap >= BACKGROUND_INTERVAL_S for gap in gaps)
    assert all(gap <= BACKGROUND_INTERVAL_S + 1.0 for gap in gaps)
    assert len(background) >= (100 - RECENT_INVOCATIONS) // (int(BACKGROUND_INTERVAL_S) + 1)


def test_the_first_deferral_comes_exactly_when_the_window_is_full() -> None:
    sandbox = Sandbox()
    sandbox.traffic(RECENT_INVOCATIONS - 1, gap=1.0)
    assert sandbox.answers[-1][2:] == (FLUSH_BLOCKING, "learning")
    sandbox.clock.advance(0.875)
    assert sandbox.invoke() == (WAIT, WAIT)
    assert sandbox.decision.reason == "frequent traffic: flush at a later start"


def test_traffic_going_quiet_returns_to_end_of_invocation_flushes() -> None:
    sandbox = Sandbox()
    sandbox.traffic(40, gap=1.0)
    assert sandbox.pending  # the last invocations' spans were deferred
    sandbox.clock.advance(600.0)
    # The first invocation after the silence sends the leftovers in the background at once...
    started, finished = sandbox.invoke()
    assert (started, sandbox.answers[-5][3]) == (FLUSH_BACKGROUND, "stale")
    # ... and, the latest gap being long, flushes its own spans at its end.
    assert (finished, sandbox.decision.reason) == (FLUSH_BLOCKING, "sparse traffic")
    assert not sandbox.decision.frequent()
    # Quiet traffic from then on: every invocation flushes at its end.
    assert sandbox.traffic(30, gap=120.0) == [(WAIT, FLUSH_BLOCKING)] * 30


def test_a_silence_shorter_than_the_staleness_bound_sends_ripe_leftovers_at_the_start() -> None:
    sandbox = Sandbox()
    sandbox.traffic(40, gap=1.0)
    sandbox.clock.advance(40.0)
    started, finished = sandbox.invoke()
    assert sandbox.answers[-5][2:] == (FLUSH_BACKGROUND, "ripe")
    assert (started, finished) == (FLUSH_BACKGROUND, FLUSH_BLOCKING)


def test_one_long_gap_in_busy_traffic_costs_one_blocking_flush() -> None:
    sandbox = Sandbox()
    sandbox.traffic(40, gap=1.0)
    sandbox.clock.advance(45.0)
    assert sandbox.invoke()[1] == FLUSH_BLOCKING
    sandbox.clock.advance(0.875)
    assert sandbox.invoke()[1] == WAIT  # the mean is still short, and so is the latest gap
    assert sandbox.decision.frequent()


def test_gaps_just_under_the_threshold_defer_and_gaps_just_over_do_not() -> None:
    sandbox = Sandbox()
    sandbox.traffic(40, gap=1.0)
    for _ in range(RECENT_INVOCATIONS):
        sandbox.clock.advance(FREQUENT_INTERVAL_S - 1.0 - 0.125)
        # Every start finds the previous invocation's spans ripe, and nothing is left to the end.
        assert sandbox.invoke() == (FLUSH_BACKGROUND, WAIT)
        assert sandbox.decision.frequent()
    assert sandbox.decision.mean_interval() == FREQUENT_INTERVAL_S - 1.0
    sandbox.clock.advance(FREQUENT_INTERVAL_S + 1.0 - 0.125)
    assert sandbox.invoke() == (FLUSH_BACKGROUND, FLUSH_BLOCKING)
    assert sandbox.decision.reason == "sparse traffic"


@pytest.mark.parametrize(
    ("duration", "finished", "reason"),
    [
        (30.0, WAIT, "frequent traffic: flush at a later start"),  # 15 s + 20 s gap < 60 s
        (90.0, FLUSH_BLOCKING, "would go stale"),  # 45 s + 20 s gap >= 60 s
    ],
)
def test_a_deferral_that_would_go_stale_flushes_at_the_end_instead(
    duration: float, finished: str, reason: str
) -> None:
    sandbox = Sandbox()
    sandbox.traffic(40, gap=20.0, duration=5.0)
    assert sandbox.decision.frequent()
    assert sandbox.answers[-1][2] == WAIT
    # A longer invocation whose one span arrives halfway through.
    sandbox.clock.advance(15.0)
    assert sandbox.invoke(duration=duration, spans=1)[1] == finished
    assert sandbox.decision.reason == reason


def test_spans_arriving_during_a_long_invocation_leave_once_stale() -> None:
    sandbox = Sandbox(FlushPolicy(END))
    sandbox.start()
    assert sandbox.receive() == WAIT
    for _ in range(int(MAX_STALENESS_S) - 1):
        sandbox.clock.advance(1.0)
        assert sandbox.receive() == WAIT
    sandbox.clock.advance(1.0)
    assert (sandbox.receive(), sandbox.decision.reason) == (FLUSH_BACKGROUND, "stale")
    assert sandbox.pending == []
    sandbox.clock.advance(1.0)
    assert sandbox.receive() == WAIT


def test_init_spans_go_with_the_first_invocations_end_flush() -> None:
    sandbox = Sandbox()
    sandbox.receive(5)  # cold-start spans, before the first INVOKE
    sandbox.clock.advance(0.2)
    assert sandbox.invoke() == (WAIT, FLUSH_BLOCKING)


def test_late_spans_after_an_end_flush_leave_at_the_next_start_once_ripe() -> None:
    sandbox = Sandbox()
    sandbox.invoke()
    sandbox.receive()  # a thread of the function finishing after the response
    sandbox.clock.advance(300.0)
    assert sandbox.start() == FLUSH_BACKGROUND
    assert sandbox.decision.reason == "stale"


def test_young_leftovers_wait_for_the_end_flush_under_sparse_traffic() -> None:
    sandbox = Sandbox()
    sandbox.invoke()
    sandbox.receive()
    sandbox.clock.advance(BACKGROUND_INTERVAL_S / 2)
    assert sandbox.start() == WAIT
    assert sandbox.finish() == FLUSH_BLOCKING


def test_nothing_pending_means_nothing_to_do() -> None:
    for policy in (FlushPolicy(mode) for mode in (END, ADAPTIVE, PERIODIC, SHUTDOWN)):
        decision = FlushDecision(policy)
        assert decision.invocation_started(5.0) == WAIT
        assert decision.invocation_finished(6.0) == WAIT
        assert decision.spans_received(6.0, spans=0, size=0, oldest_age=0.0) == WAIT
        assert decision.reason == "nothing due"


def test_the_window_keeps_only_the_latest_starts() -> None:
    decision = FlushDecision()
    assert decision.mean_interval() is None
    decision.invocation_started(0.0)
    assert decision.mean_interval() is None
    for index in range(1, 100):
        decision.invocation_started(index * 100.0)
    for index in range(RECENT_INVOCATIONS):
        decision.invocation_started(10_000.0 + index * 2.0)
    assert decision.mean_interval() == pytest.approx(2.0)
    assert decision.frequent()
    assert "20 starts" in repr(decision)


# The buffer cap, whatever the policy.
ALL_POLICIES = [
    FlushPolicy(END),
    FlushPolicy(ADAPTIVE),
    FlushPolicy(PERIODIC, 5.0),
    FlushPolicy(PERIODIC, 3600.0),
    FlushPolicy(SHUTDOWN),
]
POLICY_IDS = [str(policy) for policy in ALL_POLICIES]


@pytest.mark.parametrize("policy", ALL_POLICIES, ids=POLICY_IDS)
def test_the_span_cap_forces_a_flush(policy: FlushPolicy) -> None:
    decision = FlushDecision(policy)
    decision.invocation_started(0.0)
    below = {"spans": MAX_PENDING_SPANS - 1, "size": 100, "oldest_age": 0.5}
    at_cap = {"spans": MAX_PENDING_SPANS, "size": 100, "oldest_age": 0.5}
    assert decision.spans_received(1.0, **below) == WAIT
    assert decision.spans_received(1.0, **at_cap) == FLUSH_BACKGROUND
    assert decision.reason == "buffer cap"
    assert decision.invocation_finished(2.0, **at_cap) == FLUSH_BLOCKING
    assert decision.reason == "buffer cap"
    assert decision.invocation_started(3.0, **at_cap) == FLUSH_BACKGROUND
    assert decision.reason == "buffer cap"


@pytest.mark.parametrize("policy", ALL_POLICIES, ids=POLICY_IDS)
def test_the_byte_cap_forces_a_flush(policy: FlushPolicy) -> None:
    decision = FlushDecision(policy)
    decision.invocation_started(0.0)
    below = {"spans": 1, "size": MAX_PENDING_BYTES - 1, "oldest_age": 0.5}
    at_cap = {"spans": 1, "size": MAX_PENDING_BYTES, "oldest_age": 0.5}
    assert decision.spans_received(1.0, **below) == WAIT
    assert decision.spans_received(1.0, **at_cap) == FLUSH_BACKGROUND
    assert decision.invocation_finished(2.0, **at_cap) == FLUSH_BLOCKING
    assert decision.invocation_started(3.0, **at_cap) == FLUSH_BACKGROUND


@pytest.mark.parametrize("policy", ALL_POLICIES, ids=POLICY_IDS)
def test_a_burst_of_ten_thousand_spans_never_holds_more_than_the_cap(
    policy: FlushPolicy,
) -> None:
    sandbox = Sandbox(policy)
    sandbox.start()
    most = 0
    for _ in range(10_000):
        sandbox.clock.advance(0.0001)
        sandbox.receive()
        most = max(most, len(sandbox.pending))
    assert most < MAX_PENDING_SPANS
    assert len(sandbox.flushes()) == 10_000 // MAX_PENDING_SPANS
    sandbox.finish()
    assert sandbox.shutdown() == FLUSH_BLOCKING
    assert sandbox.pending == []


# SHUTDOWN, whatever the policy.
@pytest.mark.parametrize("policy", ALL_POLICIES, ids=POLICY_IDS)
def test_shutdown_always_flushes_everything(policy: FlushPolicy) -> None:
    sandbox = Sandbox(policy)
    sandbox.traffic(30, gap=1.0)
    sandbox.receive(7)
    assert sandbox.shutdown() == FLUSH_BLOCKING
    assert sandbox.decision.reason == "shutdown"
    assert sandbox.pending == []
    assert FlushDecision(policy).shutdown(0.0) == FLUSH_BLOCKING  # even with nothing pending


# The other policies.
def test_end_flushes_after_every_invocation_even_under_busy_traffic() -> None:
    sandbox = Sandbox(FlushPolicy(END))
    results = sandbox.traffic(100, gap=0.5)
    assert results == [(WAIT, FLUSH_BLOCKING)] * 100
    assert {reason for event, _, _, reason in sandbox.answers if event == "finish"} == {
        "end policy"
    }


def test_end_sends_stale_leftovers_in_the_background_at_a_start() -> None:
    sandbox = Sandbox(FlushPolicy(END))
    sandbox.invoke()
    sandbox.receive()
    sandbox.clock.advance(MAX_STALENESS_S / 2)
    assert sandbox.start() == WAIT  # young leftovers go with the end flush
    sandbox.clock.advance(0.1)
    sandbox.finish()
    sandbox.receive()
    sandbox.clock.advance(MAX_STALENESS_S)
    assert (sandbox.start(), sandbox.decision.reason) == (FLUSH_BACKGROUND, "stale")


def test_periodic_flushes_in_the_background_at_starts_at_most_every_interval() -> None:
    sandbox = Sandbox(FlushPolicy(PERIODIC, 5.0))
    results = sandbox.traffic(60, gap=1.0)
    assert {finish for _, finish in results} == {WAIT}
    flushes = sandbox.flushes()
    assert {(event, answer) for event, _, answer, _ in flushes} == {("start", FLUSH_BACKGROUND)}
    times = [at for _, at, _, _ in flushes]
    assert times[0] == sandbox.answers[0][1] + 1.0  # the first start with anything pending
    assert {later - earlier for earlier, later in pairwise(times)} == {5.0}


def test_periodic_never_flushes_at_an_end_below_the_cap() -> None:
    sandbox = Sandbox(FlushPolicy(PERIODIC, 5.0))
    results = sandbox.traffic(10, gap=600.0)
    assert {finish for _, finish in results} == {WAIT}
    # The spans of the invocation before the silence went at the next start.
    assert [start for start, _ in results] == [WAIT] + [FLUSH_BACKGROUND] * 9


def test_a_long_periodic_interval_is_its_own_staleness_bound() -> None:
    sandbox = Sandbox(FlushPolicy(PERIODIC, 300.0))
    sandbox.invoke()
    sandbox.clock.advance(1.0)
    sandbox.start()  # the first flush
    sandbox.receive()
    for _ in range(9):
        sandbox.clock.advance(30.0)
        assert sandbox.receive() == WAIT  # 270 s: older than MAX_STALENESS_S, within 300 s
    sandbox.clock.advance(30.0)
    assert (sandbox.receive(), sandbox.decision.reason) == (FLUSH_BACKGROUND, "stale")


def test_shutdown_policy_waits_for_shutdown() -> None:
    sandbox = Sandbox(FlushPolicy(SHUTDOWN))
    sandbox.traffic(50, gap=1.0)
    sandbox.traffic(5, gap=3600.0)
    assert sandbox.flushes() == []
    assert len(sandbox.pending) == 55 * 3
    assert sandbox.shutdown() == FLUSH_BLOCKING


# Properties over any sequence of events.
@st.composite
def gaps(draw: st.DrawFn) -> float:
    """Mostly the sub-second gaps of busy traffic, sometimes long silences."""
    return draw(
        st.one_of(
            st.floats(0.0, 2.0),
            st.floats(0.0, 2.0),
            st.floats(0.0, 2.0),
            st.floats(0.0, 40.0),
            st.floats(0.0, 900.0),
        )
    )


EVENT = st.one_of(
    st.tuples(st.just("start"), gaps()),
    st.tuples(st.just("finish"), gaps()),
    st.tuples(st.just("spans"), gaps(), st.integers(1, 600), st.integers(1, 20_000)),
)
ADAPTIVE_POLICY = st.just(FlushPolicy(ADAPTIVE))  # the default, and the most intricate
POLICIES = st.one_of(
    ADAPTIVE_POLICY,
    ADAPTIVE_POLICY,
    st.sampled_from([FlushPolicy(END), FlushPolicy(SHUTDOWN)]),
    st.builds(FlushPolicy, st.just(PERIODIC), st.floats(0.001, 600.0)),
)


def check_sequence(policy: FlushPolicy, events: list[tuple]) -> Sandbox:
    """Play `events`, check every answer against the policy's promises, then SHUTDOWN."""
    sandbox = Sandbox(policy)
    last_flush = None
    starts: list[float] = []  # every start, to judge the adaptive policy's deferrals
    for event in events:
        sandbox.clock.advance(event[1])
        state_before = sandbox.pending_state()
        if event[0] == "start":
            starts.append(sandbox.clock.now)
            answer = sandbox.start()
        elif event[0] == "finish":
            answer = sandbox.finish()
        else:
            answer = sandbox.receive(event[2], event[3])
            state_before = None  # spans just arrived: something is pending
        reason = sandbox.decision.reason
        now = sandbox.clock.now
        if answer == WAIT:
            state = sandbox.pending_state()
            # Memory stays bounded: a WAIT never leaves the cap reached.
            assert state["spans"] < MAX_PENDING_SPANS
            assert state["size"] < MAX_PENDING_BYTES
            # Bounded staleness, measured at invocation boundaries and arrivals.
            if state["spans"] and policy.mode != SHUTDOWN:
                if policy.mode == PERIODIC and event[0] == "finish":
                    pass  # periodic flushes at starts only, by definition
                else:
                    assert state["oldest_age"] < policy.max_staleness_s
                if policy.mode in (PERIODIC, ADAPTIVE) and event[0] == "start":
                    assert state["oldest_age"] < policy.interval_s
                if policy.mode == END:
                    assert event[0] != "finish"
                if policy.mode == ADAPTIVE and event[0] == "finish":
                    # A deferral only after the learning window, under frequent traffic, and
                    # only if the next start, coming as expected, still finds the spans fresh.
                    window = starts[-RECENT_INVOCATIONS:]
                    assert len(window) == RECENT_INVOCATIONS
                    mean_gap = (window[-1] - window[0]) / (RECENT_INVOCATIONS - 1)
                    latest_gap = window[-1] - window[-2]
                    assert max(mean_gap, latest_gap) < FREQUENT_INTERVAL_S
                    assert state["oldest_age"] + max(mean_gap, latest_gap) < MAX_STALENESS_S
        else:
            assert answer == (FLUSH_BLOCKING if event[0] == "finish" else FLUSH_BACKGROUND)
            assert state_before is None or state_before["spans"] > 0
            if policy.mode == PERIODIC and reason != "buffer cap":
                assert last_flush is None or now - last_flush >= policy.interval_s
            last_flush = now
    assert sandbox.shutdown() == FLUSH_BLOCKING
    assert sandbox.pending == []
    return sandbox


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(POLICIES, st.lists(EVENT, max_size=150))
def test_any_sequence_of_events_keeps_every_promise(policy: FlushPolicy, events: list) -> None:
    check_sequence(policy, events)


ONE_IN_30 = st.sampled_from([False] * 29 + [True])  # sampled_from draws its items evenly
ONE_IN_10 = st.sampled_from([False] * 9 + [True])


@st.composite
def invocations(draw: st.DrawFn) -> list[tuple[float, float, list[int]]]:
    """Traffic in one regime (busy, moderate, near the threshold, slow, sparse), with the odd
    long silence and the odd long invocation: (idle before, duration, span sizes) each."""
    scale = draw(st.sampled_from([0.5, 5.0, 25.0, 45.0, 600.0]))
    traffic = []
    for _ in range(draw(st.integers(RECENT_INVOCATIONS, 80))):
        idle = draw(st.floats(0.0, 900.0) if draw(ONE_IN_30) else st.floats(0.0, scale))
        duration = draw(st.floats(0.0, 70.0) if draw(ONE_IN_10) else st.floats(0.0, 1.0))
        traffic.append((idle, duration, draw(st.lists(st.integers(1, 5_000), max_size=8))))
    return traffic


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(POLICIES, invocations())
def test_any_traffic_of_whole_invocations_keeps_every_promise(
    policy: FlushPolicy, traffic: list
) -> None:
    events: list[tuple] = []
    for idle, duration, sizes in traffic:
        events.append(("start", idle))
        step = duration / (len(sizes) + 1)
        events.extend(("spans", step, 1, size) for size in sizes)
        events.append(("finish", step))
    sandbox = check_sequence(policy, events)
    for reason in {reason for _, _, _, reason in sandbox.answers}:
        hypothesis.event(reason)


def test_the_property_check_sees_busy_traffic_and_deferrals() -> None:
    """The traffic the properties generate does reach the adaptive policy's busy state."""
    events = [("start", 0.5), ("spans", 0.1, 2, 300), ("finish", 0.1)] * 60
    sandbox = check_sequence(FlushPolicy(ADAPTIVE), events)
    reasons = {reason for _, _, _, reason in sandbox.answers}
    assert {"frequent traffic: flush at a later start", "ripe", "learning"} <= reasons
