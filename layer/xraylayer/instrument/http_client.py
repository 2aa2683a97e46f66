"""Tracing ``http.client``, and through it ``urllib.request`` and any other library built on it.

``http.client`` sends a request in steps, so the span follows them on the connection object:
``putrequest`` starts it, ``endheaders`` adds the trace headers the user did not put (and
connects and sends), ``getresponse`` ends it when the status line and headers are in. The
body is not waited for: when or whether the user reads it is theirs to decide, and a span left
open until then could stay open forever. A request whose response is never asked for ends at
the connection's next request or at ``close``; a connection simply dropped before either loses
its span (it is never emitted, nothing leaks).

Under requests, urllib3 or botocore (which mark the context) every step passes straight through.
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

METHODS = ("putrequest", "endheaders", "getresponse", "close")  # the ones wrapped
_PENDING = "_xraylayer_http_request"  # on a connection: the request in flight, a _Request


class _Request:
    """A traced request on one connection, between ``putrequest`` and ``getresponse``."""

    __slots__ = ("call", "headers_sent")

    def __init__(self, call: http_span.OutgoingCall) -> None:
        self.call = call
        self.headers_sent = False


def patch(http_client_module: ModuleType) -> None:
    """Trace every ``http.client.HTTPConnection`` (and HTTPS) request (idempotent)."""
    wrappers = (
        _traced_putrequest,
        _injecting_endheaders,
        _ending_getresponse,
        _ending_close,
    )
    for name, wrapper in zip(METHODS, wrappers, strict=True):
        patching.wrap_method(http_client_module.HTTPConnection, name, wrapper)


def _traced_putrequest(putrequest: Callable[..., Any]) -> Callable[..., Any]:
    def traced_putrequest(self: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        _end_pending(self)  # the previous request's response was never asked for
        call = _begin(self, method, url)
        if call is None:
            return putrequest(self, method, url, *args, **kwargs)
        try:
            result = putrequest(self, method, url, *args, **kwargs)
        except BaseException as error:
            call.end(error=error)
            raise
        self.__dict__[_PENDING] = _Request(call)
        return result

    return traced_putrequest


def _injecting_endheaders(endheaders: Callable[..., Any]) -> Callable[..., Any]:
    def injecting_endheaders(self: Any, *args: Any, **kwargs: Any) -> Any:
        pending = self.__dict__.get(_PENDING)
        if pending is None or pending.headers_sent:
            return endheaders(self, *args, **kwargs)
        pending.headers_sent = True
        _put_trace_headers(self, pending)
        try:
            return endheaders(self, *args, **kwargs)
        except BaseException as error:  # refused, unreachable, timed out: no response to wait for
            self.__dict__.pop(_PENDING, None)
            pending.call.end(error=error)
            raise

    return injecting_endheaders


def _ending_getresponse(getresponse: Callable[..., Any]) -> Callable[..., Any]:
    def ending_getresponse(self: Any, *args: Any, **kwargs: Any) -> Any:
        pending = self.__dict__.pop(_PENDING, None)
        if pending is None:
            return getresponse(self, *args, **kwargs)
        return pending.call.run(getresponse, self, *args, **kwargs)

    return ending_getresponse


def _ending_close(close: Callable[..., Any]) -> Callable[..., Any]:
    def ending_close(self: Any, *args: Any, **kwargs: Any) -> Any:
        _end_pending(self)
        return close(self, *args, **kwargs)

    return ending_close


def _begin(connection: Any, method: str, url: str) -> http_span.OutgoingCall | None:
    if not http_span.active():
        return None
    try:
        # Through a CONNECT tunnel, the server is the tunnel's far end, not the proxy.
        host = getattr(connection, "_tunnel_host", None) or connection.host
        port = getattr(connection, "_tunnel_port", None) or connection.port
        scheme = "https" if getattr(connection, "default_port", 80) == 443 else "http"
        keep_query = http_span.options()[1]
        target = http_url.from_parts(scheme, host, port, url, keep_query=keep_query)
        return http_span.begin(method, target, mark=False)
    except Exception as error:
        diagnostics.internal_error("tracing an http.client request", error)
        return None


def _put_trace_headers(connection: Any, pending: _Request) -> None:
    try:
        for name, value in pending.call.headers(_header_names(connection)).items():
            connection.putheader(name, value)
    except Exception as error:
        diagnostics.internal_error("adding trace headers to an http.client request", error)


def _header_names(connection: Any) -> list[bytes]:
    """The names of the headers put so far. http.client keeps the request line and each
    ``Name: value`` line in ``_buffer`` until ``endheaders``; reading it spares wrapping
    ``putheader``, which runs for every header of every request."""
    lines = getattr(connection, "_buffer", None) or []
    return [line.partition(b":")[0] for line in lines[1:] if isinstance(line, bytes)]


def _end_pending(connection: Any) -> None:
    pending = connection.__dict__.pop(_PENDING, None)
    if pending is not None:
        pending.call.end()
