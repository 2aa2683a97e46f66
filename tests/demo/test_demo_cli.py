"""`xraylayer-local demo` and `xraylayer-local view` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from xraylayer_local import demo

CLI = [sys.executable, "-m", "xraylayer_local.cli"]
NODES = ("orders-api", "orders-receipts", "DynamoDB", "SNS", "S3", "127.0.0.1")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], check=False, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def demo_out(built_layer: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The folder a quick demo wrote to, and what it printed."""
    out = tmp_path_factory.mktemp("demo")
    done = _run(
        "demo",
        "--layer",
        str(built_layer),
        "--requests",
        "6",
        "--out",
        str(out),
        "--color",
        "never",
        "--width",
        "120",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return out, done.stdout


def test_demo_prints_each_request_then_the_views_and_where_the_files_are(
    demo_out: tuple[Path, str],
) -> None:
    out, printed = demo_out
    assert printed.count("POST /orders #") == 6
    assert "-> 201 cold" in printed and "-> 502 warm" in printed and "-> 429 warm" in printed
    assert printed.count("receipts: 1 message(s) -> success") == 4
    for node in NODES:
        assert node in printed.split("POST /orders #6", 1)[1], node
    assert f"HTML report (timeline, service map, response times): {out / 'report.html'}" in printed
    assert f"trace documents: {out / 'traces.jsonl'}" in printed
    assert "\x1b[" not in printed


def test_demo_saves_every_document_as_json_lines_and_the_html_page(
    demo_out: tuple[Path, str],
) -> None:
    out, printed = demo_out
    lines = (out / "traces.jsonl").read_text().splitlines()
    documents = [json.loads(line) for line in lines]
    assert f"{len(documents)} trace documents" in printed
    names = {document.get("name") for document in documents}
    assert {demo.API_NAME, demo.RECEIPTS_NAME} <= names
    page = (out / "report.html").read_text()
    assert demo.API_NAME in page and demo.RECEIPTS_NAME in page


def test_view_shows_a_saved_file_and_writes_the_html_page(
    demo_out: tuple[Path, str], tmp_path: Path
) -> None:
    out, _ = demo_out
    page = tmp_path / "view.html"
    done = _run("view", str(out / "traces.jsonl"), "--html", str(page), "--color", "never")
    assert done.returncode == 0, done.stderr
    for node in NODES:
        assert node in done.stdout, node
    assert f"HTML report (timeline, service map, response times): {page}" in done.stdout
    assert demo.API_NAME in page.read_text()


def test_view_in_colour_when_asked(demo_out: tuple[Path, str]) -> None:
    out, _ = demo_out
    done = _run("view", str(out / "traces.jsonl"), "--color", "always")
    assert done.returncode == 0, done.stderr
    assert "\x1b[" in done.stdout


def test_view_of_a_missing_file_says_so(tmp_path: Path) -> None:
    done = _run("view", str(tmp_path / "nothing.jsonl"))
    assert done.returncode == 2
    assert "cannot read" in done.stderr and "nothing.jsonl" in done.stderr


def test_demo_without_the_built_layer_says_how_to_build_it(tmp_path: Path) -> None:
    done = _run("demo", "--layer", str(tmp_path / "missing.zip"))
    assert done.returncode == 2
    assert "run ./build.sh first" in done.stderr
