"""The loopback HTTP server the benchmarks talk to: the function's HTTP call and OTLP's receiver.

It runs in a child process, so its work never competes for the GIL of the process being
measured. ``GET`` of any path answers ``200 ok`` (the third-party API the function calls);
``POST`` answers 200 at once, as a collector extension that decouples export from the
response would (OpenTelemetry's collector layer with its decouple processor); a ``POST`` to
``/v1/traces`` has its spans counted by trace (OTLP protobuf or JSON), and ``GET /bench/traces``
tells the counts, so a benchmark can check what a configuration really exported.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from types import TracebackType

SERVER = """
import collections, http.server, json, threading
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

traces = collections.Counter()  # trace id (hex) -> spans received
lock = threading.Lock()

def trace_ids(body, content_type):
    if "json" in content_type:
        request = json.loads(body or b"{}")
        return [span["traceId"] for resource in request.get("resourceSpans", [])
                for scope in resource.get("scopeSpans", []) for span in scope.get("spans", [])]
    request = ExportTraceServiceRequest.FromString(body)
    return [span.trace_id.hex() for resource in request.resource_spans
            for scope in resource.scope_spans for span in scope.spans]

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_GET(self):
        if self.path == "/bench/traces":
            with lock:
                self.answer(json.dumps(traces).encode(), "application/json")
        else:
            self.answer(b"ok", "text/plain")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        content_type = self.headers.get("Content-Type", "")
        if self.path.endswith("/v1/traces"):
            with lock:
                traces.update(trace_ids(body, content_type))
        self.answer(b"{}" if "json" in content_type else b"", content_type or "text/plain")

    def answer(self, body, content_type):
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"""
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class LoopbackServer:
    """The server above in a child process, for the lifetime of a ``with`` block."""

    def __init__(self) -> None:
        self._child = subprocess.Popen(
            [sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True
        )
        self.port = int(self._child.stdout.readline())  # type: ignore[union-attr]

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``: an OTLP/HTTP endpoint (``/v1/traces`` is appended)."""
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "/status") -> str:
        return self.base_url + path

    def spans_by_trace(self) -> dict[str, int]:
        """Spans that reached ``/v1/traces`` so far, by trace id (hex)."""
        with _NO_PROXY.open(self.url("/bench/traces"), timeout=5) as answer:
            return json.loads(answer.read())

    def close(self) -> None:
        self._child.terminate()
        self._child.wait(5)

    def __enter__(self) -> LoopbackServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
