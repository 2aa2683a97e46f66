"""The words and numbers the text and the page both print, written one way for both."""

from __future__ import annotations

from .latency import Percentiles
from .service_map import CLIENT, FUNCTION, Stats

FLAG_RATES = (("faults", "fault"), ("errors", "error"), ("throttles", "throttle"))


def milliseconds(value: float | None) -> str:
    """``12.3 ms``, or ``-`` for no value (still in progress)."""
    return "-" if value is None else f"{value:.1f} ms"


def flag_rates(stats: Stats) -> list[tuple[str, str]]:
    """(flag, ``25% fault``) for each raised flag, worst first; none when all went well."""
    return [
        (word, f"{stats.rate(name) * 100:.0f}% {word}")
        for name, word in FLAG_RATES
        if getattr(stats, name)
    ]


def rates(stats: Stats) -> list[str]:
    """Each raised flag's share of the requests: ``25% fault``."""
    return [words for _, words in flag_rates(stats)]


def counted(count: int, noun: str) -> str:
    """``1 request``, ``3 requests``."""
    return f"{count} {noun}" + ("" if count == 1 else "s")


def node_count(kind: str, stats: Stats, cold: int) -> str:
    """What a map node's count means: invocations of a function, requests of the others."""
    if kind == FUNCTION:
        return counted(stats.count, "invocation") + (f", {cold} cold" if cold else "")
    return counted(stats.count, "request") + (" sent" if kind == CLIENT else "")


def percentile_text(found: Percentiles | None) -> str:
    """``p50 1.0 ms  p90 2.0 ms  p99 3.0 ms``."""
    if found is None:
        return ""
    pairs = ((50, found.p50), (90, found.p90), (99, found.p99))
    return "  ".join(f"p{q} {milliseconds(value)}" for q, value in pairs)


def shorten(text: str, room: int) -> str:
    """``text`` cut to ``room`` characters (at least 4), the cut marked with an ellipsis."""
    room = max(room, 4)
    return text if len(text) <= room else text[: room - 1] + "\u2026"


def bound(value: float) -> str:
    """A bin bound without float noise: ``12``, ``2.5``, ``0.125``."""
    return f"{value:g}" if abs(value) >= 1 or value == 0 else f"{value:.3g}"
