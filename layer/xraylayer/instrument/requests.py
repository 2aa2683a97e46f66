"""Tracing ``requests``: one span per ``Session.send``, which every ``requests.get`` and
``session.post`` goes through.

The span covers the whole call, redirects included (requests follows them inside ``send``, and
the mark this span sets keeps the inner hops, urllib3 and http.client from tracing again); it
ends when ``send`` returns, i.e. when the response headers are in (the body too unless
``stream=True``). Its status is that of the response the user gets.

The trace headers are added to the ``PreparedRequest``, so ``response.request.headers`` shows
them as they went out. A request sent again keeps nothing stale: headers this layer added on an
earlier send are replaced, headers the user set are never touched.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

from .. import diagnostics
from . import http_span, http_url, patching

# Type names only: `typing` costs 2 ms at every cold start.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_ADDED = "_xraylayer_trace_headers"  # on a PreparedRequest: the headers an earlier send added


def patch(requests_module: ModuleType) -> None:
    """Trace every ``requests.Session.send`` (idempotent)."""
    patching.wrap_method(requests_module.Session, "send", _traced_send)


def _traced_send(send: Callable[..., Any]) -> Callable[..., Any]:
    def traced_send(self: Any, request: Any, **kwargs: Any) -> Any:
        call = _begin(request)
        if call is None:
            return send(self, request, **kwargs)
        return call.run(send, self, request, **kwargs)

    return traced_send


def _begin(request: Any) -> http_span.OutgoingCall | None:
    if not http_span.active():
        return None
    url, method = getattr(request, "url", None), getattr(request, "method", None)
    if not isinstance(url, str):
        return None  # not a PreparedRequest: requests itself reports that
    try:
        target = http_url.from_url(url, keep_query=http_span.options()[1])
        call = http_span.begin(method or "GET", target, mark=True)
    except Exception as error:
        diagnostics.internal_error("tracing a requests call", error)
        return None
    if call is not None:
        _add_trace_headers(request, call)
    return call


def _add_trace_headers(request: Any, call: http_span.OutgoingCall) -> None:
    try:
        headers = request.headers
        for name, value in request.__dict__.pop(_ADDED, {}).items():
            if headers.get(name) == value:  # ours, from an earlier send of this same request
                del headers[name]
        added = call.headers(headers)
        headers.update(added)
        request.__dict__[_ADDED] = added
    except Exception as error:
        diagnostics.internal_error("adding trace headers to a requests call", error)
