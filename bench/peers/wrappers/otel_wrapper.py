"""The handler shim of OpenTelemetry's Python Lambda layer (layer-python/0.21.0), re-created.

Not on PyPI, so the benchmark installs this in its place, as ``/opt/python/otel_wrapper.py``. It
does what ../shared/docs/peers-opentelemetry.md §1.1 records: the exec wrapper points
``_HANDLER`` here; this imports the function's handler named in ``ORIG_HANDLER`` (already
wrapped by the aws-lambda instrumentation, which ran in ``sitecustomize``) and offers it as
``lambda_handler``.
"""

from __future__ import annotations

from orig_handler import original_handler

lambda_handler = original_handler()
