"""Helpers of the sandbox contract tests: fixture paths, the probe's log, a sandbox harness.

Every test here runs the real awslambdaric runtime client in the local sandbox. The test layer
(`fixtures/layer`) holds an exec wrapper and the `probe` extension, which writes everything the
platform tells it as JSON lines; `ProbeLog` reads them back.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from xraylayer_local.results import ShutdownResult
from xraylayer_local.sandbox import Sandbox

FIXTURES = Path(__file__).parent / "fixtures"
FUNCTIONS = FIXTURES / "functions"
LAYER = FIXTURES / "layer"
USER_LAYER = FIXTURES / "user_layer"
PYTHON = "3.11"  # the version the user layer fixture is packaged for
WRAPPER = "/opt/wrapper.sh"

T = TypeVar("T")


def wait_for(condition: Callable[[], T], timeout: float = 10.0, message: str = "condition") -> T:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {message}")
        time.sleep(0.02)


class ProbeLog:
    """The records the probe extension wrote (see fixtures/layer/extensions/probe)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def records(self, kind: str | None = None) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        lines = self.path.read_text().splitlines()
        # A line being written right now may be incomplete: only complete lines count.
        parsed = []
        for line in lines:
            try:
                parsed.append(json.loads(line))
            except ValueError:
                continue
        return [r for r in parsed if kind is None or r["kind"] == kind]

    def events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        """Extension API events (INVOKE / SHUTDOWN) in arrival order."""
        found = [r["event"] for r in self.records("event") if r["status"] == 200]
        return [e for e in found if event_type is None or e.get("eventType") == event_type]

    def checks(self) -> dict[str, dict[str, Any]]:
        return {r["name"]: r for r in self.records("check")}

    def telemetry(self) -> list[dict[str, Any]]:
        """Telemetry events received, each with ``received`` = arrival time of its batch."""
        return [
            {**event, "received": batch["t"]}
            for batch in self.records("telemetry")
            for event in batch["batch"]
        ]

    def telemetry_of(self, event_type: str) -> list[dict[str, Any]]:
        return [event for event in self.telemetry() if event["type"] == event_type]


@dataclass
class Harness:
    """A sandbox with the test layer, the probe's log and the wrapper's record."""

    sandbox: Sandbox
    probe: ProbeLog
    wrapper_out: Path
    tmp: Path
    shutdown_result: ShutdownResult | None = None
    shutdown_seconds: float = 0.0
    _closed: bool = field(default=False, repr=False)

    def invoke(self, event: Any = None, **kwargs: Any) -> Any:
        return self.sandbox.invoke({} if event is None else event, **kwargs)

    def shutdown(self) -> ShutdownResult:
        if not self._closed:
            self._closed = True
            started = time.monotonic()
            self.shutdown_result = self.sandbox.shutdown()
            self.shutdown_seconds = time.monotonic() - started
        assert self.shutdown_result is not None
        return self.shutdown_result

    def wrapper_starts(self) -> list[dict[str, Any]]:
        """One entry per wrapper start: time ``t``, ``argc`` and ``args``."""
        if not self.wrapper_out.exists():
            return []
        starts: list[dict[str, Any]] = []
        for line in self.wrapper_out.read_text().splitlines():
            key, _, value = line.partition("=")
            if key == "t":
                starts.append({"t": float(value), "argc": None, "args": []})
            elif key == "argc":
                starts[-1]["argc"] = int(value)
            elif key == "arg":
                starts[-1]["args"].append(value)
        return starts


def parse_header(value: str) -> dict[str, str]:
    """An X-Amzn-Trace-Id header as a dict (test-side parser, deliberately naive)."""
    return dict(part.split("=", 1) for part in value.split(";") if "=" in part)
