"""The span intake: the unix datagram socket the function process hands its spans to.

Bound at ``intake_address.intake_path()`` before the extension's first ``next``, so the
function finds it from its first invocation on. One receiver thread decodes each datagram with
``wire.decode`` and files it in an ``InvocationStore`` under a lock; the main loop waits on
the same lock's condition for an invocation's end marker. A datagram that is not a message
is counted, never raised: nothing the function sends can stop the extension.
"""

from __future__ import annotations

import _socket
import contextlib
import os
import threading
import time
from collections.abc import Callable

from xraylayer.intake_address import MAX_DATAGRAM_BYTES, intake_path

from .invocations import InvocationStore, held_span_bound

TYPE_CHECKING = False
if TYPE_CHECKING:
    from xraylayer import wire

ENDED, DEADLINE, RUNTIME_GONE, NO_START = "ended", "deadline", "runtime_gone", "no_start"
RUNTIME_DONE = "runtime_done"  # Lambda said the runtime is done, and no end marker came
START_GRACE_S = 1.0  # the exec wrapper sends `start` first thing; a second is generous
MAX_MALFORMED_REASONS = 16
RECEIVE_BUFFER_BYTES = 4 << 20  # asked for; room for a burst while the thread catches up
_POLL_S = 0.05


class Intake:
    """The bound socket, its receiver thread, and what it received so far."""

    def __init__(self, path: str | None = None, store: InvocationStore | None = None) -> None:
        self.path = path or intake_path()
        self.store = store or InvocationStore(held_span_bound(os.environ))
        self.condition = threading.Condition()
        self.malformed: dict[str, int] = {}
        self.daemon_address: str | None = None
        self.runtime_pid: int | None = None
        self.function_exported = 0  # spans the function sent to the daemon itself
        self._socket = _bind(self.path)
        self._closed = False
        self._thread = threading.Thread(target=self._receive, name="xraylayer-intake", daemon=True)
        self._thread.start()

    def wait_for_end(
        self,
        request_id: str,
        deadline: float,
        still_running: Callable[[], bool] | None = None,
        start_grace_s: float = START_GRACE_S,
        runtime_done: Callable[[], bool] | None = None,
    ) -> str:
        """Wait for the function to finish ``request_id``; says how the wait ended.

        ``ENDED``: its end marker came. ``DEADLINE``: the ``time.time()`` deadline passed
        (a timeout). ``RUNTIME_GONE``: ``still_running()`` said no (a crash). ``NO_START``: no
        ``start`` within ``start_grace_s`` - the function does not hand spans over (the exec
        wrapper is not set, tracing is off in it, or its ``start`` was lost), so waiting for
        an end marker would stretch every invocation to its timeout. ``RUNTIME_DONE``:
        ``runtime_done()`` said Lambda reported the invocation over (``platform.runtimeDone``),
        the backstop for an end marker that was lost.
        """
        give_up_start = time.time() + start_grace_s
        with self.condition:
            while not self.store.has_ended(request_id):
                now = time.time()
                if now >= deadline:
                    return DEADLINE
                if now >= give_up_start and not self.store.has_started(request_id):
                    return NO_START
                if still_running is not None and not still_running():
                    return RUNTIME_GONE
                if runtime_done is not None and runtime_done():
                    return RUNTIME_DONE
                self.condition.wait(min(deadline - now, _POLL_S))
            return ENDED

    def stop(self) -> None:
        """Stop receiving once what the socket holds has been filed: nothing a sender got
        queued is left unread. New sends fail from now on (the sender counts them)."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(OSError):
            self._socket.shutdown(_socket.SHUT_RDWR)  # wakes recv; queued datagrams stay
        self._thread.join(1.0)

    def close(self) -> None:
        """Stop receiving (see ``stop``) and remove the socket file."""
        self.stop()
        self._socket.close()
        with contextlib.suppress(OSError):
            os.unlink(self.path)

    def _receive(self) -> None:
        while True:
            try:
                data = self._socket.recv(MAX_DATAGRAM_BYTES)
            except OSError:
                if self._closed:
                    return
                continue
            if not data:
                if self._closed:  # shut down, and the queue is empty
                    return
                continue
            try:
                self.accept(data)
            except Exception as error:  # a bug here must not end the intake
                self._count_malformed(f"internal error: {type(error).__name__}")

    def accept(self, data: bytes) -> None:
        """File one datagram (the receiver thread calls this; tests may too). The message
        format (json and all) loads with the first one, once the runtime is starting: not
        before the extension's first `next`, where Lambda would add it to the cold start."""
        from xraylayer import wire

        try:
            message = wire.decode(data)
        except Exception as error:  # decode promises DecodeError; be safe anyway
            message = wire.DecodeError(f"{type(error).__name__}")
        with self.condition:
            self._apply(message)
            if not isinstance(message, wire.SpanMessage | wire.SpanBatch):
                # Only markers end a wait: waking the main loop for every span cost the
                # extension ~3 ms of CPU per invocation, beside the function's own.
                self.condition.notify_all()

    def _apply(self, message: wire.Message) -> None:
        from xraylayer import wire

        store = self.store
        if isinstance(message, wire.SpanMessage):
            store.add(message.request_id, message.span)
        elif isinstance(message, wire.SpanBatch):
            for item in message.items:
                store.add(item.request_id, item.span)
        elif isinstance(message, wire.InvocationStart):
            store.started(message.request_id, message.span)
        elif isinstance(message, wire.InvocationEnd):
            self.function_exported += message.exported
            for reason, count in message.dropped.items():
                store.drop(f"function_{reason}", count)
            store.ended(message.request_id)
        elif isinstance(message, wire.Hello):
            self.daemon_address = message.daemon_address or self.daemon_address
            self.runtime_pid = message.pid
        else:
            self._count_malformed(getattr(message, "reason", "unknown message"))

    def _count_malformed(self, reason: str) -> None:
        """Count by reason, with a bounded number of distinct reasons."""
        if reason not in self.malformed and len(self.malformed) >= MAX_MALFORMED_REASONS:
            reason = "other"
        self.malformed[reason] = self.malformed.get(reason, 0) + 1


def _bind(path: str) -> _socket.socket:
    """A datagram socket bound at ``path`` (a stale file from an earlier sandbox is removed),
    readable and writable by this user only."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM)
    with contextlib.suppress(OSError):
        sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
    old_umask = os.umask(0o177)
    try:
        sock.bind(path)
    finally:
        os.umask(old_umask)
    os.chmod(path, 0o600)
    return sock
