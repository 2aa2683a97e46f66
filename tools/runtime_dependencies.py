"""Print the layer's runtime dependencies, one requirement a line.

pyproject.toml's `[project] dependencies` is the one list of what the layer ships privately;
build.sh feeds these lines to pip so the list is never repeated anywhere else.

Usage: python3.11+ tools/runtime_dependencies.py [PYPROJECT]   (default: the repo's pyproject.toml)
(tomllib is 3.11+; build.sh runs the tools with the newest supported Python.)
"""

from __future__ import annotations

import sys
from pathlib import Path

import tomllib

DEFAULT_PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def runtime_dependencies(pyproject: Path) -> list[str]:
    """The requirement strings of `[project] dependencies`, in file order."""
    with pyproject.open("rb") as handle:
        project = tomllib.load(handle).get("project", {})
    dependencies = project.get("dependencies")
    if not dependencies:
        raise SystemExit(f"runtime_dependencies: no [project] dependencies in {pyproject}")
    return [str(requirement) for requirement in dependencies]


def main(argv: list[str]) -> int:
    pyproject = Path(argv[1]) if len(argv) > 1 else DEFAULT_PYPROJECT
    print("\n".join(runtime_dependencies(pyproject)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
