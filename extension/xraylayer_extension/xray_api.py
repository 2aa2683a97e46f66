"""Export spans straight to the X-Ray API (``PutTraceSegments``), signed with SigV4.

For traces the daemon path cannot carry: invocations Lambda did not sample (tracing
PassThrough or off), which have no Lambda segment to join. The documents are
``xray_trace_documents.trace_documents`` of each batch: an unsampled invocation becomes a
segment of its own with its spans under it; spans of a sampled one join Lambda's segments.

Configuration (what botocore reads, and what Lambda gives every extension):

- credentials ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY`` and ``AWS_SESSION_TOKEN``;
  without them every span is dropped as ``no_credentials``, logged once;
- region ``AWS_REGION``, else ``AWS_DEFAULT_REGION``; without one, ``no_region``;
- endpoint ``AWS_ENDPOINT_URL_XRAY``, else ``AWS_ENDPOINT_URL`` (botocore's service-specific
  and global endpoint variables; an emulator in tests), else ``https://xray.{region}.amazonaws.com``
  (``.com.cn`` in the China regions). A value that is not an http(s) URL is logged and ignored.

``export(spans, deadline)`` never raises and never runs past ``deadline`` (a
``time.monotonic()`` value). Requests hold at most 50 documents (X-Ray refuses more, and the
daemon sends 50) and at most ``MAX_REQUEST_BYTES``. Answers 429 and 5xx, throttling errors and
connection errors are retried with exponential backoff and jitter while the next attempt can
start before the deadline. Documents X-Ray lists in ``UnprocessedTraceSegments`` are sent once
more; those refused again are ``rejected`` (the message names their ``ErrorCode``s, each logged
once). A 400 counts the request's spans as rejected, any other 4xx as dropped
(``http_<status>``), neither retried, each kind logged once. Every span is one document, so
the result counts spans. The connection is kept between exports (``http_export``, shared with
``otlp_http``); each attempt is signed anew.

Cold start: this module imports ``os`` and ``time`` only. ``http.client``, the signer and the
conversion are imported at the first export.
"""

from __future__ import annotations

import os
import time

from .export_result import CONVERSION_FAILED, DEADLINE, INTERNAL_ERROR, ExportResult
from .http_export import (
    HttpSender,
    Retry,
    internal_error,
    json_object,
    short,
    usable_url,
    user_agent,
    warn,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from xraylayer.spans import Span

    from .http_export import Delivery, Reply
    from .sigv4 import Credentials

SERVICE = "xray"  # the SigV4 signing name
OPERATION_PATH = "/TraceSegments"  # PutTraceSegments
ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL_XRAY", "AWS_ENDPOINT_URL")
REGION_VARIABLES = ("AWS_REGION", "AWS_DEFAULT_REGION")
MAX_DOCUMENTS_PER_REQUEST = 50  # X-Ray: "Exceeding maximum segment count: 50"
# X-Ray documents no request size limit; 1 MB is the common ceiling of AWS JSON APIs, and
# 50 documents of up to 64 kB (escaped once more inside the request) could exceed it.
MAX_REQUEST_BYTES = 1_000_000
REQUEST_TIMEOUT_S = 10.0  # per attempt, and never past the deadline
# Error codes AWS uses for "slow down", whatever the status code they come with.
THROTTLING_ERRORS = frozenset(
    {
        "ThrottledException",
        "ThrottlingException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
    }
)
_BODY_START = b'{"TraceSegmentDocuments":['
_BODY_END = b"]}"

# Reasons for dropped spans (keys of ExportResult.dropped), besides export_result's deadline,
# timeout, connection_error, internal_error and conversion_failed, and http_<status>.
NO_CREDENTIALS = "no_credentials"  # no access key pair in the environment
NO_REGION = "no_region"  # no region in the environment


# --- configuration -----------------------------------------------------------------------------


class Settings:
    """The exporter's resolved configuration."""

    __slots__ = ("credentials", "endpoint", "host", "https", "path", "port", "region")

    def __init__(self, region: str, credentials: Credentials, endpoint: str) -> None:
        from urllib.parse import urlsplit

        self.region = region
        self.credentials = credentials
        self.endpoint = endpoint
        parts = urlsplit(endpoint)
        self.https = parts.scheme == "https"
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if self.https else 80)
        self.path = parts.path.rstrip("/") + OPERATION_PATH

    @property
    def url(self) -> str:
        """The ``PutTraceSegments`` URL (what the signature covers)."""
        return self.endpoint.rstrip("/") + OPERATION_PATH


def settings(environ: Mapping[str, str]) -> Settings | str:
    """Everything the exporter reads from the environment, or why nothing can be sent (a
    reason for dropping spans: ``no_region``, ``no_credentials``), logged once. Bad endpoint
    values are logged and ignored."""
    from .sigv4 import environment_credentials

    region = _first_set(environ, REGION_VARIABLES)
    if region is None:
        warn("no AWS_REGION or AWS_DEFAULT_REGION: spans for the X-Ray API are dropped")
        return NO_REGION
    credentials = environment_credentials(environ)
    if credentials is None:
        warn(
            "no AWS credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) in the extension's "
            "environment: spans for the X-Ray API are dropped"
        )
        return NO_CREDENTIALS
    return Settings(region, credentials, resolve_endpoint(environ, region))


def resolve_endpoint(environ: Mapping[str, str], region: str) -> str:
    """The X-Ray endpoint: botocore's endpoint variables, else the region's public one."""
    for variable in ENDPOINT_VARIABLES:
        value = (environ.get(variable) or "").strip()
        if value:
            if usable_url(value):
                return value
            warn(f"{variable}={value!r} is not an http(s) URL; ignored")
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"https://xray.{region}.{suffix}"


def _first_set(environ: Mapping[str, str], variables: Iterable[str]) -> str | None:
    """The value of the first of ``variables`` set to more than blanks, stripped."""
    for variable in variables:
        value = (environ.get(variable) or "").strip()
        if value:
            return value
    return None


# --- requests ----------------------------------------------------------------------------------


def request_body(pieces: list[bytes]) -> bytes:
    """The ``PutTraceSegments`` body holding ``pieces`` (each document as a JSON string)."""
    return _BODY_START + b",".join(pieces) + _BODY_END


def batches(
    sizes: list[int],
    max_count: int = MAX_DOCUMENTS_PER_REQUEST,
    max_bytes: int = MAX_REQUEST_BYTES,
) -> list[tuple[int, int]]:
    """``(start, end)`` ranges of consecutive pieces of the given sizes, each range as long as
    ``max_count`` and a body of at most ``max_bytes`` allow (a piece too large for any body
    goes alone)."""
    ranges = []
    start, size = 0, len(_BODY_START) + len(_BODY_END)
    for index, piece in enumerate(sizes):
        added = piece + (index > start)  # the comma before every piece but the first
        if index > start and (index - start >= max_count or size + added > max_bytes):
            ranges.append((start, index))
            start, size, added = index, len(_BODY_START) + len(_BODY_END), piece
        size += added
    if start < len(sizes):
        ranges.append((start, len(sizes)))
    return ranges


def aws_error(headers: Mapping[str, str], reply: bytes, status: int) -> tuple[str, str]:
    """(error code, message) of an AWS JSON error answer: the code from ``x-amzn-ErrorType``
    or the body's ``__type`` (namespace and suffix removed), the message from the body."""
    body = json_object(reply)
    code = headers.get("x-amzn-ErrorType") or body.get("__type") or body.get("code") or ""
    code = str(code).split(":", 1)[0].rsplit("#", 1)[-1].strip()
    message = body.get("message") or body.get("Message")
    if not (isinstance(message, str) and message):
        message = reply.decode("utf-8", "replace").strip() if not body else ""
    return code, short(message or f"HTTP {status}")


def retryable(status: int, code: str) -> bool:
    """Whether a later attempt may succeed: throttled, or a fault on AWS's side."""
    return status == 429 or status >= 500 or code in THROTTLING_ERRORS


def unprocessed(reply: dict, ids: list[str]) -> dict[int, tuple[str, str]]:
    """Index in ``ids`` -> (ErrorCode, Message) of each document the reply's
    ``UnprocessedTraceSegments`` names (by its ``Id``)."""
    records = reply.get("UnprocessedTraceSegments")
    refused: dict[str, tuple[str, str]] = {}
    for record in records if isinstance(records, list) else ():
        if isinstance(record, dict) and isinstance(record.get("Id"), str):
            code, message = record.get("ErrorCode"), record.get("Message")
            refused[record["Id"]] = (str(code or "Unknown"), short(str(message or "")))
    return {index: refused[id_] for index, id_ in enumerate(ids) if id_ in refused}


# --- the exporter ------------------------------------------------------------------------------


class XRayApiExporter:
    """Sends X-Ray documents to ``PutTraceSegments``, keeping its connection between exports.

    ``environ`` is read at the first export (default: the process environment then).
    ``clock`` and ``sleep`` are the monotonic clock ``deadline`` is measured on and the wait
    between attempts; both can be replaced in tests. Not thread-safe: one exporter per thread.
    """

    name = "xray-api"

    def __init__(
        self,
        environ: Mapping[str, str] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._environ = environ
        self._clock = clock
        self._sender = HttpSender(clock=clock, sleep=sleep)
        self._settings: Settings | str | None = None

    @property
    def settings(self) -> Settings | str:
        """The configuration, or why there is none; resolved (and logged) on first use."""
        if self._settings is None:
            self._settings = settings(os.environ if self._environ is None else self._environ)
        return self._settings

    def export(self, spans: Iterable[Span], deadline: float) -> ExportResult:
        """Send ``spans`` as X-Ray documents before ``deadline``; never raises."""
        try:
            spans = list(spans)
        except Exception as error:
            internal_error("X-Ray API export (reading the spans)", error)
            return ExportResult()
        try:
            return self._export(spans, deadline)
        except Exception as error:
            internal_error("X-Ray API export", error)
            self.close()
            return ExportResult(dropped={INTERNAL_ERROR: len(spans)})

    def close(self) -> None:
        """Close the kept connection (the next export opens a new one)."""
        self._sender.close()

    # --- one export ---

    def _export(self, spans: list[Span], deadline: float) -> ExportResult:
        from xraylayer.json_values import dumps
        from xraylayer.xray_document import encode

        from .xray_trace_documents import trace_documents

        result = ExportResult()
        if not spans:
            return result
        settings = self.settings
        if isinstance(settings, str):
            result.drop(settings, len(spans))
            return result
        documents = trace_documents(spans, lambda span, error: result.drop(CONVERSION_FAILED, 1))
        ids = [str(document.get("id")) for document in documents]
        pieces = [dumps(encode(document).decode("utf-8")).encode("utf-8") for document in documents]
        for start, end in batches([len(piece) for piece in pieces]):
            if self._clock() >= deadline:
                result.drop(DEADLINE, len(pieces) - start)
                break
            result.add(self._put(settings, ids[start:end], pieces[start:end], deadline))
        return result

    def _put(
        self, settings: Settings, ids: list[str], pieces: list[bytes], deadline: float
    ) -> ExportResult:
        """One batch, and once more the documents X-Ray left unprocessed."""
        result, reply = self._request(settings, pieces, deadline)
        if reply is None:
            return result
        refused = unprocessed(reply, ids)
        if refused and self._clock() < deadline:
            again = sorted(refused)
            retry, reply = self._request(settings, [pieces[i] for i in again], deadline)
            if reply is None:  # the second request failed: those spans count as it says
                result.add(retry)
                result.exported = len(ids) - len(again)
                return result
            result.attempts += retry.attempts
            still = unprocessed(reply, [ids[i] for i in again])
            refused = {again[position]: why for position, why in still.items()}
        result.exported = len(ids) - len(refused)
        result.rejected = len(refused)
        if refused:
            result.message = _refused_message(refused.values())
        return result

    def _request(
        self, settings: Settings, pieces: list[bytes], deadline: float
    ) -> tuple[ExportResult, dict | None]:
        """POST one body, retrying what may succeed later, until it lands or time is up.
        Returns the attempts and the reply (a dict) on success; on failure the spans counted
        as rejected or dropped, and None."""
        body = request_body(pieces)
        sent = self._sender.send(
            settings,
            body,
            deadline,
            headers=lambda: _signed_headers(settings, body),
            timeout=REQUEST_TIMEOUT_S,
            retry=_retry,
        )
        reply = sent.reply
        if reply is None:
            return sent.dropped(len(pieces)), None
        if reply.ok:
            return ExportResult(attempts=sent.attempts), json_object(reply.body)
        return _refusal(sent, reply, len(pieces)), None


def _signed_headers(settings: Settings, body: bytes) -> dict[str, str]:
    """The headers of one attempt, with a SigV4 signature of now."""
    from .sigv4 import host_header, sign

    headers = {
        "Host": host_header(settings.url),
        "Content-Type": "application/json",
        "User-Agent": user_agent(),
    }
    headers.update(
        sign(
            "POST",
            settings.url,
            headers,
            body,
            region=settings.region,
            service=SERVICE,
            credentials=settings.credentials,
        )
    )
    return headers


# --- outcomes ----------------------------------------------------------------------------------


def _retry(reply: Reply) -> Retry | None:
    """Throttling and faults on AWS's side are worth another attempt."""
    code, message = aws_error(reply.headers, reply.body, reply.status)
    return Retry(message) if retryable(reply.status, code) else None


def _refusal(sent: Delivery, reply: Reply, count: int) -> ExportResult:
    """An answer not worth retrying: a 400 rejects the documents, anything else (credentials,
    permissions) drops them; each kind logged once, with what to check."""
    code, message = aws_error(reply.headers, reply.body, reply.status)
    text = f"{code}: {message}" if code else message
    denied = code == "AccessDeniedException"
    hint = " (does the function's role allow xray:PutTraceSegments?)" if denied else ""
    _log_once(
        f"X-Ray PutTraceSegments answered HTTP {reply.status} {text}{hint}",
        f"{reply.status}:{code}",
    )
    return sent.refused(count, text)


def _refused_message(refused: Iterable[tuple[str, str]]) -> str:
    """``ErrorCode: Message`` of each kind of refusal, with how many documents had it; each
    kind logged once."""
    counts: dict[tuple[str, str], int] = {}
    for kind in refused:
        counts[kind] = counts.get(kind, 0) + 1
    parts = []
    for (code, message), count in counts.items():
        _log_once(f"X-Ray did not process documents: {code}: {message}", f"unprocessed:{code}")
        parts.append(f"{count} x {code}: {message}" if message else f"{count} x {code}")
    return short("unprocessed: " + "; ".join(parts))


def _log_once(message: str, key: str) -> None:
    from xraylayer import diagnostics

    diagnostics.log("warning", message, once=f"xray-api:{key}")
