"""The AWS Distro for OpenTelemetry Python layer, rebuilt from PyPI: ``aws-opentelemetry-distro``
started through ``opentelemetry-instrument`` by its exec wrapper, with its Lambda defaults:
botocore and urllib/urllib3 instrumented, spans as OTLP over UDP to the X-Ray daemon's port
(``AWS_XRAY_DAEMON_ADDRESS``), flushed at the end of each invocation, before the response."""

from __future__ import annotations

from peers.configuration import EXEC_WRAPPER, Configuration, Context, Setup, Sink
from peers.install import RECREATED, installed


def prepare(context: Context) -> Setup:
    layer = installed(
        "adot",
        context,
        "adot.txt",
        extras={
            "otel-instrument": RECREATED / "adot-instrument",
            "python/otel_wrapper.py": RECREATED / "adot_wrapper.py",
            "python/orig_handler.py": RECREATED / "orig_handler.py",
        },
    )
    return Setup(layers=(layer,), env={EXEC_WRAPPER: "/opt/otel-instrument"}, sink=Sink.OTLP_UDP)


ADOT = Configuration(
    "ADOT layer",
    "aws-opentelemetry-distro 0.21.0 layer set-up, OTLP/UDP to the daemon port, flushed before "
    "the response",
    prepare,
    note="its layer's exec wrapper and handler shim are not on PyPI and are re-created from "
    "its documented steps (bench/peers/wrappers/); the PyPI aws-lambda instrumentation stands "
    "in for the layer's vendored copy of it. The sandbox's daemon counts its OTLP datagrams "
    "(up to 10 spans each) without reading them; the real daemon forwards them.",
)
