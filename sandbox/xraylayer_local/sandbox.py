"""One local Lambda execution environment: init, invoke, freeze, reset and shutdown.

The lifecycle follows lambda-platform.md §2.4 and the checklist in §8: extensions start in
parallel and must all register before the runtime starts; an invoke ends for the caller when
the runtime answers, and for the environment when the runtime and every INVOKE-subscribed
extension are back in `next`; a timeout, crash or out-of-memory resets the environment, so the
next invoke is a cold start.
"""

from __future__ import annotations

import json
import math
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from xraylayer.trace_header import TraceHeader, new_id, new_trace_id, parse

from .api_server import ApiServer
from .api_types import ApiResponse, error
from .environment import FunctionConfig, extension_environment, runtime_environment
from .extensions_api import ExtensionsApi, FunctionInfo
from .lambda_segments import LambdaTraceIds, daemon_datagram, lambda_segments
from .layers import merge_layers
from .processes import Process
from .results import InvokeResult, ShutdownResult
from .runtime_api import Invocation, RuntimeApi
from .runtimes import provision, render_runtime_dir
from .telemetry_delivery import SubscriptionInvalid, TelemetryDispatcher, validate_subscription
from .telemetry_delivery import event as telemetry_event
from .xray_daemon import XRayDaemon

ACCOUNT_ID = "123456789012"
SHUTDOWN_EXTERNAL_MS = 2000  # with at least one external extension (§2.4)
MAX_XRAY_CAUSE_BYTES = 64 * 1024  # Lambda crops the runtime's X-Ray error cause to this
RUNTIME_GRACE_S = 0.3  # the part of it reserved for the runtime's SIGTERM
_WATCH_INTERVAL_S = 0.02  # how often process exits and memory are checked while waiting


class _Environment:
    """One execution environment's API state and processes, from init to its end."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.cond = threading.Condition()
        self.runtime = RuntimeApi(self.cond)
        self.extensions = ExtensionsApi(
            sandbox.external_extensions(),
            FunctionInfo(sandbox.function_name, "$LATEST", sandbox.handler, ACCOUNT_ID),
            self.cond,
        )
        self.runtime_process: Process | None = None
        self.extension_processes: dict[str, Process] = {}
        self.telemetry_start = len(sandbox.telemetry)  # this environment's events start here
        self._sandbox = sandbox

    def processes(self) -> list[Process]:
        runtime = [self.runtime_process] if self.runtime_process else []
        return runtime + list(self.extension_processes.values())

    def subscribe_telemetry(self, headers: Mapping[str, str], body: bytes) -> ApiResponse:
        """PUT /2022-07-01/telemetry: only a registered extension, only during its init."""
        extension = self.extensions.lookup(headers)
        if isinstance(extension, ApiResponse):
            return extension
        if extension.next_calls:
            return error(403, "Telemetry.SubscriptionClosed", "Subscribe during init only")
        try:
            subscription = validate_subscription(json.loads(body))
        except (ValueError, SubscriptionInvalid) as exc:
            return error(400, "ValidationError", str(exc))
        self._sandbox.subscribe(extension.name, subscription, self.telemetry_start)
        return ApiResponse(200, "OK")


class _Watch:
    """Why a wait for the environment ended early."""

    TIMEOUT = "timeout"
    RUNTIME_EXIT = "runtime-exit"
    EXTENSION_EXIT = "extension-exit"
    OUT_OF_MEMORY = "out-of-memory"


class Sandbox:
    """A Lambda execution environment on this machine, following the documented contract.

    ``layers`` are folders or zips merged (later wins) into one folder that stands in for
    ``/opt``; env values that start with ``/opt/`` (such as ``AWS_LAMBDA_EXEC_WRAPPER``) are
    rewritten to point into it. ``python`` is a version such as ``"3.12"``: the matching
    interpreter, found by its real path, gets a clean environment with ``awslambdaric`` and
    boto3 only, like the managed runtime.

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
        tracing: str = "PassThrough",
        freeze: bool = True,
        function_name: str = "local-function",
        region: str = "us-east-1",
        init_timeout_s: float = 10.0,
        log_sink: Callable[[str, str], None] | None = None,
    ) -> None:
        if tracing not in ("Active", "PassThrough"):
            raise ValueError(f"tracing must be Active or PassThrough, not {tracing!r}")
        self.handler = handler
        self.function_name = function_name
        self.function_arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{function_name}"
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self.tracing = tracing
        self.freeze_between_invokes = freeze
        self.init_timeout_s = init_timeout_s
        self.telemetry: list[dict[str, Any]] = []
        self.logs: list[tuple[str, str]] = []
        self._log_sink = log_sink
        self._lock = threading.Lock()
        self._telemetry_lock = threading.Lock()  # log pumps emit too: keep one order for all
        self._env: _Environment | None = None
        self._ending: _Environment | None = None  # being torn down: its extensions still call
        self._closed = False
        self._init_duration_ms = 0.0
        self._init_start_wall = self._init_end_wall = 0.0

        self._workdir = Path(tempfile.mkdtemp(prefix="xraylayer-local-"))
        self.opt_dir = merge_layers(layers, self._workdir / "opt")
        self.task_root = Path(function_dir).resolve()
        self.runtime = provision(python or f"{sys.version_info[0]}.{sys.version_info[1]}")
        self._bootstrap = render_runtime_dir(self._workdir / "runtime", self.runtime, self.opt_dir)
        self.daemon = XRayDaemon()
        self.daemon.start()
        self._telemetry = TelemetryDispatcher()
        self._server = ApiServer(lambda: self._env or self._ending or _Environment(self))
        self.runtime_api = self._server.address
        self._config = FunctionConfig(
            function_name=function_name,
            handler=handler,
            region=region,
            memory_mb=memory_mb,
            task_root=self.task_root,
            runtime_dir=self._bootstrap.parent,
            lang_bin=self.runtime.lang_bin,
            opt_dir=self.opt_dir,
            tmp_dir=self._tmp_dir(),
            runtime_api=self.runtime_api,
            daemon_address=self.daemon.address,
            customer_env=dict(env or {}),
        )

    def _tmp_dir(self) -> Path:
        folder = self._workdir / "tmp"
        folder.mkdir(mode=0o700)
        return folder

    # -- public API ------------------------------------------------------------------------
    def external_extensions(self) -> list[str]:
        """File names in the layer's extensions/ folder: each is started as an extension."""
        folder = self.opt_dir / "extensions"
        if not folder.is_dir():
            return []
        return sorted(path.name for path in folder.iterdir() if path.is_file())

    def processes(self) -> tuple[list[Process], list[Process]]:
        """The live environment's runtime process and its extension processes (both empty
        between environments), for figures such as their memory and CPU time apart."""
        environment = self._env
        if environment is None or environment.runtime_process is None:
            return [], []
        return [environment.runtime_process], list(environment.extension_processes.values())

    def start(self, initialization_type: str = "provisioned-concurrency") -> InvokeResult | None:
        """Initialise now, as provisioned concurrency does; returns the failure, if any."""
        with self._lock:
            failure = self._init(initialization_type)
            if failure is None:
                self._freeze()
            return failure

    def invoke(
        self,
        event: Any = None,
        *,
        payload: bytes | None = None,
        trace_header: str | None = None,
        client_context: Mapping[str, Any] | None = None,
    ) -> InvokeResult:
        """Run one invocation; ``event`` is JSON-encoded unless ``payload`` gives raw bytes."""
        body = payload if payload is not None else json.dumps(event).encode()
        with self._lock:
            called = time.monotonic()
            cold = self._env is None
            if cold:
                failure = self._init("on-demand")
                if failure is not None:
                    return failure
            else:
                self._thaw()
            return self._run_invocation(body, trace_header, client_context, called, cold)

    def shutdown(self) -> ShutdownResult:
        """Spin the environment down as Lambda does, then release the sandbox's resources."""
        with self._lock:
            result = self._teardown("spindown")
            if not self._closed:
                self._closed = True
                self._telemetry.close()
                self._server.close()
                self.daemon.close()
                shutil.rmtree(self._workdir, ignore_errors=True)
            return result

    def subscribe(self, name: str, subscription: Any, since: int) -> None:
        """Register a Telemetry API subscriber and replay this environment's events so far."""
        with self._telemetry_lock:
            self._telemetry.subscribe(name, subscription)
            for event in self.telemetry[since:]:
                self._telemetry.emit(event, only=name)
        self._emit(
            "platform.telemetrySubscription",
            {"name": name, "state": "Subscribed", "types": sorted(subscription.types)},
        )

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    # -- init ------------------------------------------------------------------------------
    def _init(self, initialization_type: str) -> InvokeResult | None:
        """Start extensions, then the runtime; a failure comes back as the invoke's result."""
        env = self._env = _Environment(self)
        init_start = time.monotonic()
        self._init_start_wall = time.time()
        self._emit(
            "platform.initStart",
            {
                "initializationType": initialization_type,
                "phase": "init",
                "runtimeVersion": f"python:{self.runtime.version}",
                "functionName": self.function_name,
                "functionVersion": "$LATEST",
            },
        )
        deadline = init_start + self.init_timeout_s
        failure = self._start_extensions(env, deadline) or self._start_runtime(
            env, deadline, initialization_type
        )
        self._init_duration_ms = (time.monotonic() - init_start) * 1000
        self._init_end_wall = time.time()
        status = "success" if failure is None else "error"
        done: dict[str, Any] = {
            "initializationType": initialization_type,
            "phase": "init",
            "status": status,
        }
        if failure is not None:
            done["errorType"] = failure.error_type
        self._emit("platform.initRuntimeDone", done)
        self._emit(
            "platform.initReport",
            {**done, "metrics": {"durationMs": round(self._init_duration_ms, 3)}},
        )
        if failure is not None:
            failure.cold = True
            failure.init_duration_ms = self._init_duration_ms
            self._teardown("failure")
        return failure

    def _start_extensions(self, env: _Environment, deadline: float) -> InvokeResult | None:
        extension_env = extension_environment(runtime_environment(self._config))
        for name in self.external_extensions():
            try:
                env.extension_processes[name] = Process(
                    name,
                    [str(self.opt_dir / "extensions" / name)],
                    env=extension_env,
                    cwd=self.task_root,
                    on_line=self._log_line,
                )
            except OSError as exc:
                return self._init_failure("Extension.LaunchError", f"{name}: {exc}")
        expected = set(env.extension_processes)
        why = self._watch(env, lambda: expected <= env.extensions.registered_names(), deadline)
        if why is not None:
            return self._init_failure(
                _init_error_type(why, "Extension"), "Extensions did not all register: " + why
            )
        return None

    def _start_runtime(
        self, env: _Environment, deadline: float, initialization_type: str
    ) -> InvokeResult | None:
        runtime_env = runtime_environment(self._config)
        runtime_env["AWS_LAMBDA_INITIALIZATION_TYPE"] = initialization_type
        env.runtime_process = Process(
            "runtime",
            [str(self._bootstrap)],
            env=runtime_env,
            cwd=self.task_root,
            on_line=self._log_line,
        )
        why = self._watch(
            env,
            lambda: (
                (env.runtime.next_calls >= 1 or env.runtime.init_error is not None)
                and all(extension.ready for extension in env.extensions.extensions())
            ),
            deadline,
        )
        env.extensions.close_registration()
        if env.runtime.init_error is not None:
            document = env.runtime.init_error
            return self._init_failure(
                env.runtime.init_error_type or "Runtime.Unknown",
                document.get("errorMessage", ""),
                document,
            )
        if why is not None:
            return self._init_failure(
                _init_error_type(why, "Runtime"), self._exit_message(env, "init", why)
            )
        for extension in env.extensions.extensions():
            self._emit(
                "platform.extension",
                {"name": extension.name, "state": "Ready", "events": sorted(extension.events)},
            )
        return None

    def _init_failure(
        self, error_type: str, message: str, document: dict[str, Any] | None = None
    ) -> InvokeResult:
        return InvokeResult(
            request_id=str(uuid.uuid4()),
            status="error",
            error=document or {"errorType": error_type, "errorMessage": message},
            error_type=error_type,
        )

    # -- invoke ----------------------------------------------------------------------------
    def _run_invocation(
        self,
        body: bytes,
        trace_header: str | None,
        client_context: Mapping[str, Any] | None,
        called: float,
        cold: bool,
    ) -> InvokeResult:
        env = self._env
        assert env is not None
        trace = _TraceContext.for_invoke(self.tracing, trace_header)
        start, start_wall = time.monotonic(), time.time()
        invocation = Invocation(
            request_id=str(uuid.uuid4()),
            payload=body,
            deadline_ms=int((start_wall + self.timeout_s) * 1000),
            function_arn=self.function_arn,
            trace_header=trace.runtime_header,
            client_context=json.dumps(client_context) if client_context is not None else None,
        )
        log_mark, daemon_mark = len(self.logs), self.daemon.mark()
        self._emit("platform.start", {"requestId": invocation.request_id, "version": "$LATEST"})
        self._deliver_invoke_event(env, invocation, trace)
        runtime_calls = env.runtime.next_calls
        env.runtime.deliver(invocation)

        deadline = start + self.timeout_s
        why = self._watch(env, invocation.answered.is_set, deadline)
        result = self._answer(invocation, why, start)
        result.cold = cold
        result.init_duration_ms = self._init_duration_ms if cold else None
        self._emit_runtime_done(result, invocation, start, trace)
        if why is None:
            why = self._watch(
                env,
                lambda: (
                    env.runtime.next_calls > runtime_calls
                    and all(extension.ready for extension in env.extensions.extensions())
                ),
                deadline,
            )
            if why is not None:
                result.status = "timeout" if why == _Watch.TIMEOUT else "failure"
                result.error_type = _phase_error_type(why)
        phase_end = self._phase_end(env, why)
        result.post_runtime_ms = max(
            0.0, (phase_end - (invocation.answered_at or phase_end)) * 1000
        )
        result.response_latency_ms = ((invocation.answered_at or phase_end) - called) * 1000
        peak = sum(process.peak_rss_bytes() for process in env.processes())
        result.max_memory_used_mb = min(self.memory_mb, math.ceil(peak / 2**20))
        self._report(result, start, phase_end)
        if trace.ids is not None:
            self._send_lambda_segments(trace, invocation, start, phase_end, result)
        self.daemon.sync()
        result.segments = self.daemon.documents_since(daemon_mark)
        result.trace_header = trace.runtime_header
        if why is None:
            self._freeze()
        else:
            self._teardown("timeout" if why == _Watch.TIMEOUT else "failure")
        result.logs = [line for _, line in self.logs[log_mark:]]
        return result

    def _deliver_invoke_event(
        self, env: _Environment, invocation: Invocation, trace: _TraceContext
    ) -> None:
        event: dict[str, Any] = {
            "eventType": "INVOKE",
            "deadlineMs": invocation.deadline_ms,
            "requestId": invocation.request_id,
            "invokedFunctionArn": invocation.function_arn,
        }
        event["tracing"] = {"type": "X-Amzn-Trace-Id", "value": trace.runtime_header}
        env.extensions.deliver(event)

    def _answer(self, invocation: Invocation, why: str | None, start: float) -> InvokeResult:
        """What the caller gets: the response, the runtime's error, or Lambda's own error."""
        result = InvokeResult(request_id=invocation.request_id, status="success")
        if why is None:
            result.duration_ms = ((invocation.answered_at or start) - start) * 1000
            if invocation.error is not None:
                result.status = "error"
                result.error = invocation.error
                result.error_type = invocation.error_type or invocation.error.get("errorType")
            else:
                result.payload = invocation.response
            return result
        result.duration_ms = (time.monotonic() - start) * 1000
        if why == _Watch.TIMEOUT:
            result.status = "timeout"
            result.error_type = "Sandbox.Timedout"
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
            result.error = {
                "errorMessage": f"{stamp}Z {invocation.request_id} "
                f"Task timed out after {self.timeout_s:.2f} seconds"
            }
            return result
        result.status = "error"
        result.error_type = (
            "Runtime.OutOfMemory" if why == _Watch.OUT_OF_MEMORY else "Runtime.ExitError"
        )
        result.error = {
            "errorType": "Runtime.ExitError",
            "errorMessage": f"RequestId: {invocation.request_id} Error: "
            + self._exit_message(self._env, "invoke", why),
        }
        return result

    def _phase_end(self, env: _Environment, why: str | None) -> float:
        """When the last of the runtime and the INVOKE extensions called `next` again."""
        if why is not None:
            return time.monotonic()
        times = [env.runtime.last_next_at] + [
            extension.last_next_at
            for extension in env.extensions.extensions()
            if "INVOKE" in extension.events
        ]
        return max(times)

    # -- watching processes ----------------------------------------------------------------
    def _watch(self, env: _Environment, done: Callable[[], bool], deadline: float) -> str | None:
        """Wait until `done()`; otherwise say why not: deadline, a process exit, or memory."""
        while True:
            with env.cond:
                if env.cond.wait_for(done, min(_WATCH_INTERVAL_S, deadline - time.monotonic())):
                    return None
            why = self._trouble(env)
            if why is not None:
                return why
            if time.monotonic() >= deadline:
                return _Watch.TIMEOUT

    def _trouble(self, env: _Environment) -> str | None:
        if env.runtime_process is not None and not env.runtime_process.alive():
            return _Watch.RUNTIME_EXIT
        if any(not process.alive() for process in env.extension_processes.values()):
            return _Watch.EXTENSION_EXIT
        if sum(process.rss_bytes() for process in env.processes()) > self.memory_mb * 2**20:
            if env.runtime_process is not None:
                env.runtime_process.kill()
            return _Watch.OUT_OF_MEMORY
        return None

    def _exit_message(self, env: _Environment | None, phase: str, why: str) -> str:
        process = env.runtime_process if env else None
        if why == _Watch.OUT_OF_MEMORY:
            return "Runtime exited with error: signal: killed"
        if why == _Watch.RUNTIME_EXIT and process is not None:
            process.finish_output()
            code = process.returncode
            if code is not None and code < 0:
                return f"Runtime exited with error: signal: {-code}"
            return f"Runtime exited with error: exit status {code}"
        if why == _Watch.EXTENSION_EXIT:
            return "Extension exited before completing " + phase
        return f"{phase.capitalize()} did not complete in time"

    # -- freeze, reset, shutdown -----------------------------------------------------------
    def _freeze(self) -> None:
        if not self.freeze_between_invokes or self._env is None:
            return
        self._telemetry.pause()
        for process in self._env.processes():
            process.freeze()

    def _thaw(self) -> None:
        if self._env is None:
            return
        for process in self._env.processes():
            process.thaw()
        self._telemetry.resume()

    def _teardown(self, reason: str) -> ShutdownResult:
        """End the environment within Lambda's shutdown budget, SIGKILL for what remains.

        The runtime gets SIGTERM and its share of the budget while the extensions already have
        their SHUTDOWN event; the deadline in that event is when stragglers are killed.
        """
        env, self._env = self._env, None
        if env is None:
            return ShutdownResult(reason, None, {})
        self._ending = env  # an extension busy when SHUTDOWN came gets it at its next `next`
        try:
            return self._end(env, reason)
        finally:
            self._ending = None

    def _end(self, env: _Environment, reason: str) -> ShutdownResult:
        budget_s = SHUTDOWN_EXTERNAL_MS / 1000 if env.extension_processes else 0.0
        deadline = time.time() + budget_s
        for process in env.processes():
            process.thaw()
        self._telemetry.resume()
        runtime_killed = self._signal_runtime(env, graceful=reason == "spindown")
        receivers = set(
            env.extensions.deliver(
                {
                    "eventType": "SHUTDOWN",
                    "shutdownReason": reason,
                    "deadlineMs": int(deadline * 1000),
                }
            )
        )
        killed = ["runtime"] if runtime_killed or self._reap_runtime(env) else []
        env.runtime.close()  # only now: a runtime still in `next` must not see an answer first
        for name, process in env.extension_processes.items():
            if name not in receivers:
                process.kill()
        self._telemetry.flush(min(0.5, max(0.0, deadline - time.time())))
        for name, process in env.extension_processes.items():
            if process.wait(deadline - time.time()) is None:
                process.kill()
                killed.append(name)
        env.extensions.close()
        for process in env.processes():
            process.finish_output()
        return ShutdownResult(
            reason,
            env.runtime_process.returncode if env.runtime_process else None,
            {name: process.returncode for name, process in env.extension_processes.items()},
            killed,
        )

    def _signal_runtime(self, env: _Environment, *, graceful: bool) -> bool:
        """SIGTERM when extensions share the budget (SIGKILL otherwise); True if killed now."""
        process = env.runtime_process
        if process is None or not process.alive():
            return False
        if graceful and env.extension_processes:
            process.send(signal.SIGTERM)
            return False
        process.kill()
        return True

    def _reap_runtime(self, env: _Environment) -> bool:
        """Wait out the runtime's share of the budget; True if it had to be killed."""
        process = env.runtime_process
        if process is None or process.wait(RUNTIME_GRACE_S) is not None:
            return False
        process.kill()
        return True

    # -- telemetry, logs, traces -----------------------------------------------------------
    def _emit(self, event_type: str, record: Any) -> None:
        with self._telemetry_lock:
            event = telemetry_event(event_type, record, time.time())
            self.telemetry.append(event)
            self._telemetry.emit(event)

    def _log_line(self, source: str, line: str) -> None:
        self.logs.append((source, line))
        self._emit("function" if source == "runtime" else "extension", line)
        if self._log_sink is not None:
            self._log_sink(source, line)

    def _emit_runtime_done(
        self, result: InvokeResult, invocation: Invocation, start: float, trace: _TraceContext
    ) -> None:
        answered = invocation.answered_at or time.monotonic()
        answered_wall = time.time() - (time.monotonic() - answered)
        record: dict[str, Any] = {
            "requestId": invocation.request_id,
            "status": result.status,
            "metrics": {
                "durationMs": round(result.duration_ms, 3),
                "producedBytes": len(invocation.response or b""),
            },
            "spans": [
                {
                    "name": "responseLatency",
                    "start": _iso(answered_wall - result.duration_ms / 1000),
                    "durationMs": round(result.duration_ms, 3),
                },
                {"name": "responseDuration", "start": _iso(answered_wall), "durationMs": 0.0},
            ],
        }
        if result.error_type and result.status != "success":
            record["errorType"] = result.error_type
        record.update(trace.telemetry_field())
        self._emit("platform.runtimeDone", record)

    def _report(self, result: InvokeResult, start: float, phase_end: float) -> None:
        duration_ms = (phase_end - start) * 1000
        metrics: dict[str, Any] = {
            "durationMs": round(duration_ms, 3),
            "billedDurationMs": math.ceil(duration_ms),
            "memorySizeMB": self.memory_mb,
            "maxMemoryUsedMB": result.max_memory_used_mb,
        }
        if result.init_duration_ms is not None:
            metrics["initDurationMs"] = round(result.init_duration_ms, 3)
        record: dict[str, Any] = {
            "requestId": result.request_id,
            "status": result.status,
            "metrics": metrics,
        }
        if result.status != "success" and result.error_type:
            record["errorType"] = result.error_type
        self._emit("platform.report", record)

    def _send_lambda_segments(
        self,
        trace: _TraceContext,
        invocation: Invocation,
        start: float,
        phase_end: float,
        result: InvokeResult,
    ) -> None:
        now_wall, now = time.time(), time.monotonic()

        def wall(moment: float) -> float:
            return now_wall - (now - moment)

        init_span = (self._init_start_wall, self._init_end_wall) if result.cold else None
        documents = lambda_segments(
            trace_id=trace.root,
            ids=trace.ids,
            function_name=self.function_name,
            function_arn=self.function_arn,
            region=self._config.region,
            request_id=invocation.request_id,
            invoke_start=wall(start),
            response_end=wall(invocation.answered_at or phase_end),
            phase_end=wall(phase_end),
            init_span=init_span,
            error_type=result.error_type if result.status != "success" else None,
            status=result.status,
            parent_id=trace.caller_parent,
            cause=_json_object(invocation.xray_cause),
        )
        host, _, port = self.daemon.address.rpartition(":")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for document in documents:
                sock.sendto(daemon_datagram(document), (host, int(port)))


class _TraceContext:
    """The trace header of one invoke under the function's tracing mode (§5.6, §5.7)."""

    def __init__(
        self,
        runtime_header: str,
        root: str | None = None,
        ids: LambdaTraceIds | None = None,
        caller_parent: str | None = None,
    ) -> None:
        self.runtime_header = runtime_header
        self.root = root
        self.ids = ids
        self.caller_parent = caller_parent

    @classmethod
    def for_invoke(cls, mode: str, caller_header: str | None) -> _TraceContext:
        """Lambda's decision: Active samples a header-less invoke (every one, here), a caller's
        `Sampled=1` is always traced, and an untraced invoke still gets a `Sampled=0` header."""
        header = parse(caller_header) or TraceHeader(new_trace_id(time.time()))
        undecided = header.sampled in (None, "?")
        if header.sampled == "1" or (mode == "Active" and undecided):
            ids = LambdaTraceIds.new()
            runtime = TraceHeader(header.root, ids.invocation, "1", header.extra)
            return cls(runtime.to_header(), header.root, ids, header.parent)
        sampled = "0" if undecided else header.sampled
        return cls(
            TraceHeader(header.root, header.parent or new_id(), sampled, header.extra).to_header()
        )

    def telemetry_field(self) -> dict[str, Any]:
        if self.ids is None:
            return {}
        return {
            "tracing": {
                "spanId": self.ids.invocation,
                "type": "X-Amzn-Trace-Id",
                "value": self.runtime_header,
            }
        }


def _init_error_type(why: str, who: str) -> str:
    if why == _Watch.TIMEOUT:
        return "Sandbox.Timedout"
    if why == _Watch.OUT_OF_MEMORY:
        return "Runtime.OutOfMemory"
    if why == _Watch.EXTENSION_EXIT:
        return "Extension.Crash"
    return f"{who}.ExitError"


def _phase_error_type(why: str) -> str:
    return {
        _Watch.TIMEOUT: "Sandbox.Timedout",
        _Watch.EXTENSION_EXIT: "Extension.Crash",
        _Watch.OUT_OF_MEMORY: "Runtime.OutOfMemory",
    }.get(why, "Runtime.ExitError")


def _json_object(text: str | None) -> dict[str, Any] | None:
    """A JSON object from a header, or None for anything else (the header is optional). Lambda
    crops an error cause to 64 KiB, after which it is no JSON object: over that, None."""
    if text is not None and len(text) > MAX_XRAY_CAUSE_BYTES:
        return None
    try:
        value = json.loads(text) if text else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _iso(wall: float) -> str:
    millis = round(wall * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(millis // 1000)) + (
        f".{millis % 1000:03d}Z"
    )
