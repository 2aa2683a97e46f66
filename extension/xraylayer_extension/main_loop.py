"""The extension's life: register, open the span intake, then export each invocation after
the function's response and before ``next``.

Flush policy (``XRAYLAYER_FLUSH``, flush_policy.py; default ``adaptive``): when an invocation is
over (its end marker came, or its deadline passed) its spans join the pending ones and
``FlushDecision`` says whether to export them before ``next`` or leave them for later; a
``FLUSH_BACKGROUND`` answer at an INVOKE is acted on at once, in this process while the
function works, so it costs the caller nothing. A timed-out or crashed invocation is always
exported at once (the environment is reset next), and SHUTDOWN exports everything. Pending
size in bytes is not tracked (passed as 0): the span-count cap bounds the buffer.

Order of work matters for cold starts: ``run`` registers with nothing but ``_socket`` loaded
(registration.py), and only then imports the intake, the HTTP client and the exporter, while
Lambda starts the runtime. The intake is bound before the first ``next``, so it is there when
the function's first invocation starts.

When the end marker never comes - the function timed out, crashed or ran out of memory - the
invocation span from ``start`` is closed here with a fault and Lambda's cause, and exported with
the child spans that did arrive. The function process is watched through the pid in its
``hello``, so a crash is noticed at once rather than at the deadline.

A function that hands nothing over (no exec wrapper, tracing off in it) sends no ``start``: the
wait gives up after ``intake.START_GRACE_S`` on the first invocation, and after
``NO_SENDER_GRACE_S`` on later ones while no ``hello`` came, so it never holds invocations to
their timeout. Spans that arrive after the wait gave up go out with the next export. The
Telemetry API (``platform.runtimeDone``) is not subscribed to yet; the function's own markers,
the runtime's pid and the deadline are what end a wait.
"""

from __future__ import annotations

import os
import sys

from .registration import RegistrationError, register

TYPE_CHECKING = False  # `typing` is not imported before registration
if TYPE_CHECKING:
    from xraylayer.spans import Span

    from .intake import Intake

EXTENSION_NAME = "xraylayer"
NEXT_PATH = "/2020-01-01/extension/event/next"
TIMEOUT_CAUSE = ("Sandbox.Timedout", "Task timed out")
CRASH_CAUSE = ("Runtime.ExitError", "Runtime exited before the invocation ended")
NO_SENDER_GRACE_S = 0.05  # once it showed it does not: spans arriving later go next time
SHUTDOWN_CAUSE = ("Sandbox.Shutdown", "Environment shut down before the invocation ended")


def run() -> int:
    """The launcher's entry point: register first, then everything else."""
    runtime_api = os.environ["AWS_LAMBDA_RUNTIME_API"]
    try:
        identifier = register(runtime_api, EXTENSION_NAME, ("INVOKE", "SHUTDOWN"))
    except RegistrationError as error:
        print(f"xraylayer: extension registration failed: {error}", file=sys.stderr)
        return 1
    return ExtensionLoop(runtime_api, identifier).run()


class ExtensionLoop:
    """One extension process after registration: the intake, the exporter, the event loop."""

    def __init__(self, runtime_api: str, identifier: str, intake_path: str | None = None) -> None:
        from .flush_decision import FlushDecision
        from .flush_policy import flush_policy_from
        from .xray_export import XRayExport

        self.runtime_api, self.identifier = runtime_api, identifier
        self.exporter = XRayExport()
        policy, warning = flush_policy_from(os.environ)
        if warning:
            print(warning, file=sys.stderr, flush=True)
        self.decision = FlushDecision(policy)
        self.pending: list[Span] = []  # exported at the next flush
        self._pending_since = 0.0  # time.monotonic() when the oldest pending span came
        self.outcomes: dict[str, int] = {}  # how waits for end markers ended, by outcome
        self._invocations = 0
        self.intake: Intake | None = None
        try:
            from .intake import Intake

            self.intake = Intake(intake_path)
        except (OSError, ImportError) as error:
            # Fail open: without the intake the extension still answers every event, so the
            # function runs as it would without the layer (it exports by itself, if it can).
            _log(f"span intake not available ({error}); the function exports by itself")

    def run(self) -> int:
        """Loop on ``next`` until SHUTDOWN; 0 after a clean shutdown, 1 if the API fails us."""
        import http.client
        import json

        host, _, port = self.runtime_api.rpartition(":")
        connection = http.client.HTTPConnection(host, int(port))
        headers = {"Lambda-Extension-Identifier": self.identifier}
        while True:
            try:
                connection.request("GET", NEXT_PATH, headers=headers)
                response = connection.getresponse()
                body = response.read()
                event = json.loads(body) if response.status == 200 else None
            except (OSError, ValueError, http.client.HTTPException) as error:
                return self.abandoned(f"event/next failed: {error}")
            if not isinstance(event, dict):
                return self.abandoned(f"event/next answered {response.status}: {body[:200]!r}")
            if event.get("eventType") == "SHUTDOWN":
                self.shutdown(str(event.get("shutdownReason", "")))
                return 0
            if event.get("eventType") == "INVOKE":
                self.invocation(str(event.get("requestId")), _deadline(event))

    def abandoned(self, why: str) -> int:
        """The Extensions API failed us (the environment is going away): export what is left
        and log the counts anyway, since nothing else will; exit code 1."""
        _log(why)
        self.shutdown("failure")
        return 1

    def invocation(self, request_id: str, deadline: float) -> None:
        """Wait for the function to finish ``request_id`` (at most until ``deadline``), then
        flush or keep its spans as the flush decision says; never raises."""
        intake = self.intake
        if intake is None:
            return
        import time

        from .flush_decision import WAIT
        from .intake import DEADLINE, RUNTIME_GONE, START_GRACE_S

        try:
            if self.decision.invocation_started(time.monotonic(), **self._pending_state()) != WAIT:
                self._flush()
            grace = START_GRACE_S if self._sender_expected() else NO_SENDER_GRACE_S
            outcome = intake.wait_for_end(request_id, deadline, self._runtime_alive, grace)
            with intake.condition:
                spans, open_span = intake.store.take(request_id)
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
            self._invocations += 1
            if open_span is not None:
                spans.append(_closed(open_span, outcome, deadline))
            self._defer(_ended(spans))
            answer = self.decision.invocation_finished(time.monotonic(), **self._pending_state())
            if answer != WAIT or outcome in (DEADLINE, RUNTIME_GONE):
                self._flush()
        except Exception as error:
            _log(f"exporting invocation {request_id} failed: {type(error).__name__}: {error}")

    def _defer(self, spans: list[Span]) -> None:
        import time

        if spans and not self.pending:
            self._pending_since = time.monotonic()
        self.pending += spans

    def _pending_state(self) -> dict[str, float]:
        """What the flush decision needs to know of the pending spans."""
        import time

        age = time.monotonic() - self._pending_since if self.pending else 0.0
        return {"spans": len(self.pending), "size": 0, "oldest_age": age}

    def _flush(self) -> None:
        spans, self.pending = self.pending, []
        if spans:
            self.exporter.export(spans, self.intake.daemon_address if self.intake else None)

    def _sender_expected(self) -> bool:
        """Whether the function hands spans over: assumed until an invocation shows otherwise
        (no ``hello`` by the end of the first one)."""
        intake = self.intake
        return self._invocations == 0 or (intake is not None and intake.runtime_pid is not None)

    def shutdown(self, reason: str) -> None:
        """Export everything left, log the counts, release the socket."""
        intake = self.intake
        if intake is not None:
            try:
                with intake.condition:
                    spans, open_spans = intake.store.take_all()
                cause = _shutdown_cause(reason)
                import time

                now = time.time()
                spans += [_close(span, now, cause) for span in open_spans]
                self._defer(spans)
                self.decision.shutdown(time.monotonic())  # always a blocking flush
                self._flush()
            except Exception as error:
                _log(f"exporting at shutdown failed: {type(error).__name__}: {error}")
            intake.close()
        _log(self.summary())

    def summary(self) -> str:
        """One line of counts: exported, dropped by reason, what else the intake saw."""
        dropped = dict(self.exporter.dropped)
        intake = self.intake
        if intake is not None:
            for reason, count in intake.store.dropped.items():
                dropped[reason] = dropped.get(reason, 0) + count
        reasons = ", ".join(f"{reason}: {count}" for reason, count in sorted(dropped.items()))
        line = f"extension exported {self.exporter.exported}, dropped {sum(dropped.values())}"
        line += f" ({reasons or 'none'})"
        if intake is not None:
            malformed = sum(intake.malformed.values())
            line += (
                f"; received {intake.store.received}, function exported "
                f"{intake.function_exported} itself, malformed datagrams {malformed}"
            )
        waits = ", ".join(f"{outcome}: {count}" for outcome, count in sorted(self.outcomes.items()))
        return f"{line}; invocations {waits or 'none'}; flush policy {self.decision.policy}"

    def _runtime_alive(self) -> bool:
        pid = self.intake.runtime_pid if self.intake is not None else None
        if pid is None:
            return True
        from .runtime_process import process_alive

        return process_alive(pid)


def _closed(span: Span, outcome: str, deadline: float) -> Span:
    """The invocation span the function did not close: a fault at the deadline (timeout) or
    now (crash); closed as it is when the wait ended otherwise (its own span may yet come)."""
    import time

    from .intake import DEADLINE, RUNTIME_GONE

    now = time.time()
    if outcome == DEADLINE:
        return _close(span, min(now, deadline), TIMEOUT_CAUSE)
    if outcome == RUNTIME_GONE:
        return _close(span, now, CRASH_CAUSE)
    span.end(now)
    return span


def _ended(spans: list[Span]) -> list[Span]:
    """``spans`` with any still open closed now (an invocation that ended without its span)."""
    import time

    now = time.time()
    for span in spans:
        if span.end_time is None:
            span.end(now)
    return spans


def _close(span: Span, end_time: float, cause: tuple[str, str]) -> Span:
    from .invocations import close_unfinished

    error_type, message = cause
    return close_unfinished(span, end_time, message, error_type)


def _shutdown_cause(reason: str) -> tuple[str, str]:
    reason = reason.lower()  # docs print SPINDOWN / TIMEOUT / FAILURE; payloads are lowercase
    if reason == "timeout":
        return TIMEOUT_CAUSE
    if reason == "failure":
        return CRASH_CAUSE
    return SHUTDOWN_CAUSE


def _deadline(event: dict) -> float:
    """The invoke's deadline in epoch seconds (``deadlineMs``); an hour away if missing."""
    deadline_ms = event.get("deadlineMs")
    if isinstance(deadline_ms, int | float) and not isinstance(deadline_ms, bool):
        return deadline_ms / 1000
    import time

    return time.time() + 3600


def _log(message: str) -> None:
    print(f"xraylayer: {message}", file=sys.stderr, flush=True)
