"""The three views computed once from a list of documents, for every rendering to draw."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .invocations import Invocation, find_invocations
from .latency import Distribution, distributions
from .model import Trace, join
from .service_map import ServiceMap, service_map
from .timeline import Waterfall, waterfalls


@dataclass(frozen=True)
class Report:
    traces: list[Trace]
    invocations: list[Invocation]
    waterfalls: list[Waterfall]
    service_map: ServiceMap
    distributions: list[Distribution]


def build_report(documents: Iterable[Any], *, max_depth: int | None = None) -> Report:
    """Join the documents once and compute the service map, the timeline (rows deeper than
    ``max_depth`` folded) and the response-time distribution from them."""
    traces = join(documents)
    invocations = find_invocations(traces)
    return Report(
        traces=traces,
        invocations=invocations,
        waterfalls=waterfalls(traces, invocations, max_depth=max_depth),
        service_map=service_map(traces, invocations),
        distributions=distributions(invocations),
    )
