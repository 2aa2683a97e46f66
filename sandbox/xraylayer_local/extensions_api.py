"""Extensions API 2020-01-01: registration, events and errors (lambda-platform.md §2).

One `ExtensionsApi` lives for one execution environment (init to reset or shutdown). Handlers
return `ApiResponse`; `next` blocks until the sandbox queues an event for that extension.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .api_types import ACCEPTED, ApiResponse, error

EVENT_TYPES = frozenset({"INVOKE", "SHUTDOWN"})
MAX_EXTENSIONS = 10


@dataclass
class Extension:
    """One registered extension and the events waiting for it."""

    identifier: str
    name: str
    events: frozenset[str]
    internal: bool
    queue: deque[dict[str, Any]] = field(default_factory=deque)
    waiting: bool = False  # blocked in event/next with nothing queued
    next_calls: int = 0
    last_next_at: float = 0.0  # monotonic time of the latest `next` call
    error_type: str | None = None  # from init/error or exit/error

    @property
    def ready(self) -> bool:
        """It has taken every event given to it and is back in `next`."""
        return self.waiting and not self.queue


@dataclass(frozen=True)
class FunctionInfo:
    """What `register` tells an extension about the function."""

    function_name: str
    function_version: str
    handler: str
    account_id: str = "123456789012"


class ExtensionsApi:
    """Registration and event delivery for one execution environment's extensions."""

    def __init__(
        self,
        external_names: Iterable[str],
        function: FunctionInfo,
        cond: threading.Condition | None = None,
    ) -> None:
        self._cond = cond or threading.Condition()
        self._external = frozenset(external_names)
        self._function = function
        self._by_id: dict[str, Extension] = {}
        self._registration_open = True
        self._closed = False

    # -- endpoints -------------------------------------------------------------------------
    def register(self, headers: Mapping[str, str], body: bytes) -> ApiResponse:
        """POST /extension/register."""
        name = headers.get("Lambda-Extension-Name", "")
        if not name:
            return error(403, "Extension.InvalidExtensionName", "Empty extension name")
        events = _requested_events(body)
        if isinstance(events, ApiResponse):
            return events
        internal = name not in self._external
        if internal and "SHUTDOWN" in events:
            return error(
                403,
                "Extension.InvalidEventType",
                f"Internal extension {name} cannot register for SHUTDOWN",
            )
        with self._cond:
            refusal = self._registration_refusal(name)
            if refusal is not None:
                return refusal
            extension = Extension(str(uuid.uuid4()), name, events, internal)
            self._by_id[extension.identifier] = extension
            self._cond.notify_all()
        return ApiResponse(
            200,
            self._register_body(headers.get("Lambda-Extension-Accept-Feature", "")),
            {"Lambda-Extension-Identifier": extension.identifier},
        )

    def next(self, headers: Mapping[str, str]) -> ApiResponse:
        """GET /extension/event/next: long-poll until an event is queued for this extension."""
        extension = self.lookup(headers)
        if isinstance(extension, ApiResponse):
            return extension
        with self._cond:
            extension.next_calls += 1
            extension.last_next_at = time.monotonic()
            extension.waiting = True
            self._cond.notify_all()
            self._cond.wait_for(lambda: bool(extension.queue) or self._closed)
            extension.waiting = False
            if not extension.queue:
                return error(403, "Extension.InvalidExtensionState", "Environment is gone")
            event = extension.queue.popleft()
            self._cond.notify_all()
        return ApiResponse(200, event, {"Lambda-Extension-Event-Identifier": str(uuid.uuid4())})

    def report_error(self, headers: Mapping[str, str], body: bytes, phase: str) -> ApiResponse:
        """POST /extension/init/error or /extension/exit/error (`phase` is init or exit)."""
        extension = self.lookup(headers)
        if isinstance(extension, ApiResponse):
            return extension
        error_type = headers.get("Lambda-Extension-Function-Error-Type")
        if not error_type:
            return error(
                403, "Extension.MissingHeader", "Lambda-Extension-Function-Error-Type is required"
            )
        with self._cond:
            extension.error_type = f"{phase}:{error_type}"
            self._cond.notify_all()
        return ACCEPTED

    def lookup(self, headers: Mapping[str, str]) -> Extension | ApiResponse:
        """The extension named by the identifier header, or the 403 Lambda answers with."""
        identifier = headers.get("Lambda-Extension-Identifier")
        if not identifier:
            return error(
                403, "Extension.MissingExtensionIdentifier", "Missing extension identifier"
            )
        try:
            uuid.UUID(identifier)
        except ValueError:
            return error(
                403, "Extension.InvalidExtensionIdentifier", "Invalid extension identifier"
            )
        extension = self._by_id.get(identifier)
        if extension is None:
            return error(
                403, "Extension.UnknownExtensionIdentifier", "Unknown extension identifier"
            )
        return extension

    # -- sandbox side ----------------------------------------------------------------------
    def registered_names(self) -> set[str]:
        """Names of the extensions that have registered so far."""
        with self._cond:
            return {extension.name for extension in self._by_id.values()}

    def extensions(self) -> list[Extension]:
        """Every registered extension, in registration order."""
        with self._cond:
            return list(self._by_id.values())

    def close_registration(self) -> None:
        """Init is over: later `register` calls are refused."""
        with self._cond:
            self._registration_open = False

    def deliver(self, event: dict[str, Any]) -> list[str]:
        """Queue `event` for every extension subscribed to its type; returns their names."""
        with self._cond:
            receivers = [e for e in self._by_id.values() if event["eventType"] in e.events]
            for extension in receivers:
                extension.queue.append(event)
            self._cond.notify_all()
        return [extension.name for extension in receivers]

    def wait_until(self, predicate: Any, timeout: float) -> bool:
        """Wait (bounded) until `predicate(extensions)` holds; re-checked on every API call."""
        deadline = time.monotonic() + timeout
        with self._cond:
            return self._cond.wait_for(
                lambda: predicate(list(self._by_id.values())),
                max(0.0, deadline - time.monotonic()),
            )

    def poke(self) -> None:
        """Wake waiters so they re-check conditions that depend on things outside the API."""
        with self._cond:
            self._cond.notify_all()

    def close(self) -> None:
        """Release handlers still blocked in `next`: the environment is gone."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    # -- helpers ---------------------------------------------------------------------------
    def _registration_refusal(self, name: str) -> ApiResponse | None:
        if not self._registration_open:
            return error(403, "Extension.RegistrationClosed", "Registration is closed")
        if any(extension.name == name for extension in self._by_id.values()):
            return error(
                403, "Extension.InvalidExtensionState", f"Extension {name} is already registered"
            )
        if len(self._by_id) >= MAX_EXTENSIONS:
            return error(
                403, "Extension.TooManyExtensions", f"Max {MAX_EXTENSIONS} extensions allowed"
            )
        return None

    def _register_body(self, accept_feature: str) -> dict[str, str]:
        body = {
            "functionName": self._function.function_name,
            "functionVersion": self._function.function_version,
            "handler": self._function.handler,
        }
        features = {part.strip() for part in accept_feature.split(",")}
        if "accountId" in features:
            body["accountId"] = self._function.account_id
        return body


def _requested_events(body: bytes) -> frozenset[str] | ApiResponse:
    """The `events` of a register body, or the 403 a malformed body gets."""
    if not body.strip():
        return frozenset()
    try:
        document = json.loads(body)
    except ValueError:
        return error(403, "InvalidRequestFormat", "Register body is not valid JSON")
    if not isinstance(document, dict) or "configurationKeys" in document:
        return error(403, "InvalidRequestFormat", 'Register body must be {"events": [...]}')
    events = document.get("events", [])
    if not isinstance(events, list) or any(event not in EVENT_TYPES for event in events):
        return error(403, "Extension.InvalidEventType", f"Invalid event types: {events}")
    return frozenset(events)
