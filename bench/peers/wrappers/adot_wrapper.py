"""The handler shim of the ADOT Python Lambda layer (lambda-layer/src/otel_wrapper.py), re-created.

Not on PyPI, so the benchmark installs this in its place, as ``/opt/python/otel_wrapper.py``. It
does what ../shared/docs/peers-opentelemetry.md §1.4 records: instrument the handler with the
aws-lambda instrumentation (the layer ships a vendored copy of it; this uses the PyPI one of the
same release), its parent taken from Lambda's ``_X_AMZN_TRACE_ID`` when set (it replaces any
``X-Amzn-Trace-Id`` header of the event) through the global propagator, then import the
function's handler named in ``ORIG_HANDLER`` and offer it as ``lambda_handler``.
"""

from __future__ import annotations

import os
from typing import Any

from opentelemetry.context import Context
from opentelemetry.instrumentation.aws_lambda import AwsLambdaInstrumentor
from opentelemetry.propagate import get_global_textmap
from opentelemetry.trace import get_current_span
from orig_handler import original_handler

TRACE_HEADER = "X-Amzn-Trace-Id"


def event_context(event: Any) -> Context:
    """The parent of the invocation span: the event's headers, Lambda's trace header first."""
    headers = event.get("headers") if isinstance(event, dict) else None
    carrier = dict(headers) if isinstance(headers, dict) else {}
    lambda_header = os.environ.get("_X_AMZN_TRACE_ID")
    if lambda_header:
        carrier = {key: value for key, value in carrier.items() if key.lower() != "x-amzn-trace-id"}
        carrier[TRACE_HEADER] = lambda_header
    extracted = get_global_textmap().extract(carrier)
    return extracted if get_current_span(extracted).get_span_context().is_valid else Context()


AwsLambdaInstrumentor().instrument(event_context_extractor=event_context)
lambda_handler = original_handler()
