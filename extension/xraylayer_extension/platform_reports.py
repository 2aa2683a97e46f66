"""What Lambda told the extension through the Telemetry API, kept for the main loop.

The listener's thread files records here; the main loop reads them under the same condition the
intake uses, so a ``platform.runtimeDone`` wakes a wait for an end marker as a span does. Three
uses: the runtime being done ends a wait whose end marker was lost; the error type of a crash
(``Runtime.ExitError``, ``Runtime.OutOfMemory``) becomes the cause on the invocation span; and
a failed init becomes an ``Init`` span on the next invocation's trace.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .telemetry_events import InitPhase, Report, RuntimeDone

REMEMBERED = 64  # invocations whose runtimeDone / report are kept


class PlatformReports:
    """Records by request id (the last ``REMEMBERED``), and the init phase's records."""

    def __init__(self, condition: threading.Condition | None = None) -> None:
        self.condition = condition or threading.Condition()
        self.runtime_done: OrderedDict[str, RuntimeDone] = OrderedDict()
        self.reports: OrderedDict[str, Report] = OrderedDict()
        self.init: list[InitPhase] = []
        self._init_reported = False

    def add(self, records: list) -> None:
        """File records (the listener's callback); wakes whoever waits on the condition."""
        from .telemetry_events import InitPhase, Report, RuntimeDone

        with self.condition:
            for record in records:
                if isinstance(record, RuntimeDone):
                    _remember(self.runtime_done, record.request_id, record)
                elif isinstance(record, Report):
                    _remember(self.reports, record.request_id, record)
                elif isinstance(record, InitPhase):
                    self.init.append(record)
            self.condition.notify_all()

    def done(self, request_id: str) -> RuntimeDone | None:
        """The runtimeDone of ``request_id``, if it came (call with the condition held)."""
        return self.runtime_done.get(request_id)

    def wait_done(self, request_id: str, timeout_s: float) -> RuntimeDone | None:
        """Wait up to ``timeout_s`` for the runtimeDone of ``request_id``: after a crash it
        says what killed the runtime, within the Telemetry API's buffering time."""
        with self.condition:
            self.condition.wait_for(lambda: request_id in self.runtime_done, timeout_s)
            return self.runtime_done.get(request_id)

    def wait_init_done(self, timeout_s: float) -> None:
        """Wait up to ``timeout_s`` for the init's outcome (``initRuntimeDone``) once its start
        came: a SHUTDOWN right after a failed init can come before the buffered records do."""
        from .telemetry_events import INIT_START

        with self.condition:
            if any(r.event_type == INIT_START for r in self.init):  # else no telemetry comes
                self.condition.wait_for(
                    lambda: any(r.event_type != INIT_START for r in self.init), timeout_s
                )

    def failed_init(self) -> tuple[list[InitPhase], str] | None:
        """The init phase's records and its error type, once, if the init failed."""
        with self.condition:
            if self._init_reported:
                return None
            failed = [r for r in self.init if r.status not in (None, "success")]
            if not failed:
                return None
            self._init_reported = True
            return list(self.init), failed[0].error_type or "Runtime.InitError"


def _remember(records: OrderedDict, request_id: str, record: object) -> None:
    records[request_id] = record
    records.move_to_end(request_id)
    while len(records) > REMEMBERED:
        records.popitem(last=False)
