"""HTTP/1.1 to Lambda's local APIs (Extensions, Telemetry) with nothing but ``_socket``.

Everything the extension does before its first ``event/next`` is added to the cold start, or
competes with the runtime's init for the CPU: ``http.client`` costs ~7 ms to import (it loads
``ssl`` and ``email``), ``http.server`` ~20 ms. The requests the extension makes are few and
fixed - register, subscribe, next - to one loopback endpoint that speaks plain HTTP/1.1, so they
are written by hand: one connection per request (``Connection: close``), the answer read to the
end, a chunked body decoded. Pure parsing functions; ``request`` is the only I/O.
"""

from __future__ import annotations

import _socket

DEFAULT_TIMEOUT_S = 10.0


class ApiError(Exception):
    """The API could not be reached, or its answer was not HTTP."""


class Answer:
    """An HTTP answer: status code, headers (names in lower case) and body."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body


def request_bytes(
    method: str, host: str, path: str, headers: dict[str, str], body: bytes = b""
) -> bytes:
    """One request, ready to send."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def parse_answer(data: bytes) -> Answer:
    """The answer in ``data`` (everything the server sent before closing)."""
    head, separator, body = data.partition(b"\r\n\r\n")
    if not separator:
        raise ApiError(f"incomplete HTTP answer: {data[:200]!r}")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ApiError(f"not an HTTP answer: {status_line[:200]!r}")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = dechunk(body)
    elif headers.get("content-length", "").isdigit():
        body = body[: int(headers["content-length"])]
    return Answer(int(parts[1]), headers, body)


def dechunk(data: bytes) -> bytes:
    """A chunked transfer-encoded body, decoded (trailers ignored)."""
    chunks, position = [], 0
    while True:
        line_end = data.find(b"\r\n", position)
        if line_end < 0:
            raise ApiError("truncated chunked body")
        size_text = data[position:line_end].split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise ApiError(f"bad chunk size {size_text[:20]!r}") from None
        if size == 0:
            return b"".join(chunks)
        start = line_end + 2
        if start + size > len(data):
            raise ApiError("truncated chunked body")
        chunks.append(data[start : start + size])
        position = start + size + 2


def request(
    address: str,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    *,
    timeout_s: float | None = DEFAULT_TIMEOUT_S,
) -> Answer:
    """Send one request to ``address`` (``host:port``) and read the whole answer. ``timeout_s``
    None waits as long as it takes (``next`` blocks until Lambda has an event)."""
    host, _, port = address.rpartition(":")
    connection = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
    try:
        connection.settimeout(timeout_s)
        connection.connect((host, int(port)))
        connection.sendall(request_bytes(method, address, path, headers or {}, body))
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    except (OSError, ValueError) as error:
        raise ApiError(f"cannot reach {address}: {error}") from error
    finally:
        connection.close()
    return parse_answer(b"".join(chunks))
