"""A stand-in for the X-Ray daemon Lambda runs when tracing is Active: a UDP socket on loopback
that keeps every segment document it accepts, so tests can assert on what a function sent.

It accepts and rejects datagrams the way the real daemon does (``aws-xray-daemon``
``cmd/tracing/daemon.go``): split at the first newline, the header must decode to
``format`` = ``json`` (any case) and ``version`` = 1, and it reads with a 64 KiB buffer, so a
larger datagram never arrives whole. The real daemon forwards the body unchecked and X-Ray
itself refuses a body that is not a JSON document; the stand-in refuses it on arrival, so the
loss shows up in the test that caused it.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from typing import Any

RECEIVE_BUFFER_BYTES = 65536  # the daemon's Socket.BufferSizeKB = 64
HEADER = b'{"format":"json","version":1}'

INVALID_HEADER = "Invalid header"
MISSING_PART = "Missing header or segment"
INVALID_DOCUMENT = "Invalid segment document"
TRUNCATED = "Datagram larger than the receive buffer"

_SOCKET_QUEUE_BYTES = 4 * 1024 * 1024  # room for bursts of 64 KiB documents; capped by rmem_max


class DatagramRejected(Exception):
    """A datagram the daemon drops; ``reason`` is the daemon's log message for it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Pairs(list):
    """A JSON object decoded as its (key, value) pairs, duplicates and order kept."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _loads(text: str, *, object_pairs_hook: Any = None) -> Any:
    """``json.loads`` without Python's extensions (NaN, Infinity), which Go's decoder refuses."""
    return json.loads(text, parse_constant=_reject_constant, object_pairs_hook=object_pairs_hook)


def header_is_valid(header: bytes) -> bool:
    """The daemon's check: Go's ``json.Unmarshal`` into ``{Format string; Version int}``.

    Go matches keys case-insensitively, lets a later duplicate key win, and skips a value of the
    wrong type (so ``"version": 1.0`` or ``"version": true`` leaves the version at 0).
    """
    try:
        pairs = _loads(header.decode("utf-8", "replace"), object_pairs_hook=_Pairs)
    except ValueError:
        return False
    if not isinstance(pairs, _Pairs):
        return False
    format_, version = "", 0
    for key, value in pairs:
        folded = key.casefold()
        if folded == "format" and isinstance(value, str):
            format_ = value
        elif folded == "version" and type(value) is int:
            version = value
    return format_.casefold() == "json" and version == 1


def parse_datagram(data: bytes) -> dict:
    """The segment document in ``data``; raises ``DatagramRejected`` when the daemon drops it."""
    header, separator, body = data.partition(b"\n")
    if not separator or not body:
        raise DatagramRejected(MISSING_PART)
    if not header_is_valid(header):
        raise DatagramRejected(INVALID_HEADER)
    try:
        document = _loads(body.decode("utf-8"))
    except ValueError:
        raise DatagramRejected(INVALID_DOCUMENT) from None
    if not isinstance(document, dict):
        raise DatagramRejected(INVALID_DOCUMENT)
    return document


class XRayDaemon:
    """A UDP listener on 127.0.0.1 that records documents in arrival order.

    Use ``sync()`` before reading ``documents`` to be sure everything sent so far has been
    processed; use ``mark()`` / ``documents_since()`` to give each invocation its own share.
    """

    def __init__(self, port: int = 0, *, buffer_size: int = RECEIVE_BUFFER_BYTES) -> None:
        self._port = port
        self._buffer_size = buffer_size
        self._lock = threading.Lock()
        self._documents: list[dict] = []
        self._rejections: list[str] = []
        self._sync_markers: dict[bytes, threading.Event] = {}
        self._stop_marker = b"\0xraylayer-stop:" + os.urandom(16).hex().encode()
        self._sock: socket.socket | None = None
        self._reader: threading.Thread | None = None

    def __enter__(self) -> XRayDaemon:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def start(self) -> None:
        """Bind the socket and start the reader thread."""
        if self._sock is not None:
            raise RuntimeError("XRayDaemon already started")
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _SOCKET_QUEUE_BYTES)
            sock.bind(("127.0.0.1", self._port))
        except OSError:
            sock.close()
            raise
        self._sock = sock
        self._reader = threading.Thread(target=self._read_loop, name="xray-daemon", daemon=True)
        self._reader.start()

    @property
    def address(self) -> str:
        """``127.0.0.1:PORT``, the value for ``AWS_XRAY_DAEMON_ADDRESS``."""
        host, port = self._bound_socket().getsockname()
        return f"{host}:{port}"

    @property
    def documents(self) -> list[dict]:
        """A copy of the accepted documents, in arrival order."""
        with self._lock:
            return list(self._documents)

    @property
    def rejected(self) -> int:
        """How many datagrams were dropped."""
        with self._lock:
            return len(self._rejections)

    @property
    def rejections(self) -> list[str]:
        """The reason for each dropped datagram, in arrival order."""
        with self._lock:
            return list(self._rejections)

    def mark(self) -> int:
        """A position in ``documents``; pair with ``documents_since`` (call ``sync`` first)."""
        with self._lock:
            return len(self._documents)

    def documents_since(self, mark: int) -> list[dict]:
        """The documents accepted after ``mark()`` returned ``mark``."""
        with self._lock:
            return self._documents[mark:]

    def sync(self, timeout: float = 2.0) -> None:
        """Return once every datagram sent to the daemon before this call has been processed.

        Loopback UDP queues a datagram on the receiving socket before ``sendto`` returns, so a
        marker sent now is read after anything another process sent earlier. Raises
        ``TimeoutError`` if the marker does not come back (the socket queue overflowed).
        """
        sock = self._bound_socket()
        marker = b"\0xraylayer-sync:" + os.urandom(16).hex().encode()
        arrived = threading.Event()
        with self._lock:
            self._sync_markers[marker] = arrived
        try:
            sock.sendto(marker, sock.getsockname())
            if not arrived.wait(timeout):
                raise TimeoutError(f"X-Ray daemon did not catch up within {timeout} s")
        finally:
            with self._lock:
                self._sync_markers.pop(marker, None)

    def close(self) -> None:
        """Stop the reader thread and release the port; documents stay readable."""
        sock, reader = self._sock, self._reader
        if sock is None or reader is None:
            return
        if reader.is_alive():
            sock.sendto(self._stop_marker, sock.getsockname())
            reader.join(timeout=5.0)
        sock.close()
        self._sock = self._reader = None

    def _bound_socket(self) -> socket.socket:
        if self._sock is None:
            raise RuntimeError("XRayDaemon not started")
        return self._sock

    def _read_loop(self) -> None:
        """Read datagrams until the stop marker arrives (a blocked recv is not woken by close)."""
        sock = self._bound_socket()
        while True:
            data, _, flags, _ = sock.recvmsg(self._buffer_size)
            if data == self._stop_marker:
                return
            self._receive(data, truncated=bool(flags & socket.MSG_TRUNC))

    def _receive(self, data: bytes, *, truncated: bool) -> None:
        with self._lock:
            arrived = self._sync_markers.pop(data, None)
        if arrived is not None:
            arrived.set()
            return
        if not data:
            return  # the real daemon skips empty reads without counting them
        try:
            if truncated:
                raise DatagramRejected(TRUNCATED)
            document = parse_datagram(data)
        except DatagramRejected as rejection:
            with self._lock:
                self._rejections.append(rejection.reason)
            return
        with self._lock:
            self._documents.append(document)
