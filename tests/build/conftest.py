"""Fixtures for the layer zip tests: fresh builds, and the x86_64 zip unpacked once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from layer_build import run_build, zip_paths
from xraylayer_local.layers import merge_layers


@pytest.fixture(scope="session")
def build_into() -> Callable[[Path], dict[str, Path]]:
    """Build the zips into a folder of one's own, from an empty build folder beside it."""

    def build(folder: Path) -> dict[str, Path]:
        run_build("--out", str(folder / "dist"), "--build-dir", str(folder / "build"))
        return zip_paths(folder / "dist")

    return build


@pytest.fixture(scope="session")
def unpacked_x86_64(layer_zips: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The x86_64 zip unpacked as Lambda does (permission bits kept) into a folder for /opt."""
    return merge_layers([layer_zips["x86_64"]], tmp_path_factory.mktemp("opt"))
