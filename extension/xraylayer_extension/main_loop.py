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
their timeout. Spans that arrive after the wait gave up go out with the next export.

The Telemetry API (platform events only) is subscribed to before the first ``next``:
``platform.runtimeDone`` ends a wait whose end marker was lost, and after a crash it names what
killed the runtime (``Runtime.OutOfMemory``...) for the invocation span's cause; a failed init
becomes an ``Init`` span on the next invocation's trace. Where the API is not there (AWS's own
emulator answers 202 ``Telemetry.NotSupported``), the function's markers, its pid and the
deadline still end every wait.
"""

from __future__ import annotations

import os
import sys

from .causes import CRASH_CAUSE, TIMEOUT_CAUSE, failure_cause, shutdown_cause
from .registration import RegistrationError, register

TYPE_CHECKING = False  # `typing` is not imported before registration
if TYPE_CHECKING:
    from xraylayer.spans import Span

    from .exporters import Exporters
    from .intake import Intake
    from .platform_reports import PlatformReports
    from .telemetry_listener import TelemetryListener

EXTENSION_NAME = "xraylayer"
NEXT_PATH = "/2020-01-01/extension/event/next"
NO_SENDER_GRACE_S = 0.05  # once it showed it does not: spans arriving later go next time
RUNTIME_DONE_WAIT_S = 1.0  # after a crash, for Lambda to say what it was (buffered 25 ms)
EXPORT_BUDGET_S = 1.0  # the longest one flush keeps the environment busy after a response
INVOKE_MARGIN_S = 0.1  # of an invocation's deadline, never spent exporting
SHUTDOWN_MARGIN_S = 0.2  # of the SHUTDOWN deadline, kept to log the counts and exit
RUNTIME_EXIT_WAIT_S = 0.6  # at SHUTDOWN, for the runtime to finish (Lambda grants it 300-500 ms)
RUNTIME_EXIT_POLL_S = 0.01


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

        self.runtime_api, self.identifier = runtime_api, identifier
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
        self._exporters: Exporters | None = None  # made at the first flush, after a response
        self.reports: PlatformReports | None = None
        self._listener: TelemetryListener | None = None
        self.telemetry = "off"  # how the Telemetry API subscription went
        if self.intake is not None:
            self._subscribe()

    def run(self) -> int:
        """Loop on ``next`` until SHUTDOWN; 0 after a clean shutdown, 1 if the API fails us."""
        from .lambda_api import ApiError, request

        _log(f"extension {_layer_version()} started: {self._state()}")
        headers = {"Lambda-Extension-Identifier": self.identifier}
        while True:
            try:
                answer = request(self.runtime_api, "GET", NEXT_PATH, headers, timeout_s=None)
                event = _event(answer.body) if answer.status == 200 else None
            except ApiError as error:
                return self.abandoned(f"event/next failed: {error}")
            if event is None:
                return self.abandoned(f"event/next answered {answer.status}: {answer.body[:200]!r}")
            if event.get("eventType") == "SHUTDOWN":
                self.shutdown(str(event.get("shutdownReason", "")), event.get("deadlineMs"))
                return 0
            if event.get("eventType") == "INVOKE":
                self.invocation(str(event.get("requestId")), _deadline(event), _tracing(event))

    def abandoned(self, why: str) -> int:
        """The Extensions API failed us (the environment is going away): export what is left
        and log the counts anyway, since nothing else will; exit code 1."""
        _log(why)
        self.shutdown("failure")
        return 1

    def invocation(self, request_id: str, deadline: float, tracing: str | None = None) -> None:
        """Wait for the function to finish ``request_id`` (at most until ``deadline``), then
        flush or keep its spans as the flush decision says; never raises. ``tracing``: the
        INVOKE event's trace header, for spans the extension makes itself."""
        intake = self.intake
        if intake is None:
            return
        import time

        from .flush_decision import WAIT
        from .intake import DEADLINE, RUNTIME_DONE, RUNTIME_GONE, START_GRACE_S

        try:
            if self.decision.invocation_started(time.monotonic(), **self._pending_state()) != WAIT:
                self._flush_within(deadline)
            grace = START_GRACE_S if self._sender_expected() else NO_SENDER_GRACE_S
            reports = self.reports
            done = (lambda: reports.done(request_id) is not None) if reports else None
            outcome = intake.wait_for_end(request_id, deadline, self._runtime_alive, grace, done)
            with intake.condition:
                spans, open_span = intake.store.take(request_id)
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
            self._invocations += 1
            if open_span is not None:
                spans.append(self._closed(open_span, request_id, outcome, deadline))
            spans += self._failed_init(tracing)
            self._defer(_ended(spans))
            answer = self.decision.invocation_finished(time.monotonic(), **self._pending_state())
            if answer != WAIT or outcome in (DEADLINE, RUNTIME_GONE, RUNTIME_DONE):
                self._flush_within(deadline)
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

    def _flush_within(self, invocation_deadline: float) -> None:
        """Flush, bounded by ``EXPORT_BUDGET_S`` and by the invocation's own deadline (epoch
        seconds): Lambda counts the extension's work before ``next`` against the function's
        timeout, so a slow or unreachable backend must never turn a success into a timeout.
        With no time left (a timeout) the spans wait for SHUTDOWN, which comes next."""
        import time

        left = min(EXPORT_BUDGET_S, invocation_deadline - time.time() - INVOKE_MARGIN_S)
        if left > 0:
            self._flush(time.monotonic() + left)

    def _flush(self, deadline: float | None = None) -> None:
        """Export the pending spans, by ``deadline`` (``time.monotonic()``; by default
        ``EXPORT_BUDGET_S`` from now), and write the accounting file if one is asked for."""
        import time

        spans, self.pending = self.pending, []
        exporters = self.exporters if spans else None
        if exporters is not None:
            exporters.export(spans, deadline or time.monotonic() + EXPORT_BUDGET_S)
            from .accounting import ACCOUNTING_VARIABLE

            exporters.accounting.write(os.environ.get(ACCOUNTING_VARIABLE), self._seen())

    @property
    def exporters(self) -> Exporters | None:
        """The exporters, made (and their configuration read) at first use: the first flush,
        after a response. None without the intake: no span can come, nothing to import."""
        if self._exporters is None and self.intake is not None:
            from .exporters import Exporters

            self._exporters = Exporters(self._daemon_address)
        return self._exporters

    def _daemon_address(self) -> str | None:
        return self.intake.daemon_address if self.intake is not None else None

    def _sender_expected(self) -> bool:
        """Whether the function hands spans over: assumed until an invocation shows otherwise
        (no ``hello`` by the end of the first one)."""
        intake = self.intake
        return self._invocations == 0 or (intake is not None and intake.runtime_pid is not None)

    def shutdown(self, reason: str, deadline_ms: object = None) -> None:
        """Export everything left before the SHUTDOWN event's deadline (less a margin to log
        and exit), log the counts, release the socket."""
        intake = self.intake
        if intake is not None:
            try:
                import time

                deadline = _shutdown_deadline(deadline_ms)
                self._await_runtime_exit(deadline)
                intake.stop()
                with intake.condition:
                    spans, open_spans = intake.store.take_all()
                cause = shutdown_cause(reason)
                now = time.time()
                spans += [_close(span, now, cause) for span in open_spans]
                if self.reports is not None and self._invocations == 0:
                    self.reports.wait_init_done(RUNTIME_DONE_WAIT_S)
                spans += self._failed_init(None)  # an init that failed with no invocation after
                self._defer(spans)
                self.decision.shutdown(time.monotonic())  # always a blocking flush
                self._flush(deadline)
            except Exception as error:
                _log(f"exporting at shutdown failed: {type(error).__name__}: {error}")
            intake.close()
        if self._listener is not None:
            self._listener.close()
        _log(self.summary())

    def _await_runtime_exit(self, deadline: float | None) -> None:
        """The runtime got SIGTERM with this SHUTDOWN and may still hand spans over (its
        handler, its threads) until it exits: keep receiving until then, within Lambda's grace
        for it, and leave the export its time before the deadline."""
        import time

        if self.intake is None or self.intake.runtime_pid is None:
            return  # no function process ever spoke: nothing to wait for
        give_up = time.monotonic() + RUNTIME_EXIT_WAIT_S
        if deadline is not None:
            give_up = min(give_up, deadline - EXPORT_BUDGET_S)
        while self._runtime_alive() and time.monotonic() < give_up:
            time.sleep(RUNTIME_EXIT_POLL_S)

    def summary(self) -> str:
        """One line of counts: what came in, where each exporter's share went, how waits ended."""
        seen = self._seen()
        lost = ", ".join(f"{reason}: {n}" for reason, n in sorted(seen["lost"].items()))
        waits = ", ".join(f"{outcome}: {n}" for outcome, n in sorted(self.outcomes.items()))
        return (
            f"extension received {seen['received']} spans (function exported "
            f"{seen['function_exported']} itself, lost before export {sum(seen['lost'].values())}"
            f" ({lost or 'none'}), malformed datagrams {seen['malformed']}); "
            f"{self._exports_summary()}; invocations {waits or 'none'}; "
            f"flush policy {self.decision.policy}; "
            f"telemetry {self._telemetry_summary()}"
        )

    def _exports_summary(self) -> str:
        exporters = self.exporters
        if exporters is None:
            return "no exporters"
        return f"{exporters.accounting.summary()}; {exporters.describe()}"

    def _telemetry_summary(self) -> str:
        listener = self._listener
        if listener is None:
            return self.telemetry
        malformed = sum(listener.malformed.values())
        return f"{self.telemetry} ({listener.batches} batches, {malformed} malformed)"

    def _seen(self) -> dict:
        """What reached the intake, and what was lost before any exporter saw it."""
        intake = self.intake
        if intake is None:
            return {
                "received": 0,
                "function_exported": 0,
                "closed_by_extension": 0,
                "lost": {},
                "malformed": 0,
            }
        return {
            "received": intake.store.received,
            "function_exported": intake.function_exported,
            "closed_by_extension": intake.store.closed_here,
            "lost": dict(intake.store.dropped),
            "malformed": sum(intake.malformed.values()),
        }

    def _closed(self, span: Span, request_id: str, outcome: str, deadline: float) -> Span:
        """The invocation span the function did not close: a fault at the deadline (timeout),
        or now with what Lambda says ended the runtime (crash, out of memory); closed as it is
        otherwise (the runtime finished but its span never came)."""
        import time

        from .intake import DEADLINE, RUNTIME_DONE, RUNTIME_GONE

        now = time.time()
        if outcome == DEADLINE:
            return _close(span, min(now, deadline), TIMEOUT_CAUSE)
        if outcome in (RUNTIME_GONE, RUNTIME_DONE):
            reports = self.reports
            done = reports.wait_done(request_id, RUNTIME_DONE_WAIT_S) if reports else None
            cause = failure_cause(done) if done else None
            if cause is not None or outcome == RUNTIME_GONE:
                return _close(span, now, cause or CRASH_CAUSE)
        span.end(now)
        return span

    def _failed_init(self, tracing: str | None) -> list[Span]:
        """An ``Init`` span with the init's error, once, when the Telemetry API said the init
        failed; in the trace of the invocation that follows it, as Lambda shows its own."""
        failed = self.reports.failed_init() if self.reports else None
        if failed is None:
            return []
        from .init_span import failed_init_span

        span = failed_init_span(*failed, tracing)
        return [span] if span is not None else []

    def _subscribe(self) -> None:
        """Subscribe to the Telemetry API's platform events (with a listener on loopback)."""
        from .platform_reports import PlatformReports
        from .telemetry_listener import NOT_SUPPORTED, SUBSCRIBED, TelemetryListener, subscribe

        assert self.intake is not None
        reports = PlatformReports(self.intake.condition)
        try:
            listener = TelemetryListener(reports.add)
        except OSError as error:
            self.telemetry = f"no listener ({error})"
            _log(f"telemetry listener not available ({error}); working without it")
            return
        outcome = subscribe(self.runtime_api, self.identifier, listener)
        self.telemetry = outcome.kind
        if outcome.kind == SUBSCRIBED:
            self.reports, self._listener = reports, listener
            return
        listener.close()
        if outcome.kind != NOT_SUPPORTED:
            _log(f"Telemetry API subscription {outcome.kind}: {outcome.message}; going on without")

    def _state(self) -> str:
        intake = "span intake ready" if self.intake is not None else "no span intake"
        return f"{intake}, Telemetry API {self.telemetry}"

    def _runtime_alive(self) -> bool:
        pid = self.intake.runtime_pid if self.intake is not None else None
        if pid is None:
            return True
        from .runtime_process import process_alive

        return process_alive(pid)


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


def _event(body: bytes) -> dict | None:
    """The event in a ``next`` answer's body; None if it is not a JSON object."""
    import json  # the first time, once the first event is there: after the runtime's init

    try:
        event = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return event if isinstance(event, dict) else None


def _tracing(event: dict) -> str | None:
    """The trace header of an INVOKE event (present when Lambda traces the invocation)."""
    tracing = event.get("tracing")
    value = tracing.get("value") if isinstance(tracing, dict) else None
    return value if isinstance(value, str) else None


def _shutdown_deadline(deadline_ms: object) -> float | None:
    """The SHUTDOWN event's ``deadlineMs`` as a ``time.monotonic()`` deadline, less the
    margin; None (the usual budget) when it is missing or odd."""
    if not isinstance(deadline_ms, int | float) or isinstance(deadline_ms, bool):
        return None
    import time

    left = deadline_ms / 1000 - time.time() - SHUTDOWN_MARGIN_S
    return time.monotonic() + max(0.0, left)


def _deadline(event: dict) -> float:
    """The invoke's deadline in epoch seconds (``deadlineMs``); an hour away if missing."""
    deadline_ms = event.get("deadlineMs")
    if isinstance(deadline_ms, int | float) and not isinstance(deadline_ms, bool):
        return deadline_ms / 1000
    import time

    return time.time() + 3600


def _layer_version() -> str:
    """The layer's version, for the start line that says which version ran in a log; the
    extension still runs (and steps aside) when the layer's code is missing."""
    try:
        from xraylayer import __version__
    except ImportError:
        return "(layer code missing)"
    return __version__


def _log(message: str) -> None:
    print(f"xraylayer: {message}", file=sys.stderr, flush=True)
