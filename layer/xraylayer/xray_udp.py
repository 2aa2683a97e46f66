"""Sending X-Ray documents to the X-Ray daemon over UDP (lambda-platform.md §5.4).

One datagram per document: the header line ``{"format":"json","version":1}``, a newline, the
document. Sends are non-blocking and never raise: a datagram the kernel refuses is counted as
failed (UDP gives no other feedback; a daemon that is not listening looks the same as one that
is). Used by the function process when no extension takes its spans, and by the extension.
"""

from __future__ import annotations

import _socket as socket  # the C module: what a UDP sender needs, without `socket`'s 3 ms
from collections.abc import Iterable

from . import diagnostics
from .xray_document import MAX_DOCUMENT_BYTES, encode, fit

HEADER = b'{"format":"json","version":1}\n'
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 2000
ADDRESS_VARIABLE = "AWS_XRAY_DAEMON_ADDRESS"


def parse_address(value: str) -> tuple[str, int] | None:
    """The UDP ``(host, port)`` in an ``AWS_XRAY_DAEMON_ADDRESS`` value, or None if malformed.

    Accepts the two forms the X-Ray SDKs accept: ``host:port`` (TCP and UDP alike) and
    ``tcp:host:port udp:host:port`` in either order; also a lone ``udp:host:port``. An IPv6
    host is written in brackets: ``[::1]:2000``.
    """
    parts = value.split()
    if len(parts) == 1 and not parts[0].startswith("tcp:"):
        part = parts[0]
        return _host_port(part[4:] if part.startswith("udp:") else part)
    if len(parts) == 2:
        udp = [p[4:] for p in parts if p.startswith("udp:")]
        tcp = [p[4:] for p in parts if p.startswith("tcp:")]
        if len(udp) == 1 and len(tcp) == 1 and _host_port(tcp[0]):
            return _host_port(udp[0])
    return None


def _host_port(text: str) -> tuple[str, int] | None:
    host, separator, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]  # an IPv6 address
    elif ":" in host:
        return None
    if not (separator and host and port.isascii() and port.isdigit()) or not 0 < int(port) < 65536:
        return None
    return host, int(port)


def datagram(document: dict | bytes) -> bytes:
    """The header line and the encoded document, shrunk to fit the daemon's 64 KiB."""
    if not isinstance(document, (dict, bytes)):
        raise TypeError(f"not a document: {type(document).__name__}")
    body = document if isinstance(document, bytes) else encode(document)
    if len(body) > MAX_DOCUMENT_BYTES and isinstance(document, dict):
        body = encode(fit(document))
    return HEADER + body


class DaemonClient:
    """A non-blocking UDP sender to one daemon address; counts what it sent and what failed.

    ``address`` is an ``AWS_XRAY_DAEMON_ADDRESS`` value; None or empty means the default
    ``127.0.0.1:2000``, and a malformed value logs one warning and also means the default.
    The host is resolved once, at the first send.
    """

    def __init__(self, address: str | None = None) -> None:
        self.host, self.port = DEFAULT_HOST, DEFAULT_PORT
        if address and address.strip():
            parsed = parse_address(address)
            if parsed is None:
                diagnostics.log(
                    "warning",
                    f"{ADDRESS_VARIABLE}={address!r} is neither host:port nor "
                    f"'tcp:host:port udp:host:port'; sending to {DEFAULT_HOST}:{DEFAULT_PORT}",
                    once=f"daemon-address:{address}",
                )
            else:
                self.host, self.port = parsed
        self.sent = 0
        self.failed = 0
        self._socket: socket.socket | None = None
        self._target: tuple | None = None
        self._unresolvable = False

    def send(self, documents: Iterable[dict | bytes]) -> int:
        """Send each document (a dict, or an already encoded body) in its own datagram;
        returns how many the kernel accepted. Never raises, never blocks."""
        accepted = failed = 0
        sock = self._ready_socket()
        for document in documents:
            try:
                if sock is None:
                    raise OSError("daemon address not resolvable")
                sock.sendto(datagram(document), self._target)
            except Exception:  # OSError from the socket; anything else from a bad document
                failed += 1
            else:
                accepted += 1
        self.sent += accepted
        self.failed += failed
        return accepted

    def stats(self) -> dict[str, int]:
        return {"sent": self.sent, "failed": self.failed}

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def _ready_socket(self) -> socket.socket | None:
        """The socket, made at first use. The host is resolved then and only then (a name
        lookup may block; a failed one is not retried), so later sends cost one syscall."""
        if self._socket is None and not self._unresolvable:
            try:
                family, kind, protocol, _, target = socket.getaddrinfo(
                    _lookup_name(self.host), self.port, type=socket.SOCK_DGRAM
                )[0]
                sock = socket.socket(family, kind, protocol)
                bind_beside(sock, target)
            except OSError as error:
                self._unresolvable = True
                diagnostics.log(
                    "warning",
                    f"X-Ray daemon {self.host}:{self.port} unusable ({error}); "
                    "documents for it are counted as failed",
                    once=f"daemon-unusable:{self.host}:{self.port}",
                )
                return None
            sock.setblocking(False)
            self._socket, self._target = sock, target
        return self._socket


def bind_beside(sock: socket.socket, target: tuple) -> None:
    """Bind a sending socket to loopback when it sends to loopback: unbound, the kernel binds
    it to every interface at the first send, where it would take datagrams from any host."""
    host = target[0]
    if host.startswith("127.") or host == "::1":
        sock.bind((host, 0))


def _lookup_name(host: str) -> str | bytes:
    """``host`` as ``getaddrinfo`` gets it. That encodes a str with the ``idna`` codec, whose
    import costs 1 ms (``unicodedata``, ``stringprep``); for an ASCII name the codec only checks
    the label lengths and gives the ASCII bytes, so such a name is passed as those bytes, after
    the same check. Anything else (not ASCII, or a label the codec refuses) goes to the codec,
    which gives the same result or error as it always did."""
    try:
        name = host.encode("ascii")
    except UnicodeEncodeError:
        return host
    labels = name.split(b".")
    if all(0 < len(label) < 64 for label in labels[:-1]) and len(labels[-1]) < 64:
        return name
    return host
