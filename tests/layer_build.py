"""Building the layer zips from tests: build.sh, where its zips land, once per session."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from xraylayer_local.publish import built_zips

REPO = Path(__file__).resolve().parents[1]
DIST = REPO / "dist"
BUILD_TIMEOUT_S = 600


def run_build(*args: str) -> None:
    """Run build.sh with args; fail the test with its output if it fails."""
    result = subprocess.run(
        [str(REPO / "build.sh"), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"build.sh {' '.join(args)} failed ({result.returncode}):\n"
            f"{result.stdout}\n{result.stderr}"
        )


def zip_paths(folder: Path) -> dict[str, Path]:
    """The layer zip of each architecture that build.sh writes into folder."""
    return built_zips(folder)
