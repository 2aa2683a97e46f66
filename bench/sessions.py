"""One benchmark session: a fresh sandbox, its cold start, warm invokes, memory, exports.

A session is what one Lambda execution environment lives through: the first invoke is an
on-demand cold start (init, then the invoke), the next ones are warm. Every figure comes from
the sandbox's own timing, as Lambda reports it: init duration, the caller's response latency,
the time the invoke phase goes on after the response (the extensions' work, billed), the peak
memory and CPU time of the function's and the extensions' processes. What it exported is
counted too, so a configuration that silently traces nothing cannot look cheap. The per-call
microbenchmark runs in sessions of its own (a cold invoke, then the microbenchmark).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loopback import LoopbackServer
from peers.configuration import Setup, Sink
from process_usage import cpu_ms, peak_rss_mib
from xraylayer_local import Sandbox
from xraylayer_local.results import InvokeResult

LAMBDA_ORIGINS = ("AWS::Lambda", "AWS::Lambda::Function")  # the platform's own documents


class SessionFailed(Exception):
    """The function did not answer as it should under this configuration; says why."""


@dataclass(frozen=True)
class Services:
    """What every session's function talks to: AWS (moto) and the loopback server."""

    env: Mapping[str, str]  # the function's environment: moto's endpoint, the resource names
    loopback: LoopbackServer


@dataclass(frozen=True)
class Plan:
    """How many sessions of each kind, and how much one session does."""

    python: str
    sessions: int  # cold starts per configuration
    warm: int  # warm invokes after each cold one
    per_call_sessions: int  # sessions of the per-call microbenchmark per configuration
    calls: int  # per-call microbenchmark calls of each kind


def session(setup: Setup, function_dir: Path, services: Services, plan: Plan) -> dict[str, Any]:
    """Every figure of one fresh sandbox under ``setup``: a cold invoke, ``plan.warm`` warm ones,
    peak memory, then (once the environment has shut down, so every span has left, whatever the
    configuration's flush policy) the spans exported per invoke."""
    received_before = services.loopback.spans_by_trace()
    with fresh_sandbox(setup, function_dir, services, plan.python) as box:
        cold = answered(box, box.invoke({"order_id": "cold"}))
        figures: dict[str, Any] = {
            "init": cold.init_duration_ms,
            "first": cold.response_latency_ms,
            **warm_invokes(box, plan.warm),
            **peak_rss_mib(box),
        }
    otlp = services.loopback.spans_by_trace()
    otlp_spans = [count - received_before.get(trace, 0) for trace, count in otlp.items()]
    figures["exported"] = exported_in_session(setup.sink, box, otlp_spans, 1 + plan.warm)
    return figures


def per_call_session(
    setup: Setup, function_dir: Path, services: Services, plan: Plan
) -> dict[str, float]:
    """The per-call microbenchmark inside the function (bench/function/per_call.py), in a fresh
    sandbox of its own after its cold invoke, so its spans stay out of the other figures."""
    with fresh_sandbox(setup, function_dir, services, plan.python) as box:
        answered(box, box.invoke({"order_id": "cold"}))
        figures = answered(box, box.invoke({"per_call": plan.calls})).response
    return {
        f"{library}_{clock}": figures[library][f"{clock}_us"]
        for library in ("botocore", "requests")
        for clock in ("cpu", "wall")
    }


def fresh_sandbox(setup: Setup, function_dir: Path, services: Services, python: str) -> Sandbox:
    return Sandbox(
        function_dir,
        setup.handler,
        layers=setup.layers,
        env={**services.env, **setup.env},
        python=python,
        tracing="Active",
        timeout_s=60,
        memory_mb=1024,
        function_name="bench-orders",
    )


def answered(box: Sandbox, result: InvokeResult) -> InvokeResult:
    """``result`` if the function answered 2xx; else ``SessionFailed`` with its error and logs."""
    if result.status == "success" and str(result.response.get("statusCode", 200))[0] == "2":
        return result
    logs = "\n".join(line for _, line in box.logs[-12:])
    raise SessionFailed(f"{result.status} {result.error_type or ''} {result.error}\n{logs}")


def warm_invokes(box: Sandbox, count: int) -> dict[str, list[float]]:
    """Per warm invoke: latency, the invoke phase after the response, billed duration; and the
    CPU time the function and the extensions used per warm invoke, over all of them."""
    figures: dict[str, list[float]] = {"warm": [], "after": [], "billed": []}
    cpu_before = cpu_ms(box)
    for number in range(count):
        result = answered(box, box.invoke({"order_id": f"warm-{number}"}))
        figures["warm"].append(result.response_latency_ms)
        figures["after"].append(result.post_runtime_ms)
        figures["billed"].append(result.duration_ms + result.post_runtime_ms)
    for name, used in cpu_ms(box).items():
        figures[name] = [(used - cpu_before[name]) / max(1, count)]
    return figures


def exported_in_session(
    sink: Sink, box: Sandbox, otlp_spans: list[int], invokes: int
) -> list[float]:
    """What the configuration exported over the whole session, per invocation: spans by trace
    (each invocation is a trace of its own: X-Ray documents and their subsegments, or OTLP
    spans) or, for OTLP over UDP, datagrams per invoke (the sandbox's daemon only counts those:
    the real daemon forwards them unread)."""
    if sink is Sink.XRAY_DAEMON:
        by_trace: Counter[str] = Counter()
        for document in filter(_own, box.daemon.documents):
            by_trace[document.get("trace_id", "")] += spans_in(document)
        return [float(count) for count in by_trace.values()]
    if sink is Sink.OTLP_HTTP:
        return [float(count) for count in otlp_spans if count > 0]
    if sink is Sink.OTLP_UDP:
        return [box.daemon.rejected / invokes]
    return [0.0]


def _own(document: dict) -> bool:
    """Not one of the platform's own segments (the sandbox writes those as Lambda does)."""
    return document.get("origin") not in LAMBDA_ORIGINS


def spans_in(document: dict) -> int:
    return 1 + sum(spans_in(child) for child in document.get("subsegments", []))
