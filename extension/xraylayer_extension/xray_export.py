"""Export spans to the X-Ray daemon over UDP: one subsegment document per datagram.

The conversion and the daemon client are the layer's own (``xraylayer.xray_document`` and
``xray_udp``), shared with the function's fallback path, so a span looks the same in X-Ray
whichever process sent it. The daemon's address comes from the function process (its
``hello``): extensions are not given ``AWS_XRAY_DAEMON_ADDRESS``. Imported at the first export.
"""

from __future__ import annotations

import os

from .export_result import CONVERSION_FAILED, ExportResult

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from xraylayer.spans import Span
    from xraylayer.xray_udp import DaemonClient

# Reasons for dropped spans (keys of ExportResult.dropped), besides export_result's
# conversion_failed.
NO_DAEMON_ADDRESS = "no_daemon_address"
DAEMON_SEND_FAILED = "daemon_send_failed"


class XRayDaemonExporter:
    """Spans to daemon datagrams. ``address()``: the daemon's ``host:port`` as the function
    said it, or None (then ``AWS_XRAY_DAEMON_ADDRESS``, when the extension has it)."""

    name = "xray-daemon"

    def __init__(self, address: Callable[[], str | None]) -> None:
        self._address = address
        self._clients: dict[str, DaemonClient] = {}

    def export(self, spans: list[Span], deadline: float) -> ExportResult:
        """Send ``spans`` (children before parents, as they finished); never raises. UDP
        sends do not wait, so ``deadline`` never comes into play."""
        result = ExportResult()
        address = self._address() or os.environ.get("AWS_XRAY_DAEMON_ADDRESS")
        if not address:
            result.drop(NO_DAEMON_ADDRESS, len(spans))
            return result
        try:
            from xraylayer.xray_document import subsegment_documents

            documents = subsegment_documents(
                spans, lambda span, error: result.drop(CONVERSION_FAILED, 1)
            )
            sent = self._client(address).send(documents)
        except Exception:
            result.drop(DAEMON_SEND_FAILED, len(spans) - result.dropped_count)
            return result
        result.exported += sent
        result.drop(DAEMON_SEND_FAILED, len(documents) - sent)
        return result

    def _client(self, address: str) -> DaemonClient:
        client = self._clients.get(address)
        if client is None:
            from xraylayer.xray_udp import DaemonClient

            client = self._clients[address] = DaemonClient(address)
        return client
