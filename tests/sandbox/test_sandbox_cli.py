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


def test_invoke_with_view_shows_the_views_of_everything_collected(tmp_path: Path) -> None:
    saved, page = tmp_path / "traces.jsonl", tmp_path / "report.html"
    done = _run(
        "invoke",
        "--function",
        str(FUNCTIONS),
        "--handler",
        "basic.hello",
        "--times",
        "3",
        "--python",
        "3.11",
        "--name",
        "greeter",
        "--view",
        "--save",
        str(saved),
        "--html",
        str(page),
        "--color",
        "never",
    )
    assert done.returncode == 0, done.stderr
    documents = [json.loads(line) for line in saved.read_text().splitlines()]
    # Lambda's two segments per invoke (Active tracing, no layer here).
    assert len(documents) == 6
    trees, views = done.stdout.split(f"{len(documents)} trace documents: {saved}")
    assert trees.count("status=success") == 3
    assert "greeter" in views
    assert f"HTML report (timeline, service map, response times): {page}" in views
    assert "greeter" in page.read_text()


def test_invoke_without_view_prints_no_views(tmp_path: Path) -> None:
    done = _run(
        "invoke", "--function", str(FUNCTIONS), "--handler", "basic.hello", "--python", "3.11"
    )
    assert done.returncode == 0, done.stderr
    assert "HTML report" not in done.stdout
