"""Frozen between invokes (lambda-platform.md §2.4): no thread of the function runs while idle."""

from __future__ import annotations

import time

from sandbox_harness import FUNCTIONS, PYTHON
from xraylayer_local.sandbox import Sandbox

IDLE_S = 0.6  # the idle gap under test; the ticker counts every 10 ms when it may run


def _ticks_across_an_idle_gap(freeze: bool) -> int:
    with Sandbox(FUNCTIONS, "ticker.handler", python=PYTHON, freeze=freeze) as sandbox:
        sandbox.invoke({})
        before = sandbox.invoke({}).response["ticks"]
        time.sleep(IDLE_S)
        after = sandbox.invoke({}).response["ticks"]
    return after - before


def test_background_threads_do_not_run_between_invokes_when_frozen() -> None:
    assert _ticks_across_an_idle_gap(freeze=True) <= 10


def test_background_threads_run_between_invokes_without_freeze() -> None:
    assert _ticks_across_an_idle_gap(freeze=False) >= 30
