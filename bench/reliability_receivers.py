"""The receiving ends of a reliability run: what each exporter's backend actually got.

The extension's accounting says what it exported; these count what arrived, so the two can
be compared per exporter and per execution environment:

- ``OtlpCollector``: an OTLP/HTTP JSON endpoint that can be taken down and brought back on
  the same port (the ``otlp`` exporter);
- ``DaemonTap``: the sandbox's X-Ray daemon stand-in, which keeps X-Ray documents
  (``xray-daemon``) and, here, also reads the OTLP datagrams of ``otlp-udp`` (``T1S``/``T1U``
  and base64 protobuf, the form CloudWatch Transaction Search takes), which the stand-in
  itself only counts as rejected;
- ``JsonLinesTail``: the ``file`` exporter's output, read as it grows;
- ``XRayApiStore``: what the moto server stored from ``PutTraceSegments`` (``xray-api``),
  read back with ``BatchGetTraces``.
"""

from __future__ import annotations

import base64
import json
import threading
from collections import Counter
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

from xraylayer_local.xray_daemon import XRayDaemon

OTLP_UDP_PREFIXES = (b"T1S", b"T1U")
TRACES_PER_LOOKUP = 200  # trace ids per BatchGetTraces request


# --- OTLP/HTTP -------------------------------------------------------------------------------


class _Receiver(BaseHTTPRequestHandler):
    spans: ClassVar[list[int]] = [0]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            request = json.loads(body)
            count = sum(
                len(scope.get("spans", []))
                for resource in request.get("resourceSpans", [])
                for scope in resource.get("scopeSpans", [])
            )
        except ValueError:
            count = 0
        self.spans[0] += count  # before the answer: once the exporter has it, so do we
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


class OtlpCollector:
    """Counts the spans of every OTLP/HTTP JSON request; ``down()`` closes the port, ``up()``
    opens it again on the same one."""

    def __init__(self) -> None:
        self.handler = type("Receiver", (_Receiver,), {"spans": [0]})
        self.port = 0
        self._server: ThreadingHTTPServer | None = None
        self.up()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def spans(self) -> int:
        return self.handler.spans[0]

    @property
    def is_down(self) -> bool:
        return self._server is None

    def up(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self.handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


# --- the X-Ray daemon's port: X-Ray documents and OTLP datagrams ------------------------------


def otlp_datagram_spans(data: bytes) -> int | None:
    """Spans in an ``otlp-udp`` datagram (daemon header line, ``T1S``/``T1U``, base64 of an
    ``ExportTraceServiceRequest``); None if it is not one."""
    _, _, body = data.partition(b"\n")
    if body[:3] not in OTLP_UDP_PREFIXES:
        return None
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    request = ExportTraceServiceRequest.FromString(base64.b64decode(body[3:], validate=True))
    return sum(len(scope.spans) for rs in request.resource_spans for scope in rs.scope_spans)


class DaemonTap(XRayDaemon):
    """The sandbox's daemon stand-in, unchanged for X-Ray documents, that also counts the
    spans of OTLP datagrams (the real daemon forwards those; the stand-in rejects them as not
    JSON, keeping only a count of datagrams)."""

    def __init__(self, port: int) -> None:
        super().__init__(port)
        self._otlp_lock = threading.Lock()
        self.otlp_spans = 0
        self.otlp_datagrams = 0
        self._subsegments = 0
        self._counted = 0  # documents looked at so far

    def _receive(self, data: bytes, *, truncated: bool) -> None:
        spans = None if truncated else otlp_datagram_spans(data)
        if spans is None:
            super()._receive(data, truncated=truncated)
            return
        with self._otlp_lock:
            self.otlp_spans += spans
            self.otlp_datagrams += 1

    @classmethod
    def replace(cls, sandbox: Any) -> DaemonTap:
        """Put a tap in the place of ``sandbox``'s daemon, on the same port (the environment's
        ``AWS_XRAY_DAEMON_ADDRESS``); before the first invoke, when nothing is sent yet."""
        port = int(sandbox.daemon.address.rpartition(":")[2])
        sandbox.daemon.close()
        tap = cls(port)
        tap.start()
        sandbox.daemon = tap
        return tap

    def counts(self) -> tuple[int, int]:
        """(X-Ray subsegment documents, OTLP spans) so far: call ``sync()`` first. Lambda's
        own segments (the sandbox writes them) are whole segments, not subsegments."""
        documents = self.documents_since(self._counted)
        self._counted += len(documents)
        self._subsegments += sum(d.get("type") == "subsegment" for d in documents)
        with self._otlp_lock:
            return self._subsegments, self.otlp_spans


# --- the file exporter's output ------------------------------------------------------------


class JsonLinesTail:
    """The ``file`` exporter's JSON lines, read as they are appended (each call to ``new()``
    returns the documents written since the last)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0

    def new(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with self.path.open("rb") as file:
            file.seek(self._offset)
            data = file.read()
        end = data.rfind(b"\n") + 1  # a line is counted once it is whole
        self._offset += end
        return [json.loads(line) for line in data[:end].splitlines() if line.strip()]


# --- the X-Ray API (moto) -------------------------------------------------------------------


class XRayApiStore:
    """What the moto server stored of ``PutTraceSegments``, counted per trace id."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def documents(self, trace_ids: Iterable[str]) -> Counter[str]:
        """How many documents moto holds for each of ``trace_ids``."""
        ids = sorted(set(trace_ids))
        found: Counter[str] = Counter()
        for start in range(0, len(ids), TRACES_PER_LOOKUP):
            answer = self._client.batch_get_traces(TraceIds=ids[start : start + TRACES_PER_LOOKUP])
            for trace in answer["Traces"]:
                for segment in trace["Segments"]:  # moto names a trace only once it ended
                    found[json.loads(segment["Document"])["trace_id"]] += 1
        return found
