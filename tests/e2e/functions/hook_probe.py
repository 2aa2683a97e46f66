"""Imports http.client at init and reports whether the layer's post-import hook patched it."""

import http.client
import importlib.machinery
import sys

import slow_dependency  # noqa: F401 (20 ms at import: the cold start's profile shows it)


def handler(event, context):
    from xraylayer import import_hooks
    from xraylayer.instrument import patching

    profile = import_hooks.installed().profile
    return {
        "python": f"{sys.version_info[0]}.{sys.version_info[1]}",
        "instrumentation_loaded": "xraylayer.instrument.http_client" in sys.modules,
        "patched": patching.is_patched(http.client.HTTPConnection.putrequest),
        "own_spec_class": type(http.client.__spec__) is importlib.machinery.ModuleSpec,
        "profiled": sorted(name for name, *_ in profile.records if name == "slow_dependency"),
    }
