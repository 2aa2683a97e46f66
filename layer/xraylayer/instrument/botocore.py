"""AWS SDK calls as spans: one per botocore API call, and the X-Ray header that names it.

Two process-wide wrappers (plain functions from ``patching``: wrapt 2.x costs a cold start tens
of milliseconds to import), so every client of every service is covered, including clients made
before the patch and clients of services the layer has never heard of:

``BaseClient._make_api_call`` makes the span. It sits outside botocore's retry loop, so a call
that was retried twice is one span with ``aws.retries == 2``, as the X-Ray console shows it, not
three. The span is current while the call runs (a credentials refresh inside it nests under it)
and marked as a client call, so the urllib3 / http.client instrumentations underneath do not
trace the same request again.

``Endpoint.prepare_request`` puts the span's id on the wire. botocore already copies
``_X_AMZN_TRACE_ID`` into ``X-Amzn-Trace-Id`` at ``before-call``, but only if the header is
absent, so ours has to be written later. ``prepare_request`` runs once per attempt, after
``request-created`` (signing: the header is on botocore's list of unsigned headers, so
replacing it leaves the signature valid) and before ``before-send`` (so in-process mocks and
custom senders see it too), and, unlike a ``before-send`` handler, it needs no registration on
each client's event system. It is where the X-Ray SDK and OpenTelemetry's botocore
instrumentation inject, too.

The messages a call sends carry its context as well: before botocore sees the parameters,
``message_injection`` adds the call's X-Ray header (and, where configured, a W3C ``traceparent``)
where SQS, SNS, EventBridge and Step Functions pass it on to their consumers, and only where it
fits (never an 11th message attribute). botocore gets a copy; the user's own dicts stay as
they were.

Fail open: the user's call runs exactly as without the layer (same arguments, return value,
exception and retries); anything going wrong in here is reported once through
``diagnostics.internal_error`` and the call goes on untraced.
"""

from __future__ import annotations

import functools
import importlib
import os
from collections.abc import Callable
from types import ModuleType
from urllib.parse import quote  # already imported by botocore itself

from .. import config, context, diagnostics, message_injection, trace_header
from .. import semconv as sc
from ..aws_resources import resource_attributes
from ..spans import CLIENT, Span
from ..tracer import TRACER
from .patching import wrap_method

# Type names only: `typing` costs 2 ms at every cold start.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from contextvars import Token
    from typing import Any

TRACE_HEADER = "X-Amzn-Trace-Id"
_ENV_TRACE_HEADER = "_X_AMZN_TRACE_ID"
# botocore's quoting of the header (handlers.add_recursion_detection_header: "|" -> "%7C") plus
# "%", so a Lineage that arrived already quoted is forwarded as it came, not quoted twice.
_HEADER_SAFE = "-=;:+&[]{}\"',%"

# Error codes that mean "slow down" whatever the HTTP status (400, 503 ...): X-Ray's throttle.
# botocore's retries.standard list, without the ones that are conflicts, not rate limits.
THROTTLING_ERROR_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "EC2ThrottledException",
    }
)


def patch(botocore_module: ModuleType) -> None:
    """Trace every botocore API call from now on; calling it again changes nothing.

    Called by the post-import hook with the ``botocore`` package, whose ``client`` and
    ``endpoint`` modules may not be imported yet: they are imported here (whoever imports
    botocore is about to make a client, which imports both anyway).
    """
    try:
        package = botocore_module.__name__.partition(".")[0]
        client = importlib.import_module(package + ".client")
        endpoint = importlib.import_module(package + ".endpoint")
        wrap_method(client.BaseClient, "_make_api_call", _traced_api_call)
        wrap_method(endpoint.Endpoint, "prepare_request", _with_trace_header)
    except Exception as error:
        diagnostics.internal_error("patching botocore", error)


# --- the span -------------------------------------------------------------------------------


class _Call:
    """One API call in flight: its span, and the context tokens to give back at the end."""

    __slots__ = ("client_token", "operation", "params", "service_id", "span", "span_token")

    def __init__(self, span: Span, service_id: str, operation: str, params: Any) -> None:
        self.span = span
        self.service_id = service_id
        self.operation = operation
        self.params = params
        self.span_token: Token[Span | None] = context.activate(span)
        self.client_token: Token[Span | None] = context.enter_client_call(span)


def _traced_api_call(make_api_call: Callable[..., Any]) -> Callable[..., Any]:
    def _make_api_call(client: Any, *args: Any, **kwargs: Any) -> Any:
        call = _begin(client, args, kwargs)
        if call is None:
            return make_api_call(client, *args, **kwargs)
        sent_args, sent_kwargs = _with_message_context(call, args, kwargs)
        try:
            response = make_api_call(client, *sent_args, **sent_kwargs)
        except BaseException as error:
            _end(call, None, error)
            raise
        if sent_args is not args or sent_kwargs is not kwargs:
            _as_without_injection(call, response)
        _end(call, response, None)
        return response

    return _make_api_call


def _begin(client: Any, args: tuple, kwargs: dict) -> _Call | None:
    """Open the span of a call (None, and the call runs untraced, if that fails)."""
    try:
        operation, params = _call_arguments(*args, **kwargs)
        meta = client.meta
        service_id = str(meta.service_model.service_id)
        attributes = {
            sc.RPC_SYSTEM: "aws-api",
            sc.RPC_SERVICE: service_id,
            sc.RPC_METHOD: operation,
        }
        if meta.region_name:
            attributes[sc.AWS_REGION] = meta.region_name
        span = TRACER.start_span(
            service_id,
            kind=CLIENT,
            namespace="aws",
            attributes=attributes,
            parent=context.current_span() or lambda_parent(),
        )
        return _Call(span, service_id, operation, params)
    except Exception as error:
        diagnostics.internal_error("tracing a botocore call", error)
        return None


def _call_arguments(operation_name: str, api_params: Any) -> tuple[str, Any]:
    """``_make_api_call``'s own signature, whether botocore passed it by position or name."""
    return operation_name, api_params


def _end(call: _Call, response: Any, error: BaseException | None) -> None:
    """Describe how the call went, restore the context, hand the span over."""
    try:
        _describe_outcome(call, response, error)
    except Exception as internal:
        diagnostics.internal_error("describing a botocore call", internal)
    finally:
        context.exit_client_call(call.client_token)
        context.deactivate(call.span_token)
        TRACER.finish(call.span)


def _describe_outcome(call: _Call, response: Any, error: BaseException | None) -> None:
    span = call.span
    remote = error_response(error) if error is not None else None
    answer = response if error is None else remote
    if isinstance(answer, dict):
        span.attributes.update(metadata_attributes(answer.get("ResponseMetadata")))
    span.attributes.update(
        resource_attributes(call.service_id, call.operation, call.params, response)
    )
    if error is None:
        return
    if remote is None:  # connection error, parameter validation, a bug: not the service's answer
        span.record_exception(error)
        span.attributes[sc.ERROR_TYPE] = type(error).__qualname__
        return
    span.record_exception(error, remote=True)
    code = (remote.get("Error") or {}).get("Code") or None
    if code:
        span.attributes[sc.AWS_ERROR_CODE] = code
    span.attributes[sc.ERROR_TYPE] = code or type(error).__qualname__
    status = span.attributes.get(sc.HTTP_RESPONSE_STATUS_CODE)
    span.error, span.throttle, span.fault = failure_flags(status, code)


def error_response(error: BaseException) -> dict[str, Any] | None:
    """The service's parsed error answer if ``error`` is one (a botocore ``ClientError``).

    Recognised by shape, not class: every modeled error of every service (``NoSuchKey``,
    ``ConditionalCheckFailedException`` ...) is a ClientError subclass carrying this dict, and
    looking at the shape needs no import of botocore's exceptions here.
    """
    response = getattr(error, "response", None)
    if isinstance(response, dict) and isinstance(response.get("Error"), dict):
        return response
    return None


def metadata_attributes(metadata: Any) -> dict[str, Any]:
    """Request id, HTTP status and retry count from botocore's ``ResponseMetadata``."""
    if not isinstance(metadata, dict):
        return {}
    found = (
        (sc.AWS_REQUEST_ID, metadata.get("RequestId")),
        (sc.HTTP_RESPONSE_STATUS_CODE, metadata.get("HTTPStatusCode")),
        (sc.AWS_RETRIES, metadata.get("RetryAttempts")),
    )
    return {name: value for name, value in found if value is not None and value != ""}


def failure_flags(status: int | None, error_code: str | None) -> tuple[bool, bool, bool]:
    """X-Ray's ``(error, throttle, fault)`` for a service's error answer.

    Throttling (429, or a throttling error code whatever its status: DynamoDB answers 400
    ``ProvisionedThroughputExceededException``, S3 503 ``SlowDown``) is a throttle and an error;
    otherwise 5xx is a fault (the service failed), anything else an error (the request did).
    """
    if status == 429 or error_code in THROTTLING_ERROR_CODES:
        return True, True, False
    if isinstance(status, int) and status >= 500:
        return False, False, True
    return True, False, False


def lambda_parent() -> Span | None:
    """Lambda's Invocation subsegment (from ``_X_AMZN_TRACE_ID``) as a stand-in parent.

    Used when no span is current, e.g. in a thread the context did not follow: the call then
    still joins the invocation's trace, where the X-Ray SDK would put it. Not with several
    requests per process (``AWS_LAMBDA_MAX_CONCURRENCY``), where the variable is not
    per request, and not outside Lambda, where botocore ignores the variable too.
    """
    environ = os.environ
    if "AWS_LAMBDA_FUNCTION_NAME" not in environ or environ.get("AWS_LAMBDA_MAX_CONCURRENCY"):
        return None
    header = trace_header.parse(environ.get(_ENV_TRACE_HEADER))
    if header is None or header.root is None or header.parent is None:
        return None
    return Span(
        "Invocation",
        trace_header.to_w3c_trace_id(header.root),
        span_id=header.parent,
        sampled=header.sampled == "1",
    )


# --- the messages ---------------------------------------------------------------------------


def _with_message_context(call: _Call, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """``_make_api_call``'s arguments with trace context in the messages the call sends
    (``message_injection``: SQS, SNS, EventBridge, Step Functions), or exactly as they came.

    The context is the call's own X-Ray header, so each message names the span of the call
    that sent it, as the request does; a call that announces no trace sends none.
    """
    try:
        if not message_injection.carries_context(call.service_id, call.operation):
            return args, kwargs
        incoming = os.environ.get(_ENV_TRACE_HEADER)
        if not announces_trace(call.span, incoming):
            return args, kwargs
        injection = message_injection.inject(
            call.service_id,
            call.operation,
            call.params,
            span=call.span,
            xray_header=outgoing_trace_header(call.span, incoming),
            settings=config.settings(),
        )
        for reason in injection.skipped:
            _log_skipped(call, reason)
        if injection.params is call.params:
            return args, kwargs
        return _with_params(args, kwargs, injection.params)
    except Exception as error:
        diagnostics.internal_error("putting trace context into an AWS call's messages", error)
        return args, kwargs


def _as_without_injection(call: _Call, response: Any) -> None:
    """The response, as the caller would have had it without the context the layer added."""
    try:
        message_injection.without_added_digests(
            call.service_id, call.operation, call.params, response
        )
    except Exception as error:
        diagnostics.internal_error("restoring an AWS call's response", error)


def _log_skipped(call: _Call, reason: str) -> None:
    """Once per operation and reason, at debug level: a message without room is the user's
    normal business, not a problem to warn about on every send."""
    where = f"{call.service_id} {call.operation}"
    diagnostics.log(
        "debug",
        f"{where}: trace context left out of a message: {reason}",
        once=f"message context {where}: {reason}",
    )


def _with_params(args: tuple, kwargs: dict, params: Any) -> tuple[tuple, dict]:
    """``_make_api_call``'s arguments with ``api_params`` replaced, wherever it was passed."""
    if len(args) >= 2:
        return (args[0], params, *args[2:]), kwargs
    return args, {**kwargs, "api_params": params}


# --- the header -----------------------------------------------------------------------------


def _with_trace_header(prepare_request: Callable[..., Any]) -> Callable[..., Any]:
    def _prepare_request(endpoint: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            _set_trace_header(args[0] if args else kwargs["request"])
        except Exception as error:
            diagnostics.internal_error("setting X-Amzn-Trace-Id on an AWS request", error)
        return prepare_request(endpoint, *args, **kwargs)

    return _prepare_request


def _set_trace_header(request: Any) -> None:
    """Replace botocore's header with this call's, on every attempt; one header, never two
    (botocore's ``HTTPHeaders`` appends on assignment, so the old one is deleted first)."""
    span = context.client_call()
    if span is None:  # a request botocore sends outside an API call: not ours to name
        return
    incoming = os.environ.get(_ENV_TRACE_HEADER)
    if not announces_trace(span, incoming):
        return
    headers = request.headers
    if TRACE_HEADER in headers:
        del headers[TRACE_HEADER]
    headers[TRACE_HEADER] = outgoing_trace_header(span, incoming)


def announces_trace(span: Span, incoming: str | None) -> bool:
    """Whether downstream should hear of this span's trace.

    Only a span inside a trace (it has a parent). An unsampled trace the layer made up itself
    (a user's span during init, before Lambda gives a header) stays quiet: a ``Sampled=0``
    there would stop a downstream Lambda function from sampling by its own rule.
    """
    return span.parent_id is not None and (span.sampled or incoming is not None)


def outgoing_trace_header(span: Span, incoming: str | None) -> str:
    """``X-Amzn-Trace-Id`` for a request made from ``span``: its trace as Root, itself as
    Parent, its sampling decision, then the extra keys of the incoming ``_X_AMZN_TRACE_ID``
    (``Lineage``, which Lambda needs for loop detection, and any other)."""
    root = trace_header.from_w3c_trace_id(span.trace_id)
    sampled = "1" if span.sampled else "0"
    return f"Root={root};Parent={span.span_id};Sampled={sampled}{_extra_keys(incoming)}"


@functools.lru_cache(maxsize=16)
def _extra_keys(incoming: str | None) -> str:
    """``;Key=value`` for each extra key of the incoming header, quoted as botocore quotes it.

    Cached: the variable changes once per invocation, calls and retries are many.
    """
    received = trace_header.parse(incoming)
    if received is None or not received.extra:
        return ""
    return quote("".join(f";{key}={value}" for key, value in received.extra), safe=_HEADER_SAFE)
