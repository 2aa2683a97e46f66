"""Which spans of a flush each kind of exporter is given: pure, decided per trace.

Two kinds of exporter see different traces:

- the X-Ray daemon takes what Lambda sampled (``Sampled=1``): its documents join the segments
  Lambda writes, and for any other trace Lambda writes none to join;
- the *full-trace* exporters (OTLP/HTTP, OTLP over UDP, the X-Ray API, the file) can carry a
  trace on their own, so they take every trace the OTLP sampler keeps
  (``OTEL_TRACES_SAMPLER``, trace_sampler.py), plus those tail keep rescues when head sampling
  said no (an error, fault, throttle, timeout or a slow invocation; tail_keep.py), marked as
  such on the invocation span.

All spans of one trace get the same answer, so a trace is never exported in part.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from xraylayer.spans import Span

    from .tail_keep import TailKeep
    from .trace_sampler import TraceSampler


class Routed:
    """One flush's spans, as the two kinds of exporter get them; ``tail_kept`` counts the
    traces kept only by tail keep."""

    __slots__ = ("daemon", "full_trace", "tail_kept")

    def __init__(self) -> None:
        self.daemon: list[Span] = []
        self.full_trace: list[Span] = []
        self.tail_kept = 0


def route(spans: list[Span], sampler: TraceSampler, tail_keep: TailKeep) -> Routed:
    """Split ``spans`` by trace between the daemon and the full-trace exporters; within a trace
    the order given is kept (children before parents, as they finished)."""
    routed = Routed()
    for trace in _by_trace(spans):
        lambda_sampled = any(span.sampled for span in trace)
        if lambda_sampled:
            routed.daemon.extend(trace)
        if _kept(trace, lambda_sampled, sampler, tail_keep, routed):
            routed.full_trace.extend(trace)
    return routed


def _kept(
    trace: list[Span],
    lambda_sampled: bool,
    sampler: TraceSampler,
    tail_keep: TailKeep,
    routed: Routed,
) -> bool:
    if sampler.keeps(str(trace[0].trace_id), lambda_sampled):
        return True
    reason = tail_keep.reason(trace)
    if reason is None:
        return False
    tail_keep.mark(trace, reason)
    routed.tail_kept += 1
    return True


def _by_trace(spans: list[Span]) -> list[list[Span]]:
    traces: dict[object, list[Span]] = {}
    for span in spans:
        traces.setdefault(span.trace_id, []).append(span)
    return list(traces.values())
