"""moto's request recorder, for tests that check what reached AWS on the wire (moto drops some
fields, e.g. the system attributes of SendMessageBatch entries, so its stored state cannot say).

A module that records starts a moto server of its own (``recording_server``): moto reads
MOTO_RECORDER_FILEPATH at start (default ./moto_recording), and a shared server would record
other modules' calls too.
"""

from __future__ import annotations

import base64
import json
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from xraylayer_local.moto_server import MotoServer

_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@contextmanager
def recording_server(folder: Path) -> Iterator[MotoServer]:
    """A moto server whose recorder writes into ``folder``."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MOTO_RECORDER_FILEPATH", str(folder / "recording.jsonl"))
        server = MotoServer().start()
    try:
        yield server
    finally:
        server.stop()


def _recorder(moto: MotoServer, action: str) -> str:
    """One call of moto's request recorder API (``/moto-api/recorder/<action>``)."""
    with _NO_PROXY.open(f"{moto.endpoint_url}/moto-api/recorder/{action}", data=b"") as answer:
        return answer.read().decode()


@contextmanager
def recording(moto: MotoServer) -> Iterator[list[dict[str, Any]]]:
    """The requests moto receives inside the block, filled in when it ends."""
    _recorder(moto, "reset-recording")
    _recorder(moto, "start-recording")
    requests: list[dict[str, Any]] = []
    try:
        yield requests
    finally:
        _recorder(moto, "stop-recording")
    lines = _recorder(moto, "download-recording").splitlines()
    requests.extend(json.loads(line) for line in lines if line.strip())


def json_bodies(requests: list[dict[str, Any]], target: str) -> list[dict[str, Any]]:
    """The JSON bodies of the recorded requests for one JSON-protocol operation (its
    ``X-Amz-Target``, e.g. ``AWSEvents.PutEvents``); the recorder keeps bodies base64."""
    bodies = []
    for request in requests:
        headers = {name.lower(): value for name, value in request["headers"].items()}
        if headers.get("x-amz-target") != target:
            continue
        body = request["body"]
        bodies.append(json.loads(base64.b64decode(body) if request["body_encoded"] else body))
    return bodies
