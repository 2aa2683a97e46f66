"""A DynamoDB ``GetItem`` answered inside the process, for per-call CPU figures.

botocore still serializes, signs and parses (and every tracer still wraps the call); only the
socket is skipped, so the time left is the call's own CPU work without the noise of a network
round trip. Shared by the benchmark function (per-call figures under each configuration) and
``bench/botocore_overhead.py`` (the layer's patch switched off and on in one process).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.awsrequest import AWSResponse

ITEM_BODY = b'{"Item": {"id": {"S": "1"}, "n": {"N": "7"}}}'
HEADERS = {"x-amzn-RequestId": "bench", "Content-Type": "application/x-amz-json-1.0"}


class _Raw:
    """The raw body botocore streams a response from."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: object) -> Iterator[bytes]:
        yield self.body


def answer_in_process(client: Any) -> None:
    """Answer every GetItem of ``client`` before it is sent, with one stored item."""

    def answer(request: Any, **_: object) -> AWSResponse:
        return AWSResponse(request.url, 200, HEADERS, _Raw(ITEM_BODY))

    client.meta.events.register("before-send.dynamodb.GetItem", answer)
