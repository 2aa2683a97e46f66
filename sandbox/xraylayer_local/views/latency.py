"""The response-time distribution: per function, a histogram with percentiles, cold apart.

A response time is what the caller waited: the invocation, plus init on a cold start. Cold
starts are a different population (hundreds of milliseconds of init against a few of work), so
they get their own histogram and percentiles instead of stretching the warm one's axis.

Percentiles use the nearest-rank method: the p-th percentile is a value that was observed,
the smallest one with at least p % of the values at or below it. Bins have a round width
(1, 2 or 5 times a power of ten), about ``TARGET_BINS`` of them over the values' range (or a
tenth of the value when all values are equal).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .invocations import Invocation
from .scale import nice_step

TARGET_BINS = 10
MIN_BINS = 5
SAME_MS = 1e-6  # values closer than a nanosecond are the same value seen through float noise
QUANTILES = (50, 90, 99)


@dataclass(frozen=True)
class Percentiles:
    p50: float
    p90: float
    p99: float


@dataclass(frozen=True)
class Bin:
    """Values in [low_ms, high_ms)."""

    low_ms: float
    high_ms: float
    count: int


@dataclass(frozen=True)
class Series:
    """The response times of one population (warm or cold) of one function."""

    values: tuple[float, ...]  # sorted
    bins: tuple[Bin, ...]
    percentiles: Percentiles | None  # None without values

    @property
    def count(self) -> int:
        return len(self.values)


@dataclass(frozen=True)
class Distribution:
    function: str
    warm: Series
    cold: Series
    init: Percentiles | None  # the init part of the cold starts
    untimed: int  # invocations still in progress, not in the series


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile of ``values`` (sorted, not empty)."""
    rank = max(1, math.ceil(q / 100 * len(values)))
    return values[min(rank, len(values)) - 1]


def percentiles(values: Sequence[float]) -> Percentiles | None:
    """p50, p90 and p99 of ``values`` (sorted), or None when there are none."""
    if not values:
        return None
    return Percentiles(*(percentile(values, q) for q in QUANTILES))


def histogram(values: Sequence[float], target: int = TARGET_BINS) -> tuple[Bin, ...]:
    """Contiguous bins of a round width from the lowest value's bin to the highest's, empty
    bins included so the shape is true, and widened with empty bins (never below 0) to at
    least ``MIN_BINS``, so one bar does not fill the whole axis."""
    if not values:
        return ()
    low, high = min(values), max(values)
    # One value, or all equal: bins about a tenth of the value wide rather than a microsecond.
    spread = high - low if high - low > SAME_MS else max(abs(high), 1.0)
    width = nice_step(spread, target)
    first = _bin_number(low, width)
    count = _bin_number(high, width) - first + 1
    padding = max(0, MIN_BINS - count)
    below = min(padding // 2, max(first, 0))
    first, count = first - below, count + padding
    counts = [0] * count
    for value in values:
        counts[_bin_number(value, width) - first] += 1
    return tuple(
        Bin(round((first + i) * width, 9), round((first + i + 1) * width, 9), counts[i])
        for i in range(count)
    )


def _bin_number(value: float, width: float) -> int:
    """Which bin of ``width`` holds ``value``; a hair of tolerance keeps 0.6 in [0.6, 0.8)
    although 0.6 / 0.2 is 2.9999999999999996 in floating point."""
    return math.floor(value / width + 1e-9)


def series(values: Iterable[float], target: int = TARGET_BINS) -> Series:
    ordered = tuple(sorted(values))
    return Series(ordered, histogram(ordered, target), percentiles(ordered))


def distributions(
    invocations: Iterable[Invocation], target: int = TARGET_BINS
) -> list[Distribution]:
    """One distribution per function, by function name."""
    by_function: dict[str, list[Invocation]] = {}
    for invocation in invocations:
        by_function.setdefault(invocation.function, []).append(invocation)
    return [_distribution(name, by_function[name], target) for name in sorted(by_function)]


def _distribution(function: str, invocations: list[Invocation], target: int) -> Distribution:
    warm = _response_times(inv for inv in invocations if not inv.cold)
    cold = _response_times(inv for inv in invocations if inv.cold)
    init = sorted(inv.init_ms for inv in invocations if inv.cold and inv.init_ms is not None)
    return Distribution(
        function=function,
        warm=series(warm, target),
        cold=series(cold, target),
        init=percentiles(init),
        untimed=len(invocations) - len(warm) - len(cold),
    )


def _response_times(invocations: Iterable[Invocation]) -> list[float]:
    times = (inv.response_ms for inv in invocations)
    return [t for t in times if t is not None]
