"""OpenTelemetry's Python Lambda layer, rebuilt from PyPI: the SDK, the OTLP/HTTP exporter, the
aws-lambda, botocore and requests instrumentations (and the others that layer ships), started
through ``opentelemetry-instrument`` by its exec wrapper; OTLP goes to the loopback receiver that
stands in for the collector extension layer (a Go binary, not on PyPI)."""

from __future__ import annotations

from peers.configuration import EXEC_WRAPPER, Configuration, Context, Setup, Sink
from peers.install import RECREATED, installed


def prepare(context: Context) -> Setup:
    layer = installed(
        "otel",
        context,
        "otel.txt",
        extras={
            "otel-instrument": RECREATED / "otel-instrument",
            "python/otel_wrapper.py": RECREATED / "otel_wrapper.py",
            "python/orig_handler.py": RECREATED / "orig_handler.py",
        },
    )
    env = {
        EXEC_WRAPPER: "/opt/otel-instrument",
        "OTEL_EXPORTER_OTLP_ENDPOINT": context.otlp_endpoint,
    }
    return Setup(layers=(layer,), env=env, sink=Sink.OTLP_HTTP)


OTEL = Configuration(
    "OTel layer",
    "OpenTelemetry Python layer 0.21.0 set-up (contrib 0.65b0, SDK 1.44.0), OTLP/HTTP, "
    "flushed before the response",
    prepare,
    note="its collector extension layer did not run: a Go binary released on GitHub, not on "
    "PyPI; the loopback receiver stands in for it and answers at once, as the collector's "
    "decouple processor would, so the flush costs one local OTLP/HTTP round trip (the best "
    "case: without decouple the response waits for the backend export). Its exec wrapper and "
    "handler shim are not on PyPI either and are re-created from its documented steps "
    "(bench/peers/wrappers/).",
)
