"""What a reliability run does: a plan of invocations and the faults around them.

A plan is the list of what each invocation does (``ACTIONS``), plus the run-level events: the
extension SIGKILLed before one invocation, the OTLP collector down over a range of them, a
SHUTDOWN (and a new sandbox) after some of them, callers whose trace header says
``Sampled=0``. The long mixed run (``mixed``) is one plan; each scenario in ``SCENARIOS`` is a
short plan centred on one fault, with the extra promises that fault must keep (``expect``).
``bench/reliability.py`` runs any of them and keeps the same books for all.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

TIMEOUT_S = 1.0
MEMORY_MB = 256
OOM_MB = 400
BURST_SPANS = 1000
OUTAGE_MIN_S = 12.0  # longer than adaptive's 10 s between background flushes
# Every exporter at once; OTLP/HTTP last, so while its collector is down it spends only its own
# share of a flush's time (the exporters share one deadline, one after the other).
ALL_EXPORTERS = "file,xray-daemon,otlp-udp,xray-api,otlp"

# What each action makes the function do (mixed_app.py), and what its caller must see.
ACTIONS: dict[str, tuple[str, str | None]] = {
    "ok": ("success", None),  # 1 to 5 spans, then return
    "burst": ("success", None),  # 1,000 spans, then return
    "burst_at_sigterm": ("success", None),  # return; 1,000 spans when SIGTERM comes
    "raise": ("error", "RuntimeError"),
    "sleep": ("timeout", "Sandbox.Timedout"),  # past the timeout
    "exit": ("error", "Runtime.ExitError"),  # os._exit(3)
    "oom": ("error", "Runtime.OutOfMemory"),  # 400 MB in a 256 MB function
}
FAILURES = ("raise", "sleep", "exit", "oom")  # must arrive as faulted invocation spans
RUNTIME_KILLED = ("sleep", "exit", "oom")  # the extension closes the invocation span itself
# The fault's type in the invocation span's cause, as Lambda reports it.
CAUSES = {
    "raise": "RuntimeError",
    "sleep": "Sandbox.Timedout",
    "exit": "Runtime.ExitError",
    "oom": "Runtime.OutOfMemory",
}
AFTER_EXTENSION_KILL = ("failure", "Extension.Crash")
# Share of each action in the mixed run (the rest succeed after 1 to 5 spans).
MIX = {"raise": 0.05, "sleep": 0.01, "exit": 0.01, "oom": 0.01, "burst": 0.005}
UNSAMPLED_SHARE = 0.1  # callers that say Sampled=0: the daemon exporter must skip them
# The mixed run's SHUTDOWN halfway comes right after a burst. "burst_at_sigterm" (the burst
# still being handed over when SHUTDOWN comes) loses spans without a count today: see the
# shutdown_during_burst scenario and docs/reliability.md, "Found".
MIDWAY_SHUTDOWN_ACTION = "burst_at_sigterm"

Check = Callable[[dict[str, Any]], list[str]]  # a run's summary -> what went wrong


@dataclass(frozen=True)
class Plan:
    """One run: each invocation's action and the events around them.

    ``kill_extension_before``: the extension is SIGKILLed between invocations k-1 and k.
    ``outage``: the collector is down from its first invocation until its end and at least
    ``outage_min_s``. ``shutdown_after``: SHUTDOWN after these invocations, a new sandbox for
    the rest; the run always ends with one. ``env``: variables added to the function's.
    """

    name: str
    about: str
    actions: tuple[str, ...]
    unsampled: frozenset[int] = frozenset()
    kill_extension_before: int | None = None
    outage: range = range(0)
    outage_min_s: float = 0.0
    shutdown_after: frozenset[int] = frozenset()
    env: Mapping[str, str] = field(default_factory=dict)
    exporters: str = ALL_EXPORTERS
    expect: tuple[Check, ...] = ()

    def outcome(self, index: int) -> tuple[str, str | None]:
        """(status, error type) the caller must see for invocation ``index``."""
        if index == self.kill_extension_before:
            return AFTER_EXTENSION_KILL
        return ACTIONS[self.actions[index]]

    def shutdowns(self) -> frozenset[int]:
        """The invocations a SHUTDOWN follows: the chosen ones and the last."""
        return self.shutdown_after | {len(self.actions) - 1}


def mixed(count: int, seed: int = 8) -> Plan:
    """The long mixed run: every fault in its share, shuffled; the extension killed at 30 %, the
    collector down from 60 % to 70 % (and at least 12 s), a SHUTDOWN right after a burst at
    50 % (a new sandbox runs the rest) and at the end; a tenth of the callers say Sampled=0."""
    actions: list[str] = []
    for action, share in MIX.items():
        actions += [action] * max(1, round(count * share))
    actions += ["ok"] * (count - len(actions))
    rng = random.Random(seed)
    rng.shuffle(actions)
    half = count // 2
    actions[half - 1], actions[count - 1] = MIDWAY_SHUTDOWN_ACTION, "burst"
    kill = int(count * 0.3)
    # An environment is up when the kill comes, and the next handler succeeds: its caller sees
    # Extension.Crash all the same.
    actions[kill - 1] = actions[kill] = "ok"
    unsampled = frozenset(rng.sample(range(count), round(count * UNSAMPLED_SHARE)))
    return Plan(
        name="mixed",
        about=f"{count} invocations with every fault (the long mixed run)",
        actions=tuple(actions),
        unsampled=unsampled,
        kill_extension_before=kill,
        outage=range(int(count * 0.6), int(count * 0.7)),
        outage_min_s=OUTAGE_MIN_S,
        shutdown_after=frozenset({half - 1}),
    )


# --- the scenarios' own promises ------------------------------------------------------------


def _nothing_dropped(summary: dict[str, Any]) -> list[str]:
    """Every exporter exported every span it was given (not_sampled aside: not its trace)."""
    problems = []
    for name, exporter in summary["exporters"].items():
        dropped = {k: v for k, v in exporter["dropped"].items() if k != "not_sampled"}
        if dropped or exporter["rejected"]:
            problems.append(f"{name} dropped {dropped}, rejected {exporter['rejected']}")
    if summary["lost_with_runtime"]:
        problems.append(f"{summary['lost_with_runtime']} spans lost with the runtime")
    if summary["lost_before_export"]:
        problems.append(f"lost before export: {summary['lost_before_export']}")
    return problems


def _burst_exported(summary: dict[str, Any]) -> list[str]:
    problems = _nothing_dropped(summary)
    if summary["made"] < BURST_SPANS:
        problems.append(f"only {summary['made']} spans made")
    return problems


def _collector_outage_counted(summary: dict[str, Any]) -> list[str]:
    """Spans the collector could not take are dropped with a reason; the other exporters, which
    do not depend on it, lose nothing."""
    otlp = summary["exporters"]["otlp"]
    problems = []
    if not otlp["dropped"].get("connection_error"):
        problems.append(f"otlp dropped {otlp['dropped']}, expected connection_error")
    for name, exporter in summary["exporters"].items():
        if name != "otlp" and any(k != "not_sampled" for k in exporter["dropped"]):
            problems.append(f"{name} dropped {exporter['dropped']} during the outage")
    return problems


def _extension_kill_seen(summary: dict[str, Any]) -> list[str]:
    problems = []
    if len(summary["extension_killed"]) != 1:
        problems.append(f"extension killed in {summary['extension_killed']}")
    if not summary["direct_to_daemon_without_extension"]:
        problems.append("the function sent nothing to the daemon itself after the kill")
    return problems


def _sigterm_burst_made(summary: dict[str, Any]) -> list[str]:
    if not summary["sigterm_bursts"]:
        return ["the function's burst at SIGTERM did not finish before the runtime was killed"]
    return []


def _one(action: str, where: int, count: int) -> tuple[str, ...]:
    return tuple(action if index == where else "ok" for index in range(count))


def scenarios() -> dict[str, Plan]:
    """Each fault on its own: a short plan, the books, and what that fault must not break."""
    plans = [
        Plan(
            "exception",
            "the handler raises RuntimeError (2 of 8 invocations)",
            ("ok", "raise", "ok", "ok", "raise", "ok", "ok", "ok"),
        ),
        Plan("timeout", "the 3rd of 6 handlers sleeps past its 1 s timeout", _one("sleep", 2, 6)),
        Plan("exit", "the 3rd of 6 handlers calls os._exit(3)", _one("exit", 2, 6)),
        Plan(
            "oom", "the 3rd of 6 handlers allocates 400 MB in a 256 MB function", _one("oom", 2, 6)
        ),
        Plan(
            "burst",
            f"the 3rd of 6 invocations makes {BURST_SPANS:,} spans",
            _one("burst", 2, 6),
            expect=(_burst_exported,),
        ),
        Plan(
            "extension_killed",
            "the extension is SIGKILLed before the 5th of 8 invocations",
            _one("ok", 0, 8),
            kill_extension_before=4,
            expect=(_extension_kill_seen,),
        ),
        Plan(
            "collector_down",
            "the OTLP collector is down for the 3rd to 14th of 16 (XRAYLAYER_FLUSH=end)",
            _one("ok", 0, 16),
            outage=range(2, 14),
            env={"XRAYLAYER_FLUSH": "end"},
            expect=(_collector_outage_counted,),
        ),
        Plan(
            "unsampled",
            "the callers of the 2nd to 4th of 6 say Sampled=0: not the daemon's",
            _one("ok", 0, 6),
            unsampled=frozenset({1, 2, 3}),
            expect=(_nothing_dropped,),
        ),
        Plan(
            "shutdown_after_burst",
            f"SHUTDOWN right after a {BURST_SPANS:,}-span burst, its spans still held",
            ("ok", "ok", "burst"),
            expect=(_nothing_dropped,),
        ),
        Plan(
            "shutdown_during_burst",
            f"SHUTDOWN while the function hands over {BURST_SPANS:,} spans it makes on SIGTERM",
            ("ok", "ok", "burst_at_sigterm"),
            expect=(_sigterm_burst_made,),
        ),
    ]
    return {plan.name: plan for plan in plans}
