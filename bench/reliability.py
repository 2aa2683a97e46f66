"""Fault injection in the local sandbox, and the books of every span: scenarios and the mixed run.

One function (``bench/reliability_functions/mixed_app.py``) runs in the local sandbox from the
built layer, with Active tracing, a 1 s timeout, 256 MB and all five exporters at once
(``file``, ``xray-daemon``, ``otlp-udp``, ``xray-api`` against a moto server, ``otlp`` against
a local collector). A plan (reliability_plans.py) says what each invocation does - succeed,
raise, sleep past the timeout, ``os._exit``, run out of memory, make a burst of 1,000 spans -
and what happens around them: the extension SIGKILLed, the OTLP collector down for a while, a
SHUTDOWN after a burst, callers that say ``Sampled=0``.

Each scenario is a short plan centred on one fault; the long mixed run has them all (10,000
invocations by default). Whatever the plan, the same books are kept (reliability_books.py):
every span made is exported, dropped with a reason, or lost with a process that died; each
exporter accounts for every span it was given, and its backend received what it says it
exported (reliability_receivers.py); every failed invocation arrives as a faulted invocation.

    .venv/bin/python bench/reliability.py                      # the mixed run, 10,000
    .venv/bin/python bench/reliability.py --quick              # the mixed run, 200
    .venv/bin/python bench/reliability.py -n 3000 --json build/reliability.json
    .venv/bin/python bench/reliability.py --scenario timeout   # one scenario
    .venv/bin/python bench/reliability.py --scenario all       # each scenario
    .venv/bin/python bench/reliability.py --scenario collector_down --exporters otlp,file

The last line printed is ``RESULT {json}`` with every figure (for ``--scenario all``, each
scenario's under its name). The exit code is 1 when any run's books do not balance or it did
not go as planned.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from xraylayer.trace_header import new_trace_id
from xraylayer_local import Sandbox
from xraylayer_local.moto_server import MotoServer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reliability_books import Environment, problems, report, summarize
from reliability_plans import (
    ALL_EXPORTERS,
    BURST_SPANS,
    MEMORY_MB,
    OOM_MB,
    RUNTIME_KILLED,
    TIMEOUT_S,
    Plan,
    mixed,
    scenarios,
)
from reliability_receivers import DaemonTap, JsonLinesTail, OtlpCollector, XRayApiStore
from repo import REPO, layer_zip

FUNCTION_DIR = REPO / "bench" / "reliability_functions"
HANDLER = "mixed_app.handler"
RESETS = ("Sandbox.Timedout", "Runtime.ExitError", "Runtime.OutOfMemory", "Extension.Crash")
MOTO_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def _event(action: str, index: int, stats_file: Path) -> dict[str, Any]:
    """What mixed_app.py is asked to do."""
    event: dict[str, Any] = {"do": action, "spans": 1 + index % 5, "stats": str(stats_file)}
    if action == "burst":
        event.update(do="ok", spans=BURST_SPANS)
    elif action == "burst_at_sigterm":
        event["burst"] = BURST_SPANS
    elif action == "sleep":
        event["sleep_s"] = TIMEOUT_S * 3
    elif action == "oom":
        event["mb"] = OOM_MB
    return event


class _Run:
    """One plan's run: the sandboxes it goes through, the receivers, and the books so far."""

    def __init__(self, plan: Plan, moto: MotoServer, log: Callable[[str], object]) -> None:
        self.plan, self.log = plan, log
        self.work = Path(tempfile.mkdtemp(prefix="xl-rel-", dir="/tmp"))  # short: socket paths
        self.accounting = self.work / "acct.json"
        self.stats_file = self.work / "stats.json"
        self.collector = OtlpCollector()
        self.file = JsonLinesTail(self.work / "traces.jsonl")
        self.xray_api = XRayApiStore(moto.client("xray"))
        moto_env = moto.env()
        self.env = {
            "AWS_LAMBDA_EXEC_WRAPPER": "/opt/xray-instrument",
            "XRAYLAYER_INTAKE": str(self.work / "intake.sock"),
            "XRAYLAYER_EXPORTERS": plan.exporters,
            "XRAYLAYER_FILE": str(self.file.path),
            "XRAYLAYER_ACCOUNTING": str(self.accounting),
            "OTEL_EXPORTER_OTLP_ENDPOINT": self.collector.endpoint,
            "AWS_ENDPOINT_URL_XRAY": moto.endpoint_url,
            **{name: moto_env[name] for name in MOTO_VARIABLES},
            **plan.env,
        }
        self.environments: list[Environment] = []
        self.invoked: list[dict[str, Any]] = []
        self.shutdowns: list[dict[str, Any]] = []
        self.latencies: list[float] = []
        self.post_runtime: dict[str, list[float]] = {}
        self.invocation_documents: dict[str, dict[str, Any]] = {}
        self.current: Environment | None = None
        self.life = 0
        self._back_at = 0.0  # when the collector may come back
        self._seen = {"otlp": 0, "subsegments": 0, "otlp_udp": 0}
        self.sandbox, self.tap = self._new_sandbox()

    def _new_sandbox(self) -> tuple[Sandbox, DaemonTap]:
        sandbox = Sandbox(
            FUNCTION_DIR,
            HANDLER,
            layers=[layer_zip()],
            env=self.env,
            tracing="Active",
            timeout_s=TIMEOUT_S,
            memory_mb=MEMORY_MB,
        )
        self._seen.update(subsegments=0, otlp_udp=0)  # a new daemon counts from 0
        return sandbox, DaemonTap.replace(sandbox)

    def settle(self, *, daemon_open: bool) -> None:
        """The current environment is over (its processes are gone): file its accounting and
        what each backend received from it."""
        environment, self.current = self.current, None
        if environment is None:
            return
        if self.accounting.exists():
            environment.accounting = json.loads(self.accounting.read_text())
            self.accounting.unlink()
        if daemon_open:
            self.tap.sync()  # a closed one read everything before it stopped
        subsegments, otlp_udp = self.tap.counts()
        environment.daemon_subsegments = subsegments - self._seen["subsegments"]
        documents = self.file.new()
        environment.received = {
            "otlp": self.collector.spans - self._seen["otlp"],
            "otlp-udp": otlp_udp - self._seen["otlp_udp"],
            "file": len(documents),
        }
        self._seen.update(otlp=self.collector.spans, subsegments=subsegments, otlp_udp=otlp_udp)
        for document in documents:
            environment.trace_ids.add(document["trace_id"])
            otel = document.get("metadata", {}).get("otel", {})
            request_id = otel.get("faas.invocation_id")
            if request_id and "ColdStart" in document.get("annotations", {}):
                self.invocation_documents[request_id] = document

    def count_xray_api(self) -> None:
        """What moto stored for each environment's traces (the same traces as the file's:
        both are full-trace exporters, routed alike)."""
        stored = self.xray_api.documents(t for e in self.environments for t in e.trace_ids)
        for environment in self.environments:
            environment.received["xray-api"] = sum(stored[t] for t in environment.trace_ids)

    def step(self, index: int, action: str) -> None:
        """Invocation ``index``, with the run-level events that come before and after it."""
        plan, collector = self.plan, self.collector
        if index == plan.outage.start and len(plan.outage):
            collector.down()
            self._back_at = time.monotonic() + plan.outage_min_s
            self.log(f"[{index}] OTLP collector down")
        if index >= plan.outage.stop and collector.is_down and time.monotonic() >= self._back_at:
            collector.up()
            self.log(f"[{index}] OTLP collector back")
        if index == plan.kill_extension_before and self.current is not None:
            _, extensions = self.sandbox.processes()
            for process in extensions:
                process.kill()
            self.current.extension_killed = bool(extensions)
            self.log(f"[{index}] extension SIGKILLed: pids {[p.pid for p in extensions]}")
        header = f"Root={new_trace_id(time.time())};Sampled=0" if index in plan.unsampled else None
        self.stats_file.unlink(missing_ok=True)
        result = self.sandbox.invoke(_event(action, index, self.stats_file), trace_header=header)
        self.latencies.append(result.response_latency_ms)
        phase = "collector_down" if collector.is_down else "collector_up"
        self.post_runtime.setdefault(phase, []).append(result.post_runtime_ms)
        if result.cold or self.current is None:
            self.current = Environment(len(self.environments), self.life)
            self.environments.append(self.current)
        current = self.current
        current.invocations += 1
        if self.stats_file.exists():
            current.stats = json.loads(self.stats_file.read_text())
        # The handler returned or raised, so the wrapper made the invocation span, even when
        # the invoke phase then ran past the deadline.
        current.last_completed = action not in RUNTIME_KILLED
        if action in RUNTIME_KILLED and result.error_type in RESETS[:3]:
            current.runtime_killed = 1
            current.pending_at_death = current.stats.get("pending", 0)
        if result.error_type == "Extension.Crash":
            current.direct_to_daemon = sum(d.get("type") == "subsegment" for d in result.segments)
        outcome = (result.status, result.error_type)
        self.invoked.append(
            {
                "index": index,
                "action": action,
                "unsampled": header is not None,
                "request_id": result.request_id,
                "status": result.status,
                "error_type": result.error_type,
                "as_planned": outcome == plan.outcome(index),
                "environment": current.index,
                "after_extension_kill": index == plan.kill_extension_before,
            }
        )
        if result.error_type in RESETS:  # the environment was torn down in this invoke
            self.settle(daemon_open=True)
        if index in plan.shutdowns():
            self.shutdown(index)

    def shutdown(self, index: int) -> None:
        """SHUTDOWN now; a new sandbox takes over if invocations follow."""
        ended = self.sandbox.shutdown()
        self.shutdowns.append(
            {
                "after": index,
                "extension_exit_codes": ended.extension_exit_codes,
                "runtime_exit_code": ended.runtime_exit_code,
                "killed": ended.killed,
            }
        )
        if self.current is not None and self.stats_file.exists():
            stats = json.loads(self.stats_file.read_text())
            if stats.get("after_sigterm"):  # the function's burst at SIGTERM, then its exit
                self.current.stats = stats
                self.current.pending_at_death = stats.get("pending", 0)
        self.settle(daemon_open=False)
        self.life += 1
        self.log(f"[{index}] SHUTDOWN: {ended.extension_exit_codes}, killed {ended.killed}")
        if index != len(self.plan.actions) - 1:
            self.sandbox, self.tap = self._new_sandbox()

    def close(self) -> None:
        """Release everything, also when the run stopped half-way (a second shutdown of a
        sandbox is a no-op)."""
        self.sandbox.shutdown()
        self.collector.down()
        shutil.rmtree(self.work, ignore_errors=True)


def run(
    plan: Plan, *, moto: MotoServer | None = None, log: Callable[[str], object] = print
) -> dict[str, Any]:
    """Run ``plan`` and return its books (``problems`` lists what does not balance). ``moto``:
    a started ``MotoServer`` to share between runs; by default one of its own."""
    with contextlib.ExitStack() as stack:
        if moto is None:
            moto = stack.enter_context(MotoServer())
        started = time.monotonic()
        state = _Run(plan, moto, log)
        stack.callback(state.close)
        count = len(plan.actions)
        for index, action in enumerate(plan.actions):
            state.step(index, action)
            if (index + 1) % 500 == 0:
                log(f"[{index + 1}/{count}] {time.monotonic() - started:.0f} s")
        state.count_xray_api()
    summary = summarize(
        plan=plan,
        environments=state.environments,
        invoked=state.invoked,
        invocation_documents=state.invocation_documents,
        shutdowns=state.shutdowns,
        elapsed=time.monotonic() - started,
        latencies=state.latencies,
        post_runtime=state.post_runtime,
    )
    summary["problems"] = problems(summary, plan)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--invocations", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="the mixed run with 200")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument(
        "--scenario", choices=[*scenarios(), "all"], help="a scenario (or each) instead"
    )
    parser.add_argument(
        "--exporters", help=f"XRAYLAYER_EXPORTERS instead of {ALL_EXPORTERS} (their order too)"
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    chosen = scenarios()
    if args.exporters:
        chosen = {name: replace(plan, exporters=args.exporters) for name, plan in chosen.items()}
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # clean up if stopped
    if args.scenario:
        names = list(chosen) if args.scenario == "all" else [args.scenario]
        results = {}
        with MotoServer() as moto:
            for name in names:
                results[name] = run(chosen[name], moto=moto)
                print("\n" + report(results[name]))
        output: dict[str, Any] = results[names[0]] if len(names) == 1 else {"scenarios": results}
        failed = any(result["problems"] for result in results.values())
    else:
        count = 200 if args.quick else args.invocations
        if count < 20:
            parser.error("at least 20 invocations")
        plan = mixed(count, args.seed)
        output = run(replace(plan, exporters=args.exporters) if args.exporters else plan)
        print("\n" + report(output))
        failed = bool(output["problems"])
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(output, indent=2))
    print("RESULT " + json.dumps(output))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
