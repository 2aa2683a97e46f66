"""One fault at a time (bench/reliability.py's scenarios): each keeps the books of every span.

Each scenario is a short plan in the local sandbox with the built layer and all five exporters
at once (file, X-Ray daemon, OTLP over UDP, X-Ray API on moto, OTLP/HTTP), centred on one
fault: a handler exception, a timeout, ``os._exit``, running out of memory, a 1,000-span burst,
the extension SIGKILLed, the OTLP collector down, callers that say ``Sampled=0``, a SHUTDOWN
right after a burst and one while a burst is still being handed over. What a user relies on,
whatever the fault:

- every span made is exported, dropped with a reason, or lost with a process that died, and
  none is unaccounted;
- every exporter accounts for every span it was given, and its backend received exactly what
  it says it exported;
- the caller sees what the fault means in Lambda, and nothing else (a dead collector never
  turns a success into a timeout);
- every failed invocation arrives as a faulted invocation span with Lambda's cause.

The books are printed (``pytest -s``) and are in every assertion's message. No timing is
asserted (shared machines are noisy).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from xraylayer_local.moto_server import MotoServer

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.append(str(BENCH))

from reliability import run  # noqa: E402  (bench/ is a folder of scripts, not a package)
from reliability_books import report  # noqa: E402
from reliability_plans import scenarios  # noqa: E402

SCENARIOS = scenarios()


@pytest.mark.parametrize("name", SCENARIOS)
def test_the_fault_keeps_the_books(name: str, built_layer: Path, moto_server: MotoServer) -> None:
    plan = SCENARIOS[name]
    summary = run(plan, moto=moto_server, log=lambda line: None)
    books = report(summary)
    print("\n" + books)

    assert summary["unaccounted"] == 0, books
    for exporter, figures in summary["exporters"].items():
        assert figures["unaccounted"] == 0, f"{exporter} lost track of spans\n{books}"
        assert figures["received"] == figures["exported"], f"{exporter}'s backend\n{books}"
    assert summary["unexpected_outcomes"] == [], books
    assert summary["failed_arrived_faulted"] == summary["failed_invocations"], books
    # What this fault in particular must not break (the plan's own checks), and the rest.
    assert summary["problems"] == [], books
