"""Which exporters the extension runs, and one flush reaching all of them within a deadline.

``XRAYLAYER_EXPORTERS`` names them (comma-separated, several at once allowed):

- ``xray-daemon``: X-Ray documents over UDP to Lambda's daemon (xray_export.py);
- ``xray-api``: X-Ray ``PutTraceSegments``, for functions without Active tracing (xray_api.py);
- ``otlp``: OTLP/HTTP JSON to ``OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT`` (otlp_http.py);
- ``otlp-udp``: OTLP over the daemon's UDP port, for CloudWatch Transaction Search (otlp_udp.py);
- ``file``: X-Ray documents as JSON lines at ``XRAYLAYER_FILE``, for local work (jsonl_file.py).

Unset, it is ``xray-daemon``, plus ``otlp`` when an OTLP endpoint variable is set: what a user
who attached the layer, or pointed it at a collector, means. Exporters are made (and their
modules imported) at the first flush, after the response.

Each flush is routed per trace (routing.py) and handed to the exporters one after the other:
first those that never wait (UDP and the file), then the two that wait on a peer over HTTP,
each of those with an equal share of what is left of the flush's deadline. So an unreachable
backend costs at most its share, never the other exporters their spans, and never holds the
next ``next`` longer.
"""

from __future__ import annotations

import os
import sys
import time

from .accounting import Accounting

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from xraylayer.spans import Span

    from .export_result import ExportResult

XRAY_DAEMON, XRAY_API, OTLP, OTLP_UDP, FILE = "xray-daemon", "xray-api", "otlp", "otlp-udp", "file"
NAMES = (XRAY_DAEMON, XRAY_API, OTLP, OTLP_UDP, FILE)
FULL_TRACE = frozenset({XRAY_API, OTLP, OTLP_UDP, FILE})  # may take traces Lambda did not sample
WAITING = frozenset({XRAY_API, OTLP})  # wait on a peer (HTTP); the others never wait
EXPORTERS_VARIABLE = "XRAYLAYER_EXPORTERS"
_ALIASES = {"xray": XRAY_DAEMON, "daemon": XRAY_DAEMON, "otlp-http": OTLP, **{n: n for n in NAMES}}
_OTLP_ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def chosen(environ: Mapping[str, str]) -> tuple[tuple[str, ...], str | None]:
    """The exporters to run, and a warning when the variable could not be used as written
    (unknown names are left out; nothing usable falls back to the default)."""
    raw = environ.get(EXPORTERS_VARIABLE, "").strip()
    if not raw:
        return _default(environ), None
    names: list[str] = []
    unknown: list[str] = []
    for spelling in (part.strip().lower() for part in raw.split(",")):
        name = _ALIASES.get(spelling)
        if spelling == "none" or not spelling:
            continue
        if name is None:
            unknown.append(spelling)
        elif name not in names:
            names.append(name)
    if not unknown:
        return tuple(names), None
    expected = ", ".join(NAMES)
    warning = f"xraylayer: {EXPORTERS_VARIABLE}={raw!r}: unknown {', '.join(unknown)} (expected "
    if names:
        return tuple(names), warning + f"{expected} or none); using {', '.join(names)}"
    default = _default(environ)
    return default, warning + f"{expected} or none); using {', '.join(default)}"


def export_order(names: tuple[str, ...]) -> tuple[str, ...]:
    """The exporters that never wait first, then those that wait on a peer, each group in the
    order the user named them."""
    return tuple(n for n in names if n not in WAITING) + tuple(n for n in names if n in WAITING)


def fair_share(now: float, deadline: float, waiting: int) -> float:
    """The deadline of the next of ``waiting`` exporters that wait on a peer: an equal share
    of the time left (what an earlier one did not use goes to those after it)."""
    return now + max(0.0, deadline - now) / max(1, waiting)


def _default(environ: Mapping[str, str]) -> tuple[str, ...]:
    otlp = any(environ.get(name, "").strip() for name in _OTLP_ENDPOINTS)
    return (XRAY_DAEMON, OTLP) if otlp else (XRAY_DAEMON,)


class Exporters:
    """The chosen exporters, the routing decisions, and the accounting of every span.

    ``daemon_address()``: the daemon's address as the function process said it.
    """

    def __init__(
        self,
        daemon_address: Callable[[], str | None],
        environ: Mapping[str, str] | None = None,
    ) -> None:
        from .tail_keep import tail_keep_from
        from .trace_sampler import sampler_from

        environ = os.environ if environ is None else environ
        self.names, warning = chosen(environ)
        self.sampler, sampler_warning = sampler_from(environ)
        self.tail_keep, tail_warning = tail_keep_from(environ)
        for line in (warning, sampler_warning, tail_warning):
            if line:
                print(line, file=sys.stderr, flush=True)
        self.accounting = Accounting(self.names)
        self._environ = environ
        self._daemon_address = daemon_address
        self._made: dict[str, Callable[[list[Span], float], ExportResult]] = {}

    def export(self, spans: list[Span], deadline: float) -> None:
        """Route ``spans`` and hand them to every exporter before ``deadline`` (a
        ``time.monotonic()`` value); never raises."""
        if not spans or not self.names:
            return
        from .routing import route

        routed = route(spans, self.sampler, self.tail_keep)
        self.accounting.tail_kept += routed.tail_kept
        order = export_order(self.names)
        for index, name in enumerate(order):
            given = routed.full_trace if name in FULL_TRACE else routed.daemon
            self.accounting.not_sampled(name, len(spans) - len(given))
            if given:
                until = deadline
                if name in WAITING:
                    waiting = sum(later in WAITING for later in order[index:])
                    until = fair_share(time.monotonic(), deadline, waiting)
                self.accounting.exported(name, self._export(name, given, until))

    def describe(self) -> str:
        """For the start and summary lines: ``exporters xray-daemon, otlp; sampler ...``."""
        names = ", ".join(self.names) or "none"
        return f"exporters {names}; {self.sampler.describe()}; {self.tail_keep.describe()}"

    def _export(self, name: str, spans: list[Span], deadline: float) -> ExportResult:
        from .export_result import INTERNAL_ERROR, ExportResult

        try:
            return self._exporter(name)(spans, deadline)
        except Exception as error:  # each exporter promises not to raise; a bug still must not
            print(f"xraylayer: {name} export failed: {error!r}", file=sys.stderr, flush=True)
            return ExportResult(dropped={INTERNAL_ERROR: len(spans)})

    def _exporter(self, name: str) -> Callable[[list[Span], float], ExportResult]:
        export = self._made.get(name)
        if export is None:
            export = self._made[name] = _make(name, self._environ, self._daemon_address)
        return export


def _make(
    name: str, environ: Mapping[str, str], daemon_address: Callable[[], str | None]
) -> Callable[[list[Span], float], ExportResult]:
    """The export function of exporter ``name``. The OTLP ones mark every span they are given
    sampled: routing gave them only traces that were kept."""
    if name == XRAY_DAEMON:
        from .xray_export import XRayDaemonExporter

        return XRayDaemonExporter(daemon_address).export
    if name == XRAY_API:
        from .xray_api import XRayApiExporter

        return XRayApiExporter(environ).export
    if name == FILE:
        from .jsonl_file import JsonLinesFileExporter

        return JsonLinesFileExporter(environ=environ).export
    if name == OTLP:
        from .otlp_http import OtlpHttpExporter

        otlp = OtlpHttpExporter(environ)
    else:
        from .otlp_udp import OtlpUdpExporter

        otlp = OtlpUdpExporter(environ, daemon_address=daemon_address)
    return lambda spans, deadline: otlp.export(spans, deadline, sampled=True)
