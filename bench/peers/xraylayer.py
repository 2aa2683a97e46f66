"""This project's layer, from the built zip in dist/, attached as users attach it.

Two configurations: the default export to the X-Ray daemon, and OTLP/HTTP to the same loopback
receiver OpenTelemetry's layer sends to, so each peer has a like-for-like column.
"""

from __future__ import annotations

from pathlib import Path

from peers.configuration import EXEC_WRAPPER, Configuration, Context, Setup, Sink, Unavailable

WRAPPER = "/opt/xray-instrument"


def _layer(context: Context) -> tuple[Path, ...]:
    if not context.layer_zip.is_file():
        raise Unavailable(f"{context.layer_zip} not built (./build.sh)")
    return (context.layer_zip,)


def to_daemon(context: Context) -> Setup:
    return Setup(
        layers=_layer(context),
        env={EXEC_WRAPPER: WRAPPER},
        sink=Sink.XRAY_DAEMON,
        has_extension=True,
    )


def to_otlp(context: Context) -> Setup:
    env = {
        EXEC_WRAPPER: WRAPPER,
        "XRAYLAYER_EXPORTERS": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": context.otlp_endpoint,
    }
    return Setup(layers=_layer(context), env=env, sink=Sink.OTLP_HTTP, has_extension=True)


XRAYLAYER = Configuration(
    "xraylayer", "this layer (dist/ zip), spans to the X-Ray daemon after the response", to_daemon
)
XRAYLAYER_OTLP = Configuration(
    "xraylayer OTLP", "this layer, XRAYLAYER_EXPORTERS=otlp to the loopback receiver", to_otlp
)
