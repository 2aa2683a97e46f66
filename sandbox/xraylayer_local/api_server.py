"""The HTTP face of the sandbox: Runtime, Extensions and Telemetry APIs on one loopback port.

Routing only; the state lives in `RuntimeApi`, `ExtensionsApi` and the telemetry subscription
handler of the current execution environment, which `current()` returns (it changes on reset).
"""

from __future__ import annotations

import contextlib
import http.client
import re
import sys
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol

from .api_types import ApiResponse, error
from .extensions_api import ExtensionsApi
from .runtime_api import RuntimeApi

# Lambda's Runtime API reads header lines of up to 1 MiB: awslambdaric sends a failed
# invocation's whole X-Ray error cause in one header, and blanks it only from 1 MiB on (a 100 KB
# error message or a deep RecursionError stack). http.client's own limit, which http.server
# applies, is 64 KiB; raising it only admits longer lines.
MAX_HEADER_LINE_BYTES = 1 << 20
http.client._MAXLINE = max(http.client._MAXLINE, MAX_HEADER_LINE_BYTES)  # type: ignore[attr-defined]

RUNTIME = "/2018-06-01/runtime"
EXTENSION = "/2020-01-01/extension"
TELEMETRY = "/2022-07-01/telemetry"
_INVOCATION = re.compile(rf"{RUNTIME}/invocation/([^/]+)/(response|error)")


class Environment(Protocol):
    """What the server needs of the current execution environment."""

    runtime: RuntimeApi
    extensions: ExtensionsApi

    def subscribe_telemetry(self, headers: Mapping[str, str], body: bytes) -> ApiResponse:
        """PUT /2022-07-01/telemetry."""


def route(
    env: Environment, method: str, path: str, headers: Mapping[str, str], body: bytes
) -> ApiResponse:
    """Dispatch one request to the API it belongs to."""
    path = path.split("?", 1)[0]
    match (method, path):
        case ("GET", "/2018-06-01/runtime/invocation/next"):
            return env.runtime.next()
        case ("POST", "/2018-06-01/runtime/init/error"):
            return env.runtime.fail_init(body, headers)
        case ("POST", "/2020-01-01/extension/register"):
            return env.extensions.register(headers, body)
        case ("GET", "/2020-01-01/extension/event/next"):
            return env.extensions.next(headers)
        case ("POST", "/2020-01-01/extension/init/error"):
            return env.extensions.report_error(headers, body, "init")
        case ("POST", "/2020-01-01/extension/exit/error"):
            return env.extensions.report_error(headers, body, "exit")
        case ("PUT", "/2022-07-01/telemetry"):
            return env.subscribe_telemetry(headers, body)
        case ("GET", "/ping"):
            return ApiResponse(200, b"pong")
    invocation = _INVOCATION.fullmatch(path)
    if method == "POST" and invocation:
        request_id, kind = invocation.groups()
        if kind == "response":
            return env.runtime.respond(request_id, body, headers)
        return env.runtime.fail(request_id, body, headers)
    return error(404, "NotFound", f"No route for {method} {path}")


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        """A process that dies mid-request (a crash, a kill at a timeout) resets its connection:
        what Lambda sees every day, not a traceback in the sandbox's output."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class ApiServer:
    """A threaded HTTP/1.1 server on 127.0.0.1 serving the current environment's APIs."""

    def __init__(self, current: Callable[[], Environment], port: int = 0) -> None:
        handler = type("Handler", (_Handler,), {"current": staticmethod(current)})
        self._server = _Server(("127.0.0.1", port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # how long close() waits for the loop to notice
            name="lambda-api",
            daemon=True,
        )
        self._thread.start()

    @property
    def address(self) -> str:
        """The `AWS_LAMBDA_RUNTIME_API` value: host:port."""
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, the body waits for the
    # client's delayed ACK and every answer costs 40 ms.
    disable_nagle_algorithm = True
    current: Callable[[], Environment]

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        # HTTPMessage looks headers up case-insensitively, as HTTP requires.
        response = route(self.current(), self.command, self.path, self.headers, body)
        payload, response_headers = response.encoded()
        self.send_response(response.status)
        for key, value in response_headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        # A runtime killed while it waited in `next` has no socket left to answer to.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = _handle  # noqa: N815 (http.server's naming)

    def log_message(self, format: str, *args: object) -> None:
        """Silence per-request logging; the sandbox reports what matters itself."""
