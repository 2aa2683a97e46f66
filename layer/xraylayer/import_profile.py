"""What made a cold start slow: the imports that took longer than a threshold during init.

The post-import finder (`import_hooks`) reports when each module starts and ends executing;
the profile keeps those at or above the threshold (a module's time includes the imports it
makes, so a kept module's parents are kept too). On the cold start the invocation turns them
into spans under `Init` (`slow_imports` gives their nesting). The profile also carries the
moment the process started, which is where `Init` begins.

Created by sitecustomize at interpreter start: imports only built-in modules.
"""

import _thread
import time

# Type names only (no `from __future__ import annotations` either: that import costs 0.1 ms).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

# (module name, start, end, thread id); times in epoch seconds
Record = tuple[str, float, float, int]


class ImportProfile:
    """Import timings of one process's init, and when the process started."""

    __slots__ = ("_open", "active", "process_start", "records", "threshold_s")

    def __init__(self, process_start: float, threshold_ms: float) -> None:
        self.process_start = process_start
        self.threshold_s = threshold_ms / 1000
        self.active = threshold_ms > 0  # a threshold of 0 turns the profile off
        self.records: list[Record] = []
        self._open: dict[int, float] = {}  # id of the executing module's spec -> start

    def started(self, spec: object) -> None:
        """A module (given by its spec) starts executing."""
        self._open[id(spec)] = time.time()

    def finished(self, spec: object, name: str) -> None:
        """The module of `spec` has executed (or failed); kept if it took long enough."""
        start = self._open.pop(id(spec), None)
        if start is None:
            return
        end = time.time()
        if end - start >= self.threshold_s:
            self.records.append((name, start, end, _thread.get_ident()))

    def stop(self) -> None:
        """Init is over: imports from now on are the invocations' business."""
        self.active = False


def slow_imports(records: "Iterable[Record]") -> list[tuple[str, float, float, int | None]]:
    """(name, start, end, parent) per record, ordered by start; `parent` is the index of the
    import it happened inside (same thread, interval within), None for a top-level one."""
    ordered = sorted(records, key=lambda record: (record[1], -record[2]))
    result: list[tuple[str, float, float, int | None]] = []
    open_by_thread: dict[int, list[int]] = {}
    for name, start, end, thread in ordered:
        enclosing = open_by_thread.setdefault(thread, [])
        while enclosing and result[enclosing[-1]][2] < end:
            enclosing.pop()
        result.append((name, start, end, enclosing[-1] if enclosing else None))
        enclosing.append(len(result) - 1)
    return result
