"""Where every span the extension received went, per exporter: the figures behind "nothing lost".

For each exporter, every span of every flush is counted once: exported, rejected by the
receiver, or dropped with a reason, ``not_sampled`` included (the trace was not for that
exporter: Lambda did not sample it for the daemon, the OTLP sampler left it out). Spans lost
before any exporter saw them (the intake full, the function's own drops) are counted apart.

``summary()`` is the one line logged at shutdown; ``document()`` is the same as JSON, which
``write()`` puts at ``XRAYLAYER_ACCOUNTING`` after each flush when that is set (tests and
benchmarks read it; written to a temporary file and renamed, so never read half-written).
"""

from __future__ import annotations

import os
import sys

from .export_result import ExportResult

NOT_SAMPLED = "not_sampled"
ACCOUNTING_VARIABLE = "XRAYLAYER_ACCOUNTING"


class Accounting:
    """Counts per exporter, plus what the intake and the function reported."""

    def __init__(self, exporter_names: tuple[str, ...]) -> None:
        self.exporters = {name: ExportResult() for name in exporter_names}
        self.tail_kept = 0  # traces exported only because tail keep rescued them

    def exported(self, name: str, result: ExportResult) -> None:
        self.exporters[name].add(result)

    def not_sampled(self, name: str, count: int) -> None:
        self.exporters[name].drop(NOT_SAMPLED, count)

    def document(self, intake: dict[str, object]) -> dict[str, object]:
        """Everything as one JSON-ready object; ``intake``: what the intake saw."""
        return {
            **intake,
            "tail_kept_traces": self.tail_kept,
            "exporters": {
                name: {
                    "exported": result.exported,
                    "rejected": result.rejected,
                    "dropped": dict(sorted(result.dropped.items())),
                }
                for name, result in self.exporters.items()
            },
        }

    def summary(self) -> str:
        """``xray-daemon exported 12, dropped 3 (not_sampled: 3); otlp exported 15, ...``."""
        parts = []
        for name, result in self.exporters.items():
            reasons = ", ".join(f"{r}: {n}" for r, n in sorted(result.dropped.items()))
            part = f"{name} exported {result.exported}"
            if result.rejected:
                part += f", rejected {result.rejected}"
            parts.append(part + f", dropped {result.dropped_count} ({reasons or 'none'})")
        return "; ".join(parts) or "no exporter"

    def write(self, path: str | None, intake: dict[str, object]) -> None:
        """Replace the file at ``path`` (if any) with ``document``; never raises."""
        if not path:
            return
        import json

        temporary = f"{path}.{os.getpid()}.tmp"
        try:
            with open(temporary, "w", encoding="utf-8") as file:
                json.dump(self.document(intake), file)
            os.replace(temporary, path)
        except OSError as error:
            print(f"xraylayer: cannot write the accounting to {path}: {error}", file=sys.stderr)
