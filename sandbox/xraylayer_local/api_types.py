"""The answer type every API handler returns, and the error documents Lambda's APIs use."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ApiResponse:
    """One HTTP answer: status, body (bytes, or anything JSON-encodable) and headers."""

    status: int
    body: Any = b""
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> tuple[bytes, dict[str, str]]:
        """The body as bytes and the headers, with a JSON content type for non-bytes bodies."""
        if isinstance(self.body, bytes):
            return self.body, dict(self.headers)
        headers = {"Content-Type": "application/json", **self.headers}
        return json.dumps(self.body).encode(), headers


def error(status: int, error_type: str, message: str) -> ApiResponse:
    """An API error in the `{"errorType", "errorMessage"}` shape all three APIs answer with."""
    return ApiResponse(status, {"errorType": error_type, "errorMessage": message})


ACCEPTED = ApiResponse(202, {"status": "OK"})
