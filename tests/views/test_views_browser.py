"""The HTML report in a real browser: Debian's Chromium, headless, with no network.

Chromium is installed from the system packages when missing (as root, or through
passwordless sudo); the test is skipped only when that cannot be done at all. The page of the
four-trace demo fixture is loaded from a file: its DOM, as Chromium built it, must hold the
three views with the expected node names and counts, and its screenshot must show them (the
map's ring colours, the timeline's and histogram's bars, the cold start's hatching).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from png_pixels import colours
from views_fixtures import orders_demo
from xraylayer_local.views import html

CHROMIUM = Path("/usr/bin/chromium")
# Headless on a machine with no screen and a closed network (see the machine notes):
# without the background-networking flags Chromium keeps trying to reach Google's hosts.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]
WINDOW = (1400, 2600)  # tall enough for the whole page of the fixture
INSTALL_TIMEOUT_S = 900
RUN_TIMEOUT_S = 120
FAULT, OK, WORK, THROTTLE = (209, 50, 18), (46, 133, 64), (91, 141, 239), (138, 63, 252)


def _apt_prefix() -> list[str] | None:
    """How to run apt-get here: directly as root, through ``sudo -n``, or not at all."""
    if shutil.which("apt-get") is None:
        return None
    if os.geteuid() == 0:
        return []
    if shutil.which("sudo") and subprocess.run(["sudo", "-n", "true"], check=False).returncode == 0:
        return ["sudo", "-n"]
    return None


@pytest.fixture(scope="module")
def chromium() -> Path:
    """Debian's Chromium, installed with apt-get when it is missing."""
    if CHROMIUM.exists():
        return CHROMIUM
    prefix = _apt_prefix()
    if prefix is None:
        pytest.skip(
            "Chromium is missing and apt-get cannot run here (no apt-get, not root, no sudo)"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
        subprocess.run(prefix + command, check=True, env=env, timeout=INSTALL_TIMEOUT_S)
    assert CHROMIUM.exists(), "apt-get installed chromium, but /usr/bin/chromium is missing"
    return CHROMIUM


def _run(chromium: Path, profile: Path, *arguments: str) -> str:
    """Chromium with a fresh profile; its standard output."""
    result = subprocess.run(
        [str(chromium), *FLAGS, f"--user-data-dir={profile}", *arguments],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


class _Dom(HTMLParser):
    """SVG ``<text>`` contents by class, and how many elements carry each class."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: dict[str, list[str]] = {}
        self.classes: dict[str, int] = {}
        self._open: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = (dict(attrs).get("class") or "").split()
        for name in names:
            self.classes[name] = self.classes.get(name, 0) + 1
        if tag == "text":
            self._open = names

    def handle_endtag(self, tag: str) -> None:
        if tag == "text":
            self._open = None

    def handle_data(self, data: str) -> None:
        for name in self._open or ():
            self.texts.setdefault(name, []).append(data)


@pytest.fixture(scope="module")
def rendered(chromium: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[_Dom, Path]:
    """The fixture's page as Chromium's DOM, and its screenshot."""
    folder = tmp_path_factory.mktemp("browser")
    page = folder / "traces.html"
    page.write_text(html(orders_demo(), title="orders demo"), encoding="utf-8")
    dom = _Dom()
    dom.feed(_run(chromium, folder / "profile-dom", "--dump-dom", page.as_uri()))
    screenshot = folder / "traces.png"
    _run(
        chromium,
        folder / "profile-shot",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        f"--screenshot={screenshot}",
        page.as_uri(),
    )
    return dom, screenshot


def test_the_service_map_renders_its_nodes_and_edges(rendered):
    dom, _ = rendered
    assert dom.classes["service-map"] == 1
    assert sorted(dom.texts["node-name"]) == sorted(
        ["Client", "orders", "receipts", "DynamoDB", "SNS", "S3", "payments.local"]
    )
    assert "3 invocations, 1 cold" in dom.texts["node-count"]
    assert "3 req · avg 163.3 ms" in dom.texts["edge-label"]
    assert "1 req · avg 220.0 ms" in dom.texts["edge-label"]
    assert dom.classes["edge"] == 6


def test_the_timeline_renders_a_waterfall_per_trace(rendered):
    dom, _ = rendered
    assert dom.classes["waterfall"] == 4
    statuses = dom.texts["span-status"]
    assert {"COLD START", "FAULT", "ERROR THROTTLE"} <= set(statuses)
    assert dom.classes["init"] >= 2  # the two cold starts' hatched init bars (and their words)


def test_the_distribution_renders_per_function_with_percentiles(rendered):
    dom, _ = rendered
    assert dom.classes["histogram"] == 2
    assert "warm · 2 invocations" in dom.texts["panel-title"]
    assert "p50 430.0 ms" in dom.texts["percentile-label"]


def test_the_screenshot_shows_the_drawings(rendered):
    _, screenshot = rendered
    assert screenshot.stat().st_size > 20_000
    width, height, counts = colours(screenshot)
    assert (width, height) == WINDOW
    assert len(counts) > 200  # text, lines and fills: not a blank or single-colour page
    for name, colour in (("ok ring", OK), ("fault", FAULT), ("bars", WORK), ("throttle", THROTTLE)):
        assert counts[colour] > 100, f"no {name} pixels ({colour}) in {screenshot}"
