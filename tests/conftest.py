"""Suite-wide fixtures and options.

`--quick` deselects the tests marked slow (CI runs it that way). The layer zips are built once
per session by build.sh when dist/ lacks them (./dev.sh test builds them first).
"""

from __future__ import annotations

import platform
from collections.abc import Iterator
from pathlib import Path

import pytest
from layer_build import DIST, run_build, zip_paths
from xraylayer_local.moto_server import MotoServer


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--quick", action="store_true", help="deselect tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("--quick"):
        return
    slow = [item for item in items if "slow" in item.keywords]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if "slow" not in item.keywords]


@pytest.fixture(autouse=True)
def _fresh_log_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sees the layer's log-once messages afresh (the layer and the extension)."""
    from xraylayer import diagnostics

    monkeypatch.setattr(diagnostics, "_seen", set())


@pytest.fixture(scope="session")
def layer_zips() -> dict[str, Path]:
    """dist/'s zips, built once by build.sh if any is missing."""
    zips = zip_paths(DIST)
    if not all(path.is_file() for path in zips.values()):
        run_build()
    return zips


@pytest.fixture(scope="session")
def built_layer(layer_zips: dict[str, Path]) -> Path:
    """The zip for this machine's architecture: the one the sandbox can run."""
    return layer_zips["arm64" if platform.machine() in ("aarch64", "arm64") else "x86_64"]


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """One real AWS emulator (moto in server mode, HTTP on loopback) for the whole session."""
    with MotoServer() as server:
        yield server
