"""Fixtures of the sandbox contract tests (helpers live in sandbox_harness.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sandbox_harness import FUNCTIONS, LAYER, PYTHON, WRAPPER, Harness, ProbeLog
from xraylayer_local.sandbox import Sandbox


@pytest.fixture
def make_harness(tmp_path: Path) -> Iterator[Callable[..., Harness]]:
    """Build sandboxes with the test layer (wrapper + probe); all are shut down afterwards."""
    made: list[Harness] = []

    def make(
        handler: str = "basic.hello",
        *,
        function_dir: Path = FUNCTIONS,
        layers: tuple[Path, ...] = (LAYER,),
        env: dict[str, str] | None = None,
        wrapper: str | None = WRAPPER,
        **kwargs: Any,
    ) -> Harness:
        folder = tmp_path / f"sandbox-{len(made)}"
        folder.mkdir()
        probe_out, wrapper_out = folder / "probe.jsonl", folder / "wrapper.txt"
        customer = {"PROBE_OUT": str(probe_out), "WRAPPER_OUT": str(wrapper_out)}
        if wrapper is not None:
            customer["AWS_LAMBDA_EXEC_WRAPPER"] = wrapper
        customer.update(env or {})
        kwargs.setdefault("python", PYTHON)
        sandbox = Sandbox(function_dir, handler, layers=layers, env=customer, **kwargs)
        harness = Harness(sandbox, ProbeLog(probe_out), wrapper_out, folder)
        made.append(harness)
        return harness

    yield make
    for harness in made:
        harness.shutdown()
