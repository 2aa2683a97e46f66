"""For the HTTP and thread tests: a loopback HTTP server that records what arrives, a sink that
collects finished spans, and the ids of the invocation the tests pretend to be in. Real
sockets, real libraries: nothing is mocked. (The fixtures using them are in conftest.py.)
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# Lambda's own ids for the invocation the tests pretend to be in.
TRACE_ID = "5759e988bd862e3fe1be46a994272793"
ROOT = "1-5759e988-bd862e3fe1be46a994272793"
LAMBDA_PARENT = "53995c3f42cd8ad8"


class Recorded:
    """One request as the server saw it."""

    def __init__(self, method: str, path: str, headers: dict[str, str]) -> None:
        self.method, self.path, self.headers = method, path, headers

    def header(self, name: str) -> str | None:
        """The header's value, looked up without regard to case."""
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None


class LoopbackServer:
    """Answers ``/status/<code>``, ``/slow/<ms>``, ``/redirect`` (302 to /status/200); any other
    path gets 200. HTTP/1.1 with keep-alive, as real servers."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out as two writes

            def do_GET(self) -> None:
                server._answer(self)

            do_POST = do_PUT = do_HEAD = do_GET  # noqa: N815 (http.server's naming)

            def log_message(self, *args: Any) -> None:
                """Quiet."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> LoopbackServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def last(self) -> Recorded:
        return self.requests[-1]

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        if length:
            handler.rfile.read(length)
        self.requests.append(Recorded(handler.command, handler.path, dict(handler.headers.items())))
        status, headers = self._route(handler.path)
        body = b"" if handler.command == "HEAD" else f"status {status}".encode()
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    @staticmethod
    def _route(path: str) -> tuple[int, dict[str, str]]:
        parts = path.split("?", maxsplit=1)[0].strip("/").split("/")
        if parts[0] == "status" and len(parts) > 1:
            return int(parts[1]), {}
        if parts[0] == "slow" and len(parts) > 1:
            time.sleep(int(parts[1]) / 1000)
            return 200, {}
        if parts[0] == "redirect":
            return 302, {"Location": "/status/200"}
        return 200, {}
