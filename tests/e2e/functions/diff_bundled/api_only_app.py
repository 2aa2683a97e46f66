"""A function that uses only the OpenTelemetry API: it sets no provider of its own, so its spans
go nowhere without the layer, and into the invocation's X-Ray trace with it."""

from opentelemetry import trace

TRACER = trace.get_tracer("orders.api_only")  # taken at init, before any provider is set


def handler(event, context):
    with TRACER.start_as_current_span("price-order") as span:
        span.set_attribute("order", event["order"])
        with trace.get_tracer("orders.api_only").start_as_current_span("tax"):
            pass
    return {"order": event["order"]}
