"""Runtime API 2018-06-01: the state one runtime process talks to (lambda-platform.md §1).

A new `RuntimeApi` is made for every runtime process, so a reset cannot leak a stale request
into the next environment. Handlers return `ApiResponse`; `next` blocks until the sandbox
delivers an invocation. The API never answers `next` with a 500: the real awslambdaric
crashes on it, so the sandbox ends runtimes with signals instead.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .api_types import ACCEPTED, ApiResponse, error

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
_ERROR_TYPE = re.compile(r"(Runtime|Function)\.[A-Z][a-zA-Z]+")


@dataclass
class Invocation:
    """One invoke as delivered to the runtime, and what the runtime answered."""

    request_id: str
    payload: bytes
    deadline_ms: int
    function_arn: str
    trace_header: str | None = None
    client_context: str | None = None
    response: bytes | None = None
    error: dict[str, Any] | None = None
    error_type: str | None = None
    xray_cause: str | None = None
    answered_at: float | None = None
    answered: threading.Event = field(default_factory=threading.Event)

    def headers(self) -> dict[str, str]:
        """The `next` response headers, empty ones omitted as Lambda does."""
        headers = {
            "Content-Type": "application/json",
            "Lambda-Runtime-Aws-Request-Id": self.request_id,
            "Lambda-Runtime-Deadline-Ms": str(self.deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": self.function_arn,
            "Lambda-Runtime-Trace-Id": self.trace_header or "",
            "Lambda-Runtime-Client-Context": self.client_context or "",
        }
        return {key: value for key, value in headers.items() if value}


def normalise_error_type(value: str | None) -> str | None:
    """Lambda keeps `Category.Reason` error types and folds anything else to `.Unknown`."""
    if value is None:
        return None
    if _ERROR_TYPE.fullmatch(value):
        return value
    return "Function.Unknown" if value.startswith("Function") else "Runtime.Unknown"


def decode_error_body(body: bytes) -> dict[str, Any]:
    """The error document the caller gets; a non-JSON body is passed on as its message."""
    try:
        document = json.loads(body)
    except ValueError:
        return {"errorMessage": body.decode("utf-8", "replace")}
    if isinstance(document, dict):
        document.pop("errorCause", None)
        return document
    return {"errorMessage": document}


class RuntimeApi:
    """The Runtime API as one runtime process sees it, from init to its end."""

    def __init__(self, cond: threading.Condition | None = None) -> None:
        self._cond = cond or threading.Condition()
        self._pending: Invocation | None = None
        self._current: Invocation | None = None
        self._closed = False
        self.next_calls = 0
        self.last_next_at = 0.0  # monotonic time of the latest `next` call
        self.init_error: dict[str, Any] | None = None
        self.init_error_type: str | None = None

    # -- endpoints -------------------------------------------------------------------------
    def next(self) -> ApiResponse:
        """GET /runtime/invocation/next: long-poll until the sandbox delivers an invoke."""
        with self._cond:
            if self._current is not None and not self._current.answered.is_set():
                return self._transition_error("next", "response")
            self._current = None
            self.next_calls += 1
            self.last_next_at = time.monotonic()
            self._cond.notify_all()
            self._cond.wait_for(lambda: self._pending is not None or self._closed)
            if self._closed:
                return error(403, "InvalidStateTransition", "The execution environment is gone")
            invocation, self._pending = self._pending, None
            self._current = invocation
        return ApiResponse(200, invocation.payload, invocation.headers())

    def respond(self, request_id: str, body: bytes, headers: Mapping[str, str]) -> ApiResponse:
        """POST /runtime/invocation/{id}/response."""
        mode = headers.get("Lambda-Runtime-Function-Response-Mode")
        if mode is not None and mode.lower() != "streaming":
            return error(400, "InvalidFunctionResponseMode", f"Invalid response mode: {mode}")
        if len(body) > MAX_PAYLOAD_BYTES:
            return self._refuse_oversized(request_id, len(body))
        return self._answer(request_id, "response", lambda inv: setattr(inv, "response", body))

    def fail(self, request_id: str, body: bytes, headers: Mapping[str, str]) -> ApiResponse:
        """POST /runtime/invocation/{id}/error; the error-type header is optional."""

        def record(invocation: Invocation) -> None:
            invocation.error = decode_error_body(body)
            invocation.error_type = normalise_error_type(
                headers.get("Lambda-Runtime-Function-Error-Type")
            )
            invocation.xray_cause = headers.get("Lambda-Runtime-Function-XRay-Error-Cause")

        return self._answer(request_id, "error", record)

    def fail_init(self, body: bytes, headers: Mapping[str, str]) -> ApiResponse:
        """POST /runtime/init/error: only before the runtime's first `next`."""
        with self._cond:
            if self.next_calls or self.init_error is not None:
                return self._transition_error("init error", "ready")
            self.init_error = decode_error_body(body)
            self.init_error_type = normalise_error_type(
                headers.get("Lambda-Runtime-Function-Error-Type")
                or self.init_error.get("errorType")
            )
            self._cond.notify_all()
        return ACCEPTED

    # -- sandbox side ----------------------------------------------------------------------
    def deliver(self, invocation: Invocation) -> None:
        """Hand an invocation to the runtime's waiting (or next) `next` call."""
        with self._cond:
            self._pending = invocation
            self._cond.notify_all()

    def wait_ready(self, next_calls: int, timeout: float) -> bool:
        """Wait until the runtime has called `next` `next_calls` times (or posted an init error)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            return self._cond.wait_for(
                lambda: self.next_calls >= next_calls or self.init_error is not None,
                max(0.0, deadline - time.monotonic()),
            )

    def close(self) -> None:
        """Release any handler still waiting: the runtime process is gone."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    # -- helpers ---------------------------------------------------------------------------
    def _refuse_oversized(self, request_id: str, size: int) -> ApiResponse:
        """413 to the runtime; the invoke ends there, with the error Lambda gives the caller."""

        def record(invocation: Invocation) -> None:
            invocation.error = {
                "errorType": "Function.ResponseSizeTooLarge",
                "errorMessage": f"Response payload size ({size} bytes) exceeded maximum "
                f"allowed payload size ({MAX_PAYLOAD_BYTES} bytes).",
            }
            invocation.error_type = "Function.ResponseSizeTooLarge"

        answered = self._answer(request_id, "response", record)
        if answered.status != ACCEPTED.status:
            return answered
        return error(
            413,
            "RequestEntityTooLarge",
            f"Exceeded maximum allowed payload size ({MAX_PAYLOAD_BYTES} bytes).",
        )

    def _answer(self, request_id: str, what: str, record: Any) -> ApiResponse:
        with self._cond:
            invocation = self._current
            if invocation is None:
                return self._transition_error(what, "ready")
            if request_id != invocation.request_id:
                return error(400, "InvalidRequestID", "Invalid request ID")
            if invocation.answered.is_set():
                return self._transition_error(what, "response sent")
            record(invocation)
            invocation.answered_at = time.monotonic()
            invocation.answered.set()
        return ACCEPTED

    @staticmethod
    def _transition_error(to: str, state: str) -> ApiResponse:
        return error(
            403,
            "InvalidStateTransition",
            f"State transition from {state} to {to} failed for runtime. "
            "Error: State transition is not allowed",
        )
