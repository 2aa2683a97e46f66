"""What an invocation and a shutdown look like to the caller of the local sandbox."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class InvokeResult:
    """One invocation as the caller and the platform saw it.

    ``payload`` is the raw response body the runtime posted (``None`` on error); ``error`` is the
    error document the caller gets (``errorType``, ``errorMessage``, ``stackTrace`` where the
    runtime sent them), as Lambda returns it with ``FunctionError: Unhandled``.
    """

    request_id: str
    status: str  # success | error | timeout | failure, as in platform.runtimeDone
    payload: bytes | None = None
    error: dict[str, Any] | None = None
    error_type: str | None = None  # as reported by platform.report, e.g. Runtime.ExitError
    cold: bool = False
    init_duration_ms: float | None = None
    duration_ms: float = 0.0  # invoke start to runtime response (platform.runtimeDone)
    response_latency_ms: float = 0.0  # invoke() call to response, as the caller sees it
    post_runtime_ms: float = 0.0  # response to end of the invoke phase (extensions' work)
    max_memory_used_mb: int = 0
    trace_header: str | None = None  # what the runtime got in Lambda-Runtime-Trace-Id
    segments: list[dict[str, Any]] = field(default_factory=list)  # daemon documents of this invoke
    logs: list[str] = field(default_factory=list)  # function and extension log lines of this invoke

    @property
    def response(self) -> Any:
        """The response payload decoded as JSON (what a JSON-speaking caller sees)."""
        if self.payload is None:
            return None
        return json.loads(self.payload)


@dataclass
class ShutdownResult:
    """How the environment went down: who exited by themselves and who had to be killed."""

    reason: str
    runtime_exit_code: int | None
    extension_exit_codes: dict[str, int | None]
    killed: list[str] = field(default_factory=list)
