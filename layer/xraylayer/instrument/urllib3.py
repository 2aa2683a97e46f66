"""Tracing ``urllib3``: one span per ``HTTPConnectionPool.urlopen``, the method every
``PoolManager.request``, ``urllib3.request`` and pool request goes through.

The span covers the pool's retries (they are ``urlopen`` calling itself, under this span's
mark); a redirect that ``PoolManager`` follows is a new request to a new pool and gets its own
span. It ends when ``urlopen`` returns: at the response headers (the body too when preloaded).
Under requests or botocore, which mark the context themselves, this patch steps aside.

The user's headers mapping is never modified: the request goes out with a copy that has the
trace headers added.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import ModuleType

from .. import diagnostics
from . import http_span, http_url, patching

# Type names only: `typing` costs 2 ms at every cold start.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def patch(urllib3_module: ModuleType) -> None:
    """Trace every ``urllib3`` request made through a connection pool (idempotent)."""
    patching.wrap_method(urllib3_module.HTTPConnectionPool, "urlopen", _traced_urlopen)


def _traced_urlopen(urlopen: Callable[..., Any]) -> Callable[..., Any]:
    def traced_urlopen(
        self: Any,
        method: str,
        url: str,
        body: Any = None,
        headers: Any = None,
        *args: Any,
        **kw: Any,
    ) -> Any:
        call = _begin(self, method, url)
        if call is None:
            return urlopen(self, method, url, body, headers, *args, **kw)
        headers = _with_trace_headers(self.headers if headers is None else headers, call)
        return call.run(urlopen, self, method, url, body, headers, *args, **kw)

    return traced_urlopen


def _begin(pool: Any, method: str, url: str) -> http_span.OutgoingCall | None:
    if not http_span.active():
        return None
    try:
        keep_query = http_span.options()[1]
        target = http_url.from_parts(pool.scheme, pool.host, pool.port, url, keep_query=keep_query)
        return http_span.begin(method, target, mark=True)
    except Exception as error:
        diagnostics.internal_error("tracing a urllib3 call", error)
        return None


def _with_trace_headers(headers: Mapping[str, str], call: http_span.OutgoingCall) -> Any:
    """A copy of ``headers`` (same type when it can copy itself) plus the trace headers."""
    added = call.headers(headers)
    if not added:
        return headers
    try:
        copy = headers.copy() if hasattr(headers, "copy") else dict(headers)
        copy.update(added)
        return copy
    except Exception as error:
        diagnostics.internal_error("adding trace headers to a urllib3 call", error)
        return headers
