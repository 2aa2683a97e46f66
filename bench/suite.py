"""The benchmark suite: the same function under no tracing, this layer and the peer tracers.

Every configuration (bench/peers/) runs the same realistic function (bench/function/) in the
local Lambda sandbox, against moto in server mode and a loopback HTTP server, in one run, the
configurations alternating session by session so the machine's noise hits all alike:

- sessions: a fresh sandbox each (a cold start), then warm invokes, memory, what was exported;
- per-call sessions: a fresh sandbox, its cold invoke, then the per-call microbenchmark inside
  the function (one botocore call, one requests call, timed one by one);
- interpreter start through each exec wrapper, extension start to first ``next``, layer sizes.

It prints one table of medians (and p99), each with its difference and ratio to no tracing.
Peers are installed from PyPI at the versions pinned in bench/requirements/ into
``~/.cache/xraylayer-bench`` on first use; one that cannot be installed or run here keeps its
column, marked "not run", with the reason. ``--quick`` runs everything once: it only shows that
the suite works (the figures mean nothing).

    .venv/bin/python bench/suite.py [--quick] [--cold-starts 20] [--warm 40] [--python 3.11]
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import boto3
from bench_function import function_folder
from extension_start import first_next_ms
from layer_size import layer_bytes
from loopback import LoopbackServer
from machine import description
from peers import CONFIGURATIONS
from peers.configuration import Configuration, Context, Setup, Unavailable
from peers.install import cache_root
from repo import layer_zip
from report import BASELINE, Results, table
from sampling import Sample, alternating
from sessions import Plan, Services, SessionFailed, per_call_session, session
from start_cost import wrapper_starts
from xraylayer_local.moto_server import MotoServer
from xraylayer_local.runtimes import provision

BEGAN = time.monotonic()
Runner = Callable[[Setup, Path, Services, Plan], Mapping[str, Sample]]
RESOURCE = "bench-orders"  # the function's table, bucket and queue


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold-starts", type=int, default=20, help="sessions per configuration")
    parser.add_argument("--warm", type=int, default=40, help="warm invokes per session")
    parser.add_argument("--per-call-sessions", type=int, default=6, help="per configuration")
    parser.add_argument("--calls", type=int, default=300, help="calls per per-call session")
    parser.add_argument("--starts", type=int, default=30, help="interpreter starts per wrapper")
    parser.add_argument("--python", default="3.11", help="the function's Python version")
    parser.add_argument(
        "--only", action="append", help="a configuration to run (repeatable; default all)"
    )
    parser.add_argument("--save", type=Path, help="also write every sample here, as JSON")
    parser.add_argument("--quick", action="store_true", help="everything once: a smoke test")
    args = parser.parse_args()
    if args.quick:
        args.cold_starts, args.warm, args.starts = 1, 2, 1
        args.per_call_sessions, args.calls = 1, 5
    return args


def chosen(only: list[str] | None) -> list[Configuration]:
    """The configurations asked for; the baseline always (every ratio needs it)."""
    wanted = {name.casefold() for name in only or []}
    return [
        configuration
        for configuration in CONFIGURATIONS
        if not wanted or configuration.name.casefold() in wanted or configuration.name == BASELINE
    ]


def prepare(configurations: list[Configuration], context: Context, results: Results) -> None:
    """Install and set up each configuration; one that cannot is marked with the reason."""
    for configuration in configurations:
        progress(f"preparing {configuration.name}")
        if configuration.note:
            results.notes[configuration.name] = configuration.note
        try:
            results.setups[configuration.name] = configuration.prepare(context)
        except Unavailable as reason:
            results.unavailable[configuration.name] = str(reason)


def create_resources(moto: MotoServer) -> str:
    """The function's table, bucket and queue in moto; returns the queue URL."""
    session = boto3.session.Session(**_credentials(moto))
    session.client("dynamodb", endpoint_url=moto.endpoint_url).create_table(
        TableName=RESOURCE,
        KeySchema=[{"AttributeName": "order_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "order_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    session.client("s3", endpoint_url=moto.endpoint_url).create_bucket(Bucket=RESOURCE)
    sqs = session.client("sqs", endpoint_url=moto.endpoint_url)
    return sqs.create_queue(QueueName=RESOURCE)["QueueUrl"]


def _credentials(moto: MotoServer) -> dict[str, str]:
    env = moto.client_env()
    return {
        "region_name": env["AWS_REGION"],
        "aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
    }


def function_env(moto: MotoServer, loopback: LoopbackServer) -> dict[str, str]:
    """The function's environment: moto's endpoint, and the resources it makes there."""
    return {
        **moto.env(),
        "BENCH_TABLE": RESOURCE,
        "BENCH_BUCKET": RESOURCE,
        "BENCH_QUEUE_URL": create_resources(moto),
        "BENCH_HTTP_URL": loopback.url("/partner/status"),
    }


def run_sessions(results: Results, function_dir: Path, services: Services, plan: Plan) -> None:
    """``plan.sessions`` sessions per configuration, then ``plan.per_call_sessions`` per-call
    ones, alternating; a configuration whose function fails is marked with the reason and left
    out of the later runs."""

    def guarded(run: Runner) -> Callable[[str, Setup], Mapping[str, Sample]]:
        def measure(name: str, setup: Setup) -> Mapping[str, Sample]:
            if name in results.unavailable:
                return {}
            try:
                return run(setup, function_dir, services, plan)
            except SessionFailed as failure:
                results.unavailable[name] = f"the function failed under it: {failure}"
                return {}

        return measure

    if plan.sessions > 1:  # one unrecorded session each first: page cache, moto's lazy set-up
        progress("warm-up sessions")
        alternating(results.setups, 1, guarded(session))
    progress(f"{plan.sessions} sessions per configuration")
    results.sessions = alternating(results.setups, plan.sessions, guarded(session))
    progress(f"{plan.per_call_sessions} per-call sessions per configuration")
    per_call = alternating(results.setups, plan.per_call_sessions, guarded(per_call_session))
    for name, figures in per_call.items():
        results.sessions[name].update(figures)


def measure_starts(results: Results, runtime_version: str, runs: int) -> None:
    """Interpreter start through each exec wrapper (and the baseline without one); then the
    extension's start to first ``next``, where a configuration has one."""
    progress("interpreter starts")
    wrapped = {
        name: setup
        for name, setup in results.setups.items()
        if name not in results.unavailable and (setup.wrapper or name == BASELINE)
    }
    results.starts = wrapper_starts(wrapped, provision(runtime_version), runs)
    progress("extension starts")
    by_layers: dict[tuple[Path, ...], list[float]] = {}  # one set of launches per layer set
    for name, setup in results.setups.items():
        if setup.has_extension and name not in results.unavailable:
            if setup.layers not in by_layers:
                by_layers[setup.layers] = first_next_ms(setup.layers, runtime_version, runs)
            results.extension[name] = by_layers[setup.layers]


def measure_sizes(results: Results) -> None:
    for name, setup in results.setups.items():
        results.sizes[name] = layer_bytes(setup.layers)


def progress(step: str) -> None:
    """``step`` and the seconds since the suite started, on stderr."""
    print(f"{time.monotonic() - BEGAN:7.1f} s  {step}", file=sys.stderr, flush=True)


def heading(
    args: argparse.Namespace, configurations: list[Configuration], machine_before: str
) -> str:
    """What ran, how often, on what: the lines above the table."""
    runtime = provision(args.python)
    columns = [f"  {each.name}: {each.summary}" for each in configurations]
    return "\n".join(
        [
            f"xraylayer benchmark, {datetime.date.today().isoformat()}"
            + (" (--quick: a smoke run, the figures mean nothing)" if args.quick else ""),
            f"Python {args.python} ({runtime.python.resolve()}), {args.cold_starts} cold starts "
            f"and {args.cold_starts * args.warm} warm invokes per configuration, alternating; "
            f"{args.per_call_sessions} per-call sessions of {args.calls} calls each; "
            f"{args.starts} interpreter starts",
            f"machine at the start: {machine_before}",
            f"machine at the end:   {description()}",
            "columns:",
            *columns,
            "cells: median (difference, ratio) against no tracing in the same run",
            "",
        ]
    )


def main() -> int:
    args = arguments()
    machine_before = description()
    configurations = chosen(args.only)
    results = Results(names=[configuration.name for configuration in configurations], setups={})
    runtime = provision(args.python)
    with MotoServer() as moto, LoopbackServer() as loopback:
        context = Context(args.python, runtime, cache_root(), layer_zip(), loopback.base_url)
        prepare(configurations, context, results)
        function_dir = function_folder(context)
        services = Services(function_env(moto, loopback), loopback)
        plan = Plan(args.python, args.cold_starts, args.warm, args.per_call_sessions, args.calls)
        run_sessions(results, function_dir, services, plan)
        measure_starts(results, args.python, args.starts)  # the OTLP receiver still listens
    measure_sizes(results)
    progress("done")
    if args.save:
        args.save.write_text(json.dumps(_samples(results), indent=1))
    print(heading(args, configurations, machine_before) + table(results))
    return 0


def _samples(results: Results) -> dict:
    return {
        "unavailable": results.unavailable,
        "sessions": results.sessions,
        "starts": results.starts,
        "extension": results.extension,
        "sizes": results.sizes,
    }


if __name__ == "__main__":
    sys.exit(main())
