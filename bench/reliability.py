"""The long mixed run: thousands of invocations with every fault, and the books of every span.

One function (``bench/reliability_functions/mixed_app.py``) runs in the local sandbox from the
built layer; each event says what to do: succeed after a few spans (most), raise (5 %), sleep
past its 1 s timeout (1 %), ``os._exit`` (1 %), use more than its memory (1 %), or make a burst of
1,000 spans (0.5 %). Meanwhile the extension is SIGKILLed once (between two invokes, as a crash
would), the OTLP collector is down for a tenth of the run, and halfway the sandbox is shut down
right after a burst (a SHUTDOWN with the burst's spans still held) and a new one takes over; the
run ends the same way.

The books are kept per execution environment (one runtime process and one extension process;
Lambda starts a fresh one after a timeout, crash, out-of-memory or extension crash):

- made: what the function process made (``HANDOFF.stats()["made"]`` written by the handler
  before its ending action, plus the invocation span the wrapper makes after a return or a
  raise), plus the invocation span the extension closes itself when the runtime died;
- the extension's accounting file (``XRAYLAYER_ACCOUNTING``, its last write in that environment):
  received, exported by the function itself, lost before export by reason, and per exporter
  exported / rejected / dropped by reason;
- lost with a process: spans still queued in a killed runtime (the handler's stats say how many)
  and, in the environment whose extension was killed, whatever it held since its last flush
  (the books cannot close there: that is the one place the figure is a difference, not a count).

Unaccounted (made - counted) must be 0 in every other environment, and every exporter must
account for every span it was given. Every failed invocation must be in the file exporter's
output as a faulted invocation span.

    .venv/bin/python bench/reliability.py            # 10,000 invocations
    .venv/bin/python bench/reliability.py --quick    # 200, a minute
    .venv/bin/python bench/reliability.py -n 3000 --json build/reliability.json

The last line printed is ``RESULT {json}`` with every figure (the smoke test reads it).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

sys.path.insert(0, str(Path(__file__).resolve().parent))
from repo import REPO, layer_zip
from sampling import percentile

FUNCTION_DIR = REPO / "bench" / "reliability_functions"
HANDLER = "mixed_app.handler"
TIMEOUT_S = 1.0
MEMORY_MB = 256
OOM_MB = 400
BURST_SPANS = 1000
OUTAGE_MIN_S = 12.0  # longer than adaptive's 10 s between background flushes
# Share of each action in the run (the rest succeed after 1 to 5 spans).
MIX = {"raise": 0.05, "sleep": 0.01, "exit": 0.01, "oom": 0.01, "burst": 0.005}
FAILURES = {  # action -> what the caller must see
    "raise": ("error", "RuntimeError"),
    "sleep": ("timeout", "Sandbox.Timedout"),
    "exit": ("error", "Runtime.ExitError"),
    "oom": ("error", "Runtime.OutOfMemory"),
}
RUNTIME_KILLED = ("sleep", "exit", "oom")  # the extension closes the invocation span itself
RESETS = ("Sandbox.Timedout", "Runtime.ExitError", "Runtime.OutOfMemory", "Extension.Crash")


# --- an OTLP/HTTP collector that can be taken down and brought back on the same port ---------


class _Receiver(BaseHTTPRequestHandler):
    spans: ClassVar[list[int]] = [0]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            request = json.loads(body)
            count = sum(
                len(scope.get("spans", []))
                for resource in request.get("resourceSpans", [])
                for scope in resource.get("scopeSpans", [])
            )
        except ValueError:
            count = 0
        self.spans[0] += count
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


class Collector:
    """Counts the spans of every OTLP/HTTP JSON request; ``down()`` closes the port."""

    def __init__(self) -> None:
        self.handler = type("Receiver", (_Receiver,), {"spans": [0]})
        self.port = 0
        self._server: ThreadingHTTPServer | None = None
        self.up()

    @property
    def spans(self) -> int:
        return self.handler.spans[0]

    @property
    def is_down(self) -> bool:
        return self._server is None

    def up(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self.handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


# --- the books ----------------------------------------------------------------------------


@dataclass
class Environment:
    """One execution environment's share of the run."""

    index: int
    life: int  # which sandbox
    invocations: int = 0
    stats: dict[str, Any] = field(default_factory=dict)  # the handler's last HANDOFF.stats()
    last_completed: bool = False  # its last invocation returned or raised in the function
    runtime_killed: int = 0  # invocation spans the extension closed for a dead runtime
    pending_at_death: int = 0  # spans queued in the runtime when it was killed
    extension_killed: bool = False
    direct_to_daemon: int = 0  # documents the function sent the daemon itself (no extension)
    accounting: dict[str, Any] = field(default_factory=dict)

    def books(self) -> dict[str, Any]:
        made = self.stats.get("made", 0) + int(self.last_completed) + self.runtime_killed
        counts = self.accounting or {"received": 0, "function_exported": 0, "lost": {}}
        lost = counts.get("lost", {})
        intake_full = lost.get("intake_full", 0)
        from_function = counts["received"] + counts["function_exported"] - intake_full
        counted = from_function + sum(lost.values()) + self.runtime_killed
        with_process = self.pending_at_death
        if self.extension_killed:  # its last accounting is from its last flush
            with_process = made - counted - self.direct_to_daemon
        exporters = {}
        for name, result in counts.get("exporters", {}).items():
            given = result["exported"] + result["rejected"] + sum(result["dropped"].values())
            expected = counts["received"] - intake_full + self.runtime_killed
            exporters[name] = {**result, "given": given, "unaccounted": expected - given}
        return {
            "made": made,
            "counted": counted,
            "lost_with_process": with_process,
            "unaccounted": made - counted - with_process,
            "exporters": exporters,
            "lost": lost,
            "function_exported": counts.get("function_exported", 0),
        }


def _plan(count: int, seed: int) -> list[str]:
    """Each invocation's action, shuffled; at least one of each fault, even in a short run."""
    actions = []
    for action, share in MIX.items():
        actions += [action] * max(1, round(count * share))
    actions += ["ok"] * (count - len(actions))
    random.Random(seed).shuffle(actions)
    return actions


def _extension_pids(sandbox: Any) -> list[int]:
    """The extension's process, found by its command line in /proc (it runs from the
    sandbox's merged /opt stand-in)."""
    marker = str(sandbox.opt_dir).encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if marker in cmdline and b"xraylayer_extension" in cmdline:
            found.append(int(entry))
    return found


def _invocation_docs(path: Path) -> tuple[dict[str, dict], int]:
    """Invocation spans in the file exporter's output by request id, and the line count."""
    spans: dict[str, dict] = {}
    lines = 0
    if not path.exists():
        return spans, 0
    with path.open(encoding="utf-8") as file:
        for line in file:
            lines += 1
            document = json.loads(line)
            otel = document.get("metadata", {}).get("otel", {})
            request_id = otel.get("faas.invocation_id")
            if request_id and "ColdStart" in document.get("annotations", {}):
                spans[request_id] = document
    return spans, lines


def run(count: int, seed: int, log: Any = print) -> dict[str, Any]:  # noqa: PLR0915
    from xraylayer_local import Sandbox

    work = Path(tempfile.mkdtemp(prefix="xl-rel-", dir="/tmp"))  # short: socket path limit
    traces, accounting, stats_file = work / "traces.jsonl", work / "acct.json", work / "stats.json"
    collector = Collector()
    env = {
        "AWS_LAMBDA_EXEC_WRAPPER": "/opt/xray-instrument",
        "XRAYLAYER_INTAKE": str(work / "intake.sock"),
        "XRAYLAYER_EXPORTERS": "file,otlp",
        "XRAYLAYER_FILE": str(traces),
        "XRAYLAYER_ACCOUNTING": str(accounting),
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{collector.port}",
    }
    plan = _plan(count, seed)
    half = count // 2
    plan[half - 1] = plan[count - 1] = "burst"  # each life ends with a burst, then SHUTDOWN
    kill_at = int(count * 0.3)  # the extension is killed before this invocation
    plan[kill_at] = "ok"
    outage = range(int(count * 0.6), int(count * 0.7))  # the collector is down

    environments: list[Environment] = []
    invoked: list[dict[str, Any]] = []
    shutdowns: list[dict[str, Any]] = []
    latencies: list[float] = []
    post_runtime: dict[str, list[float]] = {}
    started = back_at = time.monotonic()

    def snapshot(environment: Environment) -> None:
        if accounting.exists():
            environment.accounting = json.loads(accounting.read_text())
            accounting.unlink()

    def new_sandbox() -> Any:
        return Sandbox(
            FUNCTION_DIR,
            HANDLER,
            layers=[layer_zip()],
            env=env,
            tracing="Active",
            timeout_s=TIMEOUT_S,
            memory_mb=MEMORY_MB,
        )

    try:
        sandbox, life, current = new_sandbox(), 0, None
        for index, action in enumerate(plan):
            if index == outage.start:
                collector.down()
                back_at = time.monotonic() + OUTAGE_MIN_S
                log(f"[{index}] OTLP collector down")
            if index >= outage.stop and collector.is_down and time.monotonic() >= back_at:
                collector.up()
                log(f"[{index}] OTLP collector back")
            if index == kill_at and current is not None:
                pids = _extension_pids(sandbox)
                for pid in pids:
                    os.kill(pid, signal.SIGKILL)
                current.extension_killed = bool(pids)
                log(f"[{index}] extension SIGKILLed: pids {pids}")
            event: dict[str, Any] = {"do": action, "spans": 1 + index % 5, "stats": str(stats_file)}
            if action == "burst":
                event.update(do="ok", spans=BURST_SPANS)
            elif action == "sleep":
                event["sleep_s"] = TIMEOUT_S * 3
            elif action == "oom":
                event["mb"] = OOM_MB
            stats_file.unlink(missing_ok=True)
            result = sandbox.invoke(event)
            latencies.append(result.response_latency_ms)
            phase = "collector_down" if collector.is_down else "collector_up"
            post_runtime.setdefault(phase, []).append(result.post_runtime_ms)
            if result.cold or current is None:
                current = Environment(len(environments), life)
                environments.append(current)
            current.invocations += 1
            if stats_file.exists():
                current.stats = json.loads(stats_file.read_text())
            # The handler returned or raised, so the wrapper made the invocation span, even when
            # the invoke phase then ran past the deadline.
            current.last_completed = action not in RUNTIME_KILLED
            if action in RUNTIME_KILLED and result.error_type in RESETS[:3]:
                current.runtime_killed = 1
                current.pending_at_death = current.stats.get("pending", 0)
            if result.error_type == "Extension.Crash":
                current.direct_to_daemon = sum(
                    d.get("type") == "subsegment" for d in result.segments
                )
            invoked.append(
                {
                    "action": action,
                    "request_id": result.request_id,
                    "status": result.status,
                    "error_type": result.error_type,
                    "environment": current.index,
                    "after_extension_kill": index == kill_at,
                }
            )
            if result.error_type in RESETS:  # the environment was torn down in this invoke
                snapshot(current)
                current = None
            if index in (half - 1, count - 1):  # SHUTDOWN right after the burst
                ended = sandbox.shutdown()
                shutdowns.append(
                    {
                        "after": index,
                        "extension_exit_codes": ended.extension_exit_codes,
                        "killed": ended.killed,
                    }
                )
                if current is not None:
                    snapshot(current)
                current, life = None, life + 1
                log(f"[{index}] SHUTDOWN after a burst: {ended.extension_exit_codes}")
                if index != count - 1:
                    sandbox = new_sandbox()
            if (index + 1) % 500 == 0:
                log(f"[{index + 1}/{count}] {time.monotonic() - started:.0f} s")
    finally:
        collector.down()
    elapsed = time.monotonic() - started
    result = _report(
        environments=environments,
        invoked=invoked,
        shutdowns=shutdowns,
        traces=traces,
        collector=collector,
        elapsed=elapsed,
        latencies=latencies,
        post_runtime=post_runtime,
    )
    shutil.rmtree(work, ignore_errors=True)
    return result


def _report(
    *,
    environments: list[Environment],
    invoked: list[dict[str, Any]],
    shutdowns: list[dict[str, Any]],
    traces: Path,
    collector: Collector,
    elapsed: float,
    latencies: list[float],
    post_runtime: dict[str, list[float]],
) -> dict[str, Any]:
    books = [environment.books() for environment in environments]
    exporters: dict[str, dict[str, Any]] = {}
    lost: Counter[str] = Counter()
    for entry in books:
        lost.update(entry["lost"])
        for name, result in entry["exporters"].items():
            total = exporters.setdefault(
                name, {"exported": 0, "rejected": 0, "dropped": Counter(), "unaccounted": 0}
            )
            total["exported"] += result["exported"]
            total["rejected"] += result["rejected"]
            total["dropped"].update(result["dropped"])
            total["unaccounted"] += result["unaccounted"]
    documents, lines = _invocation_docs(traces)
    failed = [i for i in invoked if i["action"] in FAILURES]
    arrived_faulted, missing, wrong_outcome = 0, [], []
    lost_with_extension = {
        e.index for e in environments if e.extension_killed
    }  # its held spans died with it
    for invocation in failed:
        status, error_type = FAILURES[invocation["action"]]
        if (invocation["status"], invocation["error_type"]) != (status, error_type):
            wrong_outcome.append(invocation)
        document = documents.get(invocation["request_id"])
        if document is not None and document.get("fault") is True:
            arrived_faulted += 1
        else:
            missing.append(invocation)
    missing_closable = [m for m in missing if m["environment"] not in lost_with_extension]
    closable = [b for e, b in zip(environments, books, strict=True) if not e.extension_killed]
    killed_env = [b for e, b in zip(environments, books, strict=True) if e.extension_killed]
    summary = {
        "invocations": len(invoked),
        "environments": len(environments),
        "seconds": round(elapsed, 1),
        "response_latency_ms": {
            "p50": round(percentile(latencies, 0.5), 1),
            "p99": round(percentile(latencies, 0.99), 1),
        },
        "post_runtime_ms": {
            phase: {
                "invocations": len(values),
                "p50": round(percentile(values, 0.5), 1),
                "p99": round(percentile(values, 0.99), 1),
            }
            for phase, values in post_runtime.items()
        },
        "actions": dict(Counter(i["action"] for i in invoked)),
        "outcomes": dict(Counter(f"{i['status']}:{i['error_type']}" for i in invoked)),
        "made": sum(b["made"] for b in books),
        "function_exported": sum(b["function_exported"] for b in books),
        "exporters": {
            name: {**total, "dropped": dict(total["dropped"])} for name, total in exporters.items()
        },
        "lost_before_export": dict(lost),
        "lost_with_runtime": sum(b["lost_with_process"] for b in closable),
        "lost_with_extension": sum(b["lost_with_process"] for b in killed_env),
        "direct_to_daemon_without_extension": sum(e.direct_to_daemon for e in environments),
        "unaccounted": sum(b["unaccounted"] for b in closable),
        "unaccounted_environments": [
            {"environment": e.index, **b}
            for e, b in zip(environments, books, strict=True)
            if b["unaccounted"] and not e.extension_killed
        ],
        "file_lines": lines,
        "otlp_collector_spans": collector.spans,
        "failed_invocations": len(failed),
        "failed_arrived_faulted": arrived_faulted,
        "failed_missing": len(missing_closable),
        "failed_lost_with_extension": len(missing) - len(missing_closable),
        "wrong_outcome": wrong_outcome[:10],
        "handler_succeeded_caller_saw_failure": [
            i
            for i in invoked
            if i["action"] in ("ok", "burst")
            and i["status"] != "success"
            and not i["after_extension_kill"]
        ],
        "extension_killed": [
            {"environment": e.index, "direct_to_daemon": e.direct_to_daemon}
            for e in environments
            if e.extension_killed
        ],
        "after_extension_kill": [i for i in invoked if i["after_extension_kill"]],
        "shutdowns": shutdowns,
    }
    return summary


def print_report(summary: dict[str, Any]) -> None:
    print()
    print(
        f"{summary['invocations']} invocations in {summary['environments']} environments, "
        f"{summary['seconds']} s (response latency p50 {summary['response_latency_ms']['p50']}"
        f" ms, p99 {summary['response_latency_ms']['p99']} ms)"
    )
    print(f"post-runtime (billed, after the response) ms: {summary['post_runtime_ms']}")
    print(f"actions:  {summary['actions']}")
    print(f"outcomes: {summary['outcomes']}")
    print(f"spans made:                       {summary['made']}")
    print(f"  exported by the function itself {summary['function_exported']}")
    for name, total in summary["exporters"].items():
        print(
            f"  {name}: exported {total['exported']}, rejected {total['rejected']}, "
            f"dropped {sum(total['dropped'].values())} {total['dropped']}, "
            f"unaccounted {total['unaccounted']}"
        )
    print(f"  lost before export (counted)    {summary['lost_before_export']}")
    print(f"  lost with a killed runtime      {summary['lost_with_runtime']}")
    print(
        f"  lost with the killed extension  {summary['lost_with_extension']} (a difference: "
        "what it held since its last flush)"
    )
    print(f"  sent to the daemon by the function {summary['direct_to_daemon_without_extension']}")
    print(f"  unaccounted                     {summary['unaccounted']}")
    print(
        f"file exporter lines {summary['file_lines']}; OTLP collector received "
        f"{summary['otlp_collector_spans']} spans"
    )
    print(
        f"failed invocations {summary['failed_invocations']}: arrived faulted "
        f"{summary['failed_arrived_faulted']}, missing {summary['failed_missing']}, lost with the "
        f"killed extension {summary['failed_lost_with_extension']}; wrong outcome "
        f"{len(summary['wrong_outcome'])}"
    )
    print(
        "handler succeeded, caller saw a failure (not planned): "
        f"{summary['handler_succeeded_caller_saw_failure']}"
    )
    print(f"after the extension kill: {summary['after_extension_kill']}")
    print(f"shutdowns: {summary['shutdowns']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--invocations", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="200 invocations")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    count = 200 if args.quick else args.invocations
    if count < 20:
        parser.error("at least 20 invocations")
    summary = run(count, args.seed)
    print_report(summary)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=2))
    print("RESULT " + json.dumps(summary))
    balanced = (
        summary["unaccounted"] == 0
        and all(total["unaccounted"] == 0 for total in summary["exporters"].values())
        and summary["file_lines"] == summary["exporters"]["file"]["exported"]
    )
    return 0 if balanced and not summary["failed_missing"] and not summary["wrong_outcome"] else 1


if __name__ == "__main__":
    sys.exit(main())
