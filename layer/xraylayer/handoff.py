"""Where the function process's finished spans go: to the extension at once, or to the daemon.

``HANDOFF`` is ``TRACER``'s sink (``install()`` connects them). Each finished span is encoded
(``wire``) and sent to the extension's intake socket with a non-blocking send: a few
microseconds, and never a wait, whatever state the extension is in. A span the socket does
not take (extension not there yet, gone, or behind) waits in a bounded in-process queue and is
retried with the next span; beyond the bound the oldest waiting span is dropped and counted.

At the end of an invocation the extension is usually behind rather than absent (a cold start's
import spans fill the socket's queue of 10 datagrams while it is still starting up), so there the
sends may wait, for at most ``END_PATIENCE_S`` in all, for the queue to have room: the end
marker above all, without which the extension would wait for the invocation's deadline.

Whatever the extension still did not take is converted to X-Ray
documents and sent straight to the daemon (``AWS_XRAY_DAEMON_ADDRESS``): the path that works
with no extension at all. That runs before the response, so it costs the caller time, which is
why it is only the fallback. Unsampled spans cannot go to X-Ray and are counted as dropped.

Every span made is, in the end, handed off, exported, or dropped with a reason (``stats()``);
each reason is logged once. Spans still queued when the process dies (timeout, crash) are lost
with it: the extension, which outlives the runtime, is what covers those cases.
"""

from __future__ import annotations

import _socket as socket  # the C module: what the span socket needs, without `socket`'s 3 ms
import contextlib
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping

from . import __version__, diagnostics, wire
from . import semconv as sc
from .intake_address import intake_path
from .spans import Span
from .tracer import TRACER, Tracer

# Type names only: `typing` costs 2 ms at every cold start.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MAX_PENDING_SPANS = 2048
SEND_BUFFER_BYTES = 1 << 20  # asked for; the kernel caps it at net.core.wmem_max
DAEMON_ADDRESS_VARIABLE = "AWS_XRAY_DAEMON_ADDRESS"
END_PATIENCE_S = 0.05  # the longest the end of an invocation waits for a busy extension

# Reasons a span is dropped, as counted in stats()["dropped"].
BUFFER_FULL = "buffer_full"
UNSAMPLED = "unsampled"
NO_DAEMON_ADDRESS = "no_daemon_address"
DAEMON_SEND_FAILED = "daemon_send_failed"
ENCODE_FAILED = "encode_failed"
CONVERSION_FAILED = "conversion_failed"
_EXPLANATIONS = {
    BUFFER_FULL: f"more than {MAX_PENDING_SPANS} spans waited for the extension",
    UNSAMPLED: "no extension took them and unsampled spans cannot go to X-Ray",
    NO_DAEMON_ADDRESS: f"no extension took them and {DAEMON_ADDRESS_VARIABLE} is not set",
    DAEMON_SEND_FAILED: "the X-Ray daemon socket refused them",
    ENCODE_FAILED: "they could not be encoded",
    CONVERSION_FAILED: "they could not be converted to X-Ray documents",
}


class Handoff:
    """The span sink of one function process; thread-safe, never raises, never blocks.

    ``intake``: the extension's socket path (default ``intake_address.intake_path()``);
    ``environ``: where ``AWS_XRAY_DAEMON_ADDRESS`` is read (default ``os.environ``, read at each
    invocation end).
    """

    def __init__(
        self,
        intake: str | None = None,
        *,
        max_pending: int = MAX_PENDING_SPANS,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._intake = intake
        self._max_pending = max_pending
        self._environ = environ
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None
        self._pending: deque[tuple[Span, bytes]] = deque()
        self._made = self._handed_off = self._exported = 0
        self._dropped: dict[str, int] = {}
        self._send_errors: dict[str, int] = {}
        self._invocation: Span | None = None
        self._invocation_emitted = False
        self._request_id: str | None = None
        self._totals_at_start: tuple[int, int, dict[str, int]] = (0, 0, {})
        self._hello_sent = False
        self._daemons: dict[str, Any] = {}
        self._at_next_invocation: list[Callable[[], None]] = []

    # --- the sink ---------------------------------------------------------------------------

    def emit(self, span: Span) -> None:
        """Hand one finished span over, or queue it if the extension does not take it now."""
        try:
            item = wire.encode_span_item(span, self._request_id)
        except Exception as error:
            with self._lock:
                self._made += 1
                self._drop(ENCODE_FAILED)
            diagnostics.internal_error("encoding a span for the extension", error)
            return
        with self._lock:
            self._made += 1
            if span is self._invocation:
                self._invocation_emitted = True
            if self._pending:
                self._pending.append((span, item))
                self._trim()
                self._drain()
            elif self._send(wire.span_message(item)):
                self._handed_off += 1
            else:
                self._pending.append((span, item))
                self._trim()

    def invocation_started(self, span: Span) -> None:
        """An invocation began, ``span`` being its (open) span: tell the extension, and the
        first time also where the X-Ray daemon is (extensions are not given the variable)."""
        try:
            with self._lock:
                self._invocation, self._invocation_emitted = span, False
                request_id = span.attributes.get(sc.FAAS_INVOCATION_ID)
                self._request_id = request_id if isinstance(request_id, str) else None
                self._totals_at_start = self._totals()
                self._drain()  # spans left from init or from late threads go first
                if not self._hello_sent:
                    hello = wire.encode_hello(
                        self._daemon_address(), pid=os.getpid(), layer_version=__version__
                    )
                    self._hello_sent = self._send(hello)
                self._send(wire.encode_invocation_start(span, self._request_id))
                callbacks, self._at_next_invocation = self._at_next_invocation, []
            for callback in callbacks:
                _run(callback)
        except Exception as error:
            diagnostics.internal_error("starting an invocation's span hand-off", error)

    def invocation_finished(self, span: Span) -> None:
        """The handler returned: emit the invocation span if that has not happened yet, export
        what the extension did not take straight to the daemon, and send the end marker."""
        try:
            if not self._was_emitted(span):
                span.end()
                self.emit(span)
            give_up = time.monotonic() + END_PATIENCE_S
            with self._lock:
                self._drain(give_up)
                leftovers = [queued for queued, _ in self._pending]
                self._pending.clear()
            self._export_directly(leftovers)
            with self._lock:
                handed_off, exported, dropped = self._since_start()
                end = wire.encode_invocation_end(
                    span,
                    self._request_id,
                    handed_off=handed_off,
                    exported=exported,
                    dropped=dropped,
                )
                self._send(end, give_up)
                self._invocation = self._request_id = None
            self._report_drops()
        except Exception as error:
            diagnostics.internal_error("finishing an invocation's span hand-off", error)

    def call_at_next_invocation(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once, when the next invocation starts (after init code has run)."""
        with self._lock:
            self._at_next_invocation.append(callback)

    def stats(self) -> dict[str, Any]:
        """Spans made, handed off, exported directly, waiting, and dropped by reason; plus the
        intake socket's send errors by errno name (why spans had to wait)."""
        with self._lock:
            return {
                "made": self._made,
                "handed_off": self._handed_off,
                "exported": self._exported,
                "pending": len(self._pending),
                "dropped": dict(self._dropped),
                "send_errors": dict(self._send_errors),
            }

    # --- the intake socket (call with the lock held) ------------------------------------------

    def _send(self, data: bytes, give_up: float = 0.0) -> bool:
        """Send one datagram without waiting; or, given a ``time.monotonic()`` to ``give_up``
        at, wait until then for room in the extension's queue (not for an absent extension:
        that fails at once)."""
        sock = self._ready_socket()
        if sock is None:
            return False
        patience = give_up - time.monotonic() if give_up else 0.0
        try:
            if patience > 0:
                sock.settimeout(patience)
            sock.sendto(data, self._intake)
        except OSError as error:  # TimeoutError included
            import errno  # only now: a process whose sends all go through never needs it

            name = errno.errorcode.get(error.errno or 0, type(error).__name__)
            self._send_errors[name] = self._send_errors.get(name, 0) + 1
            return False
        finally:
            if patience > 0:
                sock.setblocking(False)
        return True

    def _ready_socket(self) -> socket.socket | None:
        if self._socket is None:
            try:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            except OSError as error:
                diagnostics.internal_error("opening the span socket", error)
                return None
            sock.setblocking(False)
            with contextlib.suppress(OSError):  # the default buffer works, it just fills sooner
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
            if self._intake is None:
                self._intake = intake_path(self._environ)
            self._socket = sock
        return self._socket

    def _drain(self, give_up: float = 0.0) -> None:
        """Send queued spans, oldest first, in batches; stop at the first refusal (``give_up``
        as for ``_send``)."""
        while self._pending:
            batch: list[bytes] = []
            size = 0
            for _, item in self._pending:
                if batch and size + len(item) + 1 > wire.BATCH_BYTES:
                    break
                batch.append(item)
                size += len(item) + 1
            if not self._send(wire.encode_span_items(batch), give_up):
                return
            for _ in batch:
                self._pending.popleft()
            self._handed_off += len(batch)

    def _trim(self) -> None:
        while len(self._pending) > self._max_pending:
            self._pending.popleft()
            self._drop(BUFFER_FULL)

    def _drop(self, reason: str, count: int = 1) -> None:
        if count:
            self._dropped[reason] = self._dropped.get(reason, 0) + count

    def _totals(self) -> tuple[int, int, dict[str, int]]:
        return self._handed_off, self._exported, dict(self._dropped)

    def _since_start(self) -> tuple[int, int, dict[str, int]]:
        handed_off, exported, dropped = self._totals_at_start
        now = {k: v - dropped.get(k, 0) for k, v in self._dropped.items()}
        return (
            self._handed_off - handed_off,
            self._exported - exported,
            {k: v for k, v in now.items() if v},
        )

    def _was_emitted(self, span: Span) -> bool:
        with self._lock:
            if span is self._invocation:
                return self._invocation_emitted
        return span.ended  # not announced by invocation_started: assume TRACER.finish ran

    # --- the fallback: straight to the daemon -------------------------------------------------

    def _export_directly(self, spans: list[Span]) -> None:
        sampled = [span for span in spans if span.sampled]
        with self._lock:
            self._drop(UNSAMPLED, len(spans) - len(sampled))
        if not sampled:
            return
        address = self._daemon_address()
        if not address:
            with self._lock:
                self._drop(NO_DAEMON_ADDRESS, len(sampled))
            return
        documents = self._documents(sampled)
        client = self._daemons.get(address)
        if client is None:
            from .xray_udp import DaemonClient

            client = self._daemons[address] = DaemonClient(address)
        sent = client.send(documents)
        with self._lock:
            self._exported += sent
            self._drop(DAEMON_SEND_FAILED, len(documents) - sent)

    def _documents(self, spans: Iterable[Span]) -> list[dict]:
        from .xray_document import subsegment_documents

        return subsegment_documents(spans, self._conversion_failed)

    def _conversion_failed(self, span: Span, error: Exception) -> None:
        with self._lock:
            self._drop(CONVERSION_FAILED)
        diagnostics.internal_error("converting a span to an X-Ray document", error)

    def _daemon_address(self) -> str | None:
        environ = os.environ if self._environ is None else self._environ
        return environ.get(DAEMON_ADDRESS_VARIABLE) or None

    def _report_drops(self) -> None:
        with self._lock:
            dropped = dict(self._dropped)
        for reason, count in dropped.items():
            explanation = _EXPLANATIONS.get(reason, reason)
            # Unsampled spans are dropped on every untraced invocation: expected, not a warning.
            diagnostics.log(
                "debug" if reason == UNSAMPLED else "warning",
                f"{count} span(s) dropped so far: {explanation} (reported once per reason; "
                "counts in xraylayer.handoff.HANDOFF.stats())",
                once=f"handoff-dropped:{reason}",
            )


def _run(callback: Callable[[], None]) -> None:
    try:
        callback()
    except Exception as error:
        diagnostics.internal_error(f"running {getattr(callback, '__qualname__', callback)}", error)


_instance: dict[str, Handoff] = {}
_instance_lock = threading.Lock()


def __getattr__(name: str) -> Any:
    """``HANDOFF``: the process's one ``Handoff``, made at first use."""
    if name != "HANDOFF":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    with _instance_lock:
        if name not in _instance:
            _instance[name] = Handoff()
        return _instance[name]


def install(tracer: Tracer = TRACER) -> Handoff:
    """Make ``HANDOFF`` the sink of ``tracer`` (by default the process's ``TRACER``)."""
    handoff = __getattr__("HANDOFF")
    tracer.sink = handoff
    return handoff
