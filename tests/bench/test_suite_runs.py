"""bench/suite.py still works end to end: its quick mode prints the whole table, every
configuration either runs and exports what it traced or is reported with the reason it could
not run. Timings are the benchmark's business, never asserted here (machines are shared and
noisy); a peer that cannot be installed here (no PyPI) is reported, which is not a failure."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.append(str(BENCH))

from peers import CONFIGURATIONS  # noqa: E402  (bench/ is a folder of scripts, not a package)
from report import ROWS  # noqa: E402

ALWAYS_RUN = ("no tracing", "xraylayer", "xraylayer OTLP")  # nothing to install from PyPI


def table_rows(output: str) -> dict[str, list[str]]:
    """The Markdown table's rows by their first cell."""
    rows = {}
    for line in output.splitlines():
        if line.startswith("| ") and line.endswith(" |"):
            cells = [cell.strip() for cell in line[2:-2].split(" | ")]
            rows[cells[0]] = cells[1:]
    return rows


def test_quick_run_prints_every_configuration(built_layer: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH / "suite.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = table_rows(done.stdout)
    names = [configuration.name for configuration in CONFIGURATIONS]
    assert rows["figure"] == names
    for row in ROWS:
        assert row.label in rows, f"{row.label!r} missing from:\n{done.stdout}"
    not_run = set(re.findall(r"^Not run: (.+?): ", done.stdout, re.MULTILINE))
    assert not not_run & set(ALWAYS_RUN), done.stdout
    exported_row = rows["exported per invoke (to the end of each environment), median"]
    exported = dict(zip(names, exported_row, strict=True))
    for name, cell in exported.items():
        if name in not_run:
            assert cell == "not run"
        elif name == "no tracing":
            assert cell == "nothing"
        else:
            assert float(cell.split()[0]) > 0, f"{name} exported nothing: {cell}"
