"""A function that sets up its own OpenTelemetry tracer provider in the handler, on its first
invocation, rather than at init (the layer must not have claimed the global provider by then).
"""

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

STATE = {}


def _exporter():
    if "exporter" not in STATE:
        STATE["exporter"] = InMemorySpanExporter()
        STATE["provider"] = TracerProvider()
        STATE["provider"].add_span_processor(SimpleSpanProcessor(STATE["exporter"]))
        trace.set_tracer_provider(STATE["provider"])
    return STATE["exporter"]


def handler(event, context):
    exporter = _exporter()
    exporter.clear()
    with trace.get_tracer("orders.lazy").start_as_current_span("checkout") as span:
        span.set_attribute("order", event["order"])
    return {
        "provider_is_theirs": trace.get_tracer_provider() is STATE["provider"],
        "their_spans": [
            {"name": finished.name, "attributes": dict(finished.attributes)}
            for finished in exporter.get_finished_spans()
        ],
    }
