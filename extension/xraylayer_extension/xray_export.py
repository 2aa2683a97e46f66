"""Export spans to the X-Ray daemon over UDP, counting every span exported or dropped.

The conversion and the daemon client are the layer's own (``xraylayer.xray_document`` and
``xray_udp``), shared with the function's fallback path, so a span looks the same in X-Ray
whichever process sent it. Imported only at the first export, after registration.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from xraylayer.spans import Span
    from xraylayer.xray_udp import DaemonClient

UNSAMPLED = "unsampled"
NO_DAEMON_ADDRESS = "no_daemon_address"
DAEMON_SEND_FAILED = "daemon_send_failed"
CONVERSION_FAILED = "conversion_failed"


class XRayExport:
    """Spans to daemon datagrams; ``exported`` and ``dropped`` (by reason) add up over time."""

    def __init__(self) -> None:
        self.exported = 0
        self.dropped: dict[str, int] = {}
        self._clients: dict[str, DaemonClient] = {}

    def export(self, spans: Iterable[Span], daemon_address: str | None) -> None:
        """Send ``spans`` (children before parents, as they finished) to ``daemon_address``
        (or ``AWS_XRAY_DAEMON_ADDRESS`` when the function never said); never raises."""
        spans = list(spans)
        sampled = [span for span in spans if span.sampled]
        self._drop(UNSAMPLED, len(spans) - len(sampled))
        if not sampled:
            return
        address = daemon_address or os.environ.get("AWS_XRAY_DAEMON_ADDRESS")
        if not address:
            self._drop(NO_DAEMON_ADDRESS, len(sampled))
            return
        documents = self._documents(sampled)
        sent = self._client(address).send(documents)
        self.exported += sent
        self._drop(DAEMON_SEND_FAILED, len(documents) - sent)

    def _documents(self, spans: list[Span]) -> list[dict]:
        from xraylayer.xray_document import subsegment_documents

        return subsegment_documents(spans, lambda span, error: self._drop(CONVERSION_FAILED, 1))

    def _client(self, address: str) -> DaemonClient:
        client = self._clients.get(address)
        if client is None:
            from xraylayer.xray_udp import DaemonClient

            client = self._clients[address] = DaemonClient(address)
        return client

    def _drop(self, reason: str, count: int) -> None:
        if count > 0:
            self.dropped[reason] = self.dropped.get(reason, 0) + count
