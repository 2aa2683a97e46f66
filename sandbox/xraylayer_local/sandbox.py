"""One local Lambda execution environment: init, invoke, freeze, reset and shutdown.

INTERFACE STUB: the implementation is being written; the signatures below are the contract.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .results import InvokeResult, ShutdownResult


class Sandbox:
    """A Lambda execution environment on this machine, following the documented contract.

    ``layers`` are folders or zips merged (later wins) into one folder that stands in for
    ``/opt``; env values that start with ``/opt/`` (such as ``AWS_LAMBDA_EXEC_WRAPPER``) are
    rewritten to point into it. ``python`` is a version such as ``"3.12"`` (the matching
    interpreter is found by its real path and given a clean environment with ``awslambdaric``
    and boto3, like the managed runtime) or an interpreter path.

    Init happens on the first ``invoke`` (on-demand) or on ``start()``. Between invokes every
    process of the environment is stopped with SIGSTOP unless ``freeze=False``.
    """

    def __init__(
        self,
        function_dir: str | Path,
        handler: str,
        *,
        layers: Sequence[str | Path] = (),
        env: Mapping[str, str] | None = None,
        python: str | None = None,
        timeout_s: float = 3.0,
        memory_mb: int = 128,
        tracing: str = "PassThrough",  # or "Active"
        freeze: bool = True,
        function_name: str = "local-function",
        region: str = "us-east-1",
        init_timeout_s: float = 10.0,
    ) -> None:
        raise NotImplementedError

    # Addresses, for tests and for pointing clients at the sandbox.
    runtime_api: str  # "127.0.0.1:PORT", the AWS_LAMBDA_RUNTIME_API value
    daemon: Any  # XRayDaemon: .documents (list of dicts), .rejected (int), .address

    def start(self) -> None:
        """Initialise now (as provisioned concurrency would) instead of on the first invoke."""
        raise NotImplementedError

    def invoke(
        self,
        event: Any = None,
        *,
        payload: bytes | None = None,
        trace_header: str | None = None,
        client_context: Mapping[str, Any] | None = None,
    ) -> InvokeResult:
        """Run one invocation; ``event`` is JSON-encoded unless ``payload`` gives raw bytes."""
        raise NotImplementedError

    def shutdown(self) -> ShutdownResult:
        """Spin the environment down as Lambda does (SIGTERM, SHUTDOWN, SIGKILL at deadline)."""
        raise NotImplementedError

    @property
    def telemetry(self) -> list[dict[str, Any]]:
        """Every Telemetry API event the platform produced so far, in order."""
        raise NotImplementedError

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
