"""One outgoing HTTP call as a span: what the requests, urllib3 and http.client patches share.

The outermost instrumented library makes the span and marks the context
(``context.enter_client_call``), so the libraries it calls underneath (requests → urllib3 →
http.client) see the mark and step aside: one span per call, never three. The same mark set by
the botocore patch keeps the HTTP under an AWS SDK call from being traced twice.

Not traced at all, neither span nor header: the layer's own traffic (the Lambda Runtime and
Extensions API, the X-Ray daemon, the extension's span intake). With no span open but a trace
header in ``_X_AMZN_TRACE_ID`` (a thread the context did not reach), no span is made but the
header is passed on, as botocore does for AWS calls.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterable

from .. import context, diagnostics, propagation, semconv, trace_header
from ..spans import CLIENT, Span
from ..tracer import TRACER
from . import own_endpoints
from .http_url import Target

# Type names only: `typing` costs 2 ms at every cold start.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from contextvars import Token
    from typing import Any, TypeVar

    Result = TypeVar("Result")

NAMESPACE = "remote"  # X-Ray's namespace for downstream calls that are not AWS SDK calls
DEFAULT_PROPAGATORS = (propagation.XRAY, propagation.TRACECONTEXT)


class OutgoingCall:
    """A traced (or header-only, when ``span`` is None) outgoing HTTP request."""

    __slots__ = ("_token", "incoming", "span")

    def __init__(
        self,
        span: Span | None,
        incoming: trace_header.TraceHeader | None,
        token: Token[Span | None] | None = None,
    ) -> None:
        self.span = span
        self.incoming = incoming
        self._token = token

    def headers(self, present: Iterable[str | bytes]) -> dict[str, str]:
        """The trace headers to add, leaving out those the user set already (``present``:
        the request's header names, any case, str or bytes)."""
        try:
            wanted = propagation.outgoing_headers(self.span, self.incoming, options()[0])
            if not wanted:
                return wanted
            taken = {
                (name.decode("latin-1") if isinstance(name, bytes) else str(name)).lower()
                for name in present
            }
            return {name: value for name, value in wanted.items() if name.lower() not in taken}
        except Exception as error:
            diagnostics.internal_error("building trace headers", error)
            return {}

    def run(self, function: Callable[..., Result], *args: Any, **kwargs: Any) -> Result:
        """Call the library's own ``function``; end the span with the response's status, or
        with the exception, which goes on to the caller unchanged."""
        try:
            response = function(*args, **kwargs)
        except BaseException as error:
            self.end(error=error)
            raise
        self.end(status=_status_of(response))
        return response

    def end(self, *, status: int | None = None, error: BaseException | None = None) -> None:
        """Lift the context mark and finish the span (once); never raises."""
        try:
            if self._token is not None:
                token, self._token = self._token, None
                context.exit_client_call(token)
            span = self.span
            if span is not None and not span.ended:
                _record_outcome(span, status, error)
                TRACER.finish(span)
        except Exception as failure:
            diagnostics.internal_error("ending an HTTP span", failure)


def active() -> bool:
    """Whether a request made here could be traced or carry a header at all: cheap enough to
    call first on every request, before any URL is parsed."""
    if context.client_call() is not None:
        return False
    return context.current_span() is not None or incoming_header() is not None


def begin(method: str, target: Target | None, *, mark: bool) -> OutgoingCall | None:
    """Start the call's span as a child of the current span; None when the request is not to
    be traced (no target, one of the layer's own endpoints, no trace context).

    With ``mark`` the context says "traced" until ``end``, so the libraries underneath skip;
    only a caller that ends the call in the same context (the same stack frame) may ask for it.
    """
    if target is None or own_endpoints.is_own(target.host, target.port):
        return None
    incoming = incoming_header()
    parent = context.current_span()
    if parent is None:
        return OutgoingCall(None, incoming) if incoming is not None else None
    span = TRACER.start_span(
        target.host,
        kind=CLIENT,
        namespace=NAMESPACE,
        parent=parent,
        attributes=_request_attributes(method, target),
    )
    return OutgoingCall(span, incoming, context.enter_client_call(span) if mark else None)


def _request_attributes(method: str, target: Target) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        semconv.HTTP_REQUEST_METHOD: str(method).upper(),
        semconv.URL_FULL: target.url,
        semconv.SERVER_ADDRESS: target.host,
    }
    if target.port is not None:
        attributes[semconv.SERVER_PORT] = target.port
    return attributes


def _record_outcome(span: Span, status: int | None, error: BaseException | None) -> None:
    """4xx error, 429 throttle, 5xx fault (``Span.set_status_code``); an exception raised
    here (refused, reset, timed out) is a local failure: a fault."""
    if status is not None:
        span.attributes[semconv.HTTP_RESPONSE_STATUS_CODE] = status
        span.set_status_code(status)
        if status >= 400:
            span.attributes[semconv.ERROR_TYPE] = str(status)
    if error is not None:
        span.record_exception(error)
        span.attributes[semconv.ERROR_TYPE] = _qualified_name(type(error))


def _status_of(response: object) -> int | None:
    """``status_code`` (requests) or ``status`` (urllib3, http.client), if an int."""
    status = getattr(response, "status_code", None)
    if not isinstance(status, int):
        status = getattr(response, "status", None)
    return status if isinstance(status, int) else None


def _qualified_name(kind: type) -> str:
    module = kind.__module__
    return kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"


# -- configuration, read lazily so importing a patch costs nothing ------------------------------

_settings: Callable[[], Any] | None = None
_settings_looked_up = False


def options() -> tuple[Collection[str], bool]:
    """``(propagators, capture_query_string)`` from ``xraylayer.config``, or the documented
    defaults (both propagators, no query string) when that cannot be read."""
    settings = _settings_function()
    if settings is None:
        return DEFAULT_PROPAGATORS, False
    try:
        current = settings()
        return tuple(current.propagators), bool(current.capture_query_string)
    except Exception as error:
        diagnostics.internal_error("reading the HTTP tracing settings", error)
        return DEFAULT_PROPAGATORS, False


def _settings_function() -> Callable[[], Any] | None:
    global _settings, _settings_looked_up  # noqa: PLW0603 - looked up once per process
    if not _settings_looked_up:
        try:
            from .. import config

            _settings = config.settings
        except Exception:  # not there (yet), or broken: the defaults apply
            _settings = None
        _settings_looked_up = True
    return _settings


# -- the function's own trace header, from the environment ---------------------------------------

_incoming_cache: tuple[str | None, trace_header.TraceHeader | None] = (None, None)


def incoming_header() -> trace_header.TraceHeader | None:
    """The invocation's ``_X_AMZN_TRACE_ID``, parsed once per distinct value."""
    global _incoming_cache  # noqa: PLW0603 - a one-entry cache; tuple assignment is atomic
    raw = os.environ.get("_X_AMZN_TRACE_ID")
    cached_raw, parsed = _incoming_cache
    if raw != cached_raw:
        parsed = trace_header.parse(raw)
        _incoming_cache = (raw, parsed)
    return parsed
