"""The `xraylayer-local` command as a user runs it: response and trace tree on stdout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sandbox_harness import FUNCTIONS

CLI = [sys.executable, "-m", "xraylayer_local.cli"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], check=False, capture_output=True, text=True, timeout=120)


def test_invoke_prints_each_response_and_its_trace_tree(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"name": "cli"}))
    done = _run(
        "invoke",
        "--function",
        str(FUNCTIONS),
        "--handler",
        "basic.hello",
        "--event",
        str(event),
        "--times",
        "2",
        "--python",
        "3.11",
        "--name",
        "greeter",
        "--color",
        "never",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("status=success") == 2
    assert "(cold start)" in done.stdout and "(warm)" in done.stdout
    assert "greeter [AWS::Lambda::Function]" in done.stdout
    assert "Initialization" in done.stdout and "Invocation" in done.stdout
    assert "\x1b[" not in done.stdout


def test_invoke_exits_non_zero_when_the_function_fails() -> None:
    done = _run(
        "invoke", "--function", str(FUNCTIONS), "--handler", "basic.fail", "--python", "3.11"
    )
    assert done.returncode == 1
    assert '"errorType": "ValueError"' in done.stdout


def test_demo_runs_the_example_function_with_the_built_layer(built_layer: Path) -> None:
    done = _run("demo", "--layer", str(built_layer), "--color", "never")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count('"statusCode": 201') == 2
    assert "orders [AWS::Lambda::Function]" in done.stdout
