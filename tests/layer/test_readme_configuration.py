"""The README's configuration table is a short excerpt of the generated reference: it names
only variables the layer has, with their real defaults, and links the full page."""

from __future__ import annotations

import re
from pathlib import Path

from xraylayer import config

README = Path(__file__).resolve().parents[2] / "README.md"
DEFAULT_IS_THE_FUNCTION_NAME = {"OTEL_SERVICE_NAME"}  # its default is computed, not a constant


def _rows() -> dict[str, str]:
    section = README.read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    assert "(docs/configuration.md)" in section
    return dict(re.findall(r"^\| `([A-Z0-9_]+)` \| `?([^|`]*)`? \|", section, flags=re.MULTILINE))


def test_the_readme_names_real_variables_with_their_real_defaults() -> None:
    defaults = {name: default for name, _, default, _ in config.reference()}
    rows = _rows()
    assert len(rows) >= 5
    for name, default in rows.items():
        assert name in defaults, name
        if name not in DEFAULT_IS_THE_FUNCTION_NAME:
            assert default.strip() == defaults[name], name
