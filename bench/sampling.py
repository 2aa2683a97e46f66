"""How the benchmarks take samples and summarise them.

Configurations are measured in alternating order, run by run, so the noise of a shared machine
(another job starting, the CPU clocking down) hits every configuration alike; figures are
medians and high percentiles of those samples, never a single run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

T = TypeVar("T")
Sample = float | Sequence[float]  # one value, or several from one run (e.g. warm invokes)
Figures = dict[str, dict[str, list[float]]]  # item -> measure -> every value taken


def percentile(values: Sequence[float], fraction: float) -> float:
    """The value at ``fraction`` (0 to 1) of the sorted values, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def alternating(
    items: Mapping[str, T], runs: int, measure: Callable[[str, T], Mapping[str, Sample]]
) -> Figures:
    """``measure`` for each item, ``runs`` times, the order reversed every other run."""
    figures: Figures = {name: {} for name in items}
    order = list(items.items())
    for run in range(runs):
        for name, item in order if run % 2 == 0 else reversed(order):
            for measure_name, value in measure(name, item).items():
                values = figures[name].setdefault(measure_name, [])
                if isinstance(value, (int, float)):
                    values.append(float(value))
                else:
                    values.extend(value)
    return figures
