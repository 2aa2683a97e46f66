"""Round steps for axes and bins, so a reader sees 0, 50, 100 ms rather than 0, 47.3, 94.6."""

from __future__ import annotations

import math

MIN_STEP = 0.001  # one microsecond, in milliseconds: finer than X-Ray's timestamps


def nice_step(span: float, target: int) -> float:
    """A round step (1, 2 or 5 times a power of ten) cutting ``span`` into about ``target``
    parts, never fewer than ``target`` / 2.5; 1 for an empty span."""
    raw = span / target if target > 0 else 0.0
    if raw <= 0 or not math.isfinite(raw):
        return 1.0
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw * (1 - 1e-9))
    return max(step, MIN_STEP)


def ticks(high: float, target: int = 5) -> list[float]:
    """Tick values from 0 to at least ``high`` at a round step."""
    step = nice_step(high, target)
    count = math.ceil(high / step - 1e-9) if high > 0 else 1
    return [round(i * step, 9) for i in range(count + 1)]
