"""A function that bundles its own wrapt, requests and OpenTelemetry API and SDK (older than the
layer's private copies) and uses them as their users do: a wrapt decorator and post-import
hook, a requests call, and a tracer provider of its own set up at init with an in-memory
exporter. Each response tells which versions and files it ran with and what its own exporter
received; the test packs the packages into the function folder (/var/task) next to this file.
"""

import importlib.metadata
import os
import sys

import wrapt

HOOKED = []
wrapt.register_post_import_hook(lambda module: HOOKED.append(module.__name__), "requests")

import requests  # noqa: E402  (after the hook that must see it imported)
import urllib3  # noqa: E402
from opentelemetry import trace  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: E402
    InMemorySpanExporter,
)

EXPORTER = InMemorySpanExporter()
PROVIDER = TracerProvider()
PROVIDER.add_span_processor(SimpleSpanProcessor(EXPORTER))
trace.set_tracer_provider(PROVIDER)
TRACER = trace.get_tracer("orders.bundled")

DISTRIBUTIONS = ("wrapt", "requests", "urllib3", "opentelemetry-api", "opentelemetry-sdk")
# Every top-level package the bundle holds: none of them may come from anywhere else.
BUNDLED = {
    "certifi",
    "charset_normalizer",
    "deprecated",
    "idna",
    "importlib_metadata",
    "opentelemetry",
    "requests",
    "typing_extensions",
    "urllib3",
    "wrapt",
    "zipp",
}


@wrapt.decorator
def doubled(wrapped, instance, args, kwargs):
    return 2 * wrapped(*args, **kwargs)


@doubled
def price(quantity):
    return quantity * 10


def _where(path):
    """A file as a path inside the function's folder, or as it is when it lies elsewhere."""
    task_root = os.environ["LAMBDA_TASK_ROOT"]
    if path and os.path.realpath(path).startswith(os.path.realpath(task_root) + os.sep):
        return os.path.relpath(os.path.realpath(path), os.path.realpath(task_root))
    return path


def _bundled_modules():
    """The imported modules of the bundled packages, by name, and where each came from (the
    modules themselves, not the aliases six.moves puts in sys.modules for standard ones)."""
    return {
        module.__name__: _where(getattr(module, "__file__", None))
        for module in list(sys.modules.values())
        if getattr(module, "__name__", "").split(".")[0] in BUNDLED
    }


def handler(event, context):
    EXPORTER.clear()
    with TRACER.start_as_current_span("checkout", attributes={"order": event["order"]}) as span:
        answer = requests.get(event["url"], timeout=5)
        span.set_attribute("payment.status", answer.status_code)
    modules = _bundled_modules()
    return {
        "versions": {name: importlib.metadata.version(name) for name in DISTRIBUTIONS},
        "module_versions": {
            "wrapt": wrapt.__version__,
            "requests": requests.__version__,
            "urllib3": urllib3.__version__,
        },
        "files": {
            name: modules[name]
            for name in (
                "wrapt",
                "requests",
                "urllib3",
                "opentelemetry.trace",
                "opentelemetry.sdk.trace",
            )
        },
        "from_elsewhere": sorted(
            name for name, where in modules.items() if where and where.startswith(os.sep)
        ),
        "bundled_modules": len(modules),
        "hooked": HOOKED,
        "price": price(3),
        "wrapped_by_wrapt": isinstance(price, wrapt.FunctionWrapper),
        "payment": {"status": answer.status_code, "body": answer.json()},
        "provider_is_theirs": trace.get_tracer_provider() is PROVIDER,
        "their_spans": [
            {
                "name": finished.name,
                "attributes": dict(finished.attributes),
                "parent": finished.parent and f"{finished.parent.span_id:016x}",
                "scope": finished.instrumentation_scope.name,
                "kind": finished.kind.name,
                "status": finished.status.status_code.name,
            }
            for finished in EXPORTER.get_finished_spans()
        ],
    }
