"""The benchmark's table: one column per configuration, one row per figure, as Markdown.

Each cell of a compared row shows the figure, then its difference and ratio to the no-tracing
baseline of the same run (``258.0 (+34.4, x1.15)``), so a reader never compares numbers from
different runs or machines. A configuration that could not run keeps its column, with the
reason under the table.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

from peers.configuration import Setup, Sink
from sampling import Figures, percentile

BASELINE = "no tracing"
MB = 1_000_000

Summary = Callable[[list[float]], float]


@dataclass
class Results:
    """Everything one run measured, by configuration name (in column order)."""

    names: list[str]
    setups: dict[str, Setup]
    unavailable: dict[str, str] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)  # what a configuration leaves out here
    sessions: Figures = field(default_factory=dict)
    starts: Figures = field(default_factory=dict)
    extension: dict[str, list[float]] = field(default_factory=dict)
    sizes: dict[str, tuple[int, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class Row:
    """A figure: where its samples are, how they are summed up, how the cell reads."""

    label: str
    measure: str
    summary: Summary = statistics.median
    digits: int = 1
    compared: bool = True  # show difference and ratio to the baseline
    source: str = "sessions"
    missing: str = "-"  # the cell of a configuration that has no such figure


def p99(values: list[float]) -> float:
    return percentile(values, 0.99)


ROWS = (
    Row(
        "interpreter start via the exec wrapper, `-c pass`, median (ms)",
        "start",
        source="starts",
        missing="no wrapper",
    ),
    Row("init duration (cold start), median (ms)", "init"),
    Row("cold invoke: init + first response, median (ms)", "first"),
    Row("warm response latency p50 (ms)", "warm"),
    Row("warm response latency p99 (ms)", "warm", p99),
    Row("invoke phase after the response, median (ms)", "after", digits=2),
    Row("billed duration, warm p50 (ms)", "billed"),
    Row("one botocore call, CPU time, median (us)", "botocore_cpu"),
    Row("one requests call, CPU time, median (us)", "requests_cpu"),
    Row("function CPU per warm invoke, median (ms)", "function_cpu", digits=2),
    Row(
        "extension CPU per warm invoke, median (ms)",
        "extension_cpu",
        digits=2,
        compared=False,
        missing="no extension",
    ),
    Row("function peak RSS, median (MiB)", "function_rss"),
    Row(
        "extension peak RSS, median (MiB)", "extension_rss", compared=False, missing="no extension"
    ),
)


def table(results: Results) -> str:
    """The Markdown table, then why configurations did not run and what they leave out here."""
    names = results.names
    rows = [
        ["figure", *names],
        ["---"] + ["---:"] * len(names),
        ["layer size, zipped / unpacked (MB)", *map(size_cell(results), names)],
        *([row.label, *(cell(results, row, name) for name in names)] for row in ROWS),
        ["extension start to first `next`, median (ms)", *extension_cells(results)],
        ["exported per invoke (to the end of each environment), median", *exported_cells(results)],
    ]
    lines = [_line(row) for row in rows]
    lines += [f"\nNot run: {name}: {why}" for name, why in results.unavailable.items()]
    lines += [f"\n{name}: {note}" for name, note in results.notes.items()]
    return "\n".join(lines)


def _line(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def samples(results: Results, row: Row, name: str) -> list[float]:
    return getattr(results, row.source).get(name, {}).get(row.measure, [])


def cell(results: Results, row: Row, name: str) -> str:
    if name in results.unavailable:
        return "not run"
    values, base = samples(results, row, name), samples(results, row, BASELINE)
    if not values:
        return row.missing
    value = row.summary(values)
    text = f"{value:.{row.digits}f}"
    if not row.compared or name == BASELINE or not base:
        return text
    baseline = row.summary(base)
    ratio = f", x{value / baseline:.2f}" if baseline > 0 else ""
    return f"{text} ({value - baseline:+.{row.digits}f}{ratio})"


def size_cell(results: Results) -> Callable[[str], str]:
    def one(name: str) -> str:
        if name in results.unavailable or name not in results.sizes:
            return "not run" if name in results.unavailable else "-"
        zipped, unpacked = results.sizes[name]
        return f"{zipped / MB:.1f} / {unpacked / MB:.1f}" if unpacked else "0"

    return one


def extension_cells(results: Results) -> list[str]:
    cells = []
    for name in results.names:
        values = results.extension.get(name)
        if name in results.unavailable:
            cells.append("not run")
        else:
            cells.append(f"{statistics.median(values):.1f}" if values else "no extension")
    return cells


def exported_cells(results: Results) -> list[str]:
    cells = []
    for name in results.names:
        values = results.sessions.get(name, {}).get("exported")
        sink = results.setups[name].sink if name in results.setups else Sink.NONE
        if name in results.unavailable or not values:
            cells.append("not run" if name in results.unavailable else "-")
        elif sink is Sink.NONE:
            cells.append("nothing")
        else:
            unit = "datagrams" if sink is Sink.OTLP_UDP else "spans"
            cells.append(f"{statistics.median(values):.0f} {unit}, {sink.value}")
    return cells
