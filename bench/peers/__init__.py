"""The configurations the benchmark compares, in the order of the table's columns."""

from __future__ import annotations

from peers.adot import ADOT
from peers.configuration import Configuration
from peers.no_tracing import NO_TRACING
from peers.otel import OTEL
from peers.xray_sdk import XRAY_SDK
from peers.xraylayer import XRAYLAYER, XRAYLAYER_OTLP

CONFIGURATIONS: tuple[Configuration, ...] = (
    NO_TRACING,
    XRAYLAYER,
    XRAYLAYER_OTLP,
    XRAY_SDK,
    OTEL,
    ADOT,
)
