"""The instrumentations, as data: which module each one patches, and with what.

`import_hooks` reads HOOKS at interpreter start, so this package holds the table and nothing
else; an instrumentation module is imported only when the function imports its target. Each
entry names `module` or `module:function`; the function (default `patch`) takes the target
module, returns None, is idempotent, and runs once the target module has executed.
"""

# target module -> "instrumentation module[:function]"
HOOKS: dict[str, str] = {
    "botocore": "xraylayer.instrument.botocore",
    "requests": "xraylayer.instrument.requests",
    "urllib3": "xraylayer.instrument.urllib3",
    "http.client": "xraylayer.instrument.http_client",
    "concurrent.futures.thread": "xraylayer.instrument.threads:patch_thread_pool",
    "opentelemetry.trace": "xraylayer.otel_bridge",
}


def patcher_of(hook: str) -> tuple[str, str]:
    """The module and the function name an entry of HOOKS names."""
    module, _, function = hook.partition(":")
    return module, function or "patch"
