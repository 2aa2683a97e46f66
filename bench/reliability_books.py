"""The books of a reliability run: every span made, where it went, and what does not balance.

The books are kept per execution environment (one runtime process and one extension process;
Lambda starts a fresh one after a timeout, crash, out-of-memory or extension crash):

- made: what the function process made (``HANDOFF.stats()["made"]`` written by the handler
  before its ending action, plus the invocation span the wrapper makes after a return or a
  raise; or the stats its SIGTERM burst wrote last), plus the invocation span the extension
  closes itself when the runtime died;
- counted: the extension's accounting file (``XRAYLAYER_ACCOUNTING``, its last write in that
  environment): received, exported by the function itself, lost before export by reason, and
  per exporter exported / rejected / dropped by reason;
- received: what each exporter's backend got from that environment (reliability_receivers.py);
- lost with a process: spans still queued in a runtime that died (its last stats say how
  many) and, in the environment whose extension was killed, whatever it held since its last
  flush (the books cannot close there: the one figure that is a difference, not a count).

Unaccounted (made - counted - lost with the runtime) must be 0 in every other environment;
every exporter must account for every span it was given, and its backend must have received
what it says it exported. Every failed invocation must be in the file exporter's output as a
faulted invocation span whose cause is the fault Lambda reports.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from reliability_plans import CAUSES, FAILURES, Plan
from sampling import percentile
from xraylayer_extension.invocations import LOST_AFTER_RECEIPT

XRAY_DAEMON = "xray-daemon"


@dataclass
class Environment:
    """One execution environment's share of the run."""

    index: int
    life: int  # which sandbox
    invocations: int = 0
    stats: dict[str, Any] = field(default_factory=dict)  # the function's last HANDOFF.stats()
    last_completed: bool = False  # its last invocation returned or raised in the function
    runtime_killed: int = 0  # invocation spans the extension closed for a dead runtime
    pending_at_death: int = 0  # spans queued in the runtime when it died
    extension_killed: bool = False
    direct_to_daemon: int = 0  # documents the function sent the daemon itself (no extension)
    accounting: dict[str, Any] = field(default_factory=dict)
    received: dict[str, int] = field(default_factory=dict)  # per exporter, by its backend
    daemon_subsegments: int = 0  # every X-Ray subsegment at the daemon, the function's too
    trace_ids: set[str] = field(default_factory=set)  # traces in its file output

    def made(self) -> int:
        if self.stats.get("after_sigterm"):  # written after the last invocation span was made
            return self.stats.get("made", 0) + self.runtime_killed
        return self.stats.get("made", 0) + int(self.last_completed) + self.runtime_killed

    def books(self) -> dict[str, Any]:
        made = self.made()
        counts = self.accounting or {"received": 0, "function_exported": 0, "lost": {}}
        lost = counts.get("lost", {})
        # Dropped after receipt: in `received` and in `lost` alike (counted once here).
        after_receipt = sum(lost.get(reason, 0) for reason in LOST_AFTER_RECEIPT)
        from_function = counts["received"] + counts["function_exported"] - after_receipt
        counted = from_function + sum(lost.values()) + self.runtime_killed
        with_process = self.pending_at_death
        if self.extension_killed:  # its last accounting is from its last flush
            with_process = made - counted - self.direct_to_daemon
        function_direct = counts["function_exported"] + self.direct_to_daemon
        received = {**self.received, XRAY_DAEMON: self.daemon_subsegments - function_direct}
        exporters = {}
        for name, result in counts.get("exporters", {}).items():
            given = result["exported"] + result["rejected"] + sum(result["dropped"].values())
            closed = counts.get("closed_by_extension", self.runtime_killed)
            expected = counts["received"] - after_receipt + closed
            exporters[name] = {
                **result,
                "given": given,
                "unaccounted": expected - given,
                "received": received.get(name, 0),
            }
        return {
            "made": made,
            "counted": counted,
            "lost_with_process": with_process,
            "unaccounted": made - counted - with_process,
            "exporters": exporters,
            "lost": lost,
            "function_exported": counts.get("function_exported", 0),
        }


def _fault_arrived(document: dict[str, Any] | None, action: str) -> bool:
    """A faulted invocation span whose cause names the fault as Lambda reports it."""
    if document is None or document.get("fault") is not True:
        return False
    exceptions = document.get("cause", {}).get("exceptions", [])
    return any(exception.get("type") == CAUSES[action] for exception in exceptions)


def _latency(values: list[float]) -> dict[str, float]:
    return {
        "invocations": len(values),
        "p50": round(percentile(values, 0.5), 1) if values else 0.0,
        "p99": round(percentile(values, 0.99), 1) if values else 0.0,
    }


def summarize(
    *,
    plan: Plan,
    environments: list[Environment],
    invoked: list[dict[str, Any]],
    invocation_documents: dict[str, dict[str, Any]],
    shutdowns: list[dict[str, Any]],
    elapsed: float,
    latencies: list[float],
    post_runtime: dict[str, list[float]],
) -> dict[str, Any]:
    """Every figure of the run, as one JSON-ready object (what ``RESULT`` prints)."""
    books = [environment.books() for environment in environments]
    closable = [b for e, b in zip(environments, books, strict=True) if not e.extension_killed]
    killed_env = [b for e, b in zip(environments, books, strict=True) if e.extension_killed]
    exporters: dict[str, dict[str, Any]] = {}
    lost: Counter[str] = Counter()
    for environment, entry in zip(environments, books, strict=True):
        lost.update(entry["lost"])
        for name, result in entry["exporters"].items():
            total = exporters.setdefault(
                name,
                {"exported": 0, "rejected": 0, "dropped": Counter(), "unaccounted": 0,
                 "received": 0},
            )  # fmt: skip
            total["exported"] += result["exported"]
            total["rejected"] += result["rejected"]
            total["dropped"].update(result["dropped"])
            total["received"] += result["received"]
            if not environment.extension_killed:  # its accounting stopped at its last flush
                total["unaccounted"] += result["unaccounted"]
    killed_envs = {e.index for e in environments if e.extension_killed}
    failed = [i for i in invoked if i["action"] in FAILURES]
    arrived, missing = 0, []
    for invocation in failed:
        document = invocation_documents.get(invocation["request_id"])
        if _fault_arrived(document, invocation["action"]):
            arrived += 1
        else:
            missing.append(invocation)
    missing_closable = [m for m in missing if m["environment"] not in killed_envs]
    return {
        "plan": plan.name,
        "about": plan.about,
        "exporter_names": plan.exporters.split(","),
        "invocations": len(invoked),
        "environments": len(environments),
        "seconds": round(elapsed, 1),
        "response_latency_ms": _latency(latencies),
        "post_runtime_ms": {phase: _latency(values) for phase, values in post_runtime.items()},
        "actions": dict(Counter(i["action"] for i in invoked)),
        "unsampled_invocations": sum(i["unsampled"] for i in invoked),
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
        "failed_invocations": len(failed),
        "failed_arrived_faulted": arrived,
        "failed_missing": len(missing_closable),
        "failed_missing_examples": missing_closable[:5],
        "failed_lost_with_extension": len(missing) - len(missing_closable),
        "unexpected_outcomes": [i for i in invoked if not i["as_planned"]][:10],
        "extension_killed": [
            {"environment": e.index, "direct_to_daemon": e.direct_to_daemon}
            for e in environments
            if e.extension_killed
        ],
        "after_extension_kill": [i for i in invoked if i["after_extension_kill"]],
        "sigterm_bursts": sum(bool(e.stats.get("after_sigterm")) for e in environments),
        "shutdowns": shutdowns,
    }


def problems(summary: dict[str, Any], plan: Plan) -> list[str]:
    """What does not balance or did not go as planned; empty when the run kept its books."""
    found = []
    if summary["unaccounted"]:
        found.append(f"{summary['unaccounted']} spans unaccounted")
    for name, exporter in summary["exporters"].items():
        if exporter["unaccounted"]:
            found.append(f"{name}: {exporter['unaccounted']} spans given to it unaccounted")
        if exporter["received"] != exporter["exported"]:
            found.append(
                f"{name}: exported {exporter['exported']} but its backend received "
                f"{exporter['received']}"
            )
    if summary["failed_missing"]:
        found.append(
            f"{summary['failed_missing']} failed invocations did not arrive faulted, e.g. "
            f"{summary['failed_missing_examples']}"
        )
    if summary["unexpected_outcomes"]:
        found.append(f"outcomes not as planned: {summary['unexpected_outcomes']}")
    for shutdown in summary["shutdowns"]:
        if (
            set(shutdown["extension_exit_codes"].values()) != {0}
            or "xraylayer" in shutdown["killed"]
        ):
            found.append(f"the extension did not end cleanly at SHUTDOWN: {shutdown}")
    for check in plan.expect:
        found += check(summary)
    return found


def report(summary: dict[str, Any]) -> str:
    """The books as text: the run, each exporter's share, what was lost and why, and what does
    not balance (``summary["problems"]``)."""
    lines: list[str] = []
    add = lines.append
    add(f"== {summary['plan']}: {summary['about']}")
    add(
        f"{summary['invocations']} invocations in {summary['environments']} environments, "
        f"{summary['seconds']} s (response latency p50 {summary['response_latency_ms']['p50']}"
        f" ms, p99 {summary['response_latency_ms']['p99']} ms)"
    )
    add(f"post-runtime (billed, after the response) ms: {summary['post_runtime_ms']}")
    add(f"actions:  {summary['actions']} ({summary['unsampled_invocations']} callers Sampled=0)")
    add(f"outcomes: {summary['outcomes']}")
    add(f"spans made:                       {summary['made']}")
    add(f"  exported by the function itself {summary['function_exported']}")
    for name, total in summary["exporters"].items():
        add(
            f"  {name}: exported {total['exported']} (its backend received "
            f"{total['received']}), rejected {total['rejected']}, dropped "
            f"{sum(total['dropped'].values())} {total['dropped']}, unaccounted "
            f"{total['unaccounted']}"
        )
    add(f"  lost before export (counted)    {summary['lost_before_export']}")
    add(f"  lost with a dead runtime        {summary['lost_with_runtime']}")
    add(
        f"  lost with the killed extension  {summary['lost_with_extension']} (a difference: "
        "what it held since its last flush)"
    )
    add(f"  sent to the daemon by the function {summary['direct_to_daemon_without_extension']}")
    add(f"  unaccounted                     {summary['unaccounted']}")
    if summary["unaccounted_environments"]:
        add(f"  unaccounted by environment: {summary['unaccounted_environments']}")
    add(
        f"failed invocations {summary['failed_invocations']}: arrived faulted "
        f"{summary['failed_arrived_faulted']}, missing {summary['failed_missing']}, lost "
        f"with the killed extension {summary['failed_lost_with_extension']}"
    )
    add(f"outcomes not as planned: {summary['unexpected_outcomes']}")
    if summary["after_extension_kill"]:
        add(f"after the extension kill: {summary['after_extension_kill']}")
    add(f"shutdowns: {summary['shutdowns']}")
    found = summary["problems"]
    add("BOOKS BALANCE" if not found else "PROBLEMS: " + "; ".join(found))
    return "\n".join(lines)
